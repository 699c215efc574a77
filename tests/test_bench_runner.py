"""bench/run_all.py: figures parsed from a script's JSON lines, failures become rows, one Markdown table."""

from __future__ import annotations

import sys
from pathlib import Path

from bench_support import load_bench


def _run_all():
    return load_bench("run_all")


def test_run_one_parses_json_lines_and_reports_failure(tmp_path: Path) -> None:
    ra = _run_all()
    script = tmp_path / "bench_x.py"
    script.write_text(
        "import json, sys\n"
        "print('warming up')\n"
        "print(json.dumps({'name': 'x.rate', 'value': 12.5, 'unit': 'texts/s', 'goal': '>= 10'}))\n"
        "print('{not json')\n"
        "print(json.dumps({'name': 'x.size', 'value': 3, 'unit': 'MiB'}))\n"
        "sys.exit(3)\n"
    )
    figures, secs, err = ra.run_one(script, timeout=60)
    assert [f["name"] for f in figures] == ["x.rate", "x.size"]
    assert err == "exit code 3" and secs >= 0
    table = ra.table([("x", f) for f in figures] + [("x", {"name": "x.error", "value": err, "unit": ""})])
    lines = table.splitlines()
    assert lines[0] == "| bench | figure | value | unit | goal |"
    assert "| x | x.rate | 12.5 | texts/s | >= 10 |" in lines
    assert "| x | x.error | exit code 3 |  |  |" in lines


def test_discover_filters_by_area() -> None:
    ra = _run_all()
    names = [p.stem for p in ra.discover({"encoder", "queries"}, set())]
    assert names == ["bench_encoder", "bench_queries"]
    assert "bench_encoder" not in [p.stem for p in ra.discover(set(), {"encoder"})]
    assert sys.executable  # the runner uses the current interpreter for every script
    assert "core" in ra.machine()


def test_routed_cv_applies_the_overrule_to_both_runs_out_of_fold_labels() -> None:
    import numpy as np
    import pytest

    rc = load_bench("routed_cv")
    types = np.array(["poisoning", "jailbreak"])
    gold = np.array(["poisoning", "not_relevant", "jailbreak"])
    IN, NR = [0.9, 0.05, 0.05], [0.05, 0.05, 0.9]

    def probs(rel: list, typ: list) -> dict:
        return {"types": types, "titles_label": gold, "titles_fold": np.array([0, 1, 2]), "titles_bias": np.array(0.0),
                "titles_rel": np.array(rel), "titles_type": np.array(typ)}

    P, J = [0.9, 0.1], [0.1, 0.9]
    main_p = probs([IN, NR, IN], [P, P, P])  # right, right, wrong type
    title_p = probs([IN, IN, IN], [P, J, J])  # right, wrong (called relevant), right
    run = {"folds": 5, "config": {}, "metrics_full": {"titles": {"macro_f1": 0.5}, "stream_full": {"n": 7}}}
    res = rc.routed(run, run, main_p, title_p)
    t = res["metrics_full"]["titles"]
    assert t["accuracy"] == 1.0 and t["n"] == 3  # the specialist's labels, but the main model's not_relevant
    assert res["metrics_full"]["stream_full"] == {"n": 7}  # sets with abstracts: the main run's
    assert rc.stored_labels(title_p, "titles") == ["poisoning", "jailbreak", "jailbreak"]
    with pytest.raises(ValueError, match="different papers or folds"):
        rc.routed(run, run, main_p, {**title_p, "titles_fold": np.array([0, 1, 1])})


def test_title_agreement_scores_titles_against_the_reference() -> None:
    ta = load_bench("title_agreement")
    ref = ["poisoning", "jailbreak", "not_relevant", "other_aisec"]
    hat = ["poisoning", "poisoning", "jailbreak", "other_aisec"]
    got = ta.agreement(ref, hat, {"poisoning", "jailbreak"})
    # flagged 3, of which 2 are relevant in the reference (both found); 1 of 2 types agree; 2 of 4 labels
    assert got == {"flagged": 3, "precision": 0.6667, "recall": 1.0, "type_agreement": 0.5, "label_agreement": 0.5}
    with_auto = ta.agreement(ref, hat, {"poisoning", "jailbreak"}, [True, True, False, False])
    assert with_auto["auto_share"] == 0.5 and with_auto["auto_agreement"] == 0.5  # poisoning right, jailbreak not


