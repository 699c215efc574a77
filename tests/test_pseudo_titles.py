"""bench/pseudo_titles.py: which predictions become self-labelled titles."""

from __future__ import annotations

from pathlib import Path

import duckdb
from bench_support import load_bench

TYPES = ["jailbreak", "poisoning", "model_extraction"]


def test_select_keeps_one_models_auto_accepted_nine_type_predictions_on_unlabelled_papers(tmp_path: Path) -> None:
    pt = load_bench("pseudo_titles")
    con = duckdb.connect(str(tmp_path / "store.duckdb"))
    con.execute("CREATE TABLE papers (arxiv_id VARCHAR, title VARCHAR, abstract VARCHAR)")
    con.execute("CREATE TABLE predictions (arxiv_id VARCHAR, model_version VARCHAR, relevance VARCHAR, "
                "labels VARCHAR[], status VARCHAR)")
    papers = {"a1": "Jailbreaking chatbots", "a2": "Poisoning RAG", "a3": "Stealing a model",
              "a4": "Unsure paper", "a5": "Prompt injection", "a6": "Labelled already",
              "a7": "Same Title: As a Label", "a8": "Old model's paper", "a9": "No abstract"}
    con.executemany("INSERT INTO papers VALUES (?, ?, ?)",
                    [(k, t, None if k == "a9" else "an abstract") for k, t in papers.items()])
    preds = [("a1", "m1", "in_taxonomy", ["jailbreak"], "auto"),
             ("a2", "m1", "in_taxonomy", ["poisoning", "jailbreak"], "auto"),
             ("a3", "m1", "in_taxonomy", ["model_extraction"], "auto"),
             ("a4", "m1", "in_taxonomy", ["jailbreak"], "needs_review"),  # unsure: a curator's, not ours
             ("a5", "m1", "other_aisec", [], "auto"),  # outside the nine types
             ("a6", "m1", "in_taxonomy", ["poisoning"], "auto"),  # a human label exists (by id)
             ("a7", "m1", "in_taxonomy", ["poisoning"], "auto"),  # ... or by normalised title
             ("a8", "m0", "in_taxonomy", ["poisoning"], "auto"),  # another model's prediction
             ("a9", "m1", "in_taxonomy", ["poisoning"], "auto")]  # labelled from its title alone
    con.executemany("INSERT INTO predictions VALUES (?, ?, ?, ?, ?)", preds)
    known = {"a6", "same title as a label"}
    rows = pt.select(con, "m1", TYPES, known)
    assert rows == [{"id": "a1", "attack": "jailbreak", "source": "pseudo"},
                    {"id": "a2", "attack": "poisoning", "source": "pseudo"},
                    {"id": "a3", "attack": "model_extraction", "source": "pseudo"}]
    assert pt.select(con, "m1", ["jailbreak"], known) == rows[:1]
    assert pt.select(con, "m2", TYPES, known) == []
