"""Several processes share one DuckDB file: an ingestion writer and curators labelling at once.

DuckDB admits one writing process at a time, so this is the test that the lock discipline in
store/db.py (short transactions, retry with backoff) loses nothing.
"""

from __future__ import annotations

import multiprocessing as mp
from datetime import date
from pathlib import Path

import pytest

from aisec_radar.records import Label, Paper
from aisec_radar.store import connect, transaction
from aisec_radar.store.labels import add_label
from aisec_radar.store.papers import upsert_papers

N_CURATORS = 4
LABELS_EACH = 250  # 1,000 labels in total


def _ingest(path: str, batches: int, stop: mp.Event) -> None:
    for b in range(batches):
        papers = [Paper(arxiv_id=f"2602.{b:03d}{i:02d}", title=f"Paper {b}-{i}", abstract="x" * 500,
                        categories=["cs.LG"], primary_category="cs.LG", published=date(2026, 2, 1))
                  for i in range(50)]
        with transaction(path, timeout=120) as con:
            upsert_papers(con, papers)
        if stop.is_set():
            break


def _curate(path: str, who: int) -> None:
    for k in range(LABELS_EACH):
        with transaction(path, timeout=120) as con:
            add_label(con, Label(arxiv_id=f"2601.{k:05d}", types=["jailbreak"], curator=f"curator{who}",
                                 note=f"{who}-{k}", source="test"))


@pytest.mark.slow
def _read(path: str, stop: mp.Event) -> None:
    """A dashboard-like reader: opens, counts, closes, again and again."""
    while not stop.is_set():
        with connect(path, read_only=True, timeout=120) as con:
            con.execute("SELECT count(*) FROM labels").fetchone()


def test_writer_and_curators_lose_no_label(db_path: Path) -> None:
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    writer = ctx.Process(target=_ingest, args=(str(db_path), 40, stop))
    curators = [ctx.Process(target=_curate, args=(str(db_path), w)) for w in range(N_CURATORS)]
    reader = ctx.Process(target=_read, args=(str(db_path), stop))
    writer.start()
    reader.start()
    for c in curators:
        c.start()
    for c in curators:
        c.join(timeout=600)
    stop.set()
    writer.join(timeout=600)
    reader.join(timeout=600)
    assert all(c.exitcode == 0 for c in curators), [c.exitcode for c in curators]
    assert writer.exitcode == 0 and reader.exitcode == 0
    with connect(db_path, read_only=True) as con:
        n_labels, n_distinct = con.execute("SELECT count(*), count(DISTINCT note) FROM labels").fetchone()
        n_papers = con.execute("SELECT count(*) FROM papers").fetchone()[0]
    assert n_labels == N_CURATORS * LABELS_EACH
    assert n_distinct == N_CURATORS * LABELS_EACH
    assert n_papers > 0 and n_papers % 50 == 0  # the writer's batches landed whole