def test_cv_intervals_figures_gaps_and_paired_differences() -> None:
    import numpy as np
    import pytest

    ci = load_bench("cv_intervals")
    types = np.array(["poisoning", "jailbreak"])
    IN, NR = [0.9, 0.05, 0.05], [0.05, 0.05, 0.9]
    P, J = [0.9, 0.1], [0.1, 0.9]
    # ten stream papers: 8 poisoning, 2 not_relevant; the 'hand' rows are ours, the 'file' rows the curators'
    gold = np.array(["poisoning"] * 8 + ["not_relevant"] * 2)
    source = np.array(["file"] * 5 + ["hand"] * 5)

    def run(typ: list, rel: list) -> dict:
        return {"types": types, "stream_full_label": gold, "stream_full_fold": np.arange(10) % 5,
                "stream_full_bias": np.array(0.0), "stream_full_rel": np.array(rel),
                "stream_full_type": np.array(typ), "stream_full_source": source}

    # base: papers 0-1 get the wrong type, paper 9 (not_relevant) is called relevant
    base = run([J, J] + [P] * 8, [IN] * 8 + [NR, IN])
    new = run([J] + [P] * 9, [IN] * 8 + [NR, IN])  # paper 1 mended
    res = ci.intervals(new, base=base, resamples=300, seed=1)
    ta = res["sets"]["stream_full"]["figures"]["type_accuracy"]
    assert ta["value"] == 0.875 and ta["base"] == 0.75  # 7 of 8 against 6 of 8
    assert ta["papers_from_goal"] == 1  # ceil(0.95 * 8) = 8 correct needed
    assert ta["ci95"][0] <= ta["value"] <= ta["ci95"][1] and ta["ci95"][0] < ta["ci95"][1]
    assert ta["diff"] == 0.125 and ta["diff_ci95"][0] >= 0 and 0 < ta["p_ahead"] < 1
    prec = res["sets"]["stream_full"]["figures"]["precision"]
    assert prec["value"] == round(8 / 9, 4) and prec["papers_from_goal"] == 0 and prec["p_tied"] == 1.0
    cur = res["sets"]["stream_curated_full"]  # the curators' five: papers 0-4, type right in 4 of 5
    assert cur["n"] == 5 and cur["figures"]["type_accuracy"]["value"] == 0.8
    assert "titles" not in res["sets"]  # a set the file does not hold is left out
    with pytest.raises(ValueError, match="different papers or folds"):
        ci.intervals(new, base={**base, "stream_full_fold": np.zeros(10, dtype=int)}, resamples=10)
    # titles alone, routed: the specialist's label unless the main model's is not_relevant
    tgold = np.array(["poisoning", "not_relevant", "jailbreak"])

    def titles(rel: list, typ: list) -> dict:
        return {"types": types, "titles_label": tgold, "titles_fold": np.array([0, 1, 2]),
                "titles_bias": np.array(0.0), "titles_rel": np.array(rel), "titles_type": np.array(typ)}

    main_t, spec_t = titles([IN, NR, IN], [P, P, P]), titles([IN, IN, IN], [P, J, J])
    routed = ci.intervals(main_t, spec_t, base=main_t, resamples=50)["sets"]["titles"]["figures"]["macro_f1"]
    assert routed["value"] == 1.0 and routed["base"] < 1.0 and routed["papers_from_goal"] is None


def test_fold_select_scores_each_fold_by_the_run_best_on_the_others() -> None:
    import numpy as np
    import pytest

    fs = load_bench("fold_select")
    types = np.array(["poisoning", "jailbreak"])
    IN, P, J = [0.9, 0.05, 0.05], [0.9, 0.1], [0.1, 0.9]

    def run(wrong: set) -> dict:
        return {"types": types, "stream_full_label": np.array(["poisoning"] * 10),
                "stream_full_fold": np.arange(10) % 5, "stream_full_bias": np.array(0.0),
                "stream_full_rel": np.array([IN] * 10), "stream_full_source": np.array(["file"] * 10),
                "stream_full_type": np.array([J if i in wrong else P for i in range(10)])}

    a, b = run({0, 5}), run({1, 6, 2})  # A errs on fold 0; B on folds 1 and 2
    res = fs.fold_select([a, b], "stream_full", "type_accuracy")
    assert res["per_run"] == [0.8, 0.7]
    # fold 0 takes A (perfect elsewhere), fold 1 takes B (one error elsewhere against A's two),
    # fold 2 ties (two errors each) and takes the first; so the choice pays for both runs' errors
    assert res["chosen_per_fold"] == [0, 1, 0, 0, 0] and res["selected"] == 0.6
    assert fs.fold_select([a, b], "stream_curated_full", "type_accuracy")["selected"] == 0.6
    with pytest.raises(ValueError, match="different papers or folds"):
        fs.fold_select([a, {**b, "stream_full_fold": np.zeros(10, dtype=int)}], "stream_full", "type_accuracy")


def test_finetune_cv_vector_stamps_match_only_the_same_recipe_and_labels() -> None:
    from aisec_radar.classify.finetune import FINETUNE_DEFAULTS

    fc = load_bench("finetune_cv")
    want = {"config": dict(FINETUNE_DEFAULTS), "examples": "abc"}
    assert fc.stamp_matches(want, want)
    # a stamp written before an option existed: matches while the option is at its default
    old = {"config": {k: v for k, v in FINETUNE_DEFAULTS.items() if k != "supcon_projection"}, "examples": "abc"}
    assert fc.stamp_matches(old, want)
    assert not fc.stamp_matches(old, {**want, "config": {**want["config"], "supcon_projection": 128}})
    assert not fc.stamp_matches(want, {**want, "examples": "abd"})  # other labels
    assert not fc.stamp_matches(want, {**want, "config": {**want["config"], "layers": 3}})
