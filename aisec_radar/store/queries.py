"""Read queries behind the dashboard: every SQL statement the pages run lives here.

Each function takes an open (short-lived, read-only) connection plus plain arguments and returns a
pandas DataFrame or plain Python values, so the Streamlit layer only draws. Filters are one frozen
dataclass, turned into one WHERE clause in one place, so Trends, Papers and the counts they show
always agree on what "filtered" means.

Dates: many harvested records carry no ``published`` date; the arXiv id's yymm then gives the month
(``2401.01234`` -> 2024-01-01), which is what arXiv itself uses to order its listings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb

# The paper's date: published if known, else the month encoded in a new-style id, else NULL.
PAPER_DATE = (
    "coalesce(p.published, CASE WHEN regexp_matches(p.arxiv_id, '^[0-9]{4}\\.[0-9]{4,5}$') "
    "THEN make_date(2000 + CAST(substr(p.arxiv_id, 1, 2) AS INTEGER), "
    "CAST(substr(p.arxiv_id, 3, 2) AS INTEGER), 1) END)"
)

PERIODS = ("month", "week")
LISTINGS = ("all", "primary", "cross")
PROVENANCES = ("all", "curated", "auto")
SURVEY = ("all", "cited", "not_cited")
SCOPES = ("all", "aisec", "taxonomy")
SORTS = {
    "newest": "d DESC NULLS LAST, arxiv_id DESC",
    "oldest": "d ASC NULLS LAST, arxiv_id",
    "confidence": "confidence DESC NULLS LAST, arxiv_id DESC",
    "least confident": "confidence ASC NULLS LAST, arxiv_id DESC",
    "title": "title, arxiv_id",
}


@dataclass(frozen=True)
class Filters:
    """What the sidebar selects. Empty tuples mean "no restriction"."""

    date_from: date | None = None
    date_to: date | None = None
    listing: str = "all"  # all | primary (primary category harvested) | cross (cross-listed in)
    categories: tuple[str, ...] = ()  # paper lists any of these categories
    roles: tuple[str, ...] = ()
    modalities: tuple[str, ...] = ()
    provenance: str = "all"  # all | curated | auto
    survey: str = "all"  # all | cited | not_cited (by the survey's bibliography)
    types: tuple[str, ...] = ()  # effective types include any of these
    scope: str = "all"  # all | aisec (in taxonomy or other_aisec) | taxonomy (one of the types)
    taxonomy_types: tuple[str, ...] = ()  # the type ids, for scope=taxonomy

    def __post_init__(self) -> None:
        for name, value, valid in (("listing", self.listing, LISTINGS), ("provenance", self.provenance, PROVENANCES),
                                   ("survey", self.survey, SURVEY), ("scope", self.scope, SCOPES)):
            if value not in valid:
                raise ValueError(f"filter {name}={value!r}; valid: {', '.join(valid)}")


def _where(f: Filters, labels: bool = True) -> tuple[str, list[Any]]:
    """The WHERE clause for ``papers p JOIN effective_labels e``; ``labels=False`` keeps only paper filters.

    The paper-only form is the denominator of the share charts: every crawled paper in the window.
    """
    conds: list[str] = ["TRUE"]
    params: list[Any] = []
    if f.date_from is not None:
        conds.append(f"{PAPER_DATE} >= ?")
        params.append(f.date_from)
    if f.date_to is not None:
        conds.append(f"{PAPER_DATE} <= ?")
        params.append(f.date_to)
    if f.listing == "primary":
        conds.append("NOT coalesce(p.is_cross_list, FALSE)")
    elif f.listing == "cross":
        conds.append("coalesce(p.is_cross_list, FALSE)")
    if f.categories:
        conds.append("list_has_any(p.categories, ?::VARCHAR[])")
        params.append(list(f.categories))
    if f.survey == "cited":
        conds.append("p.arxiv_id IN (SELECT arxiv_id FROM survey_citations)")
    elif f.survey == "not_cited":
        conds.append("p.arxiv_id NOT IN (SELECT arxiv_id FROM survey_citations)")
    if labels:
        if f.roles:
            conds.append("list_contains(?::VARCHAR[], e.role)")
            params.append(list(f.roles))
        if f.modalities:
            conds.append("list_contains(?::VARCHAR[], e.modality)")
            params.append(list(f.modalities))
        if f.provenance != "all":
            conds.append("e.provenance = ?")
            params.append(f.provenance)
        if f.types:
            conds.append("list_has_any(e.types, ?::VARCHAR[])")
            params.append(list(f.types))
        if f.scope == "aisec":
            conds.append("e.provenance <> 'unclassified' AND NOT list_contains(e.types, 'not_relevant')")
        elif f.scope == "taxonomy":
            conds.append("list_has_any(e.types, ?::VARCHAR[])")
            params.append(list(f.taxonomy_types))
    return " AND ".join(conds), params


_BASE = "FROM papers p JOIN effective_labels e USING (arxiv_id)"


# --------------------------------------------------------------------------------------------- overview

def overview(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Counts for the header; one round trip."""
    row = con.execute(
        "SELECT (SELECT count(*) FROM papers), (SELECT count(*) FROM predictions), "
        "(SELECT count(DISTINCT arxiv_id) FROM labels), "
        f"(SELECT min({PAPER_DATE}) FROM papers p), (SELECT max({PAPER_DATE}) FROM papers p), "
        "(SELECT count(*) FROM survey_citations)"
    ).fetchone()
    return {"papers": int(row[0]), "predictions": int(row[1]), "labelled_papers": int(row[2]),
            "first_date": row[3], "last_date": row[4], "survey_citations": int(row[5])}


