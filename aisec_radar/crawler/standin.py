"""A local arXiv: OAI-PMH and the export API served over real HTTP from a JSONL corpus.

Tests, benchmarks and ``make demo`` point the crawler here instead of at arXiv, and a user can run
``aisec-radar serve-arxiv`` to try the system offline. The responses follow the real formats in
../shared/arxiv/formats (OAI-PMH envelope, arXiv / arXivRaw metadata, resumption tokens in the
2025+ style with an empty token on the last page, OAI errors; Atom 2026 feeds with opensearch
counters and the API's error feed), so the parsers exercised here are the ones used against arXiv.

Faults can be switched on to rehearse what arXiv does on a bad day: 503/429 with Retry-After every
Nth request, a truncated body, malformed XML, an entity-expansion payload, a rejected resumption
token, slow responses.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit
from xml.sax.saxutils import escape, quoteattr

from aisec_radar.crawler.corpus import CorpusRecord, load_corpus

log = logging.getLogger(__name__)

OAI_RECORDS_LIMIT = 2500  # arXiv/oaipmh config.py RECORDS_LIMIT
API_PAGE_LIMIT = 2000  # "slices of at most 2000"
API_QUERY_LIMIT = 30000  # max_results above this -> HTTP 400
EARLIEST_DATESTAMP = "2005-09-16"
FORMATS = ("arXiv", "arXivRaw")

_OAI_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:schemaLocation="http://www.openarchives.org/OAI/2.0/ http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd">\n'
)
_OAI_ERRORS = {  # OAI-PMH spec texts, as the 2025+ server uses them
    "badArgument": "The request includes illegal arguments, is missing required arguments, includes a repeated "
                   "argument, or values for arguments have an illegal syntax.",
    "badResumptionToken": "The value of the resumptionToken argument is invalid or expired.",
    "badVerb": "Value of the verb argument is not a legal OAI-PMH verb, the verb argument is missing, or the "
               "verb argument is repeated.",
    "cannotDisseminateFormat": "The metadata format identified by the value given for the metadataPrefix "
                               "argument is not supported by the item or by the repository.",
    "idDoesNotExist": "The value of the identifier argument is unknown or illegal in this repository.",
    "noRecordsMatch": "The combination of the values of the from, until, set and metadataPrefix arguments "
                      "results in an empty list.",
}
_ID_OK = re.compile(r"^(?:\d{4}\.\d{4,5}|[a-z\-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?$")
_BOMB = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    b' <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n'
    b' <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">\n'
    b' <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">\n'
    b' <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">\n'
    b' <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">\n'
    b' <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">\n'
    b' <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">\n'
    b' <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">\n'
    b' <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">\n]>\n'
    b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><responseDate>&lol9;</responseDate></OAI-PMH>\n'
)
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass
class Faults:
    """Which requests misbehave. Request numbers count from 1 across both endpoints.

    ``*_every=N`` hits every Nth request after the first ``fault_after`` ones (N=1: all of them).
    """

    fail_every: int = 0  # answer fail_status + Retry-After
    fail_status: int = 503
    retry_after: int = 1
    truncate_every: int = 0  # cut the XML body in half (Content-Length matches the cut body)
    malformed_every: int = 0  # break a closing tag
    bomb_every: int = 0  # serve an entity-expansion ("billion laughs") document
    bad_token_once: bool = False  # reject the first resumption token presented
    slow: float = 0.0  # seconds to wait before every answer
    fault_after: int = 0

    def hits(self, every: int, n: int) -> bool:
        return every > 0 and n > self.fault_after and (n - self.fault_after) % every == 0


@dataclass
class Stats:
    requests: int = 0
    oai: int = 0
    api: int = 0
    faults: int = 0
    paths: list[str] = field(default_factory=list)
    user_agents: set[str] = field(default_factory=set)


def _rfc2822(d: date) -> str:
    return f"{_WEEKDAYS[d.weekday()]}, {d.day} {_MONTHS[d.month - 1]} {d.year} 00:00:00 GMT"


def _iso_z(d: date) -> str:
    return f"{d.isoformat()}T00:00:00Z"


class Corpus:
    """The records, in OAI order, with cached per-query selections."""

    def __init__(self, records: list[CorpusRecord]):
        self.records = records
        self.by_id = {r.arxiv_id: r for r in records}
        self._cache: dict[tuple, list[CorpusRecord]] = {}
        self._lock = threading.Lock()

    def select_oai(self, set_spec: str | None, since: str | None, until: str | None) -> list[CorpusRecord]:
        key = ("oai", set_spec, since, until)
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None:
            return hit
        lo = date.fromisoformat(since) if since else None
        hi = date.fromisoformat(until) if until else None
        out = [r for r in self.records
               if (set_spec is None or set_spec in r.sets)
               and (lo is None or r.datestamp >= lo) and (hi is None or r.datestamp <= hi)]
        with self._lock:
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[key] = out
        return out

    def select_api(self, query: str, sort_by: str, sort_order: str) -> list[CorpusRecord]:
        key = ("api", query, sort_by, sort_order)
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None:
            return hit
        pred = parse_search_query(query)
        out = [r for r in self.records if pred(r)]
        if sort_by == "submittedDate":
            out.sort(key=lambda r: (r.published, r.arxiv_id), reverse=sort_order != "ascending")
        elif sort_by == "lastUpdatedDate":
            out.sort(key=lambda r: (r.updated, r.arxiv_id), reverse=sort_order != "ascending")
        with self._lock:
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[key] = out
        return out


# --------------------------------------------------------------------------------------------------
# search_query: field:value terms with AND / OR / ANDNOT and parentheses (arXiv API user manual §5.1)

_TOKEN = re.compile(r'\s*(\(|\)|ANDNOT\b|AND\b|OR\b|[a-zA-Z]+:(?:"[^"]*"|\[[^\]]*\]|[^\s()]+))')


class QueryError(ValueError):
    pass


def _term(field_name: str, value: str):
    value = value.strip('"')
    if field_name in ("submittedDate", "lastUpdatedDate"):
        m = re.fullmatch(r"\[\s*(\d{8,14})\s+TO\s+(\d{8,14})\s*\]", value)
        if not m:
            raise QueryError(f"bad date range {value!r}")

        def stamp(s: str, end: bool) -> datetime:
            s = s.ljust(12, "9" if end else "0")[:12] if len(s) < 12 else s[:12]
            if end and s.endswith("9999"):
                s = s[:8] + "2359"
            return datetime.strptime(s, "%Y%m%d%H%M")

        lo, hi = stamp(m.group(1), False), stamp(m.group(2), True)
        attr = "published" if field_name == "submittedDate" else "updated"
        return lambda r: lo <= datetime.combine(getattr(r, attr), datetime.min.time()) <= hi
    if field_name == "cat":
        if value.endswith("*"):
            prefix = value[:-1]
            return lambda r: any(c.startswith(prefix) for c in r.categories)
        return lambda r: value in r.categories
    if field_name == "id":
        return lambda r: r.arxiv_id == value.split("v")[0]
    words = value.lower().split()
    getters = {"ti": lambda r: r.title, "abs": lambda r: r.abstract, "au": lambda r: " ".join(r.authors),
               "co": lambda r: r.comment or "", "all": lambda r: " ".join([r.title, r.abstract, *r.authors])}
    get = getters.get(field_name)
    if get is None:
        raise QueryError(f"unknown field {field_name!r}")
    return lambda r: all(w in get(r).lower() for w in words)


def parse_search_query(q: str):
    """A predicate over CorpusRecord for the subset of the API's query language the crawler uses."""
    tokens, pos = [], 0
    q = q.strip()
    while pos < len(q):
        m = _TOKEN.match(q, pos)
        if not m:
            raise QueryError(f"cannot parse search_query at {q[pos:pos + 20]!r}")
        tokens.append(m.group(1))
        pos = m.end()
        while pos < len(q) and q[pos].isspace():
            pos += 1
    if not tokens:
        return lambda r: True
    i = 0

    def expr():
        nonlocal i
        left = atom()
        while i < len(tokens) and tokens[i] in ("AND", "OR", "ANDNOT"):
            op = tokens[i]
            i += 1
            right = atom()
            a, b = left, right
            if op == "AND":
                left = lambda r, a=a, b=b: a(r) and b(r)  # noqa: E731
            elif op == "OR":
                left = lambda r, a=a, b=b: a(r) or b(r)  # noqa: E731
            else:
                left = lambda r, a=a, b=b: a(r) and not b(r)  # noqa: E731
        return left

    def atom():
        nonlocal i
        if i >= len(tokens):
            raise QueryError("query ends early")
        t = tokens[i]
        i += 1
        if t == "(":
            e = expr()
            if i >= len(tokens) or tokens[i] != ")":
                raise QueryError("missing ')'")
            i += 1
            return e
        if ":" not in t:
            raise QueryError(f"unexpected {t!r}")
        f, v = t.split(":", 1)
        return _term(f, v)

    pred = expr()
    if i != len(tokens):
        raise QueryError(f"unexpected {tokens[i]!r}")
    return pred


