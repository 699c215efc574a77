"""Nested-CV figures of a model with a titles-only specialist, from two runs of bench/finetune_cv.py.

A routed model stores, for a title alone, the specialist's label unless the main model's is
not_relevant (`predict.overrule`), and the main model's for everything with an abstract. The two are
trained independently on the same labels, so the routed model's out-of-fold figures follow exactly
from two nested runs on the same folds: every set with abstracts from the main recipe's run, and
the titles from both runs' out-of-fold probabilities (`--probs` of finetune_cv.py) put through that
rule. Nothing is re-fitted here. Prints one line per set and, with --out, writes the JSON.

    python bench/routed_cv.py --main MAIN.json --main-probs MAIN.npz --title TITLE.json
        --title-probs TITLE.npz [--out FILE.json]
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
TITLE_SETS = ("titles",)  # titles-only sets the --probs files hold: routed by the rule
# titles-only sets a --probs file does not hold: the routed model's figure cannot be assembled, so left out
UNROUTED = ("stream_titles_only",)


def load_probs(path: Path) -> dict[str, Any]:
    """A finetune_cv.py --probs file, read whole (a few arrays per scored set)."""
    with np.load(path, allow_pickle=False) as z:
        return dict(z)


def require_same_papers(name: str, a: tuple[Any, Any], b: tuple[Any, Any], who: str = "the runs") -> None:
    """Two runs' (true labels, outer folds) of set `name` must be the same papers in the same folds:
    a paired comparison of anything else would compare nothing."""
    if [str(v) for v in a[0]] != [str(v) for v in b[0]] or not np.array_equal(np.asarray(a[1]), np.asarray(b[1])):
        raise ValueError(f"set {name}: {who} scored different papers or folds")


def stored_labels(probs: Any, name: str) -> list[str]:
    """The labels a model stores for set `name` of a finetune_cv.py --probs file (its own decision):
    the titles-only view for the titles-only sets, the full view (its own decision bias) otherwise."""
    from aisec_radar.classify.model import ClassifierModel

    types = tuple(str(t) for t in probs["types"])
    view = "title" if name in TITLE_SETS else "full"
    model = ClassifierModel(model_version="", taxonomy_version="", encoder_key="", types=types, cue_labels=(),
                            cue_scale=0.0, heads={}, decision_bias={view: float(probs[f"{name}_bias"])})
    p = {"relevance": probs[f"{name}_rel"], "type": probs[f"{name}_type"],
         "full": np.full(len(probs[f"{name}_rel"]), view == "full", dtype=bool)}
    out = []
    for i in range(len(p["relevance"])):
        relevance, labels, _, _ = model.decide(p, i)
        out.append(model.top_label(relevance, labels))
    return out


def routed(main: dict[str, Any], title: dict[str, Any], main_probs: Any, title_probs: Any) -> dict[str, Any]:
    """The routed model's metrics: titles-only sets by the rule over both runs, the rest from `main`."""
    from aisec_radar.classify.builder import routed_report

    if main.get("folds") != title.get("folds"):
        raise ValueError(f"the runs used different folds ({main.get('folds')} vs {title.get('folds')})")
    out: dict[str, Any] = {"name": "routed_nested_cv", "main_config": main.get("config"),
                           "title_config": title.get("config"), "folds": main.get("folds"),
                           "metrics_full": {k: v for k, v in main["metrics_full"].items()
                                            if isinstance(v, dict) and k not in UNROUTED},
                           "title_alone": {}, "main_alone": {}}
    for name in TITLE_SETS:
        y = [str(v) for v in main_probs[f"{name}_label"]]
        require_same_papers(name, (y, main_probs[f"{name}_fold"]),
                            (title_probs[f"{name}_label"], title_probs[f"{name}_fold"]))
        types = tuple(str(t) for t in main_probs["types"])
        out["metrics_full"][name] = routed_report(y, stored_labels(main_probs, name), stored_labels(title_probs, name),
                                                  types)
        out["main_alone"][name] = main["metrics_full"][name]["macro_f1"]
        out["title_alone"][name] = title["metrics_full"][name]["macro_f1"]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--main", type=Path, required=True, help="finetune_cv.py --out of the main model's recipe")
    ap.add_argument("--main-probs", type=Path, required=True, help="finetune_cv.py --probs of that run")
    ap.add_argument("--title", type=Path, required=True, help="finetune_cv.py --out of the specialist's recipe")
    ap.add_argument("--title-probs", type=Path, required=True, help="finetune_cv.py --probs of that run")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    try:
        res = routed(json.loads(args.main.read_text()), json.loads(args.title.read_text()),
                     load_probs(args.main_probs), load_probs(args.title_probs))
    except (OSError, ValueError, KeyError) as exc:
        print(f"routed_cv: {exc}", file=sys.stderr)
        return 2
    for name, m in res["metrics_full"].items():
        who = "routed" if name in TITLE_SETS else "main"
        rel = m["relevance"]
        print(f"{name:22s} ({who:6s}) n={m['n']:5d} macro-F1 {m['macro_f1']:.4f} relevance P {rel['precision']:.4f} "
              f"R {rel['recall']:.4f} type accuracy {m['type_accuracy']}")
    for name in TITLE_SETS:
        print(f"{name}: main model alone {res['main_alone'][name]}, specialist alone {res['title_alone'][name]}")
    if args.out:
        args.out.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
