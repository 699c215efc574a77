"""Fitting the heads, cross-validation, temperature calibration and the calibration sets.

Everything here works on an ``ExampleSet``: examples plus, per example, the embedding and cue
features of its title alone ("title" view) and of title + abstract ("full" view; the title again
when there is no abstract). Papers with an abstract are trained in both views, so titles-only
inputs (curated lists) and stream papers with abstracts each get a head that has seen their kind.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aisec_radar.classify.data import Example
from aisec_radar.classify.model import (
    FLAT_EXTRA,
    RELEVANCE,
    ROLES,
    VIEWS,
    ClassifierModel,
    LinearHead,
    MLPHead,
    apply_title_vote,
    mix_relevance,
    softmax,
    title_votes,
    unit_rows,
)

# training-only titles that never enter the full view's heads: the bundled literature titles and
# the self-labelled corpus titles ("pseudo")
TITLE_ONLY_SOURCES = ("literature", "pseudo")

DEFAULT_CONFIG: dict[str, Any] = {
    # inverse regularisation on standardised features; chosen by 5-fold CV (docs/classifier.md)
    "C_relevance": 0.01,
    "C_type": 0.025,  # the full view's type head; 0.05 there: stream type accuracy 0.936 -> 0.919
    # the titles-only type head's own: nested dev titles 0.820 (at 0.025) -> 0.825 (0.05) / 0.826 (0.1)
    # / 0.823 (0.2), the stream untouched (session 5, docs/classifier.md)
    "C_type_title": 0.05,
    "C_role": 0.05,
    "cue_scale": 1.0,
    "bow_scale": 0.0,  # tf-idf of title/abstract lemmas (0 = off: no CV gain, 10x more weights)
    "bow_max_terms": 4000,
    "type_abstract_weight": 3.0,
    "type_head": "linear",  # linear | mlp (one hidden layer; CV: better type accuracy, same relevance)
    "mlp_hidden": 256,
    "mlp_alpha": 3.0,  # weight of papers with an abstract in the type heads (vs curated titles)
    "pool_weight": 0.3,  # pseudo-negatives from the corpus: ~9% of them are in fact relevant
    "pool_views": ["full"],  # heads that see the pool (titles-only inputs are curated lists, not the stream)
    "cross_view_weight": 0.5,  # rows of the other view in a view's head
    "title_only_in_full": True,  # titles-only examples also train the full-view type head
    "title_only_in_full_relevance": False,  # ... and the full-view relevance head (CV: slightly worse)
    # papers with an abstract also train the titles-only heads (their title alone)? No: those heads
    # serve curated title lists, and stream titles there cost dev titles macro-F1 (0.796 -> 0.772)
    "stream_in_title_view": False,
    # ... except in the titles-only type head, at this weight: the stream's papers of the nine types
    # give the thin types (model_extraction, data_extraction, ...) examples. CV on the frozen
    # encoder: dev titles macro-F1 0.795 -> 0.808 (weight 1: 0.803, 0.25: 0.807); the stream is untouched
    "stream_in_title_type": True,
    "title_type_stream_weight": 0.5,
    # ... and the stream's not_relevant papers, by their title alone, at this weight in the titles-only
    # relevance and flat heads: curated lists' negatives (diffusion, self-supervised learning) teach
    # nothing about ordinary GNN / attention / KV-cache titles, which without them drifted into the
    # thin types (GNN titles -> model_inversion). bench/bench_title_negatives.py (540 such corpus
    # titles): 92.2% -> 96.9% kept not_relevant; nested dev titles 0.8198 / 0.8185 / 0.8121 at weight
    # 0 / 0.15 / 0.3 (train's CV at 1.0: -0.014). docs/classifier.md, "Session 5"
    "title_stream_negatives_weight": 0.15,
    "relevance_class_weight": {"in_taxonomy": 1.0, "other_aisec": 1.0, "not_relevant": 1.0},
    # flat heads (nine types + other_aisec + not_relevant) per view, blended into that view's relevance
    # probabilities with this weight (CV: stream relevance AP 0.888 -> 0.904; docs/classifier.md)
    "flat_weight": 0.7,
    "flat_views": ["full", "title"],
    "C_flat": 0.01,
    "flat_title_weight": 0.5,  # titles-only examples in the flat head, relative to papers with an abstract
    # corpus papers the model itself auto-accepted in the nine types, by their title alone, in these
    # titles-only heads at this weight (source "pseudo"; never in the full view, never scored).
    # Nested dev titles macro-F1 0.819 -> 0.827 (type head) / 0.831 (relevance, type and flat heads,
    # which also tilt the view toward in_taxonomy: stream titles alone, relevance P 0.641 -> 0.593);
    # docs/classifier.md, "Session 9"
    "pseudo_weight": 0.5,
    "pseudo_heads": ["type"],
    # the titles-only view's neighbour vote (model.neighbour_vote): the k nearest title rows of that
    # view's relevance and type heads (same rows, same weights) vote, blended in at these weights
    # (0 = off). Nested dev titles macro-F1 0.827 -> 0.837, the stream untouched; docs/classifier.md,
    # "Session 10"
    "title_vote_type_weight": 0.3,
    "title_vote_relevance_weight": 0.5,
    "title_vote_k_type": 20,
    "title_vote_k_relevance": 10,
    "title_vote_temperature": 0.05,
    # a labeller's secondary types (GUIDE.md: one primary, optional secondaries) as extra rows of
    # the type heads at this fraction of the paper's weight: the heads are softmaxes over the nine
    # types, so a paper on a border (a model watermark: model_extraction, secondary
    # watermark_removal) then teaches both sides in proportion instead of one (0 = primary only).
    # Nested CV over the same fold encoders (session 14): stream type accuracy 0.944 / 0.952 / 0.960 /
    # 0.944 at 0 / 0.1 / 0.25 / 0.35-1.0 (chosen on four folds, read on the fifth: 0.952); the
    # curators' 400 0.921 -> 0.937 at every weight; relevance untouched; docs/classifier.md
    "secondary_type_weight": 0.25,
    "seed": 13,
}


@dataclass
class ExampleSet:
    examples: list[Example]
    emb: dict[str, np.ndarray]  # view -> (n, d)
    cues: dict[str, np.ndarray]  # view -> (n, k)
    bow: dict[str, np.ndarray] = field(default_factory=dict)  # view -> (n, vocab) tf-idf
    meta: dict[str, Any] = field(default_factory=dict)
    bow_scale: float = 1.0

    def subset(self, idx: np.ndarray) -> ExampleSet:
        return ExampleSet([self.examples[i] for i in idx], {v: e[idx] for v, e in self.emb.items()},
                          {v: c[idx] for v, c in self.cues.items()}, {v: b[idx] for v, b in self.bow.items()},
                          self.meta, self.bow_scale)

    def features(self, view: str, cue_scale: float) -> np.ndarray:
        parts = [self.emb[view], self.cues[view] * cue_scale]
        if view in self.bow and self.bow_scale > 0:
            parts.append(self.bow[view] * self.bow_scale)
        return np.hstack(parts).astype(np.float32)


def relevance_of(label: str) -> str:
    return label if label in ("other_aisec", "not_relevant") else "in_taxonomy"


def fit_lr(X: np.ndarray, y: list[str], w: np.ndarray, classes: tuple[str, ...], C: float, seed: int,
           n_std: int | None = None) -> LinearHead:
    """Multinomial logistic regression as a LinearHead; classes missing from y get a very low bias."""
    from sklearn.linear_model import LogisticRegression

    present = sorted(set(y), key=classes.index)
    W = np.zeros((X.shape[1], len(classes)), dtype=np.float32)
    b = np.full(len(classes), -30.0, dtype=np.float32)
    if len(present) == 1:
        b[classes.index(present[0])] = 0.0
        return LinearHead(classes, W, b)
    # Standardise for fast, well-conditioned lbfgs; fold the scaling back into W and b afterwards.
    # Only the first n_std (dense) columns are scaled: scaling sparse tf-idf columns would blow rare terms up.
    mu = X.mean(axis=0)
    sd = X.std(axis=0) + 1e-3
    if n_std is not None:
        sd[n_std:] = 1.0
    lr = LogisticRegression(C=C, max_iter=500, tol=1e-3, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lr.fit((X - mu) / sd, y, sample_weight=w)
    coef = lr.coef_ / sd
    inter = lr.intercept_ - coef @ mu
    if len(lr.classes_) == 2:  # sklearn stores one row for two classes
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        inter = np.array([-inter[0] / 2, inter[0] / 2])
    for k, cls in enumerate(lr.classes_):
        j = classes.index(cls)
        W[:, j] = coef[k]
        b[j] = inter[k]
    return LinearHead(classes, W, b)


def fit_mlp(X: np.ndarray, y: list[str], w: np.ndarray, classes: tuple[str, ...], hidden: int, alpha: float,
            seed: int, n_std: int | None = None) -> MLPHead:
    """One-hidden-layer ReLU MLP (sklearn, adam), with the standardisation folded into the first layer."""
    from sklearn.neural_network import MLPClassifier

    present = sorted(set(y), key=classes.index)
    if len(present) < 2:
        lin = fit_lr(X, y, w, classes, 1.0, seed, n_std)
        return MLPHead(classes, np.zeros((X.shape[1], 1), np.float32), np.zeros(1, np.float32),
                       np.zeros((1, len(classes)), np.float32), lin.b)
    mu = X.mean(axis=0)
    sd = X.std(axis=0) + 1e-3
    if n_std is not None:
        sd[n_std:] = 1.0
    clf = MLPClassifier(hidden_layer_sizes=(hidden,), alpha=alpha, max_iter=300, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit((X - mu) / sd, y, sample_weight=w / w.mean())
    W1 = clf.coefs_[0] / sd[:, None]
    b1 = clf.intercepts_[0] - mu @ W1
    Wo, bo = clf.coefs_[1], clf.intercepts_[1]
    if len(clf.classes_) == 2:  # sklearn uses one logistic output for two classes
        Wo = np.hstack([-Wo / 2, Wo / 2])
        bo = np.array([-bo[0] / 2, bo[0] / 2])
    W = np.zeros((W1.shape[1], len(classes)), np.float32)
    b = np.full(len(classes), -30.0, np.float32)
    for k, cls in enumerate(clf.classes_):
        j = classes.index(cls)
        W[:, j] = Wo[:, k]
        b[j] = bo[k]
    return MLPHead(classes, W1.astype(np.float32), b1.astype(np.float32), W, b)


def fit_temperature(logits: np.ndarray, y_idx: np.ndarray) -> float:
    """The temperature minimising out-of-fold log loss (grid + refinement); 1.0 without data."""
    if len(y_idx) < 10:
        return 1.0

    def nll(t: float) -> float:
        p = softmax(logits / t)
        return float(-np.mean(np.log(np.clip(p[np.arange(len(y_idx)), y_idx], 1e-12, 1.0))))

    grid = np.exp(np.linspace(np.log(0.25), np.log(4.0), 41))
    best = min(grid, key=nll)
    fine = best * np.exp(np.linspace(-0.08, 0.08, 17))
    return float(min(fine, key=nll))


def _rows(es: ExampleSet, view: str, cfg: dict[str, Any], cue_scale: float, keep: Any,
          title_only_in_full: bool | None = None,
          stream_in_title: bool | None = None, own_only: bool = False) -> tuple[np.ndarray, list[int], np.ndarray]:
    """Feature rows for a head of `view`: own-view rows, plus the other view of papers with an
    abstract at cross_view_weight (not with `own_only`). Titles-only examples enter the full view
    only if configured; the bundled literature titles never do (they cost stream type/role accuracy
    there). Papers with an abstract enter the title view only if `stream_in_title` (default:
    stream_in_title_view)."""
    tof = cfg["title_only_in_full"] if title_only_in_full is None else title_only_in_full
    Xs, idx, ws = [], [], []
    # titles-only heads without stream papers, unless no titles-only example would be left
    if stream_in_title is None:
        stream_in_title = cfg.get("stream_in_title_view", True)
    skip_stream = (view == "title" and not stream_in_title
                   and any(keep(e) and not e.has_abstract for e in es.examples))
    for v in VIEWS:
        own = v == view
        rows, factors = [], []
        for i, e in enumerate(es.examples):
            if not keep(e) or (e.source == "pool" and view not in cfg.get("pool_views", VIEWS)):
                continue
            if e.has_abstract and skip_stream:
                w = _stream_title_weight(e, cfg) if own else 0.0
                if w > 0:
                    rows.append(i)
                    factors.append(w)
                continue
            if own and (v == "title" or e.has_abstract or (tof and e.source not in TITLE_ONLY_SOURCES)):
                rows.append(i)
                factors.append(_pseudo_factor(e, cfg))
            elif not own and not own_only and e.has_abstract and cfg["cross_view_weight"] > 0:
                rows.append(i)
                factors.append(cfg["cross_view_weight"])
        if not rows:
            continue
        Xs.append(es.features(v, cue_scale)[rows])
        idx.extend(rows)
        ws.append(np.array([es.examples[i].weight * f for i, f in zip(rows, factors, strict=True)],
                           dtype=np.float32))
    if not Xs:
        return np.zeros((0, 0), np.float32), [], np.zeros(0, np.float32)
    return np.vstack(Xs), idx, np.concatenate(ws)


def _pseudo_factor(e: Example, cfg: dict[str, Any]) -> float:
    """Self-labelled titles count less than any human's label."""
    return float(cfg["pseudo_weight"]) if e.source == "pseudo" else 1.0


