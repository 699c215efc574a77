"""Papers and their versions: idempotent upserts that report what changed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from aisec_radar.records import Paper, normalise_space


@dataclass
class UpsertCounts:
    new: int = 0
    updated: int = 0  # a new version or changed metadata
    unchanged: int = 0
    text_changed: int = 0  # subset of updated whose title/abstract changed (their predictions go stale)

    def as_dict(self) -> dict[str, int]:
        return {"new": self.new, "updated": self.updated, "unchanged": self.unchanged,
                "text_changed": self.text_changed}


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _cross_list(paper: Paper, harvested: Iterable[str] | None) -> bool:
    if harvested is None:
        return paper.is_cross_list
    wanted = set(harvested)
    return bool(paper.primary_category) and paper.primary_category not in wanted


def upsert_papers(
    con: duckdb.DuckDBPyConnection, papers: Iterable[Paper], categories: Iterable[str] | None = None
) -> UpsertCounts:
    """Insert or update papers; re-sending the same record changes nothing and counts as unchanged.

    The caller owns the transaction, so a crawler page lands whole or not at all.
    """
    counts = UpsertCounts()
    cats = list(categories) if categories is not None else None
    now = _now()
    for p in papers:
        title = normalise_space(p.title)
        abstract = normalise_space(p.abstract)
        chash = p.content_hash
        row = con.execute(
            "SELECT latest_version, content_hash, title, categories, updated, authors, doi "
            "FROM papers WHERE arxiv_id = ?",
            [p.arxiv_id],
        ).fetchone()
        version = p.version or (max(v.version for v in p.versions) if p.versions else None)
        values = [version, title, abstract, list(p.authors), list(p.categories), p.primary_category,
                  _cross_list(p, cats), p.published, p.updated, p.doi, chash]
        if row is None:
            con.execute(
                "INSERT INTO papers (latest_version, title, abstract, authors, categories, "
                "primary_category, is_cross_list, published, updated, doi, content_hash, "
                "arxiv_id, first_seen, last_seen) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [*values, p.arxiv_id, now, now],
            )
            counts.new += 1
        else:
            old_version, old_hash, _old_title, old_cats, old_updated, old_authors, old_doi = row
            same = (
                (old_version == version or version is None)
                and old_hash == chash
                and list(old_cats or []) == list(p.categories)
                and old_updated == p.updated
                and list(old_authors or []) == list(p.authors)
                and old_doi == p.doi
            )
            if same:
                counts.unchanged += 1
            else:
                if version is None:
                    values[0] = old_version
                con.execute(
                    "UPDATE papers SET latest_version=?, title=?, abstract=?, authors=?, categories=?, "
                    "primary_category=?, is_cross_list=?, published=coalesce(?, published), updated=?, "
                    "doi=?, content_hash=?, last_seen=? WHERE arxiv_id=?",
                    [*values, now, p.arxiv_id],
                )
                counts.updated += 1
                if old_hash != chash:
                    counts.text_changed += 1
        _record_versions(con, p, title, chash, now)
    return counts


def _record_versions(con: duckdb.DuckDBPyConnection, p: Paper, title: str, chash: str, now: datetime) -> None:
    versions = list(p.versions)
    if p.version is not None and all(v.version != p.version for v in versions):
        from aisec_radar.records import PaperVersion

        versions.append(PaperVersion(version=p.version))
    latest = max((v.version for v in versions), default=None)
    for v in versions:
        # Text is known only for the latest version; older ones keep what was seen when they were latest.
        con.execute(
            "INSERT INTO paper_versions (arxiv_id, version, submitted, size, title, content_hash, seen_at) "
            "VALUES (?,?,?,?,?,?,?) ON CONFLICT (arxiv_id, version) DO UPDATE SET "
            "submitted = coalesce(excluded.submitted, paper_versions.submitted), "
            "size = coalesce(excluded.size, paper_versions.size)",
            [p.arxiv_id, v.version, v.submitted, v.size,
             title if v.version == latest else None, chash if v.version == latest else None, now],
        )


def paper_exists(con: duckdb.DuckDBPyConnection, arxiv_id: str) -> bool:
    return con.execute("SELECT 1 FROM papers WHERE arxiv_id = ?", [arxiv_id]).fetchone() is not None


def get_paper(con: duckdb.DuckDBPyConnection, arxiv_id: str) -> Paper | None:
    row = con.execute(
        "SELECT arxiv_id, title, abstract, authors, categories, primary_category, published, updated, "
        "latest_version, doi FROM papers WHERE arxiv_id = ?",
        [arxiv_id],
    ).fetchone()
    if row is None:
        return None
    return Paper(arxiv_id=row[0], title=row[1], abstract=row[2] or "", authors=list(row[3] or []),
                 categories=list(row[4] or []), primary_category=row[5], published=row[6],
                 updated=row[7], version=row[8], doi=row[9])


def get_versions(con: duckdb.DuckDBPyConnection, arxiv_id: str) -> list[tuple]:
    return con.execute(
        "SELECT version, submitted, size, title, seen_at FROM paper_versions WHERE arxiv_id = ? ORDER BY version",
        [arxiv_id],
    ).fetchall()
