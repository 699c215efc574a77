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


_PAPER_COLS = ("arxiv_id", "latest_version", "title", "abstract", "authors", "categories", "primary_category",
               "is_cross_list", "published", "updated", "doi", "content_hash", "first_seen", "last_seen")


def upsert_papers(
    con: duckdb.DuckDBPyConnection, papers: Iterable[Paper], categories: Iterable[str] | None = None
) -> UpsertCounts:
    """Insert or update papers; re-sending the same record changes nothing and counts as unchanged.

    The caller owns the transaction, so a crawler page lands whole or not at all. The batch is
    resolved in Python against one lookup of the existing rows and then written set-wise (one
    INSERT, one UPDATE, one versions upsert): a 2,500-record harvest page costs a few statements
    instead of thousands. Papers repeated within a batch are applied in order, as if one by one.
    """
    counts = UpsertCounts()
    cats = list(categories) if categories is not None else None
    now = _now()
    batch = list(papers)
    if not batch:
        return counts
    ids = list(dict.fromkeys(p.arxiv_id for p in batch))
    existing: dict[str, tuple] = {}
    for i in range(0, len(ids), 10000):
        chunk = ids[i: i + 10000]
        for row in con.execute(
            "SELECT arxiv_id, latest_version, content_hash, categories, updated, authors, doi, published "
            "FROM papers WHERE arxiv_id IN (SELECT unnest(?::VARCHAR[]))", [chunk],
        ).fetchall():
            existing[row[0]] = row[1:]
    # id -> final row values (a dict keyed by column); "inserted" ids were absent before the batch.
    rows: dict[str, dict] = {}
    inserted: set[str] = set()
    changed: set[str] = set()
    versions: dict[tuple[str, int], list] = {}
    for p in batch:
        title = normalise_space(p.title)
        abstract = normalise_space(p.abstract)
        chash = p.content_hash
        version = p.version or (max(v.version for v in p.versions) if p.versions else None)
        values = {"arxiv_id": p.arxiv_id, "latest_version": version, "title": title, "abstract": abstract,
                  "authors": list(p.authors), "categories": list(p.categories),
                  "primary_category": p.primary_category, "is_cross_list": _cross_list(p, cats),
                  "published": p.published, "updated": p.updated, "doi": p.doi, "content_hash": chash,
                  "last_seen": now}
        cur = rows.get(p.arxiv_id)
        if cur is None and p.arxiv_id in existing:
            old_version, old_hash, old_cats, old_updated, old_authors, old_doi, old_published = existing[p.arxiv_id]
            cur = {"latest_version": old_version, "content_hash": old_hash, "categories": list(old_cats or []),
                   "updated": old_updated, "authors": list(old_authors or []), "doi": old_doi,
                   "published": old_published}
        if cur is None:
            rows[p.arxiv_id] = {**values, "first_seen": now}
            inserted.add(p.arxiv_id)
            counts.new += 1
        else:
            same = (
                (cur["latest_version"] == version or version is None)
                and cur["content_hash"] == chash
                and list(cur["categories"] or []) == list(p.categories)
                and cur["updated"] == p.updated
                and list(cur["authors"] or []) == list(p.authors)
                and cur["doi"] == p.doi
            )
            if same:
                counts.unchanged += 1
                rows.setdefault(p.arxiv_id, cur)
            else:
                if version is None:
                    values["latest_version"] = cur["latest_version"]
                if values["published"] is None:
                    values["published"] = cur["published"]
                merged = {**cur, **values}
                rows[p.arxiv_id] = merged
                if p.arxiv_id not in inserted:
                    changed.add(p.arxiv_id)
                counts.updated += 1
                if cur["content_hash"] != chash:
                    counts.text_changed += 1
        _collect_versions(versions, p, title, chash, now)
    _write_papers(con, [rows[i] for i in ids if i in inserted], insert=True)
    _write_papers(con, [rows[i] for i in ids if i in changed], insert=False)
    _write_versions(con, list(versions.values()))
    return counts


