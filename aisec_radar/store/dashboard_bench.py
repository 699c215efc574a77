"""Bulk builders for the dashboard benchmark: a store of N papers from the corpus, in seconds.

The normal upsert path checks every paper one by one (right for crawling, ~10 ms a paper); a
100k-paper benchmark store needs set-based inserts. Copies of corpus papers get shifted ids
(``<id>.s<k>``) and dates shifted back k years, reusing the text (so the same content hash and
embedding); predictions, labels and embeddings are synthetic but deterministic (hash of the id).
Only bench/ uses this module.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import duckdb

from aisec_radar.records import Paper, normalise_space
from aisec_radar.store.queries import PAPER_DATE


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def bulk_insert_papers(con: duckdb.DuckDBPyConnection, papers: list[Paper], harvested: list[str]) -> int:
    """Insert papers not yet present in one statement (no versions rows); return the count inserted."""
    import pyarrow as pa

    now = _now()
    wanted = set(harvested)
    table = pa.table({
        "arxiv_id": [p.arxiv_id for p in papers],
        "latest_version": pa.array([p.version for p in papers], pa.int32()),
        "title": [normalise_space(p.title) for p in papers],
        "abstract": [normalise_space(p.abstract) for p in papers],
        "authors": pa.array([list(p.authors) for p in papers], pa.list_(pa.string())),
        "categories": pa.array([list(p.categories) for p in papers], pa.list_(pa.string())),
        "primary_category": [p.primary_category for p in papers],
        "is_cross_list": [bool(p.primary_category) and p.primary_category not in wanted for p in papers],
        "published": pa.array([p.published for p in papers], pa.date32()),
        "updated": pa.array([p.updated for p in papers], pa.date32()),
        "content_hash": [p.content_hash for p in papers],
    })
    before = con.execute("SELECT count(*) FROM papers").fetchall()[0][0]
    con.register("_bench_papers", table)
    try:
        con.execute(
            "INSERT INTO papers (arxiv_id, latest_version, title, abstract, authors, categories, primary_category, "
            "is_cross_list, published, updated, doi, content_hash, first_seen, last_seen) "
            "SELECT arxiv_id, latest_version, title, abstract, authors, categories, primary_category, is_cross_list, "
            "published, updated, NULL, content_hash, ?, ? FROM _bench_papers ON CONFLICT DO NOTHING", [now, now])
    finally:
        con.unregister("_bench_papers")
    return int(con.execute("SELECT count(*) FROM papers").fetchall()[0][0] - before)


def replicate_papers(con: duckdb.DuckDBPyConnection, target: int) -> int:
    """Add shifted copies of the original papers until the store holds ``target`` papers."""
    now = _now()
    k = 0
    while True:
        have = int(con.execute("SELECT count(*) FROM papers").fetchall()[0][0])
        if have >= target:
            return have
        k += 1
        con.execute(
            "INSERT INTO papers (arxiv_id, latest_version, title, abstract, authors, categories, primary_category, "
            "is_cross_list, published, updated, doi, content_hash, first_seen, last_seen) "
            f"SELECT p.arxiv_id || '.s{k}', p.latest_version, p.title, p.abstract, p.authors, p.categories, "
            f"p.primary_category, p.is_cross_list, CAST({PAPER_DATE} - INTERVAL ({k}) YEAR AS DATE), NULL, NULL, "
            "p.content_hash, ?, ? FROM papers p WHERE NOT contains(p.arxiv_id, '.s') ORDER BY p.arxiv_id LIMIT ?",
            [now, now, target - have])


def synthetic_predictions(con: duckdb.DuckDBPyConnection, model_version: str, taxonomy_version: str,
                          type_ids: list[str], roles: list[str], modalities: list[str]) -> int:
    """One prediction per paper: 65% not_relevant, 15% other_aisec, 20% one type; 8% need review."""
    con.execute(
        "INSERT INTO predictions (arxiv_id, model_version, taxonomy_version, relevance, type_scores, labels, role, "
        "modality, confidence, status, review_priority, explanation, content_hash, created_at) "
        "SELECT arxiv_id, ?, ?, rel, CASE WHEN rel = 'in_taxonomy' THEN json_object(t, 0.8) ELSE '{}' END, "
        "CASE WHEN rel = 'in_taxonomy' THEN [t] ELSE [] END, "
        "CASE WHEN rel <> 'not_relevant' THEN r END, CASE WHEN rel <> 'not_relevant' THEN m END, "
        "0.4 + (h % 600) / 1000.0, CASE WHEN h % 100 < 8 THEN 'needs_review' ELSE 'auto' END, "
        "(h % 1000) / 1000.0, '{}', content_hash, ? FROM ("
        "  SELECT arxiv_id, content_hash, h, "
        "  CASE WHEN h % 97 < 63 THEN 'not_relevant' WHEN h % 97 < 78 THEN 'other_aisec' ELSE 'in_taxonomy' END AS rel,"
        "  list_extract(?::VARCHAR[], 1 + CAST((h // 7) % ? AS INTEGER)) AS t, "
        "  list_extract(?::VARCHAR[], 1 + CAST((h // 11) % ? AS INTEGER)) AS r, "
        "  list_extract(?::VARCHAR[], 1 + CAST((h // 13) % ? AS INTEGER)) AS m "
        "  FROM (SELECT arxiv_id, content_hash, hash(arxiv_id) AS h FROM papers))",
        [model_version, taxonomy_version, _now(), type_ids, len(type_ids), roles, len(roles), modalities,
         len(modalities)])
    return int(con.execute("SELECT count(*) FROM predictions").fetchall()[0][0])


def synthetic_labels(con: duckdb.DuckDBPyConnection, every: int, taxonomy_version: str) -> int:
    """A curator label on one paper in ``every`` among the predicted ones (2 in 3 agree with the prediction)."""
    con.execute(
        "INSERT INTO labels (arxiv_id, types, role, modality, curator, note, source, taxonomy_version, created_at) "
        "SELECT arxiv_id, CASE WHEN h % 3 = 0 THEN ['poisoning'] "
        "WHEN relevance = 'in_taxonomy' THEN labels ELSE [relevance] END, role, modality, 'bench', NULL, 'bench', "
        "?, ? FROM (SELECT *, hash(arxiv_id || 'label') AS h FROM predictions) WHERE h % ? = 0",
        [taxonomy_version, _now(), every])
    return int(con.execute("SELECT count(*) FROM labels").fetchall()[0][0])


def synthetic_embeddings(con: duckdb.DuckDBPyConnection, model: str, dim: int) -> int:
    """A random vector per distinct text (semantic-search timing does not depend on the values)."""
    con.execute(
        "INSERT INTO embeddings (content_hash, model, vector) SELECT content_hash, ?, "
        f"CAST(list_transform(range({int(dim)}), lambda x: random() - 0.5) AS FLOAT[]) "
        "FROM (SELECT DISTINCT content_hash FROM papers) ON CONFLICT DO NOTHING", [model])
    return int(con.execute("SELECT count(*) FROM embeddings WHERE model = ?", [model]).fetchall()[0][0])


def refresh_facts(con: duckdb.DuckDBPyConnection) -> None:
    """What the nightly job does after classify: the pre-aggregated facts the dashboard reads at scale."""
    try:
        from aisec_radar.store import aggregates
    except ImportError:
        return
    aggregates.refresh_aggregates(con)


def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    return {t: int(con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0])
            for t in ("papers", "predictions", "labels", "embeddings")}
