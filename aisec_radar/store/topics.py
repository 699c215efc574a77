"""Emerging-topic candidates: the discovery pool, snapshots per run, curator actions, review suggestions.

Discovery (aisec_radar/topics/) reads the pool and the stored vectors here and writes one run's
candidates back in one transaction, so a failed run leaves the previous state intact. Candidate ids
are stable across runs; each run adds a snapshot and its members, nothing is rewritten but the
candidate's latest description.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import duckdb
import numpy as np

SUGGESTION_PREFIX = "suggestion:"

# Papers without a published date (some harvest formats lack it) get the month of their new-style id.
_DAY = (
    "coalesce(p.published, p.updated, CASE WHEN regexp_matches(p.arxiv_id, '^[0-9]{4}\\.') THEN "
    "make_date(2000 + CAST(substr(p.arxiv_id, 1, 2) AS INTEGER), CAST(substr(p.arxiv_id, 3, 2) AS INTEGER), 1) "
    "END)"
)


def _settle(con: duckdb.DuckDBPyConnection) -> None:
    """Finish any half-read result: DuckDB refuses register()/sql() while an execute() result is open."""
    con.execute("SELECT NULL").fetchall()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class PoolPaper:
    """One paper that discovery may consider, with what the classifier and the curators said."""

    arxiv_id: str
    title: str
    abstract: str
    content_hash: str
    day: date | None
    relevance: str | None  # latest real prediction (suggestions excluded)
    type_scores: dict[str, float] = field(default_factory=dict)
    pred_status: str | None = None
    curated: list[str] | None = None  # types of the latest curator label


def load_pool(con: duckdb.DuckDBPyConnection, start: date | None, end: date | None) -> list[PoolPaper]:
    """Papers dated in [start, end] with their latest real prediction and latest curator label."""
    where = []
    params: list[Any] = []
    if start is not None:
        where.append(f"{_DAY} >= ?")
        params.append(start)
    if end is not None:
        where.append(f"{_DAY} <= ?")
        params.append(end)
    sql = (
        f"WITH cp AS (SELECT * FROM predictions WHERE model_version NOT LIKE '{SUGGESTION_PREFIX}%' "
        "QUALIFY row_number() OVER (PARTITION BY arxiv_id ORDER BY created_at DESC, model_version DESC) = 1) "
        f"SELECT p.arxiv_id, p.title, coalesce(p.abstract, ''), p.content_hash, {_DAY} AS day, "
        "cp.relevance, cp.type_scores, cp.status, cl.types "
        "FROM papers p LEFT JOIN cp USING (arxiv_id) LEFT JOIN current_labels cl USING (arxiv_id)"
    )
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY p.arxiv_id"
    out = []
    for r in con.execute(sql, params).fetchall():
        scores = json.loads(r[6]) if isinstance(r[6], str) else (r[6] or {})
        out.append(PoolPaper(arxiv_id=r[0], title=r[1], abstract=r[2], content_hash=r[3], day=r[4],
                             relevance=r[5], type_scores={k: float(v) for k, v in scores.items()},
                             pred_status=r[7], curated=list(r[8]) if r[8] is not None else None))
    return out


def get_vectors(con: duckdb.DuckDBPyConnection, hashes: Sequence[str], model: str) -> dict[str, np.ndarray]:
    """Stored vectors of these content hashes under ``model`` (missing ones are simply absent)."""
    if not hashes:
        return {}
    import pyarrow as pa

    _settle(con)
    con.register("_topic_hashes", pa.table({"content_hash": list(dict.fromkeys(hashes))}))
    try:
        tbl = con.sql(
            "SELECT e.content_hash, e.vector FROM embeddings e JOIN _topic_hashes h USING (content_hash) "
            "WHERE e.model = ?", params=[model]
        ).to_arrow_table()
    finally:
        con.unregister("_topic_hashes")
    if tbl.num_rows == 0:
        return {}
    col = tbl.column("vector").combine_chunks()
    lengths = col.value_lengths().to_numpy()
    flat = col.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    keys = tbl.column("content_hash").to_pylist()
    if len(set(lengths.tolist())) == 1:
        mat = flat.reshape(len(keys), int(lengths[0]))
        return {k: mat[i] for i, k in enumerate(keys)}
    out, pos = {}, 0
    for k, n in zip(keys, lengths.tolist(), strict=True):
        out[k] = flat[pos:pos + n]
        pos += n
    return out


def put_vectors(con: duckdb.DuckDBPyConnection, model: str, hashes: Sequence[str], vectors: np.ndarray) -> int:
    """Store vectors encoded for discovery (same cache as the classifier's); existing keys are kept."""
    if len(hashes) == 0:
        return 0
    import pyarrow as pa

    vecs = np.asarray(vectors, dtype=np.float32)
    tbl = pa.table({
        "content_hash": list(hashes), "model": [model] * len(hashes),
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(vecs.ravel()), vecs.shape[1]).cast(
            pa.list_(pa.float32())),
    })
    _settle(con)
    con.register("_topic_new_vectors", tbl)
    try:
        before = con.execute("SELECT count(*) FROM embeddings").fetchall()[0][0]
        con.execute("INSERT INTO embeddings SELECT content_hash, model, vector FROM _topic_new_vectors "
                    "ON CONFLICT DO NOTHING").fetchall()
        after = con.execute("SELECT count(*) FROM embeddings").fetchall()[0][0]
    finally:
        con.unregister("_topic_new_vectors")
    return int(after - before)


