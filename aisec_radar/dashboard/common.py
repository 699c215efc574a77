"""What every page shares: settings, the taxonomy, database access, filters and safe text.

Database access is the delicate part. DuckDB lets one process write a file at a time and a read-only
open fails while the nightly job writes, so every read here opens, queries and closes at once
(never held across reruns), results are cached briefly keyed by the file's modification time, and a
busy file shows a short "database busy, retrying" note instead of a traceback.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import streamlit as st

from aisec_radar.config import Settings, load_settings
from aisec_radar.errors import AisecRadarError, DatabaseLocked, SchemaTooNew, StoreError
from aisec_radar.records import normalise_space
from aisec_radar.store import connect, queries, transaction
from aisec_radar.taxonomy import Taxonomy, load_taxonomy

CACHE_TTL = 30  # seconds; the data-version key below already invalidates on every write
QUICK_TIMEOUT = 0.5  # first try; past it the page says the database is busy and keeps retrying


# ------------------------------------------------------------------------------------------ settings

def _config_file_arg(argv: list[str]) -> str | None:
    """``streamlit run app.py -- --config=FILE`` (the CLI passes it so); other argv is not ours."""
    for a in argv[1:]:
        if a.startswith("--config="):
            return a.split("=", 1)[1]
    return None


def settings() -> Settings:
    """Resolved settings (TOML < env AISEC_RADAR_* < the CLI's --config); a broken config stops the page."""
    try:
        return load_settings(config_file=_config_file_arg(sys.argv))
    except AisecRadarError as exc:
        st.error(f"Configuration problem: {exc}")
        st.stop()
        raise  # unreachable; st.stop raises


def taxonomy(s: Settings) -> Taxonomy:
    try:
        return load_taxonomy(s.taxonomy_path or None)
    except AisecRadarError as exc:
        st.error(f"Taxonomy problem: {exc}")
        st.stop()
        raise


# ------------------------------------------------------------------------------------------ database

def _data_version(path: str) -> tuple[float, float]:
    """Changes whenever a writer touches the file (the WAL first, the file at checkpoint)."""
    p = Path(path)
    wal = p.with_name(p.name + ".wal")
    return (p.stat().st_mtime if p.exists() else 0.0, wal.stat().st_mtime if wal.exists() else 0.0)


def _is_busy(exc: Exception) -> bool:
    """A lock held by another process, or a write connection open in this process (another session)."""
    return isinstance(exc, DatabaseLocked) or "different configuration" in str(exc)


_LOCAL = threading.local()  # the page run's read connection (Streamlit runs each script in one thread)


@contextmanager
def page_connection() -> Iterator[None]:
    """Share one read-only connection among the queries of one page run, closed when the run ends.

    Opening a DuckDB file costs tens of milliseconds and starts with a cold buffer cache, so a page of
    eight queries on eight connections pays that eight times. The connection never outlives the
    script run (st.stop and st.rerun end it too), so the nightly writer waits at most one page run.
    """
    _LOCAL.holder = {"cm": None, "con": None, "path": None}
    try:
        yield
    finally:
        _close_page_connection()
        _LOCAL.holder = None


def _close_page_connection() -> None:
    holder = getattr(_LOCAL, "holder", None)
    if holder and holder["cm"] is not None:
        cm, holder["cm"], holder["con"] = holder["cm"], None, None
        cm.__exit__(None, None, None)


def release_reads() -> None:
    """Close the page's read connection now (before code that opens its own write connection)."""
    _close_page_connection()


LAST_RUN_S: dict[str, float] = {}  # page module -> seconds of its last script run (read by bench/)


def run_page(render: Callable[[], None]) -> None:
    """What each page script calls: the page's render() inside one shared read connection."""
    start = time.perf_counter()
    try:
        with page_connection():
            render()
    finally:
        LAST_RUN_S[render.__module__.rsplit(".", 1)[-1]] = time.perf_counter() - start


def _aggregates() -> Any:
    try:
        from aisec_radar.store import aggregates
    except ImportError:
        return None
    return aggregates


def _trend_bundle(con: Any, f: queries.Filters, period: str, group: str, axis_map: dict[str, str],
                  type_ids: list[str]) -> dict[str, Any]:
    """queries.trend_bundle, or the same three answers from the nightly pre-aggregated facts when fresh."""
    from dataclasses import replace

    agg = _aggregates()
    if agg is None or not agg.facts_fresh(con):
        return queries.trend_bundle(con, f, period, group, axis_map, type_ids)
    series = (agg.trend_axis_counts(con, f, period, axis_map) if group == "axis"
              else agg.trend_type_counts(con, f, period, list(type_ids)))
    in_tax = replace(f, scope="taxonomy", taxonomy_types=tuple(type_ids))  # taxonomy is a subset of every scope
    return {"series": series, "matching": agg.count_papers(con, f), "in_taxonomy": agg.count_papers(con, in_tax)}


def _search_page(con: Any, f: queries.Filters, keyword: str = "", sort: str = "newest", limit: int = 200,
                 offset: int = 0) -> tuple[int, Any]:
    agg = _aggregates()
    if agg is None or not agg.facts_fresh(con):
        return queries.search_page(con, f, keyword, sort, limit, offset)
    return agg.count_papers(con, f, keyword), agg.search_papers(con, f, keyword, sort, limit, offset)


_COMPOSITE: dict[str, Callable] = {"trend_bundle": _trend_bundle, "search_page": _search_page}


def _query(name: str) -> Callable:
    """The store function behind a dashboard read.

    The nightly job keeps pre-aggregated per-paper facts (store/aggregates.py); its readers take the
    same arguments as store/queries.py, check that the facts match the live tables and otherwise
    answer live, so using them when present is never less correct, only faster.
    """
    if name in _COMPOSITE:
        return _COMPOSITE[name]
    agg = _aggregates()
    if agg is not None and callable(getattr(agg, name, None)) and hasattr(queries, name):
        return getattr(agg, name)
    return getattr(queries, name)


def _run(path: str, timeout: float, name: str, args: tuple, kwargs: dict) -> Any:
    fn = _query(name)
    holder = getattr(_LOCAL, "holder", None)
    if holder is not None:
        if holder["con"] is None or holder["path"] != path:
            _close_page_connection()
            cm = connect(path, read_only=True, timeout=timeout)
            holder["con"] = cm.__enter__()
            holder["cm"], holder["path"] = cm, path
        return fn(holder["con"], *args, **kwargs)
    with connect(path, read_only=True, timeout=timeout) as con:
        return fn(con, *args, **kwargs)


@st.cache_data(ttl=CACHE_TTL, show_spinner=False, max_entries=500)
def _cached(path: str, version: tuple[float, float], name: str, args: tuple, kwargs_items: tuple) -> Any:
    return _run(path, QUICK_TIMEOUT, name, args, dict(kwargs_items))


class DashboardStop(Exception):
    """Raised (then turned into st.stop) after a page has shown a friendly database message."""


def read(s: Settings, name: str, *args: Any, cache: bool = True, **kwargs: Any) -> Any:
    """Run ``queries.<name>(con, *args, **kwargs)`` on a short read-only connection.

    A busy database shows "busy, retrying" and waits up to ``lock_timeout``; any other store problem
    shows its message and stops the page (no traceback).
    """
    path = s.db_path
    try:
        if cache:
            return _cached(path, _data_version(path), name, args, tuple(sorted(kwargs.items())))
        return _run(path, QUICK_TIMEOUT, name, args, kwargs)
    except StoreError as exc:
        if not _is_busy(exc):
            _store_problem(s, exc)
    except duckdb.Error as exc:  # a damaged file or an unexpected schema: a message, not a traceback
        _store_problem(s, exc)
    note = st.empty()
    note.info("Database busy (probably the nightly job is writing), retrying…")
    deadline = time.monotonic() + s.lock_timeout
    while True:
        try:
            value = _run(path, max(1.0, deadline - time.monotonic()), name, args, kwargs)
            note.empty()
            return value
        except StoreError as exc:
            if not _is_busy(exc) or time.monotonic() >= deadline:
                note.empty()
                _store_problem(s, exc)
            time.sleep(0.2)


def _store_problem(s: Settings, exc: Exception) -> None:
    if _is_busy(exc):
        st.warning(f"The database is busy (another process has been writing for over {s.lock_timeout:.0f}s). "
                   "Reload the page in a minute.")
    elif isinstance(exc, SchemaTooNew):
        st.error(md_escape(str(exc)))
    else:
        st.error(f"Cannot read the database: {md_escape(str(exc))}")
    st.stop()
    raise DashboardStop(str(exc))


def write(s: Settings, fn: Callable[[Any], Any]) -> Any:
    """Run ``fn(con)`` in one write transaction, retrying while another writer (or reader) holds the file.

    Raises DatabaseLocked when the file stayed busy for ``lock_timeout``; the caller keeps what the
    curator entered so nothing is lost.
    """
    _close_page_connection()  # a read-only handle in this process would block our own write
    deadline = time.monotonic() + s.lock_timeout
    while True:
        try:
            with transaction(s.db_path, timeout=max(1.0, deadline - time.monotonic())) as con:
                value = fn(con)
            st.cache_data.clear()
            return value
        except StoreError as exc:
            if not _is_busy(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.1)


def require_db(s: Settings) -> dict[str, Any]:
    """Stop with a clear message when the file is missing or unreadable; return the overview counts."""
    p = Path(s.db_path)
    if not p.exists():
        st.error(f"No database at {md_escape(str(p))}.")
        st.markdown("Create one with `aisec-radar init --db PATH` and fill it with `aisec-radar nightly`, "
                    "or try the offline demo: `make demo`. Point the dashboard at another file with "
                    "`aisec-radar dashboard --db PATH`.")
        st.stop()
    return read(s, "overview")


def require_papers(ov: dict[str, Any]) -> None:
    if ov["papers"] == 0:
        st.info("The database has no papers yet. Run `aisec-radar nightly` (or `make demo` for the offline "
                "demo) and reload this page.")
        st.stop()


# ------------------------------------------------------------------------------------------ safe text

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>$~&=:])")


