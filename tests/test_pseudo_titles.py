"""bench/pseudo_titles.py: which predictions become self-labelled titles; bench/reader_ceiling.py:
how the readers of the dev titles are scored."""

from __future__ import annotations

from pathlib import Path

from bench_support import load_bench

TYPES = ["jailbreak", "poisoning", "model_extraction"]


def test_select_keeps_one_models_auto_accepted_nine_type_predictions_on_unlabelled_papers(tmp_path: Path) -> None:
    """On a store file with the real schema (papers and predictions written by the store's own code)."""
    from aisec_radar.classify.builder import labelled_keys
    from aisec_radar.classify.data import Example
    from aisec_radar.records import Paper, Prediction
    from aisec_radar.store import connect, transaction
    from aisec_radar.store.papers import upsert_papers
    from aisec_radar.store.predictions import save_predictions

    pt = load_bench("pseudo_titles")
    db = tmp_path / "store.duckdb"
    papers = {"a1": "Jailbreaking chatbots", "a2": "Poisoning RAG", "a3": "Stealing a model",
              "a4": "Unsure paper", "a5": "Prompt injection", "a6": "Labelled already",
              "a7": "Same Title: As a Label", "a8": "Old model's paper", "a9": "No abstract"}
    preds = [("a1", "m1", "in_taxonomy", ["jailbreak"], "auto"),
             ("a2", "m1", "in_taxonomy", ["poisoning", "jailbreak"], "auto"),
             ("a3", "m1", "in_taxonomy", ["model_extraction"], "auto"),
             ("a4", "m1", "in_taxonomy", ["jailbreak"], "needs_review"),  # unsure: a curator's, not ours
             ("a5", "m1", "other_aisec", [], "auto"),  # outside the nine types
             ("a6", "m1", "in_taxonomy", ["poisoning"], "auto"),  # a human label exists (by id)
             ("a7", "m1", "in_taxonomy", ["poisoning"], "auto"),  # ... or by normalised title
             ("a8", "m0", "in_taxonomy", ["poisoning"], "auto"),  # another model's prediction
             ("a9", "m1", "in_taxonomy", ["poisoning"], "auto")]  # labelled from its title alone
    with transaction(db) as con:
        upsert_papers(con, [Paper(arxiv_id=k, title=t, abstract="" if k == "a9" else "an abstract")
                            for k, t in papers.items()])
        save_predictions(con, [Prediction(arxiv_id=a, model_version=m, taxonomy_version="t1", relevance=r,
                                          type_scores={}, labels=lab, role=None, modality=None, confidence=0.9,
                                          status=st) for a, m, r, lab, st in preds])
    known = labelled_keys([Example("a6", "Labelled already", "an abstract", "poisoning", source="hand"),
                           Example(None, "same title - as a label", "", "poisoning", source="file"),
                           Example("a1", "Jailbreaking chatbots", "", "jailbreak", source="pseudo")])
    with connect(db, read_only=True) as con:
        rows = pt.select(con, "m1", "t1", TYPES, known)
        assert rows == [{"id": "a1", "attack": "jailbreak", "source": "pseudo"},
                        {"id": "a2", "attack": "poisoning", "source": "pseudo"},
                        {"id": "a3", "attack": "model_extraction", "source": "pseudo"}]
        assert pt.select(con, "m1", "t1", ["jailbreak"], known) == rows[:1]
        assert pt.select(con, "m2", "t1", TYPES, known) == []
        assert pt.select(con, "m1", "t0", TYPES, known) == []  # another taxonomy version's predictions


