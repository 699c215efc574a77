"""`aisec-radar export {bibtex,csv,parquet,digest,feed,delta}`: thin wrappers over export.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import click

from aisec_radar.cli.common import db_option, get_settings
from aisec_radar.store.exports import PaperFilter

_DATE = click.DateTime(["%Y-%m-%d"])


def _d(value: datetime | None) -> date | None:
    return value.date() if value else None


def _filter_options(f: Callable) -> Callable:
    for opt in reversed([
        click.option("--type", "types", multiple=True, help="Type id (repeatable), e.g. jailbreak or other_aisec."),
        click.option("--axis", "axes", multiple=True, help="Axis id (repeatable): DD, DM, MD, MM."),
        click.option("--since", type=_DATE, default=None, help="Papers dated on/after YYYY-MM-DD (v1 date)."),
        click.option("--until", type=_DATE, default=None, help="Papers dated on/before YYYY-MM-DD."),
        click.option("--curated-only", is_flag=True, help="Only papers a curator labelled."),
        click.option("--all-papers", is_flag=True,
                     help="Include not_relevant and unclassified papers (default: AI-security papers only)."),
    ]):
        f = opt(f)
    return db_option(f)


def _build_filter(ctx: click.Context, db_path: str | None, types, axes, since, until, curated_only: bool,
                  all_papers: bool):
    from aisec_radar.export import resolve_types
    from aisec_radar.taxonomy import load_taxonomy

    s = get_settings(ctx, db_path=db_path)
    tax = load_taxonomy(s.taxonomy_path or None)
    wanted = resolve_types(tax, types, axes, s.axis_map)
    return s, PaperFilter(types=wanted, since=_d(since), until=_d(until), curated_only=curated_only,
                          relevant_only=not all_papers)


@click.group("export")
def export_group() -> None:
    """Write papers with their effective labels (curator's, else the classifier's) to files."""


@export_group.command("bibtex")
@click.argument("file", type=click.Path(dir_okay=False))
@_filter_options
@click.pass_context
def export_bibtex_cmd(ctx: click.Context, file: str, db_path, types, axes, since, until, curated_only,
                      all_papers) -> None:
    """BibTeX for the survey's LaTeX; keys are stable (author+year+word+arXiv id)."""
    from aisec_radar.export import export_bibtex

    s, f = _build_filter(ctx, db_path, types, axes, since, until, curated_only, all_papers)
    n = export_bibtex(s, Path(file), f)
    click.echo(f"wrote {n} BibTeX entries to {file}")


def _table(fmt: str) -> Callable:
    @click.argument("file", type=click.Path(dir_okay=False))
    @_filter_options
    @click.pass_context
    def cmd(ctx: click.Context, file: str, db_path, types, axes, since, until, curated_only, all_papers) -> None:
        from aisec_radar.export import export_table

        s, f = _build_filter(ctx, db_path, types, axes, since, until, curated_only, all_papers)
        n = export_table(s, Path(file), fmt, f)
        click.echo(f"wrote {n} paper(s) to {file}")

    cmd.__doc__ = f"Papers with effective labels, provenance, confidence and survey citation as {fmt.upper()}."
    return cmd


export_group.command("csv")(_table("csv"))
export_group.command("parquet")(_table("parquet"))


@export_group.command("digest")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--since", type=_DATE, default=None, help="Papers dated on/after this day (default: 7 days ago).")
@click.option("--until", type=_DATE, default=None, help="Papers dated on/before this day.")
@click.option("--seen-since", type=_DATE, default=None,
              help="Instead of paper dates, papers the store first saw on/after this day.")
@click.option("--type", "types", multiple=True, help="Only these type ids.")
@click.option("--axis", "axes", multiple=True, help="Only these axes.")
@click.option("--curated-only", is_flag=True)
@db_option
@click.pass_context
def export_digest_cmd(ctx: click.Context, file: str, since, until, seen_since, types, axes, curated_only,
                      db_path) -> None:
    """Markdown digest of new papers grouped by axis and type, with links, confidence and review status."""
    from aisec_radar.export import export_digest, resolve_types
    from aisec_radar.taxonomy import load_taxonomy

    s = get_settings(ctx, db_path=db_path)
    wanted = resolve_types(load_taxonomy(s.taxonomy_path or None), types, axes, s.axis_map)
    if seen_since:
        f = PaperFilter(types=wanted, first_seen_since=seen_since, curated_only=curated_only)
        intro = f"Papers first seen since {seen_since:%Y-%m-%d}."
    else:
        start = _d(since) or date.today() - timedelta(days=7)
        f = PaperFilter(types=wanted, since=start, until=_d(until), curated_only=curated_only)
        intro = f"Papers dated {start}{f' to {_d(until)}' if until else ' or later'}."
    n = export_digest(s, Path(file), f, intro=intro)
    click.echo(f"wrote digest with {n} AI-security paper(s) to {file}")


@export_group.command("feed")
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--type", "types", multiple=True, help="Only these type ids (default: every type and other_aisec).")
@click.option("--limit", type=int, default=100, show_default=True, help="Newest N papers per feed.")
@click.option("--base-url", default=None, help="Public URL of OUT_DIR, for each feed's rel=self link.")
@click.option("--curated-only", is_flag=True)
@db_option
@click.pass_context
def export_feed_cmd(ctx: click.Context, out_dir: str, types, limit: int, base_url: str | None, curated_only: bool,
                    db_path) -> None:
    """One Atom 1.0 feed per type: OUT_DIR/<type>.atom."""
    from aisec_radar.export import export_feeds, resolve_types
    from aisec_radar.taxonomy import load_taxonomy

    s = get_settings(ctx, db_path=db_path)
    wanted = resolve_types(load_taxonomy(s.taxonomy_path or None), types, (), s.axis_map)
    counts = export_feeds(s, Path(out_dir), wanted, limit=limit, base_url=base_url, curated_only=curated_only)
    click.echo(f"wrote {len(counts)} feed(s) to {out_dir}: " + ", ".join(f"{t} {n}" for t, n in counts.items()))


@export_group.command("delta")
@click.option("--since", type=_DATE, required=True, help="Papers dated on/after YYYY-MM-DD.")
@click.option("--type", "types", multiple=True, help="Only these type ids.")
@click.option("--axis", "axes", multiple=True, help="Only these axes.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=".", show_default=True,
              help="Folder for delta.bib and delta.tex.")
@click.option("--curated-only", is_flag=True)
@db_option
@click.pass_context
def export_delta_cmd(ctx: click.Context, since, types, axes, out_dir: str, curated_only: bool, db_path) -> None:
    """New taxonomy papers the survey does not cite yet (see `survey import`): BibTeX + LaTeX itemize."""
    from aisec_radar.export import export_delta, resolve_types
    from aisec_radar.taxonomy import load_taxonomy

    s = get_settings(ctx, db_path=db_path)
    wanted = resolve_types(load_taxonomy(s.taxonomy_path or None), types, axes, s.axis_map)
    rep = export_delta(s, Path(out_dir), since.date(), wanted, curated_only=curated_only)
    click.echo(f"{rep.papers} new paper(s) not yet cited since {since:%Y-%m-%d}: {rep.bib_path}, {rep.tex_path}")
    for t, n in sorted(rep.per_type.items()):
        click.echo(f"  {t}: {n}")
