"""Fine-tuning the sentence encoder's top layers on the labels, shipped as a small delta.

Why: with the encoder frozen, the linear heads plateaued below the goals whatever we did to them
(docs/classifier.md, "What was tried"); the representation was the limit. Fine-tuning the whole
MiniLM on a 2-core CPU takes about an hour per run, but the lower layers can stay frozen: their
output for every training text is computed once and kept in memory, and each training step runs
only the top ``layers`` transformer layers (2 of 6: about a third of a forward pass). The loss is
the flat eleven-class softmax (nine types + other_aisec + not_relevant), on the title + abstract
and, at a lower weight, on the title alone, so both views of the heads gain. An optional supervised
contrastive term (``supcon_weight``) lifts titles but costs the stream's types (sessions 12-13), so
the main model's delta is trained without it and only the titles-only specialist's delta with it
(docs/classifier.md).

The result is an ``EncoderDelta``: what training changed in those layers, stored as differences from
the base model, each weight matrix's as a rank-``rank`` factorisation (truncated SVD; the change is
nearly low-rank: at rank 64 the sentence vectors match the full change at cosine 0.9999), in float16
plus JSON metadata, no pickle: ~1.7 MB for two layers instead of ~7 MB. ``materialise`` writes
base model + delta as an ordinary sentence-transformer folder in the user cache, once, so every
backend (torch, ONNX export, hybrid) and the embedding cache key treat the fine-tuned encoder as
just another model folder.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aisec_radar.errors import ClassifyError

if TYPE_CHECKING:
    from aisec_radar.classify.data import Example
    from aisec_radar.config import Settings

log = logging.getLogger(__name__)

DELTA_NAME = "encoder_delta.npz"
META_KEY = "__meta__"
# how a stored array relates to the base model's parameter <name>: "<name>" replaces it (deltas of
# session 3), "<name>::d" is added to it, "<name>::u" @ "<name>::v" is added to it (a low-rank change)
DIFF, LEFT, RIGHT = "::d", "::u", "::v"
FINETUNE_DEFAULTS: dict[str, Any] = {
    # measured by nested 5-fold CV (bench/finetune_cv.py; docs/classifier.md)
    "layers": 2,  # top transformer layers trained; the rest stay frozen and cached
    "epochs": 2.0,
    "lr": 5e-5,  # the layers' learning rate (AdamW, linear decay to 0)
    "head_lr": 1e-3,  # the throw-away softmax head, started at the class centroids
    "batch_size": 16,
    "title_weight": 0.5,  # a paper's title alone, next to its title + abstract
    "max_length": 256,  # the model's own max_seq_length
    "seed": 0,
    "rank": 64,  # stored rank of each weight matrix's change (0 = the full change)
    # a supervised contrastive term (SupCon) beside the softmax: each item of the nine types is pulled
    # toward the batch's other items of its class; 0 = off (the main delta; the specialist's: 0.5)
    "supcon_weight": 0.0,
    "supcon_temperature": 0.1,
    "supcon_views": "all",  # "title": only the title-alone texts are anchors (the view it is meant for)
    # >0: the term reads a throw-away projection (Linear-ReLU-Linear to this width) of the sentence
    # vector, not the vector itself (the SimCLR recipe), so the classifier's space is pulled less
    "supcon_projection": 0,
}
_LOCK = threading.Lock()


@dataclass
class EncoderDelta:
    """Changes to some of the base model's parameters, by state-dict name (see DIFF, LEFT, RIGHT)."""

    tensors: dict[str, np.ndarray]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        """Content hash of the weights: names the materialised folder and the embedding cache key."""
        h = hashlib.sha256()
        for name in sorted(self.tensors):
            a = np.ascontiguousarray(self.tensors[name], dtype=np.float16)  # as stored on disk
            h.update(f"{name}:{a.shape}\n".encode())
            h.update(a.tobytes())
        return h.hexdigest()[:12]

    def save(self, path: Path) -> Path:
        """Write atomically: a reader never sees half a delta."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        meta = {**self.meta, "digest": self.digest}
        np.savez_compressed(buf, **{META_KEY: np.array(json.dumps(meta, sort_keys=True))},
                            **{k: v.astype(np.float16) for k, v in self.tensors.items()})
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(buf.getvalue())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        return path

    def changes(self, where: str = "") -> dict[str, tuple[str, np.ndarray]]:
        """Per changed parameter: ("set", new value) or ("add", difference), low-rank factors multiplied
        out. A factor without its partner or factors that do not multiply is an error naming `where`."""
        out: dict[str, tuple[str, np.ndarray]] = {}
        for name, a in self.tensors.items():
            if name.endswith(DIFF):
                out[name.rsplit("::", 1)[0]] = ("add", a.astype(np.float32))
            elif name.endswith((LEFT, RIGHT)):
                param = name.rsplit("::", 1)[0]
                left, right = self.tensors.get(param + LEFT), self.tensors.get(param + RIGHT)
                if left is None or right is None:
                    missing = LEFT if left is None else RIGHT
                    raise ClassifyError(f"encoder delta {where}: '{name}' has no '{missing}' partner")
                if left.ndim != 2 or right.ndim != 2 or left.shape[1] != right.shape[0]:
                    raise ClassifyError(f"encoder delta {where}: factors of '{param}' have shapes "
                                        f"{tuple(left.shape)} and {tuple(right.shape)}")
                if param not in out:
                    out[param] = ("add", left.astype(np.float32) @ right.astype(np.float32))
            else:  # a full new value (the deltas of session 3)
                out[name] = ("set", a.astype(np.float32))
        return out

    def parameters(self, where: str = "") -> dict[str, tuple[int, ...]]:
        """The base model's parameters this delta changes, with their shapes."""
        return {name: tuple(a.shape) for name, (_, a) in self.changes(where).items()}

    def weights(self, base: dict[str, np.ndarray], where: str = "") -> dict[str, np.ndarray]:
        """The new values of the changed parameters, given the base model's (name → array).

        A parameter the base lacks or a shape that does not fit is an error: a delta made for another
        base model must not half-apply."""
        out: dict[str, np.ndarray] = {}
        for param, (how, change) in self.changes(where).items():
            if param not in base:
                raise ClassifyError(f"encoder delta {where}: parameter '{param}' is not in the base model")
            b = np.asarray(base[param], dtype=np.float32)
            if change.shape != b.shape:
                raise ClassifyError(f"encoder delta {where}: parameter '{param}' has shape {tuple(change.shape)}, "
                                    f"the base model {tuple(b.shape)}")
            out[param] = change if how == "set" else b + change
        return out

    @classmethod
    def load(cls, path: Path) -> EncoderDelta:
        path = Path(path)
        if not path.exists():
            raise ClassifyError(f"encoder delta {path} does not exist (setting encoder_finetune)")
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z[META_KEY]))
                tensors = {k: z[k].astype(np.float32) for k in z.files if k != META_KEY}
        except Exception as exc:  # noqa: BLE001 - any read failure is a broken file
            raise ClassifyError(f"encoder delta {path} is not a readable delta file: {exc}") from exc
        if not tensors:
            raise ClassifyError(f"encoder delta {path} holds no weights")
        return cls(tensors, meta)


