"""Parsers on small fixtures written in the real formats (OAI arXiv/arXivRaw, Atom 2026/legacy), hostile
XML, the real samples in ../shared when present, and the stand-in's output parsed back."""

from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path

import pytest

from aisec_radar.crawler.corpus import category_set, id_month, load_corpus, set_specs
from aisec_radar.crawler.parsers import PageError, parse_atom_feed, parse_oai_page, split_authors

FIX = Path(__file__).parent / "fixtures" / "crawler"


def _read(name: str) -> bytes:
    return (FIX / name).read_bytes()


def test_arxivraw_page_versions_authors_token_and_bad_records() -> None:
    page = parse_oai_page(_read("oai_arxivraw_listrecords.xml"))
    assert page.response_date == "2026-03-04T03:12:09Z"
    assert [p.arxiv_id for p in page.papers] == ["2602.01234", "2603.00042"]
    p = page.papers[0]
    assert p.title == "Membership Inference Against Fine-Tuned Language Models via Calibrated Loss Ratios"
    assert p.abstract.startswith("We study membership") and "<1% false positives & no shadow" in p.abstract
    assert p.authors == ["Ana Lima", "Bo Chen", "Carla Diaz"]
    assert p.categories == ["cs.CR", "cs.LG"] and p.primary_category == "cs.CR"
    assert (p.version, p.published, p.updated) == (2, date(2026, 2, 2), date(2026, 3, 1))
    assert [(v.version, v.size) for v in p.versions] == [(1, "812kb"), (2, "830kb")]
    assert p.versions[0].submitted == datetime(2026, 2, 2, 17, 3, 11)
    assert p.doi == "10.1145/3700000.3700001"
    cross = page.papers[1]
    assert cross.primary_category == "stat.ML" and cross.authors == ["Dmitri Volkov", "Eun-ji Park"]
    assert [(b.arxiv_id, b.reason) for b in page.bad] == [("2603.00077", "record has no <title>")]
    assert page.deleted == ["2601.99999"]
    assert page.n_records == 4
    assert page.token and page.token.endswith("skip%3D4")


def test_arxiv_legacy_page_wrapped_title_and_legacy_token() -> None:
    page = parse_oai_page(_read("oai_arxiv_legacy_listrecords.xml"))
    [p] = page.papers
    assert p.title == "Backdoor Triggers in Vision Transformers: A Frequency-Domain Analysis"
    assert p.authors == ["Thi Mai Nguyen", "John Smith Jr", "OpenSec Collaboration"]
    assert (p.published, p.updated, p.version) == (date(2024, 1, 3), date(2024, 1, 24), None)
    assert p.primary_category == "cs.CV" and p.comment == "Accepted at a workshop; code released"
    assert [b.reason for b in page.bad] == ["record has no <id>"]
    assert (page.token, page.complete_list_size) == ("6960524|1001", 1162)


def test_oai_errors_are_reported_not_raised() -> None:
    nrm = parse_oai_page(_read("oai_error_norecordsmatch.xml"))
    assert nrm.error_code == "noRecordsMatch" and nrm.papers == []
    bad = parse_oai_page(_read("oai_error_badresumptiontoken.xml"))
    assert bad.error_code == "badResumptionToken" and "Token decoding failed" in (bad.error_text or "")


def test_atom_2026_and_legacy_give_the_same_paper() -> None:
    new = parse_atom_feed(_read("atom_2026.xml"))
    old = parse_atom_feed(_read("atom_legacy.xml"))
    assert new.total_results == 2 and old.total_results == 1
    a, b = new.papers[0], old.papers[0]
    assert a == b  # whitespace, namespaces and link styles differ; the parsed paper does not
    assert (a.arxiv_id, a.version, a.published, a.updated) == ("2602.01234", 2, date(2026, 2, 2), date(2026, 3, 1))
    cross = new.papers[1]
    assert cross.primary_category == "cs.CL" and cross.categories == ["cs.CL", "cs.CR"]


def test_oai_and_atom_agree_on_the_same_paper() -> None:
    oai = parse_oai_page(_read("oai_arxivraw_listrecords.xml")).papers[0]
    atom = parse_atom_feed(_read("atom_2026.xml")).papers[0]
    for attr in ("arxiv_id", "title", "abstract", "authors", "categories", "primary_category", "published",
                 "updated", "version", "doi", "content_hash"):
        assert getattr(oai, attr) == getattr(atom, attr), attr


def test_atom_error_feed_and_empty_feed() -> None:
    err = parse_atom_feed(_read("atom_error_400.xml"))
    assert err.error == "incorrect id format for 26o2.0l234" and err.papers == []
    empty = parse_atom_feed(
        b"<?xml version='1.0' encoding='UTF-8'?>\n<feed xmlns:opensearch=\"http://a9.com/-/spec/opensearch/1.1/\" "
        b"xmlns=\"http://www.w3.org/2005/Atom\"><opensearch:totalResults>0</opensearch:totalResults></feed>")
    assert empty.total_results == 0 and empty.papers == [] and empty.error is None


