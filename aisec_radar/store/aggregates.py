"""Pre-computed facts for the dashboard at scale, and an IVF layout for semantic search.

Why: at 1M papers the live views cost seconds per query. ``effective_labels`` re-derives the latest
prediction per paper with a window over every prediction, and the paper date is a regexp over every
id. ``paper_facts`` (migration 007) holds both per paper, refreshed by the nightly job after classify
(``refresh_aggregates``). Curator labels stay live (``current_labels`` is small and joined at query
time), so a label saved in the dashboard shows at once.

Readers call the functions here with the same arguments as ``store.queries``; each checks that the
facts match the live tables (a cheap fingerprint) and otherwise delegates to ``store.queries``, so
a stale or missing refresh costs speed, never correctness. The WHERE clause is ``queries._where``
itself, rewritten onto the facts relation, so both paths filter alike.

Semantic search: vectors are grouped under k centroids (spherical k-means on a sample, k ~ n/4000);
a query scores the centroids, then only the vectors of the ``nprobe`` nearest clusters (rows stored
in cluster order, so DuckDB's zone maps skip the rest). Below IVF_MIN vectors, or while the layout
lags the embeddings table, search is exact (``queries.semantic_search``).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from datetime import UTC, datetime
from typing import Any

import duckdb

from aisec_radar.store import queries
from aisec_radar.store.queries import SORTS, Filters

log = logging.getLogger(__name__)

FACTS = "paper_facts"
IVF_MIN = 50_000  # below this many vectors exact search is fast enough (~0.1-0.2 s per 100k)
NPROBE = 16
SAMPLE = 25_000  # vectors k-means trains on


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# ------------------------------------------------------------------------------------------ freshness

def facts_fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    """What paper_facts depends on: paper rows and their last change, prediction rows and their last write."""
    row = con.execute(
        "SELECT (SELECT count(*) FROM papers), (SELECT max(last_seen) FROM papers), "
        "(SELECT count(*) FROM predictions), (SELECT max(created_at) FROM predictions)"
    ).fetchone()
    return hashlib.sha256(repr(row).encode()).hexdigest()[:24]


def _has_tables(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables "
                            "WHERE table_name = 'aggregate_state'").fetchone()[0])


def facts_fresh(con: duckdb.DuckDBPyConnection) -> bool:
    """True when paper_facts was built from exactly the papers and predictions in the store now."""
    if not _has_tables(con):
        return False
    row = con.execute("SELECT fingerprint FROM aggregate_state WHERE name = ?", [FACTS]).fetchone()
    return row is not None and row[0] == facts_fingerprint(con)


def _set_state(con: duckdb.DuckDBPyConnection, name: str, fingerprint: str, rows: int, seconds: float) -> None:
    con.execute(
        "INSERT INTO aggregate_state (name, fingerprint, refreshed_at, row_count, seconds) VALUES (?,?,?,?,?) "
        "ON CONFLICT (name) DO UPDATE SET fingerprint = excluded.fingerprint, "
        "refreshed_at = excluded.refreshed_at, row_count = excluded.row_count, seconds = excluded.seconds",
        [name, fingerprint, _now(), rows, seconds],
    )


# ------------------------------------------------------------------------------------------ refresh

def refresh_facts(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Rebuild paper_facts from papers + current_predictions. The caller owns the transaction."""
    t0 = time.perf_counter()
    # A derived table, rebuilt whole: CREATE OR REPLACE defines its columns (migration 007 made the first,
    # empty one). Rows in date order, so a date window reads only its row groups (zone maps on d); the
    # title and abstract ride along so a keyword search in a window scans only that window's text.
    con.execute(
        "CREATE OR REPLACE TABLE paper_facts AS SELECT p.arxiv_id, d, CAST(date_trunc('month', d) AS DATE) AS month, "
        "p.primary_category, p.categories, p.is_cross_list, p.content_hash, "
        "cp.arxiv_id IS NOT NULL AS has_prediction, "
        "CASE WHEN cp.arxiv_id IS NULL THEN NULL WHEN cp.relevance = 'in_taxonomy' THEN cp.labels "
        "ELSE [cp.relevance] END AS pred_types, cp.relevance AS pred_relevance, cp.role AS pred_role, "
        "cp.modality AS pred_modality, cp.status AS pred_status, cp.confidence AS pred_confidence, "
        "cp.review_priority AS pred_review_priority, cp.model_version AS pred_model_version, "
        "cp.created_at AS pred_created_at, p.title, p.abstract "
        f"FROM (SELECT *, {queries.PAPER_DATE} AS d FROM papers p) p "
        "LEFT JOIN current_predictions cp USING (arxiv_id) ORDER BY d, p.arxiv_id"
    )
    rows = int(con.execute("SELECT count(*) FROM paper_facts").fetchone()[0])
    secs = time.perf_counter() - t0
    _set_state(con, FACTS, facts_fingerprint(con), rows, secs)
    return {"paper_facts_rows": rows, "paper_facts_s": round(secs, 2)}


