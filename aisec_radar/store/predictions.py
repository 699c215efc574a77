"""Predictions, the papers that need one, and the models table (register / promote)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import duckdb

from aisec_radar.records import Prediction


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def papers_to_classify(con: duckdb.DuckDBPyConnection, model_version: str, taxonomy_version: str,
                       all_papers: bool = False) -> list[tuple[str, str, str, str]]:
    """(arxiv_id, title, abstract, content_hash) of papers lacking a prediction for this model and
    taxonomy version, or whose prediction was made from different text (stale); all with all_papers."""
    if all_papers:
        sql = "SELECT arxiv_id, title, coalesce(abstract, ''), content_hash FROM papers ORDER BY arxiv_id"
        return [tuple(r) for r in con.execute(sql).fetchall()]
    sql = (
        "SELECT p.arxiv_id, p.title, coalesce(p.abstract, ''), p.content_hash FROM papers p "
        "LEFT JOIN predictions pr ON pr.arxiv_id = p.arxiv_id AND pr.model_version = ? "
        "AND pr.taxonomy_version = ? "
        "WHERE pr.arxiv_id IS NULL OR pr.content_hash IS DISTINCT FROM p.content_hash ORDER BY p.arxiv_id"
    )
    return [tuple(r) for r in con.execute(sql, [model_version, taxonomy_version]).fetchall()]


def save_predictions(con: duckdb.DuckDBPyConnection, preds: Iterable[Prediction]) -> int:
    """Insert or replace predictions (one per paper, model and taxonomy version) in one bulk statement.

    Bulk through an Arrow table: executemany costs ~5 ms a row in DuckDB, which would eat a tenth of
    classify's time budget. The caller owns the transaction.
    """
    import pyarrow as pa

    preds = list(preds)
    if not preds:
        return 0
    now = _now()
    table = pa.table({
        "arxiv_id": pa.array([p.arxiv_id for p in preds], pa.string()),
        "model_version": pa.array([p.model_version for p in preds], pa.string()),
        "taxonomy_version": pa.array([p.taxonomy_version for p in preds], pa.string()),
        "relevance": pa.array([p.relevance for p in preds], pa.string()),
        "type_scores": pa.array([json.dumps(p.type_scores) for p in preds], pa.string()),
        "labels": pa.array([list(p.labels) for p in preds], pa.list_(pa.string())),
        "role": pa.array([p.role for p in preds], pa.string()),
        "modality": pa.array([p.modality for p in preds], pa.string()),
        "confidence": pa.array([float(p.confidence) for p in preds], pa.float64()),
        "status": pa.array([p.status for p in preds], pa.string()),
        "review_priority": pa.array([float(p.review_priority) for p in preds], pa.float64()),
        "explanation": pa.array([json.dumps(p.explanation, ensure_ascii=False) for p in preds], pa.string()),
        "content_hash": pa.array([p.content_hash for p in preds], pa.string()),
        "created_at": pa.array([now] * len(preds), pa.timestamp("us")),
    })
    con.execute("SELECT 1").fetchall()  # register() refuses while an earlier result is unread
    con.register("_new_predictions", table)
    try:
        con.execute(
            "INSERT INTO predictions (arxiv_id, model_version, taxonomy_version, relevance, type_scores, labels, "
            "role, modality, confidence, status, review_priority, explanation, content_hash, created_at) "
            "SELECT arxiv_id, model_version, taxonomy_version, relevance, type_scores::JSON, labels, role, "
            "modality, confidence, status, review_priority, explanation::JSON, content_hash, created_at "
            "FROM _new_predictions ON CONFLICT (arxiv_id, model_version, taxonomy_version) "
            "DO UPDATE SET relevance = excluded.relevance, type_scores = excluded.type_scores, "
            "labels = excluded.labels, role = excluded.role, modality = excluded.modality, "
            "confidence = excluded.confidence, status = excluded.status, "
            "review_priority = excluded.review_priority, explanation = excluded.explanation, "
            "content_hash = excluded.content_hash, created_at = excluded.created_at"
        ).fetchall()
    finally:
        con.unregister("_new_predictions")
    return len(preds)


def _row_to_prediction(r: tuple) -> Prediction:
    return Prediction(arxiv_id=r[0], model_version=r[1], taxonomy_version=r[2], relevance=r[3],
                      type_scores=json.loads(r[4]) if r[4] else {}, labels=list(r[5] or []), role=r[6],
                      modality=r[7], confidence=float(r[8] or 0.0), status=r[9],
                      review_priority=float(r[10] or 0.0),
                      explanation=json.loads(r[11]) if r[11] else {}, content_hash=r[12])


_PCOLS = ("arxiv_id, model_version, taxonomy_version, relevance, type_scores, labels, role, modality, "
          "confidence, status, review_priority, explanation, content_hash")


def current_predictions(con: duckdb.DuckDBPyConnection,
                        arxiv_ids: Iterable[str] | None = None) -> dict[str, Prediction]:
    """The latest prediction per paper (the current_predictions view), optionally for some ids only."""
    sql = f"SELECT {_PCOLS} FROM current_predictions"
    params: list[Any] = []
    ids = list(arxiv_ids) if arxiv_ids is not None else None
    if ids is not None:
        if not ids:
            return {}
        sql += " WHERE list_contains(?, arxiv_id)"
        params.append(ids)
    return {r[0]: _row_to_prediction(r) for r in con.execute(sql, params).fetchall()}


def predictions_for(con: duckdb.DuckDBPyConnection, model_version: str, taxonomy_version: str) -> dict[str, Prediction]:
    rows = con.execute(f"SELECT {_PCOLS} FROM predictions WHERE model_version = ? AND taxonomy_version = ?",
                       [model_version, taxonomy_version]).fetchall()
    return {r[0]: _row_to_prediction(r) for r in rows}


def labelled_papers(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str, str, list[str], str | None]]:
    """(arxiv_id, title, abstract, content_hash, types, role) of every paper with a current curator label."""
    rows = con.execute(
        "SELECT p.arxiv_id, p.title, coalesce(p.abstract, ''), p.content_hash, l.types, l.role "
        "FROM current_labels l JOIN papers p USING (arxiv_id) ORDER BY p.arxiv_id"
    ).fetchall()
    return [(r[0], r[1], r[2], r[3], list(r[4]), r[5]) for r in rows]


def register_model(con: duckdb.DuckDBPyConnection, model_version: str, taxonomy_version: str,
                   report: dict[str, Any], promoted: bool = False) -> None:
    """Record a model (idempotent); promoting one un-promotes the others."""
    if promoted:
        con.execute("UPDATE models SET promoted = FALSE WHERE promoted")
    con.execute(
        "INSERT INTO models (model_version, created_at, taxonomy_version, promoted, report) VALUES (?,?,?,?,?) "
        "ON CONFLICT (model_version) DO UPDATE SET promoted = excluded.promoted OR models.promoted, "
        "report = excluded.report",
        [model_version, _now(), taxonomy_version, promoted, json.dumps(report, default=str)],
    )


def promoted_model(con: duckdb.DuckDBPyConnection) -> tuple[str, dict[str, Any]] | None:
    """(model_version, report) of the promoted model, if any was trained into this store."""
    row = con.execute(
        "SELECT model_version, report FROM models WHERE promoted ORDER BY created_at DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    return row[0], json.loads(row[1]) if row[1] else {}


def list_models(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    rows = con.execute("SELECT model_version, created_at, taxonomy_version, promoted, report FROM models "
                       "ORDER BY created_at").fetchall()
    return [{"model_version": r[0], "created_at": r[1], "taxonomy_version": r[2], "promoted": r[3],
             "report": json.loads(r[4]) if r[4] else {}} for r in rows]