@pytest.mark.parametrize("name", ["xml_bomb.xml", "xml_xxe.xml"])
def test_hostile_xml_is_refused_quickly(name: str) -> None:
    started = time.monotonic()
    with pytest.raises(PageError, match="DOCTYPE"):
        parse_oai_page(_read(name))
    assert time.monotonic() - started < 5  # generous: an expanded bomb would take minutes and GBs


def test_hostile_xml_without_our_guard_is_still_not_expanded() -> None:
    """Belt and braces: the lxml parser itself neither expands entities nor reads files."""
    from lxml import etree

    from aisec_radar.crawler.parsers import _parser

    root = etree.fromstring(_read("xml_xxe.xml"), parser=_parser())
    assert "root:" not in etree.tostring(root).decode()
    try:  # libxml2 either refuses the amplification or leaves the references unexpanded
        root = etree.fromstring(_read("xml_bomb.xml"), parser=_parser())
    except etree.XMLSyntaxError as exc:
        assert "amplification" in str(exc)
    else:
        assert len(etree.tostring(root)) < 10_000


@pytest.mark.parametrize("body", [
    b"",
    b"<html><body>Service unavailable</body></html>",
    _read("oai_arxivraw_listrecords.xml")[:2000],  # truncated
    _read("oai_arxivraw_listrecords.xml").replace(b"</title>", b"</titel>", 1),  # malformed
])
def test_bad_pages_raise_page_error(body: bytes) -> None:
    with pytest.raises(PageError):
        parse_oai_page(body)


def test_split_authors_forms() -> None:
    assert split_authors("A. One, B. Two, and C. Three") == ["A. One", "B. Two", "C. Three"]
    assert split_authors("A. One and B. Two") == ["A. One", "B. Two"]
    assert split_authors("Solo Author") == ["Solo Author"]
    assert split_authors("") == []


def test_set_specs_and_id_months() -> None:
    assert category_set("cs.CR") == "cs:cs:CR" and category_set("cs.LG") == "cs:cs:LG"
    assert set_specs("quant-ph") == ("physics", "physics:quant-ph")
    assert category_set("stat.ML") == "stat:stat:ML"
    assert id_month("2401.01234") == date(2024, 1, 1) and id_month("cs/0112017") == date(2001, 12, 1)


def test_real_samples_parse(shared_dir: Path) -> None:
    formats = shared_dir / "arxiv" / "formats"
    oai = sorted((formats / "oai_hepcrawl").glob("*.xml")) + sorted(
        (formats / "oai_mikesaelim_arXivOAIHarvester").glob("*.xml"))
    assert oai
    for f in oai:
        page = parse_oai_page(f.read_bytes())
        assert page.papers or page.error_code or page.bad, f.name
    raw = parse_oai_page((formats / "oai_mikesaelim_arXivOAIHarvester" / "ListRecordsResponse.xml").read_bytes())
    assert raw.token == "726959|1001" and raw.complete_list_size == 58011
    assert all(p.versions and p.published for p in raw.papers)
    legacy = sorted((formats / "api_arxivpy_legacy_2016").glob("*.xml"))
    api = [formats / "api_export_2026_q_testing_s0_m100.xml", *legacy]
    for f in api:
        page = parse_atom_feed(f.read_bytes())
        assert page.papers and not page.bad, f.name
        assert all(p.primary_category == p.categories[0] for p in page.papers)
        assert all("\n" not in p.abstract and "  " not in p.title for p in page.papers)
    assert len(parse_atom_feed((formats / "api_export_2026_q_testing_s0_m100.xml").read_bytes()).papers) == 100
    assert parse_atom_feed((formats / "api_export_2026_error_400_id_abc.xml").read_bytes()).error


def test_standin_formats_round_trip(corpus_slice_path: Path) -> None:
    """The stand-in's arXiv, arXivRaw and Atom renderings parse back to the same papers."""
    import urllib.request

    from aisec_radar.crawler.standin import run_standin

    records = {r.arxiv_id: r for r in load_corpus(corpus_slice_path)}
    with run_standin(corpus_slice_path, page_size=500) as base:
        def get(path: str) -> bytes:
            with urllib.request.urlopen(base + path) as resp:
                return resp.read()

        raw = parse_oai_page(get("/oai?verb=ListRecords&metadataPrefix=arXivRaw"))
        plain = parse_oai_page(get("/oai?verb=ListRecords&metadataPrefix=arXiv"))
        ids = ",".join(list(records)[:40])
        atom = parse_atom_feed(get(f"/api/query?id_list={ids}&max_results=100"))
    assert len(raw.papers) == len(plain.papers) == len(records) and not raw.token
    by_id = {p.arxiv_id: p for p in plain.papers}
    for p in raw.papers:
        q = by_id[p.arxiv_id]
        r = records[p.arxiv_id]
        assert (p.title, p.abstract, p.categories, p.published, p.updated) == (
            q.title, q.abstract, q.categories, q.published, q.updated)
        assert p.version == r.version and p.authors == q.authors == r.authors
    assert len(atom.papers) == 40
    raw_by_id = {p.arxiv_id: p for p in raw.papers}
    for a in atom.papers:
        o = raw_by_id[a.arxiv_id]
        assert (a.title, a.abstract, a.authors, a.categories, a.published, a.updated, a.version) == (
            o.title, o.abstract, o.authors, o.categories, o.published, o.updated, o.version)
