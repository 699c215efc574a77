"""Crawler commands: crawl (OAI harvest / API backfill), fetch (by id), serve-arxiv (local stand-in)."""

from __future__ import annotations

from datetime import date

import click

from aisec_radar.cli.common import db_option, get_settings
from aisec_radar.errors import InputError


def _day(value: str | None, flag: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{flag} {value!r} is not a date; use YYYY-MM-DD") from None


@click.command("crawl")
@click.option("--since", default=None, help="First day (YYYY-MM-DD); default: the stored checkpoint (OAI).")
@click.option("--until", default=None, help="Last day (YYYY-MM-DD); a bounded window leaves the checkpoint alone.")
@click.option("--source", type=click.Choice(["oai", "api"]), default="oai", show_default=True,
              help="oai = nightly OAI-PMH harvest; api = export-API backfill of submission dates.")
@click.option("--base-url", default=None,
              help="Endpoint to use (OAI base or API query URL), e.g. a local `serve-arxiv`.")
@click.option("--categories", default=None, help="Comma-separated categories (default: setting categories).")
@click.option("--delay", type=float, default=None, help="Seconds between requests (default: setting crawl_delay).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@db_option
@click.pass_context
def crawl_cmd(ctx: click.Context, since: str | None, until: str | None, source: str, base_url: str | None,
              categories: str | None, delay: float | None, no_progress: bool, db_path: str | None) -> None:
    """Bring new and revised papers of the configured categories into the store.

    Exit 0 on success (also when nothing is new), 1 when the crawl failed (nothing from the failing
    page is stored and the checkpoint is unchanged), 2 on bad arguments, 75 when the database
    stayed locked.
    """
    from aisec_radar.crawler import harvest

    key = "oai_base_url" if source == "oai" else "api_base_url"
    s = get_settings(ctx, db_path=db_path, categories=categories, crawl_delay=delay, **{key: base_url})
    report = harvest(s, since=_day(since, "--since"), until=_day(until, "--until"), source=source,
                     progress=not no_progress)
    click.echo(f"crawl ({source}) done: {report.summary()}")


@click.command("fetch")
@click.argument("arxiv_ids", nargs=-1, required=True)
@click.option("--base-url", default=None, help="API query URL (default: setting api_base_url).")
@db_option
@click.pass_context
def fetch_cmd(ctx: click.Context, arxiv_ids: tuple[str, ...], base_url: str | None, db_path: str | None) -> None:
    """Add or refresh papers by arXiv id (any category), e.g. `aisec-radar fetch 2401.01234`.

    Exit 0 when every id was found, 3 when some are unknown to arXiv (the others are stored).
    """
    from aisec_radar.crawler import fetch_ids

    s = get_settings(ctx, db_path=db_path, api_base_url=base_url)
    report = fetch_ids(s, list(arxiv_ids), progress=False)
    click.echo(f"fetch done: {report.summary()}")
    if report.missing:
        ctx.exit(3)


@click.command("serve-arxiv")
@click.option("--corpus", "corpus", required=True, type=click.Path(dir_okay=False, exists=True),
              help="JSONL(.gz) corpus, e.g. ../shared/arxiv/corpus.jsonl.gz.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8765, show_default=True, help="0 = any free port.")
@click.option("--page-size", type=int, default=2500, show_default=True, help="Records per ListRecords page.")
@click.option("--since", default=None, help="Serve only records with an OAI datestamp on or after this day.")
@click.option("--until", default=None, help="Serve only records with an OAI datestamp up to this day.")
@click.option("--fail-every", type=int, default=0, help="Answer every Nth request with 503 + Retry-After.")
@click.option("--fail-status", type=int, default=503, show_default=True, help="Status of those answers (503/429).")
@click.option("--retry-after", type=int, default=1, show_default=True, help="Retry-After seconds sent with them.")
@click.option("--truncate-every", type=int, default=0, help="Cut every Nth body in half.")
@click.option("--malformed-every", type=int, default=0, help="Break the XML of every Nth body.")
@click.option("--bomb-every", type=int, default=0, help="Serve an entity-expansion payload every Nth request.")
@click.option("--bad-token-once", is_flag=True, help="Reject the first resumption token presented.")
@click.option("--slow", type=float, default=0.0, help="Seconds to wait before every answer.")
@click.option("--fault-after", type=int, default=0, help="Start counting faults after this many requests.")
def serve_arxiv_cmd(corpus: str, host: str, port: int, page_size: int, since: str | None, until: str | None,
                    fail_every: int, fail_status: int, retry_after: int, truncate_every: int,
                    malformed_every: int, bomb_every: int, bad_token_once: bool, slow: float,
                    fault_after: int) -> None:
    """Serve a local arXiv (OAI-PMH at /oai, export API at /api/query) from a JSONL corpus.

    Point the crawler at it with `aisec-radar crawl --base-url http://HOST:PORT/oai --delay 0`.
    """
    from aisec_radar.crawler.standin import make_server

    server = make_server(corpus, host=host, port=port, page_size=page_size, since=_day(since, "--since"),
                         until=_day(until, "--until"), fail_every=fail_every, fail_status=fail_status,
                         retry_after=retry_after, truncate_every=truncate_every,
                         malformed_every=malformed_every, bomb_every=bomb_every, bad_token_once=bad_token_once,
                         slow=slow, fault_after=fault_after)
    n = len(server.corpus.records)
    click.echo(f"serving {n} records from {corpus}\n  OAI-PMH: {server.base_url}/oai\n"
               f"  API:     {server.base_url}/api/query\n(Ctrl-C to stop)", err=False)
    import sys

    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
