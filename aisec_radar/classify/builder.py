"""train(): assemble all labels, encode (through the embedding cache), cross-validate, calibrate,
fit the final heads, write the artifact and decide promotion.

Deterministic for the same inputs: fixed seeds, sorted inputs, and a model version that is a hash
of the weights, so `aisec-radar train` with the shipped model's inputs rebuilds the same model.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aisec_radar.classify import training as T
from aisec_radar.classify.cues import CueMatcher, bow_matrix, build_vocab
from aisec_radar.classify.data import (
    Example,
    bundled_label_files,
    bundled_literature_file,
    bundled_pseudo_file,
    default_corpus_path,
    pool_examples,
    read_corpus,
    read_label_file,
    taxonomy_examples,
)
from aisec_radar.classify.encoder import encode_texts, encoder_model_key, paper_text
from aisec_radar.classify.evaluate import score
from aisec_radar.classify.model import ROLES, ClassifierModel, int8_rows
from aisec_radar.records import content_hash
from aisec_radar.store import connect, transaction
from aisec_radar.store.embeddings import get_embeddings, put_embeddings
from aisec_radar.store.predictions import labelled_papers, promoted_model, register_model
from aisec_radar.survey import normalise_title
from aisec_radar.taxonomy import load_taxonomy

if TYPE_CHECKING:
    from aisec_radar.config import Settings

log = logging.getLogger(__name__)
# Corpus papers added as low-weight pseudo-negatives. 0 by default: in cross-validation the pool
# raised stream precision only by cutting recall much more (see docs/classifier.md).
POOL_SIZE = 0


@dataclass
class TrainReport:
    model_version: str
    promoted: bool
    reason: str
    metrics: dict[str, Any] = field(default_factory=dict)
    path: str = ""
    title_model: str | None = None  # the titles-only specialist's version, when the model has one


def _id_texts(settings: Settings, ids: set[str], corpus_path: Path | None) -> dict[str, tuple[str, str]]:
    """Title and abstract for id-only labels: from the store first, then the corpus file."""
    out: dict[str, tuple[str, str]] = {}
    if ids and Path(settings.db_path).exists():
        with connect(settings.db_path, read_only=True, timeout=settings.lock_timeout) as con:
            for aid, title, abstract in con.execute(
                "SELECT arxiv_id, title, coalesce(abstract, '') FROM papers WHERE list_contains(?, arxiv_id)",
                [sorted(ids)],
            ).fetchall():
                out[aid] = (title, abstract)
    rest = ids - set(out)
    if rest and corpus_path is not None:
        out.update(read_corpus(corpus_path, rest))
    return out


def assemble(settings: Settings, label_files: list[Path], corpus_path: Path | None,
             pool_size: int = POOL_SIZE, seed: int = 13,
             literature: bool = True, pseudo: bool = True) -> tuple[list[Example], dict[str, int]]:
    """Every training example, deduplicated; a summary of where they came from. The bundled
    literature and self-labelled (pseudo) titles come last so the other examples keep their order
    (and CV folds); a paper any label file or curator holds is never also a pseudo title."""
    taxonomy = load_taxonomy(settings.taxonomy_path or None)
    file_examples: list[Example] = []
    lit = bundled_literature_file() if literature else None
    pse = bundled_pseudo_file() if pseudo else None
    for path in [*bundled_label_files(), *label_files, *([lit] if lit else []), *([pse] if pse else [])]:
        exs = read_label_file(Path(path), taxonomy, need_text=path == lit)
        src = ("literature" if path == lit else "pseudo" if path == pse
               else "hand" if path in bundled_label_files() else "file")
        for e in exs:
            e.source = src
        file_examples.extend(exs)
    curator: list[Example] = []
    if Path(settings.db_path).exists():
        with connect(settings.db_path, read_only=True, timeout=settings.lock_timeout) as con:
            for aid, title, abstract, _h, types, role in labelled_papers(con):
                if types and types[0] in taxonomy.label_ids:
                    curator.append(Example(id=aid, title=title, abstract=abstract, label=types[0], role=role,
                                           source="curator",
                                           secondary=tuple(t for t in types[1:] if t in taxonomy.label_ids)))
    # Rows with an id and no "abstract" key (hand labels, stream.jsonl) take their text from the
    # store or the corpus; rows with "abstract": null (curated lists) stay titles-only on purpose.
    need = {e.id for e in file_examples if e.id and (e.join_text or not e.title)}
    texts = _id_texts(settings, need, corpus_path)
    missing_text = 0
    kept: list[Example] = []
    for e in file_examples:
        if e.id in texts and (e.join_text or not e.title):
            e.title, e.abstract = texts[e.id]
            if e.source == "pseudo":  # its title alone: the labels were the model's, from the full text
                e.abstract = ""
        if not e.title:
            missing_text += 1
            continue
        kept.append(e)
    # Curator labels override file labels for the same paper; otherwise one example per (id, has_abstract).
    cur_ids = {e.id for e in curator}
    seen: set[tuple[str, bool]] = set()
    examples: list[Example] = []
    human_keys = labelled_keys([*curator, *kept])
    for e in [*curator, *kept]:
        if e.source != "curator" and e.id in cur_ids:
            continue
        if e.source == "pseudo" and is_labelled(e.id, e.title, human_keys):
            continue
        key = (e.id or e.title.lower(), e.has_abstract)
        if key in seen:
            continue
        seen.add(key)
        examples.append(e)
    examples.extend(taxonomy_examples(taxonomy))
    pool: list[Example] = []
    if corpus_path is not None and pool_size > 0:
        corpus = read_corpus(corpus_path)
        labelled_ids = {e.id for e in examples if e.id}
        pool = pool_examples(corpus, labelled_ids, pool_size, seed)
    examples.extend(pool)
    summary: dict[str, int] = {}
    for e in examples:
        summary[e.source] = summary.get(e.source, 0) + 1
    summary["skipped_no_text"] = missing_text
    return examples, summary


def labelled_keys(examples: list[Example]) -> set[str]:
    """Ids and normalised titles of the examples people labelled (never the model's own pseudo
    titles): a paper that matches either is labelled already, whatever its id or title spelling."""
    human = [e for e in examples if e.source != "pseudo"]
    return {e.id for e in human if e.id} | {normalise_title(e.title) for e in human}


def is_labelled(arxiv_id: str | None, title: str, keys: set[str]) -> bool:
    return (arxiv_id is not None and arxiv_id in keys) or normalise_title(title) in keys


def embed_examples(settings: Settings, examples: list[Example], progress: bool) -> dict[str, np.ndarray]:
    """Title and full-text vectors for every example, through the store's embedding cache."""
    key = encoder_model_key(settings)
    title_texts = [paper_text(e.title) for e in examples]
    full_texts = [paper_text(e.title, e.abstract) for e in examples]
    hashes = {t: content_hash(t, "") for t in set(title_texts) | set(full_texts)}
    with connect(settings.db_path, read_only=False, timeout=settings.lock_timeout) as con:
        cached = get_embeddings(con, key, hashes.values())
    todo = sorted(t for t, h in hashes.items() if h not in cached)
    if todo:
        vecs = encode_texts(settings, todo, progress=progress)
        new = {hashes[t]: v for t, v in zip(todo, vecs, strict=False)}
        with transaction(settings.db_path, timeout=settings.lock_timeout) as con:
            put_embeddings(con, key, new)
        cached.update(new)
    return {"title": np.stack([cached[hashes[t]] for t in title_texts]),
            "full": np.stack([cached[hashes[t]] for t in full_texts])}


