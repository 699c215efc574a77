"""Nested-CV figures of a model with a titles-only specialist, from two runs of bench/finetune_cv.py.

A routed model sends every input without an abstract to its specialist and everything else to the
main model; the two are trained independently on the same labels. So its out-of-fold figures are
exactly those of two nested runs on the same folds: the titles set from the specialist's run
(`--title`), every set with abstracts from the main model's run (`--main`). Nothing is re-fitted
here; the script checks the runs are comparable (same folds, same sets) and prints the table.

    python bench/routed_cv.py --main MAIN.json --title TITLE.json [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

TITLE_SETS = ("titles",)  # the sets scored on titles alone; every other set has abstracts


def routed(main: dict[str, Any], title: dict[str, Any]) -> dict[str, Any]:
    """The routed model's metrics: titles-only sets from `title`, the rest from `main`."""
    if main.get("folds") != title.get("folds"):
        raise ValueError(f"the runs used different folds ({main.get('folds')} vs {title.get('folds')})")
    out: dict[str, Any] = {"name": "routed_nested_cv", "main_config": main.get("config"),
                           "title_config": title.get("config"), "folds": main.get("folds")}
    for key in ("metrics", "metrics_full"):
        a, b = main.get(key, {}), title.get(key, {})
        if set(a) != set(b):
            raise ValueError(f"the runs scored different sets: {sorted(a)} vs {sorted(b)}")
        for name in TITLE_SETS:
            if name in a and a[name].get("n") != b[name].get("n"):
                raise ValueError(f"set {name}: {a[name].get('n')} vs {b[name].get('n')} papers")
        out[key] = {name: (b if name in TITLE_SETS else a)[name] for name in a}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--main", type=Path, required=True, help="finetune_cv.py --out of the main model's recipe")
    ap.add_argument("--title", type=Path, required=True, help="finetune_cv.py --out of the specialist's recipe")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    try:
        res = routed(json.loads(args.main.read_text()), json.loads(args.title.read_text()))
    except (OSError, ValueError, KeyError) as exc:
        print(f"routed_cv: {exc}", file=sys.stderr)
        return 2
    for name, m in res["metrics"].items():
        who = "specialist" if name in TITLE_SETS else "main"
        print(f"{name:22s} ({who:10s}) n={m['n']:5d} macro-F1 {m['macro_f1']:.4f} relevance P {m['precision']:.4f} "
              f"R {m['recall']:.4f} type accuracy {m['type_accuracy']:.4f}")
    if args.out:
        args.out.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
