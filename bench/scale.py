"""Scale generator: a DuckDB store of N papers built from the real corpus, for timing at 100k and 1M.

Why synthetic-from-real: the dashboard's cost depends on row counts, text lengths, date spread and
label mix, not on the papers being distinct. So each corpus record is reused ceil(N / 32k) times;
copy c is shifted c * 6 months back in time and gets a fresh arXiv-style id for its shifted month
(yymm.nnnnn) and its own content hash. Each paper gets one prediction (relevance/type mix close to
the stream's), ~1% get curator labels (some relabelled), ~0.1% are survey citations, and each gets a
384-d unit embedding under the dashboard's encoder key: the vector of its source record's cluster
plus noise (random, seeded): brute-force search costs the same for any values, and copies of one
text stay near each other as real re-posted texts would.

Everything heavy runs inside DuckDB (insert ... select over range()); embeddings go in as Arrow
chunks so memory stays flat. Prints one JSON object per figure (build seconds, file size, peak RSS)
and refuses to overwrite a file unless --force. Usage:

    python bench/scale.py --papers 100000 --out data/scale-100k.duckdb [--force] [--no-embeddings]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("AISEC_RADAR_SHARED", REPO.parent / "shared"))
EMBED_KEY = "all-MiniLM-L6-v2@torch"  # what encoder_model_key() gives for the default settings
DIM = 384
SHIFT_MONTHS = 6
MODEL_VERSION = "scale-synthetic"
CHUNK = 50_000


def peak_rss_mb() -> float:
    """Peak resident memory of this process (DuckDB runs in-process, so it is counted)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def emit(name: str, value: float | int | str, unit: str, **extra: object) -> None:
    print(json.dumps({"name": name, "value": value, "unit": unit, **extra}), flush=True)


def _load_source(con, corpus: Path) -> int:  # noqa: ANN001 - duckdb connection
    con.execute(
        "CREATE TEMP TABLE src AS SELECT row_number() OVER () - 1 AS k, * FROM read_json(?, "
        "format='newline_delimited', columns={id: 'VARCHAR', version: 'INTEGER', title: 'VARCHAR', "
        "abstract: 'VARCHAR', authors: 'VARCHAR[]', categories: 'VARCHAR[]', primary_category: 'VARCHAR', "
        "published: 'DATE', updated: 'DATE'})",
        [str(corpus)],
    )
    # The record's month: published, else the new-style id's yymm (as the dashboard does), else mid-2025.
    con.execute(
        "CREATE TEMP TABLE srcd AS SELECT *, coalesce(published, CASE WHEN regexp_matches(id, "
        "'^[0-9]{4}\\.[0-9]{4,5}$') THEN make_date(2000 + CAST(substr(id, 1, 2) AS INTEGER), "
        "CAST(substr(id, 3, 2) AS INTEGER), 1) END, DATE '2025-06-01') AS base_date FROM src"
    )
    return int(con.execute("SELECT count(*) FROM src").fetchone()[0])


