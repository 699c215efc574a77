"""bench/border_sample.py: which corpus papers a labelling round draws, and in which order."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import duckdb
import pytest
from bench_support import load_bench


def _setup(tmp_path: Path) -> tuple[Path, Path, list[Path]]:
    papers = {
        "p1": ("Stealing models by distillation", "we distill the victim api"),  # even split
        "p2": ("Stealing models again", "distill a victim api"),  # lopsided, more border mass
        "p3": ("Stealing a labelled model", "distill the victim api"),  # labelled already
        "p4": ("Stealing, barely relevant", "distill the victim api"),  # too little in-taxonomy mass
        "p5": ("Distillation for speed", "a compression method"),  # second keyword missing
        "p6": ("Watermarks for models", "ownership of a model via distill"),  # matches both borders
    }
    corpus = tmp_path / "corpus.jsonl.gz"
    with gzip.open(corpus, "wt") as fh:
        for pid, (title, abstract) in papers.items():
            fh.write(json.dumps({"id": pid, "title": title, "abstract": abstract}) + "\n")
        fh.write(json.dumps({"id": "p7", "title": "No abstract", "abstract": None}) + "\n")
    scores = {"p1": {"model_extraction": 0.3, "harmful_finetuning": 0.3},
              "p2": {"model_extraction": 0.7, "harmful_finetuning": 0.1},
              "p3": {"model_extraction": 0.4, "harmful_finetuning": 0.4},
              "p4": {"model_extraction": 0.05, "harmful_finetuning": 0.05},
              "p5": {"model_extraction": 0.5, "harmful_finetuning": 0.5},
              "p6": {"model_extraction": 0.45, "harmful_finetuning": 0.45}}
    db = tmp_path / "store.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE current_predictions (arxiv_id VARCHAR, type_scores JSON)")
    con.executemany("INSERT INTO current_predictions VALUES (?, ?)", [(k, json.dumps(v)) for k, v in scores.items()])
    con.close()
    labels = tmp_path / "handlabels_x.jsonl"
    labels.write_text(json.dumps({"id": "p3", "attack": "model_extraction"}) + "\n")
    return db, corpus, [labels]


def test_draw_ranks_within_borders_and_skips_labelled_and_weak(tmp_path: Path) -> None:
    bs = load_bench("border_sample")
    db, corpus, labels = _setup(tmp_path)
    border = ("model_extraction", "harmful_finetuning")
    bs.ROUNDS[1] = {"wm": (r"watermark", r"ownership", border, 5),
                    "steal": (r"distill", r"victim|ownership", border, 5)}
    bs.ROUNDS[2] = {"steal": (r"distill", r"victim|ownership", border, 5)}

    chosen, papers = bs.draw(1, db, corpus, labels)
    # p6 goes to the first border it matches and is not drawn again; p3 (labelled), p4 (weak),
    # p5 (one keyword only) and p7 (no abstract) never; round 1 puts the even split first
    assert chosen == {"p6": "wm", "p1": "steal", "p2": "steal"}
    assert list(chosen) == ["p6", "p1", "p2"] and set(papers) == set(chosen)

    chosen2, _ = bs.draw(2, db, corpus, labels)
    assert list(chosen2) == ["p6", "p2", "p1"]  # round 2: most mass on the border's types first


@pytest.mark.parametrize(("name", "n"), [("border_round2.jsonl", 200), ("targeted_model_extraction_s11.jsonl", 129)])
def test_kept_labels_are_ids_and_decisions_only(name: str, n: int) -> None:
    """Labels measured and kept outside training (border round 2, session 11's model-extraction
    round) hold no corpus text, valid labels and roles, and no paper the bundled files already hold,
    so moving a file into classify/data/ re-runs its experiment without a duplicate."""
    from aisec_radar.classify.data import ROLE_MAP, bundled_label_files, read_label_file
    from aisec_radar.taxonomy import load_taxonomy

    path = Path(__file__).resolve().parents[1] / "bench" / "labels" / name
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    assert len(rows) == n and not any({"title", "abstract", "why"} & set(r) for r in rows)
    assert all(e.join_text and e.id for e in read_label_file(path, load_taxonomy()))
    assert all((r["role"] == "n/a") == (r["attack"] == "not_relevant") for r in rows)
    assert all(r["role"] in ROLE_MAP for r in rows if r["role"] != "n/a")
    bundled = {json.loads(line)["id"] for p in bundled_label_files()
               for line in p.read_text().splitlines() if line.strip()}
    assert len({r["id"] for r in rows}) == n and not bundled & {r["id"] for r in rows}
