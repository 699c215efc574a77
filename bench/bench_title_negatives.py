"""Ordinary ML titles kept not_relevant: the titles-only view on negatives unlike the curated lists'.

Curated lists' negatives (dev.jsonl: diffusion models, self-supervised learning) say little about
ordinary graph-neural-network or attention / KV-cache / state-space papers, yet other curators'
lists draw their negatives from exactly such lists. This probe takes every corpus paper whose title
names GNNs or attention/long-context machinery and holds no security word (the negatives filter of
shared/labels/MAPPING.md, plus robust/malware/intrusion/vulnerability/crypto/fraud/anomaly, which
mark ML-for-security or robustness papers), leaves out every labelled id, and classifies the titles alone with the
active model. Some of them are in fact AI-security papers (the corpus is cs.CR + cs.LG), so 100% is
not the ceiling; the figure compares models. Prints one JSON object. Usage:

    python bench/bench_title_negatives.py [--corpus ../shared/arxiv/corpus.jsonl.gz] [--labels FILE ...]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SECURITY = re.compile(r"attack|adversar|backdoor|poison|trojan|privacy|private|membership|watermark|jailbreak|"
                      r"steal|extraction|inversion|defen|secur|threat|unlearn|memoriz|leak|fake|forensic|"
                      r"fingerprint|copyright|safety|harmful|robust|malware|intrusion|vulnerab|crypt|fraud|anomal",
                      re.I)
GNN = re.compile(r"\bgraph neural|\bGNN|graph convolution|graph transformer|message passing|graph representation|"
                 r"node classification|link prediction", re.I)
ATTENTION = re.compile(r"linear attention|sparse attention|efficient attention|efficient transformer|long[- ]context|"
                       r"attention mechanism|self-attention|KV cache|state space model|\bmamba\b", re.I)


def probe_titles(corpus: Path, labelled: set[str]) -> list[tuple[str, str]]:
    """(kind, title) of unlabelled corpus papers on GNNs or attention machinery with no security word."""
    from aisec_radar.classify.data import read_corpus

    out = []
    for pid, (t, _) in read_corpus(corpus).items():
        if pid in labelled or SECURITY.search(t):
            continue
        kind = "gnn" if GNN.search(t) else "attention" if ATTENTION.search(t) else None
        if kind:
            out.append((kind, t))
    return out


def probe_parser(doc: str) -> argparse.ArgumentParser:
    """--corpus and --labels (the files whose papers a probe leaves out), as the corpus probes of
    the titles-only view take them (this one and bench/title_agreement.py)."""
    shared = REPO.parent / "shared"
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=Path(os.environ.get("AISEC_RADAR_CORPUS",
                                                                       shared / "arxiv" / "corpus.jsonl.gz")))
    ap.add_argument("--labels", type=Path, nargs="*",
                    default=[shared / "labels" / "dev.jsonl", shared / "labels" / "stream.jsonl"])
    return ap


def main() -> int:
    args = probe_parser(__doc__).parse_args()
    if not args.corpus.exists():
        print(f"skipped: no corpus at {args.corpus}", file=sys.stderr)
        return 0
    from aisec_radar.classify.data import labelled_ids
    from aisec_radar.classify.evaluate import stored_labels_of
    from aisec_radar.classify.pipeline import active_model
    from aisec_radar.config import load_settings
    from aisec_radar.taxonomy import load_taxonomy

    settings = load_settings()
    taxonomy = load_taxonomy(settings.taxonomy_path or None)
    probe = probe_titles(args.corpus, labelled_ids(taxonomy, args.labels))
    model = active_model(settings)
    stored, _ = stored_labels_of(settings, [(t, "") for _, t in probe], model=model, taxonomy=taxonomy)
    kept = Counter(k for (k, _), s in zip(probe, stored, strict=True) if s == "not_relevant")
    kinds = Counter(k for k, _ in probe)
    print(json.dumps({"name": "title_negatives_kept_not_relevant", "value": round(sum(kept.values()) / len(probe), 4),
                      "unit": "share", "n": len(probe), "model": model.model_version,
                      "by_kind": {k: round(kept[k] / n, 4) for k, n in kinds.items()},
                      "predicted_instead": dict(Counter(s for s in stored if s != "not_relevant").most_common())}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