def test_candidates_are_unlabelled_papers_with_enough_in_taxonomy_mass(tmp_path: Path) -> None:
    """The ids finetune_cv.py's folds self-label: any status and type, by the model's in-taxonomy mass."""
    from aisec_radar.classify.builder import labelled_keys
    from aisec_radar.classify.data import Example
    from aisec_radar.records import Paper, Prediction
    from aisec_radar.store import connect, transaction
    from aisec_radar.store.papers import upsert_papers
    from aisec_radar.store.predictions import save_predictions

    pt = load_bench("pseudo_titles")
    db = tmp_path / "store.duckdb"
    mass = {"b1": 0.8, "b2": 0.1, "b3": 0.09, "b4": 0.5, "b5": 0.9}  # b4: labelled; b5: no abstract
    with transaction(db) as con:
        upsert_papers(con, [Paper(arxiv_id=k, title=f"Paper {k}", abstract="" if k == "b5" else "an abstract")
                            for k in mass])
        save_predictions(con, [Prediction(arxiv_id=k, model_version="m1", taxonomy_version="t1",
                                          relevance="other_aisec" if k == "b2" else "in_taxonomy",
                                          type_scores={}, labels=[], role=None, modality=None, confidence=0.5,
                                          status="needs_review",
                                          explanation={"relevance": {"in_taxonomy": v}}) for k, v in mass.items()])
    known = labelled_keys([Example("b4", "Paper b4", "an abstract", "poisoning", source="hand")])
    with connect(db, read_only=True) as con:
        assert pt.candidates(con, "m1", "t1", known) == ["b1", "b2"]
        assert pt.candidates(con, "m1", "t1", known, min_mass=0.5) == ["b1"]
        assert pt.candidates(con, "m2", "t1", known) == []


def test_reader_ceiling_scores_readers_with_the_eval_report(tmp_path: Path) -> None:
    """bench/reader_ceiling.py scores the readers' title decisions against dev.jsonl by line with the
    eval's own report, and refuses a readers file that skips or repeats a line or names no label."""
    import json

    import pytest

    from aisec_radar.errors import InputError

    rc = load_bench("reader_ceiling")
    dev = tmp_path / "dev.jsonl"
    truth = ["jailbreak", "jailbreak", "poisoning", "not_relevant"]
    dev.write_text("".join(json.dumps({"title": f"t{i}", "attack": a}) + "\n" for i, a in enumerate(truth)))
    readers = tmp_path / "readers.jsonl"

    def write(rows: list[tuple[int, str]]) -> None:
        readers.write_text("".join(json.dumps({"line": n, "attack": a, "confidence": "high" if n < 3 else "low"})
                                   + "\n" for n, a in rows))

    write([(4, "not_relevant"), (1, "jailbreak"), (2, "poisoning"), (3, "poisoning")])
    rep = rc.reader_report(dev, readers)
    assert rep["n"] == 4 and rep["accuracy"] == 0.75
    assert rep["per_class_f1"] == {"jailbreak": pytest.approx(2 / 3, abs=1e-4), "not_relevant": 1.0,
                                   "poisoning": pytest.approx(2 / 3, abs=1e-4)}
    assert rep["high_confidence_share"] == 0.5 and rep["high_confidence_accuracy"] == 0.5
    write([(1, "jailbreak"), (2, "poisoning"), (3, "poisoning")])
    with pytest.raises(InputError, match="each of the 4 lines"):
        rc.reader_report(dev, readers)
    write([(1, "jailbreak"), (2, "poisoning"), (2, "poisoning"), (3, "poisoning"), (4, "not_relevant")])
    with pytest.raises(InputError, match="each of the 4 lines"):
        rc.reader_report(dev, readers)
    write([(1, "jailbreak"), (2, "stealing"), (3, "poisoning"), (4, "not_relevant")])
    with pytest.raises(InputError, match="stealing"):
        rc.reader_report(dev, readers)


def test_kept_reader_decisions_are_line_numbers_and_labels_only() -> None:
    """The readers' decisions kept in bench/labels hold dev.jsonl line numbers and our decisions,
    never a title (the text stays in ../shared), one per line of dev.jsonl's 938."""
    import json

    from aisec_radar.taxonomy import load_taxonomy

    path = Path(__file__).resolve().parents[1] / "bench" / "labels" / "dev_title_readers.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    assert sorted(r["line"] for r in rows) == list(range(1, 939))
    assert all(set(r) == {"line", "attack", "confidence", "reader"} for r in rows)
    assert {r["attack"] for r in rows} <= set(load_taxonomy().label_ids)
    assert {r["confidence"] for r in rows} <= {"high", "low"} and {r["reader"] for r in rows} == {0, 1, 2, 3}