# --- candidates ---------------------------------------------------------------------------------

_CAND_COLS = ("topic_id, status, first_run_id, last_run_id, first_seen, last_seen, model, centroid, "
              "key_phrases, size, target, target_version")


def _cand(row: tuple) -> dict[str, Any]:
    keys = [c.strip() for c in _CAND_COLS.split(",")]
    d = dict(zip(keys, row, strict=True))
    d["key_phrases"] = list(d["key_phrases"] or [])
    return d


def _where(sql: str, conds: list[tuple[str, Any]]) -> tuple[str, list[Any]]:
    """Append ``WHERE`` with the clauses whose value is not None; a list value binds several parameters."""
    clauses, params = [], []
    for clause, value in conds:
        if value is None:
            continue
        clauses.append(clause)
        params.extend(value if isinstance(value, list) else [value])
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    return sql, params


def list_candidates(con: duckdb.DuckDBPyConnection, model: str | None = None,
                    statuses: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Candidates (centroid included), optionally of one embedding model and some statuses."""
    sql = f"SELECT {_CAND_COLS} FROM topic_candidates"
    sql, params = _where(sql, [("model = ?", model),
                               ("list_contains(?::VARCHAR[], status)", None if statuses is None else [list(statuses)])])
    sql += " ORDER BY topic_id"
    return [_cand(r) for r in con.execute(sql, params).fetchall()]


def get_candidate(con: duckdb.DuckDBPyConnection, topic_id: str) -> dict[str, Any] | None:
    row = con.execute(f"SELECT {_CAND_COLS} FROM topic_candidates WHERE topic_id = ?", [topic_id]).fetchone()
    return _cand(row) if row else None


def last_members(con: duckdb.DuckDBPyConnection, topic_ids: Iterable[str] | None = None) -> dict[str, list[str]]:
    """Members of each candidate in the last run it was seen in."""
    rows = con.execute(
        "SELECT m.topic_id, m.arxiv_id FROM topic_members m JOIN topic_candidates c "
        "ON c.topic_id = m.topic_id AND c.last_run_id = m.run_id ORDER BY m.topic_id, m.score DESC"
    ).fetchall()
    wanted = set(topic_ids) if topic_ids is not None else None
    out: dict[str, list[str]] = {}
    for tid, aid in rows:
        if wanted is None or tid in wanted:
            out.setdefault(tid, []).append(aid)
    return out


def new_topic_id(con: duckdb.DuckDBPyConnection) -> str:
    n = con.execute("SELECT nextval('topic_id_seq')").fetchone()[0]
    return f"T{int(n):04d}"


@dataclass
class Snapshot:
    """What one discovery run says about one candidate."""

    topic_id: str
    size: int
    centroid: np.ndarray
    members: list[tuple[str, float]]  # (arxiv_id, cosine to centroid), best first
    key_phrases: list[str]
    monthly_counts: dict[str, int]
    growth: float | None
    nearest_type: str | None
    nearest_sim: float | None
    type_sims: dict[str, float]
    representative: list[str]
    matched_by: str  # new | members | centroid
    match_score: float | None = None
    window_start: date | None = None
    window_end: date | None = None


def save_snapshots(con: duckdb.DuckDBPyConnection, run_id: int, model: str, snaps: list[Snapshot]) -> None:
    """Write one run's candidates: new ones inserted, matched ones refreshed, snapshot + members each."""
    now = _now()
    for s in snaps:
        centroid = [float(x) for x in s.centroid]
        if s.matched_by == "new":
            con.execute(
                "INSERT INTO topic_candidates (topic_id, status, first_run_id, last_run_id, first_seen, last_seen, "
                "model, centroid, key_phrases, size) VALUES (?, 'open', ?, ?, ?, ?, ?, ?, ?, ?)",
                [s.topic_id, run_id, run_id, now, now, model, centroid, s.key_phrases, s.size],
            )
        else:
            con.execute(
                "UPDATE topic_candidates SET last_run_id = ?, last_seen = ?, model = ?, centroid = ?, "
                "key_phrases = ?, size = ? WHERE topic_id = ?",
                [run_id, now, model, centroid, s.key_phrases, s.size, s.topic_id],
            )
        con.execute(
            "INSERT INTO topic_snapshots (run_id, topic_id, window_start, window_end, size, monthly_counts, growth, "
            "key_phrases, nearest_type, nearest_sim, type_sims, representative, matched_by, match_score) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [run_id, s.topic_id, s.window_start, s.window_end, s.size, json.dumps(s.monthly_counts), s.growth,
             s.key_phrases, s.nearest_type, s.nearest_sim, json.dumps(s.type_sims), s.representative,
             s.matched_by, s.match_score],
        )
        if s.members:
            import pyarrow as pa

            _settle(con)
            con.register("_topic_members", pa.table({
                "arxiv_id": [a for a, _ in s.members], "score": [float(x) for _, x in s.members]}))
            try:
                con.execute("INSERT INTO topic_members SELECT ?, ?, arxiv_id, score FROM _topic_members",
                            [run_id, s.topic_id]).fetchall()
            finally:
                con.unregister("_topic_members")


