"""evaluate_file: score the label the classifier would store against a labelled JSON Lines file.

Needs no database: texts are encoded directly. Relevant means one of the nine types.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aisec_radar.classify.data import read_label_file
from aisec_radar.classify.encoder import check_encoder, encode_texts, paper_text
from aisec_radar.classify.pipeline import active_model
from aisec_radar.classify.predict import Route, predict_routed
from aisec_radar.taxonomy import load_taxonomy

if TYPE_CHECKING:
    from aisec_radar.classify.model import ClassifierModel
    from aisec_radar.config import Settings
    from aisec_radar.taxonomy import Taxonomy


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4)}


def score(truth: list[str], pred: list[str], auto: list[bool], type_ids: tuple[str, ...]) -> dict[str, Any]:
    """The eval report from true and stored labels (and which predictions were auto-accepted)."""
    n = len(truth)
    classes = sorted(set(truth))
    per_class = {}
    for c in classes:
        tp = sum(1 for a, b in zip(truth, pred, strict=False) if a == c and b == c)
        fp = sum(1 for a, b in zip(truth, pred, strict=False) if a != c and b == c)
        fn = sum(1 for a, b in zip(truth, pred, strict=False) if a == c and b != c)
        per_class[c] = {**_prf(tp, fp, fn), "support": sum(1 for a in truth if a == c)}
    confusion: dict[str, dict[str, int]] = {}
    for a, b in zip(truth, pred, strict=False):
        row = confusion.setdefault(a, {})
        row[b] = row.get(b, 0) + 1
    rel = set(type_ids)
    tp = sum(1 for a, b in zip(truth, pred, strict=False) if a in rel and b in rel)
    fp = sum(1 for a, b in zip(truth, pred, strict=False) if a not in rel and b in rel)
    fn = sum(1 for a, b in zip(truth, pred, strict=False) if a in rel and b not in rel)
    n_auto = sum(auto)
    auto_ok = sum(1 for a, b, s in zip(truth, pred, auto, strict=False) if s and a == b)
    return {
        "n": n,
        "macro_f1": round(float(np.mean([per_class[c]["f1"] for c in classes])) if classes else 0.0, 4),
        "accuracy": round(sum(1 for a, b in zip(truth, pred, strict=False) if a == b) / n, 4) if n else 0.0,
        "per_class": per_class,
        "confusion": confusion,
        "relevance": _prf(tp, fp, fn),
        "review_share": round(1 - n_auto / n, 4) if n else 0.0,
        "auto_precision": round(auto_ok / n_auto, 4) if n_auto else None,
    }


def stored_labels_of(settings: Settings, texts: list[tuple[str, str]], progress: bool = False, *,
                     model: ClassifierModel | None = None, taxonomy: Taxonomy | None = None
                     ) -> tuple[list[str], list[bool]]:
    """The label the active model would store for each (title, abstract) and whether it would be
    auto-accepted: what eval scores, and what probes of the model (bench/) read. Callers that already
    hold the model or the taxonomy pass them, so neither is loaded twice."""
    taxonomy = taxonomy or load_taxonomy(settings.taxonomy_path or None)
    model = model or active_model(settings)
    check_encoder(model.encoder_key, model.model_version, settings)
    if not texts:
        return [], []
    items = [(f"item{i}", title, abstract, "") for i, (title, abstract) in enumerate(texts)]

    def vectors(route: Route) -> np.ndarray:
        if route.model is not model:
            check_encoder(route.model.encoder_key, route.model.model_version, route.settings)
        return encode_texts(route.settings, [paper_text(*texts[i]) for i in route.rows], progress=progress)

    preds = predict_routed(model, settings, taxonomy, items, vectors)
    return [model.top_label(p.relevance, p.labels) for p in preds], [p.status == "auto" for p in preds]


def evaluate_file(settings: Settings, path: Path, progress: bool = False) -> dict[str, Any]:
    """Evaluate the active model on a labelled file (title, optional abstract, attack)."""
    taxonomy = load_taxonomy(settings.taxonomy_path or None)
    examples = read_label_file(Path(path), taxonomy, need_text=True, secondary=False)
    stored, auto = stored_labels_of(settings, [(e.title, e.abstract) for e in examples], progress,
                                    taxonomy=taxonomy)
    return score([e.label for e in examples], stored, auto, taxonomy.type_ids)
