"""Draw corpus papers at the classifier's type borders for hand labelling (how the targeted labels
of session 8 were drawn: classify/data/handlabels_f.jsonl is round 1 (shipped); round 2 is
bench/labels/border_round2.jsonl, measured and not shipped, kept for a re-run; docs/classifier.md,
"Session 8").

Each border is a pair of keyword patterns (both must match title + abstract) and the types it sits
between. Candidates are corpus papers with an abstract that no label file holds (dev.jsonl,
stream.jsonl, the bundled hand labels; titled rows by normalised title too) and whose stored
prediction gives the nine types at least 0.15 in all. Round 1 ranks them by how evenly the model
splits its probability between the border's two top types (the smaller of the two); round 2 by the
mass on the border's types (where the model is most sure of the thin types). The draw is
deterministic for one database, so a label file can be traced back to it. Writes
``batch<k>.jsonl`` (id, title, abstract: for the readers only, never committed) under --out.

    python bench/border_sample.py --db demo.duckdb --round 1 --out /tmp/labels \\
        [--ignore handlabels_f.jsonl ...]   # leave bundled files out of "already labelled" to re-draw a round
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared"

# name: (pattern A, pattern B, the border's types, papers to draw)
ROUNDS: dict[int, dict[str, tuple[str, str, tuple[str, ...], int]]] = {
    1: {
        "extract_inv": (r"(reconstruct|extract|memori[sz]|regurgitat|inversion|leak)",
                        r"(training (data|images|samples|set)|private (data|images|training)|"
                        r"memori[sz]|diffusion|clip|gradient)",
                        ("model_inversion", "data_extraction", "membership_inference"), 45),
        "distill_steal": (r"(distill|imitat|clon|steal|knockoff|data-free|model extraction|functionality)",
                          r"(model|api|llm|teacher|black-box|victim)",
                          ("model_extraction", "harmful_finetuning", "poisoning"), 45),
        "attr_audit": (r"(attribute inference|property inference|dataset inference|data provenance|"
                       r"unauthori[sz]ed (data|use)|audit|membership)",
                       r"(model|training|generat|diffusion|llm)",
                       ("membership_inference", "model_inversion", "watermark_removal"), 35),
        "align_weights": (r"(safety alignment|refusal|abliterat|white-box|weight|unalign|decensor|safety neuron)",
                          r"(llm|language model|aligned|safety)", ("jailbreak", "harmful_finetuning"), 35),
        "model_wm": (r"(watermark|fingerprint)", r"(model|ownership|intellectual property|\bip\b|copyright)",
                     ("model_extraction", "watermark_removal"), 20),
        "redteam": (r"(red[- ]team|toxic|harmful content|unsafe)",
                    r"(multimodal|vision|image|video|agent|t2i|text-to-image|diffusion)",
                    ("jailbreak", "poisoning"), 20),
    },
    2: {
        "model_wm2": (r"(watermark|fingerprint)",
                      r"(model ownership|ownership of (the |a )?(model|dnn|neural)|model (ip|intellectual)|"
                      r"intellectual property|protect(ing)? (the )?(model|dnn)|dnn watermark|model watermark|"
                      r"policy|stolen model|model theft|piracy)",
                      ("watermark_removal", "model_extraction"), 60),
        "vision_extract": (r"(extract|reconstruct|memori[sz]|regurgitat|replicat|copy)",
                           r"(diffusion|clip|text-to-image|image generat|vision|images)",
                           ("data_extraction", "model_inversion"), 40),
        "llm_steal": (r"(steal|extraction attack|extract(ing)? (the )?(model|weights|parameters|logits|system|"
                      r"architecture)|distill|imitat|clon|reverse-engineer)",
                      r"(llm|language model|api|proprietary|black-box)", ("model_extraction",), 50),
        "hft_jb": (r"fine-?tun", r"(safety|harmful|jailbreak|alignment|refusal)",
                   ("harmful_finetuning", "jailbreak"), 50),
    },
}
SEEDS = {1: 8, 2: 9}


def _score(rnd: int, scores: dict[str, float], types: tuple[str, ...]) -> float:
    if rnd == 2:
        return sum(scores.get(t, 0.0) for t in types)
    on_border = sorted((v for k, v in scores.items() if k in types), reverse=True)
    return min(on_border[0], on_border[1]) if len(on_border) >= 2 else 0.0


def draw(rnd: int, db: Path, corpus: Path,
         label_files: list[Path]) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """({arXiv id: border name} in drawing order, the drawn papers' (title, abstract))."""
    import duckdb

    from aisec_radar.classify.data import read_corpus
    from aisec_radar.survey import normalise_title

    seen, titles = set(), set()
    for path in label_files:
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                seen.add(row.get("id"))
                titles.add(normalise_title(row.get("title")))
    titles.discard("")
    papers = {pid: (title, abstract) for pid, (title, abstract) in read_corpus(corpus).items()
              if pid not in seen and abstract and normalise_title(title) not in titles}
    con = duckdb.connect(str(db), read_only=True)
    preds = {a: json.loads(s) for a, s in con.execute(
        "SELECT arxiv_id, type_scores FROM current_predictions WHERE type_scores IS NOT NULL").fetchall()}
    con.close()
    chosen: dict[str, str] = {}
    for name, (pat_a, pat_b, types, n) in ROUNDS[rnd].items():
        ranked = []
        for pid, (title, abstract) in papers.items():
            if pid in chosen:
                continue
            text = f"{title} {abstract}".lower()
            scores = preds.get(pid) or {}
            if not (re.search(pat_a, text) and re.search(pat_b, text)) or sum(scores.values()) < 0.15:
                continue
            ranked.append((_score(rnd, scores, types), pid))
        ranked.sort(reverse=True)
        for _, pid in ranked[:n]:
            chosen[pid] = name
        print(f"{name}: {len(ranked)} candidates, {min(n, len(ranked))} drawn", file=sys.stderr)
    return chosen, {pid: papers[pid] for pid in chosen}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, required=True, help="a store whose papers carry current predictions")
    ap.add_argument("--round", type=int, choices=sorted(ROUNDS), required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--batches", type=int, default=4)
    ap.add_argument("--corpus", type=Path, default=SHARED / "arxiv" / "corpus.jsonl.gz")
    ap.add_argument("--ignore", action="append", default=[],
                    help="bundled label file name not to count as labelled (to re-draw an earlier round)")
    args = ap.parse_args()
    from aisec_radar.classify.data import bundled_label_files

    labels = [SHARED / "labels" / "dev.jsonl", SHARED / "labels" / "stream.jsonl",
              *(p for p in bundled_label_files() if p.name not in set(args.ignore))]
    missing = [str(p) for p in [args.db, args.corpus, *labels] if not p.exists()]
    if missing:
        print(f"missing: {', '.join(missing)}", file=sys.stderr)
        return 2
    chosen, papers = draw(args.round, args.db, args.corpus, labels)
    ids = list(chosen)
    random.Random(SEEDS[args.round]).shuffle(ids)
    args.out.mkdir(parents=True, exist_ok=True)
    for b in range(args.batches):
        with open(args.out / f"batch{b}.jsonl", "w") as fh:
            for pid in ids[b::args.batches]:
                title, abstract = papers[pid]
                fh.write(json.dumps({"id": pid, "title": title, "abstract": abstract}) + "\n")
    json.dump(chosen, open(args.out / "borders.json", "w"), indent=0)
    print(json.dumps({"round": args.round, "drawn": len(ids), "by_border": {
        n: sum(1 for v in chosen.values() if v == n) for n in ROUNDS[args.round]}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
