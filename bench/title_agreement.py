"""How well titles alone agree with title + abstract, on random unlabelled corpus papers.

No person labelled these papers, so the reference is the main model's own decision on title +
abstract (stream relevance P / R ~0.89 / 0.87 in nested CV, far better than any title alone). Each
way of deciding a title alone is scored against it: relevance precision / recall (relevant = one of
the nine types), type agreement where both say relevant, label agreement, and the share
auto-accepted with the label agreement of those (what a curator would not review). With a titles-only
specialist the three ways are the main model alone, the specialist alone and the routed rule
(`predict.overrule`), so the rule can be checked on papers that did not choose it. ~2 min for 1,500.

    python bench/title_agreement.py [--n 1500] [--seed 7] [--corpus ../shared/arxiv/corpus.jsonl.gz]
"""

from __future__ import annotations

import json
import os
import random
import sys
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def agreement(reference: list[str], titles: list[str], types: set[str], auto: list[bool] | None = None
              ) -> dict[str, float]:
    """Relevance P / R, type and label agreement of title-alone labels against reference labels;
    with `auto` (auto-accepted or not), the auto-accepted share and their label agreement."""
    ref = [r in types for r in reference]
    hat = [t in types for t in titles]
    tp = sum(a and b for a, b in zip(ref, hat, strict=True))
    both = [(a, b) for a, b in zip(reference, titles, strict=True) if a in types and b in types]
    return {"flagged": sum(hat), "precision": round(tp / max(sum(hat), 1), 4),
            "recall": round(tp / max(sum(ref), 1), 4),
            "type_agreement": round(sum(a == b for a, b in both) / max(len(both), 1), 4),
            "label_agreement": round(sum(a == b for a, b in zip(reference, titles, strict=True)) / len(reference), 4),
            **({"auto_share": round(sum(auto) / len(auto), 4),
                "auto_agreement": round(sum(a == b for a, b, x in zip(reference, titles, auto, strict=True) if x)
                                        / max(sum(auto), 1), 4)} if auto is not None else {})}


def main() -> int:
    from bench_title_negatives import probe_parser  # a sibling script: bench/ is on the path when run

    ap = probe_parser(__doc__)
    ap.add_argument("--n", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    if not args.corpus.exists():
        print(f"skipped: no corpus at {args.corpus}", file=sys.stderr)
        return 0
    from aisec_radar.classify.data import labelled_ids, read_corpus
    from aisec_radar.classify.evaluate import stored_labels_of
    from aisec_radar.classify.pipeline import active_model
    from aisec_radar.config import load_settings
    from aisec_radar.taxonomy import load_taxonomy

    settings = load_settings()
    taxonomy = load_taxonomy(settings.taxonomy_path or None)
    labelled = labelled_ids(taxonomy, args.labels)
    corpus = read_corpus(args.corpus)
    pool = sorted(i for i in corpus if i not in labelled and corpus[i][1])
    pick = random.Random(args.seed).sample(pool, min(args.n, len(pool)))
    model = active_model(settings)
    main_only = replace(model, title_model=None, title_delta=None)
    types = set(taxonomy.type_ids)
    reference, _ = stored_labels_of(settings, [corpus[i] for i in pick], model=main_only, taxonomy=taxonomy)
    titles = [(corpus[i][0], "") for i in pick]
    ways = {"main_model": (settings, main_only)}
    if model.title_model is not None:
        ways["title_model"] = (replace(settings, encoder_finetune=str(model.title_delta)), model.title_model)
        ways["routed"] = (settings, model)
    out = {"name": "title_agreement", "model": model.model_version, "n": len(pick),
           "reference_relevant": sum(r in types for r in reference)}
    for name, (s, m) in ways.items():
        labels, auto = stored_labels_of(s, titles, model=m, taxonomy=taxonomy)
        out[name] = agreement(reference, labels, types, auto)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
