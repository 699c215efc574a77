"""Exports parse back (bibtexparser, XML, DuckDB read_parquet, csv) and agree with the store."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from xml.etree import ElementTree as ET

import bibtexparser
import duckdb
import pytest
from click.testing import CliRunner
from export_fixtures import PAPERS, populate

from aisec_radar.cli import app
from aisec_radar.config import Settings
from aisec_radar.export import (
    ATOM_NS,
    bibtex_key,
    export_bibtex,
    export_digest,
    export_feeds,
    export_table,
    latex_text,
    resolve_types,
)
from aisec_radar.store import connect
from aisec_radar.store.exports import PaperFilter, select_papers
from aisec_radar.taxonomy import load_taxonomy

A = f"{{{ATOM_NS}}}"


@pytest.fixture
def store(db_path: Path) -> Path:
    populate(db_path)
    return db_path


def _settings(db: Path) -> Settings:
    return Settings(db_path=str(db))


def _rows(db: Path, f: PaperFilter) -> list[dict]:
    with connect(db, read_only=True) as con:
        return select_papers(con, f)


def _bib(path: Path) -> dict[str, dict[str, str]]:
    lib = bibtexparser.parse_file(str(path))
    assert not lib.failed_blocks, [b.error for b in lib.failed_blocks]
    return {e.key: {f.key: f.value for f in e.fields} for e in lib.entries}


def test_bibtex_parses_and_matches_store(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "all.bib"
    n = export_bibtex(_settings(store), out, PaperFilter(relevant_only=True))
    entries = _bib(out)
    rows = _rows(store, PaperFilter(relevant_only=True))
    assert n == len(entries) == len(rows) == 5  # not_relevant and unclassified left out
    by_id = {e["eprint"]: (k, e) for k, e in entries.items()}
    for r in rows:
        key, e = by_id[r["arxiv_id"]]
        assert key == bibtex_key(r)
        assert e["archivePrefix"] == "arXiv"
        assert e["url"] == f"https://arxiv.org/abs/{r['arxiv_id']}"
        assert e["year"] == str(r["published"].year)
        assert r["arxiv_id"].replace(".", "_") in key
    k, jb = by_id["2501.00001"]
    assert k == "muller2025jailbreaking_2501_00001"  # ASCII key from 'José Müller'
    assert r"\&" in jb["title"] and r"100\%" in jb["title"] and r"$\epsilon$" in jb["title"]
    assert jb["author"] == "José Müller and Ann Lee"
    _, mia = by_id["2501.00002"]
    assert r"Diffusion\_Models" in mia["title"]
    assert mia["doi"] == r"10.1000/xyz\_1"
    # keys are stable: a second export is byte-identical
    out2 = tmp_path / "again.bib"
    export_bibtex(_settings(store), out2, PaperFilter(relevant_only=True))
    assert out.read_text() == out2.read_text()


def test_bibtex_filters(store: Path, tmp_path: Path) -> None:
    tax = load_taxonomy()
    s = _settings(store)
    types = resolve_types(tax, (), ["MD"])  # model_inversion, membership_inference, data_extraction
    export_bibtex(s, tmp_path / "md.bib", PaperFilter(types=types))
    assert {e["eprint"] for e in _bib(tmp_path / "md.bib").values()} == {"2501.00002", "2503.00005"}
    export_bibtex(s, tmp_path / "cur.bib", PaperFilter(curated_only=True))
    assert {e["eprint"] for e in _bib(tmp_path / "cur.bib").values()} == {"2501.00001", "2502.00003"}
    export_bibtex(s, tmp_path / "range.bib", PaperFilter(since=date(2025, 1, 5), until=date(2025, 2, 28),
                                                         relevant_only=True))
    assert {e["eprint"] for e in _bib(tmp_path / "range.bib").values()} == {"2501.00002", "2502.00003"}
    export_bibtex(s, tmp_path / "hf.bib", PaperFilter(types=["harmful_finetuning"]))
    (entry,) = _bib(tmp_path / "hf.bib").values()
    assert entry["keywords"] == "poisoning, harmful_finetuning, DM"  # the curator's label wins


def test_latex_text_keeps_math_and_balances() -> None:
    assert latex_text("a_b $x_1$ & {c") == r"a\_b $x_1$ \& c"
    assert latex_text(r"already \& escaped") == r"already \& escaped"
    assert latex_text("price $5") == r"price \$5"
    assert latex_text("ends with a backslash \\") == "ends with a backslash"


def test_parquet_and_csv_match_store(store: Path, tmp_path: Path) -> None:
    s = _settings(store)
    pq = tmp_path / "papers.parquet"
    n = export_table(s, pq, "parquet", PaperFilter())
    rows = _rows(store, PaperFilter())
    assert n == len(rows) == len(PAPERS)
    con = duckdb.connect()
    got = {r[0]: r for r in con.execute(
        f"SELECT arxiv_id, types, provenance, confidence, title, authors FROM read_parquet('{pq}')").fetchall()}
    for r in rows:
        aid, types, prov, conf, title, authors = got[r["arxiv_id"]]
        assert (types, prov, conf, title, authors) == (r["types"], r["provenance"], r["confidence"], r["title"],
                                                       r["authors"])
    assert got["2502.00003"][1] == ["poisoning", "harmful_finetuning"]
    assert got["2503.00007"][1] is None and got["2503.00007"][2] == "unclassified"
    cf = tmp_path / "papers.csv"
    n = export_table(s, cf, "csv", PaperFilter(relevant_only=True))
    with cf.open(newline="", encoding="utf-8") as f:
        recs = list(csv.DictReader(f))
    assert n == len(recs) == 5
    by_id = {r["arxiv_id"]: r for r in recs}
    assert by_id["2503.00005"]["types"] == "model_extraction;data_extraction"
    assert by_id["2501.00001"]["authors"] == "José Müller;Ann Lee"
    assert by_id["2501.00001"]["title"] == PAPERS[0].title


def test_digest_groups_by_axis_and_type(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "digest.md"
    n = export_digest(_settings(store), out, PaperFilter(), title="Digest test")
    text = out.read_text()
    assert n == 5
    assert text.startswith("# Digest test")
    dm = text.index("## Data→Model (DM)")
    md = text.index("## Model→Data (MD)")
    mm = text.index("## Model→Model (MM)")
    other = text.index("## Other AI security")
    assert dm < md < mm < other  # taxonomy axis order, other_aisec last
    assert "[Jailbreaking LLMs with $\\epsilon$-Greedy Prompts & 100% Success](https://arxiv.org/abs/2501.00001)" \
        in text
    assert "confidence 0.55 · needs review" in text
    assert "· curated" in text
    assert "A Survey of Graph Neural Networks" not in text  # not relevant
    # a two-type paper is listed under both types
    assert text.count("https://arxiv.org/abs/2503.00005") == 2
    assert "2 other AI-security" not in text and "1 other AI-security paper(s)" in text


def test_atom_feeds_are_valid(store: Path, tmp_path: Path) -> None:
    counts = export_feeds(_settings(store), tmp_path / "feeds", base_url="https://example.org/feeds")
    assert counts["jailbreak"] == 1 and counts["membership_inference"] == 1 and counts["model_inversion"] == 0
    assert counts["other_aisec"] == 1
    for t, n in counts.items():
        root = ET.parse(tmp_path / "feeds" / f"{t}.atom").getroot()
        assert root.tag == A + "feed"
        for tag in ("id", "title", "updated", "author"):
            assert root.find(A + tag) is not None, (t, tag)
        assert root.find(A + "link").get("href") == f"https://example.org/feeds/{t}.atom"
        entries = root.findall(A + "entry")
        assert len(entries) == n
        for e in entries:
            for tag in ("id", "title", "updated", "link"):
                assert e.find(A + tag) is not None, (t, tag)
            assert e.find(A + "updated").text.endswith("Z")
    root = ET.parse(tmp_path / "feeds" / "jailbreak.atom").getroot()
    (e,) = root.findall(A + "entry")
    assert e.find(A + "title").text == PAPERS[0].title  # '&' escaped in the file, intact when parsed
    assert "<b>models</b> & more" in e.find(A + "summary").text
    assert [a.find(A + "name").text for a in e.findall(A + "author")] == ["José Müller", "Ann Lee"]
    root = ET.parse(tmp_path / "feeds" / "membership_inference.atom").getroot()
    assert "control" in root.find(A + "entry").find(A + "summary").text  # \x0b dropped, XML stays valid


def test_export_cli(store: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["export", "bibtex", str(tmp_path / "j.bib"), "--db", str(store), "--type", "jailbreak"],
                      catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "wrote 1 BibTeX entries" in r.output
    r = runner.invoke(app, ["export", "parquet", str(tmp_path / "p.parquet"), "--db", str(store), "--all-papers"])
    assert r.exit_code == 0 and "wrote 7 paper(s)" in r.output
    r = runner.invoke(app, ["export", "digest", str(tmp_path / "d.md"), "--db", str(store), "--since", "2025-02-01"])
    assert r.exit_code == 0 and "3 AI-security paper(s)" in r.output, r.output
    r = runner.invoke(app, ["export", "feed", str(tmp_path / "f"), "--db", str(store), "--type", "poisoning"])
    assert r.exit_code == 0 and (tmp_path / "f" / "poisoning.atom").exists()
    r = runner.invoke(app, ["export", "bibtex", str(tmp_path / "x.bib"), "--db", str(store), "--type", "nope"])
    assert r.exit_code == 2 and "unknown type 'nope'" in r.output


@pytest.mark.slow
def test_bibtex_and_atom_hold_for_every_corpus_title(corpus_path: Path) -> None:
    """All 32k real titles and author lists: BibTeX parses back whole with unique keys, Atom parses."""
    from aisec_radar.crawler.corpus import load_corpus
    from aisec_radar.export import render_bibtex, render_feed

    rows = [dict(arxiv_id=r.arxiv_id, title=r.title, authors=r.authors, published=r.published, updated=r.updated,
                 primary_category=r.primary_category, doi=r.doi, types=["jailbreak"], paper_date=r.published,
                 abstract=r.abstract, confidence=0.5, provenance="auto", prediction_status="auto", first_seen=None)
            for r in load_corpus(corpus_path)]
    lib = bibtexparser.parse_string(render_bibtex(rows))
    assert not lib.failed_blocks
    keys = {e.key: e.fields_dict["eprint"].value for e in lib.entries}
    assert len(keys) == len(rows)
    assert all(keys[bibtex_key(r)] == r["arxiv_id"] for r in rows)
    root = ET.fromstring(render_feed(rows, "jailbreak", load_taxonomy()))
    assert len(root.findall(A + "entry")) == len(rows)
