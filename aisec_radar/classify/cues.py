"""Cue-phrase matcher: the taxonomy's cues found in a text, on lemmas, as features and explanations.

spaCy's PhraseMatcher on the LEMMA attribute of a blank English pipeline with lookup lemmas
(spacy-lookups-data). The full en_core_web_sm pipeline loads too, but tagging costs about as much
as the encoder itself (24 docs/s), which would halve classify throughput; lookup lemmas cost ~1 ms
per abstract. Lookup lemmas miss some plurals ("backdoors"), so every cue is also added with a
plural -s on its last word (cheaper than fixing lemmas token by token); cues go through the same
pipeline as the texts, so both sides agree.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from aisec_radar.taxonomy.loader import Taxonomy

_NLP: Any = None
_NLP_LOCK = threading.Lock()


def _fold(text: str) -> str:
    """Lowercase and read hyphens as spaces, so "model-stealing" meets the cue "model stealing"."""
    return text.lower().replace("-", " ")


def get_nlp() -> Any:
    """The blank English pipeline with lookup lemmas, built once per process."""
    global _NLP
    with _NLP_LOCK:
        if _NLP is None:
            import spacy

            nlp = spacy.blank("en")
            nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
            nlp.initialize()
            _NLP = nlp
    return _NLP


class CueMatcher:
    """Matches every type's cues (plus other_aisec's) and turns matches into a feature vector."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        from spacy.matcher import PhraseMatcher

        self.nlp = get_nlp()
        self.labels = [t.id for t in taxonomy.types] + ["other_aisec"]
        self.matcher = PhraseMatcher(self.nlp.vocab, attr="LEMMA")
        self.phrases: dict[str, set[str]] = {}
        for label in self.labels:
            cues = taxonomy.type(label).cues
            if not cues:
                continue
            base = [_fold(c) for c in cues]
            variants = base + [c + "s" for c in base if not c.endswith("s")]
            self.matcher.add(label, list(self.nlp.pipe(variants)))

    def analyse(self, texts: list[str], with_terms: bool = True) -> tuple[list[dict[str, list[str]]], list[list[str]]]:
        """Per text: the cue matches (label -> distinct phrases as they appear, lowercased) and the
        lemma terms (unigrams and bigrams of alphabetic lemmas) for the bag-of-words features."""
        matches, terms = [], []
        for doc in self.nlp.pipe([_fold(t) for t in texts], batch_size=256):
            found: dict[str, list[str]] = {}
            for match_id, start, end in self.matcher(doc):
                label = self.nlp.vocab.strings[match_id]
                phrase = doc[start:end].text
                lst = found.setdefault(label, [])
                if phrase not in lst:
                    lst.append(phrase)
            matches.append(found)
            if not with_terms:
                terms.append([])
                continue
            lemmas = [t.lemma_ for t in doc if t.is_alpha and len(t.text) > 1 and not t.is_stop]
            terms.append(lemmas + [f"{a} {b}" for a, b in zip(lemmas, lemmas[1:], strict=False)])
        return matches, terms

    def match(self, texts: list[str]) -> list[dict[str, list[str]]]:
        """Per text: label -> the distinct cue phrases found (as they appear in the text, lowercased)."""
        return self.analyse(texts)[0]

    def features(self, matches: list[dict[str, list[str]]], labels: tuple[str, ...] | list[str] | None = None
                 ) -> np.ndarray:
        """log1p(number of distinct cues matched) per label (in `labels` order, default this taxonomy's):
        bounded, so one cue-heavy text cannot dominate."""
        labels = list(labels) if labels is not None else self.labels
        x = np.zeros((len(matches), len(labels)), dtype=np.float32)
        for i, m in enumerate(matches):
            for j, label in enumerate(labels):
                if label in m:
                    x[i, j] = np.log1p(len(m[label]))
        return x


def build_vocab(term_lists: list[list[str]], min_df: int = 3, max_terms: int = 4000) -> tuple[list[str], np.ndarray]:
    """Vocabulary (most frequent terms by document frequency, ties by name) and smoothed idf."""
    df: dict[str, int] = {}
    for terms in term_lists:
        for t in set(terms):
            df[t] = df.get(t, 0) + 1
    kept = sorted((t for t, n in df.items() if n >= min_df), key=lambda t: (-df[t], t))[:max_terms]
    kept.sort()
    n = len(term_lists)
    idf = np.array([np.log((1 + n) / (1 + df[t])) + 1.0 for t in kept], dtype=np.float32)
    return kept, idf


def bow_matrix(term_lists: list[list[str]], vocab: list[str] | tuple[str, ...], idf: np.ndarray) -> np.ndarray:
    """Sublinear tf-idf rows, L2-normalised (the usual text-classification weighting)."""
    index = {t: j for j, t in enumerate(vocab)}
    x = np.zeros((len(term_lists), len(vocab)), dtype=np.float32)
    for i, terms in enumerate(term_lists):
        counts: dict[int, int] = {}
        for t in terms:
            j = index.get(t)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        for j, c in counts.items():
            x[i, j] = (1.0 + np.log(c)) * idf[j]
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)
