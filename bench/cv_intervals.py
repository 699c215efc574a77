"""How far the nested-CV goal figures can be trusted: bootstrap intervals, and paired differences.

A goal figure from a few hundred papers moves by whole papers: stream type accuracy is ~124 papers,
so one paper is 0.008. Before a change is called a gain, or a figure "one paper short", the reader
needs the spread that resampling the same papers gives. This script reads the out-of-fold
probabilities that bench/finetune_cv.py writes (`--probs`), re-derives the stored labels exactly
as the run scored them (routed_cv.stored_labels; titles routed through the specialist's run when
`--title-probs` is given, as bench/routed_cv.py does), and resamples papers with replacement:

- per set: each goal figure with its percentile interval, and how many papers it stands from
  its goal (type accuracy, relevance precision / recall: counts; macro-F1: not a count);
- with `--base-probs` (another run on the same folds, e.g. the model shipped before): the paired
  difference on the same resamples, its interval, and the share of resamples where the new run
  is ahead.

    python bench/cv_intervals.py --probs NEW.npz [--title-probs NEW_TITLE.npz]
        [--base-probs OLD.npz [--base-title-probs OLD_TITLE.npz]] [--resamples 1000] [--out F.json]

Sets: dev titles (routed when --title-probs is given), the scored stream sample with abstracts
(our hand labels + the curators'), and the curators' part of it alone (stream.jsonl).

Prints one JSON line per figure (the bench/run_all.py format) and a readable table on stderr.
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

# set -> the issue's goal figures on it (eval --json keys; type_accuracy from builder.set_report)
GOALS: dict[str, dict[str, float]] = {
    "titles": {"macro_f1": 0.85},
    "stream_full": {"precision": 0.85, "recall": 0.85, "type_accuracy": 0.95},
    "stream_curated_full": {"precision": 0.85, "recall": 0.85, "type_accuracy": 0.95},
}
# sets read as a part of another: (the set the --probs file holds, the source its papers carry).
# The curators' own stream labels are the closest to the held-out stream set acceptance scores.
SUBSETS: dict[str, tuple[str, str]] = {"stream_curated_full": ("stream_full", "file")}


def decisions(probs: Any, name: str, title_probs: Any = None) -> tuple[list[str], list[str], np.ndarray]:
    """(true labels, stored labels, outer folds) of set `name`: the run's own decision, or for a
    titles-only set with the specialist's run given, the routed decision (`predict.routed_labels`)."""
    from routed_cv import TITLE_SETS, require_same_papers, stored_labels

    from aisec_radar.classify.predict import routed_labels

    whole, source = SUBSETS.get(name, (name, None))
    y, folds = [str(v) for v in probs[f"{whole}_label"]], np.asarray(probs[f"{whole}_fold"])
    hat = stored_labels(probs, whole)
    if title_probs is not None and whole in TITLE_SETS:
        require_same_papers(whole, (y, folds), (title_probs[f"{whole}_label"], title_probs[f"{whole}_fold"]),
                            "the main and specialist runs")
        hat = routed_labels(hat, stored_labels(title_probs, whole))
    if source is None:
        return y, hat, folds
    keep = np.array([str(v) == source for v in probs[f"{whole}_source"]], dtype=bool)
    return ([a for a, k in zip(y, keep, strict=True) if k], [b for b, k in zip(hat, keep, strict=True) if k],
            folds[keep])


def figures(y: list[str], hat: list[str], types: tuple[str, ...], keys: list[str]) -> dict[str, float | None]:
    """The goal figures of one (re)sample, by the same report train and eval print."""
    from aisec_radar.classify.builder import set_report

    rep = set_report(y, hat, types)
    return {k: rep["relevance"][k] if k in ("precision", "recall", "f1") else rep[k] for k in keys}


def papers_from_goal(y: list[str], hat: list[str], types: tuple[str, ...], key: str, goal: float) -> int | None:
    """Papers that would have to change sides for a count figure to reach its goal (negative: the
    margin it has). None for macro-F1, which is not a count of papers."""
    rel = set(types)
    if key == "type_accuracy":
        both = [(a, b) for a, b in zip(y, hat, strict=True) if a in rel and b in rel]
        ok, n = sum(a == b for a, b in both), len(both)
    elif key == "precision":
        n = sum(b in rel for b in hat)
        ok = sum(a in rel and b in rel for a, b in zip(y, hat, strict=True))
    elif key == "recall":
        n = sum(a in rel for a in y)
        ok = sum(a in rel and b in rel for a, b in zip(y, hat, strict=True))
    else:
        return None
    return int(np.ceil(goal * n - 1e-9)) - ok


def _ci95(draws: np.ndarray) -> list[float]:
    return [round(float(np.percentile(draws, 2.5)), 4), round(float(np.percentile(draws, 97.5)), 4)]


