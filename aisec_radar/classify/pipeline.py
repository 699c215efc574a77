"""classify_pending: new and stale papers -> cached or fresh embeddings -> Predictions in the store.

The connection is never held while encoding: one read up front (papers to do, cached vectors,
curator labels for neighbours), then per chunk encode -> predict -> one short write transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from aisec_radar.classify.encoder import check_encoder, encode_texts, paper_text
from aisec_radar.classify.predict import NeighbourBank, Predictor, Route, load_model, overrule, routes
from aisec_radar.store import connect, transaction
from aisec_radar.store.embeddings import get_embeddings, put_embeddings
from aisec_radar.store.predictions import (
    labelled_papers,
    papers_to_classify,
    promoted_model,
    register_model,
    save_predictions,
)
from aisec_radar.taxonomy import load_taxonomy

if TYPE_CHECKING:
    from aisec_radar.config import Settings
    from aisec_radar.records import Prediction

log = logging.getLogger(__name__)
CHUNK = 512  # papers per encode -> write round: big enough to batch well, small enough to show progress


def active_model(settings: Settings):  # noqa: ANN201 - ClassifierModel
    """The model classify would use now (setting, else the store's promoted model, else shipped)."""
    promoted_path = None
    from pathlib import Path

    if not settings.classifier_path and Path(settings.db_path).exists():
        with connect(settings.db_path, read_only=True, timeout=settings.lock_timeout) as con:
            pm = promoted_model(con)
        if pm and pm[1].get("path") and Path(pm[1]["path"]).exists():
            promoted_path = pm[1]["path"]
    return load_model(settings, promoted_path)


def classify_pending(settings: Settings, all_papers: bool = False, progress: bool = True) -> dict[str, int]:
    """Classify papers without a current prediction (or with a stale one); all of them with all_papers.

    Returns counts: papers, classified, auto, needs_review, in_taxonomy, other_aisec, not_relevant,
    encoded (texts sent to the encoder) and cached (vectors taken from the embedding cache).
    """
    import threading

    from aisec_radar.classify.cues import get_nlp

    # spaCy's pipeline takes ~1 s to build: build it while the store is read and the first batch encodes
    warm = threading.Thread(target=get_nlp, daemon=True)
    warm.start()
    taxonomy = load_taxonomy(settings.taxonomy_path or None)
    model = active_model(settings)
    key = check_encoder(model.encoder_key, model.model_version, settings)
    with connect(settings.db_path, read_only=False, timeout=settings.lock_timeout) as con:
        todo = papers_to_classify(con, model.model_version, taxonomy.version, all_papers)
        labelled = labelled_papers(con)
        # per route (its titles-only specialist, if any, then the main model): its encoder's cache key,
        # the cached vectors of its papers, and the curator-labelled papers it can cite as neighbours
        groups = []
        for route in routes(model, settings, [bool((t[2] or "").strip()) for t in todo]):
            rkey = key if route.model is model else check_encoder(route.model.encoder_key,
                                                                  route.model.model_version, route.settings)
            papers = [todo[i] for i in route.rows]
            lab_vecs = get_embeddings(con, rkey, [t[3] for t in labelled])
            groups.append((route, rkey, papers, get_embeddings(con, rkey, [t[3] for t in papers]), lab_vecs))
        register_model(con, model.model_version, model.taxonomy_version,
                       {"source": "classify", "encoder_key": model.encoder_key,
                        **model.meta.get("metrics_summary", {})}, promoted=False)
    counts = {"papers": len(todo), "classified": 0, "auto": 0, "needs_review": 0, "in_taxonomy": 0,
              "other_aisec": 0, "not_relevant": 0, "encoded": 0, "cached": 0}
    if not todo:
        return counts
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), desc="classifying", unit="paper")
    titles: dict[str, Prediction] = {}  # the specialist's predictions, held until the main model's
    for route, rkey, papers, cached, lab_vecs in groups:
        bank = None
        have = [t for t in labelled if t[3] in lab_vecs]
        if have:  # a specialist without cached vectors of them cites its own training papers instead
            bank = NeighbourBank(np.stack([lab_vecs[t[3]] for t in have]), [t[0] for t in have],
                                 [t[1] for t in have], [t[4][0] for t in have], "curator")

        def predictor_of(route: Route = route, bank: NeighbourBank | None = bank) -> Predictor:
            warm.join()
            return Predictor(route.model, taxonomy, settings.target_precision, bank, version=model.model_version)

        _classify_group(route.settings, rkey, papers, cached, predictor_of, counts, bar,
                        titles if route.view == "title" else None, titles)
    if bar is not None:
        bar.close()
    log.info("classified %d papers (%d encoded, %d cached)", counts["classified"], counts["encoded"], counts["cached"])
    return counts


def _classify_group(settings: Settings, key: str, todo: list[tuple], cached: dict[str, np.ndarray],
                    predictor_of: Callable[[], Predictor], counts: dict[str, int], bar: Any,
                    hold: dict[str, Prediction] | None, titles: dict[str, Prediction]) -> None:
    """Encode (uncached texts only) -> predict -> write, CHUNK papers at a time, for one route.

    The specialist's route (`hold` given) writes its vectors and keeps its predictions in `hold`; the
    main model's route stores, per paper, `overrule(its prediction, the specialist's in titles)`.
    The predictor is made after the first chunk is encoded: spaCy's pipeline builds meanwhile."""
    predictor: Predictor | None = None
    # Encode the uncached ones in length order (less padding), keep cached ones as they are.
    order = sorted(range(len(todo)), key=lambda i: (todo[i][3] in cached, len(todo[i][1]) + len(todo[i][2])))
    for start in range(0, len(order), CHUNK):
        chunk = [todo[i] for i in order[start:start + CHUNK]]
        missing = [t for t in chunk if t[3] not in cached]
        new_vecs: dict[str, np.ndarray] = {}
        if missing:
            texts = list(dict.fromkeys(paper_text(t[1], t[2]) for t in missing))
            hashes_by_text: dict[str, str] = {}
            for t in missing:
                hashes_by_text.setdefault(paper_text(t[1], t[2]), t[3])
            vecs = encode_texts(settings, texts)
            for text, v in zip(texts, vecs, strict=False):
                new_vecs[hashes_by_text[text]] = v
            for t in missing:  # two papers with identical text share one vector
                new_vecs.setdefault(t[3], new_vecs[hashes_by_text[paper_text(t[1], t[2])]])
            counts["encoded"] += len(texts)
        emb = np.stack([cached[t[3]] if t[3] in cached else new_vecs[t[3]] for t in chunk])
        predictor = predictor or predictor_of()
        preds = predictor.predict(chunk, emb)
        if hold is not None:
            hold.update((p.arxiv_id, p) for p in preds)
            preds = []
        else:
            counts["cached"] += len(chunk) - len(missing)
            preds = [overrule(p, titles.get(p.arxiv_id)) for p in preds]
        with transaction(settings.db_path, timeout=settings.lock_timeout) as con:
            put_embeddings(con, key, new_vecs)
            save_predictions(con, preds)
        cached.update(new_vecs)
        for p in preds:
            counts["classified"] += 1
            counts[p.status] += 1
            counts[p.relevance] += 1
        if bar is not None and hold is None:
            bar.update(len(chunk))