_SNAP_COLS = ("s.run_id, s.topic_id, s.window_start, s.window_end, s.size, s.monthly_counts, s.growth, "
              "s.key_phrases, s.nearest_type, s.nearest_sim, s.type_sims, s.representative, s.matched_by, "
              "s.match_score, r.started_at")


def _snap(row: tuple) -> dict[str, Any]:
    keys = [c.strip().split(".")[-1] for c in _SNAP_COLS.split(",")]
    d = dict(zip(keys, row, strict=True))
    d["run_at"] = d.pop("started_at")
    for k in ("monthly_counts", "type_sims"):
        d[k] = json.loads(d[k]) if isinstance(d[k], str) else (d[k] or {})
    d["key_phrases"] = list(d["key_phrases"] or [])
    d["representative"] = list(d["representative"] or [])
    return d


def snapshots(con: duckdb.DuckDBPyConnection, topic_id: str | None = None,
              run_id: int | None = None) -> list[dict[str, Any]]:
    """Snapshots, oldest run first; filter by candidate and/or run."""
    sql = f"SELECT {_SNAP_COLS} FROM topic_snapshots s LEFT JOIN runs r USING (run_id)"
    sql, params = _where(sql, [("s.topic_id = ?", topic_id), ("s.run_id = ?", run_id)])
    sql += " ORDER BY s.run_id, s.topic_id"
    return [_snap(r) for r in con.execute(sql, params).fetchall()]


def latest_topic_run(con: duckdb.DuckDBPyConnection) -> int | None:
    row = con.execute("SELECT max(run_id) FROM runs WHERE kind = 'topics' AND status = 'ok'").fetchone()
    return int(row[0]) if row and row[0] is not None else None