# --------------------------------------------------------------------------------------------------
# rendering



def _metadata_tail(r: CorpusRecord, root: str) -> str:
    """The elements both arXiv metadata formats end with, in arXiv's order, and the closing root tag."""
    parts = []
    if r.comment:
        parts.append(f"<comments>{escape(r.comment)}</comments>")
    if r.doi:
        parts.append(f"<doi>{escape(r.doi)}</doi>")
    parts.append("<license>http://arxiv.org/licenses/nonexclusive-distrib/1.0/</license>")
    parts.append(f"<abstract>  {escape(r.abstract)}\n</abstract></{root}>\n")
    return "".join(parts)

def _arxivraw(r: CorpusRecord) -> str:
    versions = []
    for v in range(1, r.version + 1):
        d = r.updated if v == r.version else r.published
        versions.append(f'<version version="v{v}"><date>{_rfc2822(d)}</date><size>{r.size}</size>'
                        f"<source_type>D</source_type></version>")
    if len(r.authors) > 1:
        authors = ", ".join(r.authors[:-1]) + " and " + r.authors[-1]
    else:
        authors = r.authors[0] if r.authors else ""
    parts = [
        ' <arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:schemaLocation="http://arxiv.org/OAI/arXivRaw/ http://arxiv.org/OAI/arXivRaw.xsd">\n',
        f" <id>{escape(r.arxiv_id)}</id><submitter>{escape(r.authors[0] if r.authors else 'arXiv')}</submitter>",
        "".join(versions),
        f"<title>{escape(r.title)}</title><authors>{escape(authors)}</authors>",
        f"<categories>{escape(' '.join(r.categories))}</categories>",
    ]
    return "".join(parts) + _metadata_tail(r, "arXivRaw")