def _stream_sample(e: Example) -> bool:
    """Papers with an abstract drawn as the stream is sampled (random or keyword draws, curator
    labels): the population whose precision/recall the decision bias balances and the metrics report.
    Actively sampled papers (picked because the model was unsure) and targeted ones (keyword-drawn at
    a border) would skew both toward the border."""
    return e.has_abstract and e.sample not in ("active", "targeted")


def set_report(y: list[str], yhat: list[str], types: tuple[str, ...]) -> dict[str, Any]:
    """eval's report of stored labels against true ones (every prediction counted as auto), plus the
    type accuracy on papers both call one of the nine types: one evaluation set's CV figures."""
    rep = score(y, yhat, [True] * len(y), types)
    both = [(a, b) for a, b in zip(y, yhat, strict=True) if a in types and b in types]
    rep["type_accuracy"] = round(float(np.mean([a == b for a, b in both])), 4) if both else None
    return rep


def _natural_view_metrics(model: ClassifierModel, es: T.ExampleSet, oof: T.OOF, types: tuple[str, ...],
                          keep: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, dict[str, list]]]:
    """CV metrics per evaluation set, and the (confidence, correct) calibration pairs per view;
    `keep` (when given) receives each set's (paper keys, true labels, out-of-fold stored labels)."""
    from sklearn.metrics import average_precision_score

    metrics: dict[str, Any] = {}
    calib: dict[str, dict[str, list]] = {"title": {}, "full": {}}
    sets = {
        "titles": ("title", lambda e: not e.has_abstract),
        "stream_full": ("full", _stream_sample),
        # papers picked for labelling because the model was unsure of them (uncertainty sampling):
        # training data, but scored apart, as they are far richer in border cases than the stream
        "stream_active_full": ("full", lambda e: e.has_abstract and e.sample == "active"),
        "stream_random_full": ("full", lambda e: e.has_abstract and e.sample == "random"),
        # the curators' own stream labels (label files given to train, e.g. stream.jsonl), not ours
        "stream_curated_full": ("full", lambda e: e.has_abstract and e.source == "file"),
        "stream_titles_only": ("title", lambda e: e.has_abstract),
        "curator": ("full", lambda e: e.source == "curator"),
    }
    for name, (view, sel) in sets.items():
        rows = np.array([i for i, e in enumerate(es.examples) if oof.evaluated[i] and sel(e)], dtype=int)
        if len(rows) == 0:
            continue
        probs = T.oof_probs(oof, model.heads, view, model.flat_weight, model.title_vote)
        yhat, conf = T.stored_labels(model, probs, rows)
        y = [es.examples[i].label for i in rows]
        if keep is not None:
            keep[name] = ([es.examples[i].id or es.examples[i].title for i in rows], y, list(yhat))
        rep = set_report(y, yhat, types)
        if view == "full" and not np.isnan(oof.role_logits[rows]).all():
            rr = [(k, i) for k, i in enumerate(rows) if es.examples[i].role in ROLES and y[k] != "not_relevant"]
            if rr:
                hit = [ROLES[int(np.nanargmax(oof.role_logits[i]))] == es.examples[i].role for _, i in rr]
                rep["role_accuracy"] = round(float(np.mean(hit)), 4)
        truth = np.array([lab in types for lab in y])
        if 0 < truth.sum() < len(truth):  # threshold-free: how well P(in_taxonomy) ranks the relevant
            rep["relevance"]["average_precision"] = round(float(average_precision_score(
                truth, probs["relevance"][rows, 0])), 4)
        rep.pop("review_share")
        rep.pop("auto_precision")
        metrics[name] = rep
        if name in ("titles", "stream_full"):
            for lab, c, ok in zip(yhat, conf, (a == b for a, b in zip(y, yhat, strict=False)), strict=False):
                calib[view].setdefault(lab, []).append([round(float(c), 5), 1.0 if ok else 0.0])
    return metrics, calib