def build(out: Path, n: int, corpus: Path, embeddings: bool = True, seed: int = 7,
          memory_limit: str = "4GB", aggregates: bool = True) -> dict[str, float]:
    """Create `out` with n papers (+ predictions, labels, citations, embeddings); return timings."""
    import duckdb

    from aisec_radar.store import init_db
    from aisec_radar.taxonomy import load_taxonomy

    types = list(load_taxonomy().type_ids)
    t0 = time.perf_counter()
    init_db(out)
    con = duckdb.connect(str(out))
    timings: dict[str, float] = {}
    try:
        con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute("SET preserve_insertion_order = false")
        n_src = _load_source(con, corpus)
        con.execute(
            "CREATE TEMP TABLE gen AS "
            "WITH g AS (SELECT i, i % $s AS k, i // $s AS copy FROM range($n) t(i)), "
            "d AS (SELECT g.*, CAST(s.base_date - to_months(CAST(copy * $m AS INTEGER)) AS DATE) AS d "
            "FROM g JOIN srcd s USING (k)) "
            "SELECT *, strftime(d, '%y%m') || '.' || lpad(CAST(row_number() OVER "
            "(PARTITION BY strftime(d, '%y%m') ORDER BY i) AS VARCHAR), 5, '0') AS arxiv_id FROM d",
            {"s": n_src, "n": n, "m": SHIFT_MONTHS},
        )
        timings["ids_s"] = time.perf_counter() - t0
        con.execute("BEGIN TRANSACTION")
        # Papers in date order: DuckDB's zone maps then skip row groups outside a date filter.
        con.execute(
            "INSERT INTO papers (arxiv_id, latest_version, title, abstract, authors, categories, "
            "primary_category, is_cross_list, published, updated, doi, content_hash, first_seen, last_seen) "
            "SELECT g.arxiv_id, coalesce(s.version, 1), s.title, s.abstract, s.authors, s.categories, "
            "s.primary_category, NOT list_contains(['cs.CR', 'cs.LG'], s.primary_category), "
            "CASE WHEN s.published IS NULL THEN NULL ELSE g.d END, "
            "CASE WHEN s.updated IS NULL THEN NULL "
            "ELSE CAST(g.d + to_days(CAST(s.updated - s.base_date AS INTEGER)) AS DATE) END, "
            "NULL, "
            "substr(md5(s.title || coalesce(s.abstract, '') || g.copy), 1, 32), "
            "CAST(g.d AS TIMESTAMP), CAST(g.d AS TIMESTAMP) "
            "FROM gen g JOIN srcd s USING (k) ORDER BY g.d, g.arxiv_id"
        )
        con.execute(
            "INSERT INTO paper_versions (arxiv_id, version, submitted, title, content_hash, seen_at) "
            "SELECT arxiv_id, latest_version, CAST(coalesce(published, first_seen) AS TIMESTAMP), title, "
            "content_hash, first_seen FROM papers"
        )
        timings["papers_s"] = time.perf_counter() - t0
        # One prediction per paper. hash() gives stable pseudo-random draws per id: ~6% in the taxonomy,
        # ~6% other AI security, the rest not relevant; 20% need review (as the stream sends).
        con.execute(
            "CREATE TEMP TABLE draws AS SELECT arxiv_id, content_hash, first_seen, "
            "CAST(hash(arxiv_id || 'r') % 1000 AS INTEGER) AS r, CAST(hash(arxiv_id || 't') % $nt AS INTEGER) AS t1, "
            "CAST(hash(arxiv_id || 'u') % $nt AS INTEGER) AS t2, CAST(hash(arxiv_id || 's') % 100 AS INTEGER) AS s, "
            "CAST(hash(arxiv_id || 'c') % 1000 AS INTEGER) / 1000.0 AS c FROM papers",
            {"nt": len(types)},
        )
        con.execute(
            "INSERT INTO predictions (arxiv_id, model_version, taxonomy_version, relevance, type_scores, labels, "
            "role, modality, confidence, status, review_priority, explanation, content_hash, created_at) "
            "SELECT arxiv_id, $mv, 'scale', "
            "CASE WHEN r < 60 THEN 'in_taxonomy' WHEN r < 120 THEN 'other_aisec' ELSE 'not_relevant' END, "
            "to_json(map_from_entries(list_transform($types, lambda x: {'k': x, 'v': "
            "round(CASE WHEN x = $types[t1 + 1] THEN 0.5 + c / 2 ELSE c / 20 END, 4)}))), "
            "CASE WHEN r >= 60 THEN [] WHEN s < 15 AND t2 <> t1 THEN [$types[t1 + 1], $types[t2 + 1]] "
            "ELSE [$types[t1 + 1]] END, "
            "CASE WHEN r < 120 THEN ['attack', 'defense', 'evaluation', 'analysis', 'survey'][s % 5 + 1] END, "
            "CASE WHEN r < 120 THEN ['text', 'image', 'multimodal', 'other'][s % 4 + 1] END, "
            "0.5 + c / 2, CASE WHEN s < 20 THEN 'needs_review' ELSE 'auto' END, "
            "CASE WHEN s < 20 THEN 1 - c ELSE 0 END, "
            "'{\"cues\": {}, \"neighbours\": []}', content_hash, first_seen + INTERVAL 1 DAY FROM draws",
            {"mv": MODEL_VERSION, "types": types},
        )
        # Curator labels on ~1% (relevant papers and review-queue papers first), 10% of them relabelled.
        con.execute(
            "INSERT INTO labels (arxiv_id, types, role, curator, source, taxonomy_version, created_at) "
            "SELECT arxiv_id, CASE WHEN r < 90 THEN [$types[t1 + 1]] WHEN r < 150 THEN ['other_aisec'] "
            "ELSE ['not_relevant'] END, 'attack', 'scale', 'import', 'scale', first_seen + INTERVAL 3 DAY "
            "FROM draws WHERE (r < 120 AND s % 10 = 0) OR (s < 20 AND r % 50 = 0)",
            {"types": types},
        )
        con.execute(
            "INSERT INTO labels (arxiv_id, types, role, curator, source, taxonomy_version, created_at) "
            "SELECT arxiv_id, [$types[t2 + 1]], 'defense', 'scale2', 'dashboard', 'scale', "
            "first_seen + INTERVAL 10 DAY FROM draws WHERE r < 120 AND s = 0",
            {"types": types},
        )
        con.execute(
            "INSERT INTO survey_citations (arxiv_id, bibkey, title, matched_by, imported_at) "
            "SELECT d.arxiv_id, 'key' || d.arxiv_id, p.title, 'eprint', now() FROM draws d "
            "JOIN papers p USING (arxiv_id) WHERE d.r < 60 AND d.s % 20 = 1"
        )
        con.execute("INSERT INTO runs (kind, started_at, finished_at, status, counts) "
                    "VALUES ('scale', now(), now(), 'ok', ?)", [json.dumps({"papers": n})])
        con.execute("COMMIT")
        timings["predictions_labels_s"] = time.perf_counter() - t0
        if embeddings:
            _embeddings(con, n_src, seed)
            timings["embeddings_s"] = time.perf_counter() - t0
        con.execute("CHECKPOINT")
        # What the nightly job does after classify: paper facts and the IVF layout (migration 007).
        if aggregates:
            from aisec_radar.store.aggregates import refresh_aggregates

            con.execute("BEGIN TRANSACTION")
            refresh_aggregates(con)
            con.execute("COMMIT")
            con.execute("CHECKPOINT")
            timings["aggregates_s"] = time.perf_counter() - t0
    finally:
        con.close()
    timings["total_s"] = time.perf_counter() - t0
    return timings


