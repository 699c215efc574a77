"""Training and evaluation examples: label files, the bundled hand labels, the taxonomy's
representative papers, curator labels from the store and the corpus pool of stream papers.

Label files come in several shapes and all are accepted:
- eval/dev style: ``{"title", "abstract"?, "attack", "role"?}`` (``id`` optional),
- id-only hand labels: ``{"id", "attack", "role"?, "sample"?}`` (text joined from the corpus or store),
- ``aisec-radar labels export`` style: ``{"arxiv_id", "types", "role"?}``.
"""

from __future__ import annotations

import gzip
import json
import os
import random
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from aisec_radar.errors import InputError
from aisec_radar.records import normalise_space

if TYPE_CHECKING:
    from aisec_radar.taxonomy.loader import Taxonomy

ROLE_MAP = {"attack": "attack", "defense": "defense", "defense_by_title": "defense", "evaluation": "evaluation",
            "benchmark": "evaluation", "analysis": "analysis", "survey": "survey"}
CORPUS_ENV = "AISEC_RADAR_CORPUS"


@dataclass
class Example:
    id: str | None
    title: str
    abstract: str
    label: str  # one of the taxonomy's label ids (nine types, other_aisec, not_relevant)
    role: str | None = None
    source: str = "file"  # dev | stream | hand | literature | pseudo | taxonomy | pool | curator | file
    sample: str | None = None  # keyword | random (hand-labelled stream samples)
    weight: float = 1.0
    line: int = 0
    secondary: tuple[str, ...] = ()  # the labeller's secondary labels (GUIDE.md), most likely first
    join_text: bool = False  # id-bearing row without an "abstract" key: take title/abstract from store/corpus

    @property
    def has_abstract(self) -> bool:
        return bool(self.abstract)


def bundled_label_files() -> list[Path]:
    """The hand-labelled stream samples shipped with the package (ids + labels only)."""
    base = resources.files("aisec_radar.classify").joinpath("data")
    return sorted(Path(str(p)) for p in base.iterdir() if p.name.startswith("handlabels") and p.name.endswith(".jsonl"))


def labelled_ids(taxonomy: Taxonomy, extra: Iterable[Path] = ()) -> set[str]:
    """Ids of every paper a person labelled: the bundled hand labels and those `extra` files that
    exist. Probes of the corpus leave these out, so no paper the model was trained on is scored."""
    return {e.id for path in [*bundled_label_files(), *(p for p in extra if Path(p).exists())]
            for e in read_label_file(Path(path), taxonomy) if e.id}


def bundled_literature_file() -> Path | None:
    """Curated titles of well-known published papers (titles only, no ids), written from the
    literature to fill thin classes; training-only: CV never scores them (see training.cross_validate)."""
    p = Path(str(resources.files("aisec_radar.classify").joinpath("data").joinpath("literature.jsonl")))
    return p if p.exists() else None


def bundled_pseudo_file() -> Path | None:
    """Corpus papers the shipped model auto-accepted in the nine types (ids + its label only), which
    train the titles-only type head (setting pseudo_heads) by their title: self-training for the view
    with the fewest labelled examples. Training-only and never in the full view or the encoder's
    fine-tuning (bench/pseudo_titles.py writes it; docs/classifier.md, "Session 9")."""
    p = Path(str(resources.files("aisec_radar.classify").joinpath("data").joinpath("pseudo_titles.jsonl")))
    return p if p.exists() else None


def read_label_file(path: Path, taxonomy: Taxonomy, need_text: bool = False, secondary: bool = True) -> list[Example]:
    """Parse a JSON Lines label file; a malformed line or unknown label fails naming file and line.

    `secondary=False` leaves the "secondary" key unread: eval scores the primary label only, so an
    evaluation file's secondaries (whatever labelling scheme wrote them) must not stop it."""
    if not path.exists():
        raise InputError(f"labels file {path} does not exist")
    valid = set(taxonomy.label_ids)
    out = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc
            if not isinstance(obj, dict):
                raise InputError(f"{path}:{n}: expected a JSON object")
            label = obj.get("attack")
            if label is None and isinstance(obj.get("types"), list) and obj["types"]:
                label = obj["types"][0]
            if not isinstance(label, str):
                raise InputError(f"{path}:{n}: missing 'attack' (one of: {', '.join(taxonomy.label_ids)})")
            if label not in valid:
                raise InputError(f"{path}:{n}: unknown label '{label}' in 'attack'; valid: "
                                 f"{', '.join(taxonomy.label_ids)}")
            pid = obj.get("id") or obj.get("arxiv_id")
            title = normalise_space(obj.get("title"))
            if need_text and not title:
                raise InputError(f"{path}:{n}: missing 'title'")
            if not title and not pid:
                raise InputError(f"{path}:{n}: needs a 'title' or an 'id'")
            role = ROLE_MAP.get(str(obj.get("role") or ""))
            second = (obj.get("secondary") or []) if secondary else []
            if not isinstance(second, list) or any(s not in valid for s in second):
                raise InputError(f"{path}:{n}: 'secondary' must be a list of labels; valid: "
                                 f"{', '.join(taxonomy.label_ids)}")
            out.append(Example(id=str(pid) if pid else None, title=title, abstract=normalise_space(obj.get("abstract")),
                               label=label, role=role, sample=obj.get("sample"), line=n, source="file",
                               join_text=bool(pid) and "abstract" not in obj,
                               secondary=tuple(s for s in second if s != label)))
    return out


def default_corpus_path() -> Path | None:
    p = os.environ.get(CORPUS_ENV)
    if p and Path(p).exists():
        return Path(p)
    return None


def shared_training_inputs(shared: Path) -> tuple[list[Path], Path] | None:
    """(dev.jsonl + stream.jsonl, corpus) under a ../shared checkout, or None where any is missing:
    quality benchmarks run on them and skip cleanly on a machine without them."""
    labels = [shared / "labels" / "dev.jsonl", shared / "labels" / "stream.jsonl"]
    corpus = shared / "arxiv" / "corpus.jsonl.gz"
    return (labels, corpus) if all(p.exists() for p in [*labels, corpus]) else None


def read_corpus(path: Path, ids: set[str] | None = None) -> dict[str, tuple[str, str]]:
    """id -> (title, abstract) from a corpus JSON Lines file (gzip allowed), optionally only some ids."""
    opener = gzip.open if str(path).endswith(".gz") else open
    out = {}
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if ids is None or r["id"] in ids:
                out[r["id"]] = (normalise_space(r.get("title")), normalise_space(r.get("abstract")))
    return out


def taxonomy_examples(taxonomy: Taxonomy) -> list[Example]:
    return [Example(id=aid, title=title, abstract="", label=t.id, source="taxonomy")
            for t in taxonomy.types for aid, title in t.representative if title]


def pool_examples(corpus: dict[str, tuple[str, str]], exclude: Iterable[str], n: int, seed: int) -> list[Example]:
    """A seeded random sample of corpus papers as pseudo-negatives (most stream papers are not relevant)."""
    ex = set(exclude)
    ids = sorted(i for i in corpus if i not in ex)
    random.Random(seed).shuffle(ids)
    return [Example(id=i, title=corpus[i][0], abstract=corpus[i][1], label="not_relevant", source="pool")
            for i in ids[:n]]