def refresh_aggregates(con: duckdb.DuckDBPyConnection, models: list[str] | None = None) -> dict[str, Any]:
    """What the nightly job calls after classify: facts, then the IVF layout of each embedding model.

    The caller owns the transaction (``with store.transaction(path) as con``).
    """
    out = refresh_facts(con)
    for model in models if models is not None else [r[0] for r in con.execute(
            "SELECT DISTINCT model FROM embeddings").fetchall()]:
        out.update(refresh_ivf(con, model))
    return out


def refresh(path: str, models: list[str] | None = None, timeout: float = 60.0) -> dict[str, Any]:
    """refresh_aggregates in one write transaction on the database at `path`.

    A DuckDB failure becomes a StoreError naming the file (the transaction rolls back whole, and
    readers keep answering live from the views).
    """
    from aisec_radar.errors import StoreError
    from aisec_radar.store import transaction

    try:
        with transaction(path, timeout=timeout) as con:
            return refresh_aggregates(con, models)
    except duckdb.Error as exc:
        raise StoreError(f"refreshing the dashboard aggregates in {path} failed: {exc}") from exc


# ------------------------------------------------------------------------------------------ facts reads

def _x() -> str:
    """The facts relation under the column names queries._where expects (p.* and e.* both become x.*)."""
    return (
        "x AS (SELECT f.arxiv_id, f.d AS published, f.d, f.month, f.primary_category, f.categories, "
        "f.is_cross_list, f.content_hash, coalesce(l.types, f.pred_types) AS types, "
        "coalesce(l.role, f.pred_role) AS role, coalesce(l.modality, f.pred_modality) AS modality, "
        "CASE WHEN l.arxiv_id IS NOT NULL THEN 'curated' WHEN f.has_prediction THEN 'auto' "
        "ELSE 'unclassified' END AS provenance, f.pred_status AS prediction_status, "
        "f.pred_confidence AS confidence, f.title, f.abstract "
        "FROM paper_facts f LEFT JOIN current_labels l USING (arxiv_id))"
    )


_ALIAS = re.compile(r"\b[pe]\.")


def _onto_x(sql: str) -> str:
    return _ALIAS.sub("x.", sql)


def _where(f: Filters, labels: bool = True) -> tuple[str, list[Any]]:
    """queries._where on x; its date expression becomes the stored x.d (equal by construction), which
    DuckDB can prune row groups on."""
    where, params = queries._where(f, labels)
    return _onto_x(where).replace(_onto_x(queries.PAPER_DATE), "x.d"), params


def _keyword(keyword: str) -> tuple[str, list[Any]]:
    """queries._keyword's rule (every term, case-insensitive, in title or abstract) as RE2 searches:
    about twice as fast as ILIKE on abstracts."""
    terms = [t for t in (keyword or "").split() if t]
    if not terms:
        return "TRUE", []
    conds, params = [], []
    for t in terms:
        conds.append("(regexp_matches(x.title, ?) OR regexp_matches(x.abstract, ?))")
        pat = "(?is)" + re.escape(t)
        params += [pat, pat]
    return " AND ".join(conds), params


def _period(period: str) -> str:
    if period not in queries.PERIODS:
        raise ValueError(f"period {period!r}; valid: {', '.join(queries.PERIODS)}")
    return "x.month" if period == "month" else f"CAST(date_trunc('{period}', x.d) AS DATE)"


