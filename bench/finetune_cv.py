"""Nested cross-validation of the fine-tuned encoder: the honest quality figures for issue #4.

`train` over a fine-tuned encoder cross-validates its heads on vectors from an encoder that has
already seen every label, which flatters the figures. Here, for each of the 5 folds `train` uses,
the top layers are fine-tuned on the other four folds only, every text is re-encoded, the heads are
cross-validated on those vectors and only that fold's out-of-fold logits are kept. The assembled
out-of-fold logits then go through the same calibration, decision bias and metrics as `train`.
`--epochs 0` gives the frozen-encoder baseline on the same folds.

Needs ../shared/labels (skips otherwise). About 5 minutes per fold on 2 cores. Not part of
`make bench` (quality, not speed). Usage:

    python bench/finetune_cv.py [--folds 5] [--layers 2] [--epochs 2] [--lr 5e-5] [--title-weight 0.5]
        [--rank 64] [--out FILE.json] [--vectors DIR] [--heads JSON] [--errors FILE.jsonl] [--probs FILE.npz]
        [--pseudo-candidates IDS.txt]

The shipped configuration trains its titles-only heads with self-labelled corpus titles too
(classify/data/pseudo_titles.jsonl, labelled by the shipped model). That file is never read here
(its labeller saw every fold); `--pseudo-candidates` gives each outer fold's own model the same
job on the listed corpus papers, so the figures stay out of fold.
"""

from __future__ import annotations

import argparse
import hashlib
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
SHARED = Path(os.environ.get("AISEC_RADAR_SHARED", REPO.parent / "shared"))
SETS = ("titles", "stream_full", "stream_curated_full", "stream_random_full", "stream_active_full")


def summarise(metrics: dict) -> dict:
    """The goal figures of each evaluation set."""
    out = {}
    for name in SETS:
        m = metrics.get(name)
        if not m:
            continue
        rel = m["relevance"]
        out[name] = {"n": m["n"], "macro_f1": m["macro_f1"], "type_accuracy": m.get("type_accuracy"),
                     "precision": rel["precision"], "recall": rel["recall"],
                     "average_precision": rel.get("average_precision")}
    return out


def scored_sets(model: object, ex: list, oof: object):
    """(name, rows, calibrated out-of-fold probabilities of the view) of the two scored sets, picked
    as the builder picks them: dev titles in the titles-only view, stream papers in the full view."""
    import numpy as np

    import aisec_radar.classify.training as T
    from aisec_radar.classify.builder import _stream_sample

    for name, view, sel in (("titles", "title", lambda e: not e.has_abstract), ("stream_full", "full", _stream_sample)):
        rows = np.array([i for i, e in enumerate(ex) if oof.evaluated[i] and sel(e)], dtype=int)
        yield name, view, rows, T.oof_probs(oof, model.heads, view, model.flat_weight, model.title_vote)


def stamp_matches(stored: dict, want: dict) -> bool:
    """Whether a --vectors folder's stamp names this recipe on these labels. A stamp written before
    an option existed lacks its key; it matches when that option is at its default (off), which
    by construction reproduces the recipe the stamp recorded."""
    from aisec_radar.classify.finetune import FINETUNE_DEFAULTS

    cfg = {**{k: FINETUNE_DEFAULTS[k] for k in want["config"] if k not in stored.get("config", {})
              and k in FINETUNE_DEFAULTS}, **stored.get("config", {})}
    return cfg == want["config"] and stored.get("examples") == want["examples"]


def write_errors(path: Path, model: object, ex: list, oof: object) -> None:
    """Each example the assembled out-of-fold logits get wrong, with the label the classifier would
    store: what an error analysis reads (ids and titles only; the abstracts stay in the corpus)."""
    import aisec_radar.classify.training as T

    with path.open("w", encoding="utf-8") as f:
        for name, _view, rows, probs in scored_sets(model, ex, oof):
            labels, conf = T.stored_labels(model, probs, rows)
            for i, lab, c in zip(rows, labels, conf, strict=True):
                if lab != ex[i].label:
                    f.write(json.dumps({"set": name, "id": ex[i].id, "title": ex[i].title, "label": ex[i].label,
                                        "predicted": lab, "confidence": round(float(c), 3),
                                        "source": ex[i].source, "sample": ex[i].sample}) + "\n")