def choose_bias(model: ClassifierModel, es: T.ExampleSet, oof: T.OOF, view: str, sel: Any,
                types: tuple[str, ...]) -> float:
    """The in-taxonomy decision bias (log-odds) that balances out-of-fold relevance precision and
    recall in a view (maximises min(P, R), then F1); 0 when the view has few evaluated papers.
    Balanced because the goals ask for both; ties go to the bias closest to 0."""
    rows = np.array([i for i, e in enumerate(es.examples) if oof.evaluated[i] and sel(e)], dtype=int)
    if len(rows) < 20:
        return 0.0
    probs = T.oof_probs(oof, model.heads, view, model.flat_weight, model.title_vote)
    y = [es.examples[i].label in types for i in rows]
    best, best_f1 = 0.0, -1.0
    for b in sorted(np.arange(-2.0, 2.01, 0.25), key=abs):
        model.decision_bias[view] = float(b)
        yhat = [lab in types for lab in T.stored_labels(model, probs, rows)[0]]
        tp = sum(a and p for a, p in zip(y, yhat, strict=True))
        f1 = 2 * tp / max(sum(y) + sum(yhat), 1)
        crit = min(tp / max(sum(yhat), 1), tp / max(sum(y), 1)) + 1e-3 * f1
        if crit > best_f1 + 1e-9:
            best, best_f1 = float(b), crit
    model.decision_bias[view] = best
    return best


