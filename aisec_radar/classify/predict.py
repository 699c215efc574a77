"""From embeddings to Predictions: heads, abstain band, review priority, modality, explanations.

The axis of a prediction is not stored: ``prediction_axes`` derives it from the taxonomy's axis
map at read time, so switching the axis map (or a taxonomy version that remaps types) never needs
re-encoding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from aisec_radar.classify.model import RELEVANCE, ROLES, ClassifierModel, shipped_model_dir, unit_rows
from aisec_radar.errors import ClassifyError
from aisec_radar.records import Prediction

if TYPE_CHECKING:
    from collections.abc import Callable

    from aisec_radar.classify.cues import CueMatcher
    from aisec_radar.config import Settings
    from aisec_radar.taxonomy.loader import Taxonomy

_MODALITY = {
    "multimodal": re.compile(r"multi-?modal|vision-language|text-to-(image|video|audio)|\b(vlm|mllm|lvlm)s?\b|"
                             r"image-text|visual question|t2i\b"),
    "vision": re.compile(r"\bimage|vision|visual|video|face recognition|\bfaces?\b|object detection|\bcnns?\b|"
                         r"diffusion model|photo|pixel|segmentation"),
    "language": re.compile(r"\bllms?\b|language model|\btext|\bnlp\b|chatbot|\bgpt|prompt|\btokens?\b|"
                           r"natural language|sentence|\bbert\b"),
    "audio": re.compile(r"speech|audio|voice|\basr\b|music|speaker|acoustic"),
    "graph": re.compile(r"\bgraph|\bgnns?\b|node classification"),
    "tabular": re.compile(r"tabular|structured records|\btables?\b"),
}


def guess_modality(text: str) -> str:
    """Modality from wording (no labelled data exists for it): the most-mentioned family, vision and
    language together -> multimodal."""
    low = text.lower()
    hits = {m: len(rx.findall(low)) for m, rx in _MODALITY.items()}
    if hits["multimodal"] or (hits["vision"] and hits["language"] and min(hits["vision"], hits["language"]) >= 2):
        return "multimodal"
    hits.pop("multimodal")
    best = max(hits, key=lambda m: hits[m])
    return best if hits[best] else "other"


def prediction_axes(pred: Prediction, taxonomy: Taxonomy, axis_map: str | None = None) -> list[str]:
    """Axes of a prediction's types under an axis map (derived, never predicted)."""
    if pred.relevance != "in_taxonomy":
        return []
    mp = taxonomy.axis_map(axis_map)
    return sorted({mp[t] for t in pred.labels if t in mp})


@dataclass
class Route:
    """The rows one model decides and the settings whose encoder makes their vectors."""

    model: ClassifierModel
    settings: Settings
    rows: list[int]
    view: str  # "all": the main model, every row; "title": the titles-only specialist, titles alone


def routes(model: ClassifierModel, settings: Settings, has_abstract: list[bool]) -> list[Route]:
    """The main model's route (every row) and, when it has one, its titles-only specialist's (the
    rows without an abstract), in the order they are to be run: the specialist's first.

    Why: a title alone is short and reads differently; the specialist's own fine-tuned layers place
    curated-list titles better without moving the vectors of papers with an abstract. The main model
    still reads every title too, because its not_relevant overrules the specialist (`overrule`)."""
    from dataclasses import replace

    n = len(has_abstract)
    if not n:
        return []
    out = [Route(model, settings, list(range(n)), "all")]
    title = [i for i in range(n) if not has_abstract[i]]
    if model.title_model is not None and model.title_delta is not None and title:
        out.insert(0, Route(model.title_model, replace(settings, encoder_finetune=str(model.title_delta)),
                            title, "title"))
    return out


def main_overrules(main_label: str) -> bool:
    """Whether the main model's stored label for a title alone stands over the specialist's."""
    return main_label == "not_relevant"


def routed_labels(main_labels: list[str], title_labels: list[str]) -> list[str]:
    """The labels stored for titles alone, from each model's stored labels of the same titles (CV
    figures and benches score the rule of `overrule` with this, on labels instead of predictions)."""
    return [m if main_overrules(m) else t for m, t in zip(main_labels, title_labels, strict=True)]


