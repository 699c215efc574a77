"""A small store with the cases exports must handle: curated vs predicted, needs review, not
relevant, unclassified, multi-type, awkward titles (LaTeX, XML specials, unicode, control chars)."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

from aisec_radar.records import Label, Paper
from aisec_radar.store import transaction
from aisec_radar.store.labels import add_label
from aisec_radar.store.papers import upsert_papers

PAPERS = [
    Paper("2501.00001", "Jailbreaking LLMs with $\\epsilon$-Greedy Prompts & 100% Success",
          "We jailbreak <b>models</b> & more.", ["José Müller", "Ann Lee"], ["cs.CR", "cs.CL"], "cs.CR",
          date(2025, 1, 3), date(2025, 1, 3), 1),
    Paper("2501.00002", "The Membership Inference Attack on Diffusion_Models", "MIA abstract \x0b with control",
          ["Bo Chen"], ["cs.LG"], "cs.LG", date(2025, 1, 10), date(2025, 2, 1), 2, doi="10.1000/xyz_1"),
    Paper("2502.00003", "Backdoor Poisoning of {Federated} Learning", "Poisoning abstract.",
          ["Carla Diaz", "D. E", "F. G"], ["cs.LG", "cs.CR"], "cs.LG", date(2025, 2, 5), date(2025, 2, 5), 1),
    Paper("2502.00004", "A Survey of Graph Neural Networks", "Not security.", ["Eve Adams"], ["cs.LG"], "cs.LG",
          date(2025, 2, 6), date(2025, 2, 6), 1),
    Paper("2503.00005", "Model Stealing via Query APIs and Data Extraction", "Extraction.", ["Fay Wong"],
          ["cs.CR"], "cs.CR", date(2025, 3, 1), date(2025, 3, 1), 1),
    Paper("2503.00006", "Secure Enclaves for Model Serving", "Other AI security.", ["Gus Hale"], ["cs.CR"],
          "cs.CR", date(2025, 3, 2), date(2025, 3, 2), 1),
    Paper("2503.00007", "Unclassified Fresh Paper on Watermark Removal", "Not yet classified.", [], ["cs.CR"],
          "cs.CR", None, None, 1),
]

# arxiv_id -> (relevance, labels, confidence, status)
PREDICTIONS = {
    "2501.00001": ("in_taxonomy", ["jailbreak"], 0.97, "auto"),
    "2501.00002": ("in_taxonomy", ["membership_inference"], 0.55, "needs_review"),
    "2502.00003": ("in_taxonomy", ["poisoning"], 0.91, "auto"),
    "2502.00004": ("not_relevant", [], 0.99, "auto"),
    "2503.00005": ("in_taxonomy", ["model_extraction", "data_extraction"], 0.8, "auto"),
    "2503.00006": ("other_aisec", [], 0.7, "needs_review"),
}


def populate(db: Path) -> None:
    with transaction(db) as con:
        upsert_papers(con, PAPERS)
        for aid, (rel, labels, conf, status) in PREDICTIONS.items():
            con.execute(
                "INSERT INTO predictions (arxiv_id, model_version, taxonomy_version, relevance, type_scores, labels, "
                "role, modality, confidence, status, review_priority, explanation, content_hash, created_at) "
                "VALUES (?, 'm1', '2026.1', ?, ?, ?, 'attack', 'language', ?, ?, 0, '{}', NULL, ?)",
                [aid, rel, json.dumps({t: conf for t in labels}), labels, conf, status, datetime(2025, 4, 1)],
            )
        # a curator overrides the classifier on 2502.00003 (poisoning -> harmful_finetuning + poisoning)
        add_label(con, Label("2502.00003", ["poisoning", "harmful_finetuning"], "alice", role="attack",
                             source="cli"))
        add_label(con, Label("2501.00001", ["jailbreak"], "bob", source="dashboard"))