def cv_score(metrics: dict[str, Any]) -> float:
    """One number for promotion: mean of titles macro-F1 and stream relevance F1 (those present)."""
    parts = []
    if "titles" in metrics:
        parts.append(metrics["titles"]["macro_f1"])
    if "stream_full" in metrics:
        parts.append(metrics["stream_full"]["relevance"]["f1"])
    return round(float(np.mean(parts)), 4) if parts else 0.0


def build_model(settings: Settings, examples: list[Example], emb: dict[str, np.ndarray],
                cfg: dict[str, Any] | None = None, k: int = 5, oof: T.OOF | None = None,
                keep_oof: dict[str, Any] | None = None) -> ClassifierModel:
    """CV -> temperatures and calibration sets -> final heads on everything -> a ClassifierModel.

    `oof`: out-of-fold logits computed elsewhere (the nested CV of a fine-tuned encoder, where each
    fold's vectors come from an encoder that never saw that fold) instead of CV on `emb`.
    `keep_oof`: receives each evaluation set's paper keys, true and out-of-fold stored labels."""
    taxonomy = load_taxonomy(settings.taxonomy_path or None)
    cfg = {**T.DEFAULT_CONFIG, **(cfg or {})}
    for e in examples:
        if e.source == "pool":
            e.weight = cfg["pool_weight"]
    cm = CueMatcher(taxonomy)
    m_title, t_title = cm.analyse([paper_text(e.title) for e in examples])
    m_full, t_full = cm.analyse([paper_text(e.title, e.abstract) for e in examples])
    cues = {"title": cm.features(m_title), "full": cm.features(m_full)}
    vocab, idf = build_vocab(t_full, max_terms=int(cfg["bow_max_terms"])) if cfg["bow_scale"] > 0 else ([], np.zeros(0))
    bow = {"title": bow_matrix(t_title, vocab, idf), "full": bow_matrix(t_full, vocab, idf)} if vocab else {}
    es = T.ExampleSet(examples, emb, cues, bow, bow_scale=cfg["bow_scale"])
    types = taxonomy.type_ids
    n_eval = sum(1 for e in examples if not T.training_only(e))
    heads = T.fit_heads(es, types, cfg)
    model = ClassifierModel(model_version="", taxonomy_version=taxonomy.version,
                            encoder_key=encoder_model_key(settings), types=types, cue_labels=tuple(cm.labels),
                            cue_scale=cfg["cue_scale"], heads=heads, vocab=tuple(vocab),
                            idf=np.asarray(idf, np.float32), bow_scale=float(cfg["bow_scale"]) if vocab else 0.0,
                            flat_weight=float(cfg.get("flat_weight", 0.0)),
                            title_vote=T.title_vote_settings(cfg))
    if model.title_vote:
        bank = T.title_bank(es, types, cfg)
        model.title_bank = {"vecs": int8_rows(bank["vecs"]), "labels": bank["labels"],
                            "w_type": bank["w_type"], "w_relevance": bank["w_relevance"]}
    metrics: dict[str, Any] = {}
    if n_eval >= 2 * k:
        oof = oof if oof is not None else T.cross_validate(es, types, cfg, k=k)
        T.calibrate(heads, es, oof, types)
        for view, sel in (("full", _stream_sample), ("title", lambda e: not e.has_abstract)):
            model.decision_bias[view] = choose_bias(model, es, oof, view, sel, types)
        metrics, model.calibration = _natural_view_metrics(model, es, oof, types, keep_oof)
    metrics["cv_score"] = cv_score(metrics)
    # explanations name papers people labelled: neither the pool nor the model's own (pseudo) labels
    nb = [i for i, e in enumerate(examples) if e.source not in ("pool", "pseudo")]
    model.neighbours = {
        "vecs": int8_rows(emb["full"][nb]),
        "ids": np.array([examples[i].id or "" for i in nb], dtype=str),
        "titles": np.array([examples[i].title[:200] for i in nb], dtype=str),
        "labels": np.array([examples[i].label for i in nb], dtype=str),
    }
    buf = io.BytesIO()
    for name in sorted(heads):
        buf.write(heads[name].W.tobytes())
        buf.write(heads[name].b.tobytes())
    if model.title_vote:  # the vote decides too: its bank and settings are part of the version
        for key in sorted(model.title_bank):
            buf.write(model.title_bank[key].tobytes())
        buf.write(json.dumps(model.title_vote, sort_keys=True).encode())
    model.model_version = "m" + hashlib.sha256(buf.getvalue()).hexdigest()[:12]
    summary: dict[str, int] = {}
    for e in examples:
        summary[e.source] = summary.get(e.source, 0) + 1
    model.meta = {"created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "config": cfg,
                  "metrics": metrics, "training_data": summary,
                  "metrics_summary": {"cv_score": metrics["cv_score"]}}
    return model


