"""Topic discovery runtime on the 32k corpus, reusing stored embeddings (goal: under a minute).

What is timed: one `discover_topics` call end to end on a DuckDB file that already holds the 32,324
corpus papers, their predictions and one stored vector per paper: reading the pool, fetching the
vectors, type prototypes, PCA + HDBSCAN, c-TF-IDF phrases, id matching and writing the run. Nothing
is encoded inside the timed call (every vector is cached, as after a nightly `classify`).

What is not timed, and how it is prepared once (cached under data/bench/, which git ignores):
- vectors: by default 384-d LSA vectors (TF-IDF + truncated SVD of title+abstract), a stand-in with
  the shape and topical structure of sentence embeddings that takes ~2 min to build. With
  ``--encoder`` the real MiniLM encoder is used instead (about 20+ minutes on this 2-core CPU).
- predictions: a keyword stand-in for the classifier (taxonomy cue hits -> in_taxonomy with a score,
  AI-security words -> other_aisec), so the pool has a realistic size without classifying 32k papers.
Both stand-ins change what the clusters are, not how long discovery takes for a pool of that size.

    python bench/bench_topics.py [--corpus PATH] [--encoder] [--rebuild]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

AISEC = re.compile(r"adversarial|privacy|jailbreak|backdoor|poison|prompt injection|attack|robustness|"
                   r"watermark|membership|unlearning|deepfake|red.?team|safety alignment|guardrail")
ML = re.compile(r"\b(model|neural|learning|llm|language model|classifier|diffusion|transformer|agent)s?\b")


def _emit(name: str, value: float, unit: str, goal: str | None = None, **extra: object) -> None:
    print(json.dumps({"name": name, "value": value, "unit": unit, "goal": goal, **extra}), flush=True)


def _records(corpus: Path) -> list[dict]:
    with gzip.open(corpus, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _day(r: dict) -> date | None:
    for k in ("published", "updated"):
        v = r.get(k)
        if v:
            try:
                return date.fromisoformat(str(v)[:10])
            except ValueError:
                pass
    return None


def _stand_in_prediction(text: str, tax, taxonomy_version: str):

    hits = {t.id: sum(1 for c in t.cues if c in text) for t in tax.types}
    hits = {k: v for k, v in hits.items() if v}
    if hits and ML.search(text):
        scores = {k: min(0.95, 0.3 * v) for k, v in hits.items()}
        best = max(scores, key=scores.__getitem__)
        return "in_taxonomy", scores, [best]
    if AISEC.search(text) and ML.search(text):
        return "other_aisec", {}, []
    return "not_relevant", {}, []


def _vectors(records: list[dict], cache: Path, use_encoder: bool):
    import numpy as np

    if cache.exists():
        return np.load(cache)
    t = time.perf_counter()
    texts = [f"{r['title']}. {r.get('abstract') or ''}" for r in records]
    if use_encoder:  # discovery's own encoder (the plain model by default), as a nightly run stores it
        from aisec_radar.classify.encoder import encode_texts
        from aisec_radar.config import Settings
        from aisec_radar.topics import topic_settings

        vecs = encode_texts(topic_settings(Settings()), texts, progress=True)
    else:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        tf = TfidfVectorizer(min_df=3, max_df=0.5, stop_words="english", sublinear_tf=True,
                             max_features=60000).fit_transform(texts)
        vecs = TruncatedSVD(384, random_state=0, n_iter=4).fit_transform(tf).astype("float32")
        vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, vecs)
    print(f"# built {'encoder' if use_encoder else 'LSA'} vectors in {time.perf_counter() - t:.0f}s -> {cache}",
          file=sys.stderr)
    return vecs


def build(db: Path, records: list[dict], vecs, model: str) -> None:
    from aisec_radar.records import Paper, Prediction
    from aisec_radar.store import init_db, transaction
    from aisec_radar.store import topics as st
    from aisec_radar.store.papers import upsert_papers
    from aisec_radar.store.predictions import save_predictions
    from aisec_radar.taxonomy import load_taxonomy

    tax = load_taxonomy()
    t = time.perf_counter()
    if db.exists():
        db.unlink()
    init_db(db)
    papers = [Paper(arxiv_id=r["id"], title=r["title"], abstract=r.get("abstract") or "", published=_day(r),
                    categories=list(r.get("categories") or []), primary_category=r.get("primary_category"))
              for r in records]
    preds = []
    for p in papers:
        rel, scores, labels = _stand_in_prediction(f"{p.title} {p.abstract}".lower(), tax, tax.version)
        preds.append(Prediction(arxiv_id=p.arxiv_id, model_version="bench-keywords", taxonomy_version=tax.version,
                                relevance=rel, type_scores=scores, labels=labels, role=None, modality=None,
                                confidence=max(scores.values(), default=0.5), status="auto",
                                content_hash=p.content_hash))
    for i in range(0, len(papers), 2000):
        with transaction(db) as con:
            upsert_papers(con, papers[i:i + 2000])
    with transaction(db) as con:
        save_predictions(con, preds)
        st.put_vectors(con, model, [p.content_hash for p in papers], vecs)
    print(f"# built {db} in {time.perf_counter() - t:.0f}s", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=os.environ.get("AISEC_RADAR_CORPUS",
                                                       str(REPO.parent / "shared" / "arxiv" / "corpus.jsonl.gz")))
    ap.add_argument("--encoder", action="store_true", help="real MiniLM vectors (20+ min to build once)")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the cached DB")
    ap.add_argument("--workdir", default=str(REPO / "data" / "bench"))
    args = ap.parse_args()
    corpus = Path(args.corpus)
    if not corpus.exists():
        print(json.dumps({"name": "topics_discover_32k", "skipped": f"corpus {corpus} not found"}))
        return
    from aisec_radar.config import Settings
    from aisec_radar.taxonomy import load_taxonomy
    from aisec_radar.topics import DiscoveryParams, discover_topics, topic_model_key, topic_settings

    kind = "minilm" if args.encoder else "lsa384"
    model = topic_model_key(Settings()) if args.encoder else "bench-lsa384"
    work = Path(args.workdir)
    db = work / f"topics-{kind}.duckdb"
    records = [r for r in _records(corpus) if r.get("title")]
    if args.rebuild or not db.exists():
        vecs = _vectors(records, work / f"topics-vectors-{kind}.npy", args.encoder)
        build(db, records, vecs, model)
    settings = replace(Settings(), db_path=str(db))
    tax = load_taxonomy()

    import numpy as np

    calls = {"texts": 0}

    def stand_in_encoder(texts: list[str]):
        # Only type definitions of types without typed papers reach this (paper vectors are all
        # stored); LSA has no encoder for new text, so they get no direction (zero vectors).
        calls["texts"] += len(texts)
        if args.encoder:
            from aisec_radar.classify.encoder import encode_texts

            return encode_texts(topic_settings(settings), texts)
        return np.zeros((len(texts), 384), dtype=np.float32)

    # Untimed warm-up: caches the definition vectors and leaves candidates for the timed runs to match,
    # as a nightly run finds them.
    discover_topics(settings, tax, encoder=stand_in_encoder, model=model)
    calls["texts"] = 0
    for label, params in (
        ("topics_discover_32k_window6m", DiscoveryParams()),
        ("topics_discover_32k_window24m_all_aisec", DiscoveryParams(window_months=24, fit_threshold=1.01)),
    ):
        t, c = time.perf_counter(), time.process_time()
        res = discover_topics(settings, tax, params=params, encoder=stand_in_encoder, model=model)
        secs, cpu = time.perf_counter() - t, time.process_time() - c
        _emit(label, round(secs, 2), "s", "< 60 s", pool=res.pool, candidates=len(res.candidates),
              new=res.new, matched=res.matched, encoded=res.encoded, vectors=kind, stages=res.seconds,
              cpu_s=round(cpu, 2), load_avg_1m=round(os.getloadavg()[0], 1), corpus_papers=len(records))

if __name__ == "__main__":
    main()
