"""Survey coverage: read the survey's bibliography and mark the papers it already cites.

A reference names its arXiv paper in many ways (an ``eprint`` field, an arxiv.org URL, the DataCite
DOI 10.48550/arXiv.ID, "arXiv preprint arXiv:ID" in journal/note); when none is there (a
conference version, say), the title is matched against the store after normalisation (case, LaTeX
braces and accents, punctuation). What cannot be matched is reported, not guessed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from aisec_radar.config import Settings
from aisec_radar.errors import InputError
from aisec_radar.records import split_arxiv_id
from aisec_radar.store import transaction
from aisec_radar.store.survey import Citation, known_ids, paper_titles, store_citations

_NEW_ID = r"\d{4}\.\d{4,5}"
_OLD_ID = r"[a-z\-]+(?:\.[A-Z]{2})?/\d{7}"
_ID = rf"(?P<id>{_NEW_ID}|{_OLD_ID})(?:v\d+)?"
_URL = re.compile(rf"arxiv\.org/(?:abs|pdf|html)/{_ID}", re.IGNORECASE)
_DOI = re.compile(rf"10\.48550/arxiv\.{_ID}", re.IGNORECASE)
_TEXT = re.compile(rf"arxiv[:\s]+(?:preprint\s+)?(?:arxiv:)?\s*{_ID}", re.IGNORECASE)
_BARE = re.compile(rf"^\s*(?:arxiv:)?{_ID}\s*$", re.IGNORECASE)


@dataclass
class BibEntry:
    key: str
    fields: dict[str, str]


@dataclass
class ImportReport:
    entries: int
    matched: dict[str, int] = field(default_factory=dict)  # matched_by -> count
    not_in_store: list[str] = field(default_factory=list)  # arXiv ids cited but not crawled yet
    unmatched: list[tuple[str, str]] = field(default_factory=list)  # (bibkey, title)
    cited_total: int = 0


def normalise_title(title: str | None) -> str:
    """Lowercase ASCII words only: '{BadNets}: Identifying\\ Vulnerabilities...' == 'BadNets: identifying ...'."""
    s = title or ""
    s = re.sub(r"\\([_&%#$])", r"\1", s)  # escaped specials: \_ is an underscore
    s = re.sub(r"\\[a-zA-Z](?=\{)", "", s)  # one-letter accents such as \c{c} or \v{s}
    s = re.sub(r"\\[a-zA-Z]+\s*", " ", s)  # LaTeX commands such as \emph or \textit
    s = re.sub(r"\\\s", " ", s)  # control space
    s = re.sub(r"\\.", "", s)  # accent commands like \" or \'
    s = s.replace("{", "").replace("}", "")  # case-protecting braces: {P}oisoning
    s = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode("ascii").lower()
    s = re.sub(r"[^a-z0-9]+", " ", s)
    return " ".join(s.split())


def _clean_id(raw: str) -> str:
    base, _version = split_arxiv_id(raw)
    return base


def arxiv_id_of(entry: BibEntry) -> tuple[str, str] | None:
    """(arxiv_id, matched_by) from the identifier fields, or None."""
    f = {k.lower(): v for k, v in entry.fields.items()}
    eprint = f.get("eprint", "")
    prefix = f.get("archiveprefix", f.get("eprinttype", "arxiv")).lower()
    if eprint and "arxiv" in prefix:
        m = _BARE.match(eprint) or _URL.search(eprint)
        if m:
            return _clean_id(m.group("id")), "eprint"
    for name in ("url", "pdf", "howpublished", "note"):
        m = _URL.search(f.get(name, ""))
        if m:
            return _clean_id(m.group("id")), "url"
    m = _DOI.search(f.get("doi", ""))
    if m:
        return _clean_id(m.group("id")), "doi"
    for name in ("journal", "booktitle", "note", "howpublished", "publisher"):
        m = _TEXT.search(f.get(name, ""))
        if m:
            return _clean_id(m.group("id")), "journal"
    return None


def parse_bib(path: Path) -> list[BibEntry]:
    """Read a .bib with bibtexparser; a file it cannot read fails naming the file and the blocks."""
    import bibtexparser

    if not path.exists():
        raise InputError(f"bibliography {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        text = path.read_text(encoding="latin-1")
    lib = bibtexparser.parse_string(text)
    if not lib.entries:
        # An empty result would silently un-cite everything on replace: refuse instead.
        where = ""
        if lib.failed_blocks:
            where = f" (first unreadable block at line {getattr(lib.failed_blocks[0], 'start_line', '?')})"
        raise InputError(f"{path}: no BibTeX entry found{where}")
    out = []
    for e in lib.entries:
        fields = {fl.key: str(fl.value) for fl in e.fields}
        out.append(BibEntry(key=e.key, fields=fields))
    return out


def match_entries(entries: list[BibEntry], titles: list[tuple[str, str]]) -> tuple[list[Citation],
                                                                                   list[tuple[str, str]]]:
    """Citations found by identifier or title, and the (key, title) of entries matched by neither."""
    index: dict[str, str] = {}
    for aid, title in titles:
        index.setdefault(normalise_title(title), aid)
    found: dict[str, Citation] = {}
    unmatched = []
    for e in entries:
        title = e.fields.get("title") or e.fields.get("Title")
        hit = arxiv_id_of(e)
        if hit is None:
            norm = normalise_title(title)
            aid = index.get(norm) if norm else None
            if aid is not None:
                hit = (aid, "title")
        if hit is None:
            unmatched.append((e.key, " ".join((title or "").split())))
            continue
        aid, how = hit
        found.setdefault(aid, Citation(arxiv_id=aid, bibkey=e.key, title=title, matched_by=how))
    return list(found.values()), unmatched


def import_survey(settings: Settings, bib_path: Path, replace: bool = True) -> ImportReport:
    """Read the survey .bib and store which papers it cites (one transaction: all or nothing)."""
    entries = parse_bib(bib_path)
    with transaction(settings.db_path, timeout=settings.lock_timeout) as con:
        citations, unmatched = match_entries(entries, paper_titles(con))
        present = known_ids(con, [c.arxiv_id for c in citations])
        total = store_citations(con, citations, replace=replace)
    report = ImportReport(entries=len(entries), unmatched=unmatched, cited_total=total)
    for c in citations:
        report.matched[c.matched_by] = report.matched.get(c.matched_by, 0) + 1
    report.not_in_store = sorted(c.arxiv_id for c in citations if c.arxiv_id not in present)
    return report