def categories_seen(con: duckdb.DuckDBPyConnection, limit: int = 30) -> list[str]:
    """Primary categories by frequency, for the category filter's choices."""
    rows = con.execute(
        "SELECT primary_category, count(*) AS n FROM papers WHERE primary_category IS NOT NULL "
        "GROUP BY 1 ORDER BY n DESC, 1 LIMIT ?", [limit]
    ).fetchall()
    return [r[0] for r in rows]


# --------------------------------------------------------------------------------------------- trends

def _period(period: str) -> str:
    if period not in PERIODS:
        raise ValueError(f"period {period!r}; valid: {', '.join(PERIODS)}")
    return f"CAST(date_trunc('{period}', {PAPER_DATE}) AS DATE)"


def trend_type_counts(con: duckdb.DuckDBPyConnection, f: Filters, period: str, type_ids: list[str]):
    """Papers per period and type (a paper with two types counts once for each)."""
    where, params = _where(f)
    return con.execute(
        f"SELECT {_period(period)} AS period, t AS type, count(*) AS papers "
        f"FROM (SELECT p.*, unnest(e.types) AS t {_BASE} WHERE {where}) p "
        f"WHERE list_contains(?::VARCHAR[], t) AND {PAPER_DATE} IS NOT NULL "
        "GROUP BY ALL ORDER BY period, type",
        [*params, list(type_ids)],
    ).df()


def trend_axis_counts(con: duckdb.DuckDBPyConnection, f: Filters, period: str, axis_map: dict[str, str]):
    """Papers per period and axis; a paper with two types on one axis counts once for that axis."""
    where, params = _where(f)
    types, axes = list(axis_map), [axis_map[t] for t in axis_map]
    return con.execute(
        f"WITH m AS (SELECT unnest(?::VARCHAR[]) AS type, unnest(?::VARCHAR[]) AS axis), "
        f"x AS (SELECT p.arxiv_id, {_period(period)} AS period, unnest(e.types) AS t {_BASE} "
        f"WHERE {where} AND {PAPER_DATE} IS NOT NULL) "
        "SELECT period, m.axis, count(DISTINCT x.arxiv_id) AS papers FROM x JOIN m ON m.type = x.t "
        "GROUP BY ALL ORDER BY period, axis",
        [types, axes, *params],
    ).df()


