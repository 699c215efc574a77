"""Exports: BibTeX for the survey's LaTeX, CSV/Parquet for analysis, a Markdown digest, Atom feeds,
and the survey delta (new papers the survey does not cite yet).

Every export reads one selection from ``store.exports`` (papers with their effective label: the
curator's if any, else the classifier's) so the files agree with the dashboard. Files are written
to a temporary name and renamed, so a reader (LaTeX, a feed reader, cron mail) never sees half a file.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from aisec_radar.config import Settings
from aisec_radar.errors import InputError
from aisec_radar.store import connect
from aisec_radar.store.exports import PaperFilter, copy_papers, select_papers, unclassified_count
from aisec_radar.taxonomy import load_taxonomy
from aisec_radar.taxonomy.loader import Taxonomy

ARXIV_ABS = "https://arxiv.org/abs/"
OUT_OF_TAXONOMY = ("other_aisec", "not_relevant")
_STOPWORDS = {"a", "an", "the", "on", "of", "in", "for", "to", "and", "with", "via", "towards", "toward",
              "is", "are", "do", "does", "can", "how", "what", "when", "why", "by", "from", "at", "as"}


# ---------------------------------------------------------------- selection helpers


def resolve_types(tax: Taxonomy, types: Iterable[str] = (), axes: Iterable[str] = (),
                  axis_map: str | None = None) -> list[str] | None:
    """Turn --type and --axis flags into the list of type ids to match (None = no type filter)."""
    types = [t for t in types if t]
    axes = [a for a in axes if a]
    if not types and not axes:
        return None
    for t in types:
        if t not in tax.label_ids:
            raise InputError(f"unknown type '{t}'; valid: {', '.join(tax.label_ids)}")
    out = list(types)
    amap = tax.axis_map(axis_map)
    for a in axes:
        if a not in tax.axes:
            raise InputError(f"unknown axis '{a}'; valid: {', '.join(tax.axes)}")
        out.extend(t for t, ax in amap.items() if ax == a and t not in out)
    return out


def _atomic_write(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    if isinstance(data, bytes):
        tmp.write_bytes(data)
    else:
        tmp.write_text(data, encoding="utf-8")
    tmp.replace(path)


def _rows(settings: Settings, f: PaperFilter) -> list[dict[str, Any]]:
    with connect(settings.db_path, read_only=True, timeout=settings.lock_timeout) as con:
        return select_papers(con, f)


# ---------------------------------------------------------------- BibTeX


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def paper_year(row: dict[str, Any]) -> int | None:
    """Year of v1: the published date, else the one encoded in the id (2501.01234 -> 2025)."""
    if row.get("published"):
        return row["published"].year
    aid = row["arxiv_id"]
    m = re.match(r"^(\d{2})(\d{2})\.\d{4,5}$", aid) or re.match(r"^[a-z\-]+(?:\.[A-Z]{2})?/(\d{2})(\d{2})\d{3}$", aid)
    if m:
        yy = int(m.group(1))
        return 2000 + yy if yy < 91 else 1900 + yy
    if row.get("paper_date"):
        return row["paper_date"].year
    return None


def bibtex_key(row: dict[str, Any]) -> str:
    """firstauthorYEARfirstword_<id>: readable, and unique and stable because the arXiv id is in it.

    The id suffix means a key never changes when another paper by the same author appears, so
    \\cite commands in the survey keep working across exports.
    """
    authors = row.get("authors") or []
    last = ""
    if authors:
        name = authors[0].strip()
        last = name.split(",")[0] if "," in name else name.split()[-1] if name.split() else ""
    last = re.sub(r"[^a-z]", "", _ascii(last).lower()) or "anon"
    year = paper_year(row)
    words = [re.sub(r"[^a-z0-9]", "", _ascii(w).lower()) for w in re.split(r"[\s\-:/]+", row.get("title") or "")]
    first = next((w for w in words if w and w not in _STOPWORDS), "paper")
    suffix = re.sub(r"[^A-Za-z0-9]", "_", row["arxiv_id"])
    return f"{last}{year or ''}{first}_{suffix}"


_SPECIAL = re.compile(r"(?<!\\)([&%#])")


def _balance_braces(text: str) -> str:
    depth = 0
    for ch in text:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                break
    if depth != 0:
        return text.replace("{", "").replace("}", "")
    return text


def latex_text(text: str | None) -> str:
    """Make arXiv text safe inside a BibTeX field or LaTeX: escape & % #, keep $math$, balance braces.

    arXiv titles are already LaTeX-ish (``$\\epsilon$``, ``\\"o``), so backslashes are left alone.
    Underscores are escaped outside math, where they would otherwise break compilation.
    """
    s = " ".join((text or "").split())
    s = _SPECIAL.sub(r"\\\1", s)
    parts = s.split("$")
    if len(parts) % 2 == 0:  # unbalanced $: treat it all as text
        parts = [s.replace("$", r"\$")]
    for i in range(0, len(parts), 2):
        parts[i] = re.sub(r"(?<!\\)_", r"\\_", parts[i])
    # a trailing backslash would escape the field's closing brace
    return _balance_braces("$".join(parts)).rstrip("\\").rstrip()


def bibtex_entry(row: dict[str, Any], tax: Taxonomy | None = None, axis_map: str | None = None) -> str:
    key = bibtex_key(row)
    aid = row["arxiv_id"]
    fields: list[tuple[str, str]] = [("title", "{" + latex_text(row["title"]) + "}")]
    authors = [latex_text(a) for a in (row.get("authors") or []) if a.strip()]
    if authors:
        fields.append(("author", " and ".join(authors)))
    year = paper_year(row)
    if year:
        fields.append(("year", str(year)))
    fields += [("eprint", aid), ("archivePrefix", "arXiv")]
    if row.get("primary_category"):
        fields.append(("primaryClass", row["primary_category"]))
    fields.append(("url", ARXIV_ABS + aid))
    if row.get("doi"):
        fields.append(("doi", latex_text(row["doi"])))
    types = [t for t in (row.get("types") or [])]
    if types:
        kw = list(types)
        if tax is not None:
            amap = tax.axis_map(axis_map)
            kw += sorted({amap[t] for t in types if t in amap})
        fields.append(("keywords", ", ".join(kw)))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@misc{{{key},\n{body}\n}}\n"


def render_bibtex(rows: Sequence[dict[str, Any]], tax: Taxonomy | None = None, axis_map: str | None = None,
                  header: str = "") -> str:
    out = [f"% {line}\n" for line in header.splitlines()] if header else []
    if out:
        out.append("\n")
    out += [bibtex_entry(r, tax, axis_map) + "\n" for r in sorted(rows, key=lambda r: r["arxiv_id"])]
    return "".join(out)


def export_bibtex(settings: Settings, path: Path, f: PaperFilter) -> int:
    """Write the selected papers as BibTeX (sorted by id so diffs in git stay small)."""
    tax = load_taxonomy(settings.taxonomy_path or None)
    rows = _rows(settings, f)
    _atomic_write(path, render_bibtex(rows, tax, settings.axis_map,
                                      header=f"aisec-radar export, {len(rows)} entries"))
    return len(rows)


# ---------------------------------------------------------------- CSV / Parquet


def export_table(settings: Settings, path: Path, fmt: str, f: PaperFilter) -> int:
    """Papers with effective labels as CSV or Parquet, written by DuckDB itself (COPY)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with connect(settings.db_path, read_only=True, timeout=settings.lock_timeout) as con:
        n = copy_papers(con, tmp, fmt, f)
    tmp.replace(path)
    return n


# ---------------------------------------------------------------- digest


def review_status(row: dict[str, Any]) -> str:
    if row.get("provenance") == "curated":
        return "curated"
    if row.get("prediction_status") == "needs_review":
        return "needs review"
    if row.get("provenance") == "auto":
        return "auto"
    return "unclassified"


def _md(text: str | None) -> str:
    """Markdown-safe one-liner: brackets would break the link syntax."""
    return " ".join((text or "").split()).replace("[", "\\[").replace("]", "\\]")


def _authors_short(authors: Sequence[str] | None) -> str:
    authors = list(authors or [])
    if not authors:
        return "unknown authors"
    return authors[0] + (" et al." if len(authors) > 2 else f" and {authors[1]}" if len(authors) == 2 else "")


def _digest_line(row: dict[str, Any]) -> str:
    conf = f"confidence {row['confidence']:.2f}" if row.get("confidence") is not None else "no confidence"
    cited = " · cited by the survey" if row.get("cited") else ""
    return (f"- [{_md(row['title'])}]({ARXIV_ABS}{row['arxiv_id']}) — {_md(_authors_short(row.get('authors')))}"
            f" ({row['paper_date']}) · {conf} · {review_status(row)}{cited}")


def render_digest(rows: Sequence[dict[str, Any]], tax: Taxonomy, axis_map: str | None = None,
                  title: str = "aisec-radar digest", intro: str = "", unclassified: int = 0) -> str:
    """Markdown grouped by axis, then type; other_aisec after the taxonomy; not_relevant left out.

    A paper with two types appears under both: a reader scanning one type must not miss it.
    """
    amap = tax.axis_map(axis_map)
    by_type: dict[str, list[dict[str, Any]]] = {}
    not_relevant = 0
    for r in rows:
        types = r.get("types") or []
        if not types or "not_relevant" in types:
            not_relevant += bool(types)
            continue
        for t in types:
            by_type.setdefault(t, []).append(r)
    in_tax = {r["arxiv_id"] for t, rs in by_type.items() if t != "other_aisec" for r in rs}
    lines = [f"# {title}", ""]
    if intro:
        lines += [intro, ""]
    lines.append(f"{len(in_tax)} paper(s) in the taxonomy, {len(by_type.get('other_aisec', []))} other AI-security "
                 f"paper(s), {not_relevant} not relevant (not listed), {unclassified} not classified yet.")
    lines.append("")
    if not by_type:
        lines += ["No new AI-security papers.", ""]
    for axis_id, axis_name in tax.axes.items():
        axis_types = [t for t in tax.type_ids if amap.get(t) == axis_id and by_type.get(t)]
        if not axis_types:
            continue
        n_axis = len({r["arxiv_id"] for t in axis_types for r in by_type[t]})
        lines += [f"## {axis_name} ({axis_id}) — {n_axis} paper(s)", ""]
        for t in axis_types:
            lines += [f"### {tax.type(t).name} — {len(by_type[t])}", ""]
            lines += [_digest_line(r) for r in by_type[t]]
            lines.append("")
    unmapped = [t for t in by_type if t not in OUT_OF_TAXONOMY and t not in amap]
    for t in unmapped:
        lines += [f"## {t} — {len(by_type[t])}", ""] + [_digest_line(r) for r in by_type[t]] + [""]
    if by_type.get("other_aisec"):
        lines += [f"## Other AI security — {len(by_type['other_aisec'])}", ""]
        lines += [_digest_line(r) for r in by_type["other_aisec"]]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def export_digest(settings: Settings, path: Path, f: PaperFilter, title: str | None = None,
                  intro: str = "") -> int:
    """Write the digest of the selected papers; return how many AI-security papers it lists."""
    tax = load_taxonomy(settings.taxonomy_path or None)
    with connect(settings.db_path, read_only=True, timeout=settings.lock_timeout) as con:
        rows = select_papers(con, f)
        unclassified = unclassified_count(con, f.first_seen_since) if f.first_seen_since else 0
    if not title:
        title = f"aisec-radar digest {date.today().isoformat()}"
    _atomic_write(path, render_digest(rows, tax, settings.axis_map, title=title, intro=intro,
                                      unclassified=unclassified))
    return sum(1 for r in rows if r.get("types") and "not_relevant" not in r["types"])


# ---------------------------------------------------------------- Atom feeds

ATOM_NS = "http://www.w3.org/2005/Atom"


def _rfc3339(d: date | datetime | None) -> str:
    if d is None:
        d = datetime.now(UTC)
    if not isinstance(d, datetime):
        d = datetime(d.year, d.month, d.day, tzinfo=UTC)
    if d.tzinfo is None:
        d = d.replace(tzinfo=UTC)
    return d.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_XML_BAD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _xml_text(text: str | None) -> str:
    """ElementTree escapes <, >, &; characters XML 1.0 forbids outright must go."""
    return _XML_BAD.sub("", text or "")


def render_feed(rows: Sequence[dict[str, Any]], type_id: str, tax: Taxonomy, self_url: str | None = None) -> bytes:
    """A valid Atom 1.0 feed: feed id/title/updated/author, each entry with id/title/updated/link."""
    ET.register_namespace("", ATOM_NS)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        el = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
        if text is not None:
            el.text = _xml_text(text)
        return el

    name = tax.type(type_id).name if type_id in tax.label_ids else type_id
    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    sub(feed, "id", f"urn:aisec-radar:feed:{type_id}")
    sub(feed, "title", f"aisec-radar: {name}")
    sub(feed, "subtitle", f"New arXiv papers classified as {name} (taxonomy {tax.version})")
    entry_dates = [_entry_updated(r) for r in rows]
    sub(feed, "updated", max(entry_dates) if entry_dates else _rfc3339(None))
    author = sub(feed, "author")
    sub(author, "name", "aisec-radar")
    sub(feed, "generator", "aisec-radar")
    if self_url:
        sub(feed, "link", rel="self", href=self_url)
    for r, updated in zip(rows, entry_dates, strict=True):
        e = sub(feed, "entry")
        sub(e, "id", ARXIV_ABS + r["arxiv_id"])
        sub(e, "title", " ".join((r.get("title") or "").split()))
        sub(e, "updated", updated)
        if r.get("published"):
            sub(e, "published", _rfc3339(r["published"]))
        sub(e, "link", rel="alternate", type="text/html", href=ARXIV_ABS + r["arxiv_id"])
        for a in r.get("authors") or []:
            sub(sub(e, "author"), "name", a)
        for t in r.get("types") or []:
            sub(e, "category", term=t)
        conf = f"{r['confidence']:.2f}" if r.get("confidence") is not None else "n/a"
        summary = f"[{review_status(r)}, confidence {conf}] {' '.join((r.get('abstract') or '').split())}"
        sub(e, "summary", summary, type="text")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="utf-8")


