"""paper_facts and the IVF layout give the same answers as the live queries, and step aside when stale."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from bench_support import load_bench

from aisec_radar.records import Paper
from aisec_radar.store import aggregates, connect, queries, transaction
from aisec_radar.store.papers import upsert_papers
from aisec_radar.taxonomy import load_taxonomy


def _scale_module():
    return load_bench("scale")


@pytest.fixture(scope="module")
def scale_db(tmp_path_factory: pytest.TempPathFactory, corpus_path: Path) -> Path:
    """6,000 papers from the real corpus (two shifted copies of part of it), facts refreshed, no IVF."""
    db = tmp_path_factory.mktemp("agg") / "scale.duckdb"
    _scale_module().build(db, 6000, corpus_path, embeddings=True)
    return db


def _filters() -> list[queries.Filters]:
    tax = load_taxonomy()
    types = tuple(tax.type_ids)
    base = queries.Filters(taxonomy_types=types)
    return [
        base,
        replace(base, date_from=date(2024, 1, 1), date_to=date(2026, 12, 31)),
        replace(base, listing="cross", provenance="auto"),
        replace(base, provenance="curated", scope="aisec"),
        replace(base, categories=("cs.CR",), types=(types[0], types[4]), survey="not_cited"),
        replace(base, scope="taxonomy", roles=("attack", "defense")),
    ]


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_dtype=False)


@pytest.mark.slow
def test_facts_queries_match_live(scale_db: Path) -> None:
    tax = load_taxonomy()
    amap = tax.axis_map()
    with connect(scale_db, read_only=True) as con:
        assert aggregates.facts_fresh(con)
        assert con.execute("SELECT count(*) FROM paper_facts").fetchone()[0] == 6000
        assert aggregates.overview(con) == queries.overview(con)
        for f in _filters():
            assert aggregates.count_papers(con, f) == queries.count_papers(con, f)
            assert aggregates.count_papers(con, f, "attack model") == queries.count_papers(con, f, "attack model")
            _same(aggregates.period_totals(con, f, "month"), queries.period_totals(con, f, "month"))
            _same(aggregates.period_totals(con, f, "week"), queries.period_totals(con, f, "week"))
            _same(aggregates.trend_type_counts(con, f, "month", list(tax.type_ids)),
                  queries.trend_type_counts(con, f, "month", list(tax.type_ids)))
            _same(aggregates.trend_axis_counts(con, f, "month", amap),
                  queries.trend_axis_counts(con, f, "month", amap))
            for sort in queries.SORTS:
                _same(aggregates.search_papers(con, f, "", sort, limit=25, offset=5),
                      queries.search_papers(con, f, "", sort, limit=25, offset=5))
            for kw in ("privacy", "Membership INFERENCE", "LLM-based (agents)", "100%", "a_b"):
                _same(aggregates.search_papers(con, f, kw, "newest", limit=20),
                      queries.search_papers(con, f, kw, "newest", limit=20))
                assert aggregates.count_papers(con, f, kw) == queries.count_papers(con, f, kw)
        _same(aggregates.type_summary(con, list(tax.label_ids)), queries.type_summary(con, list(tax.label_ids)))
        _same(aggregates.agreement(con, list(tax.label_ids)), queries.agreement(con, list(tax.label_ids)))
        assert aggregates.reviewed_pairs(con) == queries.reviewed_pairs(con) > 0
        assert aggregates.review_remaining(con) == queries.review_remaining(con) > 0
        live = queries.review_queue(con, 15, ())
        assert aggregates.review_queue(con, 15, ()) == live
        skip = tuple(r["arxiv_id"] for r in live[:3])
        assert aggregates.review_queue(con, 5, skip) == queries.review_queue(con, 5, skip)


@pytest.mark.slow
def test_stale_facts_fall_back_to_live(scale_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "copy.duckdb"
    db.write_bytes(scale_db.read_bytes())
    with transaction(db) as con:
        upsert_papers(con, [Paper(arxiv_id="2612.99999", title="A new paper on jailbreaks", abstract="x",
                                  published=date(2026, 12, 1))])
    f = queries.Filters()
    with connect(db, read_only=True) as con:
        assert not aggregates.facts_fresh(con)
        assert aggregates.count_papers(con, f) == queries.count_papers(con, f) == 6001
    out = aggregates.refresh(str(db))
    assert out["paper_facts_rows"] == 6001
    with connect(db, read_only=True) as con:
        assert aggregates.facts_fresh(con)
        assert aggregates.count_papers(con, f) == 6001


@pytest.mark.slow
def test_ivf_semantic_search_finds_the_nearest(scale_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                               ) -> None:
    db = tmp_path / "ivf.duckdb"
    db.write_bytes(scale_db.read_bytes())
    monkeypatch.setattr(aggregates, "IVF_MIN", 1000)
    model = "all-MiniLM-L6-v2@torch"
    with transaction(db) as con:
        info = aggregates.refresh_ivf(con, model)[f"ivf[{model}]"]
    assert info["rebuilt"] and info["added"] == 6000
    f = queries.Filters()
    with connect(db, read_only=True) as con:
        assert aggregates.ivf_ready(con, model)
        assert con.execute("SELECT count(*) FROM embedding_ivf").fetchone()[0] == 6000
        hits = 0
        for aid, vec in con.execute("SELECT p.arxiv_id, e.vector FROM papers p JOIN embeddings e "
                                    "USING (content_hash) ORDER BY p.arxiv_id LIMIT 20").fetchall():
            approx = aggregates.semantic_search(con, f, vec, model, limit=10)
            exact = queries.semantic_search(con, f, vec, model, limit=10)
            assert list(approx.columns) == list(exact.columns)
            assert approx["arxiv_id"].iloc[0] == aid == exact["arxiv_id"].iloc[0]
            hits += len(set(approx["arxiv_id"]) & set(exact["arxiv_id"]))
        assert hits / 200 > 0.8  # recall@10 of the probed clusters
    with transaction(db) as con:  # nothing new: an incremental refresh adds nothing
        assert aggregates.refresh_ivf(con, model)[f"ivf[{model}]"]["added"] == 0


def test_refresh_on_an_empty_store(db_path: Path) -> None:
    """The nightly job refreshes every night, also on a new, empty or small store."""
    out = aggregates.refresh(str(db_path))
    assert out["paper_facts_rows"] == 0
    with connect(db_path, read_only=True) as con:
        assert aggregates.facts_fresh(con)
        assert aggregates.count_papers(con, queries.Filters()) == 0
        assert aggregates.overview(con)["papers"] == 0
        assert aggregates.review_queue(con, 5, ()) == []