def shipped_delta_path() -> Path:
    return Path(__file__).parent / "model" / DELTA_NAME


def delta_path(settings: Settings) -> Path | None:
    """The delta these settings select: 'shipped' (the package's, when it has one), 'none', or a file."""
    return _chosen_delta(settings.encoder_finetune, shipped_delta_path(), "encoder_finetune")


def shipped_title_delta_path() -> Path:
    from aisec_radar.classify.model import TITLE_DIR

    return Path(__file__).parent / "model" / TITLE_DIR / DELTA_NAME


def title_delta_path(settings: Settings) -> Path | None:
    """The delta of the titles-only specialist `train` builds (setting title_encoder_finetune), or None."""
    return _chosen_delta(settings.title_encoder_finetune, shipped_title_delta_path(), "title_encoder_finetune")


def _chosen_delta(value: str, shipped: Path, setting: str) -> Path | None:
    v = (value or "none").strip()
    if v == "none":
        return None
    if v == "shipped":
        return shipped if shipped.exists() else None
    p = Path(v)
    if not p.exists():
        raise ClassifyError(f"encoder delta {p} (setting {setting}) does not exist; "
                            "use 'shipped', 'none' or the path of a file written by `aisec-radar finetune-encoder`")
    return p


_DIGESTS: dict[tuple[str, int, int], str] = {}