def _collect_versions(acc: dict[tuple[str, int], list], p: Paper, title: str, chash: str, now: datetime) -> None:
    from aisec_radar.records import PaperVersion

    versions = list(p.versions)
    if p.version is not None and all(v.version != p.version for v in versions):
        versions.append(PaperVersion(version=p.version))
    latest = max((v.version for v in versions), default=None)
    for v in versions:
        # Text is known only for the latest version; older ones keep what was seen when they were latest.
        key = (p.arxiv_id, v.version)
        row = acc.get(key)
        if row is None:
            acc[key] = [p.arxiv_id, v.version, v.submitted, v.size, title if v.version == latest else None,
                        chash if v.version == latest else None, now]
        else:  # same semantics as a second INSERT ... ON CONFLICT in the same batch
            row[2] = v.submitted if v.submitted is not None else row[2]
            row[3] = v.size if v.size is not None else row[3]


def _arrow_papers(rows: list[dict]):  # noqa: ANN202 - pyarrow is imported lazily
    import pyarrow as pa

    schema = pa.schema([("arxiv_id", pa.string()), ("latest_version", pa.int32()), ("title", pa.string()),
                        ("abstract", pa.string()), ("authors", pa.list_(pa.string())),
                        ("categories", pa.list_(pa.string())), ("primary_category", pa.string()),
                        ("is_cross_list", pa.bool_()), ("published", pa.date32()), ("updated", pa.date32()),
                        ("doi", pa.string()), ("content_hash", pa.string()), ("first_seen", pa.timestamp("us")),
                        ("last_seen", pa.timestamp("us"))])
    return pa.table({c: [r.get(c) for r in rows] for c in _PAPER_COLS}, schema=schema)


def _write_papers(con: duckdb.DuckDBPyConnection, rows: list[dict], insert: bool) -> None:
    if not rows:
        return
    tbl = _arrow_papers(rows)  # noqa: F841 - read by DuckDB's replacement scan below
    con.register("_upsert_rows", tbl)
    try:
        if insert:
            cols = ", ".join(_PAPER_COLS)
            con.execute(f"INSERT INTO papers ({cols}) SELECT {cols} FROM _upsert_rows")
        else:
            # DuckDB rewrites list columns row by row on UPDATE (2,500 rows: seconds); moving the rows
            # out and back in with the new values is ~100x faster. `* REPLACE` keeps every other
            # column, including ones later migrations add, as it was.
            repl = ", ".join(f"u.{c} AS {c}" for c in _PAPER_COLS if c not in ("arxiv_id", "first_seen"))
            con.execute("CREATE OR REPLACE TEMP TABLE _upsert_old AS SELECT * FROM papers "
                        "WHERE arxiv_id IN (SELECT arxiv_id FROM _upsert_rows)")
            try:
                con.execute("DELETE FROM papers WHERE arxiv_id IN (SELECT arxiv_id FROM _upsert_rows)")
                con.execute(f"INSERT INTO papers SELECT o.* REPLACE ({repl}) FROM _upsert_old o "
                            "JOIN _upsert_rows u ON o.arxiv_id = u.arxiv_id")
            finally:
                con.execute("DROP TABLE IF EXISTS _upsert_old")
    finally:
        con.unregister("_upsert_rows")


def _write_versions(con: duckdb.DuckDBPyConnection, rows: list[list]) -> None:
    if not rows:
        return
    import pyarrow as pa

    schema = pa.schema([("arxiv_id", pa.string()), ("version", pa.int32()), ("submitted", pa.timestamp("us")),
                        ("size", pa.string()), ("title", pa.string()), ("content_hash", pa.string()),
                        ("seen_at", pa.timestamp("us"))])
    tbl = pa.table({f.name: [r[i] for r in rows] for i, f in enumerate(schema)}, schema=schema)
    con.register("_upsert_versions", tbl)
    try:
        con.execute(
            "INSERT INTO paper_versions (arxiv_id, version, submitted, size, title, content_hash, seen_at) "
            "SELECT arxiv_id, version, submitted, size, title, content_hash, seen_at FROM _upsert_versions "
            "ON CONFLICT (arxiv_id, version) DO UPDATE SET "
            "submitted = coalesce(excluded.submitted, paper_versions.submitted), "
            "size = coalesce(excluded.size, paper_versions.size)"
        )
    finally:
        con.unregister("_upsert_versions")


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
