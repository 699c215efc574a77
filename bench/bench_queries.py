"""Dashboard pages and semantic search timed on scale stores (100k and 1M papers).

Each page is the list of `aisec_radar.store.queries` calls its Streamlit module makes, on one
read-only connection opened for the page (as `dashboard/common.run_page` does, query cache missed);
the open is part of the page time. The figure is the
median over --reps runs of the whole page, plus the slowest single query. Semantic search is timed
on the query vector alone (encoding one query text is a separate ~20-50 ms).

The 100k store is built with bench/scale.py if missing (about a minute); the 1M store is used only
if it exists (build it with `python bench/scale.py --papers 1000000`), or with --build-1m. Usage:

    python bench/bench_queries.py [--sizes 100000,1000000] [--reps 3] [--build-1m]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PAGE_GOAL_MS = 1000.0


def emit(name: str, value: Any, unit: str, goal: str | None = None, **extra: Any) -> None:
    obj = {"name": name, "value": value, "unit": unit}
    if goal is not None:
        obj["goal"] = goal
    obj.update(extra)
    print(json.dumps(obj), flush=True)


def store_path(n: int) -> Path:
    return REPO / "data" / f"scale-{n}.duckdb"


def pages(path: Path) -> dict[str, list[tuple[str, tuple, dict]]]:
    """Per dashboard page: (queries function, args, kwargs) in the order the page calls them."""
    from aisec_radar.store import connect, queries
    from aisec_radar.taxonomy import load_taxonomy

    tax = load_taxonomy()
    with connect(path, read_only=True) as con:
        ov = queries.overview(con)
        row = con.execute("SELECT p.arxiv_id, e.vector FROM papers p JOIN embeddings e USING (content_hash) "
                          "ORDER BY p.arxiv_id DESC LIMIT 1").fetchone()
    last = ov.get("last_date")
    type_ids = list(tax.type_ids)
    label_ids = list(tax.label_ids)
    f = queries.Filters(taxonomy_types=tuple(type_ids))
    if last:  # the sidebar's default window: the last two years
        f = replace(f, date_from=max(ov["first_date"], last - timedelta(days=730)), date_to=last)
    amap = tax.axis_map()
    header = [("overview", (), {}), ("categories_seen", (), {})]
    out = {
        "trends": [*header, ("count_papers", (f,), {}), ("count_papers", (replace(f, scope="taxonomy"),), {}),
                   ("period_totals", (f, "month"), {}), ("trend_axis_counts", (f, "month", amap), {})],
        "trends_by_type": [("trend_type_counts", (f, "month", type_ids), {})],
        "papers": [*header, ("count_papers", (f, ""), {}), ("search_papers", (f, "", "newest"), {"limit": 50})],
        "papers_keyword": [("count_papers", (f, "membership inference"), {}),
                           ("search_papers", (f, "membership inference", "newest"), {"limit": 50})],
        "papers_all_years_by_confidence": [("count_papers", (queries.Filters(),), {}),
                                           ("search_papers", (queries.Filters(), "", "confidence"), {"limit": 50})],
        "review": [("review_remaining", (), {}), ("review_queue", (1, ()), {})],
        "taxonomy": [("type_summary", (label_ids,), {}), ("agreement", (label_ids,), {}), ("reviewed_pairs", (), {})],
        "runs": [("runs_table", (100,), {}), ("checkpoints_table", (), {})],
    }
    if row is not None:
        vec = list(row[1])
        out["paper_detail"] = [("paper_detail", (row[0],), {})]
        out["semantic_search"] = [("embeddings_available", ("all-MiniLM-L6-v2@torch",), {}),
                                  ("semantic_search", (f, vec, "all-MiniLM-L6-v2@torch"), {"limit": 50})]
        out["semantic_search_all_years"] = [("semantic_search", (queries.Filters(), vec, "all-MiniLM-L6-v2@torch"),
                                             {"limit": 50})]
    return out


def time_page(path: Path, calls: list[tuple[str, tuple, dict]], reps: int,
              facts: bool = False) -> tuple[float, dict[str, float]]:
    """Median page wall time (ms, connection open included) and each query's median (ms).

    facts=True calls store.aggregates' version of a query where there is one (paper_facts, IVF).
    """
    from aisec_radar.store import aggregates, connect, queries

    def fn(name: str) -> Any:
        return (getattr(aggregates, name, None) if facts else None) or getattr(queries, name)

    page_ms: list[float] = []
    per: dict[str, list[float]] = {}
    for _ in range(reps):
        t_page = time.perf_counter()
        with connect(path, read_only=True) as con:
            for i, (name, args, kwargs) in enumerate(calls):
                t0 = time.perf_counter()
                fn(name)(con, *args, **kwargs)
                per.setdefault(f"{i}:{name}", []).append((time.perf_counter() - t0) * 1000)
        page_ms.append((time.perf_counter() - t_page) * 1000)
    return statistics.median(page_ms), {k: statistics.median(v) for k, v in per.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--build-1m", action="store_true", help="build missing stores of any size")
    ap.add_argument("--pages", default="", help="comma-separated page names to time (default: all)")
    args = ap.parse_args()
    for n in [int(x) for x in args.sizes.split(",") if x]:
        path = store_path(n)
        if not path.exists():
            if n > 200_000 and not args.build_1m:
                emit(f"queries.{n}", None, "skipped", reason=f"{path} missing; python bench/scale.py --papers {n}")
                continue
            subprocess.run([sys.executable, str(REPO / "bench" / "scale.py"), "--papers", str(n), "--out",
                            str(path)], check=True, stdout=sys.stderr)
        from aisec_radar.store import aggregates, connect

        with connect(path, read_only=True) as con:
            fresh = aggregates.facts_fresh(con)
        wanted = {x for x in args.pages.split(",") if x}
        for page, calls in pages(path).items():
            if wanted and page not in wanted:
                continue
            for facts in (False, True) if fresh else (False,):
                median_ms, per = time_page(path, calls, args.reps, facts)
                slowest = max(per, key=per.get)
                emit(f"queries.{n}.{page}{'.facts' if facts else '.live'}", round(median_ms, 1), "ms/page",
                     f"<= {PAGE_GOAL_MS:.0f}", slowest=slowest.split(":", 1)[1], slowest_ms=round(per[slowest], 1),
                     reps=args.reps)


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