def trend_bundle(con: duckdb.DuckDBPyConnection, f: Filters, period: str, group: str, axis_map: dict[str, str],
                 type_ids: list[str]) -> dict[str, Any]:
    """What the Trends page needs from labels, with one evaluation of the effective_labels view.

    ``series``: papers per period and group (``group`` = "axis": a paper counts once per axis;
    "type": once per type); ``matching``: papers under the filters; ``in_taxonomy``: of them with a type.
    """
    if group not in ("axis", "type"):
        raise ValueError(f"group {group!r}; valid: axis, type")
    where, params = _where(f)
    types = list(axis_map) if group == "axis" else list(type_ids)
    groups = [axis_map[t] for t in types] if group == "axis" else types
    rows = con.execute(
        f"WITH base AS MATERIALIZED (SELECT p.arxiv_id, {_period(period)} AS period, e.types {_BASE} "
        f"WHERE {where}), "
        "m AS (SELECT unnest(?::VARCHAR[]) AS type, unnest(?::VARCHAR[]) AS grp), "
        "x AS (SELECT arxiv_id, period, unnest(types) AS t FROM base WHERE period IS NOT NULL) "
        "SELECT 's' AS kind, period, m.grp, count(DISTINCT x.arxiv_id) FROM x JOIN m ON m.type = x.t GROUP BY ALL "
        "UNION ALL SELECT 'n', NULL, NULL, count(*) FROM base "
        "UNION ALL SELECT 't', NULL, NULL, count(*) FILTER (WHERE list_has_any(types, ?::VARCHAR[])) FROM base",
        [*params, types, groups, list(type_ids)],
    ).fetchall()
    import pandas as pd

    series = sorted((r[1], r[2], int(r[3])) for r in rows if r[0] == "s")
    return {
        "series": pd.DataFrame({"period": pd.to_datetime([r[0] for r in series]), group: [r[1] for r in series],
                                "papers": [r[2] for r in series]}),
        "matching": next(int(r[3]) for r in rows if r[0] == "n"),
        "in_taxonomy": next(int(r[3]) for r in rows if r[0] == "t"),
    }


def period_totals(con: duckdb.DuckDBPyConnection, f: Filters, period: str):
    """All crawled papers per period under the paper-level filters: the denominator of the shares."""
    where, params = _where(f, labels=False)
    return con.execute(
        f"SELECT {_period(period)} AS period, count(*) AS papers FROM papers p "
        f"WHERE {where} AND {PAPER_DATE} IS NOT NULL GROUP BY ALL ORDER BY period",
        params,
    ).df()


def count_with_taxonomy(con: duckdb.DuckDBPyConnection, f: Filters, type_ids: list[str]) -> tuple[int, int]:
    """(papers matching the filters, of them carrying a taxonomy type) in one pass over the view."""
    where, params = _where(f)
    row = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE list_has_any(e.types, ?::VARCHAR[])) {_BASE} WHERE {where}",
        [list(type_ids), *params]).fetchall()[0]
    return int(row[0]), int(row[1])


def _needs_labels(f: Filters) -> bool:
    """Whether the filters look at labels; if not, queries can skip the effective_labels view (the costly part)."""
    return bool(f.roles or f.modalities or f.types or f.provenance != "all" or f.scope != "all")


def count_papers(con: duckdb.DuckDBPyConnection, f: Filters, keyword: str = "") -> int:
    labels = _needs_labels(f)
    where, params = _where(f, labels=labels)
    kw, kw_params = _keyword(keyword)
    base = _BASE if labels else "FROM papers p"
    return int(con.execute(f"SELECT count(*) {base} WHERE {where} AND {kw}", [*params, *kw_params]).fetchall()[0][0])


# --------------------------------------------------------------------------------------------- papers

