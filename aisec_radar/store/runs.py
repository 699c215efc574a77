"""Run records and harvest checkpoints: what happened, in counts, and where to resume."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import duckdb


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def start_run(con: duckdb.DuckDBPyConnection, kind: str) -> int:
    row = con.execute(
        "INSERT INTO runs (kind, started_at, status) VALUES (?, ?, 'running') RETURNING run_id", [kind, _now()]
    ).fetchone()
    return int(row[0])


def finish_run(
    con: duckdb.DuckDBPyConnection, run_id: int, status: str, counts: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    con.execute(
        "UPDATE runs SET finished_at = ?, status = ?, counts = ?, error = ? WHERE run_id = ?",
        [_now(), status, json.dumps(counts or {}), error, run_id],
    )


def last_runs(con: duckdb.DuckDBPyConnection, limit: int = 20, kind: str | None = None) -> list[dict[str, Any]]:
    sql = "SELECT run_id, kind, started_at, finished_at, status, counts, error FROM runs"
    params: list[Any] = []
    if kind:
        sql += " WHERE kind = ?"
        params.append(kind)
    sql += " ORDER BY run_id DESC LIMIT ?"
    params.append(limit)
    out = []
    for r in con.execute(sql, params).fetchall():
        out.append({"run_id": r[0], "kind": r[1], "started_at": r[2], "finished_at": r[3], "status": r[4],
                    "counts": json.loads(r[5]) if r[5] else {}, "error": r[6]})
    return out


def get_checkpoint(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    row = con.execute("SELECT value FROM harvest_state WHERE key = ?", [key]).fetchone()
    return row[0] if row else None


def set_checkpoint(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    con.execute(
        "INSERT INTO harvest_state (key, value, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        [key, value, _now()],
    )


def all_checkpoints(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, datetime]]:
    return {k: (v, t) for k, v, t in con.execute("SELECT key, value, updated_at FROM harvest_state").fetchall()}
