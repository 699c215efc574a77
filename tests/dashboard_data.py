"""Build dashboard test databases through the store API: real corpus papers, synthetic predictions.

The predictions are synthetic (deterministic per paper) so the dashboard tests do not depend on a
trained classifier; everything is written with the same store functions the real stages use.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from aisec_radar.records import Label, Paper, PaperVersion, Prediction
from aisec_radar.store import transaction
from aisec_radar.store.labels import add_label
from aisec_radar.store.papers import upsert_papers
from aisec_radar.store.predictions import save_predictions
from aisec_radar.store.runs import finish_run, set_checkpoint, start_run
from aisec_radar.taxonomy import load_taxonomy

HOSTILE_ID = "2699.00001"
HOSTILE_TITLE = "<script>alert('pwned')</script> **Bold** [click](javascript:alert(1)) $x^2$ # Heading"
CURATOR_SECRET = "correct horse battery staple"


def _d(value: str | None) -> date | None:
    return date.fromisoformat(value[:10]) if value else None


def paper_from_record(r: dict[str, Any]) -> Paper:
    version = r.get("version")
    return Paper(
        arxiv_id=r["id"], title=r["title"], abstract=r.get("abstract") or "", authors=list(r.get("authors") or []),
        categories=list(r.get("categories") or []), primary_category=r.get("primary_category"),
        published=_d(r.get("published")), updated=_d(r.get("updated")), version=version,
        versions=[PaperVersion(version=v) for v in range(1, (version or 1) + 1)],
    )


def synthetic_prediction(p: Paper, rng: random.Random, type_ids: list[str], roles: list[str],
                         modalities: list[str]) -> Prediction:
    """Mostly not_relevant, some other_aisec, a fifth in the taxonomy; a third of those need review."""
    x = rng.random()
    relevance = "not_relevant" if x < 0.65 else "other_aisec" if x < 0.8 else "in_taxonomy"
    labels = sorted(rng.sample(type_ids, 2 if rng.random() < 0.15 else 1)) if relevance == "in_taxonomy" else []
    scores = {t: round(rng.random() * 0.3, 3) for t in type_ids}
    for t in labels:
        scores[t] = round(0.5 + rng.random() * 0.5, 3)
    status = "needs_review" if rng.random() < (0.35 if relevance != "not_relevant" else 0.05) else "auto"
    neighbours = [{"arxiv_id": "2401.0000" + str(i), "title": f"Neighbour {i}", "types": labels or [relevance],
                   "similarity": round(0.9 - i / 10, 2)} for i in range(2)]
    return Prediction(
        arxiv_id=p.arxiv_id, model_version="test-model-1", taxonomy_version="2026.1", relevance=relevance,
        type_scores=scores, labels=labels, role=rng.choice(roles) if relevance != "not_relevant" else None,
        modality=rng.choice(modalities) if relevance != "not_relevant" else None,
        confidence=round(0.4 + rng.random() * 0.6, 3), status=status, review_priority=round(rng.random(), 4),
        explanation={"cues": {t: ["backdoor", "trigger <b>"] for t in labels}, "neighbours": neighbours},
        content_hash=p.content_hash,
    )


def build_filled_db(path: Path, records: list[dict[str, Any]], n: int = 2000, seed: int = 7) -> dict[str, Any]:
    """n corpus papers (spread over the corpus) + a hostile one, synthetic predictions, some curator labels,
    runs and citations."""
    from aisec_radar.store.survey import Citation, store_citations

    tax = load_taxonomy()
    rng = random.Random(seed)
    step = max(1, len(records) // n)  # a stride sample spans the corpus's months, as a real store does
    papers = [paper_from_record(r) for r in records[::step][:n]]
    hostile = Paper(arxiv_id=HOSTILE_ID, title=HOSTILE_TITLE, abstract="<img src=x onerror=alert(1)> *abstract*",
                    authors=["<b>Mallory</b>"], categories=["cs.CR"], primary_category="cs.CR",
                    published=date(2026, 9, 1), version=1)
    papers.append(hostile)
    preds = [synthetic_prediction(p, rng, list(tax.type_ids), list(tax.roles), list(tax.modalities)) for p in papers]
    hp = preds[-1]
    hp.relevance, hp.labels, hp.status, hp.review_priority = "in_taxonomy", ["jailbreak"], "needs_review", 99.0
    hp.type_scores["jailbreak"] = 0.55
    labelled = [p for p in preds[:-1] if p.relevance != "not_relevant"][:60]
    base = datetime(2026, 10, 1, 12, 0)
    with transaction(path) as con:
        upsert_papers(con, papers, categories=["cs.CR", "cs.LG"])
        save_predictions(con, preds)
        for i, p in enumerate(labelled):
            types = p.labels if (i % 3 and p.labels) else (["poisoning"] if p.relevance == "in_taxonomy"
                                                            else [p.relevance])
            add_label(con, Label(arxiv_id=p.arxiv_id, types=types, curator="alice", role=p.role,
                                 modality=p.modality, source="import", taxonomy_version=tax.version,
                                 created_at=base + timedelta(minutes=i)))
        store_citations(con, [Citation(arxiv_id=p.arxiv_id, bibkey=f"key{i}", title=p.title, matched_by="eprint")
                              for i, p in enumerate(papers[:40])])
        r1 = start_run(con, "nightly")
        finish_run(con, r1, "ok", {"new": 120, "classified": 120})
        r2 = start_run(con, "nightly")
        finish_run(con, r2, "failed", {"new": 0}, error="CrawlError: <b>503</b> from export.arxiv.org")
        set_checkpoint(con, "oai:cs", "2026-09-30")
    return {
        "papers": len(papers), "hostile_id": HOSTILE_ID, "labelled": len(labelled),
        "needs_review": sum(1 for p in preds if p.status == "needs_review"),
        "labelled_ids": {p.arxiv_id for p in labelled},
    }
