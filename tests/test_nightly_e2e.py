"""The nightly job end to end: the real crawler over HTTP against the local arXiv stand-in, the real
classifier, the real digest, on a slice of the shared corpus.

Night 1 stores and classifies slice A and writes the digest; night 2 finds nothing new and exits 0;
a second nightly started while one runs exits with the locked code; night 3 meets a stand-in that
answers 503 after two requests: exit code for crawl failure, completed pages kept, database
consistent; night 4 recovers and brings in slice B.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from aisec_radar import jobs
from aisec_radar.config import Settings
from aisec_radar.store import connect
from aisec_radar.store.runs import last_runs

pytestmark = pytest.mark.slow

N_A, N_B = 90, 40  # papers in the first slice and in the one that arrives later

TINY = [  # enough for a working classifier when no trained model is shipped yet
    ("Universal jailbreak prompts make aligned chatbots produce harmful content", "jailbreak"),
    ("Multi-turn jailbreak attacks on large language models", "jailbreak"),
    ("Jailbreaking vision-language models with adversarial images", "jailbreak"),
    ("Backdoor attacks via poisoned training data with hidden triggers", "poisoning"),
    ("Clean-label data poisoning of image classifiers", "poisoning"),
    ("Poisoning retrieval-augmented generation knowledge bases", "poisoning"),
    ("Membership inference attacks against machine learning models", "membership_inference"),
    ("Likelihood ratio membership inference attacks from first principles", "membership_inference"),
    ("Label-only membership inference on image classifiers", "membership_inference"),
    ("Prompt injection attacks hijack LLM agents", "other_aisec"),
    ("Certified robustness against adversarial perturbations via randomized smoothing", "other_aisec"),
    ("Machine unlearning for deep networks", "other_aisec"),
    ("Efficient transformers for long sequences", "not_relevant"),
    ("Graph neural networks for molecule property prediction", "not_relevant"),
    ("Quantum key distribution over noisy channels", "not_relevant"),
    ("Diffusion models for high-resolution image synthesis", "not_relevant"),
]


@pytest.fixture(scope="module")
def classifier_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The shipped classifier when there is one, else a tiny one trained here with the real encoder."""
    from aisec_radar.classify.model import shipped_model_dir

    if shipped_model_dir().exists():
        return ""
    from aisec_radar.classify.builder import build_model
    from aisec_radar.classify.data import Example
    from aisec_radar.classify.encoder import encode_texts, paper_text

    tmp = tmp_path_factory.mktemp("model")
    s = Settings(db_path=str(tmp / "t.duckdb"))
    examples = [Example(id=f"t{i}", title=t, abstract="", label=lab,
                        role="attack" if lab != "not_relevant" else None, source="file")
                for i, (t, lab) in enumerate(TINY)]
    vecs = encode_texts(s, [paper_text(e.title) for e in examples])
    model = build_model(s, examples, {"title": vecs, "full": vecs},
                        {"C_relevance": 10.0, "C_type": 10.0, "C_type_title": 10.0}, k=3)
    return str(model.save(tmp / "model"))


@pytest.fixture(scope="module")
def slices(corpus_path: Path) -> tuple[list, list]:
    from aisec_radar.crawler.corpus import load_corpus

    recs = load_corpus(corpus_path)[-600:]  # OAI order: datestamp, id
    a = recs[:N_A]
    # B is strictly later than A, so a checkpoint taken after A sees all of B and none of A
    b = [r for r in recs if r.datestamp > a[-1].datestamp][:N_B]
    return a, b


def _count(db: Path, sql: str, params: list | None = None) -> int:
    with connect(db, read_only=True) as con:
        return int(con.execute(sql, params or []).fetchone()[0])


def _settings(db: Path, base: str, classifier: str) -> Settings:
    return jobs.with_base_url(Settings(db_path=str(db), crawl_delay=0.0, crawl_retries=1,
                                       classifier_path=classifier), base)