def _keyword(keyword: str) -> tuple[str, list[Any]]:
    """Every whitespace-separated term must occur in the title or abstract (case-insensitive)."""
    terms = [t for t in (keyword or "").split() if t]
    if not terms:
        return "TRUE", []
    conds, params = [], []
    for t in terms:
        conds.append("(p.title ILIKE ? ESCAPE '\\' OR p.abstract ILIKE ? ESCAPE '\\')")
        pat = "%" + t.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        params += [pat, pat]
    return " AND ".join(conds), params


_LIST_COLS = (
    f"p.arxiv_id, p.title, {PAPER_DATE} AS d, p.primary_category, p.is_cross_list, "
    "array_to_string(e.types, ', ') AS types, e.role, e.modality, e.provenance, e.confidence, "
    "e.prediction_status AS status, p.arxiv_id IN (SELECT arxiv_id FROM survey_citations) AS cited"
)


def search_papers(
    con: duckdb.DuckDBPyConnection, f: Filters, keyword: str = "", sort: str = "newest", limit: int = 200,
    offset: int = 0,
):
    """The Papers table: filtered, keyword-matched, sorted server-side, one page of rows."""
    if sort not in SORTS:
        raise ValueError(f"sort {sort!r}; valid: {', '.join(SORTS)}")
    # Pick one page of ids on narrow rows (the view only when filters or the order need it), then fetch
    # the shown columns for those ids: the view joined to a few hundred ids costs milliseconds.
    labels = _needs_labels(f) or sort in ("confidence", "least confident")
    where, params = _where(f, labels=labels)
    kw, kw_params = _keyword(keyword)
    base = _BASE if labels else "FROM papers p"
    conf = "e.confidence" if labels else "NULL"
    return con.execute(
        f"WITH pick AS (SELECT p.arxiv_id, {PAPER_DATE} AS d, {conf} AS confidence, p.title {base} "
        f"WHERE {where} AND {kw} ORDER BY {SORTS[sort]} LIMIT ? OFFSET ?) "
        f"SELECT {_LIST_COLS} FROM pick JOIN papers p USING (arxiv_id) JOIN effective_labels e USING (arxiv_id) "
        f"ORDER BY {', '.join('pick.' + c.strip() for c in SORTS[sort].split(','))}",
        [*params, *kw_params, limit, offset],
    ).df()


def search_page(
    con: duckdb.DuckDBPyConnection, f: Filters, keyword: str = "", sort: str = "newest", limit: int = 200,
    offset: int = 0,
) -> tuple[int, Any]:
    """(number of matches, one page of rows): the Papers table with its count from one pass over the view."""
    if sort not in SORTS:
        raise ValueError(f"sort {sort!r}; valid: {', '.join(SORTS)}")
    labels = _needs_labels(f) or sort in ("confidence", "least confident")
    if not labels:  # the count needs no view: two cheap queries beat one materialised set
        return count_papers(con, f, keyword), search_papers(con, f, keyword, sort, limit, offset)
    where, params = _where(f, labels=True)
    kw, kw_params = _keyword(keyword)
    df = con.execute(
        f"WITH m AS MATERIALIZED (SELECT p.arxiv_id, {PAPER_DATE} AS d, e.confidence, p.title {_BASE} "
        f"WHERE {where} AND {kw}), pick AS (SELECT * FROM m ORDER BY {SORTS[sort]} LIMIT ? OFFSET ?) "
        f"SELECT {_LIST_COLS}, (SELECT count(*) FROM m) AS _total FROM pick JOIN papers p USING (arxiv_id) "
        f"JOIN effective_labels e USING (arxiv_id) "
        f"ORDER BY {', '.join('pick.' + c.strip() for c in SORTS[sort].split(','))}",
        [*params, *kw_params, limit, offset],
    ).df()
    total = int(df["_total"].iloc[0]) if len(df) else (count_papers(con, f, keyword) if offset else 0)
    return total, df.drop(columns=["_total"])


