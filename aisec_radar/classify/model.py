"""The trained classifier as plain arrays: load/save without pickle, predict with numpy alone.

Artifact folder: ``meta.json`` (classes, temperatures, calibration sets, metrics, provenance) and
``weights.npz`` (linear heads, the neighbour bank), loaded with ``allow_pickle=False`` so a model
file can never execute code. Inference needs no scikit-learn.

Decision structure (hierarchical): a relevance head (in_taxonomy / other_aisec / not_relevant),
then a type head over the nine types trained on in-taxonomy papers, and a role head. Titles-only
inputs and title+abstract inputs get their own relevance and type heads ("title" / "full" views)
because the two populations differ (curated lists vs the raw stream). Axes are never predicted.

A model may carry a titles-only specialist in ``title/`` (its own heads over its own encoder delta,
``title/encoder_delta.npz``): a title alone then gets its prediction unless the main model calls it
not_relevant (``predict.overrule``); everything with an abstract is the main model's. Both are
trained on the same labels; see docs/classifier.md, "Session 13".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from aisec_radar.errors import ClassifyError

RELEVANCE = ("in_taxonomy", "other_aisec", "not_relevant")
ROLES = ("attack", "defense", "evaluation", "analysis", "survey")
VIEWS = ("title", "full")
SECONDARY_MIN = 0.35  # a further type is assigned when its conditional probability reaches this


TITLE_DIR = "title"  # the titles-only specialist's sub-folder of an artifact
FLAT_EXTRA = ("other_aisec", "not_relevant")  # the flat head's classes: the nine types, then these


def mix_relevance(rel: np.ndarray, flat: np.ndarray, weight: float) -> np.ndarray:
    """Blend the relevance head's (in_taxonomy, other_aisec, not_relevant) probabilities with the flat
    head's, collapsed to the same three (its nine type probabilities summed into in_taxonomy).

    Why a second opinion: the relevance head must put all nine types on one side of a single linear
    boundary; the flat head gives each type its own region, and the two rank papers better together
    (CV relevance AP 0.888 -> 0.90, docs/classifier.md)."""
    n_types = flat.shape[1] - len(FLAT_EXTRA)
    collapsed = np.column_stack([flat[:, :n_types].sum(axis=1), flat[:, n_types], flat[:, n_types + 1]])
    return (1.0 - weight) * rel + weight * collapsed


def unit_rows(a: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float32; int8 ×127 banks come back to cosine space)."""
    a = a.astype(np.float32)
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)


def int8_rows(unit: np.ndarray) -> np.ndarray:
    """Unit rows stored as int8 ×127: neighbour searches need only the ranking, and the artifact
    stays small."""
    return np.round(unit * 127.0).astype(np.int8)


def neighbour_vote(query: np.ndarray, bank: np.ndarray, labels: np.ndarray, weights: np.ndarray,
                   n_classes: int, k: int, temperature: float) -> np.ndarray:
    """Per query row, a distribution over `n_classes`: the labels of its k most similar bank rows
    (cosine), each voting exp(similarity / temperature) × its row weight. Bank rows of weight 0 never
    vote; without any voter the distribution is uniform.

    Why: a linear head draws one smooth boundary per class and under-uses the handful of titles a thin
    type has (19 dev titles of model_extraction); the nearest labelled titles carry that local
    evidence (nested dev titles macro-F1, docs/classifier.md "Session 10")."""
    return _vote(unit_rows(query) @ unit_rows(bank).T, labels, weights, n_classes, k, temperature)


def _vote(sims: np.ndarray, labels: np.ndarray, weights: np.ndarray, n_classes: int, k: int,
          temperature: float) -> np.ndarray:
    """neighbour_vote over a (queries × bank rows) cosine matrix already computed."""
    out = np.full((len(sims), n_classes), 1.0 / n_classes)
    live = np.flatnonzero(weights > 0)
    if len(live) == 0 or len(sims) == 0:
        return out
    sims = sims[:, live]
    m = min(int(k), len(live))
    top = np.argpartition(-sims, m - 1, axis=1)[:, :m]
    s = np.take_along_axis(sims, top, axis=1).astype(np.float64)
    w = np.exp((s - s.max(axis=1, keepdims=True)) / temperature) * weights[live][top]
    votes = np.zeros((len(sims), n_classes))
    np.add.at(votes, (np.repeat(np.arange(len(sims)), m), labels[live][top].ravel()), w.ravel())
    total = votes.sum(axis=1, keepdims=True)
    return np.where(total > 0, votes / np.maximum(total, 1e-300), out)


