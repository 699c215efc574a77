"""Encoder backends side by side in one run: torch vs ONNX fp32 vs ONNX dynamic int8 vs hybrid
(torch for short texts, int8 for long ones).

For each backend: abstracts/s (wall) and texts per CPU-second (steadier on a shared machine), the
cosine of its embeddings to torch's for the same texts, the share of papers whose classifier
decision (stored label, relevance, auto/review status) differs from torch's, and eval macro-F1 on a
labelled file with each. Rounds are interleaved (torch, fp32, int8, torch, ...) so load from other
processes hits all backends alike; the speed-up is the median of per-round ratios.

The decision rule of issue 8: the faster backend becomes the default only if its stored labels
agree with torch's on >= 99% of papers. Prints one JSON object per figure. Usage:

    python bench/bench_encoder.py [--n 400] [--rounds 2] [--eval ../shared/labels/dev.jsonl]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("AISEC_RADAR_SHARED", REPO.parent / "shared"))
BACKENDS = ("torch", "onnx", "onnx-int8", "hybrid")
AGREEMENT_BAR = 0.99


def emit(name: str, value: float | str | None, unit: str, goal: str | None = None, **extra: object) -> None:
    obj = {"name": name, "value": value, "unit": unit}
    if goal is not None:
        obj["goal"] = goal
    obj.update(extra)
    print(json.dumps(obj), flush=True)


def sample_papers(corpus: Path, n: int, seed: int = 8) -> list[tuple[str, str, str]]:
    """A seeded random sample of corpus papers with abstracts: (id, title, abstract)."""
    rows = []
    with gzip.open(corpus, "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r.get("abstract"):
                rows.append((r["id"], r["title"], r["abstract"]))
    random.Random(seed).shuffle(rows)
    return rows[:n]


def timed_encode(enc: object, texts: list[str]) -> tuple[object, float, float]:
    """(embeddings, wall seconds, process CPU seconds) of one encode of `texts`."""
    w0, c0 = time.perf_counter(), time.process_time()
    out = enc.encode(texts, batch_size=32)  # type: ignore[attr-defined]
    return out, time.perf_counter() - w0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=400, help="corpus abstracts for speed and agreement")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved timing rounds per backend")
    ap.add_argument("--corpus", default=os.environ.get("AISEC_RADAR_CORPUS",
                                                       str(SHARED / "arxiv" / "corpus.jsonl.gz")))
    ap.add_argument("--eval", default=str(SHARED / "labels" / "dev.jsonl"),
                    help="labelled file for macro-F1 (title, abstract?, attack); '' to skip")
    ap.add_argument("--classifier", default="", help="classifier artifact folder; default: the shipped one")
    args = ap.parse_args()
    corpus = Path(args.corpus)
    if not corpus.exists():
        print(f"bench_encoder: corpus {corpus} not found; skipping", file=sys.stderr)
        return

    import numpy as np

    from aisec_radar.classify.encoder import get_encoder, paper_text
    from aisec_radar.classify.evaluate import score
    from aisec_radar.classify.predict import Predictor, load_model
    from aisec_radar.config import Settings
    from aisec_radar.taxonomy import load_taxonomy

    base = Settings()
    papers = sample_papers(corpus, args.n)
    texts = [paper_text(t, a) for _, t, a in papers]
    encoders = {b: get_encoder(replace(base, encoder_backend=b)) for b in BACKENDS}
    for enc in encoders.values():  # warm-up: first-call allocations and, for ONNX, the export
        enc.encode(texts[:16], batch_size=16)

    walls: dict[str, list[float]] = {b: [] for b in BACKENDS}
    cpus: dict[str, list[float]] = {b: [] for b in BACKENDS}
    embs: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        for b in BACKENDS:
            out, wall, cpu = timed_encode(encoders[b], texts)
            walls[b].append(wall)
            cpus[b].append(cpu)
            embs.setdefault(b, np.asarray(out, dtype=np.float32))
    n = len(texts)
    threads = os.cpu_count()
    for b in BACKENDS:
        emit(f"encoder.{b}.rate", round(n / statistics.median(walls[b]), 2), "texts/s",
             "baseline" if b == "torch" else ">= 2x torch", n=n, rounds=args.rounds, threads=threads)
        emit(f"encoder.{b}.cpu_rate", round(n / statistics.median(cpus[b]), 2), "texts/CPU-s", n=n)
    for b in BACKENDS[1:]:
        ratios = [t / w for t, w in zip(walls["torch"], walls[b], strict=True)]
        cpu_ratios = [t / c for t, c in zip(cpus["torch"], cpus[b], strict=True)]
        emit(f"encoder.{b}.speedup", round(statistics.median(ratios), 2), "x torch (wall)", ">= 2")
        emit(f"encoder.{b}.cpu_speedup", round(statistics.median(cpu_ratios), 2), "x torch (CPU time)", ">= 2")
        cos = (embs[b] * embs["torch"]).sum(axis=1)
        emit(f"encoder.{b}.cosine_mean", round(float(cos.mean()), 5), "cosine to torch", "> 0.99")
        emit(f"encoder.{b}.cosine_min", round(float(cos.min()), 5), "cosine to torch")

    # Classifier decisions on the same papers with each backend's vectors (model trained on torch's).
    from aisec_radar.errors import ClassifyError

    taxonomy = load_taxonomy(base.taxonomy_path or None)
    try:
        model = load_model(replace(base, classifier_path=args.classifier))
    except ClassifyError as exc:
        emit("encoder.decisions", None, "skipped", reason=str(exc))
        return
    predictor = Predictor(model, taxonomy, base.target_precision)
    items = [(aid, t, a, "") for aid, t, a in papers]
    decided = {}
    for b in BACKENDS:
        preds = predictor.predict(items, embs[b])
        decided[b] = [(model.top_label(p.relevance, p.labels), p.relevance, p.status) for p in preds]
    for b in BACKENDS[1:]:
        same_label = sum(x[0] == y[0] for x, y in zip(decided[b], decided["torch"], strict=True)) / n
        same_rel = sum(x[1] == y[1] for x, y in zip(decided[b], decided["torch"], strict=True)) / n
        same_status = sum(x == y for x, y in zip(decided[b], decided["torch"], strict=True)) / n
        emit(f"encoder.{b}.label_agreement", round(same_label, 4), "share of papers", f">= {AGREEMENT_BAR}",
             n=n, meets_bar=same_label >= AGREEMENT_BAR)
        emit(f"encoder.{b}.relevance_agreement", round(same_rel, 4), "share of papers", n=n)
        emit(f"encoder.{b}.decision_agreement", round(same_status, 4), "share of papers (label+status)", n=n)
    relevant = sum(d[1] == "in_taxonomy" for d in decided["torch"])
    emit("encoder.agreement_sample.in_taxonomy", relevant, "papers (torch)", n=n)

    if args.eval and Path(args.eval).exists():
        from aisec_radar.classify.data import read_label_file

        examples = read_label_file(Path(args.eval), taxonomy, need_text=True)
        ev_items = [(e.id or f"line{e.line}", e.title, e.abstract, "") for e in examples]
        ev_texts = [paper_text(e.title, e.abstract) for e in examples]
        truth = [e.label for e in examples]
        stored = {}
        for b in BACKENDS:
            emb = np.asarray(encoders[b].encode(ev_texts, batch_size=32), dtype=np.float32)
            preds = predictor.predict(ev_items, emb)
            stored[b] = [model.top_label(p.relevance, p.labels) for p in preds]
            rep = score(truth, stored[b], [p.status == "auto" for p in preds], taxonomy.type_ids)
            emit(f"encoder.{b}.eval_macro_f1", rep["macro_f1"], "macro-F1", n=rep["n"],
                 file=Path(args.eval).name)
        for b in BACKENDS[1:]:
            agree = sum(x == y for x, y in zip(stored[b], stored["torch"], strict=True)) / len(truth)
            emit(f"encoder.{b}.eval_label_agreement", round(agree, 4), "share of papers", f">= {AGREEMENT_BAR}",
                 n=len(truth), file=Path(args.eval).name)


if __name__ == "__main__":
    main()
