"""Classifier tests: small real training data through the real encoder, the store-backed pipeline
(cache, staleness, axis maps), calibration, the abstain band and eval."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml

from aisec_radar.classify.data import Example, read_label_file
from aisec_radar.classify.evaluate import score
from aisec_radar.classify.model import RELEVANCE, ClassifierModel, LinearHead, choose_threshold, softmax
from aisec_radar.classify.training import fit_temperature
from aisec_radar.config import Settings
from aisec_radar.errors import InputError
from aisec_radar.records import Paper
from aisec_radar.taxonomy import load_taxonomy
from aisec_radar.taxonomy.loader import default_taxonomy_path

TINY = [
    ("Universal jailbreak prompts make aligned chatbots produce harmful content", "jailbreak"),
    ("Multi-turn jailbreak attacks on large language models", "jailbreak"),
    ("Defending LLMs against jailbreak prompts with a safety guardrail", "jailbreak"),
    ("Jailbreaking vision-language models with adversarial images", "jailbreak"),
    ("Red-teaming language models to elicit unsafe responses and jailbreaks", "jailbreak"),
    ("Backdoor attacks via poisoned training data with hidden triggers", "poisoning"),
    ("Clean-label data poisoning of image classifiers", "poisoning"),
    ("Detecting backdoor triggers in trojaned neural networks", "poisoning"),
    ("Poisoning retrieval-augmented generation knowledge bases", "poisoning"),
    ("Membership inference attacks against machine learning models", "membership_inference"),
    ("Detecting pretraining data of large language models with membership inference", "membership_inference"),
    ("Likelihood ratio membership inference attacks from first principles", "membership_inference"),
    ("Label-only membership inference on image classifiers", "membership_inference"),
    ("Adversarial examples fool image classifiers: certified robustness", "other_aisec"),
    ("Prompt injection attacks hijack LLM agents", "other_aisec"),
    ("Machine unlearning for deep networks", "other_aisec"),
    ("Certified robustness against adversarial perturbations via randomized smoothing", "other_aisec"),
    ("Efficient transformers for long sequences", "not_relevant"),
    ("Self-supervised contrastive learning of visual representations", "not_relevant"),
    ("Graph neural networks for molecule property prediction", "not_relevant"),
    ("Malware detection with gradient boosted trees", "not_relevant"),
    ("Quantum key distribution over noisy channels", "not_relevant"),
    ("Diffusion models for high-resolution image synthesis", "not_relevant"),
    ("A fast solver for sparse linear systems on GPUs", "not_relevant"),
]


def _settings(tmp_path: Path, **kw) -> Settings:
    return replace(Settings(), db_path=str(tmp_path / "t.duckdb"), **kw)


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained on the tiny set above with the real encoder (seconds)."""
    from aisec_radar.classify.builder import build_model
    from aisec_radar.classify.encoder import encode_texts, paper_text

    tmp = tmp_path_factory.mktemp("tinymodel")
    s = _settings(tmp)
    examples = [Example(id=f"t{i}", title=t, abstract="", label=lab, role="attack" if lab != "not_relevant" else None,
                        source="file") for i, (t, lab) in enumerate(TINY)]
    vecs = encode_texts(s, [paper_text(e.title) for e in examples])
    model = build_model(s, examples, {"title": vecs, "full": vecs},
                        {"C_relevance": 10.0, "C_type": 10.0, "C_type_title": 10.0}, k=3)
    return model.save(tmp / "model")


# ---------- unit: calibration, thresholds, scoring ----------

def test_temperature_calibration_is_monotone_and_fixes_overconfidence() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 400)
    logits = rng.normal(size=(400, 3))
    logits[np.arange(400), y] += 1.0
    t = fit_temperature(logits * 6.0, y)  # overconfident logits need a temperature > 1
    assert t > 2.0
    head = LinearHead(("a", "b", "c"), np.eye(3, dtype=np.float32), np.zeros(3, np.float32), temperature=t)
    margins = np.linspace(-5, 5, 50)
    x = np.stack([margins, np.zeros(50), np.zeros(50)], axis=1).astype(np.float32)
    p = head.proba(x)[:, 0]
    assert np.all(np.diff(p) > 0)  # calibrated probability rises with the raw score
    assert np.allclose(softmax(x).sum(axis=1), 1.0)


def test_choose_threshold_reaches_target_precision() -> None:
    conf = np.linspace(0.99, 0.01, 100)
    correct = (conf > 0.4).astype(float)  # right above 0.4, wrong below
    thr = choose_threshold(np.stack([conf, correct], axis=1), 0.9)
    accepted = correct[conf >= thr]
    assert accepted.mean() >= 0.9
    assert 0.3 < thr < 0.6
    assert choose_threshold(np.zeros((0, 2)), 0.9) > 1.0
    assert choose_threshold(np.array([[0.9, 0.0], [0.8, 0.0]]), 0.9) > 1.0  # never right: never auto