def _entry_updated(r: dict[str, Any]) -> str:
    return _rfc3339(r.get("updated") or r.get("published") or r.get("first_seen"))


def export_feeds(settings: Settings, out_dir: Path, types: Sequence[str] | None = None, limit: int = 100,
                 base_url: str | None = None, curated_only: bool = False) -> dict[str, int]:
    """One Atom file per type (``<out_dir>/<type>.atom``) with its newest ``limit`` papers."""
    tax = load_taxonomy(settings.taxonomy_path or None)
    wanted = list(types) if types else list(tax.type_ids) + ["other_aisec"]
    counts: dict[str, int] = {}
    with connect(settings.db_path, read_only=True, timeout=settings.lock_timeout) as con:
        selections = {t: select_papers(con, PaperFilter(types=[t], limit=limit, curated_only=curated_only))
                      for t in wanted}
    for t, rows in selections.items():
        self_url = f"{base_url.rstrip('/')}/{t}.atom" if base_url else None
        _atomic_write(out_dir / f"{t}.atom", render_feed(rows, t, tax, self_url))
        counts[t] = len(rows)
    return counts


# ---------------------------------------------------------------- survey delta


@dataclass
class DeltaReport:
    bib_path: Path
    tex_path: Path
    papers: int
    per_type: dict[str, int] = field(default_factory=dict)