def _stream_title_weight(e: Example, cfg: dict[str, Any]) -> float:
    """Weight of a paper with an abstract, by its title alone, in the titles-only relevance and flat
    heads, which otherwise learn from curated titles only: the stream's not_relevant papers at
    title_stream_negatives_weight, no other (its other_aisec and nine-type titles cost dev titles)."""
    return float(cfg["title_stream_negatives_weight"]) if e.label == "not_relevant" else 0.0


def _flat_factor(view: str, cfg: dict[str, Any]) -> Any:
    """Weight of an example in the flat head of `view` (0 = left out). full: every paper, titles-only
    ones at flat_title_weight; title: the titles-only examples, and papers with an abstract as in the
    titles-only relevance head (`_stream_title_weight`)."""
    def factor(e: Example) -> float:
        if view == "full":
            if e.source == "pseudo":  # the full view learns from human labels only
                return 0.0
            return 1.0 if e.has_abstract else float(cfg["flat_title_weight"])
        if e.source == "pseudo" and "flat" not in cfg["pseudo_heads"]:
            return 0.0
        return _stream_title_weight(e, cfg) if e.has_abstract else _pseudo_factor(e, cfg)
    return factor


def _relevance_rows(es: ExampleSet, view: str, cfg: dict[str, Any],
                    own_only: bool = False) -> tuple[np.ndarray, list[int], np.ndarray, list[str]]:
    """Rows, weights and labels of a view's relevance head."""
    pr = "relevance" in cfg["pseudo_heads"]
    X, idx, w = _rows(es, view, cfg, cfg["cue_scale"], lambda e: pr or e.source != "pseudo",
                      cfg.get("title_only_in_full_relevance", True), own_only=own_only)
    if not idx and not own_only:  # no paper with an abstract: the full view learns from titles
        X, idx, w = _rows(es, view, cfg, cfg["cue_scale"], lambda e: True, True)
    y = [relevance_of(es.examples[i].label) for i in idx]
    rcw = cfg["relevance_class_weight"]
    return X, idx, w * np.array([rcw.get(lab, 1.0) for lab in y], dtype=np.float32), y


