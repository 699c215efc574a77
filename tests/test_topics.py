"""Emerging-topic discovery on a constructed store: a new family appears, grows and keeps its id.

Vectors are constructed (a family direction plus noise, background spread over the sphere) so the
test runs in seconds without the encoder; test_topics_real.py runs the real encoder on real papers.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from aisec_radar.config import Settings
from aisec_radar.errors import InputError, TaxonomyError
from aisec_radar.records import Label, Paper
from aisec_radar.store import connect, transaction
from aisec_radar.store import topics as st
from aisec_radar.store.labels import add_label
from aisec_radar.store.papers import upsert_papers
from aisec_radar.taxonomy import load_taxonomy
from aisec_radar.topics import DiscoveryParams, discover_topics, dismiss, merge, promote, reopen
from aisec_radar.topics.discover import in_pool, key_phrases, match_clusters, window_bounds

DIM = 384
MODEL = "test-vectors"
FAMILY_PER_MONTH = {1: 3, 2: 6, 3: 10, 4: 16}  # the new family grows month over month
WORDS = ("robustness certified smoothing unlearning deepfake detection federated differential privacy fairness "
         "evasion adversarial training perturbation transfer benchmark audit distillation explanation shift "
         "calibration uncertainty graph vision speech tabular clustering retrieval ranking compression").split()


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def _build(db_path, rng: np.random.Generator, months: range = range(1, 5), model: str = MODEL) -> dict[str, list[str]]:
    """Papers, curator labels and vectors: background other_aisec noise, a steady theme, typed papers, a family."""
    tax = load_taxonomy()
    family_dir = _unit(rng.normal(size=DIM))
    steady_dir = _unit(rng.normal(size=DIM))
    type_dirs = {t: _unit(rng.normal(size=DIM)) for t in tax.type_ids}
    papers, labels, vecs = [], [], {}
    ids: dict[str, list[str]] = {"family": [], "steady": [], "background": []}
    n = 0

    def add(kind: str, month: int, title: str, abstract: str, vec: np.ndarray, types: list[str]) -> None:
        nonlocal n
        n += 1
        aid = f"26{month:02d}.{n:05d}"
        p = Paper(arxiv_id=aid, title=title, abstract=abstract, published=date(2026, month, 1 + n % 27))
        papers.append(p)
        labels.append(Label(arxiv_id=aid, types=types, curator="ana", taxonomy_version=tax.version))
        vecs[p.content_hash] = vec
        if kind in ids:
            ids[kind].append(aid)

    for month in months:
        for _ in range(FAMILY_PER_MONTH[month]):
            add("family", month, f"Agent hijacking through poisoned tool descriptions {n}",
                "We hijack LLM agents: malicious tool descriptions redirect the agent's tool calls. "
                "Agent hijacking succeeds against tool-using agents; " + " ".join(rng.choice(WORDS, 6)),
                _unit(family_dir + rng.normal(scale=0.035, size=DIM)), ["other_aisec"])
        for _ in range(6):
            add("steady", month, f"Certified robustness of randomized smoothing {n}",
                "Randomized smoothing certificates for certified robustness; " + " ".join(rng.choice(WORDS, 6)),
                _unit(steady_dir + rng.normal(scale=0.035, size=DIM)), ["other_aisec"])
        for _ in range(30):
            add("background", month, "Study of " + " ".join(rng.choice(WORDS, 3)),
                " ".join(rng.choice(WORDS, 25)), _unit(rng.normal(size=DIM)), ["other_aisec"])
        for t, d in type_dirs.items():
            add("typed", month, f"A {t} paper {n}", f"About {t}.", _unit(d + rng.normal(scale=0.03, size=DIM)), [t])
    with transaction(db_path) as con:
        upsert_papers(con, papers)
        for lab in labels:
            add_label(con, lab)
        st.put_vectors(con, model, list(vecs), np.asarray(list(vecs.values())))
    ids["family_dir"] = family_dir  # type: ignore[assignment]
    ids["type_dirs"] = type_dirs  # type: ignore[assignment]
    return ids


def _no_encoder(texts: list[str]) -> np.ndarray:
    raise AssertionError(f"discovery encoded {len(texts)} text(s) although every vector is cached")


@pytest.fixture
def settings(db_path) -> Settings:
    return replace(Settings(), db_path=str(db_path))


def _run(settings: Settings, until: date, **kw):
    return discover_topics(settings, load_taxonomy(), until=until, encoder=_no_encoder, model=MODEL,
                           params=DiscoveryParams(min_cluster_size=8, **kw))


def _family_candidate(result, family: set[str]):
    best = max(result.candidates, key=lambda s: len(family & {a for a, _ in s.members}))
    return best, len(family & {a for a, _ in best.members})


def test_new_family_appears_grows_and_keeps_its_id(db_path, settings) -> None:
    """Evidence (issue 7, test 1)."""
    ids = _build(db_path, np.random.default_rng(7))
    family = set(ids["family"])
    ends = [date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30)]
    seen = []
    for end in ends:
        res = _run(settings, end)
        assert res.encoded == 0
        cand, hits = _family_candidate(res, family)
        in_window = {a for a in family if a[2:4] <= f"{end.month:02d}"}
        assert hits >= 0.8 * len(in_window)  # the family is found ...
        assert len({a for a, _ in cand.members} - family) <= 1  # ... and not much else joins it
        seen.append((res, cand))
    topic_ids = [c.topic_id for _, c in seen]
    assert len(set(topic_ids)) == 1, topic_ids  # same id in every run
    sizes = [c.size for _, c in seen]
    assert sizes[0] < sizes[1] < sizes[2]
    assert [c.matched_by for _, c in seen] == ["new", "members", "members"]
    last = seen[-1][1]
    assert last.growth > 0 and last.monthly_counts["2026-04"] > last.monthly_counts["2026-03"] > 0
    assert any("hijack" in p for p in last.key_phrases), last.key_phrases
    assert last.nearest_type in load_taxonomy().type_ids and len(last.type_sims) == 9
    assert len(last.representative) == 5 and set(last.representative) <= family

    # the steady theme is a second candidate with its own stable id; the noise forms none of note
    steady = set(ids["steady"])
    steady_ids = {max(r.candidates, key=lambda s: len(steady & {a for a, _ in s.members})).topic_id for r, _ in seen}
    assert len(steady_ids) == 1 and steady_ids != set(topic_ids)

    with connect(db_path, read_only=True) as con:
        hist = st.size_history(con, topic_ids[0])
        rows = st.candidate_rows(con)
        runs = con.execute("SELECT count(*) FROM runs WHERE kind = 'topics' AND status = 'ok'").fetchone()[0]
    assert [h[2] for h in hist] == sizes and runs == 3
    row = next(r for r in rows if r["topic_id"] == topic_ids[0])
    assert row["runs_seen"] == 3 and row["size"] == sizes[-1]


def test_curator_actions(db_path, settings, tmp_path) -> None:
    _build(db_path, np.random.default_rng(3), months=range(1, 4))
    res = _run(settings, date(2026, 3, 31))
    fam = max(res.candidates, key=lambda s: s.size)
    other = [s for s in res.candidates if s.topic_id != fam.topic_id][0]
    tax = load_taxonomy()

    with pytest.raises(TaxonomyError, match="not a type"):
        merge(db_path, other.topic_id, "agents", tax, curator="ana")
    with pytest.raises(InputError, match="no topic candidate 'T9999'"):
        dismiss(db_path, "T9999", curator="ana")

    r = merge(db_path, other.topic_id, "poisoning", tax, curator="ana", note="really backdoors")
    assert r.queued == other.size
    with connect(db_path, read_only=True) as con:
        sug = st.suggestions(con, reason="topic-merge", ref=other.topic_id, open_only=True)
        queue = con.execute("SELECT arxiv_id, labels, status, model_version FROM current_predictions "
                            "WHERE status = 'needs_review'").fetchall()
    assert {s["arxiv_id"] for s in sug} == {a for a, _ in other.members}
    assert {q[0] for q in queue} == {a for a, _ in other.members}
    assert all(q[1] == ["poisoning"] and q[3] == f"suggestion:topic-merge:{other.topic_id}" for q in queue)
    with pytest.raises(InputError, match="already merged into poisoning"):
        dismiss(db_path, other.topic_id, curator="ana")

    p = promote(db_path, fam.topic_id, "agent_hijacking", None, curator="ana", name="Agent hijacking",
                out_path=tmp_path / "tax.yaml")
    assert p.taxonomy_version == "2026.2" and p.queued == fam.size
    new_tax = load_taxonomy(tmp_path / "tax.yaml")
    assert "agent_hijacking" in new_tax.type_ids
    assert new_tax.axis_of("agent_hijacking") == tax.axis_of(fam.nearest_type)
    assert new_tax.type("agent_hijacking").cues  # key phrases became cues
    assert p.migrated_labels and p.migrated_labels > 0  # every label in force now carries 2026.2
    with connect(db_path, read_only=True) as con:
        from aisec_radar.store import queries

        queued_ids = {q["arxiv_id"] for q in queries.review_queue(con, limit=1000)}
    # the promoted members are in the dashboard's queue although their labels were migrated afterwards
    assert {a for a, _ in fam.members} <= queued_ids and {a for a, _ in other.members} <= queued_ids

    with connect(db_path, read_only=True) as con:
        cands = {c["topic_id"]: c for c in st.list_candidates(con)}
        acts = st.actions(con)
    assert cands[fam.topic_id]["status"] == "promoted" and cands[fam.topic_id]["target_version"] == "2026.2"
    assert [a["action"] for a in acts] == ["merge", "promote"]

    # a later run keeps ids, hides acted-on candidates from the open list, and queues new members of merged ones
    res2 = _run(settings, date(2026, 3, 31))
    assert fam.topic_id in {s.topic_id for s in res2.candidates}
    assert res2.followed_up == 0  # same members: nothing new to queue
    with connect(db_path, read_only=True) as con:
        open_ids = {r["topic_id"] for r in st.candidate_rows(con)}
    assert fam.topic_id not in open_ids and other.topic_id not in open_ids

    third = [s for s in res.candidates if s.topic_id not in (fam.topic_id, other.topic_id)]
    if third:
        dismiss(db_path, third[0].topic_id, curator="ana")
        reopen(db_path, third[0].topic_id, curator="ana")


def test_in_pool_rules() -> None:
    mk = lambda **kw: st.PoolPaper(arxiv_id="x", title="t", abstract="", content_hash="h", day=None, **kw)  # noqa: E731
    assert in_pool(mk(relevance="other_aisec"), 0.5)
    assert in_pool(mk(relevance="in_taxonomy", type_scores={"jailbreak": 0.3}), 0.5)
    assert not in_pool(mk(relevance="in_taxonomy", type_scores={"jailbreak": 0.9}), 0.5)
    assert not in_pool(mk(relevance="not_relevant"), 0.5)
    assert not in_pool(mk(relevance="other_aisec", curated=["jailbreak"]), 0.5)  # the curator wins
    assert in_pool(mk(relevance="not_relevant", curated=["other_aisec"]), 0.5)


def test_window_and_matching_units() -> None:
    assert window_bounds(date(2026, 3, 15), 6) == (date(2025, 10, 1), date(2026, 3, 15))
    params = DiscoveryParams()
    c = _unit(np.ones(4))
    old = [{"topic_id": "T0001", "centroid": c}, {"topic_id": "T0002", "centroid": _unit(np.array([1, -1, 0, 0]))}]
    members = {"T0001": ["a", "b", "c"], "T0002": ["x", "y"]}
    got = match_clusters([(_unit(np.array([1, -1, 0.1, 0])), {"q"}), (c, {"a", "b", "z"}),
                          (_unit(np.array([0, 0, 1, -1])), {"r"})], old, members, params)
    assert got[0][:2] == ("T0002", "centroid") and got[1][:2] == ("T0001", "members") and got[2][0] is None
    # old candidates of another encoder: members still match, a centroid (another space) does not
    other = [{**o, "model": "enc-a"} for o in old]
    got = match_clusters([(_unit(np.array([1, -1, 0.1, 0])), {"q"}), (c, {"a", "b", "z"})], other, members, params,
                         model="enc-b")
    assert got[0][0] is None and got[1][:2] == ("T0001", "members")
    assert match_clusters([(c, {"q"})], other, members, params, model="enc-a")[0][:2] == ("T0001", "centroid")
    labels = np.array([0, 0, 0, -1, -1, 1, 1, 1])
    docs = ["agent hijacking tool"] * 3 + ["noise words here", "other noise words"] + ["smoothing certificate"] * 3
    ph = key_phrases(docs, labels, 3)
    assert ph[0][0] == "agent hijacking tool" and ph[1][0] == "smoothing certificate"


def test_encoder_switch_keeps_topic_ids_and_dismissals(db_path, settings) -> None:
    """Switching discovery's encoder (a new cache key, vectors in another space) keeps the ids of the
    candidates still in the window, by their members, and a dismissed one stays dismissed."""
    ids = _build(db_path, np.random.default_rng(11), months=range(1, 4))
    first = _run(settings, date(2026, 3, 31))
    fam, fam_hits = _family_candidate(first, set(ids["family"]))
    assert fam_hits >= 0.8 * len(ids["family"])
    dropped = [s for s in first.candidates if s.topic_id != fam.topic_id]
    assert dropped, "the constructed store should give a second candidate (the steady theme)"
    dismiss(db_path, dropped[0].topic_id, curator="ana")

    # the same papers under another encoder: a random rotation of every vector (no cosine carries over)
    rot, _ = np.linalg.qr(np.random.default_rng(12).normal(size=(DIM, DIM)))
    with connect(db_path, read_only=True) as con:
        hashes = [r[0] for r in con.execute("SELECT content_hash FROM embeddings WHERE model = ?", [MODEL]).fetchall()]
        vecs = st.get_vectors(con, hashes, MODEL)
    with transaction(db_path) as con:
        st.put_vectors(con, "test-vectors-rotated", hashes, np.asarray([vecs[h] @ rot for h in hashes], np.float32))
    second = discover_topics(settings, load_taxonomy(), until=date(2026, 3, 31), encoder=_no_encoder,
                             model="test-vectors-rotated", params=DiscoveryParams(min_cluster_size=8))
    assert second.new == 0 and second.matched == len(first.candidates)
    by_id = {s.topic_id: s for s in second.candidates}
    assert by_id[fam.topic_id].matched_by == "members"
    assert {s.matched_by for s in second.candidates} == {"members"}
    with connect(db_path, read_only=True) as con:
        cands = {c["topic_id"]: c for c in st.list_candidates(con)}
    assert cands[dropped[0].topic_id]["status"] == "dismissed"  # the curator's decision survives the switch
    assert {c["model"] for c in cands.values()} == {"test-vectors-rotated"}  # centroids now in the new space
    # the stored centroid is the new space's, so later runs can match by centroid again
    assert np.allclose(np.asarray(cands[fam.topic_id]["centroid"]), by_id[fam.topic_id].centroid, atol=1e-5)


def test_topic_encoder_setting() -> None:
    """Discovery reads the plain encoder by default (its own cache key); 'classifier' shares classify's."""
    from aisec_radar.classify.encoder import encoder_model_key
    from aisec_radar.errors import ConfigError
    from aisec_radar.topics import topic_model_key

    s = Settings()
    assert topic_model_key(s) == encoder_model_key(replace(s, encoder_finetune="none")) == "all-MiniLM-L6-v2@torch"
    assert topic_model_key(replace(s, topics_encoder="classifier")) == encoder_model_key(s)
    assert "+ft-" in encoder_model_key(s)  # the classifier's vectors are the shipped fine-tune's: not shared
    assert topic_model_key(replace(s, encoder_backend="hybrid")) == "all-MiniLM-L6-v2@hybrid"
    with pytest.raises(ConfigError, match="topics_encoder 'plain'.*base, classifier"):
        topic_model_key(replace(s, topics_encoder="plain"))


