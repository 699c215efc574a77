"""The dashboard's read queries on a small store built through the store API (no Streamlit)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from aisec_radar.dashboard.auth import check_secret, hash_secret
from aisec_radar.errors import InputError
from aisec_radar.records import Label, Paper, Prediction
from aisec_radar.store import connect, queries, transaction
from aisec_radar.store.labels import add_label
from aisec_radar.store.papers import upsert_papers
from aisec_radar.store.predictions import save_predictions
from aisec_radar.store.review import undo_label


def _pred(aid: str, labels: list[str], status: str = "needs_review", prio: float = 0.5, model: str = "m1",
          relevance: str = "in_taxonomy") -> Prediction:
    return Prediction(arxiv_id=aid, model_version=model, taxonomy_version="2026.1", relevance=relevance,
                      type_scores={t: 0.9 for t in labels}, labels=labels, role="attack", modality="language",
                      confidence=0.6, status=status, review_priority=prio)


@pytest.fixture
def small(db_path):
    papers = [
        Paper(arxiv_id="2501.00001", title="Backdoor 100% poisoning_attack", abstract="a", categories=["cs.CR"],
              primary_category="cs.CR"),  # no published date: the id gives 2025-01
        Paper(arxiv_id="2502.00002", title="Jailbreaking LLMs", abstract="b", categories=["cs.LG", "cs.CR"],
              primary_category="cs.LG", published=date(2025, 2, 10)),
        Paper(arxiv_id="2503.00003", title="Cross-listed vision paper", abstract="c", categories=["cs.CV", "cs.LG"],
              primary_category="cs.CV", published=date(2025, 3, 5)),
    ]
    with transaction(db_path) as con:
        upsert_papers(con, papers, categories=["cs.CR", "cs.LG"])
        save_predictions(con, [_pred("2501.00001", ["poisoning"], prio=0.9),
                               _pred("2502.00002", ["jailbreak"], prio=0.5),
                               _pred("2503.00003", [], status="auto", relevance="not_relevant")])
    return db_path


def test_dates_filters_and_keyword_escaping(small):
    with connect(small, read_only=True) as con:
        f = queries.Filters()
        assert queries.count_papers(con, f) == 3
        totals = queries.period_totals(con, f, "month")
        assert [str(d)[:7] for d in totals["period"]] == ["2025-01", "2025-02", "2025-03"]
        assert queries.count_papers(con, queries.Filters(listing="cross")) == 1
        assert queries.count_papers(con, queries.Filters(date_from=date(2025, 2, 1))) == 2
        in_tax = queries.Filters(scope="taxonomy", taxonomy_types=("poisoning", "jailbreak"))
        assert queries.count_papers(con, in_tax) == 2
        assert queries.count_papers(con, f, "100%") == 1  # % is literal, not a wildcard
        assert queries.count_papers(con, f, "poisoning_attack") == 1
        assert queries.count_papers(con, f, "poisoningXattack") == 0  # _ is literal too
        assert list(queries.search_papers(con, f, "", "newest")["arxiv_id"]) == [
            "2503.00003", "2502.00002", "2501.00001"]
        assert list(queries.search_papers(con, f, "", "oldest", limit=1, offset=1)["arxiv_id"]) == ["2502.00002"]
        auto = queries.Filters(provenance="auto")
        total, page = queries.search_page(con, auto, "", "newest", limit=2, offset=2)
        assert total == 3 and list(page["arxiv_id"]) == ["2501.00001"]
        assert queries.search_page(con, f, "jailbreaking", "title")[0] == 1
        by_conf = queries.search_papers(con, queries.Filters(provenance="auto"), "", "confidence")
        assert len(by_conf) == 3 and by_conf["confidence"].is_monotonic_decreasing
        axes = queries.trend_axis_counts(con, f, "month", {"poisoning": "DM", "jailbreak": "DM"})
        assert axes["papers"].sum() == 2
        amap = {"poisoning": "DM", "jailbreak": "DM", "model_extraction": "MM"}
        b = queries.trend_bundle(con, f, "month", "axis", amap, ["poisoning", "jailbreak", "model_extraction"])
        assert (b["matching"], b["in_taxonomy"]) == (3, 2)
        assert list(b["series"]["axis"]) == ["DM", "DM"] and list(b["series"]["papers"]) == [1, 1]
        assert queries.count_with_taxonomy(con, f, ["poisoning", "jailbreak"]) == (3, 2)
        t = queries.trend_bundle(con, queries.Filters(listing="primary"), "week", "type", amap, ["poisoning"])
        assert list(t["series"]["type"]) == ["poisoning"] and t["matching"] == 2
    with pytest.raises(ValueError):
        queries.Filters(provenance="nope")


def test_review_queue_order_labels_and_suggestions(small):
    with connect(small, read_only=True) as con:
        assert [q["arxiv_id"] for q in queries.review_queue(con, 5)] == ["2501.00001", "2502.00002"]
        assert queries.review_remaining(con) == 2
    with transaction(small) as con:
        lid = add_label(con, Label(arxiv_id="2501.00001", types=["poisoning"], curator="bob", source="dashboard"))
        # a retrained model re-predicts the labelled paper: it does not come back
        save_predictions(con, [_pred("2501.00001", ["jailbreak"], model="m2", prio=0.99)])
    with connect(small, read_only=True) as con:
        assert [q["arxiv_id"] for q in queries.review_queue(con, 5)] == ["2502.00002"]
    with transaction(small) as con:
        # a review suggestion (topic merge / taxonomy split) asks again about the labelled paper
        save_predictions(con, [_pred("2501.00001", ["poisoning"], model="suggestion:split:x", prio=1.0)])
    with connect(small, read_only=True) as con:
        assert [q["arxiv_id"] for q in queries.review_queue(con, 5)] == ["2501.00001", "2502.00002"]
        # the suggestion is not the classifier's: agreement still compares the label with model m2
        agree = queries.agreement(con, ["poisoning", "jailbreak"]).set_index("type")
        assert agree.loc["jailbreak", "predicted"] == 1 and agree.loc["poisoning", "predicted"] == 0
        assert agree.loc["poisoning", "curated"] == 1 and queries.reviewed_pairs(con) == 1
    with transaction(small) as con:
        add_label(con, Label(arxiv_id="2501.00001", types=["poisoning"], curator="bob", source="dashboard",
                             created_at=datetime(2100, 1, 1)))
    with connect(small, read_only=True) as con:
        assert queries.review_remaining(con) == 1
        assert queries.label_by_id(con, lid)["curator"] == "bob"


def test_undo_only_own_dashboard_label(small):
    with transaction(small) as con:
        mine = add_label(con, Label(arxiv_id="2502.00002", types=["jailbreak"], curator="bob", source="dashboard"))
        cli = add_label(con, Label(arxiv_id="2502.00002", types=["jailbreak"], curator="bob", source="cli"))
    with transaction(small) as con:
        with pytest.raises(InputError):
            undo_label(con, mine, "eve")
        with pytest.raises(InputError):
            undo_label(con, cli, "bob")
        assert undo_label(con, mine, "bob") == "2502.00002"
        with pytest.raises(InputError):
            undo_label(con, mine, "bob")
    with connect(small, read_only=True) as con:
        assert queries.label_by_id(con, cli) is not None and queries.label_by_id(con, mine) is None


def test_secret_hash_and_check():
    h = hash_secret("s3cret-value")
    assert len(h) == 64 and check_secret("s3cret-value", h) and check_secret("s3cret-value", h.upper())
    assert not check_secret("wrong", h) and not check_secret("s3cret-value", "") and not check_secret("", h)


def test_curator_secret_command():
    from click.testing import CliRunner

    from aisec_radar.cli import app

    r = CliRunner().invoke(app, ["curator-secret", "abcdefgh12"], catch_exceptions=False)
    assert r.exit_code == 0 and r.stdout.splitlines()[0] == hash_secret("abcdefgh12")
    r = CliRunner().invoke(app, ["curator-secret", "short"])
    assert r.exit_code == 2
    r = CliRunner().invoke(app, ["curator-secret"], input="abcdefgh12\nabcdefgh12\n")
    assert r.exit_code == 0 and hash_secret("abcdefgh12") in r.stdout


def test_dashboard_command_line_is_headless_and_local():
    from pathlib import Path

    from aisec_radar.cli.dashboard import streamlit_command

    cmd = streamlit_command(Path("app.py"), "127.0.0.1", 8600, None)
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--server.headless") + 1] == "true"
    assert cmd[cmd.index("--browser.gatherUsageStats") + 1] == "false"


def test_config_file_reaches_the_app_through_argv():
    from pathlib import Path

    from aisec_radar.cli.dashboard import streamlit_command
    from aisec_radar.dashboard.common import _config_file_arg

    cmd = streamlit_command(Path("app.py"), "127.0.0.1", 8600, "my.toml")
    script_args = cmd[cmd.index("--") :]
    assert _config_file_arg(script_args) == str(Path("my.toml").resolve())
    assert _config_file_arg(["app.py", "-q", "--config-file=x"]) is None  # pytest's own argv is not ours


def test_semantic_search_uses_vectors_of_the_same_encoder_under_another_backend(small):
    """A demo database encoded with `hybrid`, read with the `torch` setting: search still finds its
    vectors (same model, cosine >= 0.99 between backends); another model's vectors are never used."""
    import numpy as np

    from aisec_radar.store.embeddings import put_embeddings

    db_path = small
    with connect(db_path, read_only=True) as con:
        hashes = [r[0] for r in con.execute("SELECT content_hash FROM papers ORDER BY arxiv_id").fetchall()]
    vecs = np.eye(3, 4, dtype=np.float32)
    with transaction(db_path) as con:
        put_embeddings(con, "enc@hybrid", dict(zip(hashes, vecs, strict=True)))
        put_embeddings(con, "other@torch", {hashes[0]: vecs[0], hashes[1]: vecs[1]})
    with connect(db_path, read_only=True) as con:
        assert queries.search_model_key(con, "enc@torch") == "enc@hybrid"
        assert queries.search_model_key(con, "enc@hybrid") == "enc@hybrid"
        assert queries.search_model_key(con, "other@torch") == "other@torch"
        assert queries.search_model_key(con, "missing@torch") is None
        key = queries.search_model_key(con, "enc@onnx")
        top = queries.semantic_search(con, queries.Filters(scope="all"), [0.0, 1.0, 0.0, 0.0], key, limit=3)
    assert list(top["arxiv_id"])[0] == "2502.00002"