def _cli(db: Path, base: str, digests: Path) -> list[str]:
    return [sys.executable, "-c", "from aisec_radar.cli import main; main()", "nightly", "--db", str(db),
            "--base-url", base, "--digest-dir", str(digests), "--quiet"]


def _wait_for_lock(db: Path, proc: subprocess.Popen, timeout: float = 300) -> None:
    """Block until `proc` holds the nightly lock (probe with a non-blocking flock of our own)."""
    path = jobs.lock_path(db)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "first nightly ended before it was seen holding the lock"
        if path.exists():
            fd = os.open(path, os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(fd, fcntl.LOCK_UN)
            except BlockingIOError:
                return
            finally:
                os.close(fd)
        time.sleep(0.05)
    raise AssertionError("the first nightly never took the lock")


def test_nightly_end_to_end(slices: tuple[list, list], classifier_path: str, tmp_path: Path) -> None:
    from aisec_radar.crawler.standin import run_standin

    a, b = slices
    db = tmp_path / "nightly.duckdb"
    digests = tmp_path / "digests"
    now_a = datetime.combine(a[-1].datestamp + timedelta(days=1), datetime.min.time())
    now_b = datetime.combine(b[-1].datestamp + timedelta(days=1), datetime.min.time())
    ids_a = {r.arxiv_id for r in a}

    with run_standin(a, now=now_a, page_size=25) as base:
        s = _settings(db, base, classifier_path)
        # night 1: everything in slice A is stored, classified, and listed in the digest
        r1 = jobs.run_nightly(s, digest_dir=digests)
        assert r1.exit_code == 0, r1.error
        assert r1.counts["new_papers"] == len(ids_a) == _count(db, "SELECT count(*) FROM papers")
        assert r1.counts["classify"]["classified"] == len(ids_a)
        assert _count(db, "SELECT count(*) FROM effective_labels WHERE provenance = 'unclassified'") == 0
        # upkeep ran: the dashboard's pre-aggregated facts cover every paper; topic discovery reported
        assert "error" not in r1.counts["aggregates"], r1.counts["aggregates"]
        assert _count(db, "SELECT count(*) FROM paper_facts") == len(ids_a)
        assert "topics" in r1.counts
        digest = r1.digest_path.read_text()
        assert digest.startswith("# aisec-radar digest")
        relevant = _count(db, "SELECT count(*) FROM current_predictions WHERE relevance <> 'not_relevant'")
        assert relevant == 0 or "https://arxiv.org/abs/" in digest

        # night 2: nothing new, still success; the digest of the day keeps night 1's papers
        r2 = jobs.run_nightly(s, digest_dir=digests)
        assert r2.exit_code == 0, r2.error
        assert r2.counts["new_papers"] == 0 and r2.counts["classify"]["classified"] == 0
        assert r2.digest_path.read_text() == digest

        # a second nightly while one runs: the locked exit code, at once, and no run record
        runs_before = _count(db, "SELECT count(*) FROM runs WHERE kind = 'nightly'")
        env = {**os.environ, "AISEC_RADAR_CLASSIFIER_PATH": classifier_path, "AISEC_RADAR_CRAWL_DELAY": "0"}
        first = subprocess.Popen(_cli(db, base, digests), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env=env)
        try:
            _wait_for_lock(db, first)
            second = subprocess.run(_cli(db, base, digests), capture_output=True, text=True, timeout=300, env=env)
            assert second.returncode == jobs.EXIT_LOCKED, second.stderr
            assert "another nightly run holds" in second.stderr
        finally:
            out, err = first.communicate(timeout=600)
        assert first.returncode == 0, err
        assert "nightly ok" in out
        assert _count(db, "SELECT count(*) FROM runs WHERE kind = 'nightly'") == runs_before + 1

    checkpoints_before = _count(db, "SELECT count(*) FROM harvest_state")
    # night 3: slice B is out, but the stand-in fails after two requests
    with run_standin(a + b, now=now_b, page_size=10, fail_every=1, fault_after=2, retry_after=0) as base:
        r3 = jobs.run_nightly(_settings(db, base, classifier_path), digest_dir=digests)
    assert r3.exit_code == jobs.EXIT_CRAWL and r3.failed_stage == "crawl", r3.error
    assert "classify" not in r3.counts
    n3 = _count(db, "SELECT count(*) FROM papers")
    assert len(ids_a) <= n3 <= len(ids_a) + len(b)
    # consistent: every paper has its version rows, no run is left 'running'
    assert _count(db, "SELECT count(*) FROM papers p WHERE NOT EXISTS (SELECT 1 FROM paper_versions v "
                      "WHERE v.arxiv_id = p.arxiv_id)") == 0
    assert _count(db, "SELECT count(*) FROM runs WHERE status = 'running'") == 0
    assert _count(db, "SELECT count(*) FROM harvest_state") == checkpoints_before
    with connect(db, read_only=True) as con:
        last = last_runs(con, limit=1, kind="nightly")[0]
    assert last["status"] == "failed" and last["counts"]["exit_code"] == jobs.EXIT_CRAWL

    # night 4: the stand-in is healthy again; the run resumes and slice B arrives, classified
    with run_standin(a + b, now=now_b, page_size=10) as base:
        r4 = jobs.run_nightly(_settings(db, base, classifier_path), digest_dir=digests)
    assert r4.exit_code == 0, r4.error
    assert _count(db, "SELECT count(*) FROM papers") == len(ids_a | {r.arxiv_id for r in b})
    assert _count(db, "SELECT count(*) FROM effective_labels WHERE provenance = 'unclassified'") == 0
    # today's digest covers every night of today, the failed night's pages included
    digest = r4.digest_path.read_text()
    with connect(db, read_only=True) as con:
        listed = [r[0] for r in con.execute(
            "SELECT arxiv_id FROM effective_labels WHERE NOT list_contains(types, 'not_relevant')").fetchall()]
    assert all(f"https://arxiv.org/abs/{aid})" in digest for aid in listed)
    with connect(db, read_only=True) as con:
        kinds = [r["status"] for r in reversed(last_runs(con, kind="nightly"))]
    assert kinds == ["ok", "ok", "ok", "failed", "ok"]


def test_demo_command_on_a_small_corpus(slices: tuple[list, list], classifier_path: str, tmp_path: Path) -> None:
    """`aisec-radar demo --no-dashboard` serves a corpus file and runs the nightly into its own DB."""
    from click.testing import CliRunner

    from aisec_radar.cli import app
    from aisec_radar.crawler.corpus import write_corpus

    a, _ = slices
    recs = a[-30:]
    corpus = tmp_path / "mini.jsonl.gz"
    write_corpus(corpus, ({"id": r.arxiv_id, "version": r.version, "title": r.title, "abstract": r.abstract,
                           "authors": r.authors, "categories": r.categories, "primary_category": r.primary_category,
                           "published": r.published.isoformat(), "updated": r.updated.isoformat()} for r in recs))
    db = tmp_path / "demo.duckdb"
    days = (recs[-1].datestamp - recs[0].datestamp).days
    runner = CliRunner(env={"AISEC_RADAR_CLASSIFIER_PATH": classifier_path})
    r = runner.invoke(app, ["demo", "--corpus", str(corpus), "--db", str(db), "--days", str(days), "--no-dashboard",
                            "--quiet"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "nightly ok" in r.output
    assert _count(db, "SELECT count(*) FROM papers") == len(recs)
    assert _count(db, "SELECT count(*) FROM predictions") == len(recs)
    # the demo encodes with the hybrid backend (int8 ONNX for abstracts): its own cache key
    from dataclasses import replace

    from aisec_radar.classify.encoder import encoder_model_key

    key = encoder_model_key(replace(Settings(), encoder_backend="hybrid"))
    assert key.startswith("all-MiniLM-L6-v2") and key.endswith("@hybrid")
    assert _count(db, "SELECT count(*) FROM embeddings WHERE model = ?", [key]) == len(recs)
