"""Bring new and revised arXiv papers into the store: OAI-PMH harvest, API backfill, fetch by id.

Public surface (other stages and the CLI use only this): ``harvest``, ``fetch_ids``, ``CrawlReport``.
scrapy and the arxiv package are imported inside the calls, so importing this package is cheap.
Every call records a run (kind "crawl") with its counts; failures raise ``CrawlError`` after
recording the run as failed, with nothing from the failing page stored.
"""

from __future__ import annotations

import logging
from datetime import date

from aisec_radar.config import Settings
from aisec_radar.crawler.report import CrawlReport
from aisec_radar.errors import AisecRadarError, CrawlError, InputError

log = logging.getLogger(__name__)

__all__ = ["CrawlReport", "harvest", "fetch_ids"]


def _start_run(settings: Settings) -> int:
    from aisec_radar.store import transaction
    from aisec_radar.store.runs import start_run

    with transaction(settings.db_path, timeout=settings.lock_timeout) as con:
        return start_run(con, "crawl")


def _finish_run(settings: Settings, run_id: int, status: str, counts: dict[str, int], error: str | None) -> None:
    from aisec_radar.store import transaction
    from aisec_radar.store.runs import finish_run

    try:
        with transaction(settings.db_path, timeout=settings.lock_timeout) as con:
            finish_run(con, run_id, status, counts, error)
    except AisecRadarError as exc:  # never mask the crawl's own outcome
        log.warning("could not record the end of crawl run %s: %s", run_id, exc)


def _run(settings: Settings, call, *args) -> CrawlReport:  # noqa: ANN001 - internal
    run_id = _start_run(settings)
    try:
        report = call(settings, *args)
    except BaseException as exc:
        partial = getattr(exc, "report", None)
        counts = partial.counts if isinstance(partial, CrawlReport) else {}
        _finish_run(settings, run_id, "failed", counts, str(exc) or type(exc).__name__)
        raise
    report.run_id = run_id
    _finish_run(settings, run_id, "ok", report.counts, None)
    return report


def harvest(settings: Settings, since: date | None = None, until: date | None = None, source: str = "oai",
            progress: bool = True) -> CrawlReport:
    """Harvest new/revised papers of ``settings.categories`` into ``settings.db_path``.

    ``source="oai"``: OAI-PMH ListRecords from the stored checkpoint (or ``since``), to the end
    (or ``until``; a bounded window does not move the checkpoint). ``source="api"``: export-API
    backfill of submittedDate windows ``since``..``until``.
    """
    if since and until and since > until:
        raise InputError(f"--since {since} is after --until {until}")
    if source == "oai":
        from aisec_radar.crawler.oai import run_oai

        return _run(settings, run_oai, since, until, progress)
    if source == "api":
        from aisec_radar.crawler.api import run_api_backfill

        return _run(settings, run_api_backfill, since, until, progress)
    raise InputError(f"unknown crawl source '{source}'; use oai or api")


def fetch_ids(settings: Settings, ids: list[str], progress: bool = False) -> CrawlReport:
    """Fetch papers by arXiv id through the export API and upsert them (any category)."""
    if not ids:
        raise InputError("give at least one arXiv id")
    from aisec_radar.crawler.api import normalise_ids, run_fetch_ids

    normalise_ids(ids)  # bad ids fail before a run is recorded
    return _run(settings, run_fetch_ids, ids, progress)


# Re-exported so callers can catch it from here.
CrawlError = CrawlError
