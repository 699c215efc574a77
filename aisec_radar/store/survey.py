"""The survey's bibliography in the store: which papers it already cites.

An import replaces the whole set by default, because the .bib file is the truth: a reference the
authors removed must stop counting as cited.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb


@dataclass
class Citation:
    arxiv_id: str
    bibkey: str | None
    title: str | None
    matched_by: str  # eprint | url | doi | journal | title


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def store_citations(con: duckdb.DuckDBPyConnection, citations: Iterable[Citation], replace: bool = True) -> int:
    """Write the cited papers (the caller owns the transaction); return how many rows the table holds."""
    if replace:
        con.execute("DELETE FROM survey_citations")
    now = _now()
    for c in citations:
        con.execute(
            "INSERT INTO survey_citations (arxiv_id, bibkey, title, matched_by, imported_at) VALUES (?,?,?,?,?) "
            "ON CONFLICT (arxiv_id) DO UPDATE SET bibkey = excluded.bibkey, title = excluded.title, "
            "matched_by = excluded.matched_by, imported_at = excluded.imported_at",
            [c.arxiv_id, c.bibkey, c.title, c.matched_by, now],
        )
    return int(con.execute("SELECT count(*) FROM survey_citations").fetchone()[0])


def cited(con: duckdb.DuckDBPyConnection) -> dict[str, Citation]:
    rows = con.execute("SELECT arxiv_id, bibkey, title, matched_by FROM survey_citations").fetchall()
    return {r[0]: Citation(*r) for r in rows}


def paper_titles(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(arxiv_id, title) of every paper, for matching title-only references."""
    return [(r[0], r[1]) for r in con.execute("SELECT arxiv_id, title FROM papers").fetchall()]


def known_ids(con: duckdb.DuckDBPyConnection, ids: Iterable[str]) -> set[str]:
    wanted = list(set(ids))
    if not wanted:
        return set()
    rows = con.execute("SELECT arxiv_id FROM papers WHERE list_contains(?::VARCHAR[], arxiv_id)", [wanted]).fetchall()
    return {r[0] for r in rows}
