"""The scheduling recipes in docs/ops are tested as far as this machine allows: every aisec-radar
command line in them uses real commands and flags; the systemd units pass `systemd-analyze verify`
(with paths pointed at this checkout) and the timer's calendar parses; the crontab line has valid
fields; the workflow is valid YAML with the cache restore/save pair around the nightly step."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
import yaml

from aisec_radar.cli import app

REPO = Path(__file__).resolve().parents[1]
OPS = REPO / "docs" / "ops"


def _check_command_line(line: str) -> None:
    """Every `aisec-radar <cmd> [<sub>] --flag` in line must exist in the CLI."""
    for m in re.finditer(r"aisec-radar\s+([^;&|>\n]+)", line):
        words = shlex.split(m.group(1))
        ctx = click.Context(app)
        cmd: click.Command | None = app.get_command(ctx, words[0])
        assert cmd is not None, f"unknown command {words[0]!r} in: {line}"
        rest = words[1:]
        if isinstance(cmd, click.Group):
            cmd = cmd.get_command(ctx, rest[0])
            assert cmd is not None, f"unknown subcommand in: {line}"
            rest = rest[1:]
        known = {opt for p in cmd.params for opt in p.opts + p.secondary_opts}
        for w in rest:
            if w.startswith("--"):
                assert w.split("=")[0] in known, f"{w} is not an option of {cmd.name} (in: {line})"


def test_crontab_line() -> None:
    lines = [ln for ln in (OPS / "crontab.txt").read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert len(lines) == 1
    fields = lines[0].split(None, 5)
    ranges = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
    for f, (lo, hi) in zip(fields[:5], ranges, strict=True):
        assert f == "*" or lo <= int(f) <= hi, f
    assert "%" not in fields[5]  # cron turns % into newlines
    _check_command_line(fields[5])
    # cron runs the command with /bin/sh
    assert subprocess.run(["sh", "-n", "-c", fields[5]]).returncode == 0


def test_crontab_command_runs(tmp_path: Path) -> None:
    """Run the crontab command itself (paths moved to a temp folder). Without network it must print one
    failure line for cron to mail; while another nightly holds the lock it must print nothing."""
    from aisec_radar import jobs

    line = next(ln for ln in (OPS / "crontab.txt").read_text().splitlines() if ln.strip() and not ln.startswith("#"))
    command = line.split(None, 5)[5].replace("/srv/aisec-radar", str(tmp_path))
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "aisec-radar").symlink_to(Path(sys.executable).parent / "aisec-radar")
    (tmp_path / "data").mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "HF_HUB_OFFLINE": "1",
           # stands for "arXiv unreachable" on any machine: nothing listens on the discard port
           "AISEC_RADAR_OAI_BASE_URL": "http://127.0.0.1:9/oai"}
    r = subprocess.run(["sh", "-c", command], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0  # the `|| { ... }` part handled the failure
    assert r.stdout.strip() == (f"aisec-radar nightly failed with exit code 3; see {tmp_path}/data/nightly.log")
    assert "arXiv cannot be reached" in (tmp_path / "data" / "nightly.log").read_text()
    with jobs.nightly_lock(tmp_path / "data" / "aisec-radar.duckdb"):
        r = subprocess.run(["sh", "-c", command], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == ""


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_units_verify(tmp_path: Path) -> None:
    service = (OPS / "aisec-radar-nightly.service").read_text()
    exec_start = re.search(r"^ExecStart=(.*)$", service, re.M).group(1)
    _check_command_line(exec_start)
    local = service.replace("/srv/aisec-radar/.venv/bin/aisec-radar", str(Path(sys.executable).parent / "aisec-radar"))
    local = local.replace("/srv/aisec-radar", str(REPO)).replace("User=aisec", "User=root")
    (tmp_path / "aisec-radar-nightly.service").write_text(local)
    shutil.copy(OPS / "aisec-radar-nightly.timer", tmp_path)
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", str(tmp_path / "aisec-radar-nightly.timer"),
                        str(tmp_path / "aisec-radar-nightly.service")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "Unknown" not in r.stderr and "ignoring" not in r.stderr, r.stderr
    cal = re.search(r"^OnCalendar=(.*)$", (OPS / "aisec-radar-nightly.timer").read_text(), re.M).group(1)
    r = subprocess.run(["systemd-analyze", "calendar", cal], capture_output=True, text=True)
    assert r.returncode == 0 and "Next elapse" in r.stdout, r.stderr


def test_github_workflow() -> None:
    wf = yaml.safe_load((OPS / "github-nightly.yml").read_text())
    triggers = wf[True] if True in wf else wf["on"]  # YAML 1.1 reads a bare `on` as True
    assert triggers["schedule"][0]["cron"].count(" ") == 4
    steps = wf["jobs"]["nightly"]["steps"]
    uses = [s.get("uses", "") for s in steps]
    names = [s.get("name", "") for s in steps]
    i_restore = next(i for i, u in enumerate(uses) if u.startswith("actions/cache/restore"))
    i_nightly = names.index("Nightly")
    i_save = next(i for i, u in enumerate(uses) if u.startswith("actions/cache/save"))
    assert i_restore < i_nightly < i_save
    assert steps[i_save]["if"] == "always()"
    assert steps[i_restore]["with"]["path"] == steps[i_save]["with"]["path"]
    assert steps[i_save]["with"]["key"].startswith(steps[i_restore]["with"]["restore-keys"])
    for s in steps:
        if "run" in s:
            for line in s["run"].splitlines():
                _check_command_line(line)
            assert subprocess.run(["bash", "-n", "-c", s["run"]]).returncode == 0  # Actions' default shell
