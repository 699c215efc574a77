"""The JSONL corpus the local arXiv stand-in serves (e.g. ../shared/arxiv/corpus.jsonl.gz).

Corpus records carry what the real feeds carry, but not always dates: about half come from daily
listings without a submission date. The stand-in still needs an OAI datestamp and API dates for
every record, so they are derived here once, the same way for OAI and API:

- published = ``published``, else ``listing_date``, else the first day of the id's yymm;
- updated   = ``updated``, else published;
- datestamp (OAI "last modified") = updated.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from aisec_radar.errors import InputError

_NEW_ID = re.compile(r"^(\d{2})(\d{2})\.\d{4,5}$")
_OLD_ID = re.compile(r"^[a-z\-]+(?:\.[A-Z]{2})?/(\d{2})(\d{2})\d{3}$")
_CATEGORY = re.compile(r"^[a-z][a-z\-]*(?:\.[A-Za-z][A-Za-z\-]*)?$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

# Groups of the OAI set tree (arXiv/oaipmh create_set_list.py): everything else is under physics.
_GROUPS = {"cs", "math", "stat", "eess", "econ", "q-bio", "q-fin"}


def id_month(arxiv_id: str) -> date | None:
    """First day of the month encoded in an arXiv id (2401.01234 -> 2024-01-01; cs/0112017 -> 2001-12-01)."""
    m = _NEW_ID.match(arxiv_id) or _OLD_ID.match(arxiv_id)
    if not m:
        return None
    yy, mm = int(m.group(1)), int(m.group(2))
    if not 1 <= mm <= 12:
        return None
    return date(2000 + yy if yy < 91 else 1900 + yy, mm, 1)


def _d(value: object) -> date | None:
    if not value or not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def clean(text: str | None) -> str:
    """Drop characters XML 1.0 cannot carry (the real feeds never contain them)."""
    return _CONTROL.sub("", text or "")


def set_specs(category: str) -> tuple[str, ...]:
    """All OAI sets a category belongs to, most specific last: cs.CR -> (cs, cs:cs, cs:cs:CR)."""
    archive, _, sub = category.partition(".")
    group = archive if archive in _GROUPS else "physics"
    out = [group, f"{group}:{archive}"]
    if sub:
        out.append(f"{group}:{archive}:{sub}")
    return tuple(dict.fromkeys(out))


def category_set(category: str) -> str:
    """The set that selects exactly one category (cs.CR -> cs:cs:CR), as the harvester asks for."""
    return set_specs(category)[-1]


@dataclass(slots=True)
class CorpusRecord:
    arxiv_id: str
    version: int
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    primary_category: str
    published: date
    updated: date
    datestamp: date
    doi: str | None
    comment: str | None
    sets: frozenset[str]

    @property
    def size(self) -> str:
        """A stable stand-in for the source size arXivRaw reports (the corpus does not carry it)."""
        h = int(hashlib.md5(self.arxiv_id.encode()).hexdigest()[:6], 16)
        return f"{100 + h % 4000}kb"


def record_from_json(obj: dict, where: str = "corpus") -> CorpusRecord:
    aid = obj.get("id")
    if not isinstance(aid, str) or not aid.strip():
        raise InputError(f"{where}: record without an 'id'")
    aid = aid.strip()
    # Some scraped records carry ACM classes ("I.3; I.4") among the categories; arXiv never lists those.
    cats = [c for c in (obj.get("categories") or []) if isinstance(c, str) and _CATEGORY.match(c)]
    primary = obj.get("primary_category") or (cats[0] if cats else "")
    if primary and primary not in cats:
        cats = [primary, *cats]
    elif primary and cats[0] != primary:
        cats = [primary] + [c for c in cats if c != primary]
    fallback = id_month(aid) or date(1991, 8, 1)
    published = _d(obj.get("published")) or _d(obj.get("listing_date")) or fallback
    updated = _d(obj.get("updated")) or published
    if updated < published:
        updated = published
    sets: set[str] = set()
    for c in cats:
        sets.update(set_specs(c))
    return CorpusRecord(
        arxiv_id=aid, version=int(obj.get("version") or 1), title=clean(obj.get("title")),
        abstract=clean(obj.get("abstract")), authors=[clean(a) for a in obj.get("authors") or [] if a],
        categories=cats, primary_category=primary, published=published, updated=updated, datestamp=updated,
        doi=obj.get("doi") or None, comment=clean(obj.get("comment")) or None, sets=frozenset(sets),
    )


def iter_corpus_json(path: Path) -> Iterator[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc
    except OSError as exc:
        raise InputError(f"cannot read corpus {path}: {exc}") from exc


def load_corpus(source: Path | str | Iterable[dict], since: date | None = None,
                until: date | None = None) -> list[CorpusRecord]:
    """Records in OAI order (datestamp, id); ``since``/``until`` keep a window of datestamps."""
    if isinstance(source, (str, Path)):
        p = Path(source)
        if not p.exists():
            raise InputError(f"corpus file {p} does not exist")
        objs: Iterable[dict] = iter_corpus_json(p)
        where = str(p)
    else:
        objs, where = source, "corpus"
    out: dict[str, CorpusRecord] = {}
    for obj in objs:
        rec = record_from_json(obj, where)
        if since and rec.datestamp < since:
            continue
        if until and rec.datestamp > until:
            continue
        out[rec.arxiv_id] = rec  # a later line for the same id wins (a newer version)
    return sorted(out.values(), key=lambda r: (r.datestamp, r.arxiv_id))


def write_corpus(path: Path, records: Iterable[dict]) -> int:
    """Write JSONL (gzip when the name ends in .gz); used to cut slices for tests and demos."""
    opener = gzip.open if path.suffix == ".gz" else open
    n = 0
    with opener(path, "wt", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
            n += 1
    return n