def _arxiv(r: CorpusRecord) -> str:
    authors = []
    for a in r.authors:
        fore, _, key = a.rpartition(" ")
        authors.append(f"<author><keyname>{escape(key)}</keyname>"
                       + (f"<forenames>{escape(fore)}</forenames>" if fore else "") + "</author>")
    parts = [
        ' <arXiv xmlns="http://arxiv.org/OAI/arXiv/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:schemaLocation="http://arxiv.org/OAI/arXiv/ http://arxiv.org/OAI/arXiv.xsd">\n',
        f" <id>{escape(r.arxiv_id)}</id><created>{r.published.isoformat()}</created>",
        f"<updated>{r.updated.isoformat()}</updated>" if r.version > 1 else "",
        f"<authors>{''.join(authors)}</authors><title>{escape(r.title)}</title>",
        f"<categories>{escape(' '.join(r.categories))}</categories>",
    ]
    return "".join(parts) + _metadata_tail(r, "arXiv")


def _oai_record(r: CorpusRecord, prefix: str) -> str:
    specs = sorted({_most_specific(c) for c in r.categories})
    sets = "".join(f"\n <setSpec>{escape(s)}</setSpec>" for s in specs)
    meta = _arxivraw(r) if prefix == "arXivRaw" else _arxiv(r)
    return (f"<record>\n<header>\n <identifier>oai:arXiv.org:{escape(r.arxiv_id)}</identifier>\n"
            f" <datestamp>{r.datestamp.isoformat()}</datestamp>{sets}\n</header>\n<metadata>\n{meta}</metadata>\n"
            "</record>\n")


