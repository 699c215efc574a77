"""Encoder fine-tuning: top layers trained from cached frozen states, the delta file, its
materialised model folder, the cache key, and clear errors for a broken or foreign delta."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from aisec_radar.classify import encoder as E
from aisec_radar.classify.finetune import (
    EncoderDelta,
    TopLayerTrainer,
    delta_path,
    example_texts,
    low_rank_delta,
    materialise,
    supcon_anchors,
    supcon_loss,
)
from aisec_radar.config import Settings
from aisec_radar.errors import ClassifyError

TEXTS = [
    "Backdoor attacks on image classifiers through poisoned training data",
    "Data poisoning of federated learning clients",
    "Membership inference against large language models",
    "Inferring training set membership from model confidence",
    "Graph neural networks for traffic forecasting",
    "A new optimiser for deep learning on tabular data",
]
LABELS = [0, 0, 1, 1, 2, 2]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[TopLayerTrainer, list, Path]:
    trainer = TopLayerTrainer(E.resolve_base_path(Settings()), TEXTS, layers=1)
    cfg = {"seed": 0, "lr": 1e-3, "head_lr": 1e-2, "batch_size": 4, "epochs": 6.0}
    layers = trainer.train([(i, y, 1.0) for i, y in enumerate(LABELS)], 3, cfg)
    path = tmp_path_factory.mktemp("delta") / "delta.npz"
    trainer.delta(layers, {"config": {"layers": 1}}, rank=32).save(path)
    return trainer, layers, path


def test_cached_frozen_states_reproduce_the_model(trained: tuple) -> None:
    trainer, _, _ = trained
    ref = E.encode_texts(replace(Settings(), encoder_finetune="none"), TEXTS)
    assert np.allclose(trainer.encode(), ref, atol=2e-3)  # float16 states, same vectors


def test_training_moves_the_top_layer_only_and_pulls_classes_together(trained: tuple) -> None:
    trainer, layers, path = trained
    before, after = trainer.encode(), trainer.encode(layers)
    assert not np.allclose(before, after, atol=1e-3)

    def margin(v: np.ndarray) -> float:  # same-class cosine minus other-class cosine
        s = v @ v.T
        same = [s[i, j] for i in range(6) for j in range(6) if i != j and LABELS[i] == LABELS[j]]
        other = [s[i, j] for i in range(6) for j in range(6) if LABELS[i] != LABELS[j]]
        return float(np.mean(same) - np.mean(other))

    assert margin(after) > margin(before)
    delta = EncoderDelta.load(path)
    assert delta.tensors and all(k.startswith("encoder.layer.5.") for k in delta.tensors)


def test_supcon_loss_known_answer_and_anchors() -> None:
    import math

    import torch

    v = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], requires_grad=True)
    y = torch.tensor([0, 0, 1])
    # anchors 0 and 1 each: positive at cosine 1, the negative at 0, temperature 1
    loss = supcon_loss(v, y, 1, 1.0)
    assert float(loss) == pytest.approx(math.log(1 + math.e) - 1, abs=1e-6)
    loss.backward()
    assert v.grad is not None and torch.isfinite(v.grad).all()
    # pulling the positive away raises the loss; classes past the anchor classes are never anchors
    far = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    assert float(supcon_loss(far, y, 1, 1.0)) > float(loss)
    assert float(supcon_loss(v.detach(), torch.tensor([1, 1, 1]), 1, 1.0)) == 0.0
    assert float(supcon_loss(v.detach(), torch.tensor([1, 1, 1]), 2, 1.0)) > 0.0
    # a mask narrows the anchors: anchor 0 alone has the same term as the pair (symmetric), none gives 0
    only0 = torch.tensor([True, False, False])
    assert float(supcon_loss(v.detach(), y, 1, 1.0, only0)) == pytest.approx(float(loss), abs=1e-6)
    assert float(supcon_loss(v.detach(), y, 1, 1.0, torch.zeros(3, dtype=torch.bool))) == 0.0


def test_supcon_title_view_anchors_only_titles() -> None:
    from aisec_radar.classify.data import Example

    ex = [Example(None, "Backdoors in code models", "We poison training data.", "poisoning"),
          Example(None, "Stealing a model through its API", "", "model_extraction")]
    texts = example_texts(ex)
    index = {t: i for i, t in enumerate(texts)}
    assert supcon_anchors(ex, index, {"supcon_views": "all"}) is None
    title = supcon_anchors(ex, index, {"supcon_views": "title"})
    assert {texts[i] for i in title} == {"Backdoors in code models", "Stealing a model through its API"}
    with pytest.raises(ClassifyError, match="supcon_views"):
        supcon_anchors(ex, index, {"supcon_views": "abstract"})


def test_supcon_term_changes_training(trained: tuple) -> None:
    trainer = trained[0]
    items = [(i, y, 1.0) for i, y in enumerate(LABELS)]
    cfg = {"seed": 0, "lr": 1e-3, "head_lr": 1e-2, "batch_size": 6, "epochs": 3.0, "supcon_temperature": 0.1}
    # 3 classes = 1 type + the two flat extras: only class 0's two items are anchors (one batch)
    plain = trainer.encode(trainer.train(items, 3, {**cfg, "supcon_weight": 0.0}))
    with_sc = trainer.encode(trainer.train(items, 3, {**cfg, "supcon_weight": 1.0}))
    assert not np.allclose(with_sc, plain, atol=1e-4)
    assert float(with_sc[0] @ with_sc[1]) > float(plain[0] @ plain[1])  # the anchors pulled together
    # through a throw-away projection (SimCLR): the term still trains the layers, but not as directly
    projected = trainer.encode(trainer.train(items, 3, {**cfg, "supcon_weight": 1.0, "supcon_projection": 8}))
    assert not np.allclose(projected, plain, atol=1e-4) and not np.allclose(projected, with_sc, atol=1e-4)
    with pytest.raises(ClassifyError, match="supcon_projection"):
        trainer.train(items, 3, {**cfg, "supcon_weight": 1.0, "supcon_projection": -1})


def test_low_rank_delta_keeps_the_change_and_is_smaller(trained: tuple, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    base = {"w": rng.normal(size=(40, 30)).astype(np.float32), "b": rng.normal(size=30).astype(np.float32)}
    change = (rng.normal(size=(40, 2)) @ rng.normal(size=(2, 30)) * 0.01).astype(np.float32)  # rank 2
    trained_w = {"w": base["w"] + change, "b": base["b"] + 0.001}
    d = low_rank_delta(base, trained_w, rank=4)
    assert set(d.tensors) == {"w::u", "w::v", "b::d"} and d.tensors["w::u"].shape == (40, 4)
    new = d.weights(base)
    assert np.allclose(new["w"], trained_w["w"], atol=1e-4) and np.allclose(new["b"], trained_w["b"], atol=1e-5)
    assert d.parameters() == {"w": (40, 30), "b": (30,)}
    truncated = low_rank_delta(base, trained_w, rank=1).weights(base)["w"]  # loses part of a rank-2 change
    assert not np.allclose(truncated, trained_w["w"], atol=1e-4)
    with pytest.raises(ClassifyError, match="'w::u' has no '::v' partner"):
        EncoderDelta({"w::u": d.tensors["w::u"]}).weights(base)
    # on the trained layer: rank 32 stores far fewer numbers and gives (nearly) the full change's vectors
    trainer, layers, path = trained
    full = trainer.delta(layers, {}, rank=0)
    small = EncoderDelta.load(path)
    assert sum(a.size for a in small.tensors.values()) < sum(a.size for a in full.tensors.values()) / 4
    assert small.parameters() == full.parameters()
    v_full, v_small = trainer.encode(trainer.layers_of(full)), trainer.encode(trainer.layers_of(small))
    assert np.allclose(v_full, trainer.encode(layers), atol=2e-3)  # float16 differences: as trained
    cos_small, cos_base = (v_full * v_small).sum(1), (v_full * trainer.encode()).sum(1)
    assert float(cos_small.min()) > 0.997 and (cos_small > cos_base).all()
    print("rank-32 vs full cosine", cos_small.round(5), "base vs full", cos_base.round(3))


def test_delta_roundtrip_and_materialised_folder(trained: tuple, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    trainer, layers, path = trained
    monkeypatch.setenv("AISEC_RADAR_ENCODER_CACHE", str(tmp_path / "enc"))
    d1, d2 = EncoderDelta.load(path), EncoderDelta.load(path)
    assert d1.digest == d2.digest and len(d1.digest) == 12
    folder = materialise(E.resolve_base_path(Settings()), path)
    assert folder.parent == tmp_path / "enc" and folder.name.endswith(d1.digest)
    stamp = (folder / ".complete").stat().st_mtime_ns
    assert materialise(E.resolve_base_path(Settings()), path) == folder  # written once
    assert (folder / ".complete").stat().st_mtime_ns == stamp
    # the folder is an ordinary sentence-transformer: the encoder loads it and gives the trained vectors
    s = replace(Settings(), encoder_finetune=str(path))
    assert E.resolve_model_path(s) == str(folder)
    got = E.encode_texts(s, TEXTS)
    assert np.allclose(got, trainer.encode(trainer.layers_of(d1)), atol=2e-3)  # what the stored delta makes


def test_cache_key_names_the_delta(trained: tuple) -> None:
    _, _, path = trained
    digest = EncoderDelta.load(path).digest
    assert E.encoder_model_key(replace(Settings(), encoder_finetune="none")) == "all-MiniLM-L6-v2@torch"
    key = E.encoder_model_key(replace(Settings(), encoder_finetune=str(path), encoder_backend="hybrid"))
    assert key == f"all-MiniLM-L6-v2+ft-{digest}@hybrid"
    assert delta_path(replace(Settings(), encoder_finetune="none")) is None


def test_broken_and_foreign_deltas_are_clear_errors(trained: tuple, tmp_path: Path) -> None:
    _, _, path = trained
    with pytest.raises(ClassifyError, match="nope.npz.*encoder_finetune"):
        delta_path(replace(Settings(), encoder_finetune=str(tmp_path / "nope.npz")))
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(ClassifyError, match="bad.npz.*not a readable delta"):
        EncoderDelta.load(bad)
    foreign = EncoderDelta({"encoder.layer.9.output.dense.weight": np.zeros((4, 4), np.float32)})
    foreign_path = foreign.save(tmp_path / "foreign.npz")
    with pytest.raises(ClassifyError, match="encoder.layer.9.output.dense.weight.*not in the base model"):
        materialise(E.resolve_base_path(Settings()), foreign_path)
    d = EncoderDelta.load(path)
    name = next(k for k in d.tensors if k.endswith("::d"))
    wrong = EncoderDelta({name: np.zeros((3, 3), np.float32)}).save(tmp_path / "shape.npz")
    with pytest.raises(ClassifyError, match="has shape"):
        materialise(E.resolve_base_path(Settings()), wrong)
    factor = next(k for k in d.tensors if k.endswith("::u"))
    unpaired = EncoderDelta({factor: d.tensors[factor]}).save(tmp_path / "unpaired.npz")
    with pytest.raises(ClassifyError, match="unpaired.npz.*no '::v' partner"):
        materialise(E.resolve_base_path(Settings()), unpaired)


def test_finetune_encoder_command_writes_a_loadable_delta(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aisec_radar.cli import app

    monkeypatch.delenv("AISEC_RADAR_CORPUS", raising=False)
    labels = tmp_path / "labels.jsonl"
    labels.write_text("\n".join(json.dumps({"title": t, "abstract": None,
                                            "attack": ["poisoning", "membership_inference", "not_relevant"][y]})
                                for t, y in zip(TEXTS, LABELS, strict=True)) + "\n")
    out = tmp_path / "d.npz"
    res = CliRunner().invoke(app, ["finetune-encoder", "--db", str(tmp_path / "x.duckdb"), "--labels", str(labels),
                                    "--out", str(out), "--layers", "1", "--epochs", "0.2", "--no-progress", "--json"])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.stdout)
    d = EncoderDelta.load(out)
    assert rep["digest"] == d.digest and rep["layers"] == 1 and rep["parameters"] > 1_000_000
    assert rep["rank"] == 64 and rep["stored"] < rep["parameters"] / 2 and rep["bytes"] == out.stat().st_size
    assert d.meta["training_data"]["file"] == len(TEXTS)
    missing = CliRunner().invoke(app, ["finetune-encoder", "--labels", str(tmp_path / "none.jsonl"),
                                        "--out", str(out)])
    assert missing.exit_code != 0 and "none.jsonl" in missing.output


def test_eval_refuses_a_classifier_trained_on_another_encoder(trained: tuple, tmp_path: Path) -> None:
    from aisec_radar.classify import evaluate_file

    _, _, path = trained
    f = tmp_path / "l.jsonl"
    f.write_text(json.dumps({"title": TEXTS[0], "attack": "poisoning"}) + "\n")
    with pytest.raises(ClassifyError, match="trained on encoder .*encoder_finetune"):
        evaluate_file(replace(Settings(), encoder_finetune=str(path)), f)
