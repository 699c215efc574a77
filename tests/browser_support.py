"""What the browser tests share: Debian's Chromium, a running `aisec-radar dashboard`, screenshots."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
REPO = Path(__file__).resolve().parents[1]


def require_browser() -> None:
    """Skip cleanly where Debian's chromium or Playwright's Python package is missing (never download one)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (make browser-deps)")
    pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"dashboard exited early with {proc.returncode}: {proc.stdout.read()}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError("dashboard did not become ready")


@contextmanager
def running_dashboard(db: Path, cwd: Path, secret_hash: str) -> Iterator[str]:
    """`aisec-radar dashboard` on a free port, as a user starts it; yields its URL, stops it after."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AISEC_RADAR_")}
    env["AISEC_RADAR_CURATOR_SECRET_HASH"] = secret_hash
    aisec = shutil.which("aisec-radar", path=str(Path(sys.executable).parent)) or "aisec-radar"
    proc = subprocess.Popen([aisec, "dashboard", "--db", str(db), "--port", str(port)], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def shots_dir() -> Path:
    """artifacts/screenshots (ignored), or AISEC_RADAR_SCREENSHOTS=docs/screenshots to refresh the docs' ones."""
    d = Path(os.environ.get("AISEC_RADAR_SCREENSHOTS", REPO / "artifacts" / "screenshots"))
    if not d.is_absolute():
        d = REPO / d
    d.mkdir(parents=True, exist_ok=True)
    return d
