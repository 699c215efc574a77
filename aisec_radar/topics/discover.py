"""Emerging-topic discovery: cluster the AI-security papers that fit no type, and follow clusters over runs.

Why these choices:
- The pool is what the taxonomy misses: papers the curators labelled other_aisec, papers the
  classifier calls other_aisec, and in-taxonomy papers whose best type score is low. Papers a
  curator gave a type are explained already and stay out.
- Vectors are the plain encoder's by default (setting ``topics_encoder = "base"``), not the
  classifier's fine-tuned ones: fine-tuning on the eleven classes pulls each class together, which
  splits a new theme inside other_aisec (docs/classifier.md, "Session 6"). They live in the same
  embedding cache (content hash x model key); only papers without one are encoded, so a nightly run
  encodes just the night's pooled papers (``topics_encoder = "classifier"`` reuses classify's vectors
  and encodes nothing).
- HDBSCAN needs no number of clusters and leaves noise unclustered, which is what a stream of
  loosely related near misses needs; PCA to a few dozen dimensions first keeps it fast on 10^4 points.
- Key phrases are c-TF-IDF (a cluster's n-grams weighted against the whole pool): cheap, and they
  name what sets the cluster apart rather than what all AI-security papers share.
- Stable ids: a new cluster takes the id of the previous candidate it overlaps most (members, or
  centroid cosine when the window has slid past the old members), one-to-one (Hungarian). Members
  match across encoders; centroids only within one (two encoders' spaces are not comparable), so a
  change of encoder keeps the ids, and the dismissals, of every candidate still in the window.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import numpy as np

from aisec_radar.errors import ConfigError
from aisec_radar.store import connect, transaction
from aisec_radar.store import topics as st
from aisec_radar.store.runs import finish_run, start_run
from aisec_radar.taxonomy.loader import OUT_OF_TAXONOMY, Taxonomy

log = logging.getLogger(__name__)

Encoder = Callable[[list[str]], np.ndarray]

# Words every AI-security abstract uses; they never name a topic.
DOMAIN_STOP = {
    "model", "models", "method", "methods", "paper", "propose", "proposed", "proposes", "approach", "approaches",
    "results", "result", "show", "shows", "based", "using", "use", "used", "new", "novel", "existing", "work",
    "study", "framework", "performance", "experiments", "experimental", "demonstrate", "achieve", "achieves",
    "task", "tasks", "significantly", "state", "art", "effective", "effectiveness", "code", "available",
    "furthermore", "moreover", "however", "address", "challenge", "challenges", "problem", "extensive",
    "evaluate", "evaluation", "introduce", "paper propose", "present", "key", "various", "different", "settings",
}


NGRAM_BOOST = 2.0  # weight of multi-word phrases relative to single words in the key phrases


@dataclass
class DiscoveryParams:
    """Knobs of one discovery run; defaults suit a nightly run over the stream."""

    window_months: int = 6  # sliding window of paper dates ending at ``until``
    min_cluster_size: int = 8  # HDBSCAN: smallest group worth a curator's look
    min_samples: int | None = None  # HDBSCAN density; None = min(min_cluster_size, 3)
    min_membership: float = 0.8  # HDBSCAN membership strength a paper needs to count as a core member
    fit_threshold: float = 0.5  # in-taxonomy papers whose best type score is below this enter the pool
    pca_dims: int = 32
    max_cluster_share: float = 0.5  # a "cluster" holding more than this share of the pool is not a topic
    match_overlap: float = 0.3  # members shared with an old candidate (over the smaller) to keep its id
    match_cosine: float = 0.85  # or centroid cosine to keep its id
    n_phrases: int = 8
    n_representative: int = 5
    prototype_confidence: float = 0.8  # auto predictions at least this sure shape the type prototypes
    max_prototype_papers: int = 300


@dataclass
class DiscoveryResult:
    run_id: int
    window_start: date | None
    window_end: date | None
    pool: int
    encoded: int
    candidates: list[st.Snapshot] = field(default_factory=list)
    new: int = 0
    matched: int = 0
    followed_up: int = 0  # new members of merged/promoted candidates sent to review
    seconds: dict[str, float] = field(default_factory=dict)

    def counts(self) -> dict[str, Any]:
        return {"pool": self.pool, "encoded": self.encoded, "candidates": len(self.candidates), "new": self.new,
                "matched": self.matched, "followed_up": self.followed_up}


def month_key(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def window_bounds(until: date, months: int) -> tuple[date, date]:
    """First day of the month ``months - 1`` before ``until``'s month, and ``until``."""
    y, m = until.year, until.month - (months - 1)
    while m <= 0:
        m += 12
        y -= 1
    return date(y, m, 1), until


