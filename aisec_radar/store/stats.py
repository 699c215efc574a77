"""Counts for `aisec-radar stats` and the dashboard header."""

from __future__ import annotations

from typing import Any

import duckdb

from aisec_radar.store.runs import last_runs


def stats(con: duckdb.DuckDBPyConnection, type_axis: dict[str, str]) -> dict[str, Any]:
    """Papers, predictions, labels, counts per type and per axis (curator label wins over prediction)."""
    one = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
    per_type: dict[str, int] = {}
    rows = con.execute(
        "SELECT t, count(*) FROM (SELECT unnest(types) AS t FROM effective_labels WHERE types IS NOT NULL) "
        "GROUP BY t ORDER BY t"
    ).fetchall()
    for t, n in rows:
        per_type[t] = int(n)
    per_axis: dict[str, int] = {}
    for t, n in per_type.items():
        axis = type_axis.get(t)
        if axis:
            per_axis[axis] = per_axis.get(axis, 0) + n
    runs = last_runs(con, limit=1)
    last = runs[0] if runs else None
    if last:
        last = {**last, "started_at": str(last["started_at"]),
                "finished_at": str(last["finished_at"]) if last["finished_at"] else None}
    return {
        "papers": int(one("SELECT count(*) FROM papers")),
        "paper_versions": int(one("SELECT count(*) FROM paper_versions")),
        "predictions": int(one("SELECT count(*) FROM predictions")),
        "needs_review": int(one("SELECT count(*) FROM current_predictions WHERE status = 'needs_review'")),
        "labels": int(one("SELECT count(*) FROM labels")),
        "labelled_papers": int(one("SELECT count(DISTINCT arxiv_id) FROM labels")),
        "per_type": per_type,
        "per_axis": per_axis,
        "last_run": last,
    }
