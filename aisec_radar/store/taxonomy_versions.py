"""Taxonomy versions and their id mappings, and the label rows a migration reads.

A version is stored with its full YAML and the explicit old->new id mapping from its parent, so any
past label or prediction can be read under the version it was made in, or translated to another.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import duckdb


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def version_exists(con: duckdb.DuckDBPyConnection, version: str) -> bool:
    return con.execute("SELECT 1 FROM taxonomy_versions WHERE version = ?", [version]).fetchone() is not None


def add_version(con: duckdb.DuckDBPyConnection, version: str, yaml_text: str, parent: str | None,
                mapping: list[tuple[str, str, str]], note: str | None = None, created_by: str | None = None) -> None:
    """Store a version and its mapping rows (old_id, new_id, kind) from ``parent``; caller owns the transaction."""
    con.execute(
        "INSERT INTO taxonomy_versions (version, parent_version, yaml_text, note, created_by, created_at) "
        "VALUES (?,?,?,?,?,?)", [version, parent, yaml_text, note, created_by, _now()],
    )
    if parent is not None:
        for old, new, kind in mapping:
            con.execute(
                "INSERT INTO taxonomy_mappings (from_version, to_version, old_id, new_id, kind) VALUES (?,?,?,?,?)",
                [parent, version, old, new, kind],
            )


def get_version(con: duckdb.DuckDBPyConnection, version: str) -> dict[str, Any] | None:
    row = con.execute(
        "SELECT version, parent_version, yaml_text, note, created_by, created_at FROM taxonomy_versions "
        "WHERE version = ?", [version]).fetchone()
    if row is None:
        return None
    return dict(zip(["version", "parent_version", "yaml_text", "note", "created_by", "created_at"], row, strict=True))


def list_versions(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    rows = con.execute(
        "SELECT version, parent_version, note, created_by, created_at, "
        "(SELECT count(*) FROM labels l WHERE l.taxonomy_version = v.version) AS labels, "
        "(SELECT count(*) FROM predictions p WHERE p.taxonomy_version = v.version) AS predictions "
        "FROM taxonomy_versions v ORDER BY created_at, version").fetchall()
    keys = ["version", "parent_version", "note", "created_by", "created_at", "labels", "predictions"]
    return [dict(zip(keys, r, strict=True)) for r in rows]


def get_mapping(con: duckdb.DuckDBPyConnection, from_version: str, to_version: str) -> list[tuple[str, str, str]]:
    """(old_id, new_id, kind) rows of one parent->child step."""
    return [tuple(r) for r in con.execute(
        "SELECT old_id, new_id, kind FROM taxonomy_mappings WHERE from_version = ? AND to_version = ? "
        "ORDER BY old_id, new_id", [from_version, to_version]).fetchall()]


def parents(con: duckdb.DuckDBPyConnection) -> dict[str, str | None]:
    return dict(con.execute("SELECT version, parent_version FROM taxonomy_versions").fetchall())


def current_labels_rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The label in force per paper, with its id (a split's review suggestion points at it)."""
    rows = con.execute(
        "SELECT label_id, arxiv_id, types, role, modality, curator, note, source, taxonomy_version, created_at "
        "FROM current_labels ORDER BY arxiv_id").fetchall()
    keys = ["label_id", "arxiv_id", "types", "role", "modality", "curator", "note", "source", "taxonomy_version",
            "created_at"]
    out = []
    for r in rows:
        d = dict(zip(keys, r, strict=True))
        d["types"] = list(d["types"] or [])
        out.append(d)
    return out


def open_split_suggestion_labels(con: duckdb.DuckDBPyConnection, ref: str) -> set[int]:
    """Label ids a split between these versions already queued (so a rerun queues nothing twice)."""
    return {int(r[0]) for r in con.execute(
        "SELECT from_label_id FROM review_suggestions WHERE reason = 'taxonomy-split' AND ref = ? "
        "AND from_label_id IS NOT NULL", [ref]).fetchall()}


def latest_prediction_scores(con: duckdb.DuckDBPyConnection, arxiv_id: str, taxonomy_version: str) -> dict[str, float]:
    """Type scores of the latest real prediction made under a taxonomy version (to rank a split's options)."""
    import json

    row = con.execute(
        "SELECT type_scores FROM predictions WHERE arxiv_id = ? AND taxonomy_version = ? "
        "AND model_version NOT LIKE 'suggestion:%' ORDER BY created_at DESC LIMIT 1",
        [arxiv_id, taxonomy_version]).fetchone()
    if not row or row[0] is None:
        return {}
    val = json.loads(row[0]) if isinstance(row[0], str) else row[0]
    return {k: float(v) for k, v in val.items()}


def effective_with_version(con: duckdb.DuckDBPyConnection) -> list[tuple[str, list[str], str | None, str]]:
    """(arxiv_id, types, taxonomy_version, provenance) per paper: the curator label wins over the prediction.

    Unlike the effective_labels view this keeps the version each decision was made under, so trends
    can be drawn under either version through the mapping.
    """
    rows = con.execute(
        "WITH cp AS (SELECT * FROM predictions WHERE model_version NOT LIKE 'suggestion:%' "
        "QUALIFY row_number() OVER (PARTITION BY arxiv_id ORDER BY created_at DESC, model_version DESC) = 1) "
        "SELECT p.arxiv_id, "
        "coalesce(l.types, CASE WHEN cp.relevance = 'in_taxonomy' THEN cp.labels ELSE [cp.relevance] END), "
        "CASE WHEN l.arxiv_id IS NOT NULL THEN l.taxonomy_version ELSE cp.taxonomy_version END, "
        "CASE WHEN l.arxiv_id IS NOT NULL THEN 'curated' ELSE 'auto' END "
        "FROM papers p LEFT JOIN current_labels l USING (arxiv_id) LEFT JOIN cp USING (arxiv_id) "
        "WHERE l.arxiv_id IS NOT NULL OR cp.arxiv_id IS NOT NULL ORDER BY p.arxiv_id").fetchall()
    return [(r[0], list(r[1] or []), r[2], r[3]) for r in rows]
