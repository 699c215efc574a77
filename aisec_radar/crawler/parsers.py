"""Parsers for arXiv's OAI-PMH (arXiv, arXivRaw) and export-API (Atom) responses.

Both legacy (pre-2025, hard-wrapped, namespaces on every element) and 2026 forms parse to the same
``records.Paper``, so a paper seen through OAI and later through the API compares equal.

Safety: pages come from the network, so the XML parser never loads a DTD, never resolves entities
and never touches the network, and a page that declares a DOCTYPE at all is refused (arXiv never
sends one; an entity-expansion "bomb" needs one). Huge-tree mode stays off, so libxml2's own depth
and size limits apply too.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime

from lxml import etree

from aisec_radar.records import Paper, PaperVersion, normalise_space, split_arxiv_id

log = logging.getLogger(__name__)

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
ARXIV_NS = "http://arxiv.org/OAI/arXiv/"
ARXIVRAW_NS = "http://arxiv.org/OAI/arXivRaw/"
ATOM_NS = "http://www.w3.org/2005/Atom"
ARXIV_ATOM_NS = "http://arxiv.org/schemas/atom"
OPENSEARCH_NS = "http://a9.com/-/spec/opensearch/1.1/"

_O = f"{{{OAI_NS}}}"
_A = f"{{{ATOM_NS}}}"
_X = f"{{{ARXIV_ATOM_NS}}}"
_OS = f"{{{OPENSEARCH_NS}}}"

_DOCTYPE = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)
# "A, B, and C" / "A, B and C" / "A and B": the free-text author list of arXivRaw.
_AUTHOR_SPLIT = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+")


class PageError(ValueError):
    """A whole response cannot be used (malformed, truncated, hostile); the page is retried or fails."""


@dataclass
class BadRecord:
    """A record that was skipped, with the id when there is one, so the log can name it."""

    arxiv_id: str | None
    reason: str


@dataclass
class OaiPage:
    response_date: str | None = None
    papers: list[Paper] = field(default_factory=list)
    bad: list[BadRecord] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    token: str | None = None  # None or "" = last page
    complete_list_size: int | None = None
    error_code: str | None = None
    error_text: str | None = None

    @property
    def n_records(self) -> int:
        return len(self.papers) + len(self.bad) + len(self.deleted)


@dataclass
class AtomPage:
    papers: list[Paper] = field(default_factory=list)
    bad: list[BadRecord] = field(default_factory=list)
    total_results: int | None = None
    start_index: int | None = None
    items_per_page: int | None = None
    error: str | None = None


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_comments=True, remove_pis=True)


def safe_fromstring(body: bytes) -> etree._Element:
    """Parse untrusted XML: no DTD, no entities, no network; refuse anything that declares a DOCTYPE."""
    if not body or not body.strip():
        raise PageError("empty response body")
    if _DOCTYPE.search(body):
        raise PageError("response declares a DOCTYPE/ENTITY (possible entity-expansion attack); refused")
    try:
        root = etree.fromstring(body, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise PageError(f"malformed or truncated XML: {exc}") from exc
    if root is None:
        raise PageError("response is not an XML document")
    return root


def _text(el: etree._Element | None) -> str | None:
    if el is None:
        return None
    t = el.text if len(el) == 0 else "".join(el.itertext())
    t = normalise_space(t)
    return t or None


def _date(s: str | None) -> date | None:
    if not s:
        return None
    s = s.strip()
    try:
        return date.fromisoformat(s[:10])
    except ValueError:
        return None


_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                        "Nov", "Dec"), 1)}


def _rfc2822(s: str | None) -> datetime | None:
    """'Mon, 2 Feb 2026 17:03:11 GMT' -> naive UTC datetime (fast path; email.utils for anything else)."""
    if not s:
        return None
    parts = s.split()
    if len(parts) == 6 and parts[5] in ("GMT", "UTC", "+0000") and parts[2] in _MONTHS:
        try:
            hh, mm, ss = parts[4].split(":")
            return datetime(int(parts[3]), _MONTHS[parts[2]], int(parts[1]), int(hh), int(mm), int(ss))
        except ValueError:
            pass
    try:
        dt = parsedate_to_datetime(s.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt


def _primary_first(categories: list[str], primary: str | None) -> list[str]:
    if primary and primary in categories and categories[0] != primary:
        return [primary] + [c for c in categories if c != primary]
    return categories


def split_authors(text: str | None) -> list[str]:
    """arXivRaw's one-string author list -> names ("A, B, and C" -> [A, B, C])."""
    t = normalise_space(text)
    if not t:
        return []
    return [a for a in _AUTHOR_SPLIT.split(t) if a]


