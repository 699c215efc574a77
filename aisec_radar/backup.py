"""Backups: the whole database as a folder (DuckDB EXPORT DATABASE) plus the labels as JSON Lines.

The folder restores with DuckDB's IMPORT DATABASE into a *new* file that is moved into place only
when complete, so a failed restore never leaves a half-loaded database. labels.jsonl is the
same file `aisec-radar labels export` writes: with it and arXiv a database can be rebuilt even
when a DuckDB upgrade can no longer read the Parquet backup (docs/operations.md).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from aisec_radar import __version__
from aisec_radar.config import Settings
from aisec_radar.errors import InputError, StoreError
from aisec_radar.store import code_schema_version, connect
from aisec_radar.store.backup import export_database, import_database, table_counts
from aisec_radar.store.labels import label_history, write_labels_jsonl

MANIFEST = "aisec-radar-backup.json"


def backup(settings: Settings, folder: Path) -> dict[str, int]:
    """Write a backup of settings.db_path into folder (which must be new or empty); return rows per table."""
    if folder.exists() and any(folder.iterdir()):
        raise InputError(f"backup folder {folder} is not empty; choose a new folder (e.g. backups/$(date +%F))")
    folder.mkdir(parents=True, exist_ok=True)
    with connect(settings.db_path, read_only=True, timeout=settings.lock_timeout) as con:
        counts = table_counts(con)
        export_database(con, folder)
        history = label_history(con)
    write_labels_jsonl(folder / "labels.jsonl", history)  # the same format `labels import` reads
    manifest = {"aisec_radar": __version__, "schema_version": code_schema_version(),
                "source": str(settings.db_path), "tables": counts}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return counts


def _holds_data(db: Path, settings: Settings) -> bool:
    with connect(db, read_only=True, timeout=settings.lock_timeout) as con:
        counts = table_counts(con)
    return any(n for t, n in counts.items() if t != "schema_version")


def restore(settings: Settings, folder: Path, force: bool = False) -> dict[str, int]:
    """Rebuild settings.db_path from a backup folder; refuse to replace a non-empty database unless force."""
    from aisec_radar.jobs import nightly_lock

    if not (folder / "schema.sql").exists() or not (folder / "load.sql").exists():
        raise InputError(f"{folder} is not a database backup (schema.sql/load.sql missing)")
    target = Path(settings.db_path)
    if target.exists() and not force and _holds_data(target, settings):
        raise InputError(f"database {target} already holds data; restore into a new --db path, "
                         "or pass --force to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".restore-tmp")
    for p in (tmp, Path(str(tmp) + ".wal")):
        if p.exists():
            p.unlink()
    with nightly_lock(target):  # no nightly may write into the file we are about to replace
        try:
            import_database(tmp, folder)
            with connect(tmp, read_only=True, timeout=settings.lock_timeout) as con:  # checks/upgrades schema
                counts = table_counts(con)
        except Exception as exc:
            for p in (tmp, Path(str(tmp) + ".wal")):
                if p.exists():
                    p.unlink()
            if isinstance(exc, StoreError):
                raise
            raise StoreError(f"restore of {folder} failed: {exc}") from exc
        wal = Path(str(target) + ".wal")
        if wal.exists():
            wal.unlink()
        os.replace(tmp, target)
    return counts