def test_score_on_known_answers() -> None:
    types = ("jailbreak", "poisoning")
    truth = ["jailbreak", "jailbreak", "poisoning", "not_relevant", "other_aisec"]
    pred = ["jailbreak", "poisoning", "poisoning", "not_relevant", "jailbreak"]
    auto = [True, False, True, True, False]
    rep = score(truth, pred, auto, types)
    assert set(rep) == {"n", "macro_f1", "accuracy", "per_class", "confusion", "relevance", "review_share",
                        "auto_precision"}
    assert rep["n"] == 5 and rep["accuracy"] == 0.6
    assert rep["per_class"]["jailbreak"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert rep["per_class"]["poisoning"]["precision"] == 0.5 and rep["per_class"]["poisoning"]["recall"] == 1.0
    assert rep["confusion"]["jailbreak"] == {"jailbreak": 1, "poisoning": 1}
    # relevant = one of the types: 3 true relevant, 4 predicted relevant, 3 both
    assert rep["relevance"] == {"precision": 0.75, "recall": 1.0, "f1": 0.8571}
    assert rep["review_share"] == 0.4 and rep["auto_precision"] == 1.0
    assert rep["macro_f1"] == round((0.5 + 2 / 3 + 0.0 + 1.0) / 4, 4)


def test_wrong_label_name_names_the_line(tmp_path: Path) -> None:
    f = tmp_path / "bad.jsonl"
    f.write_text('{"title": "A jailbreak", "attack": "jailbreak"}\n\n{"title": "x", "attack": "jailbrake"}\n')
    with pytest.raises(InputError, match=r"bad.jsonl:3: unknown label 'jailbrake'"):
        read_label_file(f, load_taxonomy(), need_text=True)
    f.write_text('{"title": "A jailbreak"}\n')
    with pytest.raises(InputError, match=r":1: missing 'attack'"):
        read_label_file(f, load_taxonomy(), need_text=True)


def test_eval_wrong_label_fails_before_encoding(tmp_path: Path) -> None:
    from aisec_radar.classify import evaluate_file

    f = tmp_path / "bad.jsonl"
    f.write_text('{"title": "x", "attack": "not_relevant"}\n{"title": "y", "attack": "backdoor"}\n')
    with pytest.raises(InputError, match=":2:"):
        evaluate_file(_settings(tmp_path), f)


def _routing_model(calibration: dict) -> ClassifierModel:
    """A 2-d toy model: feature 0 pushes towards jailbreak, feature 1 towards not_relevant."""
    tax = load_taxonomy()
    types = tax.type_ids
    d = 2 + len(types) + 1  # embedding 2-d + cue features
    Wr = np.zeros((d, 3), np.float32)
    Wr[0, 0], Wr[1, 2] = 4.0, 4.0
    Wt = np.zeros((d, len(types)), np.float32)
    Wt[0, types.index("jailbreak")] = 6.0
    heads = {}
    for v in ("title", "full"):
        heads[f"relevance_{v}"] = LinearHead(RELEVANCE, Wr, np.zeros(3, np.float32))
        heads[f"type_{v}"] = LinearHead(types, Wt, np.zeros(len(types), np.float32))
    return ClassifierModel("toy", tax.version, "all-MiniLM-L6-v2@torch", types,
                           tuple(types) + ("other_aisec",), 0.0, heads, calibration=calibration)


def test_abstain_band_routes_unsure_predictions_to_review() -> None:
    from aisec_radar.classify.predict import Predictor

    pairs_jb = [[0.95, 1.0]] * 20 + [[0.5, 0.0]] * 20  # right when confident, wrong when not
    pairs_nr = [[0.9, 1.0]] * 30
    model = _routing_model({"full": {"jailbreak": pairs_jb, "not_relevant": pairs_nr}, "title": {}})
    pred = Predictor(model, load_taxonomy(), target_precision=0.9)
    assert 0.9 <= pred.thresholds["full"]["jailbreak"] <= 0.95
    emb = np.array([[3.0, 0.0], [0.25, 0.0], [0.0, 3.0], [0.0, 0.0]], np.float32)
    items = [(f"p{i}", "A title", "An abstract.", f"h{i}") for i in range(4)]
    out = pred.predict(items, emb)
    assert out[0].labels == ["jailbreak"] and out[0].status == "auto" and out[0].review_priority == 0.0
    assert out[1].status == "needs_review" and out[1].review_priority > 0
    assert out[2].relevance == "not_relevant" and out[2].status == "auto"
    assert out[3].status == "needs_review"
    # the unsure possibly-relevant paper outranks the unsure irrelevant-looking one
    assert out[1].review_priority > 0
    # titles-only inputs use the title view, which has no calibration: nothing is auto-accepted
    out_t = pred.predict([("t", "A title", "", "h")], emb[:1])
    assert out_t[0].status == "needs_review"
    # a stricter target sends more to review
    strict = Predictor(model, load_taxonomy(), target_precision=0.999)
    assert strict.predict(items[:1], emb[:1])[0].status == "needs_review"


# ---------- real encoder ----------

@pytest.mark.slow
def test_train_and_predict_on_small_data(tiny_model_dir: Path, tmp_path: Path) -> None:
    from aisec_radar.classify.encoder import encode_texts
    from aisec_radar.classify.predict import Predictor

    model = ClassifierModel.load(tiny_model_dir)
    assert model.model_version.startswith("m")
    raw = (tiny_model_dir / "weights.npz").read_bytes()
    assert b"pickle" not in raw[:200]
    s = _settings(tmp_path)
    texts = ["New jailbreak prompts bypass the safety alignment of chat models",
             "Membership inference attack on language models",
             "A faster transformer architecture for long documents"]
    emb = encode_texts(s, texts)
    assert emb.shape == (3, 384) and np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    preds = Predictor(model, load_taxonomy(), 0.9).predict([(f"x{i}", t, "", "") for i, t in enumerate(texts)], emb)
    assert preds[0].labels[:1] == ["jailbreak"]
    assert preds[1].labels[:1] == ["membership_inference"]
    assert preds[2].relevance == "not_relevant" and preds[2].labels == []
    assert "jailbreak" in preds[0].explanation["cues"]["jailbreak"]
    assert len(preds[0].explanation["neighbours"]) == 3
    assert preds[0].explanation["neighbours"][0]["label"] == "jailbreak"
    # the bank ships as int8 unit vectors; similarities come back as cosines
    assert model.neighbours["vecs"].dtype == np.int8
    assert 0.0 < preds[0].explanation["neighbours"][0]["similarity"] <= 1.0
    assert abs(sum(preds[0].type_scores.values()) - preds[0].explanation["relevance"]["in_taxonomy"]) < 1e-3


def _papers() -> list[Paper]:
    return [
        Paper("2601.00001", "Jailbreaking aligned LLMs with adversarial suffixes",
              "We craft jailbreak prompts that make chat models produce harmful content despite safety training."),
        Paper("2601.00002", "Membership inference against fine-tuned language models",
              "We decide whether a document was in the training data of a model using a likelihood ratio attack."),
        Paper("2601.00003", "Sparse attention for long-context transformers",
              "We propose an efficient attention mechanism for long documents."),
        Paper("2601.00004", "Backdoor triggers in poisoned instruction data", ""),
    ]


@pytest.mark.slow
def test_classify_cache_staleness_and_axis_map_switch(tiny_model_dir: Path, tmp_path: Path) -> None:
    from aisec_radar.classify import classify_pending, encoder_model_key
    from aisec_radar.classify.predict import prediction_axes
    from aisec_radar.store import connect, transaction
    from aisec_radar.store.embeddings import count_embeddings
    from aisec_radar.store.papers import upsert_papers
    from aisec_radar.store.predictions import current_predictions

    s = _settings(tmp_path, classifier_path=str(tiny_model_dir))
    with transaction(s.db_path) as con:
        upsert_papers(con, _papers())
    c1 = classify_pending(s, progress=False)
    assert c1["classified"] == 4 and c1["encoded"] == 4 and c1["cached"] == 0
    assert c1["auto"] + c1["needs_review"] == 4
    c2 = classify_pending(s, progress=False)
    assert c2["classified"] == 0 and c2["encoded"] == 0  # second run encodes nothing
    c3 = classify_pending(s, all_papers=True, progress=False)
    assert c3["classified"] == 4 and c3["encoded"] == 0 and c3["cached"] == 4
    with connect(s.db_path, read_only=True) as con:
        assert count_embeddings(con, encoder_model_key(s)) == 4
        preds = current_predictions(con)
    jb = preds["2601.00001"]
    assert jb.relevance == "in_taxonomy" and jb.labels[0] == "jailbreak"
    tax = load_taxonomy()
    assert prediction_axes(jb, tax, "arxiv_v1") == ["DM"] and prediction_axes(jb, tax, "openreview") == ["DD"]

    # a changed abstract makes that paper stale: only it is re-encoded
    changed = _papers()[2]
    changed.abstract = "A new abstract about efficient attention."
    with transaction(s.db_path) as con:
        upsert_papers(con, [changed])
    c4 = classify_pending(s, progress=False)
    assert c4["classified"] == 1 and c4["encoded"] == 1

    # a new taxonomy version that moves jailbreak to another axis: new predictions, no re-encoding
    data = yaml.safe_load(default_taxonomy_path().read_text())
    data["version"] = "2026.1-test"
    data["axis_maps"]["arxiv_v1"]["map"]["jailbreak"] = "DD"
    tax_file = tmp_path / "tax.yaml"
    tax_file.write_text(yaml.safe_dump(data))
    s2 = replace(s, taxonomy_path=str(tax_file))
    c5 = classify_pending(s2, progress=False)
    assert c5["classified"] == 4 and c5["encoded"] == 0 and c5["cached"] == 4
    with connect(s.db_path, read_only=True) as con:
        preds2 = current_predictions(con)
    assert preds2["2601.00001"].taxonomy_version == "2026.1-test"
    assert prediction_axes(preds2["2601.00001"], load_taxonomy(tax_file), "arxiv_v1") == ["DD"]


@pytest.mark.slow
def test_evaluate_file_on_tiny_labelled_file(tiny_model_dir: Path, tmp_path: Path) -> None:
    from aisec_radar.classify import evaluate_file

    f = tmp_path / "eval.jsonl"
    rows = [{"title": "Jailbreak prompts against chat models", "attack": "jailbreak"},
            {"title": "Membership inference attacks on machine learning models", "abstract": "",
             "attack": "membership_inference"},
            {"title": "Self-supervised learning of image representations", "attack": "not_relevant",
             "secondary": ["none of ours"]}]  # eval scores the primary label; secondaries are not read
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    s = _settings(tmp_path, classifier_path=str(tiny_model_dir))
    rep = evaluate_file(s, f)
    assert rep["n"] == 3
    assert rep["accuracy"] == 1.0 and rep["macro_f1"] == 1.0
    assert rep["relevance"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert set(rep["per_class"]) == {"jailbreak", "membership_inference", "not_relevant"}
    assert 0.0 <= rep["review_share"] <= 1.0
    assert not Path(s.db_path).exists()  # eval needs no database


@pytest.mark.slow
def test_train_from_store_labels_gates_promotion(tmp_path: Path) -> None:
    from aisec_radar.classify import train
    from aisec_radar.classify.pipeline import active_model
    from aisec_radar.records import Label
    from aisec_radar.store import connect, transaction
    from aisec_radar.store.labels import add_label
    from aisec_radar.store.papers import upsert_papers
    from aisec_radar.store.predictions import list_models

    s = _settings(tmp_path)
    papers = [Paper(f"2601.{i:05d}", t, "") for i, (t, _) in enumerate(TINY)]
    with transaction(s.db_path) as con:
        upsert_papers(con, papers)
        for p, (_, lab) in zip(papers, TINY, strict=True):
            add_label(con, Label(p.arxiv_id, [lab], curator="test"))
    before = active_model(s).model_version
    rep = train(s, progress=False, corpus_path=None)
    assert rep.model_version.startswith("m") and Path(rep.path, "meta.json").exists()
    assert "24 curator labels" in rep.reason
    assert rep.metrics["curator"]["n"] == 24
    card = Path(rep.path, "MODEL_CARD.md").read_text()  # the card says how to rebuild it, from these inputs
    assert "aisec-radar finetune-encoder --db " in card  # the settings use the shipped encoder delta
    train_line = next(line for line in card.splitlines() if "aisec-radar train" in line)
    assert f"--db {Path(s.db_path).resolve()} " in train_line  # curator labels came from this store
    assert train_line.endswith(f"--out {Path(rep.path).resolve()}")
    # the package's titles-only specialist (when it ships one) is rebuilt with its own fine-tuning options
    from aisec_radar.classify.finetune import EncoderDelta, title_delta_path

    tdelta = title_delta_path(s)
    assert (rep.title_model is not None) == (tdelta is not None)
    assert (ClassifierModel.load(rep.path).title_model is not None) == (tdelta is not None)
    if tdelta is not None:
        weight = EncoderDelta.load(tdelta).meta["config"]["supcon_weight"]
        assert f"--supcon-weight {weight} --out " in card and "title/encoder_delta.npz" in card
    with connect(s.db_path, read_only=True) as con:
        models = {m["model_version"]: m for m in list_models(con)}
    assert models[rep.model_version]["promoted"] is rep.promoted
    assert active_model(s).model_version == (rep.model_version if rep.promoted else before)
    # retrained into the folder of the model in force: the gate compares with that model, not itself
    with transaction(s.db_path) as con:
        extra = Paper("2601.99999", "Stealing the weights of a deployed model through its API", "")
        upsert_papers(con, [extra])
        add_label(con, Label(extra.arxiv_id, ["model_extraction"], curator="test"))
    again = train(replace(s, classifier_path=rep.path), progress=False, corpus_path=None, out_dir=Path(rep.path))
    assert again.model_version != rep.model_version
    assert f"current {rep.model_version}" in again.reason and "same model" not in again.reason


def test_model_keeps_working_when_the_taxonomy_gains_a_type(tmp_path: Path) -> None:
    from aisec_radar.classify.predict import Predictor
    from aisec_radar.taxonomy.loader import parse_taxonomy

    data = yaml.safe_load(default_taxonomy_path().read_text())
    data["version"] = "2026.2-test"
    data["types"].append({"id": "prompt_stealing", "name": "Prompt stealing", "definition": "Stealing prompts.",
                          "cues": ["prompt stealing"]})
    for m in data["axis_maps"].values():
        m["map"]["prompt_stealing"] = "MD"
    tax2 = parse_taxonomy(data)
    model = _routing_model({"full": {}, "title": {}})
    out = Predictor(model, tax2, 0.9).predict([("p", "Prompt stealing and jailbreak", "Abstract.", "h")],
                                             np.array([[3.0, 0.0]], np.float32))
    assert out[0].labels == ["jailbreak"] and out[0].taxonomy_version == "2026.2-test"
    assert out[0].status == "needs_review"  # no calibration pairs: nothing is auto-accepted


def test_mlp_type_head_round_trips_through_the_artifact(tmp_path: Path) -> None:
    from aisec_radar.classify.model import MLPHead
    from aisec_radar.classify.training import fit_mlp

    rng = np.random.default_rng(1)
    x = rng.normal(size=(120, 5)).astype(np.float32)
    y = ["a" if v > 0 else "b" for v in x[:, 0]]
    head = fit_mlp(x, y, np.ones(120, np.float32), ("a", "b", "c"), hidden=8, alpha=0.1, seed=0)
    assert isinstance(head, MLPHead)
    assert (head.proba(x).argmax(axis=1) == np.array([0 if v == "a" else 1 for v in y])).mean() > 0.9
    model = _routing_model({})
    model.heads["type_full"] = head
    model.save(tmp_path / "m")
    loaded = ClassifierModel.load(tmp_path / "m")
    assert isinstance(loaded.heads["type_full"], MLPHead)
    assert np.allclose(loaded.heads["type_full"].proba(x), head.proba(x), atol=1e-5)


def test_literature_titles_are_valid_and_disjoint_from_dev(shared_dir: Path) -> None:
    """The bundled literature titles parse with valid labels and never repeat a dev.jsonl title,
    so CV on dev (where they are training-only) stays honest."""
    import re

    from aisec_radar.classify.data import bundled_literature_file

    path = bundled_literature_file()
    assert path is not None
    rows = read_label_file(path, load_taxonomy(), need_text=True)
    assert len(rows) > 200 and all(not e.abstract and e.id is None for e in rows)
    assert all(json.loads(line)["source"] == "literature" for line in path.read_text().splitlines() if line)

    def norm(t: str) -> str:
        return re.sub(r"[^a-z0-9]+", " ", t.lower()).strip()

    dev = {norm(json.loads(line).get("title") or "") for line in (shared_dir / "labels" / "dev.jsonl").open()}
    assert not {norm(e.title) for e in rows} & dev


def test_mix_relevance_collapses_the_flat_head_onto_three_classes() -> None:
    from aisec_radar.classify.model import mix_relevance, softmax

    rng = np.random.default_rng(3)
    rel = softmax(rng.normal(size=(6, 3)))
    flat = softmax(rng.normal(size=(6, 11)))  # nine types + other_aisec + not_relevant
    np.testing.assert_allclose(mix_relevance(rel, flat, 0.0), rel)
    only = mix_relevance(rel, flat, 1.0)
    np.testing.assert_allclose(only[:, 0], flat[:, :9].sum(axis=1))
    np.testing.assert_allclose(only[:, 1:], flat[:, 9:])
    mixed = mix_relevance(rel, flat, 0.7)
    np.testing.assert_allclose(mixed.sum(axis=1), 1.0)
    np.testing.assert_allclose(mixed, 0.3 * rel + 0.7 * only)


@pytest.mark.slow
def test_flat_heads_are_trained_saved_and_blended_into_relevance(tiny_model_dir: Path, tmp_path: Path) -> None:
    from aisec_radar.classify.encoder import encode_texts
    from aisec_radar.classify.model import mix_relevance

    model = ClassifierModel.load(tiny_model_dir)
    model.title_vote = {}  # the titles-only view's neighbour vote has its own test below
    assert model.flat_weight == pytest.approx(0.7)
    assert {"flat_title", "flat_full"} <= set(model.heads)
    assert model.heads["flat_full"].classes == (*model.types, "other_aisec", "not_relevant")
    emb = encode_texts(_settings(tmp_path), ["Jailbreak prompts against aligned chat models",
                                             "Graph neural networks for traffic forecasting"])
    x = model.features(emb, np.zeros((2, len(model.cue_labels)), np.float32))
    for full in (True, False):
        has_abstract = np.array([full, full])
        view = "full" if full else "title"
        blended = model.predict_proba(x, has_abstract)["relevance"]
        alone = model.head("relevance", view).proba(x)
        expected = mix_relevance(alone, model.heads[f"flat_{view}"].proba(x), 0.7)
        np.testing.assert_allclose(blended, expected, atol=1e-6)
        # the flat head does take part (compared in log space: confident rows differ in their small classes)
        assert not np.allclose(np.log(blended), np.log(np.maximum(alone, 1e-30)), atol=1e-2)
    old = ClassifierModel.load(tiny_model_dir)
    old.flat_weight = 0.0  # a model from before the flat heads: relevance head alone
    old.save(tmp_path / "old")
    assert ClassifierModel.load(tmp_path / "old").flat_weight == 0.0
    np.testing.assert_allclose(old.predict_proba(x, np.array([True, True]))["relevance"],
                               old.head("relevance", "full").proba(x), atol=1e-6)


def _random_example_set(ex: list[Example]):  # noqa: ANN202 - training.ExampleSet
    """Examples over random 8-d vectors and no cues: for tests of which rows a head learns from."""
    from aisec_radar.classify.training import ExampleSet

    rng = np.random.default_rng(0)
    n = len(ex)
    return ExampleSet(ex, {v: rng.normal(size=(n, 8)).astype(np.float32) for v in ("title", "full")},
                      {v: np.zeros((n, 1), np.float32) for v in ("title", "full")}, bow_scale=0.0)


def test_titles_only_type_head_learns_from_stream_papers_of_the_nine_types() -> None:
    """The titles-only relevance head sees curated titles and the stream's not_relevant titles
    (down-weighted); its type head also the stream's papers of the nine types (their titles, at
    title_type_stream_weight)."""
    from aisec_radar.classify.training import DEFAULT_CONFIG, _rows

    ex = [Example("d1", "Backdoor attacks on classifiers", "", "poisoning", source="dev"),
          Example("d2", "Efficient transformers", "", "not_relevant", source="dev"),
          Example("s1", "Stealing a model through its API", "We query the API and train a copy.",
                  "model_extraction", source="hand"),
          Example("s2", "Traffic forecasting", "We forecast traffic with graphs.", "not_relevant", source="hand")]
    es = _random_example_set(ex)
    cfg = dict(DEFAULT_CONFIG)
    types = ("poisoning", "model_extraction")
    # relevance: curated titles, and the stream's not_relevant paper by its title alone, down-weighted
    _, rel_rows, rel_w = _rows(es, "title", cfg, 1.0, lambda e: True)
    assert rel_rows == [0, 1, 3]
    np.testing.assert_allclose(rel_w, [1.0, 1.0, cfg["title_stream_negatives_weight"]])
    assert 0 < cfg["title_stream_negatives_weight"] < 1
    _, rel_rows, _ = _rows(es, "title", {**cfg, "title_stream_negatives_weight": 0.0}, 1.0, lambda e: True)
    assert rel_rows == [0, 1]
    _, typ_rows, _ = _rows(es, "title", cfg, 1.0, lambda e: e.label in types,
                           stream_in_title=cfg["stream_in_title_type"])
    # the stream's model_extraction paper (its title, and its title + abstract at cross_view_weight),
    # not its not_relevant one
    assert sorted(typ_rows) == [0, 2, 2]
    _, off_rows, _ = _rows(es, "title", cfg, 1.0, lambda e: e.label in types, stream_in_title=False)
    assert sorted(off_rows) == [0]


def test_training_only_examples_leave_the_folds_of_the_others_unchanged() -> None:
    """Literature titles, the pool and targeted hand labels are in every training fold and never
    scored; adding them must not redraw the folds of the scored examples (paired comparisons)."""
    from aisec_radar.classify.training import cv_folds

    scored = [Example(f"p{i}", f"paper {i}", "abstract", lab, source="hand", sample="random")
              for i, lab in enumerate(["poisoning", "jailbreak", "not_relevant", "other_aisec"] * 10)]
    extra = [Example("t1", "targeted", "abstract", "model_extraction", source="hand", sample="targeted"),
             Example(None, "a literature title", "", "model_extraction", source="literature"),
             Example("q1", "pool paper", "abstract", "not_relevant", source="pool")]
    before = cv_folds(scored, 5, 13)
    mixed = [scored[0], extra[0], *scored[1:20], extra[1], *scored[20:], extra[2]]
    after = cv_folds(mixed, 5, 13)
    assert (after[[1, 21, len(mixed) - 1]] == -1).all()
    keep = [i for i, e in enumerate(mixed) if e not in extra]
    np.testing.assert_array_equal(after[keep], before)
    assert set(before) == {0, 1, 2, 3, 4}


def test_bundled_hand_labels_are_ids_and_labels_only() -> None:
    """The shipped hand labels carry arXiv ids and our decisions only (never the corpus's text),
    with valid labels and roles, one row per paper across all files, and a known sampling kind
    (the kind decides whether a label is scored, e.g. targeted ones never are)."""
    from aisec_radar.classify.data import ROLE_MAP, bundled_label_files

    files = bundled_label_files()
    assert [p.name for p in files][-1] == "handlabels_f.jsonl"
    seen: set[str] = set()
    for path in files:
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        assert not any({"title", "abstract"} & set(r) for r in rows), path
        examples = read_label_file(path, load_taxonomy())
        assert all(e.join_text and e.id for e in examples)
        assert {r["sample"] for r in rows} <= {"random", "keyword", "active", "targeted"}
        # a role for every paper of the survey's scope, n/a exactly for the not_relevant ones
        assert all((r["role"] == "n/a") == (r["attack"] == "not_relevant") for r in rows), path
        assert all(r["role"] in ROLE_MAP for r in rows if r["role"] != "n/a")
        ids = [r["id"] for r in rows]
        assert not set(ids) & seen and len(set(ids)) == len(ids), path
        seen.update(ids)
    assert len(seen) >= 2300


def test_titles_only_type_head_has_its_own_regularisation() -> None:
    """C_type_title sets the titles-only type head alone: the full view's type head (and every
    stream figure with it) stays as C_type makes it."""
    from aisec_radar.classify.training import DEFAULT_CONFIG, ExampleSet, fit_heads

    rng = np.random.default_rng(3)
    labels = ["poisoning", "jailbreak", "model_extraction"] * 8
    ex = [Example(f"p{i}", f"title {i}", "abstract" if i % 2 else "", lab, source="hand")
          for i, lab in enumerate(labels)]
    emb = {v: rng.normal(size=(len(ex), 6)).astype(np.float32) for v in ("title", "full")}
    es = ExampleSet(ex, emb, {v: np.zeros((len(ex), 1), np.float32) for v in ("title", "full")}, bow_scale=0.0)
    types = ("poisoning", "jailbreak", "model_extraction")
    cfg = {**DEFAULT_CONFIG, "flat_weight": 0.0}
    weak = fit_heads(es, types, {**cfg, "C_type_title": 10.0})
    strong = fit_heads(es, types, {**cfg, "C_type_title": 0.001})
    np.testing.assert_allclose(weak["type_full"].W, strong["type_full"].W)
    assert np.abs(strong["type_title"].W).sum() < 0.5 * np.abs(weak["type_title"].W).sum()


def test_pseudo_titles_train_only_the_titles_only_heads() -> None:
    """Self-labelled corpus titles (source "pseudo") train the titles-only heads at pseudo_weight and
    nothing else: not the full view's heads (which learn from human labels only), not the encoder's
    fine-tuning (its own labels would echo back), and they are never scored."""
    from aisec_radar.classify.finetune import training_items
    from aisec_radar.classify.training import (
        DEFAULT_CONFIG,
        _flat_factor,
        _rows,
        fit_heads,
        training_only,
    )

    ex = [Example("d1", "Backdoor attacks on classifiers", "", "poisoning", source="dev"),
          Example("s1", "Stealing a model through its API", "We query the API and train a copy.",
                  "model_extraction", source="hand"),
          Example("p1", "Jailbreaking chatbots with role play", "", "jailbreak", source="pseudo")]
    es = _random_example_set(ex)
    cfg = {**DEFAULT_CONFIG, "pseudo_weight": 0.4, "pseudo_heads": ["relevance", "type", "flat"]}
    types = ("poisoning", "model_extraction", "jailbreak")
    _, rows, w = _rows(es, "title", cfg, 1.0, lambda e: True)
    assert rows == [0, 2] and w.tolist() == pytest.approx([1.0, 0.4])
    _, rows, w = _rows(es, "title", cfg, 1.0, lambda e: e.label in types, stream_in_title=True)
    assert 2 in rows and w[rows.index(2)] == pytest.approx(0.4)
    # by default only the titles-only type head takes them: the relevance and flat heads keep their
    # curated balance
    assert DEFAULT_CONFIG["pseudo_heads"] == ["type"]
    heads = fit_heads(es, types, {**DEFAULT_CONFIG, "pseudo_weight": 1.0})
    heads_without = fit_heads(es.subset(np.array([0, 1])), types, {**DEFAULT_CONFIG, "pseudo_weight": 1.0})
    for name in ("relevance_title", "flat_title", "relevance_full", "type_full"):
        np.testing.assert_allclose(heads[name].W, heads_without[name].W, atol=1e-6)
    assert heads["type_title"].W.shape == heads_without["type_title"].W.shape
    assert not np.allclose(heads["type_title"].W, heads_without["type_title"].W, atol=1e-6)
    assert _flat_factor("title", DEFAULT_CONFIG)(ex[2]) == 0.0
    # the full view: the type head takes curated titles (title_only_in_full) but no pseudo title
    assert cfg["title_only_in_full"]
    for keep in (lambda e: True, lambda e: e.label in types):
        _, rows, _ = _rows(es, "full", cfg, 1.0, keep, True)
        assert 2 not in rows
    _, rows, _ = _rows(es, "full", cfg, 1.0, lambda e: e.label in types)
    assert 0 in rows
    assert _flat_factor("full", cfg)(ex[2]) == 0.0 and _flat_factor("full", cfg)(ex[0]) > 0
    assert _flat_factor("title", cfg)(ex[2]) == pytest.approx(0.4)
    assert training_only(ex[2]) and not training_only(ex[0])
    classes = [*types, "other_aisec", "not_relevant"]
    from aisec_radar.classify.encoder import paper_text

    index = {paper_text(e.title, e.abstract): i for i, e in enumerate(ex)} | {paper_text(ex[1].title): 3}
    items = training_items(ex, classes, index, 0.5)
    assert {i for i, _, _ in items} == {0, 1, 3}  # the pseudo title (text 2) never trains the encoder


def test_assemble_reads_pseudo_titles_by_title_and_after_every_human_label(tmp_path: Path, monkeypatch) -> None:
    """The bundled pseudo file is ids + the model's label: assemble joins the title from the corpus,
    drops the abstract (the titles-only view learns from it), and leaves out any paper a human
    labelled (same id or same normalised title); pseudo=False leaves the file out."""
    import gzip

    from aisec_radar.classify import builder as B

    corpus = tmp_path / "corpus.jsonl.gz"
    with gzip.open(corpus, "wt") as fh:
        for pid, title in (("p1", "Jailbreaking Chatbots with Role Play"), ("p2", "Poisoning RAG corpora"),
                           ("p3", "Stealing Decoders: an Attack"), ("h9", "A labelled paper")):
            fh.write(json.dumps({"id": pid, "title": title, "abstract": f"abstract of {pid}"}) + "\n")
    pseudo = tmp_path / "pseudo_titles.jsonl"
    pseudo.write_text("".join(json.dumps({"id": i, "attack": a, "source": "pseudo"}) + "\n"
                              for i, a in (("p1", "jailbreak"), ("p2", "poisoning"), ("p3", "model_extraction"))))
    labels = tmp_path / "labels.jsonl"
    labels.write_text(json.dumps({"id": "p2", "attack": "other_aisec"}) + "\n"
                      + json.dumps({"title": "stealing decoders - an attack", "abstract": None,
                                    "attack": "model_extraction"}) + "\n")
    monkeypatch.setattr(B, "bundled_pseudo_file", lambda: pseudo)
    s = _settings(tmp_path)
    ex, summary = B.assemble(s, [labels], corpus, literature=False)
    ps = [e for e in ex if e.source == "pseudo"]
    assert [(e.id, e.title, e.abstract, e.label) for e in ps] == [
        ("p1", "Jailbreaking Chatbots with Role Play", "", "jailbreak")]
    assert summary["pseudo"] == 1
    assert [e.label for e in ex if e.id == "p2"] == ["other_aisec"]  # the human label, with its abstract
    ex, summary = B.assemble(s, [labels], corpus, literature=False, pseudo=False)
    assert not [e for e in ex if e.source == "pseudo"] and "pseudo" not in summary


def test_explanations_never_cite_a_pseudo_title(tmp_path: Path) -> None:
    """The nearest labelled papers shown as explanations are papers people labelled: the model's own
    pseudo titles train the titles-only heads but stay out of the artifact's neighbour bank."""
    from aisec_radar.classify.builder import build_model

    ex = [Example(f"t{i}", t, "", lab, source="file") for i, (t, lab) in enumerate(TINY[:6])]
    ex.append(Example("p1", "Jailbreaking chatbots with role play", "", "jailbreak", source="pseudo"))
    rng = np.random.default_rng(1)
    v = rng.normal(size=(len(ex), 16)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    model = build_model(_settings(tmp_path), ex, {"title": v, "full": v}, None)
    assert "p1" not in set(model.neighbours["ids"]) and "t0" in set(model.neighbours["ids"])
    assert model.meta["training_data"]["pseudo"] == 1
    from aisec_radar.classify.builder import write_model_card

    assert "pseudo_titles.jsonl" in write_model_card(model, tmp_path).read_text()


# ---------- the titles-only view's neighbour vote ----------

def test_neighbour_vote_on_known_answers() -> None:
    """The k most similar bank rows vote exp(similarity / temperature) × their weight; a row of
    weight 0 never votes, however near; without voters the vote is uniform."""
    from aisec_radar.classify.model import neighbour_vote

    bank = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [1.0, 0.01]], np.float32)
    labels = np.array([0, 1, 2, 1])
    w = np.array([1.0, 2.0, 1.0, 0.0])
    q = np.array([[2.0, 0.0]], np.float32)  # not a unit row: cosine all the same
    got = neighbour_vote(q, bank, labels, w, 3, k=2, temperature=0.1)
    v0, v1 = 1.0, 2.0 * np.exp((0.8 - 1.0) / 0.1)
    np.testing.assert_allclose(got, [[v0 / (v0 + v1), v1 / (v0 + v1), 0.0]], atol=1e-6)
    np.testing.assert_allclose(neighbour_vote(q, bank, labels, w, 3, k=1, temperature=0.1), [[1, 0, 0]])
    # every live row voting, a hotter temperature: the far row gets a share too
    assert neighbour_vote(q, bank, labels, w, 3, k=10, temperature=1.0)[0, 2] > 0.1
    np.testing.assert_allclose(neighbour_vote(q, bank, labels, np.zeros(4), 3, k=2, temperature=0.1),
                               [[1 / 3, 1 / 3, 1 / 3]])


def test_title_bank_holds_the_rows_of_the_titles_only_heads() -> None:
    """The voters are the title rows the titles-only relevance and type heads learn from, with those
    heads' weights (the stream's not_relevant titles down-weighted in relevance, its nine-type titles
    in the type vote only, no paper's title + abstract row), and only papers people labelled: a
    self-labelled title would echo the model's own decision back to it."""
    from aisec_radar.classify.training import DEFAULT_CONFIG, title_bank

    ex = [Example("d1", "Backdoor attacks on classifiers", "", "poisoning", source="dev"),
          Example("d2", "Efficient transformers", "", "not_relevant", source="dev"),
          Example("s1", "Stealing a model through its API", "We query the API.", "model_extraction", source="hand"),
          Example("s2", "Traffic forecasting", "We forecast traffic.", "not_relevant", source="hand"),
          Example("s3", "Prompt injection in agents", "Agents follow injected text.", "other_aisec", source="hand"),
          Example("p1", "Jailbreaking chatbots with role play", "", "jailbreak", source="pseudo")]
    es = _random_example_set(ex)
    cfg = dict(DEFAULT_CONFIG)
    types = ("poisoning", "model_extraction", "jailbreak")
    bank = title_bank(es, types, cfg)
    assert bank["rows"].tolist() == [0, 1, 2, 3]
    np.testing.assert_allclose(bank["w_relevance"], [1.0, 1.0, 0.0, cfg["title_stream_negatives_weight"]])
    np.testing.assert_allclose(bank["w_type"], [1.0, 0.0, cfg["title_type_stream_weight"], 0.0])
    assert bank["labels"].tolist() == [0, 4, 1, 4]  # index into the nine types + other_aisec + not_relevant
    unit = es.emb["title"][:4] / np.linalg.norm(es.emb["title"][:4], axis=1, keepdims=True)
    np.testing.assert_allclose(bank["vecs"], unit, atol=1e-6)
    # the pseudo title trains the type head (test above) but never votes, whichever heads it trains
    assert title_bank(es, types, {**cfg, "pseudo_heads": ["relevance", "type"]})["rows"].tolist() == [0, 1, 2, 3]


def test_out_of_fold_votes_never_count_the_paper_itself() -> None:
    """In cross-validation a title is voted on by the other folds' titles only: were it in its own
    bank, at similarity 1 it would vote its own label home every time."""
    from aisec_radar.classify.training import DEFAULT_CONFIG, cross_validate

    labels = ["poisoning", "jailbreak", "not_relevant", "other_aisec"] * 10
    ex = [Example(f"p{i}", f"title {i}", "", lab, source="dev") for i, lab in enumerate(labels)]
    es = _random_example_set(ex)
    types = ("poisoning", "jailbreak")
    cfg = {**DEFAULT_CONFIG, "title_vote_k_relevance": 1, "title_vote_k_type": 1}
    oof = cross_validate(es, types, cfg, k=5)
    flat = oof.title_votes["flat"]
    assert oof.evaluated.all() and np.allclose(flat.sum(axis=1), 1.0)
    classes = [*types, "other_aisec", "not_relevant"]
    own = np.array([classes.index(lab) for lab in labels])
    hits = (flat.argmax(axis=1) == own).mean()
    assert hits < 0.6  # random vectors: the nearest other title's label, about a quarter right
    typ = oof.title_votes["type"]
    assert np.allclose(typ.sum(axis=1), 1.0) and set(typ.argmax(axis=1)) <= {0, 1}


@pytest.mark.slow
def test_title_vote_moves_the_titles_only_view_alone_and_round_trips(tiny_model_dir: Path, tmp_path: Path) -> None:
    """The vote changes titles-only predictions exactly as apply_title_vote blends it and leaves papers
    with an abstract alone; the artifact keeps bank and settings; a model without it is another version."""
    from aisec_radar.classify.builder import build_model
    from aisec_radar.classify.encoder import encode_texts, paper_text
    from aisec_radar.classify.model import apply_title_vote, title_votes

    model = ClassifierModel.load(tiny_model_dir)
    assert model.title_vote and len(model.title_bank["vecs"]) == len(TINY)
    assert model.title_bank["vecs"].dtype == np.int8
    s = _settings(tmp_path)
    emb = encode_texts(s, ["Stealing jailbreak prompts from chat models", "Poisoned data in graph learning"])
    x = model.features(emb, np.zeros((2, len(model.cue_labels)), np.float32))
    off = ClassifierModel.load(tiny_model_dir)
    off.title_vote = {}
    for full in (True, False):
        has_abstract = np.array([full, full])
        on_p, off_p = model.predict_proba(x, has_abstract), off.predict_proba(x, has_abstract)
        if full:
            np.testing.assert_allclose(on_p["relevance"], off_p["relevance"])
            np.testing.assert_allclose(on_p["type"], off_p["type"])
            continue
        fv, tv = title_votes(emb, model.title_bank, model.title_vote, len(model.types))
        rel, typ = apply_title_vote(off_p["relevance"], off_p["type"], fv, tv, model.title_vote)
        np.testing.assert_allclose(on_p["relevance"], rel, atol=1e-6)
        np.testing.assert_allclose(on_p["type"], typ, atol=1e-6)
        # the vote does take part (compared in log space: the tiny model is near-certain of its top type)
        assert not np.allclose(np.log(on_p["type"] + 1e-30), np.log(off_p["type"] + 1e-30), atol=1e-2)
    again = ClassifierModel.load(model.save(tmp_path / "again"))
    with np.load(tmp_path / "again" / "weights.npz") as z:  # a titles-only paper's vector is stored once
        assert len(z["tv.vecs"]) == 0 and (z["tv.nb_row"] >= 0).all()
    assert again.title_vote == model.title_vote
    for key, arr in model.title_bank.items():
        np.testing.assert_array_equal(again.title_bank[key], arr)
    examples = [Example(id=f"t{i}", title=t, abstract="", label=lab, source="file") for i, (t, lab) in enumerate(TINY)]
    vecs = encode_texts(s, [paper_text(e.title) for e in examples])
    cfg = {"C_relevance": 10.0, "C_type": 10.0, "C_type_title": 10.0}
    plain = build_model(s, examples, {"title": vecs, "full": vecs},
                        {**cfg, "title_vote_type_weight": 0.0, "title_vote_relevance_weight": 0.0}, k=3)
    assert plain.title_vote == {} and plain.title_bank == {}
    assert plain.model_version != model.model_version
    from aisec_radar.classify.builder import write_model_card

    assert f"nearest labelled titles ({len(TINY)} titles" in write_model_card(again, tmp_path / "again").read_text()
    plain.save(tmp_path / "plain")
    assert "nearest labelled titles" not in write_model_card(plain, tmp_path / "plain").read_text()


@pytest.mark.slow
def test_titles_only_specialist_decides_titles_only_inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A model with a titles-only specialist: a title alone gets the specialist's label (its encoder,
    its heads, its cache key) unless the main model calls it not_relevant; papers with an abstract
    get the main model's. It round-trips through the artifact, and a folder whose specialist went
    missing is a clear error, not a silent fall-back."""
    from aisec_radar.classify import classify_pending, encoder_model_key, evaluate_file
    from aisec_radar.classify.builder import attach_title_model, build_model
    from aisec_radar.classify.encoder import encode_texts, paper_text
    from aisec_radar.classify.finetune import EncoderDelta
    from aisec_radar.classify.predict import Predictor
    from aisec_radar.errors import ClassifyError
    from aisec_radar.store import connect, transaction
    from aisec_radar.store.embeddings import count_embeddings
    from aisec_radar.store.papers import upsert_papers
    from aisec_radar.store.predictions import current_predictions

    monkeypatch.setenv("AISEC_RADAR_ENCODER_CACHE", str(tmp_path / "enc"))
    s = _settings(tmp_path, encoder_finetune="none")
    # the specialist's encoder: the plain model with one changed bias (a real delta file, materialised)
    bias = "encoder.layer.5.output.dense.bias::d"
    delta = EncoderDelta({bias: np.random.default_rng(0).normal(0, 0.5, 384).astype(np.float32)},
                         {"config": {"supcon_weight": 0.5}}).save(tmp_path / "title_delta.npz")
    ts = replace(s, encoder_finetune=str(delta))
    examples = [Example(id=f"t{i}", title=t, abstract="", label=lab, role=None, source="file")
                for i, (t, lab) in enumerate(TINY)]
    texts = [paper_text(e.title) for e in examples]
    cfg = {"C_relevance": 10.0, "C_type": 10.0, "C_type_title": 10.0}
    vecs, tvecs = encode_texts(s, texts), encode_texts(ts, texts)
    assert not np.allclose(vecs, tvecs, atol=1e-3)  # the two encoders differ
    main_oof: dict = {}
    main = build_model(s, examples, {"title": vecs, "full": vecs}, cfg, k=3, keep_oof=main_oof)
    # a specialist that tells poisoning from membership inference, and jailbreak from not_relevant,
    # the other way round: whichever model decided a title shows in its label
    swap = {"poisoning": "membership_inference", "membership_inference": "poisoning",
            "jailbreak": "not_relevant", "not_relevant": "jailbreak"}
    swapped = [replace(e, label=swap.get(e.label, e.label)) for e in examples]
    spec_oof: dict = {}
    spec = build_model(ts, swapped, {"title": tvecs, "full": tvecs}, cfg, k=3, keep_oof=spec_oof)
    alone, alone_dir = main.model_version, main.save(tmp_path / "alone")
    main_titles = main.meta["metrics"]["titles"]
    with pytest.raises(ValueError, match="different titles papers"):  # out-of-fold labels of other papers
        attach_title_model(main, spec, delta, main_oof, {"titles": (["x"], ["x"], ["x"])})
    attach_title_model(main, spec, delta, main_oof, spec_oof)
    assert main.model_version not in (alone, spec.model_version)
    # the titles are scored as routed: the specialist's out-of-fold label unless the main model's is not_relevant
    _, y, main_hat = main_oof["titles"]
    routed = [m if m == "not_relevant" else t for m, t in zip(main_hat, spec_oof["titles"][2], strict=True)]
    assert routed != main_hat and routed != spec_oof["titles"][2]
    assert main.meta["metrics"]["titles"]["macro_f1"] == score(y, routed, [True] * len(y), load_taxonomy().type_ids)[
        "macro_f1"]
    assert main.meta["main_model_metrics"]["titles"] == main_titles
    assert main.meta["title_model_metrics"]["titles"] == spec.meta["metrics"]["titles"]
    folder = main.save(tmp_path / "model")
    loaded = ClassifierModel.load(folder)
    assert loaded.model_version == main.model_version and loaded.title_model is not None
    assert loaded.title_model.model_version == spec.model_version
    assert loaded.title_delta == folder / "title" / "encoder_delta.npz" and loaded.title_delta.exists()

    sc = replace(s, classifier_path=str(folder))
    with transaction(sc.db_path) as con:
        upsert_papers(con, _papers())  # three with an abstract, one title alone
    c1 = classify_pending(sc, progress=False)
    assert c1["classified"] == 4 and c1["encoded"] == 5  # every paper by the main model, the title by both
    with connect(sc.db_path, read_only=True) as con:
        preds = current_predictions(con)
        assert count_embeddings(con, encoder_model_key(s)) == 4
        assert count_embeddings(con, encoder_model_key(ts)) == 1
    assert {p.model_version for p in preds.values()} == {main.model_version}  # one version: none stale
    assert preds["2601.00004"].explanation["title_model"] == spec.model_version
    assert preds["2601.00004"].explanation["view"] == "title"
    assert preds["2601.00004"].explanation["decided_by"] == "title_model"
    assert "title_model" not in preds["2601.00001"].explanation
    # what the specialist itself says of that title, on its own vectors
    title = _papers()[3].title
    own = Predictor(spec, load_taxonomy(), sc.target_precision).predict(
        [("x", title, "", "")], encode_texts(ts, [paper_text(title)]))[0]
    assert preds["2601.00004"].type_scores == own.type_scores
    assert preds["2601.00004"].labels[0] == own.labels[0] == "membership_inference"  # the backdoor title, swapped
    c2 = classify_pending(sc, all_papers=True, progress=False)
    assert c2["classified"] == 4 and c2["encoded"] == 0 and c2["cached"] == 4  # both caches hit

    # eval routes the same way: a poisoning title the specialist (swapped) calls membership inference,
    # and a not_relevant one it calls jailbreak, where the main model's not_relevant stands
    f = tmp_path / "eval.jsonl"
    rows = [{"title": "Clean-label data poisoning of image classifiers", "attack": "membership_inference"},
            {"title": "A fast solver for sparse linear systems on GPUs", "attack": "not_relevant"}]
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert evaluate_file(sc, f)["accuracy"] == 1.0
    assert evaluate_file(replace(sc, classifier_path=str(alone_dir)), f)["accuracy"] == 0.5  # the main model alone
    alone_spec = replace(spec, title_model=None).save(tmp_path / "spec_alone")
    assert evaluate_file(replace(ts, db_path=sc.db_path, classifier_path=str(alone_spec)), f)["accuracy"] == 0.5

    (folder / "title" / "weights.npz").unlink()
    with pytest.raises(ClassifyError, match="weights.npz|title"):
        ClassifierModel.load(folder)
    main.title_model = None
    main.save(folder)  # saved without a specialist: the stale one's files go
    assert ClassifierModel.load(folder).title_model is None
    assert not (folder / "title" / "encoder_delta.npz").exists()


def test_secondary_labels_are_read_checked_and_can_train_the_type_heads(tmp_path: Path) -> None:
    """A labeller's secondary types (GUIDE.md) are read from label files (a wrong one names its
    line); with secondary_type_weight > 0 they join the type heads as down-weighted extra rows, so
    a border paper pulls its secondary type up; at 0 the heads are as without secondaries."""
    from aisec_radar.classify.training import DEFAULT_CONFIG, ExampleSet, fit_heads

    f = tmp_path / "l.jsonl"
    f.write_text('{"title": "Watermarking a model", "attack": "model_extraction", '
                 '"secondary": ["watermark_removal", "model_extraction"]}\n')
    (e,) = read_label_file(f, load_taxonomy())
    assert e.secondary == ("watermark_removal",)  # the primary is not its own secondary
    f.write_text('{"title": "x", "attack": "poisoning"}\n{"title": "y", "attack": "poisoning", "secondary": ["bad"]}\n')
    with pytest.raises(InputError, match=r"l.jsonl:2: 'secondary' must be a list of labels"):
        read_label_file(f, load_taxonomy())

    rng = np.random.default_rng(5)
    types = ("poisoning", "jailbreak", "model_extraction")
    labels = ["poisoning", "jailbreak", "model_extraction"] * 10
    ex = [Example(f"p{i}", f"t{i}", "abstract", lab, source="hand") for i, lab in enumerate(labels)]
    # every model_extraction paper is also, secondarily, poisoning
    ex = [replace(x, secondary=("poisoning",)) if x.label == "model_extraction" else x for x in ex]
    centre = {"poisoning": 0, "jailbreak": 1, "model_extraction": 2}
    emb = np.zeros((len(ex), 6), np.float32)
    for i, x in enumerate(ex):
        emb[i, centre[x.label]] = 3.0
    emb += rng.normal(scale=0.5, size=emb.shape).astype(np.float32)
    es = ExampleSet(ex, {"title": emb, "full": emb}, {v: np.zeros((len(ex), 1), np.float32) for v in ("title", "full")},
                    bow_scale=0.0)
    assert DEFAULT_CONFIG["secondary_type_weight"] > 0  # shipped on (session 14)
    cfg = {**DEFAULT_CONFIG, "flat_weight": 0.0, "C_type": 1.0, "secondary_type_weight": 0.0}
    plain, soft = fit_heads(es, types, cfg), fit_heads(es, types, {**cfg, "secondary_type_weight": 0.5})
    probe = np.zeros((1, 7), np.float32)
    probe[0, 2] = 3.0  # a model_extraction paper
    p_plain = softmax(plain["type_full"].logits(probe))[0]
    p_soft = softmax(soft["type_full"].logits(probe))[0]
    assert p_soft[0] > p_plain[0] + 0.02  # poisoning, its secondary, gains
    assert np.argmax(p_soft) == 2  # the primary still wins
    bare = ExampleSet([replace(x, secondary=()) for x in ex], es.emb, es.cues, bow_scale=0.0)
    np.testing.assert_allclose(fit_heads(bare, types, {**cfg, "secondary_type_weight": 0.5})["type_full"].W,
                               plain["type_full"].W)  # weight 0 = no secondaries at all