# --------------------------------------------------------------------------------------------------
# OAI-PMH


def _ns(el: etree._Element) -> str:
    return el.tag[: el.tag.index("}") + 1] if el.tag.startswith("{") else ""


def _parse_arxiv_meta(meta: etree._Element) -> Paper:
    ns = _ns(meta)  # some real samples omit the xmlns on <arXiv>
    raw_id = meta.findtext(ns + "id")
    title = _text(meta.find(ns + "title"))
    if not raw_id or not raw_id.strip():
        raise ValueError("record has no <id>")
    arxiv_id, version = split_arxiv_id(raw_id)
    if not title:
        raise ValueError("record has no <title>")
    authors = []
    for a in meta.iterfind(f"{ns}authors/{ns}author"):
        parts = [normalise_space(a.findtext(ns + "forenames")), normalise_space(a.findtext(ns + "keyname")),
                 normalise_space(a.findtext(ns + "suffix"))]
        name = " ".join(p for p in parts if p)
        if name:
            authors.append(name)
    cats = (meta.findtext(ns + "categories") or "").split()
    created = _date(meta.findtext(ns + "created"))
    updated = _date(meta.findtext(ns + "updated")) or created
    return Paper(arxiv_id=arxiv_id, title=title, abstract=_text(meta.find(ns + "abstract")) or "",
                 authors=authors, categories=cats, primary_category=cats[0] if cats else None,
                 published=created, updated=updated, version=version,
                 doi=_text(meta.find(ns + "doi")), comment=_text(meta.find(ns + "comments")))


def _parse_arxivraw_meta(meta: etree._Element) -> Paper:
    # One pass over the children (the hot path of a harvest: 2,500 records a page).
    fields: dict[str, etree._Element] = {}
    versions = []
    for child in meta:
        tag = child.tag
        local = tag[tag.index("}") + 1:] if tag[0] == "{" else tag
        if local == "version":
            label = (child.get("version") or "").strip().lstrip("vV")
            if not label.isdigit():
                continue
            when = size = None
            for part in child:
                ptag = part.tag
                plocal = ptag[ptag.index("}") + 1:] if ptag[0] == "{" else ptag
                if plocal == "date":
                    when = _rfc2822(part.text)
                elif plocal == "size":
                    size = (part.text or "").strip() or None
            versions.append(PaperVersion(version=int(label), submitted=when, size=size))
        else:
            fields.setdefault(local, child)
    id_el = fields.get("id")
    raw_id = id_el.text if id_el is not None else None
    if not raw_id or not raw_id.strip():
        raise ValueError("record has no <id>")
    arxiv_id, _ = split_arxiv_id(raw_id)
    title = _text(fields.get("title"))
    if not title:
        raise ValueError("record has no <title>")
    versions.sort(key=lambda v: v.version)
    cat_el = fields.get("categories")
    cats = (cat_el.text or "").split() if cat_el is not None else []
    first = versions[0].submitted if versions else None
    last = versions[-1].submitted if versions else None
    authors_el = fields.get("authors")
    return Paper(arxiv_id=arxiv_id, title=title, abstract=_text(fields.get("abstract")) or "",
                 authors=split_authors(authors_el.text if authors_el is not None else None), categories=cats,
                 primary_category=cats[0] if cats else None,
                 published=first.date() if first else None, updated=last.date() if last else None,
                 version=versions[-1].version if versions else None, versions=versions,
                 doi=_text(fields.get("doi")), comment=_text(fields.get("comments")))


