"""Classifier throughput: raw SentenceTransformer.encode vs `classify` end to end, same texts, one run.

End to end = read papers from DuckDB, encode (cache empty), cue matching, heads, explanations,
write embeddings + predictions; with the torch backend (same encoder as the raw figure) and with the
configured default backend. Prints one JSON object per figure. Usage:

    python bench/bench_classify.py [--n 400] [--corpus ../shared/arxiv/corpus.jsonl.gz]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _papers(corpus: Path, n: int) -> list:
    from aisec_radar.records import Paper

    out = []
    with gzip.open(corpus, "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r.get("abstract"):
                out.append(Paper(arxiv_id=r["id"], title=r["title"], abstract=r["abstract"]))
            if len(out) >= n:
                break
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--corpus", default=os.environ.get("AISEC_RADAR_CORPUS",
                                                       str(REPO.parent / "shared" / "arxiv" / "corpus.jsonl.gz")))
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    from aisec_radar.classify import classify_pending
    from aisec_radar.classify.encoder import get_encoder, paper_text
    from aisec_radar.config import Settings
    from aisec_radar.store import init_db, transaction
    from aisec_radar.store.papers import upsert_papers

    papers = _papers(Path(args.corpus), args.n)
    texts = [paper_text(p.title, p.abstract) for p in papers]
    torch_settings = replace(Settings(), encoder_backend="torch")
    default = Settings()
    model = get_encoder(torch_settings).model  # the same SentenceTransformer object classify uses (loaded once)
    model.encode(texts[:32], batch_size=32)  # warm-up
    if default.encoder_backend != "torch":
        get_encoder(default).encode(texts[:32])  # load and warm the default backend too
    raw: list[float] = []
    e2e: dict[str, list[float]] = {"torch": [], default.encoder_backend: []}
    cached: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            t0 = time.perf_counter()
            model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
            raw.append(len(texts) / (time.perf_counter() - t0))
            for backend in e2e:
                db = Path(tmp) / f"bench{r}{backend}.duckdb"
                init_db(db)
                with transaction(db) as con:
                    upsert_papers(con, papers)
                s = replace(default, db_path=str(db), encoder_backend=backend)
                t0 = time.perf_counter()
                counts = classify_pending(s, progress=False)
                e2e[backend].append(counts["classified"] / (time.perf_counter() - t0))
                assert counts["encoded"] == len(texts), counts
                if backend == "torch":
                    t0 = time.perf_counter()
                    counts = classify_pending(s, all_papers=True, progress=False)
                    cached.append(counts["classified"] / (time.perf_counter() - t0))
    raw_best = max(raw)
    figures = [
        {"name": "classify.raw_encode", "value": round(raw_best, 2), "unit": "texts/s",
         "goal": "baseline: SentenceTransformer.encode, all-MiniLM-L6-v2, torch, batch 32", "n": len(texts)},
        {"name": "classify.end_to_end_torch", "value": round(max(e2e["torch"]), 2), "unit": "papers/s",
         "goal": ">= 0.9x classify.raw_encode", "n": len(texts)},
        {"name": "classify.end_to_end_torch_ratio", "value": round(max(e2e["torch"]) / raw_best, 3),
         "unit": "x raw encode", "goal": ">= 0.9"},
    ]
    if default.encoder_backend != "torch":
        best = max(e2e[default.encoder_backend])
        figures += [
            {"name": f"classify.end_to_end_{default.encoder_backend}", "value": round(best, 2), "unit": "papers/s",
             "goal": "default backend; >= 0.9x classify.raw_encode", "n": len(texts)},
            {"name": f"classify.end_to_end_{default.encoder_backend}_ratio", "value": round(best / raw_best, 3),
             "unit": "x raw (torch) encode", "goal": ">= 0.9"},
        ]
    figures.append({"name": "classify.reclassify_cached", "value": round(max(cached), 1), "unit": "papers/s",
                    "goal": "no encoding: cache hit for every paper"})
    for f in figures:
        print(json.dumps(f))


if __name__ == "__main__":
    main()
