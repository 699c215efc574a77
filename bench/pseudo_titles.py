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

    python bench/pseudo_titles.py --db demo.duckdb [--model VERSION] [--out FILE] [--candidates IDS.txt]

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


def select(con: object, model_version: str, taxonomy_version: str, types: list[str],
           known: set[str]) -> list[dict[str, str]]:
    """The auto-accepted nine-type predictions of one model on papers with an abstract that no label
    file holds (`known`: builder.labelled_keys)."""
    from aisec_radar.store.predictions import predictions_for

    preds = predictions_for(con, model_version, taxonomy_version)  # type: ignore[arg-type]
    keep = {aid: p.labels[0] for aid, p in preds.items()
            if p.relevance == "in_taxonomy" and p.status == "auto" and p.labels and p.labels[0] in types}
    return [{"id": aid, "attack": keep[aid], "source": "pseudo"} for aid in _unlabelled(con, keep, known)]


def candidates(con: object, model_version: str, taxonomy_version: str, known: set[str],
               min_mass: float = 0.1) -> list[str]:
    """Ids for `bench/finetune_cv.py --pseudo-candidates`: the unlabelled papers with an abstract to
    which the model gives in-taxonomy mass >= min_mass. Each outer fold's own model self-labels them,
    so the list only needs to hold whatever a fold's model might auto-accept (docs/classifier.md,
    "Session 9" and "Session 11")."""
    from aisec_radar.store.predictions import predictions_for

    preds = predictions_for(con, model_version, taxonomy_version)  # type: ignore[arg-type]
    return _unlabelled(con, [a for a, p in preds.items()
                             if (p.explanation or {}).get("relevance", {}).get("in_taxonomy", 0.0) >= min_mass],
                       known)


def _unlabelled(con: object, ids: object, known: set[str]) -> list[str]:
    """The given ids, sorted, of papers with an abstract that no label file holds (by id or title)."""
    from aisec_radar.classify.builder import is_labelled

    titles = dict(con.execute(  # type: ignore[attr-defined]
        "SELECT arxiv_id, title FROM papers WHERE list_contains(?, arxiv_id) AND coalesce(abstract, '') <> ''",
        [sorted(ids)]).fetchall()) if ids else {}  # type: ignore[arg-type]
    return [aid for aid in sorted(titles) if not is_labelled(aid, titles[aid], known)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, required=True, help="a database with the model's predictions")
    ap.add_argument("--model", default=None, help="model version whose predictions to use (default: shipped)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--candidates", type=Path, default=None,
                    help="also write the ids finetune_cv.py --pseudo-candidates reads (in-taxonomy mass >= 0.1)")
    args = ap.parse_args()
    from aisec_radar.classify.data import shared_training_inputs

    inputs = shared_training_inputs(SHARED)
    if inputs is None:  # a file generator, not a benchmark: nothing to skip to
        print(f"needs {SHARED}/labels (dev.jsonl, stream.jsonl) and arxiv/corpus.jsonl.gz to tell which "
              "papers people labelled", file=sys.stderr)
        return 2
    labels, corpus = inputs
    from aisec_radar.classify import builder as B
    from aisec_radar.classify.model import ClassifierModel, shipped_model_dir
    from aisec_radar.config import load_settings
    from aisec_radar.store import connect
    from aisec_radar.taxonomy import load_taxonomy

    taxonomy = load_taxonomy(None)
    version = args.model or ClassifierModel.load(shipped_model_dir()).model_version
    s = replace(load_settings(), db_path=str(Path("/nonexistent") / "none.duckdb"))  # labels files only
    known = B.labelled_keys(B.assemble(s, labels, corpus, pseudo=False)[0])
    with connect(str(args.db), read_only=True) as con:
        rows = select(con, version, taxonomy.version, list(taxonomy.type_ids), known)
        cands = candidates(con, version, taxonomy.version, known) if args.candidates else []
    if not rows:
        print(f"{args.db} holds no auto-accepted predictions of model {version}", file=sys.stderr)
        return 2
    args.out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["attack"]] = counts.get(r["attack"], 0) + 1
    if args.candidates:
        args.candidates.write_text("".join(f"{c}\n" for c in cands), encoding="utf-8")
    print(json.dumps({"model": version, "written": len(rows), "out": str(args.out), "per_type": counts,
                      **({"candidates": len(cands)} if args.candidates else {})}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