def _most_specific(category: str) -> str:
    from aisec_radar.crawler.corpus import category_set

    return category_set(category)


def _atom_entry(r: CorpusRecord) -> str:
    vid = f"{r.arxiv_id}v{r.version}"
    cats = "".join(f'\n    <category term="{escape(c)}" scheme="http://arxiv.org/schemas/atom"/>'
                   for c in r.categories)
    parts = [
        f"  <entry>\n    <id>http://arxiv.org/abs/{vid}</id>\n    <title>{escape(r.title)}</title>\n",
        f"    <updated>{_iso_z(r.updated)}</updated>\n",
        f'    <link href="https://arxiv.org/abs/{vid}" rel="alternate" type="text/html"/>\n',
        f'    <link href="https://arxiv.org/pdf/{vid}" rel="related" type="application/pdf" title="pdf"/>\n',
        f"    <summary>{escape(r.abstract)}</summary>{cats}\n",
        f"    <published>{_iso_z(r.published)}</published>\n",
    ]
    if r.comment:
        parts.append(f"    <arxiv:comment>{escape(r.comment)}</arxiv:comment>\n")
    parts.append(f'    <arxiv:primary_category term="{escape(r.primary_category)}"/>\n')
    for a in r.authors:
        parts.append(f"    <author>\n      <name>{escape(a)}</name>\n    </author>\n")
    if r.doi:
        parts.append(f"    <arxiv:doi>{escape(r.doi)}</arxiv:doi>\n"
                     f'    <link href="https://doi.org/{escape(r.doi)}" rel="related" title="doi"/>\n')
    parts.append("  </entry>\n")
    return "".join(parts)


# --------------------------------------------------------------------------------------------------
# the server


class StandinServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], corpus: Corpus, faults: Faults, page_size: int,
                 now: datetime | None):
        super().__init__(addr, _Handler)
        self.corpus = corpus
        self.faults = faults
        self.page_size = page_size
        self.fixed_now = now
        self.stats = Stats()
        self.lock = threading.Lock()
        self._bad_token_done = False

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def now(self) -> datetime:
        return self.fixed_now or datetime.now(UTC).replace(tzinfo=None, microsecond=0)

    def take_bad_token(self) -> bool:
        with self.lock:
            if self.faults.bad_token_once and not self._bad_token_done:
                self._bad_token_done = True
                return True
        return False


