"""`aisec-radar db backup DIR` / `db restore DIR`: whole-database copies with DuckDB EXPORT/IMPORT."""

from __future__ import annotations

from pathlib import Path

import click

from aisec_radar.cli.common import db_option, get_settings


@click.group("db")
def db_group() -> None:
    """Back up and restore the whole database (papers, predictions, labels, runs, embeddings)."""


@db_group.command("backup")
@click.argument("folder", type=click.Path(file_okay=False))
@db_option
@click.pass_context
def db_backup_cmd(ctx: click.Context, folder: str, db_path: str | None) -> None:
    """Write FOLDER (Parquet per table + schema) and FOLDER/labels.jsonl; FOLDER must be new or empty."""
    from aisec_radar.backup import backup

    s = get_settings(ctx, db_path=db_path)
    counts = backup(s, Path(folder))
    click.echo(f"backed up {s.db_path} to {folder}: " + ", ".join(f"{t} {n}" for t, n in counts.items() if n))


@db_group.command("restore")
@click.argument("folder", type=click.Path(file_okay=False, exists=True))
@click.option("--force", is_flag=True, help="Replace a database that already holds data.")
@db_option
@click.pass_context
def db_restore_cmd(ctx: click.Context, folder: str, force: bool, db_path: str | None) -> None:
    """Load a backup FOLDER into the database file (refuses a non-empty one unless --force)."""
    from aisec_radar.backup import restore

    s = get_settings(ctx, db_path=db_path)
    counts = restore(s, Path(folder), force=force)
    click.echo(f"restored {folder} into {s.db_path}: " + ", ".join(f"{t} {n}" for t, n in counts.items() if n))