def write_probs(path: Path, model: object, ex: list, oof: object, folds: object) -> None:
    """The calibrated out-of-fold probabilities of the two scored sets, with labels and outer folds:
    what a decision-rule experiment (e.g. per-class biases chosen on four folds, read on the fifth)
    needs without re-running the CV."""
    import numpy as np

    import aisec_radar.classify.training as T

    out = {}
    title_rows = np.zeros(0, dtype=int)
    for name, view, rows, probs in scored_sets(model, ex, oof):
        if name == "titles":
            title_rows = rows
        out.update({f"{name}_rel": probs["relevance"][rows], f"{name}_type": probs["type"][rows],
                    f"{name}_fold": np.asarray(folds)[rows], f"{name}_label": np.array([ex[i].label for i in rows]),
                    f"{name}_source": np.array([ex[i].source for i in rows]),
                    f"{name}_bias": np.array(model.decision_bias.get(view, 0.0))})
    if oof.title_votes:  # the titles-only view's parts before the vote, and the votes: blend settings offline
        bare, votes, rows = T.oof_probs(oof, model.heads, "title", model.flat_weight), oof.title_votes, title_rows
        out.update({"titles_rel_bare": bare["relevance"][rows], "titles_type_bare": bare["type"][rows],
                    "titles_vote_flat": votes["flat"][rows], "titles_vote_type": votes["type"][rows]})
    np.savez_compressed(path, types=np.array(model.types), **out)


