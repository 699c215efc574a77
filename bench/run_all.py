"""Run every bench/bench_*.py, print one table, append it (dated, with the machine) to docs/benchmarks.md.

Each benchmark is a standalone script that prints one JSON object per figure on stdout:
``{"name", "value", "unit", "goal"?, ...}``; anything else on stdout is ignored and stderr goes to
the terminal. A script that fails or times out is one row saying so, and the others still run,
so `make bench` always ends with the whole table. Usage:

    python bench/run_all.py [--only encoder,queries] [--skip demo] [--timeout 1200] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
DOC = REPO / "docs" / "benchmarks.md"
DOC_HEADER = """# Benchmarks

Figures measured by `make bench` (bench/run_all.py runs every bench/bench_*.py). Each developer's
section below explains their figures; the dated "Run" sections at the end are appended by the runner
with the machine they ran on. Ratios are measured side by side in one run; absolute rates depend on
the machine and on its load.
"""


def machine() -> str:
    """One line: CPU model, cores, memory, GPU if any — enough to compare two runs."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(next(line for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal")).split()[1])
        mem = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        pass
    gpu = "no GPU"
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                                 text=True, timeout=10).stdout.strip()
            gpu = out.splitlines()[0] if out else gpu
        except (OSError, subprocess.SubprocessError):
            pass
    return f"{os.cpu_count()}-core {platform.machine()} ({cpu}){mem}, {gpu}, Python {platform.python_version()}"


def discover(only: set[str], skip: set[str]) -> list[Path]:
    scripts = sorted(BENCH.glob("bench_*.py"))
    area = lambda p: p.stem[len("bench_"):]  # noqa: E731
    return [p for p in scripts if (not only or area(p) in only) and area(p) not in skip]


def run_one(script: Path, timeout: float) -> tuple[list[dict[str, Any]], float, str | None]:
    """(figures, seconds, error) of one benchmark script run in its own process."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, str(script)], cwd=REPO, env=env, stdout=subprocess.PIPE,
                              stderr=None, text=True, timeout=timeout)
        out, err = proc.stdout, (None if proc.returncode == 0 else f"exit code {proc.returncode}")
    except subprocess.TimeoutExpired as exc:
        raw = exc.stdout or ""
        out = raw.decode() if isinstance(raw, bytes) else raw
        err = f"timed out after {timeout:.0f}s"
    figures = []
    for line in out.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and "name" in obj and "value" in obj:
            figures.append(obj)
    return figures, time.perf_counter() - t0, err


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1000 else f"{v:,.0f}"
    if v is None:
        return "—"
    return str(v)


def table(rows: list[tuple[str, dict[str, Any]]]) -> str:
    """A Markdown table (also readable in a terminal)."""
    lines = ["| bench | figure | value | unit | goal |", "|---|---|---|---|---|"]
    for area, fig in rows:
        cell = lambda x: _fmt(x).replace("|", "\\|")  # noqa: E731
        lines.append(f"| {area} | {cell(fig['name'])} | {cell(fig.get('value'))} | {cell(fig.get('unit', ''))} | "
                     f"{cell(fig.get('goal', ''))} |")
    return "\n".join(lines)


def append_doc(text: str) -> None:
    DOC.parent.mkdir(parents=True, exist_ok=True)
    if not DOC.exists():
        DOC.write_text(DOC_HEADER, encoding="utf-8")
    with DOC.open("a", encoding="utf-8") as f:
        f.write("\n" + text + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="comma-separated areas (bench_<area>.py) to run")
    ap.add_argument("--skip", default="", help="comma-separated areas to leave out")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per benchmark script")
    ap.add_argument("--no-write", action="store_true", help="print only; do not append to docs/benchmarks.md")
    args = ap.parse_args()
    split = lambda s: {x.strip() for x in s.split(",") if x.strip()}  # noqa: E731
    scripts = discover(split(args.only), split(args.skip))
    if not scripts:
        print("run_all: no benchmark matched", file=sys.stderr)
        return 2
    started = datetime.now(UTC)
    rows: list[tuple[str, dict[str, Any]]] = []
    failed = 0
    for script in scripts:
        area = script.stem[len("bench_"):]
        print(f"== {script.name}", file=sys.stderr, flush=True)
        figures, secs, err = run_one(script, args.timeout)
        rows.extend((area, fig) for fig in figures)
        if err:
            failed += 1
            rows.append((area, {"name": f"{area}.error", "value": err, "unit": ""}))
        rows.append((area, {"name": f"{area}.bench_wall_time", "value": round(secs, 1), "unit": "s"}))
    text = table(rows)
    print(text)
    if not args.no_write:
        head = (f"## Run {started:%Y-%m-%d %H:%M} UTC\n\nMachine: {machine()}. "
                f"Load average at start: {os.getloadavg()[0]:.1f}. Scripts: {', '.join(s.name for s in scripts)}.\n")
        append_doc(head + "\n" + text)
        print(f"\nappended to {DOC.relative_to(REPO)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
