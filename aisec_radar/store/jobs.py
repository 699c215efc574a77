"""State the nightly job keeps between runs (the retrain baseline) and the counts it decides on."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def get_state(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    row = con.execute("SELECT value FROM job_state WHERE key = ?", [key]).fetchone()
    return row[0] if row else None


def set_state(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    con.execute(
        "INSERT INTO job_state (key, value, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        [key, value, _now()],
    )


def curator_label_count(con: duckdb.DuckDBPyConnection) -> int:
    """Labels written by people (taxonomy migrations rewrite labels mechanically and do not count)."""
    return int(con.execute(
        "SELECT count(*) FROM labels WHERE source <> 'taxonomy-migration'"
    ).fetchone()[0])


def harvest_checkpoints(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("SELECT count(*) FROM harvest_state").fetchone()[0])


def close_abandoned_runs(con: duckdb.DuckDBPyConnection, kind: str, error: str) -> int:
    """Mark runs of ``kind`` still 'running' as failed. Only the holder of that kind's lock may call
    this: with the lock held, no live process can own such a row (it died by SIGKILL or power loss)."""
    rows = con.execute(
        "UPDATE runs SET status = 'failed', finished_at = ?, error = ? WHERE kind = ? AND status = 'running' "
        "RETURNING run_id",
        [_now(), error, kind],
    ).fetchall()
    return len(rows)


def prune_state(con: duckdb.DuckDBPyConnection, prefix: str, older_than: datetime) -> int:
    """Drop per-day keys (e.g. 'digest_since:2026-01-01') nobody will read again."""
    rows = con.execute(
        "DELETE FROM job_state WHERE starts_with(key, ?) AND updated_at < ? RETURNING key", [prefix, older_than]
    ).fetchall()
    return len(rows)