def pseudo_cv(s, ex, folds, f, vecs, views, cues, cands, index, cm, hcfg, types):  # noqa: ANN001, ANN201
    """Outer fold f with self-labelled titles: the model built from the other folds (heads over this
    fold's encoder, which never saw fold f) labels the candidates by title and abstract; those it
    auto-accepts in the nine types join the inner CV as title-only `pseudo` examples (training only,
    so every scored example keeps its fold). Returns the out-of-fold logits of `ex`'s rows only."""
    import numpy as np

    import aisec_radar.classify.training as T
    from aisec_radar.classify import builder as B
    from aisec_radar.classify.data import Example
    from aisec_radar.classify.encoder import paper_text
    from aisec_radar.classify.predict import Predictor
    from aisec_radar.taxonomy import load_taxonomy

    tr = [i for i, g in enumerate(folds) if g != f]
    v = views(vecs)
    model = B.build_model(s, [ex[i] for i in tr], {k: a[tr] for k, a in v.items()}, hcfg)
    # the decision classify would store: relevance, top type and auto / needs_review status
    preds = Predictor(model, load_taxonomy(s.taxonomy_path or None), s.target_precision).predict(
        [(aid, t, a, "") for aid, t, a in cands], vecs[[index[paper_text(t, a)] for _, t, a in cands]])
    pseudo, counts = [], {}
    for (aid, title, _a), p in zip(cands, preds, strict=True):
        if p.relevance == "in_taxonomy" and p.status == "auto":
            pseudo.append(Example(id=aid, title=title, abstract="", label=p.labels[0], source="pseudo"))
            counts[p.labels[0]] = counts.get(p.labels[0], 0) + 1
    rows = [index[paper_text(e.title)] for e in pseudo]
    pc = cm.features(cm.analyse([paper_text(e.title) for e in pseudo])[0])
    es = T.ExampleSet([*ex, *pseudo], {k: np.vstack([a, vecs[rows]]) for k, a in v.items()},
                      {k: np.vstack([c, pc]) for k, c in cues.items()}, {}, bow_scale=0.0)
    oof = T.cross_validate(es, types, hcfg, k=5)
    n = len(ex)
    cut = lambda d: {k: a[:n] for k, a in d.items()}  # noqa: E731
    return T.OOF(rel_logits=cut(oof.rel_logits), type_logits=cut(oof.type_logits), role_logits=oof.role_logits[:n],
                 evaluated=oof.evaluated[:n], flat_logits=cut(oof.flat_logits),
                 title_votes=cut(oof.title_votes)), counts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folds", type=int, default=5, help="outer folds to run (of 5); fewer = a quicker partial check")
    ap.add_argument("--layers", type=int, default=None)
    ap.add_argument("--epochs", type=float, default=None)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--supcon-weight", type=float, default=None,
                    help="weight of the supervised contrastive term beside the softmax (0 = off)")
    ap.add_argument("--supcon-temperature", type=float, default=None)
    ap.add_argument("--supcon-views", choices=("all", "title"), default=None,
                    help="which texts the contrastive term anchors on")
    ap.add_argument("--supcon-projection", type=int, default=None,
                    help="width of a throw-away projection the contrastive term reads (0 = the vector itself)")
    ap.add_argument("--title-weight", type=float, default=None, help="weight of a paper's title alone (0 = none)")
    ap.add_argument("--rank", type=int, default=None, help="stored rank of the delta (0 = full); vectors come "
                    "from the layers as the stored delta makes them")
    ap.add_argument("--out", type=Path, default=None, help="also write the result as JSON here")
    ap.add_argument("--vectors", type=Path, default=None,
                    help="folder of each outer fold's vectors (fold<k>.npy): written when missing, read when "
                    "present, so heads settings (--heads) can be compared on the same nested vectors in minutes")
    ap.add_argument("--errors", type=Path, default=None,
                    help="write every wrong out-of-fold label (dev titles, stream papers) here as JSON Lines")
    ap.add_argument("--probs", type=Path, default=None,
                    help="also write the scored sets' out-of-fold probabilities, labels and folds here (.npz)")
    ap.add_argument("--pseudo-candidates", type=Path, default=None,
                    help="corpus ids (one per line) each fold's own model may self-label: those it auto-accepts "
                    "in the nine types join that fold's titles-only heads as source 'pseudo' (training only)")
    ap.add_argument("--heads", default=None, help="heads settings to override, as JSON (e.g. '{\"C_type\": 0.05}')")
    args = ap.parse_args()
    from aisec_radar.classify.data import shared_training_inputs

    inputs = shared_training_inputs(SHARED)
    if inputs is None:
        print(json.dumps({"skipped": f"needs {SHARED}/labels and arxiv/corpus.jsonl.gz"}))
        return 0
    labels, corpus = inputs
    import numpy as np

    from aisec_radar.classify import builder as B
    from aisec_radar.classify import training as T
    from aisec_radar.classify.cues import CueMatcher
    from aisec_radar.classify.encoder import paper_text, resolve_base_path
    from aisec_radar.classify.finetune import (
        FINETUNE_DEFAULTS,
        TopLayerTrainer,
        example_texts,
        supcon_anchors,
        training_items,
    )
    from aisec_radar.classify.model import FLAT_EXTRA
    from aisec_radar.config import load_settings
    from aisec_radar.taxonomy import load_taxonomy

    cfg = {**FINETUNE_DEFAULTS, **{k: v for k, v in (("layers", args.layers), ("epochs", args.epochs),
                                                        ("lr", args.lr),
                                                        ("title_weight", args.title_weight),
                                                        ("supcon_weight", args.supcon_weight),
                                                        ("supcon_temperature", args.supcon_temperature),
                                                        ("supcon_views", args.supcon_views),
                                                        ("supcon_projection", args.supcon_projection),
                                                        ("rank", args.rank)) if v is not None}}
    t0 = time.perf_counter()
    tmp = tempfile.mkdtemp(prefix="aisec-ftcv-")
    s = replace(load_settings(), db_path=str(Path(tmp) / "none.duckdb"), encoder_finetune="none",
                encoder_backend="torch")
    # never the bundled pseudo titles: the shipped model that labelled them saw every fold (a leak);
    # --pseudo-candidates has each fold's own model label them instead
    ex, _ = B.assemble(s, labels, corpus, pseudo=False)
    taxonomy = load_taxonomy(None)
    types = taxonomy.type_ids
    classes = [*types, *FLAT_EXTRA]
    texts = example_texts(ex)
    cands: list[tuple[str, str, str]] = []  # (id, title, abstract) a fold's model may self-label
    if args.pseudo_candidates:
        from aisec_radar.classify.data import read_corpus

        want_ids = {x.strip() for x in args.pseudo_candidates.read_text().split() if x.strip()}
        known = B.labelled_keys(ex)
        cands = sorted((i, t, a) for i, (t, a) in read_corpus(corpus, want_ids).items()
                       if a and not B.is_labelled(i, t, known))
        texts = sorted(set(texts) | {paper_text(t, a) for _, t, a in cands} | {paper_text(t) for _, t, _ in cands},
                       key=lambda t: (len(t), t))
    index = {t: i for i, t in enumerate(texts)}
    cached: list[Path] = []
    if args.vectors:  # vectors of one recipe on one set of labels only: another's would compare nothing
        data = hashlib.sha256(json.dumps([[e.title, e.abstract, e.label, e.weight] for e in ex]
                                         + [list(c) for c in cands]).encode())
        want = {"config": cfg, "examples": data.hexdigest()[:16]}
        stamp = args.vectors / "config.json"
        if stamp.exists() and not stamp_matches(json.loads(stamp.read_text()), want):
            print(f"{args.vectors} holds vectors of another fine-tuning config or other labels "
                  f"({stamp.read_text()}); use another folder", file=sys.stderr)
            return 2
        args.vectors.mkdir(parents=True, exist_ok=True)
        stamp.write_text(json.dumps(want, sort_keys=True))
        cached = [args.vectors / f"{name}.npy" for name in ("base", *(f"fold{f}" for f in range(min(args.folds, 5))))]
    trainer = None
    if not cached or not all(p.exists() for p in cached):  # the frozen layers' pass: ~2 min
        trainer = TopLayerTrainer(resolve_base_path(s), texts, int(cfg["layers"]), int(cfg["max_length"]),
                                  progress=sys.stderr.isatty())
    tt = [index[paper_text(e.title)] for e in ex]
    ft = [index[paper_text(e.title, e.abstract)] for e in ex]

    def views(vecs: np.ndarray) -> dict[str, np.ndarray]:
        return {"title": vecs[tt], "full": vecs[ft]}

    cm = CueMatcher(taxonomy)
    cues = {"title": cm.features(cm.analyse([texts[i] for i in tt])[0]),
            "full": cm.features(cm.analyse([texts[i] for i in ft])[0])}
    hcfg = {**T.DEFAULT_CONFIG, **(json.loads(args.heads) if args.heads else {})}
    folds = T.cv_folds(ex, 5, hcfg["seed"])  # the folds `train` uses
    if trainer is None:
        base_vecs = np.load(cached[0])
    else:
        base_vecs = trainer.encode()
        if cached:
            np.save(cached[0], base_vecs)
    comb = None
    pseudo_counts: list[dict[str, int]] = []
    for f in range(min(args.folds, 5)):
        saved = cached[f + 1] if cached else None
        if saved is not None and saved.exists():
            vecs = np.load(saved)
        else:
            assert trainer is not None
            train_ex = [e for e, g in zip(ex, folds, strict=True) if g != f]
            layers = trainer.train(training_items(train_ex, classes, index, float(cfg["title_weight"])),
                                   len(classes), cfg, progress=sys.stderr.isatty(),
                                   anchors=supcon_anchors(train_ex, index, cfg))
            layers = trainer.layers_of(trainer.delta(layers, {}, int(cfg["rank"])))  # what would ship
            vecs = trainer.encode(layers)
            if saved is not None:
                np.save(saved, vecs)
        if cands:
            oof, n_pseudo = pseudo_cv(s, ex, folds, f, vecs, views, cues, cands, index, cm, hcfg, types)
            pseudo_counts.append(n_pseudo)
        else:
            es = T.ExampleSet(ex, views(vecs), cues, {}, bow_scale=0.0)
            oof = T.cross_validate(es, types, hcfg, k=5)
        rows = folds == f
        if comb is None:
            comb = oof
            comb.evaluated = comb.evaluated & rows
        else:
            for part, src in ((comb.rel_logits, oof.rel_logits), (comb.type_logits, oof.type_logits),
                              (comb.flat_logits, oof.flat_logits), (comb.title_votes, oof.title_votes)):
                for v in part:
                    part[v][rows] = src[v][rows]
            comb.role_logits[rows] = oof.role_logits[rows]
            comb.evaluated = comb.evaluated | (oof.evaluated & rows)
        print(f"fold {f} done at {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    model = B.build_model(s, ex, views(base_vecs), hcfg, oof=comb)
    result = {"name": "finetune_nested_cv", "config": cfg, "heads": args.heads, "folds": min(args.folds, 5),
              "seconds": round(time.perf_counter() - t0), "metrics": summarise(model.meta["metrics"])}
    if cands:
        result["pseudo"] = {"candidates": len(cands), "per_fold": pseudo_counts}
    print(json.dumps(result))
    if args.errors:
        write_errors(args.errors, model, ex, comb)
    if args.probs:
        write_probs(args.probs, model, ex, comb, folds)
    if args.out:  # with every set's per-class figures and confusion matrix, for the error analysis
        args.out.write_text(json.dumps({**result, "metrics_full": model.meta["metrics"]}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