def delta_digest(path: Path) -> str:
    """The delta's weight digest, read once per file version (the cache key asks for it often)."""
    st = Path(path).stat()
    key = (str(Path(path).resolve()), st.st_mtime_ns, st.st_size)
    if key not in _DIGESTS:
        _DIGESTS[key] = EncoderDelta.load(Path(path)).digest
    return _DIGESTS[key]


def encoders_cache_root() -> Path:
    """~/.cache/aisec-radar/encoders; AISEC_RADAR_ENCODER_CACHE overrides."""
    from aisec_radar.classify.onnx_backend import user_cache_dir

    return user_cache_dir("encoders", "AISEC_RADAR_ENCODER_CACHE")


def _load_base(base_path: str) -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(base_path, device="cpu")
    except Exception as exc:  # noqa: BLE001 - any load failure is a broken model folder
        raise ClassifyError(f"cannot load sentence-transformer from {base_path}: {exc}") from exc


def apply_delta(st: Any, delta: EncoderDelta, where: str = "") -> None:
    """Set the model's parameters that the delta changes (checked against the model first)."""
    import torch

    sd = st[0].auto_model.state_dict()
    new = delta.weights({k: v.numpy() for k, v in sd.items()}, where)
    with torch.no_grad():
        for name, arr in new.items():
            sd[name].copy_(torch.from_numpy(arr))


def low_rank_delta(base: dict[str, np.ndarray], trained: dict[str, np.ndarray], rank: int,
                   meta: dict[str, Any] | None = None) -> EncoderDelta:
    """The change from `base` to `trained` as differences; each matrix's as a rank-`rank` truncated SVD
    (rank 0: in full). Factors are split √s·U, √s·Vᵀ so both stay in float16's range."""
    tensors: dict[str, np.ndarray] = {}
    for name, t in trained.items():
        change = np.asarray(t, np.float32) - np.asarray(base[name], np.float32)
        if change.ndim == 2 and 0 < rank and rank * sum(change.shape) < change.size:  # factors are smaller
            u, sv, vt = np.linalg.svd(change.astype(np.float64), full_matrices=False)
            root = np.sqrt(sv[:rank])
            tensors[name + LEFT] = (u[:, :rank] * root).astype(np.float16)
            tensors[name + RIGHT] = (root[:, None] * vt[:rank]).astype(np.float16)
        else:
            tensors[name + DIFF] = change.astype(np.float16)
    return EncoderDelta(tensors, {**(meta or {}), "format": 2, "rank": int(rank)})


def materialise(base_path: str, path: Path) -> Path:
    """A sentence-transformer folder = base model + delta, written once into the user cache.

    Called on every encode (through resolve_model_path): the digest is cached per file version, and
    the weights are read only when the folder has to be written."""
    final = encoders_cache_root() / f"{Path(base_path).name}+ft-{delta_digest(path)}"
    done = final / ".complete"
    if done.exists():
        return final
    with _LOCK:
        if done.exists():
            return final
        delta = EncoderDelta.load(path)
        st = _load_base(base_path)
        apply_delta(st, delta, str(path))
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=final.name + ".", dir=final.parent))
        try:
            st.save(str(tmp))
            (tmp / ".complete").write_text(json.dumps({"delta": str(path), "digest": delta.digest}))
            if final.exists():  # an earlier, interrupted attempt
                shutil.rmtree(final, ignore_errors=True)
            os.replace(tmp, final)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if done.exists():  # another process won the race
                return final
            raise ClassifyError(f"cannot write the fine-tuned encoder folder {final}: {exc}") from exc
        log.info("fine-tuned encoder %s written to %s", delta.digest, final)
    return final


# --- training -----------------------------------------------------------------------------------