def _type_rows(es: ExampleSet, view: str, cfg: dict[str, Any], types: tuple[str, ...],
               own_only: bool = False) -> tuple[np.ndarray, list[int], np.ndarray, list[str]]:
    """Rows, weights (before class balancing) and labels of a view's type head."""
    pt = "type" in cfg["pseudo_heads"]
    X, idx, w = _rows(es, view, cfg, cfg["cue_scale"], lambda e: e.label in types and (pt or e.source != "pseudo"),
                      stream_in_title=cfg["stream_in_title_type"], own_only=own_only)
    aw = cfg["title_type_stream_weight"] if view == "title" else cfg["type_abstract_weight"]
    w = w * np.array([aw if es.examples[i].has_abstract else 1.0 for i in idx], dtype=np.float32)
    return X, idx, w, [es.examples[i].label for i in idx]


def _with_secondary(es: ExampleSet, X: np.ndarray, idx: list[int], w: np.ndarray, y: list[str],
                    types: tuple[str, ...], weight: float) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """A type head's rows plus one row per secondary type of each row's paper, at `weight` of its
    weight: soft targets for a softmax head from the labeller's own multi-label decision."""
    if weight <= 0:
        return X, w, y
    extra = [(r, s) for r, i in enumerate(idx) for s in es.examples[i].secondary if s in types and s != y[r]]
    if not extra:
        return X, w, y
    rows = np.array([r for r, _ in extra], dtype=int)
    return (np.vstack([X, X[rows]]), np.concatenate([w, w[rows] * np.float32(weight)]),
            [*y, *(s for _, s in extra)])