def overrule(main: Prediction, title: Prediction | None) -> Prediction:
    """The prediction stored for a title alone: the specialist's, unless the main model calls the
    paper not_relevant.

    Why (session 13): the specialist's contrastive fine-tuning draws the nine types into tight
    clusters, and an unfamiliar ordinary title ("Differential Mamba") can land next to one; the main
    model keeps the broad not-relevant region (GNN / attention titles kept not_relevant: specialist
    alone 94.6%, main model 96.8%, this rule 97.4%) and the specialist keeps its gain on list titles."""
    if title is None:
        return main
    chosen = main if main_overrules(main.relevance) else title
    chosen.explanation["decided_by"] = "main" if chosen is main else "title_model"
    return chosen


def predict_routed(model: ClassifierModel, settings: Settings, taxonomy: Taxonomy,
                   items: list[tuple[str, str, str, str]], vectors: Callable[[Route], np.ndarray],
                   curator_bank: NeighbourBank | None = None) -> list[Prediction]:
    """Predictions of `model` (and its specialist, if any) for items (arxiv_id, title, abstract,
    content_hash); `vectors(route)` gives the rows of `route.rows` encoded for that route."""
    has = [bool((a or "").strip()) for _, _, a, _ in items]
    by_title: dict[int, Prediction] = {}
    out: list[Prediction] = []
    for route in routes(model, settings, has):
        predictor = Predictor(route.model, taxonomy, settings.target_precision,
                              curator_bank if route.model is model else None, version=model.model_version)
        preds = predictor.predict([items[i] for i in route.rows], vectors(route))
        if route.view == "title":
            by_title = dict(zip(route.rows, preds, strict=True))
        else:
            out = [overrule(p, by_title.get(i)) for i, p in zip(route.rows, preds, strict=True)]
    return out


@dataclass
class NeighbourBank:
    vecs: np.ndarray  # (n, d) float32, normalised
    ids: list[str]
    titles: list[str]
    labels: list[str]
    source: str  # curator | training


def load_model(settings: Settings, promoted_path: str | None = None) -> ClassifierModel:
    """The model classify uses: settings.classifier_path, else the store's promoted model, else the shipped one."""
    for cand in (settings.classifier_path, promoted_path):
        if cand:
            if not (Path(cand) / "meta.json").exists():
                raise ClassifyError(f"classifier artifact {cand} has no meta.json")
            return ClassifierModel.load(cand)
    d = shipped_model_dir()
    if not (d / "meta.json").exists():
        raise ClassifyError("no classifier model is shipped in this installation; run `aisec-radar train`")
    return ClassifierModel.load(d)


