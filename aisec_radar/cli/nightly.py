"""`aisec-radar nightly` and `aisec-radar demo`: parse flags, call jobs.py, exit with its code."""

from __future__ import annotations

import sys
from dataclasses import replace

import click

from aisec_radar.cli.common import db_option, get_settings
from aisec_radar.jobs import (
    DEMO_DAYS,
    EXIT_CODES,
    EXIT_INTERRUPTED,
    NightlyReport,
    run_demo,
    run_nightly,
    with_base_url,
)

_EXIT_HELP = "\b\nExit codes:\n" + "\n".join(f"  {code:>3}  {text}" for code, text in EXIT_CODES.items())


def _report(report: NightlyReport) -> None:
    if report.failed_stage == "crawl" and (report.error or "").startswith("arXiv cannot be reached"):
        click.echo(f"error: {report.error}", err=True)  # no network: one clear line, nothing else
        return
    click.echo(report.summary())
    if not report.ok:
        click.echo(f"error: {report.failed_stage}: {report.error}", err=True)


_SIGNAL_PREFIX = "signal "


def _sigterm_as_interrupt() -> None:
    """systemd/cron stop a job with SIGTERM: turn it into KeyboardInterrupt so the run is recorded as
    failed ('interrupted') and the lock released, instead of leaving a 'running' row behind.

    A handler's exception is lost when the signal lands while Python runs a finaliser or a weakref
    callback (e.g. importlib's module-lock cleanup): it prints "Exception ignored" and the job runs
    on. Such a lost interrupt reaches sys.unraisablehook, which delivers the signal again a moment
    later (from a thread: delivered at once it would raise inside the hook and be lost again), by
    then in ordinary code; were it lost once more, the hook would deliver it once more."""
    import _thread
    import signal
    import threading

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"{_SIGNAL_PREFIX}{signum}")

    previous = sys.unraisablehook

    def redeliver(unraisable: sys.UnraisableHookArgs) -> None:
        exc = unraisable.exc_value
        if isinstance(exc, KeyboardInterrupt) and str(exc).startswith(_SIGNAL_PREFIX):
            again = threading.Timer(0.05, _thread.interrupt_main, args=(int(str(exc)[len(_SIGNAL_PREFIX):]),))
            again.daemon = True
            again.start()
            return
        previous(unraisable)

    sys.unraisablehook = redeliver
    signal.signal(signal.SIGTERM, handler)


def _progress(flag: bool | None) -> bool:
    return sys.stderr.isatty() if flag is None else flag


@click.command("nightly", epilog=_EXIT_HELP)
@db_option
@click.option("--days", type=int, default=None,
              help="On a database without a harvest checkpoint, crawl from today minus N days.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Force the crawl window start (YYYY-MM-DD), checkpoint or not.")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Crawl window end (YYYY-MM-DD).")
@click.option("--base-url", default=None,
              help="Harvest from this host instead of arXiv (serving <base>/oai and <base>/api/query, "
                   "as the local stand-in does).")
@click.option("--digest-dir", type=click.Path(file_okay=False), default=None,
              help="Folder for the digest (default: setting digest_dir, data/digests).")
@click.option("--no-retrain", is_flag=True, help="Skip the retrain check this time.")
@click.option("--no-digest", is_flag=True, help="Do not write the digest.")
@click.option("--progress/--quiet", "progress", default=None, help="Progress bars (default: when on a terminal).")
@click.pass_context
def nightly_cmd(ctx: click.Context, db_path: str | None, days: int | None, since, until, base_url: str | None,
                digest_dir: str | None, no_retrain: bool, no_digest: bool, progress: bool | None) -> None:
    """Crawl new papers, classify new and stale ones, retrain when enough new labels arrived, write
    the digest. Meant for cron/systemd: one run record per call and an exit code per failure kind."""
    s = with_base_url(get_settings(ctx, db_path=db_path), base_url)
    _sigterm_as_interrupt()
    try:
        report = run_nightly(s, days=days, since=since.date() if since else None,
                             until=until.date() if until else None, retrain=not no_retrain, digest=not no_digest,
                             digest_dir=digest_dir, progress=_progress(progress))
    except KeyboardInterrupt:
        click.echo("error: nightly interrupted; the run is recorded as failed and the next run resumes", err=True)
        ctx.exit(EXIT_INTERRUPTED)
    _report(report)
    ctx.exit(report.exit_code)


@click.command("demo")
@click.option("--corpus", type=click.Path(dir_okay=False), required=True,
              help="Corpus JSONL(.gz) the local arXiv stand-in serves, e.g. ../shared/arxiv/corpus.jsonl.gz.")
@click.option("--db", "db_path", type=click.Path(dir_okay=False), default="data/demo.duckdb", show_default=True,
              help="Demo database (kept apart from the real one).")
@click.option("--days", type=int, default=DEMO_DAYS, show_default=True,
              help="Replay the last N days of the corpus (60 days is about 1,700 papers).")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Window start instead of --days.")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Window end (default: corpus end).")
@click.option("--no-dashboard", is_flag=True, help="Stop after the nightly run (tests, benchmarks).")
@click.option("--port", type=int, default=None, help="Dashboard port.")
@click.option("--progress/--quiet", "progress", default=None, help="Progress bars (default: when on a terminal).")
@click.option("--encoder-backend", type=click.Choice(["hybrid", "torch", "onnx", "onnx-int8"]), default="hybrid",
              show_default=True,
              help="Encoder for the demo's papers. hybrid (int8 ONNX for abstracts) classifies the whole 32k "
                   "corpus in ~12 min on 2 cores instead of ~24 with torch, with the same label on 98% of "
                   "stream papers; torch is the setting's default elsewhere.")
@click.pass_context
def demo_cmd(ctx: click.Context, corpus: str, db_path: str, days: int, since, until, no_dashboard: bool,
             port: int | None, progress: bool | None, encoder_backend: str) -> None:
    """Offline demo: serve the corpus with the local arXiv stand-in, run the real nightly job against it
    over HTTP, then open the dashboard on the result."""
    s = replace(get_settings(ctx, db_path=db_path), encoder_backend=encoder_backend)
    click.echo(f"demo: serving {corpus} with the local arXiv stand-in; nightly into {s.db_path} ...")
    report = run_demo(s, corpus, days=days, since=since.date() if since else None,
                      until=until.date() if until else None, progress=_progress(progress))
    _report(report)
    if not report.ok or no_dashboard:
        ctx.exit(report.exit_code)
    from aisec_radar.cli import COMMANDS

    if "dashboard" not in COMMANDS:
        click.echo("the dashboard is not available in this build; see `aisec-radar stats --db " + s.db_path + "`")
        ctx.exit(0)
    dashboard = ctx.find_root().command.get_command(ctx, "dashboard")
    args = ["--db", s.db_path] + (["--port", str(port)] if port else [])
    dashboard.main(args=args, prog_name="aisec-radar dashboard", obj=ctx.find_root().obj, standalone_mode=True)