TITLE_SETS = ("titles", "stream_titles_only")  # evaluation sets scored on titles alone


def routed_report(y: list[str], main_hat: list[str], title_hat: list[str], types: tuple[str, ...]) -> dict[str, Any]:
    """Scores of titles alone as a routed model stores them (`predict.overrule`): the specialist's
    label unless the main model's is not_relevant. Used by `train` and bench/routed_cv.py."""
    from aisec_radar.classify.predict import routed_labels

    rep = set_report(y, routed_labels(main_hat, title_hat), types)
    rep.pop("review_share")
    rep.pop("auto_precision")
    return rep


def attach_title_model(model: ClassifierModel, title_model: ClassifierModel, delta: Path,
                       main_oof: dict[str, Any] | None = None, title_oof: dict[str, Any] | None = None) -> None:
    """Make `title_model` the titles-only specialist of `model`; the version then names both.

    With both models' out-of-fold labels, the titles-only sets are re-scored as the routed model
    decides them (`predict.overrule`: the specialist's label unless the main model says
    not_relevant), so the card and the promotion score describe what classify will do."""
    from aisec_radar.classify.finetune import delta_digest

    model.title_model, model.title_delta = title_model, Path(delta)
    metrics = model.meta.setdefault("metrics", {})
    types = model.types
    for name in TITLE_SETS:
        if main_oof and title_oof and name in main_oof and name in title_oof:
            (keys, y, main_hat), (keys2, _, title_hat) = main_oof[name], title_oof[name]
            if keys != keys2:
                raise ValueError(f"the two models were scored on different {name} papers")
            rep = routed_report(y, main_hat, title_hat, types)
            model.meta.setdefault("main_model_metrics", {})[name] = metrics.get(name)
            model.meta.setdefault("title_model_metrics", {})[name] = title_model.meta.get("metrics", {}).get(name)
            metrics[name] = rep
    metrics["cv_score"] = cv_score(metrics)
    model.meta["metrics_summary"] = {"cv_score": metrics["cv_score"]}
    model.meta["title_encoder_key"] = title_model.encoder_key
    model.meta["main_model"] = model.model_version  # the main model's own version, before it names both
    both = f"{model.model_version}+{title_model.model_version}+{delta_digest(Path(delta))}"
    model.model_version = "m" + hashlib.sha256(both.encode()).hexdigest()[:12]


# fine-tuning options `aisec-radar finetune-encoder` takes, as a rebuild command names them
TITLE_DELTA_FLAGS = ("layers", "epochs", "rank", "supcon_weight", "supcon_temperature", "supcon_views",
                     "supcon_projection")