def title_votes(query: np.ndarray, bank: dict[str, np.ndarray], cfg: dict[str, Any],
                n_types: int) -> tuple[np.ndarray, np.ndarray]:
    """The titles-only view's two neighbour votes, from one similarity matrix: over the nine types +
    other_aisec + not_relevant among the rows of its relevance heads, and over the nine types among
    the rows of its type head."""
    sims = unit_rows(query) @ unit_rows(bank["vecs"]).T
    labels = bank["labels"].astype(np.int64)
    flat = _vote(sims, labels, bank["w_relevance"], n_types + len(FLAT_EXTRA),
                 int(cfg["k_relevance"]), float(cfg["temperature"]))
    typ = _vote(sims, np.minimum(labels, n_types - 1), np.where(labels < n_types, bank["w_type"], 0.0), n_types,
                int(cfg["k_type"]), float(cfg["temperature"]))
    return flat, typ


def apply_title_vote(rel: np.ndarray, typ: np.ndarray, flat_vote: np.ndarray, type_vote: np.ndarray,
                     cfg: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Blend the votes into the titles-only view's calibrated probabilities (relevance as the flat
    head is blended, `mix_relevance`). The same function serves prediction and the out-of-fold
    probabilities that set thresholds and the decision bias."""
    wt = float(cfg["type_weight"])
    return (mix_relevance(rel, flat_vote, float(cfg["relevance_weight"])),
            (1.0 - wt) * typ + wt * type_vote)


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class LinearHead:
    """Multinomial logistic regression with a temperature (calibration): p = softmax((xW + b) / T)."""

    classes: tuple[str, ...]
    W: np.ndarray  # (n_features, n_classes)
    b: np.ndarray  # (n_classes,)
    temperature: float = 1.0

    def logits(self, x: np.ndarray) -> np.ndarray:
        return x @ self.W + self.b

    def proba(self, x: np.ndarray) -> np.ndarray:
        return softmax(self.logits(x) / self.temperature)


@dataclass
class MLPHead:
    """One hidden ReLU layer: p = softmax((relu(xW1 + b1) W + b) / T); same interface as LinearHead."""

    classes: tuple[str, ...]
    W1: np.ndarray  # (n_features, hidden)
    b1: np.ndarray
    W: np.ndarray  # (hidden, n_classes)
    b: np.ndarray
    temperature: float = 1.0

    def logits(self, x: np.ndarray) -> np.ndarray:
        return np.maximum(x @ self.W1 + self.b1, 0.0) @ self.W + self.b

    def proba(self, x: np.ndarray) -> np.ndarray:
        return softmax(self.logits(x) / self.temperature)


@dataclass
class ClassifierModel:
    model_version: str
    taxonomy_version: str
    encoder_key: str
    types: tuple[str, ...]
    cue_labels: tuple[str, ...]
    cue_scale: float
    heads: dict[str, LinearHead | MLPHead]  # relevance_title, relevance_full, type_title, type_full, role
    calibration: dict[str, dict[str, list[list[float]]]] = field(default_factory=dict)
    # calibration[view][label] = [[confidence, correct], ...] out-of-fold, for per-class thresholds
    neighbours: dict[str, np.ndarray] = field(default_factory=dict)  # vecs (int8 unit rows ×127), ids, titles, labels
    meta: dict[str, Any] = field(default_factory=dict)
    vocab: tuple[str, ...] = ()  # bag-of-words terms (lemma unigrams/bigrams); empty = no such features
    idf: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    bow_scale: float = 0.0
    # added to log P(in_taxonomy) when deciding relevance, per view; chosen on out-of-fold data to
    # maximise relevance F1 (the probabilities themselves stay calibrated)
    decision_bias: dict[str, float] = field(default_factory=dict)
    # weight of the flat heads ("flat_<view>": nine types + other_aisec + not_relevant) in their view's
    # relevance probabilities; 0 = relevance heads alone (models trained before they existed)
    flat_weight: float = 0.0
    # the titles-only view's neighbour vote: settings (k_type, k_relevance, temperature, type_weight,
    # relevance_weight; empty = off) and its bank (int8 unit title vectors ×127, label index into
    # types + FLAT_EXTRA, per-row weights in the type and relevance votes)
    title_vote: dict[str, float] = field(default_factory=dict)
    title_bank: dict[str, np.ndarray] = field(default_factory=dict)
    # the titles-only specialist (None = the main model decides titles too) and its encoder delta file
    title_model: ClassifierModel | None = None
    title_delta: Path | None = None

    # ---------- features ----------
    def features(self, emb: np.ndarray, cue_feats: np.ndarray, terms: list[list[str]] | None = None) -> np.ndarray:
        parts = [emb.astype(np.float32), cue_feats.astype(np.float32) * self.cue_scale]
        if self.vocab and self.bow_scale > 0:
            from aisec_radar.classify.cues import bow_matrix

            parts.append(bow_matrix(terms or [[] for _ in range(len(emb))], self.vocab, self.idf) * self.bow_scale)
        return np.hstack(parts)

    def head(self, name: str, view: str) -> LinearHead | MLPHead:
        return self.heads.get(f"{name}_{view}") or self.heads[f"{name}_full"]

    def predict_proba(self, x: np.ndarray, has_abstract: np.ndarray) -> dict[str, np.ndarray]:
        """Calibrated probabilities: relevance (n,3), type given in-taxonomy (n,9), role (n,5)."""
        n = x.shape[0]
        rel = np.zeros((n, len(RELEVANCE)), dtype=np.float64)
        typ = np.zeros((n, len(self.types)), dtype=np.float64)
        for view, mask in (("full", has_abstract), ("title", ~has_abstract)):
            if mask.any():
                rel[mask] = self.head("relevance", view).proba(x[mask])
                typ[mask] = self.head("type", view).proba(x[mask])
                if self.flat_weight > 0 and f"flat_{view}" in self.heads:
                    rel[mask] = mix_relevance(rel[mask], self.heads[f"flat_{view}"].proba(x[mask]), self.flat_weight)
                if view == "title" and self.title_vote and len(self.title_bank.get("vecs", ())):
                    d = self.title_bank["vecs"].shape[1]  # the features begin with the embedding
                    fv, tv = title_votes(x[mask][:, :d], self.title_bank, self.title_vote, len(self.types))
                    rel[mask], typ[mask] = apply_title_vote(rel[mask], typ[mask], fv, tv, self.title_vote)
        role = self.heads["role"].proba(x) if "role" in self.heads else np.zeros((n, len(ROLES)))
        return {"relevance": rel, "type": typ, "role": role, "full": np.asarray(has_abstract, dtype=bool)}

    # ---------- decisions ----------
    def decide(self, probs: dict[str, np.ndarray], i: int) -> tuple[str, list[str], float, dict[str, float]]:
        """(relevance, assigned types, confidence, type_scores) for row i.

        type_scores are joint probabilities P(in_taxonomy) * P(type | in_taxonomy), so they read as
        "probability this paper is of this type". Confidence is that of the stored label.
        """
        rel_p = probs["relevance"][i]
        typ_p = probs["type"][i]
        full = bool(probs["full"][i]) if "full" in probs else True
        bias = self.decision_bias.get("full" if full else "title", 0.0)
        r = int(np.argmax(np.log(np.clip(rel_p, 1e-12, 1.0)) + np.array([bias, 0.0, 0.0])))
        relevance = RELEVANCE[r]
        scores = {t: float(rel_p[0] * typ_p[j]) for j, t in enumerate(self.types)}
        if relevance != "in_taxonomy":
            return relevance, [], float(rel_p[r]), scores
        order = np.argsort(-typ_p)
        labels = [self.types[order[0]]] + [self.types[j] for j in order[1:3] if typ_p[j] >= SECONDARY_MIN]
        return relevance, labels, float(rel_p[0] * typ_p[order[0]]), scores

    def top_label(self, relevance: str, labels: list[str]) -> str:
        return labels[0] if relevance == "in_taxonomy" and labels else relevance

    def thresholds(self, target_precision: float, view: str) -> dict[str, float]:
        """Per stored label: the lowest confidence at which out-of-fold precision reaches the target."""
        out = {}
        for label, pairs in self.calibration.get(view, {}).items():
            out[label] = choose_threshold(np.asarray(pairs, dtype=np.float64).reshape(-1, 2), target_precision)
        return out

    # ---------- io ----------
    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        heads_meta = {}
        for name, h in self.heads.items():
            arrays[f"{name}.W"] = h.W.astype(np.float32)
            arrays[f"{name}.b"] = h.b.astype(np.float32)
            heads_meta[name] = {"classes": list(h.classes), "temperature": float(h.temperature), "kind": "linear"}
            if isinstance(h, MLPHead):
                arrays[f"{name}.W1"] = h.W1.astype(np.float32)
                arrays[f"{name}.b1"] = h.b1.astype(np.float32)
                heads_meta[name]["kind"] = "mlp"
        for k, v in self.neighbours.items():
            arrays[f"nb.{k}"] = v
        for k, v in self.title_bank.items():
            arrays[f"tv.{k}"] = v
        if "vecs" in self.title_bank and "vecs" in self.neighbours:
            # a titles-only paper's title vector is its explanation vector too: store it once
            arrays["tv.vecs"], arrays["tv.nb_row"] = _shared_rows(self.title_bank["vecs"], self.neighbours["vecs"])
        arrays["bow.idf"] = self.idf.astype(np.float32)
        np.savez_compressed(folder / "weights.npz", **arrays)
        meta = dict(self.meta)
        meta.update({"format": 1, "model_version": self.model_version, "taxonomy_version": self.taxonomy_version,
                     "encoder_key": self.encoder_key, "types": list(self.types), "cue_labels": list(self.cue_labels),
                     "cue_scale": self.cue_scale, "heads": heads_meta, "calibration": self.calibration,
                     "vocab": list(self.vocab), "bow_scale": self.bow_scale,
                     "decision_bias": self.decision_bias, "flat_weight": self.flat_weight,
                     "title_vote": self.title_vote})
        if self.title_model is not None:
            meta["title_model"] = self.title_model.model_version
        (folder / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True), encoding="utf-8")
        self._save_title_model(folder / TITLE_DIR)
        return folder

    def _save_title_model(self, sub: Path) -> None:
        """The specialist and a copy of its encoder delta in `sub`; a stale specialist there is removed
        (loading a folder must never attach one the model was not trained with)."""
        import shutil

        from aisec_radar.classify.finetune import DELTA_NAME

        if self.title_model is None:
            for name in ("meta.json", "weights.npz", DELTA_NAME):
                (sub / name).unlink(missing_ok=True)
            return
        if self.title_delta is None or not Path(self.title_delta).exists():
            raise ClassifyError(f"title model {self.title_model.model_version} has no encoder delta file to save")
        self.title_model.save(sub)
        target = sub / DELTA_NAME
        if not target.exists() or target.resolve() != Path(self.title_delta).resolve():
            shutil.copyfile(self.title_delta, target)

    @classmethod
    def load(cls, folder: str | Path) -> ClassifierModel:
        folder = Path(folder)
        try:
            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
            with np.load(folder / "weights.npz", allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError, KeyError) as exc:
            raise ClassifyError(f"cannot load classifier artifact from {folder}: {exc}") from exc
        heads = {}
        for name, hm in meta["heads"].items():
            if hm.get("kind") == "mlp":
                heads[name] = MLPHead(classes=tuple(hm["classes"]), W1=arrays[f"{name}.W1"], b1=arrays[f"{name}.b1"],
                                      W=arrays[f"{name}.W"], b=arrays[f"{name}.b"],
                                      temperature=float(hm["temperature"]))
            else:
                heads[name] = LinearHead(classes=tuple(hm["classes"]), W=arrays[f"{name}.W"], b=arrays[f"{name}.b"],
                                         temperature=float(hm["temperature"]))
        nb = {k[3:]: v for k, v in arrays.items() if k.startswith("nb.")}
        known = {"heads", "calibration", "types", "cue_labels", "cue_scale", "model_version", "taxonomy_version",
                 "encoder_key", "vocab", "bow_scale", "decision_bias", "flat_weight", "title_vote", "title_model"}
        title_model, title_delta = None, None
        if meta.get("title_model"):
            from aisec_radar.classify.finetune import DELTA_NAME

            title_model, title_delta = cls.load(folder / TITLE_DIR), folder / TITLE_DIR / DELTA_NAME
            if title_model.model_version != meta["title_model"] or not title_delta.exists():
                raise ClassifyError(f"classifier artifact {folder}: its title model {meta['title_model']} is "
                                    f"missing or replaced in {folder / TITLE_DIR}")
        return cls(model_version=meta["model_version"], taxonomy_version=meta["taxonomy_version"],
                   encoder_key=meta["encoder_key"], types=tuple(meta["types"]),
                   cue_labels=tuple(meta["cue_labels"]), cue_scale=float(meta["cue_scale"]), heads=heads,
                   calibration=meta.get("calibration", {}), neighbours=nb,
                   meta={k: v for k, v in meta.items() if k not in known}, vocab=tuple(meta.get("vocab", ())),
                   idf=arrays.get("bow.idf", np.zeros(0, np.float32)), bow_scale=float(meta.get("bow_scale", 0.0)),
                   decision_bias={k: float(v) for k, v in (meta.get("decision_bias") or {}).items()},
                   flat_weight=float(meta.get("flat_weight", 0.0)),
                   title_vote={k: float(v) for k, v in (meta.get("title_vote") or {}).items()},
                   title_bank=_title_bank_from(arrays, nb), title_model=title_model, title_delta=title_delta)


def _shared_rows(vecs: np.ndarray, bank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the rows of `vecs` not in `bank`, per row of `vecs` its row in `bank` or -1)."""
    where = {row.tobytes(): k for k, row in enumerate(bank)}
    ref = np.array([where.get(row.tobytes(), -1) for row in vecs], dtype=np.int32)
    return vecs[ref < 0], ref