def _embeddings(con, n_src: int, seed: int) -> None:  # noqa: ANN001 - duckdb connection
    """One unit vector per paper: its source record's random centre plus noise, written in Arrow chunks."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_src, DIM)).astype(np.float32)
    keys = con.execute("SELECT p.content_hash, g.k FROM papers p JOIN gen g USING (arxiv_id)").to_arrow_table()
    hashes_all = keys.column(0)
    ks_all = keys.column(1).to_numpy()
    con.execute("BEGIN TRANSACTION")
    for start in range(0, len(ks_all), CHUNK):
        ks = ks_all[start:start + CHUNK]
        vec = centres[ks] + 0.35 * rng.standard_normal((len(ks), DIM)).astype(np.float32)
        vec /= np.linalg.norm(vec, axis=1, keepdims=True)
        flat = pa.array(vec.reshape(-1), pa.float32())
        offsets = pa.array(np.arange(0, vec.size + 1, DIM, dtype=np.int32))
        table = pa.table({"content_hash": hashes_all.slice(start, len(ks)),
                          "vector": pa.ListArray.from_arrays(offsets, flat)})
        con.register("_chunk", table)
        con.execute("INSERT INTO embeddings (content_hash, model, vector) SELECT content_hash, ?, vector "
                    "FROM _chunk", [EMBED_KEY])
        con.unregister("_chunk")
    con.execute("COMMIT")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--papers", type=int, default=100_000)
    ap.add_argument("--out", default="", help="DuckDB file to create (default data/scale-<n>.duckdb)")
    ap.add_argument("--corpus", default=os.environ.get("AISEC_RADAR_CORPUS",
                                                       str(SHARED / "arxiv" / "corpus.jsonl.gz")))
    ap.add_argument("--force", action="store_true", help="replace an existing file")
    ap.add_argument("--no-embeddings", action="store_true")
    ap.add_argument("--no-aggregates", action="store_true", help="skip refresh_aggregates (time the live views)")
    ap.add_argument("--memory-limit", default="4GB", help="DuckDB memory_limit for the build")
    args = ap.parse_args()
    out = Path(args.out or REPO / "data" / f"scale-{args.papers}.duckdb")
    corpus = Path(args.corpus)
    if not corpus.exists():
        sys.exit(f"scale: corpus {corpus} not found (set AISEC_RADAR_CORPUS)")
    if out.exists():
        if not args.force:
            sys.exit(f"scale: {out} exists; pass --force to rebuild it")
        out.unlink()
        Path(str(out) + ".wal").unlink(missing_ok=True)
    timings = build(out, args.papers, corpus, embeddings=not args.no_embeddings, memory_limit=args.memory_limit,
                    aggregates=not args.no_aggregates)
    tag = f"scale.{args.papers}"
    emit(f"{tag}.build_time", round(timings["total_s"], 1), "s", **{k: round(v, 1) for k, v in timings.items()})
    emit(f"{tag}.file_size", round(out.stat().st_size / 2**20, 1), "MiB", path=str(out))
    emit(f"{tag}.peak_rss", round(peak_rss_mb(), 1), "MiB")


if __name__ == "__main__":
    main()
