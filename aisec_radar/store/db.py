"""Connections, migrations and the lock discipline.

DuckDB lets one process write a file at a time (and a read-only open also fails while a writer
holds it). The nightly job, the dashboard and the CLI share one file, so every access here is
short-lived: open, do one small thing, close. Opening retries with backoff while another process
holds the lock, so a curator's label waits a moment instead of failing.

DuckDB's own file lock is not enough on its own: with several processes opening and closing the
same file we saw committed rows vanish (2 of 400 labels) and "Could not read enough bytes"
errors, because the last steps of a close (WAL clean-up) run after DuckDB's lock is gone. So
every open→close span here is also held under our own ``flock`` on ``<db>.lock`` (exclusive for
writers, shared for readers), released only after DuckDB has closed the file, and writers fold
the WAL into the file (CHECKPOINT) before they close. Waiting is by polling, made fair by a
turnstile (``<db>.lock.turn``, see ``_acquire``): a long waiter stops newcomers until it is in.
"""

from __future__ import annotations

import fcntl
import logging
import os
import random
import threading
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
    return ("lock" in text or "conflicting" in text or "already open" in text
            or "different configuration" in text)


def _locked_message(path: Path, timeout: float) -> str:
    return (f"database {path} stayed locked by another process for {timeout:.0f}s; "
            "is a crawl or nightly run still going?")


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
                raise DatabaseLocked(_locked_message(path, timeout)) from exc
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.5)


_HELD = threading.local()  # lock-file path -> modes this thread holds, to refuse self-deadlock


def _held() -> dict[str, list[bool]]:
    if not hasattr(_HELD, "locks"):
        _HELD.locks = {}
    return _HELD.locks


_PATIENCE = 0.5  # seconds of waiting after which a process takes the turnstile


def _try_flock(fd: int, mode: int) -> bool:
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _acquire(fd: int, path: Path, exclusive: bool, timeout: float) -> None:
    """Take ``<db>.lock`` by polling, with a turnstile (``<db>.lock.turn``) against starvation.

    Polling alone is unfair: a process that just released the lock asks again at once, while the
    others sleep in their backoff, so under steady traffic (the nightly writer, curators, dashboard
    readers) one unlucky waiter could miss every window and time out (seen once in CI: a curator
    waited 120 s). Everyone passes the turnstile (a shared lock taken and dropped) before trying the
    database lock; a process that has waited longer than _PATIENCE holds the turnstile exclusively,
    so nobody new starts until it has the database lock, then lets go of the turnstile."""
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    try:
        turn = os.open(str(path) + ".lock.turn", os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        turn = -1  # cannot create it: plain polling
    start = time.monotonic()
    deadline = start + timeout
    delay = 0.01
    holding_turn = False
    try:
        while True:
            passed = holding_turn or turn < 0 or _try_flock(turn, fcntl.LOCK_SH)
            if passed and not holding_turn and turn >= 0:
                fcntl.flock(turn, fcntl.LOCK_UN)
            if passed and _try_flock(fd, mode):
                return
            now = time.monotonic()
            if now >= deadline:
                raise DatabaseLocked(_locked_message(path, timeout))
            if turn >= 0 and not holding_turn and now - start > _PATIENCE:
                holding_turn = _try_flock(turn, fcntl.LOCK_EX)
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.1)
    finally:
        if turn >= 0:
            os.close(turn)  # drops the turnstile, if held


@contextmanager
def _file_lock(path: Path, exclusive: bool, timeout: float) -> Iterator[None]:
    """Hold ``<db>.lock`` for the whole life of one DuckDB connection (see the module docstring)."""
    key = str(path.resolve())
    mine = _held().setdefault(key, [])
    if mine and (exclusive or any(mine)):
        raise StoreError(
            f"nested {'write' if exclusive else 'read'} connection to {path} inside an open "
            f"{'write' if any(mine) else 'read'} connection of the same thread; close the outer one first"
        )
    lock_path = Path(str(path) + ".lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        if exclusive:
            raise StoreError(f"cannot create lock file {lock_path} beside the database") from None
        fd = -1  # a read-only folder: nobody can write there, readers need no lock
    try:
        if fd >= 0:
            _acquire(fd, path, exclusive, timeout)
        mine.append(exclusive)
        try:
            yield
        finally:
            mine.pop()
    finally:
        if fd >= 0:
            os.close(fd)  # releases the flock, after DuckDB has closed the file


def _applied_versions(con: duckdb.DuckDBPyConnection) -> set[int]:
    has = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchone()[0]
    if not has:
        return set()
    return {int(r[0]) for r in con.execute("SELECT version FROM schema_version").fetchall()}


def _schema_version(con: duckdb.DuckDBPyConnection) -> int:
    return max(_applied_versions(con), default=0)


def _up_to_date(con: duckdb.DuckDBPyConnection) -> bool:
    """Every shipped migration applied (numbers may have gaps, so compare sets, not the maximum)."""
    return {m[0] for m in _migrations()} <= _applied_versions(con)


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
    done = _applied_versions(con)
    _check_not_newer(path, max(done, default=0))
    applied = []
    for number, name, sql in _migrations():
        if number in done or (upto is not None and number > upto):
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
    with _file_lock(p, exclusive=True, timeout=timeout):
        con = _open(p, read_only=False, timeout=timeout)
        try:
            applied = migrate(con, p)
            con.execute("CHECKPOINT")
            return applied
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
        with _file_lock(p, exclusive=False, timeout=timeout):
            con = _open(p, read_only=True, timeout=timeout)
            try:
                _check_not_newer(p, _schema_version(con))
                if _up_to_date(con):
                    yield con
                    return
            finally:
                con.close()
        init_db(p, timeout)  # an old file: upgrade once (exclusive), then read
        with _file_lock(p, exclusive=False, timeout=timeout):
            con = _open(p, read_only=True, timeout=timeout)
            try:
                yield con
            finally:
                con.close()
        return
    p.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(p, exclusive=True, timeout=timeout):
        con = _open(p, read_only=False, timeout=timeout)
        try:
            done = _applied_versions(con)
            _check_not_newer(p, max(done, default=0))
            if not {m[0] for m in _migrations()} <= done:  # the common case costs one read, no write
                migrate(con, p)
            yield con
            con.execute("CHECKPOINT")  # fold the WAL into the file before anyone else opens it
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
