"""Fixtures shared by every test module: where ../shared is, a fresh DuckDB file, corpus slices."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("AISEC_RADAR_SHARED", REPO.parent / "shared"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared, or skip: the repo must pass on a machine without it."""
    if not SHARED.is_dir():
        pytest.skip("../shared is not present on this machine")
    return SHARED


@pytest.fixture(scope="session")
def corpus_path(shared_dir: Path) -> Path:
    p = shared_dir / "arxiv" / "corpus.jsonl.gz"
    if not p.exists():
        pytest.skip("shared corpus not present")
    return p


@pytest.fixture(scope="session")
def corpus_records(corpus_path: Path) -> list[dict]:
    with gzip.open(corpus_path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A fresh, initialised DuckDB file."""
    from aisec_radar.store import init_db

    p = tmp_path / "test.duckdb"
    init_db(p)
    return p