def semantic_search(
    con: duckdb.DuckDBPyConnection, f: Filters, vector: list[float], model: str, limit: int = 50,
):
    """Papers whose stored embedding is nearest (cosine) to ``vector``, computed inside DuckDB."""
    where, params = _where(f)
    # Score each stored vector once (texts shared by several papers are scored once), then join.
    return con.execute(
        "WITH sim AS (SELECT content_hash, list_cosine_similarity(vector, ?::FLOAT[]) AS similarity "
        "FROM embeddings WHERE model = ?) "
        f"SELECT {_LIST_COLS}, sim.similarity {_BASE} JOIN sim ON sim.content_hash = p.content_hash "
        f"WHERE {where} ORDER BY sim.similarity DESC NULLS LAST, p.arxiv_id LIMIT ?",
        [list(map(float, vector)), model, *params, limit],
    ).df()


def embeddings_available(con: duckdb.DuckDBPyConnection, model: str) -> int:
    return int(con.execute("SELECT count(*) FROM embeddings WHERE model = ?", [model]).fetchone()[0])


def search_model_key(con: duckdb.DuckDBPyConnection, model: str) -> str | None:
    """The embedding-cache key semantic search should use: `model` if it has vectors, else the key of
    the same encoder under another backend (e.g. `…@hybrid` vectors in a demo database read with the
    `torch` setting: cosine ≥ 0.99 between backends, so rankings agree), the one with most vectors."""
    if embeddings_available(con, model):
        return model
    name = model.split("@")[0]
    row = con.execute("SELECT model FROM embeddings WHERE split_part(model, '@', 1) = ? "
                      "GROUP BY model ORDER BY count(*) DESC, model LIMIT 1", [name]).fetchone()
    return row[0] if row else None


def paper_detail(con: duckdb.DuckDBPyConnection, arxiv_id: str) -> dict[str, Any] | None:
    """Everything the paper view shows: metadata, versions, predictions, label history, survey status."""
    row = con.execute(
        f"SELECT p.arxiv_id, p.title, p.abstract, p.authors, p.categories, p.primary_category, "
        f"p.is_cross_list, {PAPER_DATE}, p.updated, p.latest_version, p.doi, p.content_hash, "
        "e.types, e.role, e.modality, e.provenance "
        f"{_BASE} WHERE p.arxiv_id = ?", [arxiv_id]
    ).fetchone()
    if row is None:
        return None
    keys = ["arxiv_id", "title", "abstract", "authors", "categories", "primary_category", "is_cross_list",
            "date", "updated", "latest_version", "doi", "content_hash", "types", "role", "modality", "provenance"]
    out = dict(zip(keys, row, strict=True))
    out["versions"] = con.execute(
        "SELECT version, submitted, size, seen_at FROM paper_versions WHERE arxiv_id = ? ORDER BY version",
        [arxiv_id]).df()
    preds = []
    for r in con.execute(
        "SELECT model_version, taxonomy_version, relevance, type_scores, labels, role, modality, confidence, "
        "status, review_priority, explanation, content_hash, created_at FROM predictions WHERE arxiv_id = ? "
        "ORDER BY created_at DESC, model_version DESC", [arxiv_id]
    ).fetchall():
        preds.append({
            "model_version": r[0], "taxonomy_version": r[1], "relevance": r[2], "type_scores": _json(r[3]),
            "labels": list(r[4] or []), "role": r[5], "modality": r[6], "confidence": r[7], "status": r[8],
            "review_priority": r[9], "explanation": _json(r[10]), "stale": r[11] is not None and r[11] != out[
                "content_hash"], "created_at": r[12],
        })
    out["predictions"] = preds
    out["labels"] = con.execute(
        "SELECT created_at, curator, array_to_string(types, ', ') AS types, role, modality, note, source, "
        "label_id FROM labels WHERE arxiv_id = ? ORDER BY created_at DESC, label_id DESC", [arxiv_id]).df()
    cit = con.execute("SELECT bibkey, matched_by FROM survey_citations WHERE arxiv_id = ?", [arxiv_id]).fetchone()
    out["survey"] = {"bibkey": cit[0], "matched_by": cit[1]} if cit else None
    return out