class TopLayerTrainer:
    """The frozen part of the encoder run once per text; the top layers trained and run from there."""

    def __init__(self, base_path: str, texts: list[str], layers: int, max_length: int = 256,
                 progress: bool = False) -> None:
        import copy

        import torch

        self.st = _load_base(base_path)
        self.bert = self.st[0].auto_model.eval()
        n_layers = len(self.bert.encoder.layer)
        if not 1 <= layers <= n_layers:
            raise ClassifyError(f"layers must be between 1 and {n_layers}, got {layers}")
        self.first = n_layers - layers
        self.top0 = [copy.deepcopy(self.bert.encoder.layer[i]) for i in range(self.first, n_layers)]
        self.texts = list(texts)
        self._base_vecs: np.ndarray | None = None  # the untouched layers' vectors, for every training run
        tok = self.st.tokenizer
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        self.states: list[Any] = [None] * len(texts)
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(texts), desc="frozen layers", unit="text")
        with torch.no_grad():
            for s in range(0, len(order), 64):
                idx = order[s:s + 64]
                b = tok([texts[i] for i in idx], padding=True, truncation=True, max_length=max_length,
                        return_tensors="pt")
                hs = self.bert(**b, output_hidden_states=True).hidden_states[self.first]
                for j, i in enumerate(idx):
                    n = int(b["attention_mask"][j].sum())
                    self.states[i] = hs[j, :n].to(torch.float16).clone()
                if bar is not None:
                    bar.update(len(idx))
        if bar is not None:
            bar.close()

    def run(self, layers: list[Any], idx: list[int]) -> Any:
        """Mean-pooled, L2-normalised sentence vectors of texts `idx` through `layers` (the model's own pooling)."""
        import torch
        from transformers.masking_utils import create_bidirectional_mask

        hs = [self.states[i].float() for i in idx]
        width = max(h.shape[0] for h in hs)
        x = torch.zeros(len(hs), width, hs[0].shape[1])
        m = torch.zeros(len(hs), width, dtype=torch.long)
        for j, h in enumerate(hs):
            x[j, :h.shape[0]] = h
            m[j, :h.shape[0]] = 1
        am = create_bidirectional_mask(config=self.bert.config, inputs_embeds=x, attention_mask=m)
        for layer in layers:
            x = layer(x, attention_mask=am)
            if isinstance(x, tuple):
                x = x[0]
        mf = m.unsqueeze(-1).float()
        return torch.nn.functional.normalize((x * mf).sum(1) / mf.sum(1), dim=-1)

    def encode(self, layers: list[Any] | None = None) -> np.ndarray:
        """Vectors of every text through `layers` (default: the untouched base layers)."""
        import torch

        layers = layers or self.top0
        out = np.zeros((len(self.texts), self.bert.config.hidden_size), np.float32)
        with torch.no_grad():
            for s in range(0, len(self.texts), 128):
                idx = list(range(s, min(s + 128, len(self.texts))))
                out[idx] = self.run(layers, idx).numpy()
        return out

    def train(self, items: list[tuple[int, int, float]], n_classes: int, cfg: dict[str, Any],
              progress: bool = False, anchors: set[int] | None = None) -> list[Any]:
        """Fine-tune copies of the top layers on (text index, class, weight) items; the originals stay.

        `anchors`: the text indices the contrastive term may use as anchors (None = all; see
        `supcon_anchors`)."""
        import copy

        import torch

        from aisec_radar.classify.model import FLAT_EXTRA

        torch.manual_seed(int(cfg["seed"]))
        layers = [copy.deepcopy(layer).train() for layer in self.top0]
        head = torch.nn.Linear(self.bert.config.hidden_size, n_classes)
        if self._base_vecs is None:
            self._base_vecs = self.encode()
        base = torch.from_numpy(self._base_vecs)
        ys = torch.tensor([y for _, y, _ in items])
        with torch.no_grad():  # start the head at the (scaled) class centroids: no cold, noisy first epoch
            vecs = base[[i for i, _, _ in items]]
            for c in range(n_classes):
                if (ys == c).any():
                    head.weight[c] = torch.nn.functional.normalize(vecs[ys == c].mean(0), dim=0) * 20.0
            head.bias.zero_()
        proj = supcon_projection(self.bert.config.hidden_size, int(cfg.get("supcon_projection", 0)))
        fresh = list(head.parameters()) + ([] if proj is None else list(proj.parameters()))
        opt = torch.optim.AdamW([{"params": [p for la in layers for p in la.parameters()], "lr": float(cfg["lr"])},
                                 {"params": fresh, "lr": float(cfg["head_lr"])}],
                                weight_decay=0.01)
        bs = int(cfg["batch_size"])
        steps = int(np.ceil(len(items) / bs) * float(cfg["epochs"]))
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, 1.0 - s / max(steps, 1)))
        rng = np.random.default_rng(int(cfg["seed"]))
        bar = None
        if progress and steps:
            from tqdm import tqdm

            bar = tqdm(total=steps, desc="fine-tuning", unit="batch")
        step = 0
        sc_weight = float(cfg.get("supcon_weight", 0.0))
        n_types = n_classes - len(FLAT_EXTRA)  # the classes are the nine types, then other_aisec, not_relevant
        while step < steps:
            perm = rng.permutation(len(items))
            batches: list[list[int]] = []
            for c in range(0, len(perm), bs * 50):  # batches of similar length: less padding
                chunk = sorted(perm[c:c + bs * 50], key=lambda j: self.states[items[j][0]].shape[0])
                batches += [chunk[i:i + bs] for i in range(0, len(chunk), bs)]
            rng.shuffle(batches)  # type: ignore[arg-type]
            for bt in batches:
                if step >= steps:
                    break
                v = self.run(layers, [items[j][0] for j in bt])
                z = head(v)
                y = torch.tensor([items[j][1] for j in bt])
                w = torch.tensor([items[j][2] for j in bt], dtype=torch.float32)
                loss = (torch.nn.functional.cross_entropy(z, y, reduction="none") * w).sum() / w.sum()
                if sc_weight > 0:
                    mask = None if anchors is None else torch.tensor([items[j][0] in anchors for j in bt])
                    u = v if proj is None else torch.nn.functional.normalize(proj(v), dim=-1)
                    loss = loss + sc_weight * supcon_loss(u, y, n_types, float(cfg["supcon_temperature"]), mask)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                step += 1
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{float(loss.detach()):.3f}")
        if bar is not None:
            bar.close()
        for la in layers:
            la.eval()
        return layers

    def _state(self, layers: list[Any]) -> dict[str, np.ndarray]:
        return {f"encoder.layer.{self.first + k}.{name}": p.detach().numpy().copy()
                for k, layer in enumerate(layers) for name, p in layer.state_dict().items()}

    def delta(self, layers: list[Any], meta: dict[str, Any], rank: int = 0) -> EncoderDelta:
        """The trained layers' change from the base model, as state-dict entries of the full model."""
        return low_rank_delta(self._state(self.top0), self._state(layers), rank, meta)

    def layers_of(self, delta: EncoderDelta) -> list[Any]:
        """Copies of the top layers as the stored delta makes them (rank-truncated, float16), so what
        is measured is what ships."""
        import copy

        import torch

        new = delta.weights(self._state(self.top0))
        layers = [copy.deepcopy(layer) for layer in self.top0]
        with torch.no_grad():
            for k, layer in enumerate(layers):
                for name, p in layer.state_dict().items():
                    full = f"encoder.layer.{self.first + k}.{name}"
                    if full in new:
                        p.copy_(torch.from_numpy(new[full]))
        return layers


