"""Time a `make demo`-style run: the local arXiv stand-in serves the corpus over HTTP, the real
nightly job harvests it (OAI-PMH, no polite delay) and classifies every paper (encoder + heads).

    python bench/bench_demo.py                 # the newest 2,000 records, extrapolated to the corpus
    python bench/bench_demo.py --limit 0       # the whole 32k corpus (over 30 minutes on 2 idle cores)

The default is a slice so that `make bench` (bench/run_all.py) stays affordable on a shared machine.

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


TINY = [
    ("Universal jailbreak prompts make aligned chatbots produce harmful content", "jailbreak"),
    ("Multi-turn jailbreak attacks on large language models", "jailbreak"),
    ("Backdoor attacks via poisoned training data with hidden triggers", "poisoning"),
    ("Clean-label data poisoning of image classifiers", "poisoning"),
    ("Membership inference attacks against machine learning models", "membership_inference"),
    ("Label-only membership inference on image classifiers", "membership_inference"),
    ("Prompt injection attacks hijack LLM agents", "other_aisec"),
    ("Certified robustness against adversarial perturbations via randomized smoothing", "other_aisec"),
    ("Efficient transformers for long sequences", "not_relevant"),
    ("Graph neural networks for molecule property prediction", "not_relevant"),
    ("Diffusion models for high-resolution image synthesis", "not_relevant"),
    ("Quantum key distribution over noisy channels", "not_relevant"),
]


def _classifier(explicit: str | None, tmp: Path, backend: str | None = None) -> tuple[str | None, str]:
    """(classifier_path override, note): explicit > setting/shipped > a tiny model trained now."""
    from aisec_radar.classify.model import shipped_model_dir
    from aisec_radar.config import load_settings

    if explicit:
        return explicit, f"classifier {explicit}"
    if load_settings().classifier_path or shipped_model_dir().exists():  # any backend of its encoder
        return None, "shipped/configured classifier"
    from aisec_radar.classify.builder import build_model
    from aisec_radar.classify.data import Example
    from aisec_radar.classify.encoder import encode_texts, paper_text

    s = load_settings(overrides={"db_path": str(tmp / "model.duckdb"), "encoder_backend": backend or "torch"})
    ex = [Example(id=f"t{i}", title=t, abstract="", label=lab, role=None, source="file")
          for i, (t, lab) in enumerate(TINY)]
    vecs = encode_texts(s, [paper_text(e.title) for e in ex])
    model = build_model(s, ex, {"title": vecs, "full": vecs},
                        {"C_relevance": 10.0, "C_type": 10.0, "C_type_title": 10.0}, k=3)
    return str(model.save(tmp / "model")), "no shipped classifier yet: tiny model (same encoder, same cost)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--limit", type=int, default=2000, help="Serve only the newest N records (0 = all).")
    ap.add_argument("--db", type=Path, default=None, help="Database file (default: a temporary one).")
    ap.add_argument("--classifier-path", default=None,
                    help="Trained classifier folder (default: setting classifier_path, else the shipped model, "
                         "else a tiny model trained here: the encoder, which dominates the cost, is the same).")
    ap.add_argument("--encoder-backend", default="hybrid",
                    help="hybrid | torch | onnx | onnx-int8 (default: hybrid, as `aisec-radar demo` runs).")
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args()
    if not args.corpus.exists():
        print(json.dumps({"name": "demo_skipped", "value": 0, "unit": "", "goal": None,
                          "note": f"corpus {args.corpus} not found"}))
        return 0

    from aisec_radar import jobs
    from aisec_radar.config import load_settings
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
    classifier, model_note = _classifier(args.classifier_path, Path(tmp.name), args.encoder_backend)
    db = args.db or Path(tmp.name) / "bench.duckdb"
    t1 = time.monotonic()
    cpu0 = time.process_time()
    load_before = os.getloadavg()[0]
    with run_standin(records) as base:
        s = jobs.with_base_url(load_settings(overrides={
            "db_path": str(db), "crawl_delay": 0.0, "classifier_path": classifier,
            "encoder_backend": args.encoder_backend}), base)
        report = jobs.run_nightly(s, retrain=False, digest_dir=Path(tmp.name) / "digests", progress=args.progress)
    wall = time.monotonic() - t1
    cpu = time.process_time() - cpu0  # all threads of this process: stand-in, crawler, encoder
    load_after = os.getloadavg()[0]
    with connect(db, read_only=True) as con:
        papers = int(con.execute("SELECT count(*) FROM papers").fetchone()[0])
    n = len(records)
    t = report.timings
    crawl_s, classify_s = t.get("crawl", 0.0), t.get("classify", 0.0)
    note = model_note if report.ok else f"stage {report.failed_stage} failed: {report.error}"
    emit("demo_corpus_load_s", load_s, "s", papers=total_corpus)
    emit("demo_crawl_s", crawl_s, "s", papers=papers, note=note)
    emit("demo_crawl_rate", papers / crawl_s if crawl_s else 0.0, "papers/s", papers=papers)
    classified = "classify" in report.counts  # timings are kept for a failed stage too
    if classified:
        emit("demo_classify_s", classify_s, "s", papers=papers)
        emit("demo_classify_rate", papers / classify_s if classify_s else 0.0, "papers/s", papers=papers)
    emit("demo_nightly_wall_s", wall, "s", papers=papers, note=note,
         loadavg=[round(load_before, 1), round(load_after, 1)], cpus=os.cpu_count())
    # On a shared machine wall time depends on the neighbours; CPU seconds do not. The encoder
    # keeps both cores busy, so an idle 2-core machine needs about cpu/2 seconds of wall time.
    emit("demo_nightly_cpu_s", cpu, "s", papers=papers)
    if n >= total_corpus:
        emit("demo_full_corpus_min", (load_s + wall) / 60, "min", goal=f"<= {GOAL_MIN:.0f} min", papers=papers)
    elif papers and classified:
        # per-paper costs scale linearly (pages of 2,500 records, batches of texts); the fixed part
        # (model load, digest, process start) is counted once
        fixed = wall - crawl_s - classify_s
        per_paper = (crawl_s + classify_s) / papers
        est = (load_s + fixed + per_paper * total_corpus) / 60
        emit("demo_full_corpus_min_extrapolated", est, "min", goal=f"<= {GOAL_MIN:.0f} min", papers=total_corpus,
             note=f"linear extrapolation of measured wall time from {papers} papers")
        idle = (load_s + cpu / 2 * total_corpus / papers) / 60
        emit("demo_full_corpus_min_idle_estimate", idle, "min", goal=f"<= {GOAL_MIN:.0f} min", papers=total_corpus,
             note=f"CPU seconds of {papers} papers scaled to the corpus, divided by 2 cores")
    tmp.cleanup()
    return 0 if report.ok else report.exit_code


if __name__ == "__main__":
    sys.exit(main())
