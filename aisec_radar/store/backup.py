"""Whole-database backups with DuckDB's EXPORT DATABASE / IMPORT DATABASE.

A backup is a folder (schema.sql, load.sql and one Parquet file per table) that any DuckDB of the
same major version can load. Sequences keep their position, so labels added after a restore get
fresh ids. A restore always builds a new file and moves it into place, so a failed import never
leaves a half-loaded database where the old one was.
"""

from __future__ import annotations

from pathlib import Path

import duckdb


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def export_database(con: duckdb.DuckDBPyConnection, folder: Path) -> None:
    con.execute(f"EXPORT DATABASE {_literal(folder)} (FORMAT parquet)")


def import_database(db_file: Path, folder: Path) -> None:
    """Load a backup folder into db_file, which must not exist yet."""
    con = duckdb.connect(str(db_file))
    try:
        con.execute(f"IMPORT DATABASE {_literal(folder)}")
    finally:
        con.close()


def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Row count per base table, to report and to check a round trip."""
    names = [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' ORDER BY table_name"
    ).fetchall()]
    return {n: int(con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0]) for n in names}