def supcon_projection(width: int, out: int) -> Any:
    """The throw-away projection the contrastive term reads when ``supcon_projection`` > 0 (None when 0).

    Why: in SimCLR (Chen et al. 2020) the loss pulls a projection together, and the layers below keep
    what the projection discards; here that is what the full-text view needs and titles do not."""
    import torch

    if out < 0:
        raise ClassifyError(f"supcon_projection must be 0 (off) or a width, got {out}")
    if out == 0:
        return None
    return torch.nn.Sequential(torch.nn.Linear(width, width), torch.nn.ReLU(), torch.nn.Linear(width, out))


def supcon_loss(v: Any, y: Any, n_anchor_classes: int, temperature: float, eligible: Any = None) -> Any:
    """Supervised contrastive loss (Khosla et al. 2020) over L2-normalised vectors `v` of one batch.

    Why: the softmax only asks each class to be linearly separable; short titles land near their
    class's other titles only loosely, and the titles-only view reads them by a linear head and a
    neighbour vote. Anchors are the items of the first `n_anchor_classes` classes (the nine types):
    other_aisec and not_relevant are heterogeneous by definition, so they serve as negatives only and
    are never pulled together. `eligible` (a boolean mask) narrows the anchors further, e.g. to titles;
    every item still serves as a positive or a negative. Anchors without a positive are skipped."""
    import torch

    sim = v @ v.T / temperature
    n = v.shape[0]
    eye = torch.eye(n, dtype=torch.bool)
    sim = sim.masked_fill(eye, float("-inf"))
    log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)
    pos = (y.unsqueeze(0) == y.unsqueeze(1)) & ~eye
    anchors = (y < n_anchor_classes) & pos.any(1)
    if eligible is not None:
        anchors = anchors & eligible
    if not bool(anchors.any()):
        return v.sum() * 0.0
    per = (log_prob.masked_fill(~pos, 0.0).sum(1) / pos.sum(1).clamp(min=1))[anchors]
    return -per.mean()


