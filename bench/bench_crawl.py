"""Crawler benchmark: harvest throughput and peak memory against the local arXiv stand-in.

Prints one JSON object per figure (name, value, unit, goal). Needs ../shared/arxiv/corpus.jsonl.gz
(or AISEC_RADAR_CORPUS). The stand-in runs in its own process (as arXiv would), the harvest in
another, with delays off and arXiv's real page size (2,500 records), so the figures are the
crawler's own cost: HTTP, strict parsing, filtering and the per-page DuckDB transaction.

Memory: the harvest is run on an 8k-paper slice and on the whole 32k corpus; peak RSS must not
grow with the corpus (pages are processed and dropped one at a time).

Usage: python bench/bench_crawl.py [--sizes 8000,0] (0 = whole corpus)
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "arxiv" / "corpus.jsonl.gz"

_HARVEST = r"""
import json, resource, sys, time
import aisec_radar.crawler.oai as oai
from aisec_radar.config import Settings
from aisec_radar.crawler import harvest
from aisec_radar.store import init_db
db, base = sys.argv[1], sys.argv[2]
settled = []
busy = [0.0]  # wall time spent parsing and storing (not waiting for the server)
_commit, _parse = oai.commit_page, oai.parse_oai_page
def commit_and_sample(*a, **k):  # RSS once each page is stored: what a longer harvest would keep
    t = time.perf_counter()
    out = _commit(*a, **k)
    busy[0] += time.perf_counter() - t
    settled.append(int(open("/proc/self/statm").read().split()[1]) * resource.getpagesize() / 2**20)
    return out
def timed_parse(body):
    t = time.perf_counter()
    out = _parse(body)
    busy[0] += time.perf_counter() - t
    return out
oai.commit_page, oai.parse_oai_page = commit_and_sample, timed_parse
init_db(db)
s = Settings(db_path=db, oai_base_url=base + "/oai", crawl_delay=0.0, crawl_retries=2)
r0 = resource.getrusage(resource.RUSAGE_SELF)
t = time.perf_counter()
r = harvest(s, progress=False)
dt = time.perf_counter() - t
r1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
print(json.dumps({"seconds": dt, "cpu_seconds": cpu, "busy_seconds": busy[0], "counts": r.counts,
                  "maxrss_mb": r1.ru_maxrss / 1024, "settled_rss_mb": max(settled)}))
"""

_PARSE = r"""
import json, sys, time, urllib.request
from aisec_radar.crawler.parsers import parse_oai_page
base = sys.argv[1]
url = base + "/oai?verb=ListRecords&metadataPrefix=arXivRaw&set=cs:cs:LG"
with urllib.request.urlopen(url) as resp:
    body = resp.read()
best = None
for _ in range(3):
    t = time.perf_counter()
    page = parse_oai_page(body)
    dt = time.perf_counter() - t
    best = dt if best is None else min(best, dt)
print(json.dumps({"records": len(page.papers), "seconds": best}))
"""


def _emit(name: str, value: float, unit: str, goal: str, **extra: object) -> None:
    print(json.dumps({"name": name, "value": round(value, 2), "unit": unit, "goal": goal, **extra}), flush=True)


def _serve(corpus: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", "from aisec_radar.cli import main; main()", "serve-arxiv", "--corpus", str(corpus),
         "--port", "0", "--page-size", "2500"],
        stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    base = None
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if "OAI-PMH:" in line:
            base = line.split("OAI-PMH:")[1].strip().removesuffix("/oai")
            break
    if base is None:
        proc.kill()
        raise SystemExit("stand-in did not start")
    return proc, base


def _slice(corpus: Path, n: int, out: Path) -> Path:
    with gzip.open(corpus, "rt", encoding="utf-8") as f, out.open("w", encoding="utf-8") as g:
        for i, line in enumerate(f):
            if i >= n:
                break
            g.write(line)
    return out


def run(corpus: Path, sizes: list[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rss: dict[str, float] = {}
        settled: dict[str, float] = {}
        for n in sizes:
            src = corpus if n == 0 else _slice(corpus, n, Path(tmp) / f"slice{n}.jsonl")
            proc, base = _serve(src)
            try:
                db = str(Path(tmp) / f"bench{n}.duckdb")
                out = subprocess.run([sys.executable, "-c", _HARVEST, db, base], capture_output=True, text=True,
                                     check=True)
                res = json.loads(out.stdout.strip().splitlines()[-1])
                if n == 0:
                    parse = subprocess.run([sys.executable, "-c", _PARSE, base], capture_output=True, text=True,
                                           check=True)
                    pres = json.loads(parse.stdout.strip().splitlines()[-1])
            finally:
                proc.terminate()
                proc.wait(timeout=30)
            c = res["counts"]
            label = "all" if n == 0 else f"{n // 1000}k"
            rss[label] = res["maxrss_mb"]
            _emit(f"crawl_harvest_throughput_{label}", c["records"] / res["seconds"], "records/s",
                  "end to end incl. scrapy start-up and waiting for the stand-in",
                  records=c["records"], stored=c["new"], pages=c["pages"], seconds=round(res["seconds"], 1))
            _emit(f"crawl_parse_store_throughput_{label}", c["records"] / res["busy_seconds"], "records/s",
                  ">= 2000", note="wall time in parsing + per-page transactions, server wait excluded")
            _emit(f"crawl_harvest_records_per_cpu_second_{label}", c["records"] / res["cpu_seconds"],
                  "records/cpu-s", ">= 2000 (load-independent view of the same run)",
                  cpu_seconds=round(res["cpu_seconds"], 1))
            _emit(f"crawl_peak_rss_{label}", res["maxrss_mb"], "MiB", "flat with corpus size")
            _emit(f"crawl_settled_rss_{label}", res["settled_rss_mb"], "MiB",
                  "flat with corpus size (largest RSS right after a page is stored)")
            settled[label] = res["settled_rss_mb"]
            if n == 0:
                _emit("crawl_parse_throughput", pres["records"] / pres["seconds"], "records/s",
                      "(parsing alone, one 2,500-record arXivRaw page)")
        if len(rss) > 1:
            small, big = list(rss.values())[0], list(rss.values())[-1]
            _emit("crawl_peak_rss_growth", big / small, "x (largest / smallest corpus)", "<= 1.2")
            small, big = list(settled.values())[0], list(settled.values())[-1]
            _emit("crawl_settled_rss_growth", big / small, "x (largest / smallest corpus)", "<= 1.2")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="8000,0", help="comma-separated corpus sizes; 0 = the whole corpus")
    ap.add_argument("--corpus", default=os.environ.get("AISEC_RADAR_CORPUS", str(DEFAULT_CORPUS)))
    args = ap.parse_args()
    corpus = Path(args.corpus)
    if not corpus.exists():
        print(json.dumps({"name": "crawl_harvest_throughput_all", "value": None, "unit": "records/s",
                          "goal": ">= 2000", "skipped": f"corpus {corpus} not found"}))
        return
    run(corpus, [int(s) for s in args.sizes.split(",")])


if __name__ == "__main__":
    main()