def overview(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """As queries.overview; the first/last paper dates come from paper_facts.d (no regexp over ids)."""
    if not facts_fresh(con):
        return queries.overview(con)
    row = con.execute(
        "SELECT (SELECT count(*) FROM papers), (SELECT count(*) FROM predictions), "
        "(SELECT count(DISTINCT arxiv_id) FROM labels), (SELECT min(d) FROM paper_facts), "
        "(SELECT max(d) FROM paper_facts), (SELECT count(*) FROM survey_citations)"
    ).fetchone()
    return {"papers": int(row[0]), "predictions": int(row[1]), "labelled_papers": int(row[2]),
            "first_date": row[3], "last_date": row[4], "survey_citations": int(row[5])}


def period_totals(con: duckdb.DuckDBPyConnection, f: Filters, period: str):
    """As queries.period_totals, from paper_facts when fresh."""
    if not facts_fresh(con):
        return queries.period_totals(con, f, period)
    where, params = _where(f, labels=False)
    return con.execute(
        f"SELECT {_period(period)} AS period, count(*) AS papers FROM (SELECT *, d AS published FROM paper_facts) x "
        f"WHERE {where} AND x.d IS NOT NULL GROUP BY ALL ORDER BY period",
        params,
    ).df()


def count_papers(con: duckdb.DuckDBPyConnection, f: Filters, keyword: str = "") -> int:
    """As queries.count_papers, from paper_facts when fresh."""
    if not facts_fresh(con):
        return queries.count_papers(con, f, keyword)
    where, params = _where(f)
    kw, kw_params = _keyword(keyword)
    return int(con.execute(f"WITH {_x()} SELECT count(*) FROM x WHERE {where} AND {kw}",
                           [*params, *kw_params]).fetchone()[0])


def trend_type_counts(con: duckdb.DuckDBPyConnection, f: Filters, period: str, type_ids: list[str]):
    """As queries.trend_type_counts, from paper_facts when fresh."""
    if not facts_fresh(con):
        return queries.trend_type_counts(con, f, period, type_ids)
    where, params = _where(f)
    return con.execute(
        f"WITH {_x()} SELECT {_period(period)} AS period, t AS type, count(*) AS papers "
        f"FROM (SELECT x.*, unnest(x.types) AS t FROM x WHERE {where}) x "
        "WHERE list_contains(?::VARCHAR[], t) AND x.d IS NOT NULL GROUP BY ALL ORDER BY period, type",
        [*params, list(type_ids)],
    ).df()


def trend_axis_counts(con: duckdb.DuckDBPyConnection, f: Filters, period: str, axis_map: dict[str, str]):
    """As queries.trend_axis_counts, from paper_facts when fresh."""
    if not facts_fresh(con):
        return queries.trend_axis_counts(con, f, period, axis_map)
    where, params = _where(f)
    types, axes = list(axis_map), [axis_map[t] for t in axis_map]
    return con.execute(
        f"WITH m AS (SELECT unnest(?::VARCHAR[]) AS type, unnest(?::VARCHAR[]) AS axis), {_x()}, "
        f"y AS (SELECT x.arxiv_id, {_period(period)} AS period, unnest(x.types) AS t FROM x "
        f"WHERE {where} AND x.d IS NOT NULL) "
        "SELECT period, m.axis, count(DISTINCT y.arxiv_id) AS papers FROM y JOIN m ON m.type = y.t "
        "GROUP BY ALL ORDER BY period, axis",
        [types, axes, *params],
    ).df()


_LIST = ("x.arxiv_id, x.title, x.d, x.primary_category, x.is_cross_list, x.types, x.role, x.modality, x.provenance, "
         "x.confidence, x.prediction_status")


def search_papers(con: duckdb.DuckDBPyConnection, f: Filters, keyword: str = "", sort: str = "newest",
                  limit: int = 200, offset: int = 0):
    """As queries.search_papers: the page of rows is chosen on the facts, titles joined for that page only."""
    if not facts_fresh(con):
        return queries.search_papers(con, f, keyword, sort, limit, offset)
    if sort not in SORTS:
        raise ValueError(f"sort {sort!r}; valid: {', '.join(SORTS)}")
    where, params = _where(f)
    kw, kw_params = _keyword(keyword)
    return con.execute(
        f"WITH {_x()} SELECT x.arxiv_id, x.title, x.d, x.primary_category, x.is_cross_list, "
        "array_to_string(x.types, ', ') AS types, x.role, x.modality, x.provenance, x.confidence, "
        "x.prediction_status AS status, x.arxiv_id IN (SELECT arxiv_id FROM survey_citations) AS cited "
        f"FROM x WHERE {where} AND {kw} ORDER BY {SORTS[sort]} LIMIT ? OFFSET ?",
        [*params, *kw_params, limit, offset],
    ).df()


def type_summary(con: duckdb.DuckDBPyConnection, label_ids: list[str]):
    """As queries.type_summary, from paper_facts when fresh: papers are grouped by their (few distinct)
    type lists before unnesting, so the work is one grouping pass over the facts."""
    if not facts_fresh(con):
        return queries.type_summary(con, label_ids)
    return con.execute(
        "WITH cl AS (SELECT arxiv_id, types FROM current_labels), "
        "g AS (SELECT f.pred_types AS types, 'auto' AS provenance, count(*) AS n FROM paper_facts f "
        "WHERE f.has_prediction AND f.arxiv_id NOT IN (SELECT arxiv_id FROM cl) GROUP BY ALL "
        "UNION ALL SELECT l.types, 'curated', count(*) FROM cl l JOIN paper_facts f USING (arxiv_id) GROUP BY ALL), "
        "y AS (SELECT unnest(types) AS type, provenance, n FROM g WHERE types IS NOT NULL) "
        "SELECT type, CAST(sum(n) AS BIGINT) AS papers, "
        "CAST(coalesce(sum(n) FILTER (WHERE provenance = 'curated'), 0) AS BIGINT) AS curated, "
        "CAST(coalesce(sum(n) FILTER (WHERE provenance = 'auto'), 0) AS BIGINT) AS auto "
        "FROM y WHERE list_contains(?::VARCHAR[], type) GROUP BY type ORDER BY papers DESC, type",
        [list(label_ids)],
    ).df()


# The classifier's latest prediction for labelled papers only: the same rows as
# queries._CLASSIFIER_CURRENT joined to current_labels, but the window runs over the ~1% of
# predictions whose paper has a label instead of over all of them. Needs no facts.
_LABELLED_CLASSIFIER_CURRENT = (
    "SELECT * FROM predictions WHERE NOT starts_with(model_version, 'suggestion:') "
    "AND arxiv_id IN (SELECT DISTINCT arxiv_id FROM labels) "
    "QUALIFY row_number() OVER (PARTITION BY arxiv_id ORDER BY created_at DESC, model_version DESC) = 1"
)


def agreement(con: duckdb.DuckDBPyConnection, label_ids: list[str]):
    """As queries.agreement (classifier vs curators per label id), windowing only labelled papers' predictions."""
    return queries.agreement(con, label_ids, current_sql=_LABELLED_CLASSIFIER_CURRENT)


def reviewed_pairs(con: duckdb.DuckDBPyConnection) -> int:
    """As queries.reviewed_pairs, windowing only labelled papers' predictions."""
    return queries.reviewed_pairs(con, current_sql=_LABELLED_CLASSIFIER_CURRENT)


_QUEUE = (
    "FROM paper_facts f WHERE f.pred_status = 'needs_review' AND NOT EXISTS (SELECT 1 FROM labels l "
    "WHERE l.arxiv_id = f.arxiv_id AND (NOT starts_with(f.pred_model_version, 'suggestion:') "
    "OR l.created_at >= f.pred_created_at))"
)


def review_remaining(con: duckdb.DuckDBPyConnection) -> int:
    """As queries.review_remaining, from paper_facts when fresh."""
    if not facts_fresh(con):
        return queries.review_remaining(con)
    return int(con.execute(f"SELECT count(*) {_QUEUE}").fetchone()[0])


def review_queue(con: duckdb.DuckDBPyConnection, limit: int = 20, exclude: tuple[str, ...] = ()) -> list[dict]:
    """As queries.review_queue: the next papers picked on paper_facts, their texts and scores joined after."""
    if not facts_fresh(con):
        return queries.review_queue(con, limit, exclude)
    rows = con.execute(
        f"WITH top AS (SELECT f.arxiv_id, f.d, f.pred_model_version, f.pred_created_at, f.pred_review_priority "
        f"{_QUEUE} AND NOT list_contains(?::VARCHAR[], f.arxiv_id) "
        "ORDER BY f.pred_review_priority DESC NULLS LAST, f.arxiv_id DESC LIMIT ?) "
        "SELECT top.arxiv_id, p.title, p.abstract, top.d, p.primary_category, cp.relevance, cp.labels, cp.role, "
        "cp.modality, cp.confidence, cp.review_priority, cp.type_scores, cp.explanation FROM top "
        "JOIN papers p USING (arxiv_id) JOIN predictions cp ON cp.arxiv_id = top.arxiv_id "
        "AND cp.model_version = top.pred_model_version AND cp.created_at = top.pred_created_at "
        "ORDER BY top.pred_review_priority DESC NULLS LAST, top.arxiv_id DESC",
        [list(exclude), limit],
    ).fetchall()
    return queries.queue_rows(rows)


# ------------------------------------------------------------------------------------------ IVF

def _kmeans(x: Any, k: int, iters: int = 8, seed: int = 0) -> Any:
    """Spherical k-means on unit rows (cosine): a few Lloyd rounds are enough for a coarse quantiser."""
    import numpy as np

    rng = np.random.default_rng(seed)
    c = x[rng.choice(len(x), size=k, replace=False)].copy()
    for _ in range(iters):
        assign = np.argmax(x @ c.T, axis=1)
        for j in range(k):
            members = x[assign == j]
            c[j] = members.mean(axis=0) if len(members) else x[rng.integers(len(x))]
        c /= np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-12)
    return c