def test_cli_end_to_end(db_path, tmp_path) -> None:
    """The commands a curator types: discover, list, show, merge, promote, taxonomy show/diff/migrate."""
    import json

    from click.testing import CliRunner

    from aisec_radar.cli import app
    from aisec_radar.topics import topic_model_key

    _build(db_path, np.random.default_rng(5), months=range(1, 4), model=topic_model_key(Settings()))
    cfg = tmp_path / "empty.toml"  # not ./aisec-radar.toml, whatever the working directory holds
    cfg.write_text("")

    def run(*args: str):
        return CliRunner().invoke(app, ["--config", str(cfg), *args, "--db", str(db_path)], catch_exceptions=False)

    r = run("topics")
    assert r.exit_code == 0 and "no discovery run yet" in r.output, r.output
    r = run("topics", "discover", "--until", "2026-03-31", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["encoded"] == 0 and out["new"] >= 2
    listed = json.loads(run("topics", "--json").output)
    by_size = sorted(out["candidates"], key=lambda c: -c["size"])
    assert [c["topic_id"] for c in listed] == [c["topic_id"] for c in by_size]
    big, second = listed[0]["topic_id"], listed[1]["topic_id"]
    r = run("topics")
    assert big in r.output and "nearest" in r.output
    r = run("topics", "show", big)
    assert r.exit_code == 0 and "run " in r.output, r.output
    r = run("topics", "merge", second, "--into", "jailbreak", "--curator", "ana")
    assert r.exit_code == 0 and "queued for review" in r.output, r.output
    r = CliRunner().invoke(app, ["--config", str(cfg), "topics", "merge", second, "--into", "nope",
                                 "--db", str(db_path)])
    assert r.exit_code == 2 and "not a type" in r.output
    r = CliRunner().invoke(app, ["--config", str(cfg), "topics", "dismiss", "T9999", "--db", str(db_path)])
    assert r.exit_code == 2 and "no topic candidate" in r.output
    yml = tmp_path / "v2.yaml"
    r = run("topics", "promote", big, "--name", "agent_hijacking", "--title", "Agent hijacking", "--out", str(yml))
    assert r.exit_code == 0 and "2026.2" in r.output and yml.exists(), r.output
    r = run("taxonomy", "show")
    assert "2026.1" in r.output and "2026.2" in r.output
    r = run("taxonomy", "diff", "2026.1", "2026.2")
    assert "add    agent_hijacking" in r.output
    changes = tmp_path / "changes.yaml"
    changes.write_text("note: split jailbreak\nchanges:\n  - split:\n      from: jailbreak\n      into:\n"
                       "        - {id: text_jailbreak, definition: text}\n"
                       "        - {id: visual_jailbreak, definition: images}\n")
    r = run("taxonomy", "new-version", str(changes), "--base", "2026.2", "--out", str(tmp_path / "v3.yaml"))
    assert r.exit_code == 0 and "2026.3" in r.output, r.output
    r = run("taxonomy", "migrate-labels", "--to", "2026.3", "--dry-run", "--json")
    dry = json.loads(r.output)
    assert dry["dry_run"] and dry["queued"] > 0 and dry["migrated"] > 0
    r = run("taxonomy", "migrate-labels", "--to", "2026.3", "--json")
    assert json.loads(r.output)["queued"] == dry["queued"]
    r = run("taxonomy", "counts", "--under", "2026.3")
    assert r.exit_code == 0 and "(undecided split/merge)" in r.output, r.output  # split labels not yet decided
    r = run("taxonomy", "diff", "2026.3", "2026.1")
    assert "split  jailbreak -> text_jailbreak, visual_jailbreak" in r.output


def test_nightly_step_reports_instead_of_raising(db_path, settings) -> None:
    from aisec_radar.topics import nightly_step

    out = nightly_step(replace(settings, db_path=str(db_path.parent / "missing" / "x.duckdb")), load_taxonomy())
    assert "error" in out and "does not exist" in out["error"]
    out = nightly_step(settings, load_taxonomy())  # empty store: a run with an empty pool
    assert out["pool"] == 0 and out["candidates"] == 0
