"""Harvest, fetch and backfill against the local arXiv stand-in over real HTTP, into real DuckDB files."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from aisec_radar.cli import app
from aisec_radar.config import Settings
from aisec_radar.crawler import CrawlReport, fetch_ids, harvest
from aisec_radar.crawler.corpus import load_corpus, write_corpus
from aisec_radar.crawler.standin import run_standin
from aisec_radar.errors import CrawlError, InputError
from aisec_radar.store import connect, init_db

HARVESTED = {"cs.CR", "cs.LG"}
NOW = datetime(2026, 11, 28, 3, 0, 0)


def _settings(base: str, db: Path, **kw: object) -> Settings:
    values = {"crawl_delay": 0.0, "crawl_retries": 3, **kw}
    return Settings(db_path=str(db), oai_base_url=base + "/oai", api_base_url=base + "/api/query", **values)


def _expected(corpus: Path) -> dict[str, object]:
    return {r.arxiv_id: r for r in load_corpus(corpus) if HARVESTED.intersection(r.categories)}


def _snapshot(db: Path) -> dict[str, list]:
    """Everything a harvest decides (not the wall-clock seen/first/last timestamps)."""
    with connect(db, read_only=True) as con:
        return {
            "papers": con.execute(
                "SELECT arxiv_id, latest_version, title, abstract, authors, categories, primary_category, "
                "is_cross_list, published, updated, doi, content_hash FROM papers ORDER BY arxiv_id").fetchall(),
            "versions": con.execute(
                "SELECT arxiv_id, version, submitted, size, title, content_hash FROM paper_versions "
                "ORDER BY arxiv_id, version").fetchall(),
            "checkpoints": con.execute("SELECT key, value FROM harvest_state ORDER BY key").fetchall(),
        }


def _ids(db: Path) -> set[str]:
    with connect(db, read_only=True) as con:
        return {r[0] for r in con.execute("SELECT arxiv_id FROM papers").fetchall()}


def _corpus_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# ------------------------------------------------------------------------------------------ harvest


def test_full_harvest_lands_every_expected_paper_once_then_rerun_is_a_noop(
        standin_settings: Settings, corpus_slice_path: Path) -> None:
    expected = _expected(corpus_slice_path)
    report = harvest(standin_settings, progress=False)
    assert isinstance(report, CrawlReport)
    assert report.counts["new"] == len(expected)
    assert report.counts["pages"] >= 6  # several resumption pages per set
    both = sum(1 for r in expected.values() if HARVESTED <= set(r.categories))
    assert report.counts["unchanged"] == both  # in both sets: seen twice, stored once
    assert report.counts["skipped"] == 0
    db = Path(standin_settings.db_path)
    assert _ids(db) == set(expected)  # other categories (2607.9xxxx) left out
    with connect(db, read_only=True) as con:
        rows = con.execute("SELECT arxiv_id, primary_category, is_cross_list, latest_version FROM papers").fetchall()
        n_versions = con.execute("SELECT count(*) FROM paper_versions").fetchone()[0]
        run = con.execute("SELECT kind, status, counts FROM runs ORDER BY run_id DESC LIMIT 1").fetchone()
        checkpoints = dict(con.execute("SELECT key, value FROM harvest_state").fetchall())
    for aid, primary, cross, version in rows:
        assert primary == expected[aid].primary_category
        assert cross == (primary not in HARVESTED)
        assert version == expected[aid].version
    assert any(cross for _, _, cross, _ in rows)  # the slice has cross-lists
    assert n_versions == sum(r.version for r in expected.values())
    assert run[0] == "crawl" and run[1] == "ok" and json.loads(run[2])["new"] == len(expected)
    assert set(checkpoints) == {"oai:cs:cs:CR", "oai:cs:cs:LG"}
    assert report.checkpoint == min(checkpoints.values())

    before = _snapshot(db)
    again = harvest(standin_settings, progress=False)
    assert (again.counts["new"], again.counts["updated"]) == (0, 0)
    assert _snapshot(db) == before


def test_new_version_is_picked_up_and_only_text_changes_go_stale(tmp_path: Path, corpus_slice_path: Path) -> None:
    lines = _corpus_lines(corpus_slice_path)
    corpus = tmp_path / "c.jsonl"
    write_corpus(corpus, lines)
    db = tmp_path / "db.duckdb"
    with run_standin(corpus, page_size=40, now=datetime(2026, 9, 1, 4, 0)) as base:
        harvest(_settings(base, db), progress=False)
    with connect(db, read_only=True) as con:
        hashes = dict(con.execute("SELECT arxiv_id, content_hash FROM papers").fetchall())
    harvested = [r for r in lines if HARVESTED.intersection(r["categories"]) and "cs.CR" in r["categories"]
                 and "cs.LG" not in r["categories"]]
    retitled, same_text = harvested[0], harvested[1]
    for rec, title in ((retitled, "A Revised Title For Version Two"), (same_text, same_text["title"])):
        rec["version"] = (rec.get("version") or 1) + 1
        rec["updated"] = "2026-09-02"
        rec["title"] = title
    write_corpus(corpus, lines)
    with run_standin(corpus, page_size=40, now=datetime(2026, 9, 2, 4, 0)) as base:
        report = harvest(_settings(base, db), progress=False)
    assert (report.counts["new"], report.counts["updated"], report.counts["text_changed"]) == (0, 2, 1)
    assert report.counts["records"] == 2  # from the stored checkpoint: only what changed since
    with connect(db, read_only=True) as con:
        row = con.execute("SELECT latest_version, title, content_hash FROM papers WHERE arxiv_id = ?",
                          [retitled["id"]]).fetchone()
        versions = [v for (v,) in con.execute("SELECT version FROM paper_versions WHERE arxiv_id = ? ORDER BY 1",
                                              [retitled["id"]]).fetchall()]
        same_hash = con.execute("SELECT content_hash FROM papers WHERE arxiv_id = ?", [same_text["id"]]).fetchone()[0]
    assert row[0] == retitled["version"] and row[1] == "A Revised Title For Version Two"
    assert versions == list(range(1, retitled["version"] + 1))
    assert row[2] != hashes[retitled["id"]]  # its prediction is now stale
    assert same_hash == hashes[same_text["id"]]  # new version, same text: prediction stays valid


def test_bounded_window_serves_and_harvests_only_that_window(tmp_path: Path, corpus_slice_path: Path) -> None:
    recs = load_corpus(corpus_slice_path)
    lo, hi = date(2026, 3, 1), date(2026, 5, 31)
    want = {r.arxiv_id for r in recs if lo <= r.datestamp <= hi and HARVESTED.intersection(r.categories)}
    assert want
    db = tmp_path / "w.duckdb"
    with run_standin(corpus_slice_path, page_size=10) as base:
        report = harvest(_settings(base, db), since=lo, until=hi, progress=False)
    assert _ids(db) == want and report.counts["new"] == len(want)
    with connect(db, read_only=True) as con:  # a bounded window does not move the nightly checkpoint
        assert con.execute("SELECT count(*) FROM harvest_state").fetchone()[0] == 0
    db2 = tmp_path / "served-window.duckdb"
    with run_standin(corpus_slice_path, page_size=10, since=lo, until=hi) as base:
        harvest(_settings(base, db2), progress=False)
    assert _ids(db2) == want


# ------------------------------------------------------------------------------------------ faults


@pytest.mark.parametrize("faults", [
    {"fail_every": 3, "retry_after": 1},
    {"fail_every": 4, "fail_status": 429, "retry_after": 1},
    {"truncate_every": 3},
    {"malformed_every": 4},
])
def test_transient_faults_are_retried_and_the_result_is_complete(
        tmp_path: Path, corpus_slice_path: Path, faults: dict) -> None:
    db = tmp_path / "f.duckdb"
    with run_standin(corpus_slice_path, page_size=25, **faults) as base:
        report = harvest(_settings(base, db, crawl_retries=4), progress=False)
        served_faults = base.server.stats.faults
    assert served_faults >= 1
    assert _ids(db) == set(_expected(corpus_slice_path))
    assert report.counts["new"] == len(_expected(corpus_slice_path))
    if "fail_every" not in faults:
        assert report.counts["page_retries"] == served_faults


def test_a_page_that_stays_bad_fails_the_run_and_stores_nothing_of_it(tmp_path: Path, corpus_slice_path: Path) -> None:
    db = tmp_path / "bad.duckdb"
    init_db(db)
    with run_standin(corpus_slice_path, page_size=20, malformed_every=1, fault_after=2) as base:
        with pytest.raises(CrawlError, match="stayed bad after 3 tries"):
            harvest(_settings(base, db, crawl_retries=2), progress=False)
        first_two_pages = base.server.corpus.select_oai("cs:cs:CR", None, None)[:40]
    # pages 1-2 were committed, page 3 never: exactly the first 40 cs.CR records, no checkpoint
    assert _ids(db) == {r.arxiv_id for r in first_two_pages}
    with connect(db, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM harvest_state").fetchone()[0] == 0
        status, error = con.execute("SELECT status, error FROM runs ORDER BY run_id DESC LIMIT 1").fetchone()
    assert status == "failed" and "stayed bad" in error


def test_entity_expansion_payload_is_refused(tmp_path: Path, corpus_slice_path: Path) -> None:
    db = tmp_path / "bomb.duckdb"
    with run_standin(corpus_slice_path, bomb_every=1) as base:
        with pytest.raises(CrawlError, match="DOCTYPE"):
            harvest(_settings(base, db, crawl_retries=1), progress=False)
    assert _ids(db) == set()


def test_rejected_resumption_token_restarts_the_set(tmp_path: Path, corpus_slice_path: Path) -> None:
    db = tmp_path / "tok.duckdb"
    with run_standin(corpus_slice_path, page_size=25, bad_token_once=True) as base:
        report = harvest(_settings(base, db), progress=False)
    assert report.counts["restarts"] == 1
    assert _ids(db) == set(_expected(corpus_slice_path))


def test_no_records_match_is_success_not_failure(tmp_path: Path, corpus_slice_path: Path) -> None:
    db = tmp_path / "empty.duckdb"
    with run_standin(corpus_slice_path) as base:
        report = harvest(_settings(base, db), since=date(2030, 1, 1), progress=False)
    assert report.counts["new"] == 0 and report.checkpoint is not None


def test_records_missing_a_title_are_skipped_and_counted(tmp_path: Path, corpus_slice_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    lines = _corpus_lines(corpus_slice_path)
    victim = next(r for r in lines if r["categories"] == ["cs.CR"] or r["categories"][:1] == ["cs.CR"]
                  and "cs.LG" not in r["categories"])
    victim["title"] = ""
    corpus = tmp_path / "c.jsonl"
    write_corpus(corpus, lines)
    db = tmp_path / "skip.duckdb"
    with run_standin(corpus, page_size=30) as base:
        report = harvest(_settings(base, db), progress=False)
    assert report.counts["skipped"] == 1
    assert victim["id"] not in _ids(db)
    assert len(_ids(db)) == len(_expected(corpus_slice_path)) - 1
    assert any(victim["id"] in rec.getMessage() for rec in caplog.records)


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_unreachable_host_fails_with_a_one_line_message(tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{_closed_port()}"
    db = tmp_path / "down.duckdb"
    with pytest.raises(CrawlError) as info:
        harvest(_settings(base, db, crawl_retries=1), progress=False)
    msg = str(info.value)
    assert msg.startswith(f"cannot reach arXiv at {base}/oai") and "\n" not in msg
    with pytest.raises(CrawlError, match=f"cannot reach arXiv at {base}/api/query"):
        fetch_ids(_settings(base, db, crawl_retries=1), ["2401.01234"])


# ------------------------------------------------------------------------------------------ API path


def test_fetch_ids_stores_papers_of_any_category_and_reports_missing(standin_settings: Settings) -> None:
    report = fetch_ids(standin_settings, ["arXiv:2607.90000v1", "https://arxiv.org/abs/2607.90003", "2601.00000"])
    assert report.counts["new"] == 2 and report.missing == ["2601.00000"]
    assert _ids(Path(standin_settings.db_path)) == {"2607.90000", "2607.90003"}
    with pytest.raises(InputError, match="not an arXiv id"):
        fetch_ids(standin_settings, ["26o2.0l234"])


def test_api_backfill_matches_the_oai_harvest(tmp_path: Path, corpus_slice_path: Path) -> None:
    lo, hi = date(2026, 1, 1), date(2026, 6, 30)
    recs = load_corpus(corpus_slice_path)
    want = {r.arxiv_id for r in recs if lo <= r.published <= hi and HARVESTED.intersection(r.categories)}
    db_api, db_oai = tmp_path / "api.duckdb", tmp_path / "oai.duckdb"
    with run_standin(corpus_slice_path) as base:
        report = harvest(_settings(base, db_api), since=lo, until=hi, source="api", progress=False)
        again = harvest(_settings(base, db_api), since=lo, until=hi, source="api", progress=False)
        harvest(_settings(base, db_oai), progress=False)
    assert _ids(db_api) == want and report.counts["new"] == len(want)
    assert (again.counts["new"], again.counts["updated"]) == (0, 0)
    # the same papers through either path are stored identically
    api_rows = {r[0]: r for r in _snapshot(db_api)["papers"]}
    oai_rows = {r[0]: r for r in _snapshot(db_oai)["papers"] if r[0] in want}
    assert api_rows == oai_rows


def test_api_backfill_needs_since(standin_settings: Settings) -> None:
    with pytest.raises(InputError, match="--since"):
        harvest(standin_settings, source="api", progress=False)


# ------------------------------------------------------------------------------------------ CLI


def test_cli_crawl_and_fetch_exit_codes(standin: str, tmp_path: Path) -> None:
    db = str(tmp_path / "cli.duckdb")
    runner = CliRunner()
    res = runner.invoke(app, ["crawl", "--db", db, "--base-url", standin + "/oai", "--delay", "0", "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "new" in res.output and "checkpoint" in res.output
    res = runner.invoke(app, ["crawl", "--db", db, "--base-url", standin + "/oai", "--delay", "0", "--no-progress"])
    assert res.exit_code == 0 and "0 new" in res.output
    res = runner.invoke(app, ["fetch", "--db", db, "--base-url", standin + "/api/query", "2607.90001", "2601.00000"])
    assert res.exit_code == 3 and "2601.00000" in res.output
    res = runner.invoke(app, ["crawl", "--db", db, "--since", "yesterday"])
    assert res.exit_code == 2 and "YYYY-MM-DD" in res.output


def test_cli_crawl_unreachable_exits_1_with_one_line(tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{_closed_port()}/oai"
    env = {**os.environ, "AISEC_RADAR_CRAWL_RETRIES": "1", "AISEC_RADAR_CRAWL_DELAY": "0"}
    proc = subprocess.run([sys.executable, "-c", "from aisec_radar.cli import main; main()", "crawl", "--db",
                           str(tmp_path / "x.duckdb"), "--base-url", base, "--no-progress"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert errors == [errors[0]] and f"cannot reach arXiv at {base}" in errors[0]


# ------------------------------------------------------------------------------------------ kill -9


def _cli(db: Path, base: str) -> list[str]:
    return [sys.executable, "-c", "from aisec_radar.cli import main; main()", "crawl", "--db", str(db),
            "--base-url", base + "/oai", "--delay", "0", "--no-progress"]


@pytest.mark.slow
def test_kill_9_mid_harvest_then_rerun_equals_an_uninterrupted_run(tmp_path: Path, corpus_slice_path: Path) -> None:
    ref, killed = tmp_path / "ref.duckdb", tmp_path / "killed.duckdb"
    with run_standin(corpus_slice_path, page_size=10, now=NOW) as base:
        harvest(_settings(base, ref), progress=False)
    for kill_after in (3, 9):  # mid-way through the first set, then in the second
        with run_standin(corpus_slice_path, page_size=10, now=NOW, slow=0.25) as base:
            proc = subprocess.Popen(_cli(killed, base), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 120
            while base.server.stats.requests < kill_after and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        assert proc.returncode == -signal.SIGKILL
    partial = _snapshot(killed)
    assert len(partial["papers"]) < len(_snapshot(ref)["papers"])  # it really was cut short
    with run_standin(corpus_slice_path, page_size=10, now=NOW) as base:
        done = subprocess.run(_cli(killed, base), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert _snapshot(killed) == _snapshot(ref)


# ------------------------------------------------------------------------------------------ stand-in


def test_standin_speaks_oai_pmh_and_api_errors(standin: str) -> None:
    import urllib.error
    import urllib.request

    from aisec_radar.crawler.parsers import parse_atom_feed, parse_oai_page

    def oai(query: str) -> str | None:
        with urllib.request.urlopen(f"{standin}/oai?{query}") as resp:
            return parse_oai_page(resp.read()).error_code

    with urllib.request.urlopen(f"{standin}/oai?verb=Identify") as resp:
        assert b"<earliestDatestamp>2005-09-16</earliestDatestamp>" in resp.read()
    assert oai("verb=ListRecords&metadataPrefix=arXivRaw&set=cs:cs:CR&until=2001-01-01") == "noRecordsMatch"
    assert oai("verb=ListRecords&metadataPrefix=oai_marc") == "cannotDisseminateFormat"
    assert oai("verb=ListRecords&metadataPrefix=arXiv&from=yesterday") == "badArgument"
    assert oai("verb=ListRecords&resumptionToken=garbage") == "badResumptionToken"
    assert oai("verb=GetRecord&metadataPrefix=arXiv&identifier=oai:arXiv.org:0000.00000") == "idDoesNotExist"
    assert oai("verb=Dance") == "badVerb"
    with urllib.request.urlopen(f"{standin}/oai?verb=ListSets") as resp:
        assert b"<setSpec>cs:cs:CR</setSpec>" in resp.read()
    for query, message in (("id_list=abc", "incorrect id format for abc"),
                           ("search_query=cat:cs.CR&max_results=30001", "max_results")):
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"{standin}/api/query?{query}")
        assert info.value.code == 400
        assert message in (parse_atom_feed(info.value.read()).error or "")


def test_api_path_honours_retry_after_retries_bad_pages_and_names_the_operator(
        tmp_path: Path, corpus_slice_path: Path) -> None:
    ids = [r.arxiv_id for r in load_corpus(corpus_slice_path)][:3]
    for faults in ({"fail_every": 2, "retry_after": 1}, {"truncate_every": 2}):
        db = tmp_path / f"api{len(faults)}{list(faults)[0]}.duckdb"
        with run_standin(corpus_slice_path, **faults) as base:
            reports = [fetch_ids(_settings(base, db, contact="curators@example.org"), [i]) for i in ids]
            assert base.server.stats.faults >= 1
            agents = base.server.stats.user_agents
        assert sum(r.counts["new"] for r in reports) == 3 and not any(r.missing for r in reports)
        assert len(agents) == 1 and "mailto:curators@example.org" in next(iter(agents))
    db = tmp_path / "ua.duckdb"
    with run_standin(corpus_slice_path) as base:
        harvest(_settings(base, db, contact="curators@example.org"), progress=False)
        agents = base.server.stats.user_agents
    assert len(agents) == 1
    agent = agents.pop()
    assert agent.startswith("aisec-radar/") and "mailto:curators@example.org" in agent


def test_setwise_upsert_equals_one_by_one(tmp_path: Path) -> None:
    """store.papers.upsert_papers resolves a batch in one go; it must equal applying it paper by paper."""
    from aisec_radar.records import Paper, PaperVersion
    from aisec_radar.store import transaction
    from aisec_radar.store.papers import upsert_papers

    def p(i: int, **kw: object) -> Paper:
        base = {"arxiv_id": f"2601.{i:05d}", "title": f"Paper {i}", "abstract": "text", "authors": ["A B"],
                "categories": ["cs.CR"], "primary_category": "cs.CR", "published": date(2026, 1, 2),
                "updated": date(2026, 1, 2), "version": 1, "versions": [PaperVersion(1, datetime(2026, 1, 2))]}
        return Paper(**{**base, **kw})

    first = [p(1), p(2), p(3, version=None, versions=[])]
    second = [p(1), p(2, title="Paper 2, revised", version=2, updated=date(2026, 2, 1),
                      versions=[PaperVersion(1), PaperVersion(2, datetime(2026, 2, 1), "99kb")]),
              p(2, title="Paper 2, revised", version=2, updated=date(2026, 2, 1)),  # repeated in one batch
              p(3, version=None, versions=[], published=None, doi="10.1/x"),
              p(4, categories=["stat.ML", "cs.LG"], primary_category="stat.ML"),
              p(4, categories=["stat.ML", "cs.LG", "cs.CR"], primary_category="stat.ML", version=2)]
    batch_db, single_db = tmp_path / "batch.duckdb", tmp_path / "single.duckdb"
    totals = {}
    for db, chunks in ((batch_db, [first, second]), (single_db, [[x] for x in first + second])):
        init_db(db)
        total = {"new": 0, "updated": 0, "unchanged": 0, "text_changed": 0}
        for chunk in chunks:
            with transaction(db) as con:
                for k, v in upsert_papers(con, chunk, ["cs.CR", "cs.LG"]).as_dict().items():
                    total[k] += v
        totals[db] = total
    assert totals[batch_db] == totals[single_db] == {"new": 4, "updated": 3, "unchanged": 2, "text_changed": 1}
    assert _snapshot(batch_db) == _snapshot(single_db)


def test_harvest_runs_inside_a_running_event_loop(standin_settings: Settings) -> None:
    """Callers with their own asyncio loop (a web app, a notebook) can harvest too: it moves to a thread."""
    import asyncio

    async def main() -> CrawlReport:
        return harvest(standin_settings, progress=False)

    report = asyncio.run(main())
    assert report.counts["new"] > 0


def test_persistent_503_fails_the_run_after_bounded_retries(tmp_path: Path, corpus_slice_path: Path) -> None:
    db = tmp_path / "503.duckdb"
    with run_standin(corpus_slice_path, fail_every=1, retry_after=0) as base:
        with pytest.raises(CrawlError, match="answered HTTP 503 .* after 2 retries"):
            harvest(_settings(base, db, crawl_retries=2), progress=False)
        assert base.server.stats.requests == 3  # the first try and two retries, then it stops
    assert _ids(db) == set()