def title_vote_settings(cfg: dict[str, Any]) -> dict[str, float]:
    """The neighbour vote's settings as the model stores them; empty when both weights are 0."""
    if cfg["title_vote_type_weight"] <= 0 and cfg["title_vote_relevance_weight"] <= 0:
        return {}
    return {"type_weight": float(cfg["title_vote_type_weight"]),
            "relevance_weight": float(cfg["title_vote_relevance_weight"]),
            "k_type": float(cfg["title_vote_k_type"]), "k_relevance": float(cfg["title_vote_k_relevance"]),
            "temperature": float(cfg["title_vote_temperature"])}


def title_bank(es: ExampleSet, types: tuple[str, ...], cfg: dict[str, Any]) -> dict[str, np.ndarray]:
    """The titles-only view's voters: the title rows its relevance and type heads learn from, with
    the weights those heads give them (float unit vectors; `build_model` stores them as int8)."""
    classes = (*types, *FLAT_EXTRA)
    _, ridx, rw, _ = _relevance_rows(es, "title", cfg, own_only=True)
    _, tidx, tw, _ = _type_rows(es, "title", cfg, types, own_only=True)
    human = lambda i: es.examples[i].source != "pseudo"  # noqa: E731
    rows = sorted(i for i in set(ridx) | set(tidx) if human(i))
    pos = {i: k for k, i in enumerate(rows)}
    w_rel = np.zeros(len(rows), np.float32)
    w_type = np.zeros(len(rows), np.float32)
    for i, w in zip(ridx, rw, strict=True):
        if human(i):
            w_rel[pos[i]] = w
    for i, w in zip(tidx, tw, strict=True):
        if human(i):
            w_type[pos[i]] = w
    return {"rows": np.array(rows, dtype=np.int64), "vecs": unit_rows(es.emb["title"][rows]),
            "labels": np.array([classes.index(es.examples[i].label) for i in rows], dtype=np.int16),
            "w_type": w_type, "w_relevance": w_rel}


