"""The classifier: relevance, attack type(s), role and modality of a paper; axes are derived.

Public API (heavy modules are imported on first use, so importing this package stays cheap):

- ``classify_pending(settings, all_papers=False, progress=True) -> dict[str, int]``
- ``train(settings, label_files=(), progress=True) -> TrainReport``
- ``evaluate_file(settings, path) -> dict``
- ``encode_texts(settings, texts, progress=False) -> numpy.ndarray`` (L2-normalised rows)
- ``encoder_model_key(settings) -> str`` (embedding-cache key: model and backend)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np

    from aisec_radar.classify.builder import TrainReport
    from aisec_radar.config import Settings

__all__ = ["TrainReport", "classify_pending", "encode_texts", "encoder_model_key", "evaluate_file", "train"]


def classify_pending(settings: Settings, all_papers: bool = False, progress: bool = True) -> dict[str, int]:
    """Classify new and stale papers (or all); returns counts incl. classified, auto, needs_review, encoded, cached."""
    from aisec_radar.classify.pipeline import classify_pending as _run

    return _run(settings, all_papers=all_papers, progress=progress)


def train(settings: Settings, label_files: list[Path] = (), progress: bool = True,  # type: ignore[assignment]
          **kwargs: Any) -> TrainReport:
    """Retrain from all labels; promote only if the cross-validated score is not worse."""
    from aisec_radar.classify.builder import train as _train

    return _train(settings, list(label_files), progress=progress, **kwargs)


def evaluate_file(settings: Settings, path: Path) -> dict:
    """Score the active model on a labelled JSON Lines file; needs no database."""
    from aisec_radar.classify.evaluate import evaluate_file as _eval

    return _eval(settings, path)


def encode_texts(settings: Settings, texts: list[str], progress: bool = False) -> np.ndarray:
    """L2-normalised embeddings of texts with the configured encoder and backend."""
    from aisec_radar.classify.encoder import encode_texts as _enc

    return _enc(settings, texts, progress=progress)


def encoder_model_key(settings: Settings) -> str:
    """Key of the embedding cache; differs per encoder model and backend."""
    from aisec_radar.classify.encoder import encoder_model_key as _key

    return _key(settings)


def __getattr__(name: str) -> Any:
    if name == "TrainReport":
        from aisec_radar.classify.builder import TrainReport

        return TrainReport
    raise AttributeError(name)
