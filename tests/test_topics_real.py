"""Discovery with the real encoder on real corpus papers: a theme outside the nine types is found.

Prompt-injection papers (other_aisec in our guide: no type names them) are streamed in over three
months among unrelated AI-security and ML papers; the candidate appears, grows and keeps its id,
and its phrases name it. Dates are assigned by the test (the stream story), texts are the corpus's.
Discovery reads its default encoder (setting topics_encoder = "base": the plain model, not the
classifier's fine-tune).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from aisec_radar.config import Settings
from aisec_radar.records import Label, Paper
from aisec_radar.store import connect, transaction
from aisec_radar.store.labels import add_label
from aisec_radar.store.papers import upsert_papers
from aisec_radar.taxonomy import load_taxonomy
from aisec_radar.topics import DiscoveryParams, discover_topics

pytestmark = pytest.mark.slow

PER_MONTH = {1: 4, 2: 8, 3: 12}  # prompt-injection papers per month
BACKGROUND_PER_MONTH = 25


def _pick(records: list[dict]) -> tuple[list[dict], list[dict]]:
    inj = [r for r in records if re.search(r"prompt injection", r["title"].lower()) and r.get("abstract")]
    rest = [r for r in records if "inject" not in (r["title"] + r.get("abstract", "")).lower()
            and r.get("abstract") and ("cs.CR" in r["categories"] or "cs.LG" in r["categories"])]
    inj.sort(key=lambda r: r["id"])
    rest.sort(key=lambda r: r["id"])
    return inj[: sum(PER_MONTH.values())], rest[:: max(1, len(rest) // (BACKGROUND_PER_MONTH * 3))][
        : BACKGROUND_PER_MONTH * 3]


def stream_story(records: list[dict], db_path: Path) -> tuple[list[Paper], set[str]]:
    """Store the three months of prompt-injection and background papers in ``db_path``, all labelled
    other_aisec (so all in discovery's pool); returns them and the prompt-injection ids. Also the scenario of
    bench/topic_geometry.py, which runs it under other encoders."""
    inj, rest = _pick(records)
    assert len(inj) == sum(PER_MONTH.values())
    papers, family = [], set()
    it_inj, it_rest = iter(inj), iter(rest)
    for month, n in PER_MONTH.items():
        for k in range(n):
            r = next(it_inj)
            papers.append(Paper(arxiv_id=r["id"], title=r["title"], abstract=r["abstract"],
                                published=date(2026, month, 1 + k)))
            family.add(r["id"])
        for k in range(BACKGROUND_PER_MONTH):
            r = next(it_rest)
            papers.append(Paper(arxiv_id=r["id"], title=r["title"], abstract=r["abstract"],
                                published=date(2026, month, 1 + k)))
    with transaction(db_path) as con:
        upsert_papers(con, papers)
        for p in papers:  # all in the pool: curators called them other_aisec
            add_label(con, Label(arxiv_id=p.arxiv_id, types=["other_aisec"], curator="ana"))
    return papers, family


def test_real_encoder_finds_prompt_injection(corpus_records, db_path) -> None:
    papers, family = stream_story(corpus_records, db_path)
    settings = replace(Settings(), db_path=str(db_path))
    tax = load_taxonomy()
    params = DiscoveryParams(min_cluster_size=5, window_months=6)
    first = discover_topics(settings, tax, until=date(2026, 2, 28), params=params)
    assert first.encoded >= len(papers) * 2 // 3  # the in-window papers, plus type definitions
    second = discover_topics(settings, tax, until=date(2026, 3, 31), params=params)
    # the second run reuses every cached vector from the first and encodes only the new month
    assert second.encoded == PER_MONTH[3] + BACKGROUND_PER_MONTH

    def best(res):
        c = max(res.candidates, key=lambda s: len(family & {a for a, _ in s.members}))
        return c, len(family & {a for a, _ in c.members})

    c1, h1 = best(first)
    c2, h2 = best(second)
    # nearly all of the theme in one candidate: the plain encoder discovery reads by default keeps it
    # together (12 / 12, then 24 / 24); the classifier's fine-tuned vectors did not (9 / 12, 19 / 24)
    assert h1 >= 0.9 * (PER_MONTH[1] + PER_MONTH[2]) and h2 >= 0.9 * sum(PER_MONTH.values())
    assert h2 / c2.size >= 0.7  # mostly prompt-injection papers
    assert c1.topic_id == c2.topic_id and c2.matched_by in ("members", "centroid")
    assert any("injection" in p for p in c2.key_phrases), c2.key_phrases
    assert c2.nearest_type in tax.type_ids  # prototypes from the definitions, encoded once and cached
    with connect(db_path, read_only=True) as con:
        n_vec = con.execute("SELECT count(*) FROM embeddings").fetchone()[0]
    assert n_vec >= len(papers)
