"""The nightly job: crawl (incremental) -> classify new and stale -> retrain when enough new labels
arrived -> refresh dashboard aggregates and topic candidates -> write the digest. One run record,
counts and timings per stage, and exit codes that mean something to cron.

Each stage commits its own work (the crawler page by page, the classifier batch by batch), so a
failure leaves everything before it in place and the next night resumes from the crawl checkpoint
and the still-unclassified papers. A file lock (not the database lock, which is held only for
moments) keeps two nightly runs from overlapping; the second one exits at once with EXIT_LOCKED.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from aisec_radar.config import Settings
from aisec_radar.errors import AisecRadarError, CrawlError, DatabaseLocked
from aisec_radar.store import connect, transaction
from aisec_radar.store.jobs import (
    close_abandoned_runs,
    curator_label_count,
    get_state,
    harvest_checkpoints,
    prune_state,
    set_state,
)
from aisec_radar.store.runs import finish_run, start_run

log = logging.getLogger(__name__)

# Exit codes of `aisec-radar nightly` (documented in its --help and docs/operations.md).
EXIT_OK = 0  # success, whether or not arXiv announced anything new
EXIT_ERROR = 1  # unexpected error (a bug): see the traceback in the run record
EXIT_CONFIG = 2  # bad settings or flags
EXIT_CRAWL = 3  # crawl failed (arXiv unreachable, repeated 503s, bad response); earlier pages are kept
EXIT_CLASSIFY = 4  # classification failed; crawled papers are kept and classified next run
EXIT_TRAIN = 5  # retraining failed; predictions and digest were still produced with the current model
EXIT_DIGEST = 6  # the digest could not be written (disk, permissions)
EXIT_LOCKED = 8  # another nightly holds the lock: nothing was done
EXIT_INTERRUPTED = 130  # SIGINT/SIGTERM: the run row is closed as failed before exiting
# 75 (EX_TEMPFAIL) comes from the store when another process kept the database busy too long.

EXIT_CODES: dict[int, str] = {
    EXIT_OK: "success (new papers or none)",
    EXIT_ERROR: "unexpected error",
    EXIT_CONFIG: "bad settings or flags",
    EXIT_CRAWL: "crawl failed; papers of completed pages are kept, the next run resumes",
    EXIT_CLASSIFY: "classification failed; crawled papers are kept and classified by the next run",
    EXIT_TRAIN: "retraining failed; the current model stays in use, predictions and digest were written",
    EXIT_DIGEST: "the digest could not be written",
    EXIT_LOCKED: "another nightly run holds the lock; nothing was done",
    130: "interrupted (Ctrl-C or SIGTERM); recorded as failed, the next run resumes",
    75: "the database stayed locked by another process (retry later)",
}

RETRAIN_BASELINE_KEY = "retrain_label_baseline"
LAST_OK_START_KEY = "last_ok_nightly_start"


class NightlyLocked(AisecRadarError):
    """Another nightly run is in progress on the same database."""

    exit_code = EXIT_LOCKED


class SourceUnreachable(CrawlError):
    """The arXiv host (or the configured stand-in) does not accept connections."""

    exit_code = EXIT_CRAWL


def lock_path(db_path: str | Path) -> Path:
    return Path(str(db_path) + ".nightly.lock")


@contextmanager
def nightly_lock(db_path: str | Path) -> Iterator[Path]:
    """Hold an exclusive flock on '<db>.nightly.lock'; raise NightlyLocked at once if another holds it.

    flock is released by the kernel when the process dies, so a crashed run never leaves a stale lock.
    """
    path = lock_path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = ""
            try:
                holder = os.pread(fd, 64, 0).decode("ascii", "ignore").strip()
            except OSError:
                pass
            raise NightlyLocked(
                f"another nightly run holds {path}{f' (pid {holder})' if holder else ''}; nothing done"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield path
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def check_reachable(url: str, timeout: float = 10.0) -> None:
    """Fail fast with one clear line when the harvest host does not answer at all (no network)."""
    u = urlparse(url)
    host = u.hostname or ""
    port = u.port or (443 if u.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        raise SourceUnreachable(
            f"arXiv cannot be reached at {host}:{port} ({exc.__class__.__name__}: {exc}); "
            "without network, `make demo` runs the same pipeline on the local corpus"
        ) from exc


def with_base_url(settings: Settings, base_url: str | None) -> Settings:
    """Point both harvest endpoints at one host, as the local stand-in serves them (<base>/oai, <base>/api/query)."""
    if not base_url:
        return settings
    base = base_url.rstrip("/")
    return replace(settings, oai_base_url=base + "/oai", api_base_url=base + "/api/query")


@dataclass
class NightlyReport:
    run_id: int | None
    exit_code: int
    counts: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    failed_stage: str | None = None
    error: str | None = None
    digest_path: Path | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == EXIT_OK

    def summary(self) -> str:
        c = self.counts
        crawl = c.get("crawl", {})
        parts = [f"new papers {c.get('new_papers', 0)}"]
        if crawl:
            parts.append("crawl " + ", ".join(f"{k} {v}" for k, v in crawl.items()
                                              if isinstance(v, int) and (v or k == "new")))
        if "classify" in c:
            parts.append("classify " + ", ".join(f"{k} {v}" for k, v in c["classify"].items()
                                                 if isinstance(v, int | float) and (v or k == "classified")))
        if "train" in c:
            parts.append(f"retrain {c['train'].get('status')}")
        if self.digest_path:
            parts.append(f"digest {self.digest_path} ({c.get('digest', {}).get('papers', 0)} AI-security papers)")
        head = "nightly ok" if self.ok else f"nightly FAILED at {self.failed_stage} (exit {self.exit_code})"
        return f"{head}: " + "; ".join(parts)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, int | float | str | bool) or obj is None:
        return obj
    return str(obj)


def _new_papers_since(settings: Settings, since: datetime) -> int:
    with connect(settings.db_path, read_only=True, timeout=settings.lock_timeout) as con:
        return int(con.execute("SELECT count(*) FROM papers WHERE first_seen >= ?", [since]).fetchone()[0])


def _stage_crawl(settings: Settings, since: date | None, until: date | None, progress: bool) -> dict[str, Any]:
    from aisec_radar.crawler import harvest

    report = harvest(settings, since=since, until=until, source="oai", progress=progress)
    counts = dict(getattr(report, "counts", {}) or {})
    checkpoint = getattr(report, "checkpoint", None)
    if checkpoint is not None:
        counts["checkpoint"] = str(checkpoint)
    return counts


def _stage_classify(settings: Settings, progress: bool) -> dict[str, Any]:
    from aisec_radar.classify import classify_pending

    return dict(classify_pending(settings, all_papers=False, progress=progress) or {})


def _retrain_due(settings: Settings) -> tuple[bool, int, int]:
    with connect(settings.db_path, read_only=True, timeout=settings.lock_timeout) as con:
        total = curator_label_count(con)
        baseline = int(get_state(con, RETRAIN_BASELINE_KEY) or 0)
    return total - baseline >= settings.retrain_min_labels, total, baseline


def _stage_train(settings: Settings, total_labels: int, progress: bool) -> dict[str, Any]:
    from aisec_radar.classify import train

    report = train(settings, progress=progress)
    # The baseline moves even when the gate refuses promotion: otherwise every night would retrain
    # on the same labels and fail the same way.
    with transaction(settings.db_path, timeout=settings.lock_timeout) as con:
        set_state(con, RETRAIN_BASELINE_KEY, str(total_labels))
    return {"status": "promoted" if report.promoted else "not promoted",
            "model_version": report.model_version, "reason": report.reason,
            "metrics": _jsonable(getattr(report, "metrics", {}) or {})}


def _stage_upkeep(settings: Settings, progress: bool = False) -> dict[str, Any]:
    """Advisory upkeep after classify: the dashboard's pre-aggregated facts and emerging-topic candidates.

    Neither may fail the night: the papers and predictions are already committed, and both are
    rebuilt from scratch the next night, so an error is recorded in the counts and logged.
    """
    from aisec_radar.store.aggregates import refresh as refresh_aggregates
    from aisec_radar.taxonomy import load_taxonomy
    from aisec_radar.topics.discover import nightly_step

    out: dict[str, Any] = {}
    try:
        out["aggregates"] = refresh_aggregates(settings.db_path, timeout=settings.lock_timeout)
    except (AisecRadarError, OSError, ValueError) as exc:
        log.warning("aggregate refresh skipped: %s", exc)
        out["aggregates"] = {"error": str(exc)}
    try:
        out["topics"] = nightly_step(settings, load_taxonomy(settings.taxonomy_path or None), progress=progress)
    except AisecRadarError as exc:
        out["topics"] = {"error": str(exc)}
    return out


def _digest_window(settings: Settings, run_start: datetime, day: date) -> datetime:
    """Start of what today's digest covers: the first run today's window, else the last good run's start.

    A second run on the same day therefore rewrites the same digest (plus anything newer) instead of
    replacing it with an empty one, and papers crawled by a failed run still reach the next digest.
    """
    key = f"digest_since:{day.isoformat()}"
    with transaction(settings.db_path, timeout=settings.lock_timeout) as con:
        stored = get_state(con, key)
        if stored:
            return datetime.fromisoformat(stored)
        last_ok = get_state(con, LAST_OK_START_KEY)
        window = datetime.fromisoformat(last_ok) if last_ok else run_start
        set_state(con, key, window.isoformat())
        prune_state(con, "digest_since:", _now() - timedelta(days=7))
    return window


def _stage_digest(settings: Settings, run_start: datetime, digest_dir: Path) -> tuple[Path, dict[str, Any]]:
    from aisec_radar.export import export_digest
    from aisec_radar.store.exports import PaperFilter

    day = datetime.now(UTC).date()
    window = _digest_window(settings, run_start, day)
    path = digest_dir / f"{day.isoformat()}.md"
    n = export_digest(
        settings, path, PaperFilter(first_seen_since=window),
        title=f"aisec-radar digest {day.isoformat()}",
        intro=f"Papers first seen since {window:%Y-%m-%d %H:%M} UTC, grouped by axis and type "
              f"(axis map {settings.axis_map}).",
    )
    return path, {"papers": n, "since": window.isoformat(timespec="seconds"), "path": str(path)}


def run_nightly(
    settings: Settings,
    days: int | None = None,
    since: date | None = None,
    until: date | None = None,
    retrain: bool = True,
    digest: bool = True,
    digest_dir: str | Path | None = None,
    progress: bool = False,
    preflight: bool = True,
) -> NightlyReport:
    """Run the nightly pipeline once; never raises for a failed stage (the report carries the exit code).

    ``days`` sets the crawl window (today - days) only while the database has no harvest checkpoint;
    after that the crawler resumes from its checkpoint. ``since``/``until`` force a window (the demo
    uses them to replay a slice of the corpus). Raises NightlyLocked when another run holds the lock.
    """
    with nightly_lock(settings.db_path):
        return _run_locked(settings, days, since, until, retrain, digest,
                           Path(digest_dir or settings.digest_dir), progress, preflight)


def _run_locked(settings: Settings, days: int | None, since: date | None, until: date | None, retrain: bool,
                digest: bool, digest_dir: Path, progress: bool, preflight: bool) -> NightlyReport:
    run_start = _now()
    with transaction(settings.db_path, timeout=settings.lock_timeout) as con:
        abandoned = close_abandoned_runs(con, "nightly", "abandoned: the process ended without finishing "
                                                         "(killed or power loss); this run resumes its work")
        run_id = start_run(con, "nightly")
        has_checkpoint = harvest_checkpoints(con) > 0
    report = NightlyReport(run_id=run_id, exit_code=EXIT_OK)
    counts = report.counts
    if abandoned:
        counts["abandoned_runs_closed"] = abandoned
    if since is None and days is not None and not has_checkpoint:
        since = datetime.now(UTC).date() - timedelta(days=days)
    counts["window"] = {"since": since.isoformat() if since else "checkpoint",
                        "until": until.isoformat() if until else None}

    def fail(stage: str, code: int, exc: BaseException) -> None:
        report.failed_stage = stage
        report.exit_code = code
        report.error = str(exc) or exc.__class__.__name__
        if code == EXIT_ERROR:
            report.error += "\n" + traceback.format_exc(limit=8)
        log.info("nightly stage %s failed: %s", stage, exc)  # the CLI prints the one error line

    current = {"stage": "start"}

    def timed(stage: str, fn: Any, *args: Any) -> Any:
        current["stage"] = stage
        t0 = time.monotonic()
        try:
            return fn(*args)
        finally:
            report.timings[stage] = round(time.monotonic() - t0, 2)

    interrupted: BaseException | None = None
    try:
        # 1. crawl
        try:
            if preflight:
                timed("preflight", check_reachable, settings.oai_base_url)
            counts["crawl"] = _jsonable(timed("crawl", _stage_crawl, settings, since, until, progress))
        except CrawlError as exc:
            if preflight and not isinstance(exc, SourceUnreachable):
                try:  # a crawl that died because the network went away gets the same clear line
                    check_reachable(settings.oai_base_url, timeout=5.0)
                except SourceUnreachable as unreachable:
                    exc = unreachable
            fail("crawl", EXIT_CRAWL, exc)
        counts["new_papers"] = _new_papers_since(settings, run_start)
        # 2. classify new and stale papers
        if report.failed_stage is None:
            try:
                counts["classify"] = _jsonable(timed("classify", _stage_classify, settings, progress))
            except AisecRadarError as exc:  # a model or taxonomy problem is a classify failure...
                if isinstance(exc, DatabaseLocked):  # ...a busy database is not
                    raise
                fail("classify", EXIT_CLASSIFY, exc)
        # 3. retrain when enough new curator labels arrived, then re-classify with a promoted model
        if report.failed_stage is None and retrain:
            due, total, baseline = _retrain_due(settings)
            if not due:
                counts["train"] = {"status": "skipped", "new_labels": total - baseline,
                                   "needed": settings.retrain_min_labels}
            else:
                try:
                    counts["train"] = timed("train", _stage_train, settings, total, progress)
                except AisecRadarError as exc:
                    if isinstance(exc, DatabaseLocked):
                        raise
                    counts["train"] = {"status": "failed"}
                    fail("train", EXIT_TRAIN, exc)
                if counts["train"]["status"] == "promoted":
                    try:
                        counts["reclassify"] = _jsonable(timed("reclassify", _stage_classify, settings, progress))
                    except AisecRadarError as exc:
                        if isinstance(exc, DatabaseLocked):
                            raise
                        fail("classify", EXIT_CLASSIFY, exc)
        # 4. upkeep: dashboard aggregates and topic candidates (advisory, never fails the run)
        if report.failed_stage in (None, "train"):
            counts.update(_jsonable(timed("upkeep", _stage_upkeep, settings, progress)))
        # 5. digest (also after a failed retrain: the predictions are there)
        if digest and report.failed_stage in (None, "train"):
            try:
                report.digest_path, counts["digest"] = timed("digest", _stage_digest, settings, run_start, digest_dir)
            except OSError as exc:
                fail("digest", EXIT_DIGEST, exc)
    except KeyboardInterrupt as exc:
        interrupted = exc
        fail(current["stage"], EXIT_INTERRUPTED, exc)
        report.error = f"interrupted during {current['stage']} ({exc or 'SIGINT'})"
    except AisecRadarError as exc:
        fail(report.failed_stage or current["stage"], exc.exit_code, exc)
    except Exception as exc:  # a bug: record it, so the run row does not stay 'running' forever
        fail(report.failed_stage or current["stage"], EXIT_ERROR, exc)
    counts["timings_s"] = dict(report.timings)
    counts["exit_code"] = report.exit_code
    try:
        with transaction(settings.db_path, timeout=settings.lock_timeout) as con:
            finish_run(con, run_id, "ok" if report.ok else "failed", _jsonable(counts),
                       None if report.ok else f"{report.failed_stage}: {report.error}")
            if report.ok:
                set_state(con, LAST_OK_START_KEY, run_start.isoformat())
    except AisecRadarError as exc:  # cannot even record: say so, keep the stage's exit code
        log.error("could not record nightly run %s: %s", run_id, exc)
        if report.ok:
            report.exit_code = exc.exit_code
    if interrupted is not None:
        raise interrupted
    return report


# ---------------------------------------------------------------- the offline demo

DEMO_DAYS = 60  # about 1,700 papers of the shared corpus: a few minutes on 2 cores


def corpus_window(corpus: str | Path, days: int) -> tuple[date, date]:
    """(since, until): the last ``days`` days of the corpus by OAI datestamp, as the stand-in serves it."""
    from aisec_radar.crawler.corpus import iter_corpus_json, record_from_json

    end: date | None = None
    for obj in iter_corpus_json(Path(corpus)):
        d = record_from_json(obj).datestamp
        if end is None or d > end:
            end = d
    if end is None:
        raise CrawlError(f"corpus {corpus} holds no records")
    return end - timedelta(days=days), end


def run_demo(settings: Settings, corpus: str | Path, days: int = DEMO_DAYS, since: date | None = None,
             until: date | None = None, host: str = "127.0.0.1", progress: bool = False) -> NightlyReport:
    """Serve a window of the corpus with the local arXiv stand-in and run the real nightly job against it.

    Nothing is special-cased for the demo: crawler (OAI-PMH over HTTP), classifier and digest are the
    ones the nightly uses against arXiv; only the base URL and the polite delay differ. The stand-in
    serves only the window, so a fresh database harvests all of it and a second demo run resumes
    from the checkpoint and finds nothing new, exactly like a second night.
    """
    from aisec_radar.crawler.standin import run_standin

    corpus = Path(corpus)
    if not corpus.exists():
        from aisec_radar.errors import InputError

        raise InputError(f"corpus {corpus} does not exist; pass --corpus or set AISEC_RADAR_CORPUS")
    if since is None:
        since, end = corpus_window(corpus, days)
        if until is not None and until < end:
            since = until - timedelta(days=days)
    log.info("demo window %s .. %s", since, until or "corpus end")
    with run_standin(corpus, host, since=since, until=until) as base:
        demo_settings = replace(with_base_url(settings, base), crawl_delay=0.0)
        # the demo's digests go beside its database, not among the real ones
        digests = Path(settings.db_path).parent / "demo-digests"
        return run_nightly(demo_settings, digest_dir=digests, progress=progress)
