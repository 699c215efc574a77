"""Does an encoder still tell topics apart inside one class? Emerging-topic discovery under encoders.

Fine-tuning the encoder on the eleven-class softmax pulls papers of one class together, which the
classifier wants and topic discovery does not: a new theme outside the nine types (prompt injection,
all other_aisec) must still form its own cluster among other AI-security and ML papers. This runs the
scenario of tests/test_topics_real.py (real corpus texts: 4, 8, 12 prompt-injection papers over three
months among 25 background papers a month) with each encoder given, and prints per run the clusters
that hold the most prompt-injection papers as (those papers, cluster size). Check any new fine-tune
here before shipping it (docs/classifier.md, "Session 6"); `none` is what discovery itself reads by
default (setting topics_encoder = "base"). Not part of `make bench` (quality, not speed). Needs
../shared (skips otherwise). Usage:

    python bench/topic_geometry.py [--encoder none|shipped|DELTA.npz ...]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
from dataclasses import replace
from datetime import date
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))


def run(records: list[dict], finetune: str) -> list[dict]:
    """The test's three-month stream under encoder `finetune`: per month, the top clusters' hits."""
    from test_topics_real import stream_story

    from aisec_radar.config import Settings
    from aisec_radar.store import init_db
    from aisec_radar.taxonomy import load_taxonomy
    from aisec_radar.topics import DiscoveryParams, discover_topics

    db = Path(tempfile.mkdtemp(prefix="aisec-topics-")) / "t.duckdb"
    init_db(db)
    papers, family = stream_story(records, db)
    # the classifier's encoder under test, whatever discovery's own setting (topics_encoder) reads
    settings = replace(Settings(), db_path=str(db), encoder_finetune=finetune, topics_encoder="classifier")
    tax = load_taxonomy()
    out = []
    for until in (date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31)):
        res = discover_topics(settings, tax, until=until, params=DiscoveryParams(min_cluster_size=5, window_months=6))
        hits = sorted(((len(family & {a for a, _ in c.members}), c.size) for c in res.candidates), reverse=True)
        seen = sum(1 for p in papers if p.arxiv_id in family and p.published <= until)
        out.append({"until": until.isoformat(), "injection_papers": seen,
                    "top_clusters": [list(h) for h in hits[:3]]})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=Path(os.environ.get(
        "AISEC_RADAR_CORPUS", REPO.parent / "shared" / "arxiv" / "corpus.jsonl.gz")))
    ap.add_argument("--encoder", nargs="*", default=["none", "shipped"],
                    help="encoder_finetune values: none (plain MiniLM), shipped, or a delta file")
    args = ap.parse_args()
    if not args.corpus.exists():
        print(json.dumps({"name": "topic_geometry", "skipped": f"{args.corpus} not found"}))
        return 0
    with gzip.open(args.corpus, "rt", encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    for enc in args.encoder:
        print(json.dumps({"name": "topic_geometry", "encoder": enc, "runs": run(records, enc)}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