def members(con: duckdb.DuckDBPyConnection, topic_id: str, run_id: int | None = None) -> list[dict[str, Any]]:
    """Members of a candidate in a run (default: the last run it was seen in), with titles and dates."""
    if run_id is None:
        row = con.execute("SELECT last_run_id FROM topic_candidates WHERE topic_id = ?", [topic_id]).fetchone()
        if row is None:
            return []
        run_id = int(row[0])
    rows = con.execute(
        f"SELECT m.arxiv_id, m.score, p.title, {_DAY} FROM topic_members m LEFT JOIN papers p USING (arxiv_id) "
        "WHERE m.run_id = ? AND m.topic_id = ? ORDER BY m.score DESC, m.arxiv_id", [run_id, topic_id]
    ).fetchall()
    return [{"arxiv_id": r[0], "score": r[1], "title": r[2], "day": r[3]} for r in rows]


def candidate_rows(con: duckdb.DuckDBPyConnection, since: date | None = None,
                   statuses: Iterable[str] | None = ("open",)) -> list[dict[str, Any]]:
    """Candidates with their latest snapshot, for listings (no centroid); biggest first.

    ``since`` keeps candidates seen in a discovery run on or after that date.
    """
    sql = (
        "SELECT c.topic_id, c.status, c.first_seen, c.last_seen, c.size, c.target, c.target_version, "
        "c.first_run_id, c.last_run_id, s.key_phrases, s.monthly_counts, s.growth, s.nearest_type, s.nearest_sim, "
        "s.representative, s.window_start, s.window_end, "
        "(SELECT count(*) FROM topic_snapshots x WHERE x.topic_id = c.topic_id) AS runs_seen "
        "FROM topic_candidates c JOIN topic_snapshots s ON s.topic_id = c.topic_id AND s.run_id = c.last_run_id"
    )
    sql, params = _where(sql, [
        ("list_contains(?::VARCHAR[], c.status)", None if statuses is None else [list(statuses)]),
        ("c.last_seen >= ?", None if since is None else datetime.combine(since, datetime.min.time())),
    ])
    sql += " ORDER BY c.size DESC, c.topic_id"
    keys = ["topic_id", "status", "first_seen", "last_seen", "size", "target", "target_version", "first_run_id",
            "last_run_id", "key_phrases", "monthly_counts", "growth", "nearest_type", "nearest_sim",
            "representative", "window_start", "window_end", "runs_seen"]
    out = []
    for r in con.execute(sql, params).fetchall():
        d = dict(zip(keys, r, strict=True))
        d["monthly_counts"] = json.loads(d["monthly_counts"]) if isinstance(d["monthly_counts"], str) else {}
        d["key_phrases"] = list(d["key_phrases"] or [])
        d["representative"] = list(d["representative"] or [])
        out.append(d)
    return out


def size_history(con: duckdb.DuckDBPyConnection, topic_id: str) -> list[tuple[int, datetime, int]]:
    """(run_id, run start, size) per run the candidate was seen in: how it grew across nightly runs."""
    return [(int(a), b, int(c)) for a, b, c in con.execute(
        "SELECT s.run_id, r.started_at, s.size FROM topic_snapshots s LEFT JOIN runs r USING (run_id) "
        "WHERE s.topic_id = ? ORDER BY s.run_id", [topic_id]).fetchall()]


# --- curator actions ----------------------------------------------------------------------------

def add_action(con: duckdb.DuckDBPyConnection, topic_id: str, action: str, curator: str, target: str | None = None,
               taxonomy_version: str | None = None, note: str | None = None, queued: int | None = None) -> int:
    row = con.execute(
        "INSERT INTO topic_actions (topic_id, action, target, taxonomy_version, curator, note, queued, created_at) "
        "VALUES (?,?,?,?,?,?,?,?) RETURNING action_id",
        [topic_id, action, target, taxonomy_version, curator, note, queued, _now()],
    ).fetchone()
    return int(row[0])


def set_status(con: duckdb.DuckDBPyConnection, topic_id: str, status: str, target: str | None = None,
               target_version: str | None = None) -> None:
    con.execute("UPDATE topic_candidates SET status = ?, target = ?, target_version = ? WHERE topic_id = ?",
                [status, target, target_version, topic_id])


def actions(con: duckdb.DuckDBPyConnection, topic_id: str | None = None) -> list[dict[str, Any]]:
    sql = ("SELECT action_id, topic_id, action, target, taxonomy_version, curator, note, queued, created_at "
           "FROM topic_actions")
    params: list[Any] = []
    if topic_id is not None:
        sql += " WHERE topic_id = ?"
        params.append(topic_id)
    sql += " ORDER BY action_id"
    keys = ["action_id", "topic_id", "action", "target", "taxonomy_version", "curator", "note", "queued", "created_at"]
    return [dict(zip(keys, r, strict=True)) for r in con.execute(sql, params).fetchall()]