def fit_heads(es: ExampleSet, types: tuple[str, ...], cfg: dict[str, Any]) -> dict[str, LinearHead | MLPHead]:
    cs = cfg["cue_scale"]
    heads: dict[str, LinearHead | MLPHead] = {}
    nd = es.emb["full"].shape[1] + es.cues["full"].shape[1]
    for view in VIEWS:
        X, _, w, y = _relevance_rows(es, view, cfg)
        heads[f"relevance_{view}"] = fit_lr(X, y, w, RELEVANCE, cfg["C_relevance"], cfg["seed"], nd)
        X, idx, w, y = _type_rows(es, view, cfg, types)
        X, w, y = _with_secondary(es, X, idx, w, y, types, float(cfg["secondary_type_weight"]))
        # balance the nine types: rare types (data_decryption, model_extraction) must still win their papers
        counts = {t: y.count(t) for t in set(y)}
        cw = np.array([len(y) / (len(counts) * counts[lab]) for lab in y], dtype=np.float32) ** 0.5
        if cfg.get("type_head") == "mlp":
            heads[f"type_{view}"] = fit_mlp(X, y, w * cw, types, int(cfg["mlp_hidden"]), float(cfg["mlp_alpha"]),
                                            cfg["seed"], nd)
        else:
            heads[f"type_{view}"] = fit_lr(X, y, w * cw, types, cfg["C_type_title" if view == "title" else "C_type"],
                                           cfg["seed"], nd)
    if cfg.get("flat_weight", 0) > 0:
        for view in cfg.get("flat_views", ["full"]):
            factor = _flat_factor(view, cfg)
            rows = [i for i, e in enumerate(es.examples) if e.source != "pool" and factor(e) > 0]
            w = np.array([es.examples[i].weight * factor(es.examples[i]) for i in rows], dtype=np.float32)
            if rows:
                heads[f"flat_{view}"] = fit_lr(es.features(view, cs)[rows], [es.examples[i].label for i in rows], w,
                                               (*types, *FLAT_EXTRA), cfg["C_flat"], cfg["seed"], nd)
    X, idx, w = _rows(es, "full", cfg, cs, lambda e: e.label != "not_relevant" and e.role in ROLES)
    y = [es.examples[i].role for i in idx]
    if idx:
        heads["role"] = fit_lr(X, y, w, ROLES, cfg["C_role"], cfg["seed"], nd)
    return heads


