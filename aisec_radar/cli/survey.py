"""`aisec-radar survey import FILE.bib`: mark the papers the survey already cites."""

from __future__ import annotations

from pathlib import Path

import click

from aisec_radar.cli.common import db_option, get_settings


@click.group("survey")
def survey_group() -> None:
    """The survey's bibliography: what it cites, so exports can show what it does not yet."""


@survey_group.command("import")
@click.argument("bib", type=click.Path(dir_okay=False))
@click.option("--append", is_flag=True, help="Add to the cited set instead of replacing it.")
@db_option
@click.pass_context
def survey_import_cmd(ctx: click.Context, bib: str, append: bool, db_path: str | None) -> None:
    """Read BIB (arXiv ids from eprint/url/doi/journal fields, else matched by normalised title)."""
    from aisec_radar.survey import import_survey

    s = get_settings(ctx, db_path=db_path)
    rep = import_survey(s, Path(bib), replace=not append)
    how = ", ".join(f"{k} {v}" for k, v in sorted(rep.matched.items())) or "none"
    click.echo(f"{rep.entries} entries: {sum(rep.matched.values())} arXiv paper(s) matched ({how}); "
               f"{len(rep.unmatched)} unmatched; {rep.cited_total} cited paper(s) stored")
    if rep.not_in_store:
        click.echo(f"{len(rep.not_in_store)} cited paper(s) are not in the store yet: "
                   f"{' '.join(rep.not_in_store[:8])}{' ...' if len(rep.not_in_store) > 8 else ''}")
    for key, title in rep.unmatched[:20]:
        click.echo(f"  unmatched: {key}: {title[:90]}")