def md_escape(text: str | None) -> str:
    """Text from arXiv shown through st.markdown as literal text: no HTML, links, emphasis or math.

    Streamlit never renders raw HTML without unsafe_allow_html (which this package never uses);
    escaping the markdown too keeps ``[x](javascript:...)``, headings and tables inert.
    """
    return _MD_SPECIAL.sub(r"\\\1", normalise_space(text))


# ------------------------------------------------------------------------------------------ filters

def sidebar_filters(s: Settings, tax: Taxonomy, ov: dict[str, Any], with_types: bool = False) -> queries.Filters:
    """The filters Trends and Papers share; widget keys are stable so tests can drive them."""
    sb = st.sidebar
    sb.header("Filters")
    first, last = ov.get("first_date"), ov.get("last_date")
    f_from = f_to = None
    if first and last:
        default_from = max(first, last - timedelta(days=730))
        picked = sb.date_input("Date range", value=(default_from, last), min_value=first, max_value=last,
                               key="f_dates")
        if isinstance(picked, (tuple, list)):
            f_from = picked[0] if len(picked) > 0 else None
            f_to = picked[1] if len(picked) > 1 else None
        elif isinstance(picked, date):
            f_from = picked
    listing = sb.selectbox("Listing", list(queries.LISTINGS), key="f_listing",
                           format_func={"all": "primary and cross-listed", "primary": "primary category harvested",
                                        "cross": "cross-listed only"}.get)
    cats = sb.multiselect("Category (any of)", sorted(set(s.categories) | set(read(s, "categories_seen"))),
                          key="f_categories")
    provenance = sb.selectbox("Labels", list(queries.PROVENANCES), key="f_provenance",
                              format_func={"all": "curated and auto-classified", "curated": "curated only",
                                           "auto": "auto-classified only"}.get)
    roles = sb.multiselect("Role", list(tax.roles), key="f_roles")
    modalities = sb.multiselect("Modality", list(tax.modalities), key="f_modalities")
    survey = sb.selectbox("Survey coverage", list(queries.SURVEY), key="f_survey",
                          format_func={"all": "all papers", "cited": "cited by the survey",
                                       "not_cited": "not yet cited"}.get)
    types: tuple[str, ...] = ()
    scope = "all"
    if with_types:
        types = tuple(sb.multiselect("Attack type (any of)", list(tax.label_ids), key="f_types",
                                     format_func=lambda t: type_name(tax, t)))
        scope = sb.selectbox("Scope", ["taxonomy", "aisec", "all"], key="f_scope",
                             format_func={"taxonomy": "in the taxonomy", "aisec": "AI security (incl. other)",
                                          "all": "all crawled papers"}.get)
    return queries.Filters(date_from=f_from, date_to=f_to, listing=listing, categories=tuple(cats),
                           roles=tuple(roles), modalities=tuple(modalities), provenance=provenance,
                           survey=survey, types=types, scope=scope, taxonomy_types=tax.type_ids)


def type_name(tax: Taxonomy, type_id: str) -> str:
    try:
        return tax.type(type_id).name
    except KeyError:
        return type_id


def axis_map_choice(s: Settings, tax: Taxonomy, where: Any = None) -> str:
    """The survey version whose type->axis map the page uses (arXiv v1 vs OpenReview)."""
    names = list(tax.axis_maps)
    default = s.axis_map if s.axis_map in names else tax.default_axis_map
    return (where or st.sidebar).selectbox("Axis map (survey version)", names, index=names.index(default),
                                           key="f_axis_map")


def sidebar_footer(s: Settings) -> None:
    st.sidebar.caption("Database: " + md_escape(s.db_path))
