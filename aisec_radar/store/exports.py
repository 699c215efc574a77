"""Read queries behind the exports (BibTeX, CSV/Parquet, digest, Atom feed, survey delta).

Every export reads the same selection: papers joined with their *effective* label (curator wins
over the classifier, from the ``effective_labels`` view) and whether the survey already cites them.
Keeping that one query here means the files agree with each other and with the dashboard.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

# The date a paper "belongs to": its v1 submission date, else the day we first saw it (the corpus
# and some feeds lack `published`).
PAPER_DATE = "coalesce(p.published, CAST(p.first_seen AS DATE))"
# The view gives [NULL] for a paper with neither label nor prediction; exports want NULL there.
TYPES = "(CASE WHEN e.provenance = 'unclassified' THEN NULL ELSE e.types END)"


@dataclass
class PaperFilter:
    """What to export. ``types`` matches any of the ids (an axis is expanded to its types by the caller)."""

    types: Sequence[str] | None = None
    since: date | None = None  # inclusive
    until: date | None = None  # inclusive
    first_seen_since: datetime | None = None  # papers the store learnt about at or after this time
    curated_only: bool = False
    relevant_only: bool = False  # drop not_relevant and unclassified papers
    in_taxonomy_only: bool = False  # only papers carrying one of the taxonomy's types
    not_cited: bool = False  # drop papers the imported survey bibliography already cites
    limit: int | None = None


_SELECT = f"""
SELECT p.arxiv_id, p.title, p.abstract, p.authors, p.categories, p.primary_category,
       p.published, p.updated, p.first_seen, p.doi, p.latest_version,
       {PAPER_DATE} AS paper_date,
       {TYPES} AS types, e.role, e.modality, e.provenance, e.prediction_status, e.confidence,
       (sc.arxiv_id IS NOT NULL) AS cited
FROM papers p
JOIN effective_labels e USING (arxiv_id)
LEFT JOIN survey_citations sc USING (arxiv_id)
"""

COLUMNS = ("arxiv_id", "title", "abstract", "authors", "categories", "primary_category", "published",
           "updated", "first_seen", "doi", "latest_version", "paper_date", "types", "role", "modality",
           "provenance", "prediction_status", "confidence", "cited")

_OUT_OF_TAXONOMY = ["other_aisec", "not_relevant"]


def _where(f: PaperFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if f.types:
        clauses.append(f"list_has_any({TYPES}, ?::VARCHAR[])")
        params.append(list(f.types))
    if f.since is not None:
        clauses.append(f"{PAPER_DATE} >= ?")
        params.append(f.since)
    if f.until is not None:
        clauses.append(f"{PAPER_DATE} <= ?")
        params.append(f.until)
    if f.first_seen_since is not None:
        clauses.append("p.first_seen >= ?")
        params.append(f.first_seen_since)
    if f.curated_only:
        clauses.append("e.provenance = 'curated'")
    if f.relevant_only:
        clauses.append(f"{TYPES} IS NOT NULL AND NOT list_contains({TYPES}, 'not_relevant')")
    if f.in_taxonomy_only:
        clauses.append(f"len({TYPES}) > 0 AND NOT list_has_all(['other_aisec', 'not_relevant'], {TYPES})")
    if f.not_cited:
        clauses.append("sc.arxiv_id IS NULL")
    sql = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    return sql, params


def _query(f: PaperFilter) -> tuple[str, list[Any]]:
    where, params = _where(f)
    sql = _SELECT + where + " ORDER BY paper_date DESC, p.arxiv_id DESC"
    if f.limit is not None:
        sql += " LIMIT ?"
        params.append(int(f.limit))
    return sql, params


def select_papers(con: duckdb.DuckDBPyConnection, f: PaperFilter | None = None) -> list[dict[str, Any]]:
    """Papers with effective labels, newest first, as dicts keyed by COLUMNS."""
    sql, params = _query(f or PaperFilter())
    return [dict(zip(COLUMNS, row, strict=True)) for row in con.execute(sql, params).fetchall()]


def _literal(path: Path) -> str:
    """A file path as a SQL string literal (COPY takes no parameter for its target)."""
    return "'" + str(path).replace("'", "''") + "'"


def copy_papers(con: duckdb.DuckDBPyConnection, path: Path, fmt: str, f: PaperFilter | None = None) -> int:
    """Write the selection with DuckDB's COPY (csv or parquet); return the number of rows.

    CSV gets lists joined with ';' (spreadsheets have no list type); Parquet keeps real lists.
    The abstract is included: these files are for analysis, not for a bibliography.
    """
    f = f or PaperFilter()
    sql, params = _query(f)
    if fmt == "csv":
        cols = ", ".join(
            f"array_to_string({c}, ';') AS {c}" if c in ("authors", "categories", "types") else c
            for c in COLUMNS
        )
        inner = f"SELECT {cols} FROM ({sql})"
        options = "(FORMAT csv, HEADER)"
    elif fmt == "parquet":
        inner = sql
        options = "(FORMAT parquet)"
    else:
        raise ValueError(f"unknown export format {fmt!r}")
    con.execute(f"COPY ({inner}) TO {_literal(path)} {options}", params)
    count_sql = f"SELECT count(*) FROM ({sql})"
    return int(con.execute(count_sql, params).fetchone()[0])


def unclassified_count(con: duckdb.DuckDBPyConnection, first_seen_since: datetime | None = None) -> int:
    sql = "SELECT count(*) FROM effective_labels e JOIN papers p USING (arxiv_id) WHERE e.provenance = 'unclassified'"
    params: list[Any] = []
    if first_seen_since is not None:
        sql += " AND p.first_seen >= ?"
        params.append(first_seen_since)
    return int(con.execute(sql, params).fetchone()[0])


def count_papers(con: duckdb.DuckDBPyConnection, f: PaperFilter | None = None) -> int:
    where, params = _where(f or PaperFilter())
    return int(con.execute(f"SELECT count(*) FROM ({_SELECT}{where})", params).fetchone()[0])