class Predictor:
    """Turns encoded papers into Predictions under one model, taxonomy and target precision."""

    def __init__(self, model: ClassifierModel, taxonomy: Taxonomy, target_precision: float,
                 curator_bank: NeighbourBank | None = None, version: str | None = None) -> None:
        """`version`: the model version predictions record, when `model` is the titles-only specialist
        of that model (a paper is stale when its prediction's version is not the artifact's)."""
        from aisec_radar.classify.cues import CueMatcher

        self.model = model
        self.version = version or model.model_version
        self.taxonomy = taxonomy
        self.cues: CueMatcher = CueMatcher(taxonomy)
        unknown = [t for t in model.types if t not in taxonomy.type_ids]
        if unknown:
            raise ClassifyError(f"model {model.model_version} predicts types unknown to taxonomy "
                                f"{taxonomy.version}: {', '.join(unknown)}; retrain with `aisec-radar train`")
        self.thresholds = {v: model.thresholds(target_precision, v) for v in ("title", "full")}
        self.curator_bank = curator_bank if curator_bank and len(curator_bank.ids) else None
        nb = model.neighbours
        self.training_bank = None
        if "vecs" in nb and len(nb["vecs"]):
            # int8 (or float16 in older artifacts): back to unit rows
            self.training_bank = NeighbourBank(unit_rows(nb["vecs"]), [str(x) for x in nb["ids"]],
                                               [str(x) for x in nb["titles"]], [str(x) for x in nb["labels"]],
                                               "training")

    def probabilities(self, emb: np.ndarray, texts: list[str], has_abstract: np.ndarray
                      ) -> tuple[dict[str, np.ndarray], list[dict[str, list[str]]]]:
        matches, terms = self.cues.analyse(texts, with_terms=bool(self.model.vocab))
        # cue features in the order the model was trained with (a type added to the taxonomy later
        # simply has no column until the next `aisec-radar train`)
        x = self.model.features(emb, self.cues.features(matches, self.model.cue_labels), terms)
        return self.model.predict_proba(x, has_abstract), matches

    def _neighbours(self, emb: np.ndarray, ids: list[str], k: int = 3) -> list[list[dict]]:
        """The k nearest labelled papers per row (one matrix product for the whole batch)."""
        bank = self.curator_bank if self.curator_bank is not None and len(self.curator_bank.ids) >= k \
            else self.training_bank
        if bank is None or len(bank.ids) == 0:
            return [[] for _ in ids]
        sims = emb.astype(np.float32) @ bank.vecs.T
        m = min(3 * k, sims.shape[1])
        top = np.argpartition(-sims, m - 1, axis=1)[:, :m]
        out = []
        for i, aid in enumerate(ids):
            row: list[dict] = []
            seen: set[str] = set()
            for j in sorted(top[i], key=lambda j, i=i: -sims[i, j]):
                key = bank.ids[j] or bank.titles[j].lower()
                if (bank.ids[j] and bank.ids[j] == aid) or key in seen:
                    continue  # the paper itself, or a paper the bank holds twice (title and abstract rows)
                seen.add(key)
                row.append({"arxiv_id": bank.ids[j] or None, "title": bank.titles[j], "label": bank.labels[j],
                            "similarity": round(float(sims[i, j]), 3), "source": bank.source})
                if len(row) == k:
                    break
            out.append(row)
        return out

    def predict(self, items: list[tuple[str, str, str, str]], emb: np.ndarray) -> list[Prediction]:
        """items: (arxiv_id, title, abstract, content_hash); emb rows in the same order."""
        from aisec_radar.classify.encoder import paper_text

        texts = [paper_text(t, a) for _, t, a, _ in items]
        has_abs = np.array([bool((a or "").strip()) for _, _, a, _ in items])
        probs, matches = self.probabilities(emb, texts, has_abs)
        neighbours = self._neighbours(emb, [it[0] for it in items])
        preds = []
        for i, (aid, _title, _abs, chash) in enumerate(items):
            relevance, labels, conf, scores = self.model.decide(probs, i)
            stored = self.model.top_label(relevance, labels)
            view = "full" if has_abs[i] else "title"
            thr = self.thresholds[view].get(stored, 1.01)
            status = "auto" if conf >= thr else "needs_review"
            rel_p = probs["relevance"][i]
            # value: a paper that may be in the taxonomy matters most to the survey, other_aisec less
            value = 0.2 + rel_p[0] + 0.4 * rel_p[1]
            priority = 0.0 if status == "auto" else round(float((1.0 - conf) * value), 4)
            role = None
            if relevance != "not_relevant" and "role" in self.model.heads:
                role = ROLES[int(np.argmax(probs["role"][i]))]
            modality = guess_modality(texts[i]) if relevance != "not_relevant" else None
            shown = labels if relevance == "in_taxonomy" else [relevance]
            cues = {lab: matches[i].get(lab, []) for lab in shown}
            expl = {"cues": cues, "neighbours": neighbours[i],
                    "relevance": {r: round(float(p), 4) for r, p in zip(RELEVANCE, rel_p, strict=False)},
                    "threshold": round(float(thr), 4), "view": view}
            if self.version != self.model.model_version:
                expl["title_model"] = self.model.model_version
            preds.append(Prediction(arxiv_id=aid, model_version=self.version,
                                    taxonomy_version=self.taxonomy.version, relevance=relevance,
                                    type_scores={k: round(v, 5) for k, v in scores.items()}, labels=labels,
                                    role=role, modality=modality, confidence=round(conf, 5), status=status,
                                    review_priority=priority, explanation=expl, content_hash=chash))
        return preds
