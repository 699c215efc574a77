"""Server-side time per dashboard page on a 100k-paper store (goal: <= 1 s a page, <= 300 ms a filter change).

What is timed, on a DuckDB file of N papers (default 100,000) built from the 32k corpus (copies get
shifted ids and dates, the text is reused), with synthetic predictions for every paper, a curator
label on ~2%, and one 384-d vector per distinct text:

- ``dashboard_page_<page>_s``: one run of the page script driven by Streamlit's AppTest, cold (the
  page's query cache is empty), timed inside the script (``run_page``), median of ``--repeat`` runs,
  each in a fresh AppTest. This is the whole server side of the page: settings, taxonomy, queries on
  a short read-only connection, DataFrames and chart specs; not the browser drawing the result, and
  not AppTest's own harness cost (reported beside it as ``apptest_wall_s``).
- ``dashboard_filter_change_<page>_s``: one rerun after changing a sidebar filter (provenance
  "curated only", a new cache key, so the queries really run), median over the repeats.
- ``dashboard_queries_<page>_s``: only the database share of the same page: its queries on one fresh
  read-only connection (the page's own connection), without Streamlit; likewise for a filter change
  and for opening one paper's detail. ``dashboard_queries_live_*``: the same on the live views, as
  when the nightly pre-aggregated facts (store/aggregates.py, refreshed in this store) are stale.
- ``dashboard_semantic_query_s``: the semantic search query inside DuckDB (cosine over every stored
  vector joined to the filtered papers), given an already-encoded query vector.

The store is cached under data/bench/ (git ignores data/); ``--rebuild`` makes it again.

    python bench/bench_dashboard.py [--papers 100000] [--corpus PATH] [--repeat 3] [--rebuild]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

PAGES = ["trends", "papers", "review", "taxonomy_page", "runs"]
PAGE_GOAL = "<= 1 s"
FILTER_GOAL = "<= 0.3 s"


def _emit(name: str, value: float, unit: str, goal: str | None = None, **extra: object) -> None:
    print(json.dumps({"name": name, "value": value, "unit": unit, "goal": goal, **extra}), flush=True)


def build(db: Path, corpus: Path, n: int) -> dict:
    from datetime import date

    from aisec_radar.records import Paper
    from aisec_radar.store import dashboard_bench as b
    from aisec_radar.store import init_db, transaction
    from aisec_radar.store.runs import finish_run, start_run
    from aisec_radar.taxonomy import load_taxonomy

    tax = load_taxonomy()
    t0 = time.perf_counter()
    db.parent.mkdir(parents=True, exist_ok=True)
    for p in (db, db.with_name(db.name + ".wal")):
        p.unlink(missing_ok=True)
    init_db(db)
    papers = []
    with gzip.open(corpus, "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            d = lambda v: date.fromisoformat(v[:10]) if v else None  # noqa: E731
            papers.append(Paper(arxiv_id=r["id"], title=r["title"], abstract=r.get("abstract") or "",
                                authors=r.get("authors") or [], categories=r.get("categories") or [],
                                primary_category=r.get("primary_category"), published=d(r.get("published")),
                                updated=d(r.get("updated")), version=r.get("version")))
    with transaction(db) as con:
        b.bulk_insert_papers(con, papers, ["cs.CR", "cs.LG"])
        b.replicate_papers(con, n)
        b.synthetic_predictions(con, "bench-model", tax.version, list(tax.type_ids), list(tax.roles),
                                list(tax.modalities))
        b.synthetic_labels(con, 50, tax.version)
        b.synthetic_embeddings(con, "all-MiniLM-L6-v2@torch", 384)
        b.refresh_facts(con)  # as the nightly job does after classify
        for status in ("ok", "ok", "failed"):
            rid = start_run(con, "nightly")
            finish_run(con, rid, status, {"new": 100}, error="bench" if status == "failed" else None)
        counts = b.table_counts(con)
    counts["build_s"] = round(time.perf_counter() - t0, 1)
    return counts


def _apptest(page: str, timeout: float = 300):
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(REPO / "aisec_radar" / "dashboard" / "views" / f"{page}.py"),
                             default_timeout=timeout)


def time_pages(repeat: int) -> None:
    """Page script time as the server spends it (measured inside run_page), and AppTest's wall time.

    AppTest adds its own cost to every run (it scans installed packages for components and polls
    for widget deltas: ~0.5-1.3 s here); a running server pays the scan once at start-up.
    """
    import streamlit as st

    from aisec_radar.dashboard.common import LAST_RUN_S

    for page in PAGES:  # warm the process (imports, first touch of the file), as a running server is
        _apptest(page).run()
    for page in PAGES:
        cold, change, wall = [], [], []
        for _ in range(repeat):
            st.cache_data.clear()
            at = _apptest(page)
            t = time.perf_counter()
            at.run()
            wall.append(time.perf_counter() - t)
            cold.append(LAST_RUN_S[page])
            if at.exception:
                raise SystemExit(f"page {page} raised: {at.exception[0].value}")
            if page in ("trends", "papers"):
                sel = at.sidebar.selectbox(key="f_provenance")
                sel.set_value("curated" if sel.value != "curated" else "all")
                at.run()
                change.append(LAST_RUN_S[page])
                at.sidebar.selectbox(key="f_provenance").set_value("all")
        _emit(f"dashboard_page_{page}_s", round(statistics.median(cold), 3), "s", PAGE_GOAL, runs=repeat,
              apptest_wall_s=round(statistics.median(wall), 3))
        if change:
            _emit(f"dashboard_filter_change_{page}_s", round(statistics.median(change), 3), "s", FILTER_GOAL,
                  runs=repeat)


def page_queries(page: str, f) -> list[tuple]:
    """The queries a page runs (cold page cache), as (name, *args) calls of aisec_radar.store.queries."""
    from aisec_radar.taxonomy import load_taxonomy

    tax = load_taxonomy()
    return {
        "trends": [("overview",), ("categories_seen",),
                   ("trend_bundle", f, "month", "axis", tax.axis_map(), list(tax.type_ids)),
                   ("period_totals", f, "month")],
        "papers": [("overview",), ("categories_seen",), ("search_page", f, "", "newest", 200)],
        "review": [("overview",), ("review_remaining",), ("review_queue", 1)],
        "taxonomy_page": [("overview",), ("type_summary", list(tax.label_ids)), ("agreement", list(tax.label_ids)),
                          ("reviewed_pairs",)],
        "runs": [("overview",), ("runs_table", 100), ("checkpoints_table",)],
    }[page]


def time_queries(db: Path, repeat: int, live: bool = False) -> None:
    """The database share of each page: its queries on one fresh read-only connection, as a page run does.

    By default through the dashboard's own dispatch (pre-aggregated facts when fresh); ``live`` forces
    the live views (store/queries.py), as a store whose facts are stale is read.
    """
    from aisec_radar.dashboard.common import _query
    from aisec_radar.store import connect, queries

    suffix = "_live" if live else ""

    def run(calls: list[tuple]) -> float:
        t = time.perf_counter()
        with connect(db, read_only=True) as con:
            for name, *args in calls:
                (getattr(queries, name) if live else _query(name))(con, *args)
        return time.perf_counter() - t

    for page in PAGES:
        times = [run(page_queries(page, queries.Filters())) for _ in range(repeat)]
        _emit(f"dashboard_queries{suffix}_{page}_s", round(statistics.median(times), 3), "s", PAGE_GOAL, runs=repeat)
    curated = queries.Filters(provenance="curated")
    for page in ("trends", "papers"):
        calls = [c for c in page_queries(page, curated) if c[0] not in ("overview", "categories_seen")]
        times = [run(calls) for _ in range(repeat)]
        _emit(f"dashboard_queries{suffix}_filter_change_{page}_s", round(statistics.median(times), 3), "s", FILTER_GOAL,
              runs=repeat)
    # detail of one paper (Papers page, after a click)
    with connect(db, read_only=True) as con:
        aid = queries.search_papers(con, queries.Filters(), "", "newest", 1)["arxiv_id"][0]
    times = [run([("paper_detail", aid)]) for _ in range(repeat)]
    _emit(f"dashboard_queries{suffix}_paper_detail_s", round(statistics.median(times), 3), "s", FILTER_GOAL,
          runs=repeat)


def time_semantic(db: Path, repeat: int) -> None:
    import random

    from aisec_radar.dashboard.common import _query
    from aisec_radar.store import connect, queries

    vec = [random.random() - 0.5 for _ in range(384)]
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        with connect(db, read_only=True) as con:
            df = _query("semantic_search")(con, queries.Filters(), vec, "all-MiniLM-L6-v2@torch", limit=200)
        times.append(time.perf_counter() - t)
    assert len(df) == 200
    _emit("dashboard_semantic_query_s", round(statistics.median(times), 3), "s", "<= 1 s", runs=repeat)


def _papers_in(db: Path) -> int:
    """Papers in a complete earlier build (0 when missing or half-built: the build is one transaction)."""
    if not db.exists():
        return 0
    from aisec_radar.store import connect, queries

    with connect(db, read_only=True) as con:
        return queries.overview(con)["papers"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--papers", type=int, default=100_000)
    ap.add_argument("--corpus", default=os.environ.get("AISEC_RADAR_CORPUS", str(REPO.parent / "shared" / "arxiv"
                                                                                    / "corpus.jsonl.gz")))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--db", default=None, help="store to use/build (default data/bench/dashboard_<N>.duckdb)")
    args = ap.parse_args()
    corpus = Path(args.corpus)
    db = Path(args.db) if args.db else REPO / "data" / "bench" / f"dashboard_{args.papers}.duckdb"
    if args.rebuild or _papers_in(db) < args.papers:
        if not corpus.exists():
            print(json.dumps({"name": "dashboard_page_trends_s", "skipped": f"corpus {corpus} not found"}))
            return
        counts = build(db, corpus, args.papers)
        _emit("dashboard_bench_store_build_s", counts["build_s"], "s", None,
              **{k: v for k, v in counts.items() if k != "build_s"})
    os.environ["AISEC_RADAR_DB_PATH"] = str(db)
    os.environ.pop("AISEC_RADAR_CURATOR_SECRET_HASH", None)
    _emit("dashboard_bench_store_mb", round(db.stat().st_size / 2**20, 1), "MiB", None, papers=args.papers)
    _emit("dashboard_bench_load_average_1m", round(os.getloadavg()[0], 2), "load", None,
          note="other processes on this machine slow every figure below")
    time_queries(db, args.repeat)
    time_queries(db, args.repeat, live=True)
    time_pages(args.repeat)
    time_semantic(db, args.repeat)


if __name__ == "__main__":
    main()
