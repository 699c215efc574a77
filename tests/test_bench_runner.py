"""bench/run_all.py: figures parsed from a script's JSON lines, failures become rows, one Markdown table."""

from __future__ import annotations

import sys
from pathlib import Path

from bench_support import load_bench


def _run_all():
    return load_bench("run_all")


def test_run_one_parses_json_lines_and_reports_failure(tmp_path: Path) -> None:
    ra = _run_all()
    script = tmp_path / "bench_x.py"
    script.write_text(
        "import json, sys\n"
        "print('warming up')\n"
        "print(json.dumps({'name': 'x.rate', 'value': 12.5, 'unit': 'texts/s', 'goal': '>= 10'}))\n"
        "print('{not json')\n"
        "print(json.dumps({'name': 'x.size', 'value': 3, 'unit': 'MiB'}))\n"
        "sys.exit(3)\n"
    )
    figures, secs, err = ra.run_one(script, timeout=60)
    assert [f["name"] for f in figures] == ["x.rate", "x.size"]
    assert err == "exit code 3" and secs >= 0
    table = ra.table([("x", f) for f in figures] + [("x", {"name": "x.error", "value": err, "unit": ""})])
    lines = table.splitlines()
    assert lines[0] == "| bench | figure | value | unit | goal |"
    assert "| x | x.rate | 12.5 | texts/s | >= 10 |" in lines
    assert "| x | x.error | exit code 3 |  |  |" in lines


def test_discover_filters_by_area() -> None:
    ra = _run_all()
    names = [p.stem for p in ra.discover({"encoder", "queries"}, set())]
    assert names == ["bench_encoder", "bench_queries"]
    assert "bench_encoder" not in [p.stem for p in ra.discover(set(), {"encoder"})]
    assert sys.executable  # the runner uses the current interpreter for every script
    assert "core" in ra.machine()


def test_routed_cv_takes_titles_from_the_specialist_and_the_rest_from_the_main_run() -> None:
    import pytest

    rc = load_bench("routed_cv")

    def run(tag: str, n_titles: int = 3, folds: int = 5) -> dict:
        sets = {"titles": {"n": n_titles, "macro_f1": tag}, "stream_full": {"n": 7, "macro_f1": tag}}
        return {"folds": folds, "config": {"tag": tag}, "metrics": sets, "metrics_full": sets}

    res = rc.routed(run("main"), run("title"))
    assert res["metrics"]["titles"]["macro_f1"] == "title" and res["metrics_full"]["titles"]["macro_f1"] == "title"
    assert res["metrics"]["stream_full"]["macro_f1"] == "main"
    with pytest.raises(ValueError, match="titles: 3 vs 4"):
        rc.routed(run("main"), run("title", n_titles=4))
    with pytest.raises(ValueError, match="different folds"):
        rc.routed(run("main"), run("title", folds=3))
