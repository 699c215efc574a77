"""The ONNX encoder path on a tiny input: export into a temp cache, shapes, unit rows, agreement with torch."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from aisec_radar.classify import onnx_backend
from aisec_radar.errors import ClassifyError

TEXTS = [
    "Adversarial examples: small input perturbations that fool image classifiers.",
    "Membership inference attacks against large language models fine-tuned with differential privacy. " * 6,
    "Prompt injection in LLM agents with tool access",
    "A survey of graph neural networks for traffic forecasting.",
    "",
]


def test_model_hash_is_stable_and_content_based(tmp_path: Path) -> None:
    mp = onnx_backend.default_model_path()
    assert onnx_backend.model_hash(mp) == onnx_backend.model_hash(mp)
    # A folder without weights is reported by name, not as a crash deep in the exporter.
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ClassifyError, match="model.safetensors"):
        onnx_backend.model_hash(tmp_path)


def test_missing_model_folder_is_a_classify_error(tmp_path: Path) -> None:
    with pytest.raises(ClassifyError, match="does not exist"):
        onnx_backend.ensure_onnx_files(tmp_path / "nope", cache_dir=tmp_path / "cache")


def test_cache_root_honours_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AISEC_RADAR_ONNX_CACHE", str(tmp_path / "c"))
    assert onnx_backend.default_cache_root() == tmp_path / "c"


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One export per test run, into a temp folder: the test never depends on the user's cache."""
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def torch_embeddings() -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(onnx_backend.default_model_path()), device="cpu")
    return model.encode(TEXTS, batch_size=2, normalize_embeddings=True, convert_to_numpy=True)


@pytest.mark.slow
@pytest.mark.parametrize("quantized, min_cos", [(False, 0.999), (True, 0.95)])
def test_onnx_matches_torch(onnx_cache: Path, torch_embeddings: np.ndarray, quantized: bool,
                            min_cos: float) -> None:
    enc = onnx_backend.OnnxEncoder("", quantized=quantized, cache_dir=onnx_cache)
    assert enc.onnx_path.parent.parent == onnx_cache
    assert enc.onnx_path.exists()
    out = enc.encode(TEXTS, batch_size=2)  # batches of mixed length: padding must not leak into the mean
    assert out.shape == (len(TEXTS), 384)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    cos = (out * torch_embeddings).sum(axis=1)
    assert cos.min() > min_cos, cos
    assert cos.mean() > (0.99 if quantized else 0.9999), cos
    # Input order is kept although encoding runs longest-first. fp32 rows do not depend on the batch;
    # dynamic int8 quantises activations per batch, so its rows move slightly with the batch's contents.
    again = enc.encode(list(reversed(TEXTS)), batch_size=32)[::-1]
    if quantized:
        assert (again * out).sum(axis=1).min() > 0.95
    else:
        np.testing.assert_allclose(again, out, atol=1e-4)
    assert enc.encode([]).shape == (0, 384)
    assert enc.encode(TEXTS[0]).shape == (384,)
    # Second construction reuses the cached files instead of exporting again.
    mtime = os.path.getmtime(enc.onnx_path)
    enc2 = onnx_backend.OnnxEncoder("", quantized=quantized, cache_dir=onnx_cache)
    assert enc2.onnx_path == enc.onnx_path and os.path.getmtime(enc2.onnx_path) == mtime


@pytest.mark.slow
def test_hybrid_routes_short_texts_to_torch_and_long_ones_to_int8(
        onnx_cache: Path, torch_embeddings: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo's backend: exact torch vectors for titles, int8 for abstracts, rows in input order."""
    from dataclasses import replace

    from aisec_radar.classify import encoder
    from aisec_radar.config import Settings

    monkeypatch.setenv("AISEC_RADAR_ONNX_CACHE", str(onnx_cache))
    monkeypatch.setattr(encoder, "_ENCODERS", {})
    s = replace(Settings(), encoder_backend="hybrid", encoder_finetune="none")  # the plain model, as the fixture
    assert encoder.encoder_model_key(s) == "all-MiniLM-L6-v2@hybrid"
    short = [i for i, t in enumerate(TEXTS) if len(t) < encoder.HYBRID_SHORT_CHARS]
    long_ = [i for i, t in enumerate(TEXTS) if len(t) >= encoder.HYBRID_SHORT_CHARS]
    assert short and long_
    hybrid = encoder.get_encoder(s)
    hybrid.encode([TEXTS[i] for i in short])
    assert hybrid._long is None  # titles alone (the specialist's lot) never load the int8 model
    out = hybrid.encode(TEXTS, batch_size=2)
    assert out.shape == (len(TEXTS), 384) and hybrid._long is not None
    np.testing.assert_allclose(out[short], torch_embeddings[short], atol=1e-5)  # torch, unchanged
    cos = (out[long_] * torch_embeddings[long_]).sum(axis=1)
    assert cos.min() > 0.95 and not np.allclose(out[long_], torch_embeddings[long_], atol=1e-5)  # int8
    int8 = onnx_backend.OnnxEncoder("", quantized=True, cache_dir=onnx_cache).encode([TEXTS[i] for i in long_])
    np.testing.assert_allclose(out[long_], int8, atol=1e-5)