def rebuild_command(settings: Settings, label_files: list[Path], corpus_path: Path | None, folder: Path,
                    curator_labels: int) -> str:
    """The commands that rebuild a model, for its card: the encoder delta's (when the settings use
    one) and `train`'s, with the same inputs, so a card never has to be completed by hand."""
    from aisec_radar.classify.finetune import FINETUNE_DEFAULTS, EncoderDelta, delta_path, title_delta_path

    def show(p: Path | str) -> str:  # relative to here when that stays readable (../shared/...)
        rel = os.path.relpath(Path(p).resolve())
        return rel if not rel.startswith("../../") else str(Path(p).resolve())

    db = show(settings.db_path) if curator_labels else "<empty.duckdb>"
    inputs = " ".join([*(f"--labels {show(p)}" for p in label_files),
                       *([f"--corpus {show(corpus_path)}"] if corpus_path else [])])
    env = f"AISEC_RADAR_ENCODER_BACKEND={settings.encoder_backend}"
    lines = []
    delta = delta_path(settings)
    if delta is not None:
        lines.append(f"aisec-radar finetune-encoder --db {db} {inputs} --out {show(delta)}")
        if settings.encoder_finetune not in ("shipped", "none"):
            env += f" AISEC_RADAR_ENCODER_FINETUNE={show(delta)}"
    title_delta = title_delta_path(settings)
    if title_delta is not None:  # the specialist's delta: its own fine-tuning options, from its metadata
        tcfg = EncoderDelta.load(title_delta).meta.get("config", {})
        flags = "".join(f" --{k.replace('_', '-')} {tcfg[k]}" for k in TITLE_DELTA_FLAGS
                        if k in tcfg and tcfg[k] != FINETUNE_DEFAULTS[k])
        lines.append(f"aisec-radar finetune-encoder --db {db} {inputs}{flags} --out {show(title_delta)}")
        if settings.title_encoder_finetune not in ("shipped", "none"):
            env += f" AISEC_RADAR_TITLE_ENCODER_FINETUNE={show(title_delta)}"
    lines.append(f"{env} aisec-radar train --db {db} {inputs} --out {show(folder)}")
    return "\n".join(lines)


def _specialist_line(model: ClassifierModel) -> str:
    assert model.title_model is not None
    alone = {who: (model.meta.get(f"{who}_metrics", {}).get("titles") or {}).get("macro_f1", "n/a")
             for who in ("main_model", "title_model")}
    return (f"- titles-only specialist {model.title_model.model_version}: the same heads and labels over its own "
            f"encoder delta ({model.title_model.encoder_key}); it decides every input without an abstract unless "
            "the main model calls it not_relevant, so the titles-only rows below score that rule (titles "
            f"macro-F1: main model {model.meta.get('main_model')} alone {alone['main_model']}, specialist "
            f"alone {alone['title_model']})")


