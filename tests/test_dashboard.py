"""Streamlit AppTest tests of every dashboard page: empty, missing and filled databases, filters,
review actions that land in the store, a wrong curator secret, hostile titles rendered inert."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dashboard_data import CURATOR_SECRET, HOSTILE_ID, build_filled_db

from aisec_radar.dashboard.auth import hash_secret
from aisec_radar.store import connect, init_db

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

DASH = Path(__file__).resolve().parents[1] / "aisec_radar" / "dashboard"
PAGES = ["trends", "papers", "review", "taxonomy_page", "runs"]
TIMEOUT = 120


def page(name: str) -> AppTest:
    at = AppTest.from_file(str(DASH / "views" / f"{name}.py"), default_timeout=TIMEOUT)
    return at.run()


def texts(at: AppTest) -> str:
    """Every text-like element of the page, joined, for 'does it say X' checks."""
    parts = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "title", "subheader", "header"):
        parts += [str(e.value) for e in getattr(at, kind)]
    return "\n".join(parts)


def metric(at: AppTest, label: str) -> int:
    for m in at.metric:
        if m.label == label:
            return int(str(m.value).replace(",", ""))
    raise AssertionError(f"no metric {label!r}; have {[m.label for m in at.metric]}")


@pytest.fixture(scope="session")
def filled_template(tmp_path_factory, corpus_records) -> tuple[Path, dict]:
    p = tmp_path_factory.mktemp("dash") / "filled.duckdb"
    init_db(p)
    info = build_filled_db(p, corpus_records, n=2000)
    return p, info


@pytest.fixture
def filled(tmp_path, filled_template, monkeypatch) -> tuple[Path, dict]:
    """A private copy of the filled DB (review tests write to it), set as the dashboard's db_path."""
    src, info = filled_template
    dst = tmp_path / "filled.duckdb"
    shutil.copy(src, dst)
    monkeypatch.setenv("AISEC_RADAR_DB_PATH", str(dst))
    monkeypatch.delenv("AISEC_RADAR_CURATOR_SECRET_HASH", raising=False)
    return dst, info


@pytest.fixture
def empty(db_path, monkeypatch) -> Path:
    monkeypatch.setenv("AISEC_RADAR_DB_PATH", str(db_path))
    monkeypatch.delenv("AISEC_RADAR_CURATOR_SECRET_HASH", raising=False)
    return db_path


def labels_in(path: Path) -> list[tuple]:
    with connect(path, read_only=True) as con:
        return con.execute("SELECT arxiv_id, types, role, curator, source, note FROM labels "
                           "WHERE source = 'dashboard' ORDER BY label_id").fetchall()


# ---------------------------------------------------------------------------------------------- states

@pytest.mark.parametrize("name", PAGES)
def test_empty_db_pages_render(empty, name):
    at = page(name)
    assert not at.exception
    if name in ("trends", "papers"):
        assert "no papers yet" in texts(at)


@pytest.mark.parametrize("name", PAGES)
def test_missing_db_says_how_to_create(tmp_path, monkeypatch, name):
    missing = tmp_path / "nope" / "x.duckdb"
    monkeypatch.setenv("AISEC_RADAR_DB_PATH", str(missing))
    at = page(name)
    assert not at.exception
    assert "No database at" in texts(at)
    assert not missing.exists()  # reading never creates the file


def test_busy_db_shows_message_not_traceback(empty, monkeypatch):
    """A writer holding the file past lock_timeout: a friendly warning, no exception."""
    monkeypatch.setenv("AISEC_RADAR_LOCK_TIMEOUT", "1")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('held', flush=True); time.sleep(30)", str(empty)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        at = page("trends")
        assert not at.exception
        assert "busy" in texts(at)
    finally:
        holder.kill()
        holder.wait()


