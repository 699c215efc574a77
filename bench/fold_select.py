"""A setting chosen from a grid, scored without having seen the papers it is scored on.

Several bench/finetune_cv.py runs differ in one setting (e.g. `--heads '{"secondary_type_weight":
w}'` for a few w) over the same folds. Picking the run with the best figure and reporting that figure
overstates it: the choice saw the scored papers. Here each outer fold is scored by the run that is
best on the *other four* folds (ties: the first run given, so list the default first), and the
pooled out-of-fold labels give the figure such a choice earns. It also prints each run's own
figure and which run each fold chose.

    python bench/fold_select.py --set stream_full --figure type_accuracy RUN0.npz RUN1.npz ...
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))


def figure_of(y: list[str], hat: list[str], types: tuple[str, ...], key: str) -> float:
    """One figure of the eval report (`cv_intervals.figures`); NaN where it is undefined."""
    from cv_intervals import figures

    v = figures(y, hat, types, [key])[key]
    return float("nan") if v is None else float(v)


def fold_select(runs: list[Any], name: str, key: str) -> dict[str, Any]:
    """Per outer fold, the run best on the other folds; the pooled figure of those choices."""
    from cv_intervals import decisions
    from routed_cv import require_same_papers

    types = tuple(str(t) for t in runs[0]["types"])
    labelled = [decisions(r, name) for r in runs]
    y, _, folds = labelled[0]
    for yy, _, ff in labelled[1:]:
        require_same_papers(name, (y, folds), (yy, ff))
    chosen_hat = [""] * len(y)
    chosen: list[int] = []
    for f in sorted(set(folds.tolist())):
        inner = [i for i, g in enumerate(folds) if g != f]
        scores = [figure_of([y[i] for i in inner], [hat[i] for i in inner], types, key) for _, hat, _ in labelled]
        best = int(np.nanargmax(scores))  # first of the best: the default when listed first
        chosen.append(best)
        for i, g in enumerate(folds):
            if g == f:
                chosen_hat[i] = labelled[best][1][i]
    return {"set": name, "figure": key, "per_run": [figure_of(y, hat, types, key) for _, hat, _ in labelled],
            "chosen_per_fold": chosen, "selected": figure_of(y, chosen_hat, types, key)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", type=Path, nargs="+", help="finetune_cv.py --probs files, the default first")
    ap.add_argument("--set", default="stream_full")
    ap.add_argument("--figure", default="type_accuracy", help="a set_report key: type_accuracy, macro_f1, "
                    "accuracy, precision, recall")
    args = ap.parse_args()
    try:
        from routed_cv import load_probs

        res = fold_select([load_probs(p) for p in args.runs], args.set, args.figure)
    except (OSError, ValueError, KeyError) as exc:
        print(f"fold_select: {exc}", file=sys.stderr)
        return 2
    for p, v in zip(args.runs, res["per_run"], strict=True):
        print(f"{p.name:30s} {args.set} {args.figure} {v:.4f}", file=sys.stderr)
    print(f"chosen per fold: {[args.runs[i].name for i in res['chosen_per_fold']]}", file=sys.stderr)
    print(json.dumps({"name": f"fold_select.{args.set}.{args.figure}", "value": round(res["selected"], 4),
                      "unit": "", "chosen_per_fold": [str(args.runs[i]) for i in res["chosen_per_fold"]]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