def write_model_card(model: ClassifierModel, folder: Path, command: str = "") -> Path:
    """MODEL_CARD.md beside the artifact: data, date, cross-validated metrics, how to rebuild."""
    m = model.meta.get("metrics", {})
    lines = [f"# Model card: {model.model_version}", "",
             f"- created: {model.meta.get('created_at')}",
             f"- encoder: {model.encoder_key}; taxonomy version {model.taxonomy_version}",
             "- heads: relevance (in_taxonomy / other_aisec / not_relevant) and type (nine types), one pair per "
             "view (titles only / title + abstract), role; multinomial logistic regression on the sentence "
             "embedding + taxonomy cue-phrase counts, temperature-calibrated on out-of-fold logits"
             + (f"; a flat head per view (nine types + other_aisec + not_relevant) blended into relevance "
                f"with weight {model.flat_weight:g}." if model.flat_weight > 0 else "."),
             *([f"- titles-only view: a vote of the nearest labelled titles ({len(model.title_bank.get('vecs', ()))} "
                f"titles people labelled; k {model.title_vote['k_relevance']:g} / {model.title_vote['k_type']:g}) "
                f"blended into its relevance (weight {model.title_vote['relevance_weight']:g}) and type "
                f"(weight {model.title_vote['type_weight']:g}) probabilities"] if model.title_vote else []),
             *([_specialist_line(model)] if model.title_model else []),
             "- training data (examples per source): " + ", ".join(
                 f"{k} {v}" for k, v in sorted(model.meta.get("training_data", {}).items())),
             "- config: `" + json.dumps(model.meta.get("config", {}), sort_keys=True) + "`", ""]
    if "+ft-" in model.encoder_key:
        lines += ["The encoder's top layers were fine-tuned on these same labels (`aisec-radar finetune-encoder`), "
                  "so the cross-validated figures below are optimistic; the nested CV in docs/classifier.md "
                  "(bench/finetune_cv.py: each fold's encoder never saw that fold) gives the honest ones.", ""]
    if model.meta.get("training_data", {}).get("pseudo"):
        mcfg = model.meta.get("config", {})
        lines += ["`pseudo`: corpus papers an earlier model auto-accepted in the nine types "
                  "(classify/data/pseudo_titles.jsonl, written by bench/pseudo_titles.py), by their title alone, "
                  f"in the titles-only {' / '.join(mcfg.get('pseudo_heads', []))} head(s) only, at weight "
                  f"{mcfg.get('pseudo_weight', 0):g}; never scored.", ""]
    if command:
        lines += ["Rebuild:", "", "```", command, "```", ""]
    lines += ["## Cross-validated metrics (5-fold, out of fold)", "",
              "| set | n | macro-F1 | accuracy | relevance P | relevance R | relevance F1 | type accuracy "
              "| role accuracy |",
              "|---|---|---|---|---|---|---|---|---|"]
    for name, r in m.items():
        if not isinstance(r, dict):
            continue
        rel = r["relevance"]
        lines.append(f"| {name} | {r['n']} | {r['macro_f1']:.3f} | {r['accuracy']:.3f} | {rel['precision']:.3f} | "
                     f"{rel['recall']:.3f} | {rel['f1']:.3f} | {r.get('type_accuracy')} | "
                     f"{r.get('role_accuracy', '')} |")
    lines += ["", f"cv_score (promotion criterion): {m.get('cv_score')}", "",
              "Sets: `titles` = labelled titles without abstract (curated lists, dev.jsonl), scored in the "
              "titles-only view; `stream_full` = hand-labelled corpus papers with abstracts (keyword + random "
              "samples); `stream_random_full` = only the random sample (unbiased rates); `stream_titles_only` "
              "= the same stream papers with their titles alone.", ""]
    for name in ("titles", "stream_full"):
        if name in m:
            lines += [f"### Per class, {name}", "", "| class | P | R | F1 | n |", "|---|---|---|---|---|"]
            for c, v in m[name]["per_class"].items():
                lines.append(f"| {c} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |")
            lines.append("")
    p = Path(folder) / "MODEL_CARD.md"
    p.write_text("\n".join(lines), encoding="utf-8")
    return p


MIN_CURATOR_COMPARE = 20


def _compare_scores(settings: Settings, new: ClassifierModel, current: ClassifierModel,
                    examples: list[Example], emb: dict[str, np.ndarray]) -> tuple[float, float, str]:
    """(new score, current score, what they were measured on).

    With at least MIN_CURATOR_COMPARE curator labels in the store, both models are scored on exactly
    those papers: the new one out of fold (CV), the current one as it stands (they are new to it
    unless it was trained on them, which can only flatter the current model: a conservative gate; the
    titles-only neighbour vote, which finds a title it was trained on at similarity 1, is one more
    such flattery for curator labels without an abstract).
    Otherwise the recorded cross-validated scores are compared.
    """
    from aisec_radar.classify.predict import Route, predict_routed

    cur = [i for i, e in enumerate(examples) if e.source == "curator"]
    m = new.meta.get("metrics", {}).get("curator")
    if m and len(cur) >= MIN_CURATOR_COMPARE:
        taxonomy = load_taxonomy(settings.taxonomy_path or None)
        items = [(examples[i].id or "", examples[i].title, examples[i].abstract, "") for i in cur]

        def vectors(route: Route) -> np.ndarray:  # titles alone go to the current model's specialist too
            rows = [cur[j] for j in route.rows]
            if route.model is current:
                return emb["full"][rows]
            return encode_texts(route.settings, [paper_text(examples[i].title) for i in rows])

        preds = predict_routed(current, settings, taxonomy, items, vectors)
        stored = [current.top_label(p.relevance, p.labels) for p in preds]
        rep = score([examples[i].label for i in cur], stored, [True] * len(cur), taxonomy.type_ids)
        new_score = round((m["macro_f1"] + m["relevance"]["f1"]) / 2, 4)
        cur_score = round((rep["macro_f1"] + rep["relevance"]["f1"]) / 2, 4)
        return new_score, cur_score, f"mean of macro-F1 and relevance F1 on {len(cur)} curator labels"
    return (float(new.meta["metrics"]["cv_score"]), float(current.meta.get("metrics", {}).get("cv_score", 0.0)),
            "cv score (fewer than 20 curator labels in the store)")