def _ivf_fingerprint(con: duckdb.DuckDBPyConnection, model: str) -> int:
    return int(con.execute("SELECT count(*) FROM embeddings WHERE model = ?", [model]).fetchone()[0])


def refresh_ivf(con: duckdb.DuckDBPyConnection, model: str, chunk: int = 50_000) -> dict[str, Any]:
    """Bring the IVF layout of `model` up to date: add new vectors under the existing centroids, or
    retrain and rebuild when there are none yet or the table has more than doubled since. The caller
    owns the transaction."""
    import numpy as np
    import pyarrow as pa

    t0 = time.perf_counter()
    name = f"ivf:{model}"
    n = _ivf_fingerprint(con, model)
    have = int(con.execute("SELECT count(*) FROM embedding_ivf WHERE model = ?", [model]).fetchone()[0])
    k_have = int(con.execute("SELECT count(*) FROM embedding_centroids WHERE model = ?", [model]).fetchone()[0])
    if n < IVF_MIN:
        con.execute("DELETE FROM embedding_ivf WHERE model = ?", [model])
        con.execute("DELETE FROM embedding_centroids WHERE model = ?", [model])
        con.execute("DELETE FROM aggregate_state WHERE name = ?", [name])
        return {f"ivf[{model}]": "exact search (few vectors)"}
    rebuild = k_have == 0 or n > 2 * max(have, 1)
    if rebuild:
        sample = con.execute(
            f"SELECT vector FROM embeddings WHERE model = ? USING SAMPLE {min(SAMPLE, n)} ROWS", [model]
        ).to_arrow_table().column(0).combine_chunks()
        x = sample.values.to_numpy(zero_copy_only=False).astype(np.float32).reshape(len(sample), -1)
        k = int(min(1024, max(16, n // 4000)))
        cents = _kmeans(x, k)
        con.execute("DELETE FROM embedding_centroids WHERE model = ?", [model])
        con.execute("DELETE FROM embedding_ivf WHERE model = ?", [model])
        con.executemany("INSERT INTO embedding_centroids (model, cluster, centroid) VALUES (?, ?, ?)",
                        [[model, j, cents[j].tolist()] for j in range(k)])
        todo = "SELECT e.content_hash, e.vector FROM embeddings e WHERE e.model = ?"
    else:
        rows = con.execute("SELECT centroid FROM embedding_centroids WHERE model = ? ORDER BY cluster",
                           [model]).fetchall()
        cents = np.asarray([r[0] for r in rows], dtype=np.float32)
        todo = ("SELECT e.content_hash, e.vector FROM embeddings e WHERE e.model = ? AND NOT EXISTS "
                "(SELECT 1 FROM embedding_ivf i WHERE i.model = e.model AND i.content_hash = e.content_hash)")
    con.execute("CREATE OR REPLACE TEMP TABLE _ivf_new (cluster INTEGER, content_hash VARCHAR, vector FLOAT[])")
    # Page by rowid: one open result per connection, and the caller's transaction must see its own writes.
    top = int(con.execute("SELECT coalesce(max(rowid), -1) FROM embeddings").fetchone()[0])
    added = 0
    for lo in range(0, top + 1, chunk):
        batch = con.execute(todo + " AND e.rowid >= ? AND e.rowid < ?", [model, lo, lo + chunk]).to_arrow_table()
        if batch.num_rows == 0:
            continue
        vecs = batch.column(1).combine_chunks()
        mat = vecs.values.to_numpy(zero_copy_only=False).astype(np.float32).reshape(len(vecs), -1)
        cl = np.argmax(mat @ cents.T, axis=1).astype(np.int32)
        part = pa.table({"cluster": pa.array(cl), "content_hash": batch.column(0), "vector": vecs})
        con.register("_ivf_part", part)
        con.execute("INSERT INTO _ivf_new SELECT cluster, content_hash, vector FROM _ivf_part")
        con.unregister("_ivf_part")
        added += len(vecs)
    con.execute("INSERT INTO embedding_ivf SELECT ?, cluster, content_hash, vector FROM _ivf_new ORDER BY cluster",
                [model])
    con.execute("DROP TABLE _ivf_new")
    secs = time.perf_counter() - t0
    _set_state(con, name, str(n), have + added if not rebuild else added, secs)
    return {f"ivf[{model}]": {"vectors": n, "added": added, "rebuilt": rebuild, "clusters": len(cents),
                              "seconds": round(secs, 1)}}


def ivf_ready(con: duckdb.DuckDBPyConnection, model: str) -> bool:
    """True when every stored vector of `model` is in the IVF layout."""
    if not _has_tables(con):
        return False
    row = con.execute("SELECT fingerprint FROM aggregate_state WHERE name = ?", [f"ivf:{model}"]).fetchone()
    return row is not None and row[0] == str(_ivf_fingerprint(con, model))


def semantic_search(con: duckdb.DuckDBPyConnection, f: Filters, vector: list[float], model: str, limit: int = 50,
                    nprobe: int = NPROBE):
    """As queries.semantic_search, but scoring only the vectors of the `nprobe` nearest clusters.

    Falls back to the exact query when the layout is missing or stale, or when the probed clusters
    hold fewer than `limit` papers that pass the filters.
    """
    if not (ivf_ready(con, model) and facts_fresh(con)):
        return queries.semantic_search(con, f, vector, model, limit)
    vec = [float(v) for v in vector]
    clusters = [r[0] for r in con.execute(
        "SELECT cluster FROM embedding_centroids WHERE model = ? "
        "ORDER BY list_inner_product(centroid, ?::FLOAT[]) DESC LIMIT ?", [model, vec, nprobe]).fetchall()]
    # One equality scan per cluster: DuckDB prunes row groups on `cluster = c` (zone maps) but treats
    # `cluster IN (...)` as an optional filter and reads every row group.
    probes = " UNION ALL ".join(
        "SELECT content_hash, list_cosine_similarity(vector, q.v) AS similarity FROM embedding_ivf, q "
        f"WHERE model = $model AND cluster = {int(c)}" for c in clusters)
    where, params = _where(f)
    df = con.execute(
        f"WITH q AS (SELECT ?::FLOAT[] AS v), sim AS ({probes.replace('$model', '?')}), {_x()}, "
        f"top AS (SELECT {_LIST}, sim.similarity FROM x JOIN sim USING (content_hash) WHERE {where} "
        "ORDER BY sim.similarity DESC NULLS LAST, x.arxiv_id LIMIT ?) "
        "SELECT top.arxiv_id, top.title, top.d, top.primary_category, top.is_cross_list, "
        "array_to_string(top.types, ', ') AS types, top.role, top.modality, top.provenance, top.confidence, "
        "top.prediction_status AS status, top.arxiv_id IN (SELECT arxiv_id FROM survey_citations) AS cited, "
        "top.similarity FROM top ORDER BY top.similarity DESC NULLS LAST, top.arxiv_id",
        [vec, *([model] * len(clusters)), *params, limit],
    ).df()
    if len(df) < limit:
        return queries.semantic_search(con, f, vector, model, limit)
    return df
