"""Survey import on a small hand-written .bib (ids, DOIs, URLs, title-only) and the delta export."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import bibtexparser
import pytest
from click.testing import CliRunner
from export_fixtures import populate

from aisec_radar.cli import app
from aisec_radar.config import Settings
from aisec_radar.errors import InputError
from aisec_radar.export import export_delta
from aisec_radar.store import connect
from aisec_radar.store.survey import cited
from aisec_radar.survey import BibEntry, arxiv_id_of, import_survey, normalise_title

BIB = Path(__file__).parent / "fixtures" / "survey_small.bib"


@pytest.fixture
def store(db_path: Path) -> Path:
    populate(db_path)
    return db_path


def test_identifier_forms() -> None:
    def f(**fields: str) -> tuple[str, str] | None:
        return arxiv_id_of(BibEntry("k", fields))

    assert f(eprint="2401.01234v3", archivePrefix="arXiv") == ("2401.01234", "eprint")
    assert f(url="https://arxiv.org/pdf/2401.01234v2.pdf") == ("2401.01234", "url")
    assert f(doi="10.48550/ARXIV.2401.01234") == ("2401.01234", "doi")
    assert f(journal="arXiv preprint arXiv:2401.01234") == ("2401.01234", "journal")
    assert f(note="arXiv:cs/0112017") == ("cs/0112017", "journal")
    assert f(doi="10.1145/1234.5678", title="No arXiv here") is None
    assert normalise_title(r"{BadNets}: Identifying\ Vulnerabilities in the \emph{Machine}-Learning") == \
        normalise_title("BadNets: identifying vulnerabilities in the machine learning")
    assert normalise_title("Müller’s Attack") == "mullers attack"


def test_import_matches_and_delta(store: Path, tmp_path: Path) -> None:
    s = Settings(db_path=str(store))
    rep = import_survey(s, BIB)
    assert rep.entries == 6
    assert rep.matched == {"eprint": 1, "url": 1, "doi": 1, "title": 1, "journal": 1}
    assert rep.not_in_store == ["2401.09999", "cs/0112017"]
    assert [k for k, _ in rep.unmatched] == ["unrelated"]
    with connect(store, read_only=True) as con:
        c = cited(con)
    assert set(c) == {"2501.00002", "2503.00005", "2401.09999", "2502.00003", "cs/0112017"}
    assert c["2502.00003"].matched_by == "title" and c["2502.00003"].bibkey == "diaz2025backdoor"

    # the delta: taxonomy papers since 2025-01-01 not cited -> only the jailbreak paper remains
    # (membership inference, poisoning and model extraction are cited; 2503.00006 is other_aisec,
    # 2502.00004 not relevant, 2503.00007 unclassified)
    d = export_delta(s, tmp_path / "delta", date(2025, 1, 1))
    assert d.papers == 1 and d.per_type == {"jailbreak": 1}
    lib = bibtexparser.parse_file(str(d.bib_path))
    assert not lib.failed_blocks
    keys = [e.key for e in lib.entries]
    assert keys == ["muller2025jailbreaking_2501_00001"]
    tex = d.tex_path.read_text()
    assert re.search(r"\\paragraph\{Data→Model / .*Jailbreak.*\}", tex)
    assert tex.count("\\begin{itemize}") == tex.count("\\end{itemize}") == 1
    assert "\\item \\cite{muller2025jailbreaking_2501_00001}" in tex
    cited_keys = set(re.findall(r"\\cite\{([^}]+)\}", tex))
    assert cited_keys == set(keys)  # every \cite resolves in the .bib

    # re-importing a smaller .bib replaces the set: the poisoning paper is no longer cited
    small = tmp_path / "small.bib"
    small.write_text("@misc{a, title={x}, eprint={2501.00002}, archivePrefix={arXiv}}\n")
    import_survey(s, small)
    d = export_delta(s, tmp_path / "delta2", date(2025, 1, 1), types=["poisoning", "harmful_finetuning"])
    assert d.papers == 1 and d.per_type == {"poisoning": 1, "harmful_finetuning": 1}


def test_survey_cli_and_errors(store: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["survey", "import", str(BIB), "--db", str(store)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "6 entries: 5 arXiv paper(s) matched" in r.output
    assert "unmatched: unrelated: Deep Learning" in r.output
    r = runner.invoke(app, ["export", "delta", "--since", "2025-01-01", "--db", str(store), "--out",
                            str(tmp_path / "o"), "--axis", "DM"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "1 new paper(s) not yet cited" in r.output and "jailbreak: 1" in r.output
    assert (tmp_path / "o" / "delta.tex").exists()
    r = runner.invoke(app, ["survey", "import", str(tmp_path / "missing.bib"), "--db", str(store)])
    assert r.exit_code == 2 and "does not exist" in r.output
    with pytest.raises(InputError):
        bad = tmp_path / "bad.bib"
        bad.write_text("this is not bibtex at all {{{")
        import_survey(Settings(db_path=str(store)), bad)