def train(settings: Settings, label_files: list[Path] = (), progress: bool = True,  # type: ignore[assignment]
          out_dir: Path | None = None, corpus_path: Path | None = None,
          cfg: dict[str, Any] | None = None, pool_size: int = POOL_SIZE) -> TrainReport:
    """Retrain from every label; promote the new model only if its CV score is not worse."""
    from aisec_radar.classify.finetune import title_delta_path

    corpus_path = corpus_path or default_corpus_path()
    examples, summary = assemble(settings, [Path(p) for p in label_files], corpus_path, pool_size)
    emb = embed_examples(settings, examples, progress)
    main_oof: dict[str, Any] = {}
    model = build_model(settings, examples, emb, cfg, keep_oof=main_oof)
    title_delta = title_delta_path(settings)
    if title_delta is not None:  # the titles-only specialist: the same labels over its own encoder delta
        ts = replace(settings, encoder_finetune=str(title_delta))
        title_oof: dict[str, Any] = {}
        title_model = build_model(ts, examples, embed_examples(ts, examples, progress), cfg, keep_oof=title_oof)
        attach_title_model(model, title_model, title_delta, main_oof, title_oof)
    model.meta["training_data"].update({"skipped_no_text": summary.get("skipped_no_text", 0)})
    from aisec_radar.classify.pipeline import active_model

    # the model in force before this one is written: `--out` may be that model's own folder (the
    # shipping flow writes into the package), and the gate must compare the new model with the old
    current = active_model(settings)
    folder = Path(out_dir) if out_dir else Path(settings.db_path).parent / "models" / model.model_version
    model.save(folder)
    write_model_card(model, folder, rebuild_command(settings, [Path(p) for p in label_files], corpus_path, folder,
                                                    summary.get("curator", 0)))
    new_score, cur_score, basis = _compare_scores(settings, model, current, examples, emb)
    if current.model_version == model.model_version:
        promoted, reason = True, f"same model as the current one ({model.model_version})"
    elif new_score >= cur_score:
        promoted, reason = True, (f"{basis}: {new_score:.4f} >= current {current.model_version} {cur_score:.4f}")
    else:
        promoted, reason = False, (f"{basis}: {new_score:.4f} < current {current.model_version} {cur_score:.4f}; "
                                   "kept the current model")
    report = {"path": str(folder.resolve()), "reason": reason, "metrics": model.meta["metrics"],
              "training_data": model.meta["training_data"], "encoder_key": model.encoder_key,
              **({"title_model": model.title_model.model_version,
                  "title_encoder_key": model.title_model.encoder_key} if model.title_model else {})}
    with transaction(settings.db_path, timeout=settings.lock_timeout) as con:
        register_model(con, model.model_version, model.taxonomy_version, report, promoted=promoted)
        if not promoted:
            pm = promoted_model(con)
            if pm is None:  # keep the shipped/current model registered as the one in force
                register_model(con, current.model_version, current.taxonomy_version,
                               {"source": "current", "metrics": current.meta.get("metrics", {})}, promoted=False)
    return TrainReport(model.model_version, promoted, reason, model.meta["metrics"], str(folder),
                       model.title_model.model_version if model.title_model else None)
