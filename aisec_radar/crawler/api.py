"""The export-API path (the ``arxiv`` package): fetch papers by id, and backfill date windows.

The ``arxiv`` client does the paging; ``PoliteClient`` replaces its fetch step so that it sends our
User-Agent, honours Retry-After on 503/429, backs off, and parses strictly: the package's own parser
recovers from broken XML, which would turn a truncated page into a silently short one. A page that
stays bad fails the run before anything of it is stored.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aisec_radar.config import Settings
from aisec_radar.crawler.oai import short_reason
from aisec_radar.crawler.parsers import PageError, parse_atom_feed
from aisec_radar.crawler.report import CrawlReport, Progress, commit_page, user_agent
from aisec_radar.errors import CrawlError, InputError
from aisec_radar.records import Paper, normalise_space, split_arxiv_id

log = logging.getLogger(__name__)

API_PAGE_LIMIT = 2000  # per request
API_QUERY_LIMIT = 30000  # per query
PAGE_SIZE = 500  # results per request and per transaction on the API path
WINDOW_DAYS = 7  # first split of a backfill; halved while a window holds too many papers
ID_BATCH = 100
_ID_OK = re.compile(r"^(?:\d{4}\.\d{4,5}|[a-z\-]+(?:\.[A-Z]{2})?/\d{7})$")
MAX_RETRY_AFTER = 600.0


def _retry_after(value: str | None) -> float | None:
    from aisec_radar.crawler.oai import _retry_after as parse

    return parse(value)


def _make_client(settings: Settings, page_size: int = PAGE_SIZE) -> Any:
    import arxiv
    import requests

    class PoliteClient(arxiv.Client):
        """arxiv.Client with our fetch policy; see the module docstring."""

        def __init__(self) -> None:
            super().__init__(page_size=page_size, delay_seconds=settings.crawl_delay,
                             num_retries=settings.crawl_retries)
            self.query_url_format = settings.api_base_url.rstrip("?") + "?{}"
            self.pages = 0
            self.last_total: int | None = None
            self.base = settings.api_base_url
            self.ua = user_agent(settings)

        def _sleep_for_rate(self) -> None:
            if self._last_request_dt is not None:
                gap = (datetime.now() - self._last_request_dt).total_seconds()
                if gap < self.delay_seconds:
                    time.sleep(self.delay_seconds - gap)

        def _parse_feed(self, url: str, first_page: bool = True, _try_index: int = 0) -> Any:
            from arxiv import _feed

            base = self.delay_seconds if self.delay_seconds > 0 else 0.05
            problem = ""
            wait = 0.0
            for attempt in range(self.num_retries + 1):
                if attempt:
                    time.sleep(wait)
                self._sleep_for_rate()
                wait = min(base * (2 ** attempt), 300.0)
                try:
                    resp = self._session.get(url, headers={"user-agent": self.ua}, timeout=120)
                except requests.RequestException as exc:
                    self._last_request_dt = datetime.now()
                    problem = f"cannot reach arXiv at {self.base}: {short_reason(exc)}"
                    log.warning("%s; retry %d/%d", problem, attempt + 1, self.num_retries)
                    continue
                self._last_request_dt = datetime.now()
                if resp.status_code in (429, 500, 502, 503, 504, 408):
                    ra = _retry_after(resp.headers.get("Retry-After"))
                    if ra is not None:
                        wait = min(max(ra, base), MAX_RETRY_AFTER)
                    problem = f"arXiv API at {self.base} answered HTTP {resp.status_code}"
                    log.warning("%s; retry %d/%d in %.1fs", problem, attempt + 1, self.num_retries, wait)
                    continue
                try:
                    page = parse_atom_feed(resp.content)
                except PageError as exc:
                    problem = f"bad page from {url}: {exc}"
                    log.warning("%s; retry %d/%d", problem, attempt + 1, self.num_retries)
                    continue
                if page.error or resp.status_code != 200:
                    raise CrawlError(f"arXiv API at {self.base} rejected the query "
                                     f"(HTTP {resp.status_code}): {page.error or resp.reason}")
                if not page.papers and not first_page:
                    problem = f"unexpected empty page from {url}"
                    log.warning("%s; retry %d/%d", problem, attempt + 1, self.num_retries)
                    continue
                self.pages += 1
                if first_page:
                    self.last_total = page.total_results
                return _feed.parse(resp.content)
            raise CrawlError(f"{problem} (gave up after {self.num_retries} retries; nothing from that page "
                             "was stored)")

    return PoliteClient()


def paper_from_result(r: Any) -> Paper:
    """arxiv.Result -> Paper, normalised like the OAI path so both compare equal."""
    arxiv_id, version = split_arxiv_id(r.entry_id)
    cats = list(r.categories or [])
    primary = r.primary_category or (cats[0] if cats else None)
    if primary and primary in cats and cats[0] != primary:
        cats = [primary] + [c for c in cats if c != primary]

    def day(d: datetime | None) -> date | None:
        if d is None or d == datetime.min:
            return None
        if d.tzinfo is not None:
            d = d.astimezone(UTC)
        return d.date()

    return Paper(arxiv_id=arxiv_id, title=normalise_space(r.title), abstract=normalise_space(r.summary),
                 authors=[normalise_space(a.name) for a in r.authors], categories=cats, primary_category=primary,
                 published=day(r.published), updated=day(r.updated), version=version,
                 doi=normalise_space(r.doi) or None, comment=normalise_space(r.comment) or None)


def normalise_ids(ids: list[str]) -> list[str]:
    """'arXiv:2401.01234v2', 'https://arxiv.org/abs/2401.01234' -> '2401.01234'; bad ids fail here."""
    out: list[str] = []
    for raw in ids:
        base, _ = split_arxiv_id(raw)
        if not _ID_OK.match(base):
            raise InputError(f"'{raw}' is not an arXiv id (expected e.g. 2401.01234 or cs/0112017)")
        if base not in out:
            out.append(base)
    return out


def run_fetch_ids(settings: Settings, ids: list[str], progress: bool) -> CrawlReport:
    import arxiv

    wanted = normalise_ids(ids)
    client = _make_client(settings, page_size=ID_BATCH)
    report = CrawlReport(source="api")
    bar = Progress(progress, "fetch", total=len(wanted))
    found: set[str] = set()
    try:
        for i in range(0, len(wanted), ID_BATCH):
            chunk = wanted[i: i + ID_BATCH]
            papers = [paper_from_result(r) for r in client.results(arxiv.Search(id_list=chunk, max_results=len(chunk)))]
            papers = [p for p in papers if p.arxiv_id in chunk]
            found.update(p.arxiv_id for p in papers)
            _add(report.counts, commit_page(settings, papers, None))
            report.counts["records"] += len(papers)
            bar.update(len(chunk), report.counts)
    finally:
        report.counts["pages"] += client.pages
        bar.close()
    report.missing = [i for i in wanted if i not in found]
    report.counts["missing"] = len(report.missing)
    return report


def _add(total: dict[str, int], counts: dict[str, int]) -> None:
    for k, v in counts.items():
        total[k] = total.get(k, 0) + v


def _windows(since: date, until: date, days: int) -> Iterator[tuple[date, date]]:
    d = since
    while d <= until:
        end = min(d + timedelta(days=days - 1), until)
        yield d, end
        d = end + timedelta(days=1)


def run_api_backfill(settings: Settings, since: date | None, until: date | None, progress: bool) -> CrawlReport:
    """Backfill by submittedDate windows per category, split so no query passes arXiv's limits."""
    import arxiv

    if since is None:
        raise InputError("--source api needs --since YYYY-MM-DD (the backfill window's first day)")
    until = until or datetime.now(UTC).date()
    if until < since:
        raise InputError(f"--until {until} is before --since {since}")
    client = _make_client(settings)
    report = CrawlReport(source="api")
    bar = Progress(progress, "api")
    wanted = set(settings.categories)

    def run_window(cat: str, lo: date, hi: date) -> None:
        q = f"cat:{cat} AND submittedDate:[{lo:%Y%m%d}0000 TO {hi:%Y%m%d}2359]"
        search = arxiv.Search(query=q, max_results=API_QUERY_LIMIT, sort_by=arxiv.SortCriterion.SubmittedDate,
                              sort_order=arxiv.SortOrder.Ascending)
        results = client.results(search)
        batch: list[Paper] = []
        first = True
        for r in results:
            if first:
                first = False
                if (client.last_total or 0) > API_QUERY_LIMIT // 2 and hi > lo:
                    mid = lo + (hi - lo) // 2
                    log.info("window %s..%s of %s holds %s papers; splitting", lo, hi, cat, client.last_total)
                    run_window(cat, lo, mid)
                    run_window(cat, mid + timedelta(days=1), hi)
                    return
            p = paper_from_result(r)
            report.counts["records"] += 1
            if wanted.intersection(p.categories):
                batch.append(p)
            else:
                report.counts["filtered"] = report.counts.get("filtered", 0) + 1
            if len(batch) >= client.page_size:
                _add(report.counts, commit_page(settings, batch, None))
                bar.update(len(batch), report.counts)
                batch = []
        if batch:
            _add(report.counts, commit_page(settings, batch, None))
            bar.update(len(batch), report.counts)

    try:
        for cat in settings.categories:
            bar.set_description(cat)
            for lo, hi in _windows(since, until, WINDOW_DAYS):
                run_window(cat, lo, hi)
    finally:
        report.counts["pages"] += client.pages
        bar.close()
    return report