def _json(value: Any) -> Any:
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return {}
    return value


# --------------------------------------------------------------------------------------------- review

# A needs_review paper waits for a curator until one labels it. A review suggestion (a prediction row
# with model_version 'suggestion:...', written by the topic/taxonomy-version tools) asks again about a
# labelled paper, so it waits until a label newer than the suggestion exists. Re-predictions of
# labelled papers by a retrained classifier do not re-queue them.
_QUEUE = (
    "FROM current_predictions cp JOIN papers p USING (arxiv_id) "
    "LEFT JOIN (SELECT arxiv_id, max(created_at) AS last_label FROM labels GROUP BY arxiv_id) ll USING (arxiv_id) "
    "WHERE cp.status = 'needs_review' AND (ll.last_label IS NULL "
    "OR (starts_with(cp.model_version, 'suggestion:') AND ll.last_label < cp.created_at))"
)


def review_remaining(con: duckdb.DuckDBPyConnection) -> int:
    """Papers the classifier sent to review that no curator has labelled yet."""
    return int(con.execute(f"SELECT count(*) {_QUEUE}").fetchone()[0])


def review_queue(con: duckdb.DuckDBPyConnection, limit: int = 20, exclude: tuple[str, ...] = ()) -> list[dict]:
    """The next papers to review, highest review priority first (ties: newest first)."""
    # Pick the ids first (narrow rows), then fetch the wide columns of those few only.
    rows = con.execute(
        f"WITH pick AS (SELECT cp.arxiv_id, cp.model_version, cp.taxonomy_version, cp.review_priority {_QUEUE} "
        "AND NOT list_contains(?::VARCHAR[], cp.arxiv_id) "
        "ORDER BY cp.review_priority DESC NULLS LAST, cp.arxiv_id DESC LIMIT ?) "
        f"SELECT p.arxiv_id, p.title, p.abstract, {PAPER_DATE}, p.primary_category, pr.relevance, pr.labels, "
        "pr.role, pr.modality, pr.confidence, pr.review_priority, pr.type_scores, pr.explanation "
        "FROM pick JOIN papers p USING (arxiv_id) JOIN predictions pr ON pr.arxiv_id = pick.arxiv_id "
        "AND pr.model_version = pick.model_version AND pr.taxonomy_version = pick.taxonomy_version "
        "ORDER BY pick.review_priority DESC NULLS LAST, pick.arxiv_id DESC",
        [list(exclude), limit],
    ).fetchall()
    return queue_rows(rows)


_QUEUE_KEYS = ["arxiv_id", "title", "abstract", "date", "primary_category", "relevance", "labels", "role",
               "modality", "confidence", "review_priority", "type_scores", "explanation"]


def queue_rows(rows: list[tuple]) -> list[dict]:
    """Review-queue rows (in _QUEUE_KEYS order) as dicts with lists and parsed JSON, for both query paths."""
    out = []
    for r in rows:
        d = dict(zip(_QUEUE_KEYS, r, strict=True))
        d["labels"] = list(d["labels"] or [])
        d["type_scores"] = _json(d["type_scores"])
        d["explanation"] = _json(d["explanation"])
        out.append(d)
    return out


def label_by_id(con: duckdb.DuckDBPyConnection, label_id: int) -> dict[str, Any] | None:
    row = con.execute("SELECT label_id, arxiv_id, types, curator, source FROM labels WHERE label_id = ?",
                      [label_id]).fetchone()
    if row is None:
        return None
    return {"label_id": row[0], "arxiv_id": row[1], "types": list(row[2]), "curator": row[3], "source": row[4]}