def bootstrap(y: list[str], hat: list[str], types: tuple[str, ...], keys: list[str], resamples: int,
              rng: np.random.Generator, base_hat: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Per figure: the point value, its 95% percentile interval and, with `base_hat` (another run's
    stored labels of the same papers), the paired difference, its interval and P(new > base)."""
    n = len(y)
    point = figures(y, hat, types, keys)
    base_point = figures(y, base_hat, types, keys) if base_hat is not None else None
    draws: dict[str, list[float]] = {k: [] for k in keys}
    diffs: dict[str, list[float]] = {k: [] for k in keys}
    ya, ha = np.array(y), np.array(hat)
    ba = np.array(base_hat) if base_hat is not None else None
    for _ in range(resamples):
        idx = rng.integers(0, n, n)
        yy = ya[idx].tolist()
        f = figures(yy, ha[idx].tolist(), types, keys)
        g = figures(yy, ba[idx].tolist(), types, keys) if ba is not None else None
        for k in keys:
            if f[k] is None:
                continue
            draws[k].append(float(f[k]))
            if g is not None and g[k] is not None:
                diffs[k].append(float(f[k]) - float(g[k]))
    out: dict[str, dict[str, Any]] = {}
    for k in keys:
        d = np.array(draws[k])
        row: dict[str, Any] = {"value": point[k], "ci95": _ci95(d)}
        if base_point is not None:
            dd = np.array(diffs[k])
            row.update({"base": base_point[k],
                        "diff": round(float(point[k]) - float(base_point[k]), 4),
                        "diff_ci95": _ci95(dd),
                        "p_ahead": round(float(np.mean(dd > 0)), 3), "p_tied": round(float(np.mean(dd == 0)), 3)})
        out[k] = row
    return out


def intervals(probs: Any, title_probs: Any = None, base: Any = None, base_title: Any = None, *,
              resamples: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Every goal figure of every set the --probs file holds, with intervals (and paired diffs)."""
    from routed_cv import require_same_papers

    types = tuple(str(t) for t in probs["types"])
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {"resamples": resamples, "seed": seed, "sets": {}}
    for name, goals in GOALS.items():
        whole, source = SUBSETS.get(name, (name, None))
        if f"{whole}_label" not in probs or (source is not None and f"{whole}_source" not in probs):
            continue
        y, hat, folds = decisions(probs, name, title_probs)
        base_hat = None
        if base is not None:
            by, base_hat, base_folds = decisions(base, name, base_title)
            require_same_papers(name, (y, folds), (by, base_folds), "the run and the base run")
        rows = bootstrap(y, hat, types, list(goals), resamples, rng, base_hat)
        for k, goal in goals.items():
            rows[k]["goal"] = goal
            rows[k]["papers_from_goal"] = papers_from_goal(y, hat, types, k, goal)
        out["sets"][name] = {"n": len(y), "figures": rows}
    return out


def _load(path: Path | None) -> dict[str, Any] | None:
    from routed_cv import load_probs

    return load_probs(path) if path is not None else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--probs", type=Path, required=True, help="finetune_cv.py --probs of the run to read")
    ap.add_argument("--title-probs", type=Path, default=None, help="its specialist's run: route the titles")
    ap.add_argument("--base-probs", type=Path, default=None, help="a run to compare with, same folds")
    ap.add_argument("--base-title-probs", type=Path, default=None, help="the base run's specialist, if any")
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    try:
        res = intervals(_load(args.probs), _load(args.title_probs), _load(args.base_probs),
                        _load(args.base_title_probs), resamples=args.resamples, seed=args.seed)
    except (OSError, ValueError, KeyError) as exc:
        print(f"cv_intervals: {exc}", file=sys.stderr)
        return 2
    for name, s in res["sets"].items():
        for k, r in s["figures"].items():
            print(json.dumps({"name": f"cv.{name}.{k}", "value": r["value"], "unit": "",
                              "goal": f">= {r['goal']}", "ci95": r["ci95"],
                              "papers_from_goal": r["papers_from_goal"],
                              **({"diff": r["diff"], "diff_ci95": r["diff_ci95"], "p_ahead": r["p_ahead"]}
                                 if "diff" in r else {})}))
            gap = r["papers_from_goal"]
            gap_s = "" if gap is None else (f", {gap} paper(s) short" if gap > 0 else f", {-gap} paper(s) to spare")
            line = f"{name:20s} {k:14s} {r['value']} [{r['ci95'][0]}, {r['ci95'][1]}] goal {r['goal']}{gap_s}"
            if "diff" in r:
                line += (f" | vs base {r['base']}: {r['diff']:+.4f} [{r['diff_ci95'][0]:+.4f}, "
                         f"{r['diff_ci95'][1]:+.4f}], ahead in {r['p_ahead']:.0%}, tied in {r['p_tied']:.0%}")
            print(line, file=sys.stderr)
    if args.out:
        args.out.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
