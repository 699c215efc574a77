"""Time a `make demo`-style run: the local arXiv stand-in serves the corpus over HTTP, the real
nightly job harvests it (OAI-PMH, no polite delay) and classifies every paper (encoder + heads).

    python bench/bench_demo.py                 # the whole 32k corpus (about 20+ minutes on 2 cores)
    python bench/bench_demo.py --limit 2000    # the newest 2,000 records, extrapolated to the corpus

Prints one JSON object per figure: name, value, unit, goal (and papers/note). With --limit the
full-corpus figure is a linear extrapolation from the measured per-paper rates, and says so.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = Path(os.environ.get("AISEC_RADAR_CORPUS", REPO.parent / "shared" / "arxiv" / "corpus.jsonl.gz"))
GOAL_MIN = 15.0


def emit(name: str, value: float, unit: str, goal: str | None = None, **extra: object) -> None:
    print(json.dumps({"name": name, "value": round(value, 3), "unit": unit, "goal": goal, **extra}), flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--limit", type=int, default=None, help="Serve only the newest N records.")
    ap.add_argument("--db", type=Path, default=None, help="Database file (default: a temporary one).")
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args()
    if not args.corpus.exists():
        print(json.dumps({"name": "demo_skipped", "value": 0, "unit": "", "goal": None,
                          "note": f"corpus {args.corpus} not found"}))
        return 0

    from aisec_radar import jobs
    from aisec_radar.config import Settings
    from aisec_radar.crawler.corpus import load_corpus
    from aisec_radar.crawler.standin import run_standin
    from aisec_radar.store import connect

    t0 = time.monotonic()
    records = load_corpus(args.corpus)
    total_corpus = len(records)
    if args.limit:
        records = records[-args.limit:]
    load_s = time.monotonic() - t0
    tmp = tempfile.TemporaryDirectory()
    db = args.db or Path(tmp.name) / "bench.duckdb"
    t1 = time.monotonic()
    with run_standin(records) as base:
        s = jobs.with_base_url(Settings(db_path=str(db), crawl_delay=0.0), base)
        report = jobs.run_nightly(s, retrain=False, digest_dir=Path(tmp.name) / "digests", progress=args.progress)
    wall = time.monotonic() - t1
    with connect(db, read_only=True) as con:
        papers = int(con.execute("SELECT count(*) FROM papers").fetchone()[0])
    n = len(records)
    t = report.timings
    crawl_s, classify_s = t.get("crawl", 0.0), t.get("classify", 0.0)
    note = "" if report.ok else f"stage {report.failed_stage} failed: {report.error}"
    emit("demo_corpus_load_s", load_s, "s", papers=total_corpus)
    emit("demo_crawl_s", crawl_s, "s", papers=papers, note=note)
    emit("demo_crawl_rate", papers / crawl_s if crawl_s else 0.0, "papers/s", papers=papers)
    classified = "classify" in report.counts  # timings are kept for a failed stage too
    if classified:
        emit("demo_classify_s", classify_s, "s", papers=papers)
        emit("demo_classify_rate", papers / classify_s if classify_s else 0.0, "papers/s", papers=papers)
    emit("demo_nightly_wall_s", wall, "s", papers=papers, note=note)
    if n >= total_corpus:
        emit("demo_full_corpus_min", (load_s + wall) / 60, "min", goal=f"<= {GOAL_MIN:.0f} min", papers=papers)
    elif papers and classified:
        # per-paper costs scale linearly (pages of 2,500 records, batches of texts); the fixed part
        # (model load, digest, process start) is counted once
        fixed = wall - crawl_s - classify_s
        per_paper = (crawl_s + classify_s) / papers
        est = (load_s + fixed + per_paper * total_corpus) / 60
        emit("demo_full_corpus_min_extrapolated", est, "min", goal=f"<= {GOAL_MIN:.0f} min", papers=total_corpus,
             note=f"linear extrapolation from {papers} papers")
    tmp.cleanup()
    return 0 if report.ok else report.exit_code


if __name__ == "__main__":
    sys.exit(main())