def stratified_folds(labels: list[str], k: int, seed: int) -> np.ndarray:
    """Fold number per example, stratified by label (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    folds = np.zeros(len(labels), dtype=np.int32)
    by: dict[str, list[int]] = {}
    for i, lab in enumerate(labels):
        by.setdefault(lab, []).append(i)
    offset = 0
    for lab in sorted(by):
        idx = np.array(by[lab])
        rng.shuffle(idx)
        for j, i in enumerate(idx):
            folds[i] = (j + offset) % k
        offset += len(idx)
    return folds


@dataclass
class OOF:
    """Out-of-fold raw logits per view for the evaluated examples (others NaN)."""

    rel_logits: dict[str, np.ndarray]
    type_logits: dict[str, np.ndarray]
    role_logits: np.ndarray
    evaluated: np.ndarray  # bool per example
    flat_logits: dict[str, np.ndarray] = field(default_factory=dict)  # view -> nine types + other_aisec + not_relevant
    # the titles-only view's neighbour votes ("flat": nine types + other_aisec + not_relevant; "type")
    title_votes: dict[str, np.ndarray] = field(default_factory=dict)


def training_only(e: Example) -> bool:
    """Examples in every training fold and never scored: the pool, the taxonomy's and literature
    titles, and targeted hand labels (keyword-drawn at a border: scoring them would skew the
    metrics, and drawing folds over them would redraw everyone else's)."""
    return e.source in ("pool", "taxonomy", *TITLE_ONLY_SOURCES) or e.sample == "targeted"


def cv_folds(examples: list[Example], k: int, seed: int, evaluate: Any = None) -> np.ndarray:
    """Fold per example, -1 for those never scored (`training_only` by default: they are in every
    training fold). Drawn without the literature titles, the pool and targeted labels, so adding
    them leaves the other examples' folds unchanged; the nested CV of a fine-tuned encoder reuses
    exactly these folds."""
    if evaluate is None:
        evaluate = lambda e: not training_only(e)  # noqa: E731
    ev = np.array([bool(evaluate(e)) for e in examples], dtype=bool)
    # the taxonomy's titles stay in the draw (never scored): removing them would redraw earlier folds
    base = np.array([not training_only(e) or e.source == "taxonomy" for e in examples], dtype=bool)
    folds = np.full(len(examples), -1, dtype=np.int32)
    folds[base] = stratified_folds([e.label for e, b in zip(examples, base, strict=True) if b], k, seed)
    folds[~ev] = -1
    return folds


def cross_validate(es: ExampleSet, types: tuple[str, ...], cfg: dict[str, Any], k: int = 5,
                   evaluate: Any = None) -> OOF:
    """k-fold CV over examples selected by `evaluate` (default: all but pool/taxonomy); those
    never evaluated (pool, taxonomy, literature) are in every training fold. Folds are drawn
    without the literature titles, so adding them leaves the other examples' folds unchanged."""
    folds = cv_folds(es.examples, k, cfg["seed"], evaluate)
    ev = folds >= 0
    n = len(es.examples)
    rel = {v: np.full((n, len(RELEVANCE)), np.nan) for v in VIEWS}
    typ = {v: np.full((n, len(types)), np.nan) for v in VIEWS}
    role = np.full((n, len(ROLES)), np.nan)
    flat = ({v: np.full((n, len(types) + len(FLAT_EXTRA)), np.nan) for v in cfg.get("flat_views", ["full"])}
            if cfg.get("flat_weight", 0) > 0 else {})
    cs = cfg["cue_scale"]
    vote = title_vote_settings(cfg)
    votes = ({"flat": np.full((n, len(types) + len(FLAT_EXTRA)), np.nan), "type": np.full((n, len(types)), np.nan)}
             if vote else {})
    for f in range(k):
        test = np.where(folds == f)[0]
        train = np.where(folds != f)[0]
        if len(test) == 0:
            continue
        sub = es.subset(train)
        heads = fit_heads(sub, types, cfg)
        if vote:
            votes["flat"][test], votes["type"][test] = title_votes(es.emb["title"][test], title_bank(sub, types, cfg),
                                                                   vote, len(types))
        for v in VIEWS:
            X = es.features(v, cs)[test]
            rel[v][test] = heads[f"relevance_{v}"].logits(X)
            typ[v][test] = heads[f"type_{v}"].logits(X)
        if "role" in heads:
            role[test] = heads["role"].logits(es.features("full", cs)[test])
        for v, arr in flat.items():
            if f"flat_{v}" in heads:
                arr[test] = heads[f"flat_{v}"].logits(es.features(v, cs)[test])
    return OOF(rel, typ, role, ev, flat, votes)


def calibrate(heads: dict[str, LinearHead | MLPHead], es: ExampleSet, oof: OOF, types: tuple[str, ...]) -> None:
    """Set each head's temperature from out-of-fold logits of the examples of its own view."""
    for v in VIEWS:
        m = oof.evaluated & np.array([v == "title" or e.has_abstract for e in es.examples])
        y = np.array([RELEVANCE.index(relevance_of(e.label)) for e in es.examples])
        heads[f"relevance_{v}"].temperature = fit_temperature(oof.rel_logits[v][m], y[m])
        mt = m & np.array([e.label in types for e in es.examples])
        yt = np.array([types.index(e.label) if e.label in types else 0 for e in es.examples])
        heads[f"type_{v}"].temperature = fit_temperature(oof.type_logits[v][mt], yt[mt])
    for v, logits in oof.flat_logits.items():
        if f"flat_{v}" not in heads:
            continue
        classes = heads[f"flat_{v}"].classes
        mf = oof.evaluated & np.array([(e.has_abstract == (v == "full")) and e.label in classes for e in es.examples])
        yf = np.array([classes.index(e.label) if e.label in classes else 0 for e in es.examples])
        if mf.any():
            heads[f"flat_{v}"].temperature = fit_temperature(logits[mf], yf[mf])
    if "role" in heads:
        mr = oof.evaluated & np.array([e.role in ROLES and e.label != "not_relevant" for e in es.examples])
        yr = np.array([ROLES.index(e.role) if e.role in ROLES else 0 for e in es.examples])
        if mr.any():
            heads["role"].temperature = fit_temperature(oof.role_logits[mr], yr[mr])


def oof_probs(oof: OOF, heads: dict[str, LinearHead | MLPHead], view: str,
              flat_weight: float = 0.0, title_vote: dict[str, float] | None = None) -> dict[str, np.ndarray]:
    """Calibrated out-of-fold probabilities in one view (using the final heads' temperatures), with
    the flat head blended into the view's relevance and, in the titles-only view, the neighbour
    votes, as ClassifierModel.predict_proba does."""
    rel = softmax(oof.rel_logits[view] / heads[f"relevance_{view}"].temperature)
    if flat_weight > 0 and view in oof.flat_logits and f"flat_{view}" in heads:
        rel = mix_relevance(rel, softmax(oof.flat_logits[view] / heads[f"flat_{view}"].temperature), flat_weight)
    typ = softmax(oof.type_logits[view] / heads[f"type_{view}"].temperature)
    if view == "title" and title_vote and oof.title_votes:
        rel, typ = apply_title_vote(rel, typ, oof.title_votes["flat"], oof.title_votes["type"], title_vote)
    return {"relevance": rel, "type": typ, "full": np.full(len(rel), view == "full")}


def stored_labels(model: ClassifierModel, probs: dict[str, np.ndarray],
                  rows: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The label the classifier would store (top type or other_aisec/not_relevant) and its confidence."""
    out, conf = [], np.zeros(len(rows))
    for k, i in enumerate(rows):
        relevance, labels, c, _ = model.decide(probs, int(i))
        out.append(model.top_label(relevance, labels))
        conf[k] = c
    return out, conf