# --------------------------------------------------------------------------------------------- taxonomy

def type_summary(con: duckdb.DuckDBPyConnection, label_ids: list[str]):
    """Per label id: papers carrying it (effective), how many of those are curated, how many auto."""
    return con.execute(
        "WITH x AS (SELECT unnest(types) AS type, provenance FROM effective_labels WHERE types IS NOT NULL) "
        "SELECT type, count(*) AS papers, count(*) FILTER (WHERE provenance = 'curated') AS curated, "
        "count(*) FILTER (WHERE provenance = 'auto') AS auto FROM x WHERE list_contains(?::VARCHAR[], type) "
        "GROUP BY type ORDER BY papers DESC, type",
        [list(label_ids)],
    ).df()


# The classifier's latest prediction per paper; review suggestions (model_version 'suggestion:...',
# written by topic merges and taxonomy splits) are not the classifier's and would skew its precision.
_CLASSIFIER_CURRENT = (
    "SELECT * FROM predictions WHERE NOT starts_with(model_version, 'suggestion:') "
    "QUALIFY row_number() OVER (PARTITION BY arxiv_id ORDER BY created_at DESC, model_version DESC) = 1"
)


def agreement(con: duckdb.DuckDBPyConnection, label_ids: list[str], current_sql: str | None = None):
    """Classifier vs curators on papers both have judged, per label id.

    ``predicted`` papers the classifier gave the label, ``agreed`` of those the curator kept it
    (precision estimate = agreed / predicted), ``curated`` papers curators gave it (recall estimate =
    agreed / curated). Uses the classifier's latest prediction and the latest label of each paper.
    """
    return con.execute(
        "WITH both_ AS (SELECT l.arxiv_id, l.types AS cur, "
        "CASE WHEN cp.relevance = 'in_taxonomy' THEN cp.labels ELSE [cp.relevance] END AS pred "
        f"FROM current_labels l JOIN ({current_sql or _CLASSIFIER_CURRENT}) cp USING (arxiv_id)), "
        "t AS (SELECT unnest(?::VARCHAR[]) AS type) "
        "SELECT t.type, count(*) FILTER (WHERE list_contains(pred, t.type)) AS predicted, "
        "count(*) FILTER (WHERE list_contains(pred, t.type) AND list_contains(cur, t.type)) AS agreed, "
        "count(*) FILTER (WHERE list_contains(cur, t.type)) AS curated "
        "FROM t CROSS JOIN both_ GROUP BY t.type ORDER BY t.type",
        [list(label_ids)],
    ).df()


def reviewed_pairs(con: duckdb.DuckDBPyConnection, current_sql: str | None = None) -> int:
    """Papers with both a curator label and a prediction (the base of the agreement table).

    ``current_sql`` lets store/aggregates pass a cheaper "current prediction" subquery.
    """
    return int(con.execute(
        f"SELECT count(*) FROM current_labels l JOIN ({current_sql or _CLASSIFIER_CURRENT}) cp USING (arxiv_id)"
    ).fetchall()[0][0])


# --------------------------------------------------------------------------------------------- runs

def runs_table(con: duckdb.DuckDBPyConnection, limit: int = 100) -> list[dict[str, Any]]:
    """The latest runs, newest first (the run store's own reader, exposed here for the page cache)."""
    from aisec_radar.store.runs import last_runs

    return last_runs(con, limit=limit)


def checkpoints_table(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, Any]]:
    from aisec_radar.store.runs import all_checkpoints

    return all_checkpoints(con)


# --------------------------------------------------------------------------------------------- versions

def taxonomy_version_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Taxonomy versions registered in the store, oldest first (none before the first registration)."""
    has = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'taxonomy_versions'"
                      ).fetchall()[0][0]
    if not has:
        return []
    return [r[0] for r in con.execute("SELECT version FROM taxonomy_versions ORDER BY created_at, version").fetchall()]
