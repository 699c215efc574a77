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


# --- crawler: a small corpus slice and the local arXiv stand-in ---------------------------------
CRAWLER_FIXTURES = REPO / "tests" / "fixtures" / "crawler"


@pytest.fixture(scope="session")
def corpus_slice_path(corpus_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """145 papers in the shared corpus's JSONL format: cs.CR / cs.LG (cross-lists included) plus 10
    papers of other categories (ids 2607.9xxxx) that a harvest must leave out.

    Built from ../shared's corpus by the id list in corpus_slice_spec.json (shared data stays out of
    the repo), so tests that use it skip where ../shared is absent.
    """
    spec = json.loads((CRAWLER_FIXTURES / "corpus_slice_spec.json").read_text(encoding="utf-8"))
    wanted = {e if isinstance(e, str) else e["from"] for e in spec["records"]}
    found: dict[str, dict] = {}
    with gzip.open(corpus_path, "rt", encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            if rec["id"] in wanted:
                found[rec["id"]] = rec
    keys = ("id", "version", "title", "abstract", "authors", "categories", "primary_category", "published",
            "updated", "listing_date")
    out = tmp_path_factory.mktemp("corpus_slice") / "corpus_slice.jsonl"
    with out.open("w", encoding="utf-8") as f:
        for e in spec["records"]:
            if isinstance(e, str):
                rec = {k: found[e].get(k) for k in keys}
            else:
                src = found[e["from"]]
                rec = {k: src.get(k) for k in keys}
                rec.update({k: v for k, v in e.items() if k != "from"})
                rec["title"] = spec["title_prefix"] + src["title"]
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return out


@pytest.fixture
def standin(corpus_slice_path: Path):
    """A local arXiv over real HTTP serving corpus_slice_path, 25 records per OAI page.

    Yields the base URL (a str): OAI-PMH at ``standin + "/oai"``, the API at ``standin + "/api/query"``;
    ``standin.server.stats`` counts requests. For faults or another corpus use
    ``aisec_radar.crawler.standin.run_standin`` directly.
    """
    from aisec_radar.crawler.standin import run_standin

    with run_standin(corpus_slice_path, page_size=25) as base:
        yield base


@pytest.fixture
def standin_settings(standin, db_path: Path):
    """Settings pointed at the stand-in and a fresh database, with delays off."""
    from aisec_radar.config import Settings

    return Settings(db_path=str(db_path), oai_base_url=standin + "/oai", api_base_url=standin + "/api/query",
                    crawl_delay=0.0, crawl_retries=3)