def render_itemize(rows: Sequence[dict[str, Any]], tax: Taxonomy, axis_map: str | None = None,
                   since: date | None = None) -> str:
    """A LaTeX fragment ready to paste: one \\paragraph per axis and type, an itemize of \\cite'd papers."""
    amap = tax.axis_map(axis_map)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        for t in r.get("types") or []:
            if t in amap:
                by_type.setdefault(t, []).append(r)
    head = f"% aisec-radar survey delta: new papers not yet cited{f' since {since}' if since else ''}\n"
    out = [head]
    for axis_id, axis_name in tax.axes.items():
        axis_types = [t for t in tax.type_ids if amap.get(t) == axis_id and by_type.get(t)]
        if not axis_types:
            continue
        out.append(f"\n% ---- {axis_id}: {axis_name}\n")
        for t in axis_types:
            out.append(f"\\paragraph{{{latex_text(axis_name)} / {latex_text(tax.type(t).name)}}}\n")
            out.append("\\begin{itemize}\n")
            for r in sorted(by_type[t], key=lambda r: (r["paper_date"], r["arxiv_id"])):
                out.append(f"  \\item \\cite{{{bibtex_key(r)}}} {latex_text(r['title'])} "
                           f"(arXiv:{r['arxiv_id']}, {review_status(r)})\n")
            out.append("\\end{itemize}\n")
    if len(out) == 1:
        out.append("% nothing new\n")
    return "".join(out)


