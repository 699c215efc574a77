"""How far a reader gets on the dev titles: our readers' title-only decisions scored against dev.jsonl.

The titles goal (macro-F1 >= 0.85 on other curators' lists) is scored against lists filed by
heading, not by GUIDE.md. Four readers (GUIDE.md and the hand labels' house rules, blind to the
lists) labelled every dev.jsonl title from the title alone; bench/labels/dev_title_readers.jsonl
keeps their decisions keyed by dev.jsonl line number (no titles: the text stays in ../shared). This
scores them with the eval's own report (aisec_radar.classify.evaluate.score), so the figure
compares with `aisec-radar eval` and the nested CV (docs/classifier.md, "Session 9"). Prints one
JSON object; skips cleanly without ../shared.

    python bench/reader_ceiling.py [--dev ../shared/labels/dev.jsonl] [--readers FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEFAULT_READERS = REPO / "bench" / "labels" / "dev_title_readers.jsonl"


def reader_report(dev: Path, readers: Path) -> dict:
    """The eval report of the readers' labels against the lists' (every dev line must be read once)."""
    from aisec_radar.classify.evaluate import score
    from aisec_radar.errors import InputError
    from aisec_radar.taxonomy import load_taxonomy

    truth = [json.loads(line)["attack"] for line in dev.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [json.loads(line) for line in readers.read_text(encoding="utf-8").splitlines() if line.strip()]
    by_line = {int(r["line"]): r for r in rows}
    if len(rows) != len(truth) or sorted(by_line) != list(range(1, len(truth) + 1)):
        raise InputError(f"{readers}: expected one decision for each of the {len(truth)} lines of {dev}")
    taxonomy = load_taxonomy(None)
    pred = [by_line[i + 1]["attack"] for i in range(len(truth))]
    bad = sorted({p for p in pred if p not in taxonomy.label_ids})
    if bad:
        raise InputError(f"{readers}: unknown label(s) {', '.join(bad)}")
    rep = score(truth, pred, [by_line[i + 1].get("confidence") == "high" for i in range(len(truth))],
                taxonomy.type_ids)
    return {"name": "dev_title_readers", "n": rep["n"], "macro_f1": rep["macro_f1"], "accuracy": rep["accuracy"],
            "relevance": rep["relevance"], "high_confidence_share": round(1 - rep["review_share"], 4),
            "high_confidence_accuracy": rep["auto_precision"],
            "per_class_f1": {c: v["f1"] for c, v in rep["per_class"].items()}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dev", type=Path, default=REPO.parent / "shared" / "labels" / "dev.jsonl")
    ap.add_argument("--readers", type=Path, default=DEFAULT_READERS)
    args = ap.parse_args()
    if not args.dev.exists():
        print(json.dumps({"skipped": f"needs {args.dev}"}))
        return 0
    print(json.dumps(reader_report(args.dev, args.readers)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