def test_app_navigation_default_and_switch(filled):
    at = AppTest.from_file(str(DASH / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.title[0].value == "Trends"
    at.switch_page(str(DASH / "views" / "runs.py")).run()
    assert not at.exception
    assert at.title[0].value == "Runs"


# ---------------------------------------------------------------------------------------------- filled

@pytest.mark.parametrize("name", PAGES)
def test_filled_db_pages_render(filled, name):
    at = page(name)
    assert not at.exception, at.exception
    for e in at.markdown:
        assert not e.proto.allow_html


def test_trends_filters_change_numbers(filled):
    at = page("trends")
    all_n = metric(at, "Papers matching the filters")
    assert all_n > 0
    assert len(at.get("vega_lite_chart")) >= 1
    at.sidebar.selectbox(key="f_provenance").set_value("curated").run()
    assert not at.exception
    curated = metric(at, "Papers matching the filters")
    assert 0 < curated < all_n
    at.sidebar.selectbox(key="f_provenance").set_value("all").run()
    at.sidebar.selectbox(key="f_survey").set_value("cited").run()
    assert metric(at, "Papers matching the filters") < all_n
    # grouping by type and the share measure render too; the OpenReview map moves jailbreak to DD
    at.radio(key="t_group").set_value("type").run()
    at.radio(key="t_measure").set_value("share").run()
    at.radio(key="t_period").set_value("week").run()
    at.sidebar.selectbox(key="f_axis_map").set_value("openreview").run()
    assert not at.exception


def test_papers_keyword_search_and_detail(filled):
    at = page("papers")
    total = metric(at, "Papers matching")
    at.text_input(key="p_query").set_value("poisoning").run()
    assert not at.exception
    hits = metric(at, "Papers matching")
    assert 0 < hits < total
    at.sidebar.selectbox(key="f_scope").set_value("all").run()
    at.sidebar.multiselect(key="f_roles").set_value(["attack"]).run()
    assert metric(at, "Papers matching") <= hits
    at.selectbox(key="p_sort").set_value("confidence").run()
    assert not at.exception
    at.sidebar.multiselect(key="f_roles").set_value([]).run()
    at.text_input(key="p_query").set_value("").run()
    first_page = list(at.dataframe[0].value["arxiv_id"])
    at.number_input(key="p_page").set_value(2).run()
    assert not at.exception
    second_page = list(at.dataframe[0].value["arxiv_id"])
    assert second_page and not set(first_page) & set(second_page)
    at.number_input(key="p_page").set_value(9).run()
    at.sidebar.selectbox(key="f_provenance").set_value("curated").run()  # fewer matches than page 9 needs
    assert not at.exception and not at.warning
    assert at.number_input(key="p_page").value == 1 and len(at.dataframe[0].value) > 0


def test_hostile_title_renders_inert(filled):
    at = page("papers")
    at.text_input(key="p_query").set_value("pwned").run()
    assert metric(at, "Papers matching") == 1
    assert at.selectbox(key="p_pick").value == HOSTILE_ID
    assert not at.exception
    assert at.subheader[0].value.startswith("\\<script\\>alert")
    shown = [e for e in list(at.markdown) + list(at.subheader) + list(at.caption)
             if any(w in e.value for w in ("script", "onerror", "Mallory", "javascript"))]
    assert len(shown) >= 3  # title, abstract, authors
    for e in shown:
        assert not getattr(e.proto, "allow_html", False)
        raw = e.value
        # every character markdown could turn live (tags, links, emphasis, math, headings) is escaped
        for i, c in enumerate(raw):
            if c in "<>[]()*$#":
                assert i > 0 and raw[i - 1] == "\\", (c, raw)
    # the table shows the title as data (the grid renders cells as text)
    table = at.dataframe[0].value
    assert table.loc[table["arxiv_id"] == HOSTILE_ID, "title"].iloc[0].startswith("<script>")


def test_open_paper_by_id_shows_history(filled):
    _, info = filled
    aid = sorted(info["labelled_ids"])[0]
    at = page("papers")
    at.text_input(key="p_open_id").set_value(aid).run()
    assert not at.exception
    assert "Label history" in texts(at)
    assert any("alice" in str(df.value.to_dict()) for df in at.dataframe)


# ---------------------------------------------------------------------------------------------- review

@pytest.fixture
def with_secret(filled, monkeypatch):
    monkeypatch.setenv("AISEC_RADAR_CURATOR_SECRET_HASH", hash_secret(CURATOR_SECRET))
    return filled


def sign_in(at: AppTest, secret: str, name: str = "bob") -> AppTest:
    at.text_input(key="r_name").set_value(name)
    at.text_input(key="r_secret").set_value(secret)
    return at.button[0].click().run()  # the form's submit button


def test_review_without_secret_configured_explains_and_writes_nothing(filled):
    path, _ = filled
    at = page("review")
    assert not at.exception
    assert "aisec-radar curator-secret" in texts(at)
    assert "AISEC_RADAR_CURATOR_SECRET_HASH" in texts(at)
    assert not [b for b in at.button if b.key in ("r_accept", "r_correct")]
    assert labels_in(path) == []


def test_wrong_secret_writes_nothing(with_secret):
    path, _ = with_secret
    at = sign_in(page("review"), "not the secret")
    assert not at.exception
    assert "Wrong curator secret" in texts(at)
    assert not [b for b in at.button if b.key in ("r_accept", "r_correct", "r_skip")]
    assert labels_in(path) == []


def test_review_accept_correct_skip_undo(with_secret):
    path, info = with_secret
    at = sign_in(page("review"), CURATOR_SECRET)
    assert not at.exception
    left_before = int(at.get("progress")[0].proto.text.split()[0].replace(",", ""))
    # highest priority first: the hostile paper, shown inert
    assert "\\<script\\>" in at.subheader[0].value
    at.button(key="r_accept").click().run()
    assert not at.exception
    rows = labels_in(path)
    assert [(r[0], r[1], r[3], r[4]) for r in rows] == [(HOSTILE_ID, ["jailbreak"], "bob", "dashboard")]
    left_after = int(at.get("progress")[0].proto.text.split()[0].replace(",", ""))
    assert left_after == left_before - 1

    # correct the next one: two types, a role, a note
    assert "script" not in at.subheader[0].value
    aid = next(k for k in (w.key for w in at.multiselect) if k and k.startswith("r_types_"))[len("r_types_"):]
    at.multiselect(key=f"r_types_{aid}").set_value(["poisoning", "jailbreak"])
    at.selectbox(key=f"r_role_{aid}").set_value("defense")
    at.text_input(key=f"r_note_{aid}").set_value("backdoor *defense* <b>")
    at.button(key="r_correct").click().run()
    assert not at.exception
    rows = labels_in(path)
    assert rows[-1][0] == aid and sorted(rows[-1][1]) == ["jailbreak", "poisoning"]
    assert rows[-1][2] == "defense" and rows[-1][5] == "backdoor *defense* <b>"

    # skip, then undo the skip, then undo the correction: the label is gone, the paper is back
    third = at.subheader[0].value
    at.button(key="r_skip").click().run()
    assert at.subheader[0].value != third
    at.button(key="r_undo").click().run()
    assert at.subheader[0].value == third
    at.button(key="r_undo").click().run()
    assert not at.exception
    assert [r[0] for r in labels_in(path)] == [HOSTILE_ID]
    assert at.multiselect(key=f"r_types_{aid}").value  # the corrected paper is back at the head of the queue


def test_review_label_waits_for_a_writer(with_secret, monkeypatch):
    """The nightly job holds the file for a few seconds: the curator's label waits, then lands."""
    path, _ = with_secret
    at = sign_in(page("review"), CURATOR_SECRET)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('held', flush=True); time.sleep(3); c.close()", str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        at.button(key="r_accept").click().run()
        assert not at.exception
    finally:
        holder.wait(timeout=60)
    assert [r[0] for r in labels_in(path)] == [HOSTILE_ID]


# ---------------------------------------------------------------------------------------------- others

def test_taxonomy_page_agreement_and_topics(filled):
    at = page("taxonomy_page")
    assert not at.exception
    df = at.dataframe[0].value
    assert set(df["id"]) >= {"jailbreak", "poisoning", "other_aisec", "not_relevant"}
    assert df["curated"].sum() > 0
    assert df["precision est."].notna().any()
    assert metric(at, "Papers with label and prediction") > 0
    assert "topic" in texts(at).lower()


def test_runs_page_shows_last_failure(filled):
    at = page("runs")
    assert not at.exception
    assert at.error and "failed" in at.error[0].value
    assert any("503" in c.value for c in at.code)
    assert len(at.dataframe) == 2


# ---------------------------------------------------------------------------------------------- semantic

@pytest.mark.slow
def test_semantic_search_with_the_real_encoder(filled):
    """Vectors stored by the classifier's encoder; the page encodes the query and DuckDB ranks."""
    from aisec_radar.classify import encode_texts, encoder_model_key
    from aisec_radar.classify.encoder import paper_text
    from aisec_radar.config import load_settings
    from aisec_radar.store import queries, transaction
    from aisec_radar.store.embeddings import put_embeddings
    from aisec_radar.store.papers import get_paper

    path, _ = filled
    s = load_settings()
    with connect(path, read_only=True) as con:
        ids = list(queries.search_papers(con, queries.Filters(), "", "newest", 40)["arxiv_id"])
        papers = [get_paper(con, a) for a in ids]
    vecs = encode_texts(s, [paper_text(p.title, p.abstract) for p in papers])
    with transaction(path) as con:
        put_embeddings(con, encoder_model_key(s), {p.content_hash: v for p, v in zip(papers, vecs, strict=True)})
    target = papers[7]
    at = page("papers")
    at.sidebar.selectbox(key="f_scope").set_value("all")
    at.radio(key="p_mode").set_value("semantic")
    at.text_input(key="p_query").set_value(target.title + ". " + target.abstract[:300]).run()
    assert not at.exception, at.exception
    assert metric(at, "Most similar papers shown") >= 30
    table = at.dataframe[0].value
    assert table["arxiv_id"].iloc[0] == target.arxiv_id
    assert table["similarity"].is_monotonic_decreasing


def test_unreadable_file_shows_a_message(tmp_path, monkeypatch):
    bad = tmp_path / "not-a-db.duckdb"
    bad.write_bytes(b"this is not a DuckDB file" * 100)
    monkeypatch.setenv("AISEC_RADAR_DB_PATH", str(bad))
    at = page("trends")
    assert not at.exception
    assert "Cannot read the database" in texts(at)


def test_pages_release_the_file_for_the_nightly_writer(filled):
    """After a page run the dashboard holds no handle: another process can open the file for writing."""
    path, _ = filled
    for name in ("trends", "papers", "taxonomy_page"):
        at = page(name)
        assert not at.exception
        done = subprocess.run(
            [sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
             "c.execute('CREATE TABLE IF NOT EXISTS _probe (x INT)'); c.close()", str(path)],
            capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr


def test_pages_agree_with_and_without_the_nightly_aggregates(filled, monkeypatch):
    """With the pre-aggregated facts fresh the pages read them; every number shown stays the same."""
    aggregates = pytest.importorskip("aisec_radar.store.aggregates")
    from aisec_radar.store import transaction

    path, _ = filled

    def numbers() -> dict:
        out = {}
        at = page("trends")
        at.sidebar.selectbox(key="f_provenance").set_value("auto").run()
        out["trends"] = {m.label: m.value for m in at.metric}
        out["series"] = at.dataframe[0].value.to_dict()
        at = page("papers")
        at.text_input(key="p_query").set_value("attack").run()
        out["papers"] = (metric(at, "Papers matching"), list(at.dataframe[0].value["arxiv_id"]))
        at = page("review")
        out["review"] = metric(at, "Papers waiting for review")
        return out

    live = numbers()
    with transaction(path) as con:
        aggregates.refresh_aggregates(con)
    with connect(path, read_only=True) as con:
        assert aggregates.facts_fresh(con)

    def live_only(*a, **k):
        raise AssertionError("the live query ran although the facts are fresh")

    from aisec_radar.store import queries
    monkeypatch.setattr(queries, "trend_bundle", live_only)
    monkeypatch.setattr(queries, "search_page", live_only)
    assert numbers() == live


def test_review_label_waits_for_another_session_reading(with_secret):
    """Another browser session of the same server is mid-page (a read-only handle in this process):
    DuckDB refuses a write connection with a different configuration; the label waits and lands."""
    import threading
    import time

    path, _ = with_secret
    at = sign_in(page("review"), CURATOR_SECRET)
    opened = threading.Event()

    def other_session() -> None:
        with connect(path, read_only=True):
            opened.set()
            time.sleep(2)

    t = threading.Thread(target=other_session)
    t.start()
    assert opened.wait(30)
    at.button(key="r_accept").click().run()
    t.join()
    assert not at.exception
    assert [r[0] for r in labels_in(path)] == [HOSTILE_ID]


def test_trends_under_another_taxonomy_version(filled):
    """After a split of jailbreak, Trends can count every decision under either version."""
    from aisec_radar.taxonomy.migrate import create_version

    path, _ = filled
    at = page("trends")
    assert not [w for w in at.selectbox if w.key == "t_version"]  # one version: no switch
    split = [{"split": {"from": "jailbreak", "into": [
        {"id": "text_jailbreak", "name": "Text jailbreak", "definition": "Jailbreaks by text."},
        {"id": "multimodal_jailbreak", "name": "Multimodal jailbreak", "definition": "Through images."}]}}]
    plan, _ = create_version(path, split, created_by="test", out_path=path.parent / "tax.yaml")
    at = page("trends")
    assert at.selectbox(key="t_version").options == ["2026.1", plan.version]
    at.selectbox(key="t_version").set_value(plan.version)
    at.toggle(key="t_version_show").set_value(True).run()
    assert not at.exception, at.exception
    charts = at.get("vega_lite_chart")
    assert len(charts) == 2
    import re

    undecided = re.search(r"([\d,]+) type assignments are undecided", texts(at))
    assert undecided and int(undecided.group(1).replace(",", "")) > 0  # the split jailbreak papers
