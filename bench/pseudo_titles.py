"""Write the self-labelled titles file (classify/data/pseudo_titles.jsonl) from a database's predictions.

Curated title lists are the titles-only heads' main data (~1.2k titles); the stream's labelled papers
add a few hundred more of the nine types. The model's full view, reading title and abstract, is far
surer of a stream paper than its title-only view, so the corpus papers it auto-accepts (relevance
in_taxonomy, status auto at the target precision) in the nine types are a large, current set of
titles with labels. This keeps those of one model version that no label file holds (dev.jsonl,
stream.jsonl, the bundled hand labels and literature titles, by id and normalised title), as arXiv
id + the model's top type only: the titles are joined from the corpus at train time, as for the
hand labels. `train` reads the file as source "pseudo": training-only, titles-only heads at
`pseudo_weight`, never the full view nor the encoder's fine-tuning (docs/classifier.md, "Session 9").

    python bench/pseudo_titles.py --db demo.duckdb [--model VERSION] [--out FILE]

--model defaults to the shipped model's version: the database must hold its predictions (e.g.
`aisec-radar demo`, or `aisec-radar classify --all` on a database of the corpus).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared"
DEFAULT_OUT = REPO / "aisec_radar" / "classify" / "data" / "pseudo_titles.jsonl"


def labelled_keys(label_files: list[Path], corpus: Path | None) -> set[str]:
    """Ids and normalised titles of every human-labelled example `train` would read."""
    from aisec_radar.classify import builder as B
    from aisec_radar.config import load_settings
    from aisec_radar.survey import normalise_title

    s = replace(load_settings(), db_path=str(Path("/nonexistent") / "none.duckdb"))
    ex, _ = B.assemble(s, label_files, corpus, pseudo=False)
    return {e.id for e in ex if e.id} | {normalise_title(e.title) for e in ex}


def select(con: object, model_version: str, types: list[str], known: set[str]) -> list[dict[str, str]]:
    """The auto-accepted nine-type predictions of one model on papers no label file holds."""
    from aisec_radar.survey import normalise_title

    rows = con.execute(  # type: ignore[attr-defined]
        "SELECT p.arxiv_id, p.labels[1], pa.title FROM predictions p JOIN papers pa USING (arxiv_id) "
        "WHERE p.model_version = ? AND p.relevance = 'in_taxonomy' AND p.status = 'auto' "
        "AND coalesce(pa.abstract, '') <> '' ORDER BY p.arxiv_id", [model_version]).fetchall()
    return [{"id": aid, "attack": lab, "source": "pseudo"} for aid, lab, title in rows
            if lab in types and aid not in known and normalise_title(title) not in known]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, required=True, help="a database with the model's predictions")
    ap.add_argument("--model", default=None, help="model version whose predictions to use (default: shipped)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args()
    from aisec_radar.classify.data import shared_training_inputs

    inputs = shared_training_inputs(SHARED)
    if inputs is None:  # a file generator, not a benchmark: nothing to skip to
        print(f"needs {SHARED}/labels (dev.jsonl, stream.jsonl) and arxiv/corpus.jsonl.gz to tell which "
              "papers people labelled", file=sys.stderr)
        return 2
    labels, corpus = inputs
    from aisec_radar.classify.model import ClassifierModel, shipped_model_dir
    from aisec_radar.store import connect
    from aisec_radar.taxonomy import load_taxonomy

    version = args.model or ClassifierModel.load(shipped_model_dir()).model_version
    known = labelled_keys(labels, corpus)
    with connect(str(args.db), read_only=True) as con:
        rows = select(con, version, list(load_taxonomy(None).type_ids), known)
    if not rows:
        print(f"{args.db} holds no auto-accepted predictions of model {version}", file=sys.stderr)
        return 2
    args.out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["attack"]] = counts.get(r["attack"], 0) + 1
    print(json.dumps({"model": version, "written": len(rows), "out": str(args.out), "per_type": counts}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