def _title_bank_from(arrays: dict[str, np.ndarray], nb: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The title bank as saved: its own rows, and those shared with the neighbour bank put back."""
    bank = {k[3:]: v for k, v in arrays.items() if k.startswith("tv.") and k != "tv.nb_row"}
    ref = arrays.get("tv.nb_row")
    if ref is not None:
        vecs = np.empty((len(ref), bank["vecs"].shape[1]), dtype=bank["vecs"].dtype)
        vecs[ref >= 0] = nb["vecs"][ref[ref >= 0]]
        vecs[ref < 0] = bank["vecs"]
        bank["vecs"] = vecs
    return bank


def choose_threshold(pairs: np.ndarray, target: float, min_support: int = 3) -> float:
    """Lowest confidence t such that predictions with confidence >= t were right at least `target`
    of the time (out of fold), with a +0.5/+1 shrink so a class seen a handful of times is not
    trusted on luck. 1.01 (never auto) when no such t exists."""
    if pairs.size == 0:
        return 1.01
    order = np.argsort(-pairs[:, 0], kind="stable")
    conf = pairs[order, 0]
    correct = np.cumsum(pairs[order, 1])
    n = np.arange(1, len(conf) + 1)
    prec = (correct + 0.5) / (n + 1.0)
    # a threshold can only sit between distinct confidences: evaluate at the end of each tie group
    boundary = np.append(conf[1:] < conf[:-1], True)
    ok = np.where((prec >= target) & (n >= min_support) & boundary)[0]
    if ok.size == 0:
        return 1.01
    # accept down to the last rank where the running precision still meets the target
    return float(conf[ok[-1]])


def shipped_model_dir() -> Path:
    return Path(str(resources.files("aisec_radar.classify").joinpath("model")))
