"""The nightly OAI-PMH harvest: a scrapy spider run in-process, one page = one transaction.

Why scrapy: it gives the politeness knobs arXiv asks for (one connection, a fixed delay between
requests, retries) as settings. It runs on a plain asyncio loop (``TWISTED_REACTOR_ENABLED=False``),
so a process can harvest any number of times (the nightly job, tests) without the Twisted
"reactor not restartable" trap.

Consistency: every ListRecords page is parsed, filtered and upserted in one transaction. The
checkpoint of a set (the date of the first response of its token chain, i.e. the OAI ``from`` for
the next run) is written in the same transaction as the chain's last page, so it only moves once
everything up to it is committed. Resumption tokens expire daily, so a run killed mid-chain simply
starts the chain again from the stored ``from``; ``from`` is inclusive and upserts are idempotent,
so the database ends exactly as after an uninterrupted run.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, date
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

from aisec_radar.config import Settings
from aisec_radar.crawler.corpus import category_set
from aisec_radar.crawler.parsers import PageError, parse_oai_page
from aisec_radar.crawler.report import CrawlReport, Progress, commit_page, user_agent
from aisec_radar.errors import AisecRadarError, CrawlError

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "arXivRaw"  # the format with version history
DOWNLOAD_TIMEOUT = 120.0
MAX_RETRY_AFTER = 600.0
RETRY_STATUSES = (429, 500, 502, 503, 504, 408)


def checkpoint_key(set_spec: str) -> str:
    return f"oai:{set_spec}"


@dataclass
class _SetPlan:
    category: str
    set_spec: str
    since: str | None
    chain_date: str | None = None  # responseDate (day) of the chain's first page
    restarts: int = 0
    done: bool = False


@dataclass
class HarvestState:
    """Shared between harvest() and the spider: the plan, counts, and the first failure."""

    settings: Settings
    plans: list[_SetPlan]
    until: str | None
    prefix: str
    advance: bool
    progress: Progress
    counts: dict[str, int] = field(default_factory=dict)
    checkpoints: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    exc: BaseException | None = None

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n


def _retry_after(value: bytes | str | None) -> float | None:
    if not value:
        return None
    s = value.decode("latin-1") if isinstance(value, bytes) else value
    s = s.strip()
    if s.isdigit():
        return float(s)
    try:
        from datetime import datetime

        when = parsedate_to_datetime(s)
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def short_reason(exc: BaseException) -> str:
    """A one-line, human reason for a network failure (aiohttp's texts carry object reprs)."""
    name = type(exc).__name__
    text = str(exc)
    if "ConnectionRefused" in name or "Connect call failed" in text or "Connection refused" in text:
        return "connection refused"
    if "DNS" in name or "Name or service not known" in text or "nodename nor servname" in text:
        return "host name not found"
    if "Timeout" in name or "timed out" in text.lower():
        return "timed out"
    text = re.sub(r"\s*ssl:<[^>]*>", "", text)
    text = re.sub(r"<[^<>]* object at 0x[0-9a-f]+>", "", text)
    return " ".join(f"{name}: {text}".split()) if text.strip() else name


class PoliteRetryMiddleware:
    """Bounded retries with backoff; honours ``Retry-After`` on 503/429 (arXiv's flow control).

    Replaces scrapy's RetryMiddleware, which retries immediately and ignores Retry-After.
    """

    def __init__(self, retries: int, delay: float):
        self.retries = retries
        self.base = delay if delay > 0 else 0.05

    @classmethod
    def from_crawler(cls, crawler: Any) -> PoliteRetryMiddleware:
        s = crawler.settings
        return cls(s.getint("AISEC_RETRIES"), s.getfloat("DOWNLOAD_DELAY"))

    async def _retry(self, request: Any, reason: str, wait: float | None) -> Any:
        n = request.meta.get("polite_retries", 0)
        if n >= self.retries:
            log.warning("giving up on %s after %d retries (%s)", request.url, n, reason)
            return None
        backoff = min(self.base * (2 ** n), 300.0)
        wait = backoff if wait is None else min(max(wait, self.base), MAX_RETRY_AFTER)
        log.warning("%s from %s; retry %d/%d in %.1fs", reason, request.url, n + 1, self.retries, wait)
        if wait > 0:
            await asyncio.sleep(wait)
        new = request.replace(dont_filter=True)
        new.meta["polite_retries"] = n + 1
        return new

    async def process_response(self, request: Any, response: Any) -> Any:
        if response.status not in RETRY_STATUSES:
            return response
        wait = _retry_after(response.headers.get("Retry-After")) if response.status in (429, 503) else None
        new = await self._retry(request, f"HTTP {response.status}", wait)
        return new if new is not None else response

    async def process_exception(self, request: Any, exception: BaseException) -> Any:
        from scrapy.exceptions import IgnoreRequest

        if isinstance(exception, IgnoreRequest):
            return None
        return await self._retry(request, short_reason(exception), None)


def _scrapy_settings(settings: Settings) -> dict[str, Any]:
    return {
        "TWISTED_REACTOR_ENABLED": False,
        "USER_AGENT": user_agent(settings),
        "ROBOTSTXT_OBEY": False,  # an API endpoint, governed by arXiv's API terms of use
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "CONCURRENT_REQUESTS": 1,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
        "DOWNLOAD_DELAY": float(settings.crawl_delay),
        "DOWNLOAD_DELAY_JITTER": 0,
        "AUTOTHROTTLE_ENABLED": False,
        "DOWNLOAD_TIMEOUT": DOWNLOAD_TIMEOUT,
        "RETRY_ENABLED": False,
        "AISEC_RETRIES": int(settings.crawl_retries),
        "HTTPERROR_ALLOW_ALL": True,
        "REDIRECT_ENABLED": True,
        "DOWNLOADER_MIDDLEWARES": {"aisec_radar.crawler.oai.PoliteRetryMiddleware": 550},
        "LOG_ENABLED": False,
        "STATS_DUMP": False,
        "LOGSTATS_INTERVAL": 0,
        "EXTENSIONS": {"scrapy.extensions.logstats.LogStats": None, "scrapy.extensions.memusage.MemoryUsage": None},
    }


def _make_spider_class() -> type:
    import scrapy
    from scrapy.exceptions import CloseSpider

    class OaiSpider(scrapy.Spider):
        name = "arxiv_oai"

        def __init__(self, state: HarvestState, **kwargs: Any):
            super().__init__(**kwargs)
            self.state = state
            self.base = state.settings.oai_base_url.rstrip("/")
            self.idx = 0

        async def start(self):  # scrapy >= 2.13
            for req in self._next_set_request():
                yield req

        def start_requests(self):  # older scrapy
            yield from self._next_set_request()

        # -------------------------------------------------------------- requests
        def _request(self, params: dict[str, str], **meta: Any) -> Any:
            url = f"{self.base}?{urlencode(params)}"
            return scrapy.Request(url, callback=self.parse_page, errback=self.on_error, dont_filter=True,
                                  meta={"set_idx": self.idx, **meta})

        def _first_request(self) -> Any:
            plan = self.state.plans[self.idx]
            params = {"verb": "ListRecords", "metadataPrefix": self.state.prefix, "set": plan.set_spec}
            if plan.since:
                params["from"] = plan.since
            if self.state.until:
                params["until"] = self.state.until
            plan.chain_date = None
            self.state.progress.set_description(plan.category)
            return self._request(params, first=True)

        def _next_set_request(self):
            while self.idx < len(self.state.plans) and self.state.plans[self.idx].done:
                self.idx += 1
            if self.idx < len(self.state.plans):
                yield self._first_request()

        def _fail(self, message: str, exc: BaseException | None = None) -> None:
            if self.state.error is None:
                self.state.error = message
                self.state.exc = exc
            raise CloseSpider("failed")

        # -------------------------------------------------------------- callbacks
        def on_error(self, failure: Any) -> None:
            if self.state.error is None:
                self.state.error = f"cannot reach arXiv at {self.base}: {short_reason(failure.value)}"

        def parse_page(self, response: Any):
            try:
                yield from self._parse_page(response)
            except CloseSpider:
                raise
            except AisecRadarError as exc:
                self._fail(str(exc), exc)
            except Exception as exc:  # a bug or a store failure must stop the run, not be logged and skipped
                log.exception("harvest failed on %s", response.url)
                self._fail(f"harvest failed on {response.url}: {type(exc).__name__}: {exc}", exc)

        def _parse_page(self, response: Any):
            st = self.state
            plan = st.plans[response.meta["set_idx"]]
            if response.status != 200:
                self._fail(f"arXiv at {self.base} answered HTTP {response.status} for {response.url} "
                           f"after {response.meta.get('polite_retries', 0)} retries")
            try:
                page = parse_oai_page(response.body)
            except PageError as exc:
                attempt = response.meta.get("page_attempt", 0) + 1
                if attempt <= st.settings.crawl_retries:
                    log.warning("bad page from %s (%s); retry %d/%d", response.url, exc, attempt,
                                st.settings.crawl_retries)
                    st.add("page_retries")
                    yield response.request.replace(dont_filter=True,
                                                   meta={**response.meta, "page_attempt": attempt})
                    return
                self._fail(f"page {response.url} stayed bad after {attempt} tries: {exc}; "
                           "nothing from it was stored and the checkpoint is unchanged")
            if plan.chain_date is None and page.response_date:
                plan.chain_date = page.response_date[:10]
            if page.error_code == "noRecordsMatch":
                # Nothing new: an empty result, not a failure.
                self._finish_set(plan, [], 0)
                yield from self._next_set_request()
                return
            if page.error_code == "badResumptionToken":
                if plan.restarts < 1:
                    plan.restarts += 1
                    st.add("restarts")
                    log.warning("arXiv rejected the resumption token for %s (%s); restarting the set from %s",
                                plan.set_spec, page.error_text, plan.since or "the beginning")
                    yield self._first_request()
                    return
                self._fail(f"arXiv rejected the resumption token for set {plan.set_spec} twice: {page.error_text}")
            if page.error_code:
                self._fail(f"arXiv OAI-PMH error {page.error_code} for {response.url}: {page.error_text}")
            st.add("pages")
            st.add("records", page.n_records)
            for bad in page.bad:
                log.warning("skipped record %s: %s", bad.arxiv_id or "(no id)", bad.reason)
            st.add("skipped", len(page.bad))
            st.add("deleted", len(page.deleted))
            wanted = set(st.settings.categories)
            keep = [p for p in page.papers if wanted.intersection(p.categories)]
            st.add("filtered", len(page.papers) - len(keep))
            if page.token:
                counts = commit_page(st.settings, keep, None)
                self._count(counts)
                st.progress.update(page.n_records, st.counts)
                yield self._request({"verb": "ListRecords", "resumptionToken": page.token})
                return
            self._finish_set(plan, keep, page.n_records)
            yield from self._next_set_request()

        def _finish_set(self, plan: _SetPlan, keep: list, n_records: int) -> None:
            st = self.state
            ck = None
            if st.advance and plan.chain_date:
                ck = (checkpoint_key(plan.set_spec), plan.chain_date)
            counts = commit_page(st.settings, keep, ck)
            self._count(counts)
            if ck:
                st.checkpoints[plan.set_spec] = ck[1]
            plan.done = True
            st.progress.update(n_records, st.counts)

        def _count(self, counts: dict[str, int]) -> None:
            for k, v in counts.items():
                self.state.add(k, v)

    return OaiSpider


def run_oai(settings: Settings, since: date | None, until: date | None, progress: bool,
            prefix: str = DEFAULT_PREFIX) -> CrawlReport:
    """Harvest every configured category's set; see the module docstring for the guarantees."""
    from aisec_radar.store import transaction
    from aisec_radar.store.runs import get_checkpoint

    if not settings.categories:
        raise CrawlError("no categories configured; set `categories`, e.g. --categories cs.CR,cs.LG")
    sets = [(c, category_set(c)) for c in settings.categories]
    with transaction(settings.db_path, timeout=settings.lock_timeout) as con:
        stored = {s: get_checkpoint(con, checkpoint_key(s)) for _, s in sets}
    plans = [_SetPlan(c, s, since.isoformat() if since else stored[s]) for c, s in sets]
    state = HarvestState(settings=settings, plans=plans, until=until.isoformat() if until else None,
                         prefix=prefix, advance=until is None, progress=Progress(progress, "oai"))
    try:
        _run_spider(state)
    except AisecRadarError:
        raise
    except Exception as exc:  # scrapy failed to start or crashed outside our callbacks
        log.exception("harvest crashed")
        if state.error is None:
            state.error = f"harvest could not run: {type(exc).__name__}: {exc}"
    finally:
        state.progress.close()
    report = CrawlReport(counts=_with_defaults(state.counts), source="oai")
    cks = [state.checkpoints.get(s) or stored.get(s) for _, s in sets]
    report.checkpoint = min(cks) if all(cks) else None
    if state.error is None and not all(p.done for p in plans):
        state.error = "harvest stopped before every set was complete (interrupted?)"
    if state.error is not None:
        report.error = state.error
        err = state.exc if isinstance(state.exc, AisecRadarError) else CrawlError(state.error)
        err.report = report  # type: ignore[attr-defined] - the run record keeps the partial counts
        raise err
    return report


def _with_defaults(counts: dict[str, int]) -> dict[str, int]:
    out = {k: 0 for k in ("new", "updated", "unchanged", "skipped", "pages", "records")}
    out.update(counts)
    return out


def _run_spider(state: HarvestState) -> None:
    """Run the spider to completion on a fresh asyncio loop (in a worker thread if one is running)."""
    from scrapy.crawler import AsyncCrawlerRunner

    spider_cls = _make_spider_class()

    async def main() -> None:
        runner = AsyncCrawlerRunner(_scrapy_settings(state.settings))
        await runner.crawl(spider_cls, state=state)

    scrapy_log = logging.getLogger("scrapy")
    # The aiohttp handler (the one scrapy uses without Twisted) warns on every start that it is
    # "experimental"; that is known and chosen, so it is not repeated to the operator.
    handler_log = logging.getLogger("scrapy.core.downloader.handlers._base_streaming")
    old_level, old_handler_level = scrapy_log.level, handler_log.level
    handler_log.setLevel(logging.ERROR)
    if not log.isEnabledFor(logging.DEBUG):
        scrapy_log.setLevel(logging.WARNING)
    try:
        try:
            asyncio.get_running_loop()
            running = True
        except RuntimeError:
            running = False
        if not running:
            asyncio.run(main())
            return
        errors: list[BaseException] = []

        def target() -> None:
            try:
                asyncio.run(main())
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                errors.append(exc)

        t = threading.Thread(target=target, name="aisec-radar-harvest")
        t.start()
        t.join()
        if errors:
            raise errors[0]
    finally:
        scrapy_log.setLevel(old_level)
        handler_log.setLevel(old_handler_level)


__all__ = ["run_oai", "PoliteRetryMiddleware", "checkpoint_key", "DEFAULT_PREFIX"]