def months_between(start: date, end: date) -> list[str]:
    out, y, m = [], start.year, start.month
    while (y, m) <= (end.year, end.month):
        out.append(f"{y:04d}-{m:02d}")
        m += 1
        if m == 13:
            y, m = y + 1, 1
    return out


def in_pool(p: st.PoolPaper, fit_threshold: float) -> bool:
    """AI-security but explained by no type: the papers an emerging topic would be made of."""
    if p.curated is not None:
        return p.curated == ["other_aisec"]
    if p.relevance == "other_aisec":
        return True
    if p.relevance == "in_taxonomy":
        return max(p.type_scores.values(), default=0.0) < fit_threshold
    return False


def typed(p: st.PoolPaper, taxonomy: Taxonomy, min_conf: float) -> str | None:
    """The single type a paper clearly has (curated, or a confident auto prediction), for prototypes."""
    if p.curated is not None:
        types = [t for t in p.curated if t in taxonomy.type_ids]
        return types[0] if len(types) == 1 else None
    if p.relevance == "in_taxonomy" and p.pred_status == "auto" and p.type_scores:
        best = max(p.type_scores, key=p.type_scores.__getitem__)
        if p.type_scores[best] >= min_conf and best in taxonomy.type_ids:
            return best
    return None


def _normalise(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def cluster_vectors(x: np.ndarray, params: DiscoveryParams) -> np.ndarray:
    """HDBSCAN labels (-1 = noise) on PCA-reduced unit vectors; deterministic for the same input."""
    from sklearn.cluster import HDBSCAN
    from sklearn.decomposition import PCA

    n = len(x)
    if n < max(2 * params.min_cluster_size, 3):
        return np.full(n, -1, dtype=int)
    dims = min(params.pca_dims, x.shape[1], n - 1)
    z = PCA(n_components=dims, random_state=0, svd_solver="full" if n < 5000 else "randomized").fit_transform(x)
    z = _normalise(z)
    min_samples = params.min_samples or min(params.min_cluster_size, 3)
    model = HDBSCAN(min_cluster_size=params.min_cluster_size, min_samples=min_samples,
                    cluster_selection_method="eom", copy=True).fit(z)
    labels = model.labels_
    # A 'cluster' holding most of the pool is the pool itself, not a topic: re-cluster it with leaf selection.
    big = [c for c in set(labels) - {-1} if (labels == c).sum() > params.max_cluster_share * n]
    if big:
        model = HDBSCAN(min_cluster_size=params.min_cluster_size, min_samples=min_samples,
                        cluster_selection_method="leaf", copy=True).fit(z)
        labels = model.labels_
    # Keep the core: on small pools HDBSCAN lets unrelated papers ride along at the cluster's edge,
    # with low membership strength. A cluster whose core is too small is dropped.
    labels = np.where(model.probabilities_ >= params.min_membership, labels, -1)
    for c in set(labels.tolist()) - {-1}:
        if (labels == c).sum() < max(3, params.min_cluster_size // 2):
            labels[labels == c] = -1
    return labels


def key_phrases(docs: list[str], labels: np.ndarray, n: int, max_background: int = 2000) -> dict[int, list[str]]:
    """c-TF-IDF phrases per cluster label (noise counts as one more class, the background).

    The background is an evenly spaced sample of at most ``max_background`` unclustered papers: the
    n-gram count is the costly part on a wide pool, and a sample weighs common words just as well.
    """
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    clusters = sorted(set(labels.tolist()) - {-1})
    if not clusters:
        return {}
    noise = np.flatnonzero(labels == -1)
    if len(noise) > max_background:
        keep = np.sort(np.concatenate([np.flatnonzero(labels != -1),
                                       noise[np.linspace(0, len(noise) - 1, max_background).astype(int)]]))
        docs = [docs[i] for i in keep]
        labels = labels[keep]
    stop = sorted(ENGLISH_STOP_WORDS | DOMAIN_STOP)
    vec = CountVectorizer(ngram_range=(1, 3), stop_words=stop, min_df=2, max_features=60000,
                          token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z0-9\-]+\b", lowercase=True)
    try:
        counts = vec.fit_transform(docs)
    except ValueError:  # every term pruned (tiny pool)
        return {c: [] for c in clusters}
    terms = vec.get_feature_names_out()
    classes = clusters + [-1]
    rows = []
    for c in classes:
        mask = labels == c
        rows.append(np.asarray(counts[mask].sum(axis=0)).ravel() if mask.any() else np.zeros(len(terms)))
    m = np.vstack(rows).astype(np.float64)
    tf = m / np.maximum(m.sum(axis=1, keepdims=True), 1.0)
    avg_words = m.sum(axis=1).mean()
    idf = np.log(1.0 + avg_words / np.maximum(m.sum(axis=0), 1.0))
    scores = tf * idf
    # multi-word phrases name a topic better than single words but are rarer, so their raw weight is
    # lower; a fixed boost lets "agentic browsers" win over "web" when both describe the cluster
    n_words = np.asarray([len(str(t).split()) for t in terms])
    scores = scores * np.where(n_words > 1, NGRAM_BOOST, 1.0)
    out: dict[int, list[str]] = {}
    for i, c in enumerate(clusters):
        order = np.argsort(-scores[i])[: n * 6]
        chosen: list[str] = []
        for j in order:
            if scores[i, j] <= 0 or m[i, j] < 2:
                continue
            term = str(terms[j])
            words = term.split()
            if len(set(words)) < len(words):
                continue
            # one phrase per idea: skip a phrase whose words a chosen one already has ("tool calls agent"
            # after "agent tool calls"); a longer phrase replaces the shorter ones it contains
            ws = set(words)
            if any(ws <= set(c2.split()) for c2 in chosen):
                continue
            chosen = [c2 for c2 in chosen if not set(c2.split()) <= ws]
            chosen.append(term)
            if len(chosen) >= n:
                break
        out[c] = chosen
    return out


def match_clusters(new: list[tuple[np.ndarray, set[str]]], old: list[dict[str, Any]],
                   old_members: dict[str, list[str]], params: DiscoveryParams,
                   model: str | None = None) -> list[tuple[str | None, str, float]]:
    """For each new cluster: (old topic id or None, how, score), one-to-one over members and centroids.

    With ``model`` given, an old candidate stored under another encoder key is matched by members
    only: its centroid lives in another space, where a cosine means nothing.
    """
    if not new or not old:
        return [(None, "new", 0.0) for _ in new]
    from scipy.optimize import linear_sum_assignment

    oc = _normalise(np.asarray([np.asarray(o["centroid"], dtype=np.float32) for o in old]))
    nc = _normalise(np.asarray([c for c, _ in new]))
    same_space = np.asarray([model is None or o.get("model", model) == model for o in old])
    cos = np.where(same_space[None, :], nc @ oc.T, -1.0)
    overlap = np.zeros_like(cos)
    for i, (_, mem) in enumerate(new):
        for j, o in enumerate(old):
            om = set(old_members.get(o["topic_id"], []))
            if om and mem:
                overlap[i, j] = len(mem & om) / min(len(mem), len(om))
    eligible = (overlap >= params.match_overlap) | (cos >= params.match_cosine)
    score = np.where(eligible, overlap + cos, -1e6)
    rows, cols = linear_sum_assignment(-score)
    out: list[tuple[str | None, str, float]] = [(None, "new", 0.0) for _ in new]
    for i, j in zip(rows, cols, strict=True):
        if eligible[i, j]:
            how = "members" if overlap[i, j] >= params.match_overlap else "centroid"
            out[i] = (old[j]["topic_id"], how, float(overlap[i, j] if how == "members" else cos[i, j]))
    return out


TOPIC_ENCODERS = ("base", "classifier")


def topic_settings(settings: Any) -> Any:
    """The settings discovery encodes with: the classifier's, less its fine-tuned delta unless
    ``topics_encoder = "classifier"`` (same model folder and backend either way)."""
    choice = getattr(settings, "topics_encoder", "base")
    if choice not in TOPIC_ENCODERS:
        raise ConfigError(f"unknown topics_encoder '{choice}' (setting topics_encoder); valid: "
                          f"{', '.join(TOPIC_ENCODERS)}")
    return replace(settings, encoder_finetune="none") if choice == "base" else settings


def topic_model_key(settings: Any) -> str:
    """Embedding-cache key of discovery's vectors (the classifier's key when it shares its encoder)."""
    from aisec_radar.classify.encoder import encoder_model_key

    return encoder_model_key(topic_settings(settings))


def _default_encoder(settings: Any, progress: bool = False) -> Encoder:
    from aisec_radar.classify.encoder import encode_texts

    enc_settings = topic_settings(settings)
    return lambda texts: encode_texts(enc_settings, texts, progress=progress)


def _paper_text(title: str, abstract: str) -> str:
    from aisec_radar.classify.encoder import paper_text

    return paper_text(title, abstract)


def type_prototypes(db_path: str, papers: list[st.PoolPaper], vectors: dict[str, np.ndarray], taxonomy: Taxonomy,
                    model: str, encoder: Encoder | None, params: DiscoveryParams,
                    timeout: float = 60.0) -> tuple[dict[str, np.ndarray], int]:
    """One unit vector per type: the mean of its clearly-typed papers, else of its definition and examples.

    Returns (prototypes, texts encoded). Definition vectors are cached like paper vectors.
    """
    from aisec_radar.records import content_hash

    by_type: dict[str, list[np.ndarray]] = {}
    for p in sorted(papers, key=lambda p: (p.day or date.min), reverse=True):
        t = typed(p, taxonomy, params.prototype_confidence)
        if t is None or p.content_hash not in vectors:
            continue
        lst = by_type.setdefault(t, [])
        if len(lst) < params.max_prototype_papers:
            lst.append(vectors[p.content_hash])
    protos = {t: _normalise(np.mean(v, axis=0)) for t, v in by_type.items()}
    missing = [t for t in taxonomy.types if t.id not in protos]
    encoded = 0
    if missing:
        texts = {}
        for t in missing:
            texts[content_hash(t.name, t.definition)] = f"{t.name}. {t.definition}"
            for _aid, title in t.representative:
                texts[content_hash(title, "")] = title
        with connect(db_path, read_only=True, timeout=timeout) as con:
            cached = st.get_vectors(con, list(texts), model)
        todo = [h for h in texts if h not in cached]
        if todo and encoder is not None:
            vecs = np.asarray(encoder([texts[h] for h in todo]), dtype=np.float32)
            encoded = len(todo)
            with transaction(db_path, timeout=timeout) as con:
                st.put_vectors(con, model, todo, vecs)
            cached.update({h: vecs[i] for i, h in enumerate(todo)})
        for t in missing:
            keys = [content_hash(t.name, t.definition)] + [content_hash(title, "") for _a, title in t.representative]
            vs = [cached[k] for k in keys if k in cached]
            if vs:
                protos[t.id] = _normalise(np.mean(vs, axis=0))
    return protos, encoded


def discover_topics(settings: Any, taxonomy: Taxonomy, until: date | None = None,
                    params: DiscoveryParams | None = None, encoder: Encoder | None = None,
                    model: str | None = None, progress: bool = False) -> DiscoveryResult:
    """One discovery run over the window ending at ``until`` (default: the newest paper); stored as a run.

    ``encoder``/``model`` default to discovery's encoder and cache key from ``settings``
    (``topic_settings``); tests pass their own. Pool and prototype papers without a cached vector
    are encoded and cached (no connection is held while encoding). The run's candidates land in one
    transaction with the run record. ``progress`` shows a bar while the default encoder works (the
    first run on a database encodes its whole pool: a minute or two).
    """
    params = params or DiscoveryParams()
    db = settings.db_path
    timeout = getattr(settings, "lock_timeout", 60.0)
    model = model or topic_model_key(settings)
    secs: dict[str, float] = {}
    t0 = time.perf_counter()
    with connect(db, read_only=True, timeout=timeout) as con:
        papers = st.load_pool(con, None, None)
    days = [p.day for p in papers if p.day is not None]
    end = until or (max(days) if days else date.today())
    start, end = window_bounds(end, params.window_months)
    window = [p for p in papers if p.day is not None and start <= p.day <= end]
    pool = [p for p in window if in_pool(p, params.fit_threshold)]
    # the newest clearly-typed papers, at most max_prototype_papers per type (only their vectors are read)
    per_type: dict[str, int] = {}
    proto_papers = []
    for p in sorted(papers, key=lambda p: (p.day or date.min), reverse=True):
        t = typed(p, taxonomy, params.prototype_confidence)
        if t is not None and per_type.get(t, 0) < params.max_prototype_papers:
            per_type[t] = per_type.get(t, 0) + 1
            proto_papers.append(p)
    secs["load"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    # prototypes are only needed when candidates are possible, and so are their papers' vectors
    wants_protos = len(pool) >= 2 * params.min_cluster_size
    need = list({p.content_hash: p for p in pool + (proto_papers if wants_protos else [])}.values())
    with connect(db, read_only=True, timeout=timeout) as con:
        vectors = st.get_vectors(con, [p.content_hash for p in need], model)
    missing = [p for p in need if p.content_hash not in vectors]
    enc = encoder or _default_encoder(settings, progress)
    encoded = 0
    if missing:
        texts = [_paper_text(p.title, p.abstract) for p in missing]
        log.info("topic discovery: encoding %d papers (%d in the pool) under %s", len(missing),
                 sum(1 for p in pool if p.content_hash not in vectors), model)
        vecs = np.asarray(enc(texts), dtype=np.float32)
        encoded = len(missing)
        hashes = [p.content_hash for p in missing]
        with transaction(db, timeout=timeout) as con:
            st.put_vectors(con, model, hashes, vecs)
        vectors.update({h: vecs[i] for i, h in enumerate(hashes)})
    protos: dict[str, np.ndarray] = {}
    if wants_protos:
        protos, enc_protos = type_prototypes(db, proto_papers, vectors, taxonomy, model, enc, params, timeout)
        encoded += enc_protos
    secs["vectors"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    x = _normalise(np.asarray([vectors[p.content_hash] for p in pool], dtype=np.float32)) if pool else \
        np.zeros((0, 1), dtype=np.float32)
    labels = cluster_vectors(x, params) if len(pool) else np.zeros(0, dtype=int)
    secs["cluster"] = time.perf_counter() - t2
    t3 = time.perf_counter()
    docs = [f"{p.title}. {p.abstract}" for p in pool]
    phrases = key_phrases(docs, labels, params.n_phrases) if len(pool) else {}
    secs["phrases"] = time.perf_counter() - t3

    t4 = time.perf_counter()
    clusters = sorted(set(labels.tolist()) - {-1})
    months = months_between(start, end)
    proto_ids = sorted(protos)
    pmat = np.asarray([protos[t] for t in proto_ids]) if proto_ids else None
    built = []
    for c in clusters:
        idx = np.flatnonzero(labels == c)
        centroid = _normalise(x[idx].mean(axis=0))
        sims = x[idx] @ centroid
        order = idx[np.argsort(-sims)]
        members = [(pool[i].arxiv_id, float(x[i] @ centroid)) for i in order]
        counts = {mo: 0 for mo in months}
        for i in idx:
            counts[month_key(pool[i].day)] = counts.get(month_key(pool[i].day), 0) + 1
        # Growth over rolling 30-day periods ending at the window's end, not calendar months: the
        # newest month is usually partial (a nightly run on the 3rd), which would read as a collapse.
        ages = [(end - pool[i].day).days for i in idx]
        last = sum(1 for a in ages if 0 <= a < 30)
        prev = sum(1 for a in ages if 30 <= a < 60)
        growth = (last - prev) / max(prev, 1)
        type_sims: dict[str, float] = {}
        nearest, nearest_sim = None, None
        if pmat is not None:
            s = pmat @ centroid
            type_sims = {t: round(float(v), 4) for t, v in zip(proto_ids, s, strict=True)}
            k = int(np.argmax(s))
            nearest, nearest_sim = proto_ids[k], float(s[k])
        built.append(dict(centroid=centroid, members=members, counts=counts, growth=growth, type_sims=type_sims,
                          nearest=nearest, nearest_sim=nearest_sim, phrases=phrases.get(c, []),
                          reps=[a for a, _ in members[: params.n_representative]]))

    result = DiscoveryResult(run_id=0, window_start=start, window_end=end, pool=len(pool), encoded=encoded)
    with transaction(db, timeout=timeout) as con:
        run_id = start_run(con, "topics")
        old = st.list_candidates(con)  # every encoder's: members match across encoders, centroids within one
        old_members = st.last_members(con, [o["topic_id"] for o in old])
        matches = match_clusters([(b["centroid"], {a for a, _ in b["members"]}) for b in built], old, old_members,
                                 params, model=model)
        old_by_id = {o["topic_id"]: o for o in old}
        snaps = []
        for b, (tid, how, score) in zip(built, matches, strict=True):
            if tid is None:
                tid = st.new_topic_id(con)
                result.new += 1
            else:
                result.matched += 1
            snaps.append(st.Snapshot(
                topic_id=tid, size=len(b["members"]), centroid=b["centroid"], members=b["members"],
                key_phrases=b["phrases"], monthly_counts=b["counts"], growth=b["growth"], nearest_type=b["nearest"],
                nearest_sim=b["nearest_sim"], type_sims=b["type_sims"], representative=b["reps"], matched_by=how,
                match_score=score, window_start=start, window_end=end))
        st.save_snapshots(con, run_id, model, snaps)
        # Candidates a curator merged or promoted keep collecting papers: send the new ones to review too.
        for s in snaps:
            o = old_by_id.get(s.topic_id)
            if o and o["status"] in ("merged", "promoted") and o["target"]:
                done = {x["arxiv_id"] for x in st.suggestions(con, ref=s.topic_id)}
                for aid, sim in s.members:
                    if aid not in done:
                        st.queue_suggestion(con, aid, [o["target"]], reason=f"topic-{o['status'][:-1]}",
                                            ref=s.topic_id, taxonomy_version=o["target_version"] or taxonomy.version,
                                            priority=sim, note=f"new member of candidate {s.topic_id}")
                        result.followed_up += 1
        result.run_id = run_id
        result.candidates = snaps
        secs["store"] = time.perf_counter() - t4
        secs["total"] = time.perf_counter() - t0
        result.seconds = {k: round(v, 3) for k, v in secs.items()}
        finish_run(con, run_id, "ok", {**result.counts(), "seconds": result.seconds})
    log.info("topic discovery run %d: %s", run_id, result.counts())
    return result


def nightly_step(settings: Any, taxonomy: Taxonomy, params: DiscoveryParams | None = None,
                 progress: bool = False) -> dict[str, Any]:
    """One discovery run for the nightly job, after classify; returns counts for the run record.

    Topic discovery is advisory: a failure here (no papers yet, a locked file, an encoder problem) must
    not fail the night's crawl and classification, so it comes back as {"error": ...} instead of raising
    (the error is logged too).
    """
    from aisec_radar.errors import AisecRadarError

    try:
        res = discover_topics(settings, taxonomy, params=params, progress=progress)
    except (AisecRadarError, ValueError, OSError) as exc:
        log.warning("topic discovery skipped: %s", exc)
        return {"error": str(exc)}
    return {**res.counts(), "run_id": res.run_id, "seconds": res.seconds.get("total")}


__all__ = ["DiscoveryParams", "DiscoveryResult", "discover_topics", "in_pool", "nightly_step", "topic_model_key",
           "topic_settings", "OUT_OF_TAXONOMY"]
