"""Nightly pieces that need neither crawler nor model: the lock, exit codes, stage failure handling.

The end-to-end run against the stand-in lives in test_nightly_e2e.py. Here the stages are replaced
with stubs (unit tests of one function) to check the orchestration contract: a failed stage keeps
earlier work, records the run as failed and maps to its exit code.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from export_fixtures import populate

from aisec_radar import jobs
from aisec_radar.cli import app
from aisec_radar.config import Settings
from aisec_radar.errors import ClassifyError, CrawlError
from aisec_radar.records import Label
from aisec_radar.store import connect, transaction
from aisec_radar.store.labels import add_label
from aisec_radar.store.runs import last_runs


def test_lock_excludes_a_second_process(db_path: Path) -> None:
    with jobs.nightly_lock(db_path) as lock:
        assert lock.read_text() == str(__import__("os").getpid())
        # another process trying the same lock fails at once
        code = (
            "import sys; from aisec_radar import jobs\n"
            "try:\n"
            f"    with jobs.nightly_lock({str(db_path)!r}): sys.exit(0)\n"
            "except jobs.NightlyLocked as e: print(e); sys.exit(e.exit_code)\n"
        )
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert p.returncode == jobs.EXIT_LOCKED, p.stderr
        assert "another nightly run holds" in p.stdout
        with pytest.raises(jobs.NightlyLocked):  # and so does a second acquire in this process
            with jobs.nightly_lock(db_path):
                pass
    with jobs.nightly_lock(db_path):  # released on exit
        pass


def test_unreachable_host_gives_one_clear_line(db_path: Path, tmp_path: Path) -> None:
    s = Settings(db_path=str(db_path), oai_base_url="http://127.0.0.1:9/oai")  # discard port: refused
    rep = jobs.run_nightly(s, days=7, digest_dir=tmp_path)
    assert rep.exit_code == jobs.EXIT_CRAWL and rep.failed_stage == "crawl"
    assert "arXiv cannot be reached at 127.0.0.1:9" in rep.error and "make demo" in rep.error
    with connect(db_path, read_only=True) as con:
        (run,) = last_runs(con, kind="nightly")
    assert run["status"] == "failed" and run["counts"]["exit_code"] == jobs.EXIT_CRAWL
    r = CliRunner().invoke(app, ["nightly", "--db", str(db_path), "--base-url", "http://127.0.0.1:9",
                                 "--digest-dir", str(tmp_path)])
    assert r.exit_code == jobs.EXIT_CRAWL
    assert "arXiv cannot be reached" in r.output


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> dict:
    calls: dict = {"crawl": 0, "classify": 0, "train": 0, "fail": None}

    def crawl(settings, since, until, progress):
        calls["crawl"] += 1
        calls["since"] = since
        if calls["fail"] == "crawl":
            raise CrawlError("stand-in said 503 five times")
        return {"new": 0}

    def classify(settings, progress):
        calls["classify"] += 1
        if calls["fail"] == "classify":
            raise ClassifyError("encoder broke")
        return {"classified": 0}

    def train(settings, total, progress):
        calls["train"] += 1
        if calls["fail"] == "train":
            raise ClassifyError("no labels")
        with transaction(settings.db_path) as con:
            jobs.set_state(con, jobs.RETRAIN_BASELINE_KEY, str(total))
        return {"status": "promoted" if calls.get("promote") else "not promoted", "model_version": "x",
                "reason": "gate"}

    monkeypatch.setattr(jobs, "_stage_crawl", crawl)
    monkeypatch.setattr(jobs, "_stage_classify", classify)
    monkeypatch.setattr(jobs, "_stage_train", train)
    monkeypatch.setattr(jobs, "check_reachable", lambda url, timeout=10.0: None)
    return calls


def test_stage_failures_map_to_exit_codes(db_path: Path, tmp_path: Path, stubbed: dict) -> None:
    populate(db_path)
    s = Settings(db_path=str(db_path), retrain_min_labels=3)
    rep = jobs.run_nightly(s, days=3, digest_dir=tmp_path)
    assert rep.exit_code == 0, rep.error
    assert stubbed["since"] is not None  # no checkpoint yet: window from today - 3 days
    assert rep.counts["train"]["status"] == "skipped" and rep.counts["train"]["new_labels"] == 2
    assert rep.digest_path is not None and rep.digest_path.exists()

    stubbed["fail"] = "crawl"
    rep = jobs.run_nightly(s, digest_dir=tmp_path)
    assert rep.exit_code == jobs.EXIT_CRAWL and stubbed["classify"] == 1  # classify did not run
    stubbed["fail"] = "classify"
    rep = jobs.run_nightly(s, digest_dir=tmp_path)
    assert rep.exit_code == jobs.EXIT_CLASSIFY and "encoder broke" in rep.error

    with transaction(db_path) as con:
        add_label(con, Label("2502.00004", ["not_relevant"], "carol"))  # 3 labels now: retrain due
    stubbed["fail"] = "train"
    rep = jobs.run_nightly(s, digest_dir=tmp_path)
    assert rep.exit_code == jobs.EXIT_TRAIN and rep.digest_path is not None  # digest still written
    stubbed["fail"] = None
    rep = jobs.run_nightly(s, digest_dir=tmp_path)
    assert rep.exit_code == 0 and rep.counts["train"]["status"] == "not promoted"
    rep = jobs.run_nightly(s, digest_dir=tmp_path)  # the baseline moved: no retrain the night after
    assert rep.counts["train"]["status"] == "skipped" and stubbed["train"] == 2

    # a promoted model re-classifies (papers predicted by the old model are stale now)
    with transaction(db_path) as con:
        for _ in range(3):
            add_label(con, Label("2502.00004", ["not_relevant"], "dave"))
    stubbed["promote"] = True
    before = stubbed["classify"]
    rep = jobs.run_nightly(s, digest_dir=tmp_path)
    assert rep.exit_code == 0 and rep.counts["train"]["status"] == "promoted" and "reclassify" in rep.counts
    assert stubbed["classify"] == before + 2

    with connect(db_path, read_only=True) as con:
        runs = last_runs(con, kind="nightly")
    assert [r["counts"]["exit_code"] for r in reversed(runs)] == [0, 3, 4, 5, 0, 0, 0]
    assert [r["status"] for r in reversed(runs)] == ["ok", "failed", "failed", "failed", "ok", "ok", "ok"]
    assert all(r["finished_at"] is not None for r in runs)
    assert "crawl: stand-in said 503" in runs[-2]["error"]
    assert "classify: encoder broke" in runs[-3]["error"]


def test_nightly_help_documents_exit_codes() -> None:
    r = CliRunner().invoke(app, ["nightly", "--help"])
    assert r.exit_code == 0
    for code in (0, 3, 4, 8):
        assert f"  {code}  " in r.output
    assert "another nightly run holds the lock" in r.output


def _records(n: int) -> list[dict]:
    """A hand-made corpus: enough records for several slow OAI pages."""
    return [{"id": f"2601.{i:05d}", "version": 1, "title": f"Paper {i} on membership inference",
             "abstract": "An abstract.", "authors": ["A. Author"], "categories": ["cs.CR"],
             "primary_category": "cs.CR", "published": "2026-01-05", "updated": "2026-01-05"} for i in range(n)]


def test_sigterm_closes_the_run_and_a_killed_run_is_closed_later(db_path: Path, tmp_path: Path) -> None:
    """systemd stops a job with SIGTERM: the run row ends 'failed' (interrupted), exit 130. A run killed
    with SIGKILL leaves a 'running' row; the next nightly (holding the lock) closes it as abandoned."""
    import os
    import signal
    import time

    from aisec_radar.crawler.standin import run_standin

    with run_standin(_records(40), page_size=5, slow=0.5) as base:
        cmd = [sys.executable, "-c", "from aisec_radar.cli import main; main()", "nightly", "--db", str(db_path),
               "--base-url", base, "--digest-dir", str(tmp_path), "--quiet"]
        env = {**os.environ, "AISEC_RADAR_CRAWL_DELAY": "0"}
        for sig, code in ((signal.SIGTERM, jobs.EXIT_INTERRUPTED), (signal.SIGKILL, -signal.SIGKILL)):
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:  # wait until this process's crawl is under way
                time.sleep(0.3)
                try:
                    with connect(db_path, read_only=True, timeout=1) as con:
                        if con.execute("SELECT count(*) FROM runs WHERE kind = 'crawl' AND status = 'running'"
                                       ).fetchone()[0] > 0:
                            break
                except Exception:  # noqa: BLE001 - the writer holds the file for a moment
                    continue
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == code, err
            with connect(db_path, read_only=True) as con:
                run = last_runs(con, limit=1, kind="nightly")[0]
            if sig == signal.SIGTERM:
                assert run["status"] == "failed" and "interrupted during crawl" in run["error"], run
                assert "nightly interrupted" in err
            else:
                assert run["status"] == "running"
    s = Settings(db_path=str(db_path), oai_base_url="http://127.0.0.1:9/oai")
    jobs.run_nightly(s, digest_dir=tmp_path)  # fails at once (nothing listens), but first closes the dead row
    with connect(db_path, read_only=True) as con:
        runs = last_runs(con, limit=2, kind="nightly")
        assert con.execute("SELECT count(*) FROM runs WHERE kind = 'nightly' AND status = 'running'").fetchone()[0] == 0
    assert runs[1]["status"] == "failed" and runs[1]["error"].startswith("abandoned")
    assert runs[0]["counts"]["abandoned_runs_closed"] == 1


def test_a_sigterm_lost_in_a_finaliser_is_delivered_again() -> None:
    """A signal handler's KeyboardInterrupt raised while Python runs a finaliser (or importlib's
    module-lock callback, as seen once in CI) is printed as "Exception ignored" and lost, and the job
    would run on past its SIGTERM. The nightly's handler delivers it again from sys.unraisablehook;
    any other unraisable error still goes to the previous hook and changes nothing."""
    script = textwrap.dedent("""
        import os, signal, time
        from aisec_radar.cli.nightly import _sigterm_as_interrupt
        _sigterm_as_interrupt()
        class Other:
            def __del__(self):
                raise ValueError("not ours")
        class Stop:
            def __del__(self):
                os.kill(os.getpid(), signal.SIGTERM)
                for _ in range(1000):  # the handler runs here, inside the finaliser
                    pass
        Other()
        print("after other", flush=True)
        try:
            Stop()
            time.sleep(5)
            print("ran on")
        except KeyboardInterrupt as exc:
            print("interrupted:", exc)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.stdout.splitlines() == ["after other", "interrupted: signal 15"], proc.stderr
    assert "ValueError: not ours" in proc.stderr  # the previous hook still reports other errors