def training_items(examples: list[Example], classes: list[str], text_index: dict[str, int],
                   title_weight: float) -> list[tuple[int, int, float]]:
    """(text, class, weight): a paper with an abstract counts as its full text and, lighter, its title."""
    from aisec_radar.classify.encoder import paper_text

    items: list[tuple[int, int, float]] = []
    for e in examples:
        if e.label not in classes or e.weight <= 0:  # a zero-weight batch would divide by zero
            continue
        if e.source == "pseudo":  # the encoder learns from human labels only (its own would echo)
            continue
        y = classes.index(e.label)
        w = float(e.weight)
        items.append((text_index[paper_text(e.title, e.abstract)], y, w))
        if e.has_abstract and title_weight > 0:
            items.append((text_index[paper_text(e.title)], y, w * title_weight))
    return items


def supcon_anchors(examples: list[Example], text_index: dict[str, int], cfg: dict[str, Any]) -> set[int] | None:
    """The texts the contrastive term may anchor on: all (None), or with supcon_views "title" the
    title-alone texts only, so the full view keeps the softmax's geometry."""
    from aisec_radar.classify.encoder import paper_text

    views = cfg.get("supcon_views", "all")
    if views == "all":
        return None
    if views != "title":
        raise ClassifyError(f"supcon_views must be 'all' or 'title', got {views!r}")
    return {text_index[paper_text(e.title)] for e in examples}  # example_texts holds every title


def example_texts(examples: list[Example]) -> list[str]:
    """Every distinct text the examples are encoded as (title alone and title + abstract), sorted."""
    from aisec_radar.classify.encoder import paper_text

    return sorted({paper_text(e.title) for e in examples} | {paper_text(e.title, e.abstract) for e in examples},
                  key=lambda t: (len(t), t))


def finetune_encoder(settings: Settings, label_files: list[Path], corpus_path: Path | None, out: Path,
                     cfg: dict[str, Any] | None = None, progress: bool = True) -> EncoderDelta:
    """Train the top layers on every label (as `train` assembles them) and write the delta to `out`."""
    from dataclasses import replace
    from datetime import UTC, datetime

    from aisec_radar.classify.builder import assemble
    from aisec_radar.classify.encoder import resolve_base_path
    from aisec_radar.classify.model import FLAT_EXTRA
    from aisec_radar.taxonomy import load_taxonomy

    cfg = {**FINETUNE_DEFAULTS, **(cfg or {})}
    base_settings = replace(settings, encoder_finetune="none")
    # human labels only: the model's own pseudo titles would echo its errors into the representation
    examples, summary = assemble(base_settings, label_files, corpus_path, pseudo=False)
    classes = [*load_taxonomy(settings.taxonomy_path or None).type_ids, *FLAT_EXTRA]
    texts = example_texts(examples)
    index = {t: i for i, t in enumerate(texts)}
    base = resolve_base_path(settings)
    log.info("fine-tuning the top %d layers on %d examples (%d distinct texts)", cfg["layers"], len(examples),
             len(texts))
    trainer = TopLayerTrainer(base, texts, int(cfg["layers"]), int(cfg["max_length"]), progress)
    items = training_items(examples, classes, index, float(cfg["title_weight"]))
    layers = trainer.train(items, len(classes), cfg, progress, supcon_anchors(examples, index, cfg))
    meta = {"base": Path(base).name, "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "config": cfg, "classes": classes, "training_data": summary, "items": len(items),
            "label_files": [Path(p).name for p in label_files]}
    delta = trainer.delta(layers, meta, int(cfg["rank"]))
    delta.save(out)
    return delta
