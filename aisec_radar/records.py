"""Plain records shared by the stages.

Stages (crawler, classify, dashboard, jobs) meet only here and in the store: these dataclasses
carry no I/O and import nothing heavy, so every stage can depend on them cheaply.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime

_WS = re.compile(r"\s+")
_VERSIONED_ID = re.compile(r"^(?P<base>.+?)(?:v(?P<version>\d+))?$")


def normalise_space(text: str | None) -> str:
    """Collapse the hard wraps and indents of legacy feeds so text compares equal across formats.

    Same result as ``re.sub(r"\\s+", " ", text).strip()`` for every code point (str.split and re's \\s
    agree on what is whitespace), about 3x faster: the crawler runs it on every title and abstract.
    """
    return " ".join((text or "").split())


def split_arxiv_id(raw: str) -> tuple[str, int | None]:
    """Turn 'http://arxiv.org/abs/2401.01234v3' or 'oai:arXiv.org:2401.01234' into ('2401.01234', 3)."""
    s = raw.strip()
    for prefix in ("oai:arXiv.org:", "http://arxiv.org/abs/", "https://arxiv.org/abs/", "arXiv:", "arxiv:"):
        if s.startswith(prefix):
            s = s[len(prefix) :]
    m = _VERSIONED_ID.match(s)
    assert m is not None  # the pattern matches any non-empty string
    version = m.group("version")
    return m.group("base"), int(version) if version else None


def content_hash(title: str, abstract: str | None) -> str:
    """Key of the embedding cache: a new version with the same text must hash the same."""
    text = normalise_space(title) + "\n" + normalise_space(abstract)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass
class PaperVersion:
    version: int
    submitted: datetime | None = None
    size: str | None = None


@dataclass
class Paper:
    """One arXiv paper as the crawler sees it (latest version)."""

    arxiv_id: str  # without version, e.g. "2401.01234" or "cs/0112017"
    title: str
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)  # primary first
    primary_category: str | None = None
    published: date | None = None  # v1 submission date
    updated: date | None = None  # latest version's date
    version: int | None = None
    versions: list[PaperVersion] = field(default_factory=list)
    doi: str | None = None
    comment: str | None = None

    @property
    def content_hash(self) -> str:
        return content_hash(self.title, self.abstract)

    @property
    def is_cross_list(self) -> bool:
        """True when the paper was pulled in by a category that is not its primary one."""
        return bool(self.categories) and self.primary_category != self.categories[0]


@dataclass
class Prediction:
    """What the classifier says about one paper under one model and taxonomy version."""

    arxiv_id: str
    model_version: str
    taxonomy_version: str
    relevance: str  # "in_taxonomy" | "other_aisec" | "not_relevant"
    type_scores: dict[str, float]  # calibrated probability per type id
    labels: list[str]  # assigned type ids (empty unless relevance == in_taxonomy)
    role: str | None
    modality: str | None
    confidence: float
    status: str  # "auto" | "needs_review"
    review_priority: float = 0.0
    explanation: dict = field(default_factory=dict)  # {"cues": {type: [phrases]}, "neighbours": [...]}
    content_hash: str | None = None


@dataclass
class Label:
    """A curator's decision. Append-only in the store: the latest per paper wins, history is kept."""

    arxiv_id: str
    types: list[str]  # type ids, or ["other_aisec"] / ["not_relevant"]
    curator: str
    role: str | None = None
    modality: str | None = None
    note: str | None = None
    source: str = "cli"  # cli | dashboard | import | taxonomy-migration | ...
    created_at: datetime | None = None
    taxonomy_version: str | None = None


@dataclass
class RunCounts:
    """Counts a run reports; kept as a dict in the store so stages can add their own keys."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n
