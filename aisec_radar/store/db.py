"""Connections, migrations and the lock discipline.

DuckDB lets one process write a file at a time (and a read-only open also fails while a writer
holds it). The nightly job, the dashboard and the CLI share one file, so every access here is
short-lived: open, do one small thing, close. Opening retries with backoff while another process
holds the lock, so a curator's label waits a moment instead of failing.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from importlib import resources
from pathlib import Path

import duckdb

from aisec_radar.errors import DatabaseLocked, SchemaTooNew, StoreError

log = logging.getLogger(__name__)

DEFAULT_LOCK_TIMEOUT = 60.0


@lru_cache(maxsize=1)
def _migrations() -> list[tuple[int, str, str]]:
    """(number, name, sql) of every migration file shipped with the package, in order."""
    out = []
    for entry in resources.files("aisec_radar.store").joinpath("migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:3].isdigit():
            out.append((int(name[:3]), name, entry.read_text(encoding="utf-8")))
    return sorted(out)


def code_schema_version() -> int:
    migs = _migrations()
    return migs[-1][0] if migs else 0


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text or "conflicting" in text or "already open" in text


def _open(path: Path, read_only: bool, timeout: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except (duckdb.IOException, duckdb.ConnectionException) as exc:
            if not _is_lock_error(exc):
                raise StoreError(f"cannot open database {path}: {exc}") from exc
            if time.monotonic() >= deadline:
                raise DatabaseLocked(
                    f"database {path} stayed locked by another process for {timeout:.0f}s; "
                    "is a crawl or nightly run still going?"
                ) from exc
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.5)


def _schema_version(con: duckdb.DuckDBPyConnection) -> int:
    has = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchone()[0]
    if not has:
        return 0
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def _check_not_newer(path: Path, found: int) -> None:
    ours = code_schema_version()
    if found > ours:
        raise SchemaTooNew(
            f"database {path} has schema version {found}, but this aisec-radar knows only up to "
            f"{ours}; upgrade aisec-radar (pip install -U aisec-radar) before opening it"
        )


def migrate(con: duckdb.DuckDBPyConnection, path: Path, upto: int | None = None) -> list[str]:
    """Apply missing migrations in one transaction each; return the names applied.

    ``upto`` stops at a given schema number: tests use it to build an "old" file.
    """
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name VARCHAR, "
        "applied_at TIMESTAMP DEFAULT current_timestamp)"
    )
    current = _schema_version(con)
    _check_not_newer(path, current)
    applied = []
    for number, name, sql in _migrations():
        if number <= current or (upto is not None and number > upto):
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(sql)
            con.execute("INSERT INTO schema_version (version, name) VALUES (?, ?)", [number, name])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        applied.append(name)
        log.info("migrated %s to schema %d (%s)", path, number, name)
    return applied


def init_db(path: str | Path, timeout: float = DEFAULT_LOCK_TIMEOUT) -> list[str]:
    """Create or upgrade the database file; return the migrations applied."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    con = _open(p, read_only=False, timeout=timeout)
    try:
        return migrate(con, p)
    finally:
        con.close()


@contextmanager
def connect(
    path: str | Path, read_only: bool = False, timeout: float = DEFAULT_LOCK_TIMEOUT
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived connection. Writers migrate an old file first; readers never change it."""
    p = Path(path)
    if read_only:
        if not p.exists():
            raise StoreError(f"database {p} does not exist; create it with `aisec-radar init --db {p}`")
        con = _open(p, read_only=True, timeout=timeout)
        try:
            found = _schema_version(con)
            _check_not_newer(p, found)
            if found < code_schema_version():
                con.close()
                init_db(p, timeout)  # upgrade once, then read
                con = _open(p, read_only=True, timeout=timeout)
            yield con
        finally:
            con.close()
        return
    p.parent.mkdir(parents=True, exist_ok=True)
    con = _open(p, read_only=False, timeout=timeout)
    try:
        found = _schema_version(con)
        if found != code_schema_version():  # the common case costs one read, no write
            migrate(con, p)
        yield con
    finally:
        con.close()


@contextmanager
def transaction(
    path: str | Path, timeout: float = DEFAULT_LOCK_TIMEOUT
) -> Iterator[duckdb.DuckDBPyConnection]:
    """One write transaction: all of it lands or none of it does (a failed batch rolls back whole)."""
    with connect(path, read_only=False, timeout=timeout) as con:
        con.execute("BEGIN TRANSACTION")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