def export_delta(settings: Settings, out_dir: Path, since: date, types: Sequence[str] | None = None,
                 curated_only: bool = False, prefix: str = "delta") -> DeltaReport:
    """What is new since ``since`` in the taxonomy and not cited by the imported survey .bib."""
    tax = load_taxonomy(settings.taxonomy_path or None)
    f = PaperFilter(types=types, since=since, in_taxonomy_only=True, not_cited=True, curated_only=curated_only)
    rows = _rows(settings, f)
    amap = tax.axis_map(settings.axis_map)
    if types:
        # keep only the asked types in the grouping, but the BibTeX entries stay whole
        wanted = set(types)
        rows = [{**r, "types": [t for t in r["types"] if t in wanted]} for r in rows]
    bib = out_dir / f"{prefix}.bib"
    tex = out_dir / f"{prefix}.tex"
    _atomic_write(bib, render_bibtex(rows, tax, settings.axis_map,
                                     header=f"aisec-radar survey delta since {since}: {len(rows)} entries"))
    _atomic_write(tex, render_itemize(rows, tax, settings.axis_map, since))
    per_type: dict[str, int] = {}
    for r in rows:
        for t in r["types"]:
            if t in amap:
                per_type[t] = per_type.get(t, 0) + 1
    return DeltaReport(bib_path=bib, tex_path=tex, papers=len(rows), per_type=per_type)