def parse_oai_page(body: bytes) -> OaiPage:
    """One ListRecords (or GetRecord) response -> papers, skipped records, token, or the OAI error.

    A record missing its id or title is skipped and reported (``bad``), not fatal: one broken
    record must not cost the rest of the page.
    """
    root = safe_fromstring(body)
    if root.tag != _O + "OAI-PMH":
        raise PageError(f"not an OAI-PMH response (root element {root.tag!r})")
    page = OaiPage(response_date=(root.findtext(_O + "responseDate") or "").strip() or None)
    err = root.find(_O + "error")
    if err is not None:
        page.error_code = err.get("code") or "unknown"
        page.error_text = normalise_space("".join(err.itertext()))
        return page
    container = root.find(_O + "ListRecords")
    if container is None:
        container = root.find(_O + "GetRecord")
    if container is None:
        raise PageError("OAI-PMH response has neither ListRecords, GetRecord nor error")
    for rec in container.iterfind(_O + "record"):
        header = rec.find(_O + "header")
        ident = header.findtext(_O + "identifier") if header is not None else None
        hint = split_arxiv_id(ident)[0] if ident and ident.strip() else None
        if header is not None and header.get("status") == "deleted":
            page.deleted.append(hint or "?")
            continue
        meta_el = rec.find(_O + "metadata")
        inner = meta_el[0] if meta_el is not None and len(meta_el) else None
        if inner is None:
            page.bad.append(BadRecord(hint, "record has no metadata"))
            continue
        try:
            local = etree.QName(inner).localname
            if local == "arXivRaw":
                paper = _parse_arxivraw_meta(inner)
            elif local == "arXiv":
                paper = _parse_arxiv_meta(inner)
            else:
                raise ValueError(f"unsupported metadata format {inner.tag!r}")
        except ValueError as exc:
            page.bad.append(BadRecord(hint, str(exc)))
            continue
        page.papers.append(paper)
    tok = container.find(_O + "resumptionToken")
    if tok is not None:
        page.token = (tok.text or "").strip() or None
        size = tok.get("completeListSize")
        page.complete_list_size = int(size) if size and size.isdigit() else None
    return page


# --------------------------------------------------------------------------------------------------
# Export API (Atom)


def _int(s: str | None) -> int | None:
    try:
        return int((s or "").strip())
    except ValueError:
        return None


def parse_atom_entry(entry: etree._Element) -> Paper:
    raw_id = entry.findtext(_A + "id")
    if not raw_id or not raw_id.strip():
        raise ValueError("entry has no <id>")
    arxiv_id, version = split_arxiv_id(raw_id)
    title = _text(entry.find(_A + "title"))
    if not title:
        raise ValueError("entry has no <title>")
    cats = [c.get("term") for c in entry.iterfind(_A + "category") if c.get("term")]
    prim_el = entry.find(_X + "primary_category")
    primary = prim_el.get("term") if prim_el is not None else (cats[0] if cats else None)
    cats = _primary_first(cats, primary)
    authors = [n for n in (_text(a.find(_A + "name")) for a in entry.iterfind(_A + "author")) if n]
    return Paper(arxiv_id=arxiv_id, title=title, abstract=_text(entry.find(_A + "summary")) or "",
                 authors=authors, categories=cats, primary_category=primary,
                 published=_date(entry.findtext(_A + "published")), updated=_date(entry.findtext(_A + "updated")),
                 version=version, doi=_text(entry.find(_X + "doi")), comment=_text(entry.find(_X + "comment")))


def parse_atom_feed(body: bytes) -> AtomPage:
    """An export-API response (2026 or legacy form) -> papers and the opensearch counters.

    The API reports bad input as a one-entry feed whose entry id is ``.../api/errors#...``; that
    becomes ``error`` instead of a paper.
    """
    root = safe_fromstring(body)
    if root.tag != _A + "feed":
        raise PageError(f"not an Atom feed (root element {root.tag!r})")
    page = AtomPage(total_results=_int(root.findtext(_OS + "totalResults")),
                    start_index=_int(root.findtext(_OS + "startIndex")),
                    items_per_page=_int(root.findtext(_OS + "itemsPerPage")))
    for entry in root.iterfind(_A + "entry"):
        eid = entry.findtext(_A + "id") or ""
        if "/api/errors" in eid:
            page.error = _text(entry.find(_A + "summary")) or "arXiv API error"
            continue
        try:
            page.papers.append(parse_atom_entry(entry))
        except ValueError as exc:
            hint = split_arxiv_id(eid)[0] if eid.strip() else None
            page.bad.append(BadRecord(hint, str(exc)))
    return page