# --- review suggestions -------------------------------------------------------------------------

def queue_suggestion(con: duckdb.DuckDBPyConnection, arxiv_id: str, suggested: Sequence[str], reason: str, ref: str,
                     taxonomy_version: str, options: Sequence[str] | None = None, from_label_id: int | None = None,
                     priority: float = 1.0, note: str | None = None) -> int:
    """Put one paper into the review queue with a suggestion.

    Two rows: a ``review_suggestions`` row (why, from what, which options) and a needs_review
    prediction under model_version ``suggestion:<reason>:<ref>`` carrying the suggested types, so the
    dashboard's review queue (needs_review current predictions by priority) shows it unchanged. Only the
    suggestion's own prediction row is replaced when the same suggestion is queued again.
    """
    row = con.execute(
        "INSERT INTO review_suggestions (arxiv_id, suggested_types, options, reason, ref, taxonomy_version, "
        "from_label_id, created_at) VALUES (?,?,?,?,?,?,?,?) RETURNING suggestion_id",
        [arxiv_id, list(suggested), list(options) if options else None, reason, ref, taxonomy_version,
         from_label_id, _now()],
    ).fetchone()
    model_version = f"{SUGGESTION_PREFIX}{reason}:{ref}"
    choices = list(options) if options else list(suggested)
    scores = {t: (1.0 if t == suggested[0] else 0.5) for t in choices}
    explanation = {"suggestion": {"reason": reason, "ref": ref, "options": choices, "note": note,
                                  "suggestion_id": int(row[0])}}
    relevance = "in_taxonomy" if suggested[0] not in ("other_aisec", "not_relevant") else suggested[0]
    con.execute(
        "INSERT INTO predictions (arxiv_id, model_version, taxonomy_version, relevance, type_scores, labels, role, "
        "modality, confidence, status, review_priority, explanation, content_hash, created_at) "
        "SELECT ?, ?, ?, ?, ?, ?, NULL, NULL, 0.5, 'needs_review', ?, ?, content_hash, ? FROM papers "
        "WHERE arxiv_id = ? ON CONFLICT (arxiv_id, model_version, taxonomy_version) DO UPDATE SET "
        "labels = excluded.labels, type_scores = excluded.type_scores, explanation = excluded.explanation, "
        "status = 'needs_review', review_priority = excluded.review_priority, created_at = excluded.created_at",
        [arxiv_id, model_version, taxonomy_version, relevance, json.dumps(scores), [suggested[0]], priority,
         json.dumps(explanation), _now(), arxiv_id],
    )
    return int(row[0])


def suggestions(con: duckdb.DuckDBPyConnection, reason: str | None = None, ref: str | None = None,
                open_only: bool = False) -> list[dict[str, Any]]:
    """Review suggestions; ``open_only`` keeps those no curator label has answered since."""
    sql = ("SELECT s.suggestion_id, s.arxiv_id, s.suggested_types, s.options, s.reason, s.ref, s.taxonomy_version, "
           "s.from_label_id, s.created_at, "
           "(SELECT max(l.label_id) FROM labels l WHERE l.arxiv_id = s.arxiv_id AND l.created_at >= s.created_at "
           " AND l.source <> 'taxonomy-migration') AS answered_by "
           "FROM review_suggestions s")
    sql, params = _where(sql, [("s.reason = ?", reason), ("s.ref = ?", ref)])
    sql += " ORDER BY s.suggestion_id"
    keys = ["suggestion_id", "arxiv_id", "suggested_types", "options", "reason", "ref", "taxonomy_version",
            "from_label_id", "created_at", "answered_by"]
    out = []
    for r in con.execute(sql, params).fetchall():
        d = dict(zip(keys, r, strict=True))
        d["suggested_types"] = list(d["suggested_types"] or [])
        d["options"] = list(d["options"] or [])
        if open_only and d["answered_by"] is not None:
            continue
        out.append(d)
    return out
