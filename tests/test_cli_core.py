"""The foundation commands as users call them: exit codes and messages for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from aisec_radar.cli import app
from aisec_radar.records import Paper
from aisec_radar.store import transaction
from aisec_radar.store.papers import upsert_papers


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aisec_radar", *args], capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def filled_db(db_path: Path) -> Path:
    with transaction(db_path) as con:
        upsert_papers(con, [Paper(arxiv_id="2601.00001", title="Jailbreaking LLMs", abstract="x",
                                  categories=["cs.CR"], primary_category="cs.CR", published=date(2026, 1, 2))])
    return db_path


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), obj={})


def test_help_is_fast_and_lists_commands() -> None:
    out = run("--help")
    assert out.returncode == 0
    for cmd in ("init", "stats", "label", "labels"):
        assert cmd in out.stdout
    # --help must not pay for torch: check in a fresh interpreter.
    probe = subprocess.run(
        [sys.executable, "-c", "import sys; from aisec_radar.cli import app\n"
         "try:\n    app(['--help'], obj={})\nexcept SystemExit:\n    pass\n"
         "print('torch' in sys.modules, 'streamlit' in sys.modules, 'scrapy' in sys.modules)"],
        capture_output=True, text=True, timeout=60)
    assert probe.stdout.strip().splitlines()[-1] == "False False False"


def test_init_and_stats_json(tmp_path: Path) -> None:
    db = tmp_path / "new.duckdb"
    assert invoke("init", "--db", str(db)).exit_code == 0
    res = invoke("stats", "--db", str(db), "--json")
    assert res.exit_code == 0, res.output
    st = json.loads(res.output)
    assert st["papers"] == 0 and st["labels"] == 0 and st["last_run"] is None


def test_label_then_stats_counts_type_and_axis(filled_db: Path) -> None:
    res = invoke("label", "2601.00001v2", "--attack", "jailbreak", "--role", "attack", "--curator", "ana",
                 "--db", str(filled_db))
    assert res.exit_code == 0, res.output
    st = json.loads(invoke("stats", "--db", str(filled_db), "--json").output)
    assert st["labels"] == 1 and st["per_type"] == {"jailbreak": 1} and st["per_axis"] == {"DM": 1}
    st = json.loads(invoke("stats", "--db", str(filled_db), "--json", "--axis-map", "openreview").output)
    assert st["per_axis"] == {"DD": 1}


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["label", "2601.00001", "--attack", "jailbrake"], 2, "unknown attack type 'jailbrake'; valid types:"),
        (["label", "2601.99999", "--attack", "jailbreak"], 2, "paper 2601.99999 is not in"),
        (["label", "2601.00001", "--attack", "jailbreak", "--role", "hacker"], 2, "unknown role 'hacker'"),
        (["labels", "import", "missing.jsonl"], 2, "labels file missing.jsonl does not exist"),
    ],
)
def test_bad_input_exits_non_zero_naming_the_problem(filled_db: Path, args: list[str], code: int,
                                                     message: str) -> None:
    out = run(*args, "--db", str(filled_db))
    assert out.returncode == code, out.stderr
    assert message in out.stderr
    assert "Traceback" not in out.stderr


def test_broken_config_exits_2(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("crawl_delay = 'soon'\n")
    out = run("--config", str(cfg), "stats", "--db", str(tmp_path / "x.duckdb"))
    assert out.returncode == 2
    assert "setting 'crawl_delay'" in out.stderr and "expected number" in out.stderr


def test_bad_label_file_names_line_and_writes_nothing(filled_db: Path, tmp_path: Path) -> None:
    f = tmp_path / "labels.jsonl"
    good = {"arxiv_id": "2601.00001", "types": ["jailbreak"], "curator": "ana", "created_at": "2026-01-01T00:00:00"}
    f.write_text(json.dumps(good) + "\n" + json.dumps({**good, "types": ["nope"]}) + "\n")
    out = run("labels", "import", str(f), "--db", str(filled_db))
    assert out.returncode == 2 and "labels.jsonl:2" in out.stderr and "'nope'" in out.stderr
    st = json.loads(invoke("stats", "--db", str(filled_db), "--json").output)
    assert st["labels"] == 0


def test_labels_export_import_round_trip_preserves_history(filled_db: Path, tmp_path: Path) -> None:
    for attack in ("jailbreak", "poisoning", "harmful_finetuning"):
        assert invoke("label", "2601.00001", "--attack", attack, "--curator", "ana", "--note", attack,
                      "--db", str(filled_db)).exit_code == 0
    out = tmp_path / "labels.jsonl"
    assert invoke("labels", "export", str(out), "--db", str(filled_db)).exit_code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["types"] for r in rows] == [["jailbreak"], ["poisoning"], ["harmful_finetuning"]]
    fresh = tmp_path / "fresh.duckdb"
    res = invoke("labels", "import", str(out), "--db", str(fresh))
    assert res.exit_code == 0 and "imported 3 label(s)" in res.output
    assert "not in the store yet" in res.output
    again = invoke("labels", "import", str(out), "--db", str(fresh))
    assert "imported 0 label(s), 3 already present" in again.output
    out2 = tmp_path / "labels2.jsonl"
    invoke("labels", "export", str(out2), "--db", str(fresh))
    assert out2.read_text() == out.read_text()