class _Handler(BaseHTTPRequestHandler):
    server: StandinServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        log.debug("stand-in: " + format, *args)

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        srv = self.server
        with srv.lock:
            srv.stats.requests += 1
            n = srv.stats.requests
            srv.stats.paths.append(self.path)
            srv.stats.user_agents.add(self.headers.get("User-Agent", ""))
        f = srv.faults
        if f.slow:
            time.sleep(f.slow)
        parts = urlsplit(self.path)
        params = {k: v for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        if f.hits(f.fail_every, n):
            with srv.lock:
                srv.stats.faults += 1
            body = b"<html><body><h1>Service unavailable</h1><p>Retry later.</p></body></html>\n"
            return self._send(f.fail_status, body, "text/html", {"Retry-After": str(f.retry_after)})
        if parts.path.rstrip("/") in ("/oai", "/oai2"):
            with srv.lock:
                srv.stats.oai += 1
            status, body = self._oai(params)
            ctype = "text/xml; charset=utf-8"
        elif parts.path.rstrip("/") == "/api/query":
            with srv.lock:
                srv.stats.api += 1
            status, body = self._api(params)
            ctype = "application/atom+xml; charset=utf-8"
        else:
            return self._send(404, b"not found\n", "text/plain")
        if f.hits(f.bomb_every, n):
            body = _BOMB
            srv.stats.faults += 1
        elif f.hits(f.truncate_every, n):
            body = body[: max(1, len(body) // 2)]
            srv.stats.faults += 1
        elif f.hits(f.malformed_every, n):
            body = body.replace(b"</", b"</broken ", 1) if b"</" in body else body + b"<"
            srv.stats.faults += 1
        self._send(status, body, ctype)

    def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    # ---------------------------------------------------------------- OAI-PMH
    def _oai(self, params: dict[str, list[str]]) -> tuple[int, bytes]:
        srv = self.server
        now = srv.now()
        one = {k: v[0] for k, v in params.items()}
        request_attrs = "".join(f" {k}={quoteattr(v)}" for k, v in one.items())
        head = (_OAI_HEAD + f"<responseDate>{now.isoformat()}Z</responseDate>\n"
                f"<request{request_attrs}>{escape(srv.base_url)}/oai</request>\n")

        def error(code: str, reason: str = "") -> tuple[int, bytes]:
            text = _OAI_ERRORS[code] + (f" Reason: {reason}" if reason else "")
            return 200, (head + f"<error code={quoteattr(code)}>{escape(text)}</error>\n</OAI-PMH>\n").encode()

        if any(len(v) > 1 for v in params.values()):
            return error("badArgument", "repeated argument")
        verb = one.get("verb")
        if verb == "Identify":
            body = (head + "<Identify>\n<repositoryName>arXiv (local stand-in)</repositoryName>\n"
                    f"<baseURL>{escape(srv.base_url)}/oai</baseURL>\n<protocolVersion>2.0</protocolVersion>\n"
                    "<adminEmail>help@arxiv.org</adminEmail>\n"
                    f"<earliestDatestamp>{EARLIEST_DATESTAMP}</earliestDatestamp>\n"
                    "<deletedRecord>persistent</deletedRecord>\n<granularity>YYYY-MM-DD</granularity>\n"
                    "</Identify>\n</OAI-PMH>\n")
            return 200, body.encode()
        if verb == "ListMetadataFormats":
            fm = "".join(f"<metadataFormat><metadataPrefix>{p}</metadataPrefix></metadataFormat>\n" for p in FORMATS)
            return 200, (head + f"<ListMetadataFormats>\n{fm}</ListMetadataFormats>\n</OAI-PMH>\n").encode()
        if verb == "ListSets":
            specs = sorted({s for r in srv.corpus.records for s in r.sets})
            rows = "".join(f"<set><setSpec>{escape(x)}</setSpec><setName>{escape(x)}</setName></set>\n" for x in specs)
            return 200, (head + f"<ListSets>\n{rows}</ListSets>\n</OAI-PMH>\n").encode()
        if verb == "GetRecord":
            prefix = one.get("metadataPrefix")
            if prefix not in FORMATS:
                return error("cannotDisseminateFormat")
            ident = (one.get("identifier") or "").removeprefix("oai:arXiv.org:")
            rec = srv.corpus.by_id.get(ident)
            if rec is None:
                return error("idDoesNotExist")
            return 200, (head + f"<GetRecord>\n{_oai_record(rec, prefix)}</GetRecord>\n</OAI-PMH>\n").encode()
        if verb != "ListRecords":
            return error("badVerb")
        token = one.get("resumptionToken")
        if token is not None:
            if len(one) > 2:
                return error("badArgument", "resumptionToken is an exclusive argument")
            if srv.take_bad_token():
                return error("badResumptionToken", "Token decoding failed or format is invalid.")
            try:
                q = {k: v[0] for k, v in parse_qs(unquote(token), strict_parsing=True).items()}
                skip = int(q.pop("skip"))
            except (ValueError, KeyError):
                return error("badResumptionToken", "Token decoding failed or format is invalid.")
        else:
            q = {k: one[k] for k in ("metadataPrefix", "set", "from", "until") if k in one}
            skip = 0
            extra = set(one) - {"verb", "metadataPrefix", "set", "from", "until"}
            if extra:
                return error("badArgument", f"illegal argument {sorted(extra)[0]}")
        prefix = q.get("metadataPrefix")
        if prefix is None:
            return error("badArgument", "metadataPrefix is required")
        if prefix not in FORMATS:
            return error("cannotDisseminateFormat")
        for k in ("from", "until"):
            if k in q:
                try:
                    date.fromisoformat(q[k])
                    if len(q[k]) != 10:
                        raise ValueError
                except ValueError:
                    return error("badArgument", f"{k} is not a YYYY-MM-DD date")
        if "from" in q and "until" in q and q["from"] > q["until"]:
            return error("badArgument", "from is after until")
        selected = srv.corpus.select_oai(q.get("set"), q.get("from"), q.get("until"))
        if not selected:
            return error("noRecordsMatch")
        if skip > len(selected):
            return error("badResumptionToken", "Token decoding failed or format is invalid.")
        page = selected[skip: skip + srv.page_size]
        body = [head, "<ListRecords>\n"]
        body.extend(_oai_record(r, prefix) for r in page)
        nxt = skip + len(page)
        if nxt < len(selected):
            tok = quote(urlencode({**q, "skip": nxt}))
            expires = (now + timedelta(days=1)).date().isoformat()
            body.append(f'<resumptionToken expirationDate="{expires}T00:00:00Z">{escape(tok)}</resumptionToken>\n')
        elif token is not None:
            body.append("<resumptionToken/>\n")
        body.append("</ListRecords>\n</OAI-PMH>\n")
        return 200, "".join(body).encode()

    # ---------------------------------------------------------------- export API
    def _api(self, params: dict[str, list[str]]) -> tuple[int, bytes]:
        srv = self.server
        now = srv.now()
        one = {k: v[0] for k, v in params.items()}
        query = one.get("search_query", "")
        id_list = [i.strip() for i in one.get("id_list", "").split(",") if i.strip()]
        try:
            start = int(one.get("start", "0"))
            max_results = int(one.get("max_results", "10"))
        except ValueError:
            return self._api_error(now, "start and max_results must be integers", "bad_paging")
        if start < 0 or max_results < 0:
            return self._api_error(now, "start and max_results must be non-negative", "bad_paging")
        if max_results > API_QUERY_LIMIT:
            return self._api_error(now, f"max_results must be at most {API_QUERY_LIMIT}", "max_results")
        for i in id_list:
            if not _ID_OK.match(i):
                return self._api_error(now, f"incorrect id format for {i}", f"incorrect_id_format_for_{i}")
        try:
            selected = srv.corpus.select_api(query, one.get("sortBy", "relevance"),
                                             one.get("sortOrder", "descending")) if query else None
        except QueryError as exc:
            return self._api_error(now, f"malformed query: {exc}", "malformed_query")
        if id_list:
            wanted = [srv.corpus.by_id.get(i.split("v")[0] if "/" not in i else i.rsplit("v", 1)[0]) for i in id_list]
            found = [r for r in wanted if r is not None]
            if selected is not None:
                keep = {r.arxiv_id for r in selected}
                found = [r for r in found if r.arxiv_id in keep]
            selected = found
        if selected is None:
            selected = []
        page = selected[start: start + min(max_results, API_PAGE_LIMIT)]
        title_q = f"search_query={query}&id_list={','.join(id_list)}&start={start}&max_results={max_results}"
        link_q = urlencode({"search_query": query, "start": start, "max_results": max_results,
                            "id_list": ",".join(id_list)}, safe=":,")
        import hashlib

        fid = hashlib.sha1(title_q.encode()).hexdigest()[:27]
        body = [
            "<?xml version='1.0' encoding='UTF-8'?>\n",
            '<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
            'xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">\n',
            f"  <id>https://arxiv.org/api/{fid}</id>\n",
            f"  <title>arXiv Query: {escape(title_q)}</title>\n",
            f"  <updated>{now.isoformat()}Z</updated>\n",
            f'  <link href="https://arxiv.org/api/query?{escape(link_q)}" type="application/atom+xml"/>\n',
            f"  <opensearch:itemsPerPage>{max_results}</opensearch:itemsPerPage>\n",
            f"  <opensearch:totalResults>{len(selected)}</opensearch:totalResults>\n",
            f"  <opensearch:startIndex>{start}</opensearch:startIndex>\n",
        ]
        body.extend(_atom_entry(r) for r in page)
        body.append("</feed>\n")
        return 200, "".join(body).encode()

    def _api_error(self, now: datetime, message: str, anchor: str) -> tuple[int, bytes]:
        stamp = f"{now.isoformat()}Z"
        anchor = quote(anchor, safe="._-")
        body = (
            "<?xml version='1.0' encoding='UTF-8'?>\n"
            '<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
            'xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">\n'
            "  <id>https://arxiv.org/</id>\n  <title>arXiv Search Results</title>\n"
            f"  <updated>{stamp}</updated>\n  <opensearch:itemsPerPage>1</opensearch:itemsPerPage>\n"
            "  <opensearch:totalResults>1</opensearch:totalResults>\n"
            "  <opensearch:startIndex>0</opensearch:startIndex>\n  <entry>\n"
            f"    <id>https://arxiv.org/api/errors#{anchor}</id>\n    <title>Error</title>\n"
            f"    <updated>{stamp}</updated>\n"
            f'    <link href="https://arxiv.org/api/errors#{anchor}" rel="alternate" type="text/html"/>\n'
            f"    <summary>{escape(message)}</summary>\n    <author>\n      <name>arXiv api core</name>\n"
            "    </author>\n  </entry>\n</feed>\n"
        )
        return 400, body.encode()


class StandinURL(str):
    """The base URL (a plain ``str``) that also carries the running server, for stats and shutdown."""

    server: StandinServer

    @property
    def oai(self) -> str:
        return self + "/oai"

    @property
    def api(self) -> str:
        return self + "/api/query"


def make_server(corpus: Path | str | Iterable[dict] | list[CorpusRecord], host: str = "127.0.0.1",
                port: int = 0, page_size: int = OAI_RECORDS_LIMIT, since: date | None = None,
                until: date | None = None, now: datetime | None = None, **faults: object) -> StandinServer:
    if isinstance(corpus, list) and corpus and isinstance(corpus[0], CorpusRecord):
        records = corpus
    else:
        records = load_corpus(corpus, since=since, until=until)  # type: ignore[arg-type]
    unknown = set(faults) - set(Faults.__dataclass_fields__)
    if unknown:
        raise TypeError(f"unknown stand-in fault(s): {', '.join(sorted(unknown))}")
    return StandinServer((host, port), Corpus(records), Faults(**faults), page_size, now)  # type: ignore[arg-type]


@contextmanager
def run_standin(corpus: Path | str | Iterable[dict], host: str = "127.0.0.1", port: int = 0,
                **options: object) -> Iterator[StandinURL]:
    """Serve ``corpus`` in a background thread; yield the base URL (OAI at <base>/oai, API at <base>/api/query).

    Options: ``page_size`` (records per ListRecords page), ``since``/``until`` (serve only a window of
    datestamps), ``now`` (fixed responseDate), and the fault flags of ``Faults``.
    """
    server = make_server(corpus, host=host, port=port, **options)  # type: ignore[arg-type]
    thread = threading.Thread(target=server.serve_forever, name="arxiv-standin", daemon=True)
    thread.start()
    url = StandinURL(server.base_url)
    url.server = server
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
