"""Foundation commands: init, stats, label, labels export/import, config."""

from __future__ import annotations

from pathlib import Path

import click

from aisec_radar.cli.common import db_option, echo_json, get_settings
from aisec_radar.errors import InputError, TaxonomyError, UnknownPaper
from aisec_radar.records import Label, split_arxiv_id
from aisec_radar.store import connect, init_db, transaction
from aisec_radar.store.labels import add_label, import_labels, label_history, read_labels_jsonl, write_labels_jsonl
from aisec_radar.store.papers import paper_exists
from aisec_radar.store.stats import stats
from aisec_radar.taxonomy import load_taxonomy


@click.command("init")
@db_option
@click.pass_context
def init_cmd(ctx: click.Context, db_path: str | None) -> None:
    """Create the database, or migrate an old one to this version's schema."""
    s = get_settings(ctx, db_path=db_path)
    applied = init_db(s.db_path, timeout=s.lock_timeout)
    click.echo(f"{s.db_path}: " + (f"applied {len(applied)} migration(s): {', '.join(applied)}" if applied
                                   else "schema up to date"))


@click.command("stats")
@db_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of text.")
@click.option("--axis-map", default=None, help="Survey version for the type->axis map (default: setting axis_map).")
@click.pass_context
def stats_cmd(ctx: click.Context, db_path: str | None, as_json: bool, axis_map: str | None) -> None:
    """Counts of papers, predictions and labels, per type and axis, and the last run."""
    s = get_settings(ctx, db_path=db_path, axis_map=axis_map)
    tax = load_taxonomy(s.taxonomy_path or None)
    with connect(s.db_path, read_only=True, timeout=s.lock_timeout) as con:
        st = stats(con, tax.axis_map(s.axis_map))
    st["taxonomy_version"] = tax.version
    st["axis_map"] = s.axis_map
    if as_json:
        echo_json(st)
        return
    click.echo(f"papers {st['papers']}  versions {st['paper_versions']}  predictions {st['predictions']}  "
               f"needs review {st['needs_review']}  labels {st['labels']} ({st['labelled_papers']} papers)")
    for axis, n in sorted(st["per_axis"].items()):
        click.echo(f"  axis {axis}: {n}")
    for t, n in sorted(st["per_type"].items()):
        click.echo(f"  {t}: {n}")
    lr = st["last_run"]
    click.echo(f"last run: {lr['kind']} {lr['status']} at {lr['started_at']}" if lr else "last run: none")


@click.command("label")
@click.argument("arxiv_id")
@click.option("--attack", required=True, help="Type id(s), comma-separated, or other_aisec / not_relevant.")
@click.option("--role", default=None, help="attack | defense | evaluation | analysis | survey")
@click.option("--modality", default=None, help="vision | language | audio | graph | multimodal | tabular | other")
@click.option("--curator", default=None, help="Your name (default: $USER).")
@click.option("--note", default=None, help="Free-text note kept with the label.")
@db_option
@click.pass_context
def label_cmd(ctx: click.Context, arxiv_id: str, attack: str, role: str | None, modality: str | None,
              curator: str | None, note: str | None, db_path: str | None) -> None:
    """Record a curator label for a paper already in the store (append-only; the latest wins)."""
    import getpass

    s = get_settings(ctx, db_path=db_path)
    tax = load_taxonomy(s.taxonomy_path or None)
    types = [t.strip() for t in attack.split(",") if t.strip()]
    if not types:
        raise InputError("--attack is empty; give at least one type id")
    tax.check_labels(types)
    if role is not None and role not in tax.roles + ("n/a",):
        raise TaxonomyError(f"unknown role '{role}'; valid roles: {', '.join(tax.roles)}")
    if modality is not None and modality not in tax.modalities:
        raise TaxonomyError(f"unknown modality '{modality}'; valid: {', '.join(tax.modalities)}")
    base, _ = split_arxiv_id(arxiv_id)
    with transaction(s.db_path, timeout=s.lock_timeout) as con:
        if not paper_exists(con, base):
            raise UnknownPaper(f"paper {base} is not in {s.db_path}; add it first with `aisec-radar fetch {base}`")
        lid = add_label(con, Label(arxiv_id=base, types=types, role=role, modality=modality,
                                   curator=curator or getpass.getuser(), note=note, source="cli",
                                   taxonomy_version=tax.version))
    click.echo(f"label {lid} stored for {base}: {', '.join(types)}")


@click.group("labels")
def labels_group() -> None:
    """Curator labels as JSON Lines: keep them in git, rebuild a database from them."""


@labels_group.command("export")
@click.argument("file", type=click.Path(dir_okay=False))
@db_option
@click.pass_context
def labels_export(ctx: click.Context, file: str, db_path: str | None) -> None:
    """Write every label (full history, oldest first) to FILE.jsonl."""
    s = get_settings(ctx, db_path=db_path)
    with connect(s.db_path, read_only=True, timeout=s.lock_timeout) as con:
        history = label_history(con)
    out = Path(file)
    write_labels_jsonl(out, history)
    click.echo(f"exported {len(history)} label(s) to {out}")


@labels_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@db_option
@click.pass_context
def labels_import(ctx: click.Context, file: str, db_path: str | None) -> None:
    """Append the labels of FILE.jsonl that the store does not have yet (all or nothing)."""
    s = get_settings(ctx, db_path=db_path)
    tax = load_taxonomy(s.taxonomy_path or None)
    labels = read_labels_jsonl(Path(file), taxonomy=tax)
    with transaction(s.db_path, timeout=s.lock_timeout) as con:
        added, skipped = import_labels(con, labels)
        unknown = sorted({lab.arxiv_id for lab in labels if not paper_exists(con, lab.arxiv_id)})
    click.echo(f"imported {added} label(s), {skipped} already present")
    if unknown:
        click.echo(f"{len(unknown)} labelled paper(s) are not in the store yet; add them with "
                   f"`aisec-radar fetch {' '.join(unknown[:5])}{' ...' if len(unknown) > 5 else ''}`")


@click.command("config")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def config_cmd(ctx: click.Context, as_json: bool) -> None:
    """Show every setting with its resolved value and help (secrets masked)."""
    from aisec_radar.config import ENV_PREFIX, settings_help

    s = get_settings(ctx)
    if as_json:
        echo_json(s.public_dict())
        return
    pub = s.public_dict()
    for name, help_text, _default in settings_help():
        click.echo(f"{name} = {pub[name]!r}\n    {help_text} (env {ENV_PREFIX}{name.upper()})")
