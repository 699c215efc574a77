"""Taxonomy versions: changes produce a valid YAML + explicit mapping; labels migrate or are queued, never lost."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import yaml

from aisec_radar.errors import TaxonomyError
from aisec_radar.records import Label, Paper
from aisec_radar.store import connect, transaction
from aisec_radar.store.labels import add_label, label_history, latest_labels
from aisec_radar.store.papers import upsert_papers
from aisec_radar.store.topics import suggestions
from aisec_radar.taxonomy.loader import default_taxonomy_path
from aisec_radar.taxonomy.migrate import create_version, migrate_labels, plan_migration, types_under
from aisec_radar.taxonomy.versions import apply_changes, backward, diff, forward, next_version, translate

SPLIT = [{"split": {"from": "jailbreak", "into": [
    {"id": "text_jailbreak", "name": "Text jailbreak", "definition": "Jailbreaks of language models by text."},
    {"id": "multimodal_jailbreak", "name": "Multimodal jailbreak",
     "definition": "Jailbreaks through images, audio or other non-text inputs."}]}}]


@pytest.fixture(scope="module")
def base() -> dict:
    return yaml.safe_load(default_taxonomy_path().read_text(encoding="utf-8"))


def test_next_version() -> None:
    assert next_version("2026.1") == "2026.2"
    assert next_version("v7") == "v7.1"


def test_split_keeps_axis_and_maps_every_old_id(base: dict) -> None:
    plan = apply_changes(base, SPLIT)
    assert plan.version == "2026.2" and plan.parent == "2026.1"
    tax = plan.taxonomy
    assert "jailbreak" not in tax.type_ids
    assert tax.axis_of("text_jailbreak", "arxiv_v1") == "DM"
    assert tax.axis_of("multimodal_jailbreak", "openreview") == "DD"
    fw = forward(plan.mapping)
    old_ids = [t["id"] for t in base["types"]] + ["other_aisec", "not_relevant"]
    assert set(fw) == set(old_ids)  # nothing dropped
    assert fw["jailbreak"] == ["text_jailbreak", "multimodal_jailbreak"]
    assert fw["poisoning"] == ["poisoning"]
    # confusable references follow the split
    assert "text_jailbreak" in tax.type("poisoning").confusable
    assert diff(plan.mapping)["split"] == [("jailbreak", ["text_jailbreak", "multimodal_jailbreak"])]


def test_rename_merge_add_axis(base: dict) -> None:
    plan = apply_changes(base, [
        {"rename": {"from": "data_extraction", "to": "training_data_extraction"}},
        {"merge": {"from": ["model_inversion", "membership_inference"], "into": "privacy_inference",
                   "definition": "Inferring private facts about training data from a model."}},
        {"add": {"id": "agent_hijacking", "name": "Agent hijacking", "definition": "Taking over LLM agents.",
                 "axis": "DM", "cues": ["agent hijacking", "tool misuse"]}},
        {"axis": {"type": "jailbreak", "axis": "DD", "map": "arxiv_v1"}},
    ], version="2027.1", note="test")
    tax = plan.taxonomy
    fw, bw = forward(plan.mapping), backward(plan.mapping)
    assert fw["data_extraction"] == ["training_data_extraction"]
    assert fw["model_inversion"] == fw["membership_inference"] == ["privacy_inference"]
    assert bw["agent_hijacking"] == []
    assert tax.axis_of("privacy_inference") == "MD"
    assert tax.axis_of("jailbreak", "arxiv_v1") == "DD"  # the survey's own version switch as a change
    assert tax.type("agent_hijacking").cues == ("agent hijacking", "tool misuse")
    assert translate(["membership_inference"], [plan.mapping]) == (["privacy_inference"], False)
    assert translate(["privacy_inference"], [plan.mapping], "backward") == (
        ["model_inversion", "membership_inference"], True)
    assert translate(["agent_hijacking"], [plan.mapping], "backward") == (["other_aisec"], False)


@pytest.mark.parametrize("changes, message", [
    ([{"split": {"from": "nope", "into": [{"id": "a", "definition": "x"}, {"id": "b", "definition": "y"}]}}],
     "'nope' is not a type"),
    ([{"rename": {"from": "jailbreak", "to": "poisoning"}}], "already exists"),
    ([{"add": {"id": "new_type", "definition": "x"}}], "'axis' is required"),
    ([{"merge": {"from": ["jailbreak", "model_extraction"], "into": "mixed", "definition": "x"}}],
     "different axes"),
    ([{"explode": {"type": "jailbreak"}}], "unknown change 'explode'"),
    ([{"rename": {"from": "other_aisec", "to": "misc"}}], "out-of-taxonomy"),
])
def test_bad_changes_name_the_problem(base: dict, changes: list, message: str) -> None:
    with pytest.raises(TaxonomyError, match=message):
        apply_changes(base, changes)


def _papers(n: int) -> list[Paper]:
    return [Paper(arxiv_id=f"2601.{i:05d}", title=f"Paper {i}", abstract="text", published=date(2026, 1, 5))
            for i in range(n)]


def test_split_migrates_or_queues_every_label(db_path, tmp_path) -> None:
    """Evidence (issue 7, test 2): after a split every label in force is migrated or in the review queue."""
    labelled = {
        0: ["jailbreak"], 1: ["jailbreak", "poisoning"], 2: ["poisoning"], 3: ["other_aisec"],
        4: ["not_relevant"], 5: ["membership_inference"], 6: ["jailbreak"], 7: ["model_extraction"],
    }
    with transaction(db_path) as con:
        upsert_papers(con, _papers(10))
        for i, types in labelled.items():
            add_label(con, Label(arxiv_id=f"2601.{i:05d}", types=types, curator="ana", role="attack",
                                 taxonomy_version="2026.1" if i % 2 else None))
        # an older label of paper 2 that is no longer in force stays history only
        add_label(con, Label(arxiv_id="2601.00002", types=["jailbreak"], curator="bob",
                             created_at=datetime(2020, 1, 1)))
    with connect(db_path, read_only=True) as con:
        before = latest_labels(con)
    plan, written = create_version(db_path, SPLIT, note="split jailbreak", created_by="ana",
                                   out_path=tmp_path / "tax" / "v2.yaml")
    assert written is not None and yaml.safe_load(written.read_text())["version"] == "2026.2"

    dry = plan_migration(db_path, plan.version)
    assert (dry.migrated, dry.queued) == (5, 3)
    with connect(db_path, read_only=True) as con:
        assert len(label_history(con)) == 9  # the dry run wrote nothing

    rep = migrate_labels(db_path, plan.version, migrated_by="ana")
    assert (rep.migrated, rep.queued, rep.other_version) == (5, 3, 0)
    with connect(db_path, read_only=True) as con:
        now = latest_labels(con)
        queued = suggestions(con, reason="taxonomy-split", open_only=True)
        history = label_history(con)
        preds = con.execute("SELECT arxiv_id, labels, status FROM current_predictions ORDER BY arxiv_id").fetchall()
    queued_ids = {s["arxiv_id"] for s in queued}
    assert queued_ids == {"2601.00000", "2601.00001", "2601.00006"}
    for aid, old in before.items():
        new = now[aid]
        if aid in queued_ids:
            assert new.types == old.types  # kept in force until a curator decides
        else:
            assert new.source == "taxonomy-migration" and new.taxonomy_version == "2026.2"
            assert new.types == old.types and new.curator == old.curator and new.role == old.role
    assert len(history) == 9 + 5  # appended, nothing removed
    opts = {s["arxiv_id"]: s["options"] for s in queued}
    assert sorted(opts["2601.00001"]) == ["multimodal_jailbreak", "poisoning", "text_jailbreak"]
    # the queued papers show up in the review queue (needs_review current predictions)
    assert {p[0] for p in preds if p[2] == "needs_review"} == queued_ids

    # a rerun changes nothing
    again = migrate_labels(db_path, plan.version)
    assert (again.migrated, again.queued, again.already, again.already_queued) == (0, 0, 5, 3)

    # a curator decides one split label; it leaves the open queue
    with transaction(db_path) as con:
        add_label(con, Label(arxiv_id="2601.00000", types=["multimodal_jailbreak"], curator="ana",
                             taxonomy_version="2026.2", source="dashboard"))
    with connect(db_path, read_only=True) as con:
        assert {s["arxiv_id"] for s in suggestions(con, reason="taxonomy-split", open_only=True)} == {
            "2601.00001", "2601.00006"}

    # trends under either version
    new_view = types_under(db_path, "2026.2")
    old_view = types_under(db_path, "2026.1")
    assert new_view["2601.00000"]["types"] == ["multimodal_jailbreak"]
    assert old_view["2601.00000"]["types"] == ["jailbreak"]  # back through the split: unambiguous
    assert new_view["2601.00006"] == {"types": ["multimodal_jailbreak", "text_jailbreak"], "ambiguous": True,
                                      "made_under": "2026.1", "provenance": "curated"}
    assert old_view["2601.00005"]["types"] == ["membership_inference"]


def test_duplicate_version_refused_and_nothing_stored(db_path) -> None:
    create_version(db_path, SPLIT)
    with pytest.raises(TaxonomyError, match="already exists"):
        create_version(db_path, SPLIT)
    with pytest.raises(TaxonomyError, match="invalid|not a type"):
        create_version(db_path, [{"rename": {"from": "ghost", "to": "x"}}], version="2026.9")
    with connect(db_path, read_only=True) as con:
        n = con.execute("SELECT count(*) FROM taxonomy_versions").fetchone()[0]
    assert n == 2



def test_predictions_keep_their_version_and_trends_read_either(db_path) -> None:
    """A prediction made under 2026.1 and one under the split version both count under either version."""
    from aisec_radar.records import Prediction
    from aisec_radar.store.predictions import save_predictions
    from aisec_radar.taxonomy.migrate import counts_under

    with transaction(db_path) as con:
        upsert_papers(con, _papers(3))
    create_version(db_path, SPLIT)

    def pred(aid: str, version: str, labels: list[str]) -> Prediction:
        return Prediction(arxiv_id=aid, model_version="m1", taxonomy_version=version, relevance="in_taxonomy",
                          type_scores={labels[0]: 0.9}, labels=labels, role=None, modality=None, confidence=0.9,
                          status="auto")

    with transaction(db_path) as con:
        save_predictions(con, [pred("2601.00000", "2026.1", ["jailbreak"]),
                               pred("2601.00001", "2026.2", ["text_jailbreak"]),
                               pred("2601.00002", "2026.2", ["poisoning"])])
    migrate_labels(db_path, "2026.2")  # no labels: nothing to do, predictions untouched
    with connect(db_path, read_only=True) as con:
        kept = dict(con.execute("SELECT arxiv_id, taxonomy_version FROM predictions").fetchall())
    assert kept == {"2601.00000": "2026.1", "2601.00001": "2026.2", "2601.00002": "2026.2"}
    old = counts_under(db_path, "2026.1")
    new = counts_under(db_path, "2026.2")
    assert old["types"] == {"jailbreak": 2, "poisoning": 1} and old["undecided"] == {}
    assert new["types"] == {"text_jailbreak": 1, "poisoning": 1}
    assert new["undecided"] == {"text_jailbreak": 1, "multimodal_jailbreak": 1}  # the old prediction: a split
    by_month = counts_under(db_path, "2026.1", by_month=True)
    assert by_month["types"]["jailbreak"] == {"2026-01": 2}
