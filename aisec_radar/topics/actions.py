"""Curator actions on a topic candidate: dismiss, merge into an existing type, promote to a new type.

Each action is one transaction: the candidate's status, an append-only action record and, for merge
and promote, review suggestions for its papers land together or not at all. Merge and promote never
write curator labels themselves: a suggestion is a question to a curator, the answer is a label.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aisec_radar.errors import InputError, TaxonomyError
from aisec_radar.store import connect, transaction
from aisec_radar.store import topics as st
from aisec_radar.taxonomy.loader import Taxonomy


class UnknownTopic(InputError):
    """No candidate with that id."""


@dataclass
class ActionResult:
    topic_id: str
    action: str
    target: str | None = None
    taxonomy_version: str | None = None
    queued: int = 0
    migrated_labels: int | None = None
    yaml_path: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _candidate(con: Any, topic_id: str) -> dict[str, Any]:
    cand = st.get_candidate(con, topic_id)
    if cand is None:
        known = [c["topic_id"] for c in st.list_candidates(con)][-10:]
        raise UnknownTopic(f"no topic candidate '{topic_id}'" + (f"; recent ids: {', '.join(known)}" if known
                                                                 else "; run `aisec-radar topics discover` first"))
    return cand


def _check_open(cand: dict[str, Any], allow: tuple[str, ...] = ("open",)) -> None:
    if cand["status"] not in allow:
        extra = f" into {cand['target']}" if cand["target"] else ""
        raise InputError(f"candidate {cand['topic_id']} is already {cand['status']}{extra}; "
                         "`aisec-radar topics reopen ID` first to change that")


def dismiss(db_path: str | Path, topic_id: str, curator: str, note: str | None = None,
            timeout: float = 60.0) -> ActionResult:
    """Not a topic worth a type (noise, a known theme): hidden from the list, its id still matched later."""
    with transaction(db_path, timeout=timeout) as con:
        cand = _candidate(con, topic_id)
        _check_open(cand)
        st.set_status(con, topic_id, "dismissed")
        st.add_action(con, topic_id, "dismiss", curator, note=note)
    return ActionResult(topic_id, "dismiss")


def reopen(db_path: str | Path, topic_id: str, curator: str, note: str | None = None,
           timeout: float = 60.0) -> ActionResult:
    """Undo a dismissal (or mark a merged/promoted candidate open again; queued suggestions stay)."""
    with transaction(db_path, timeout=timeout) as con:
        cand = _candidate(con, topic_id)
        _check_open(cand, allow=("dismissed", "merged", "promoted"))
        st.set_status(con, topic_id, "open")
        st.add_action(con, topic_id, "reopen", curator, note=note)
    return ActionResult(topic_id, "reopen")


def _queue_members(con: Any, cand: dict[str, Any], target: str, reason: str, version: str,
                   note: str) -> int:
    """Queue the candidate's latest members that no curator has already given ``target``."""
    queued = 0
    from aisec_radar.store.labels import latest_labels

    curated = latest_labels(con)
    done = {s["arxiv_id"] for s in st.suggestions(con, ref=cand["topic_id"])}
    for m in st.members(con, cand["topic_id"]):
        lab = curated.get(m["arxiv_id"])
        if (lab is not None and target in lab.types) or m["arxiv_id"] in done:
            continue
        st.queue_suggestion(con, m["arxiv_id"], [target], reason=reason, ref=cand["topic_id"],
                            taxonomy_version=version, priority=float(m["score"] or 0.5), note=note)
        queued += 1
    return queued


def merge(db_path: str | Path, topic_id: str, into: str, taxonomy: Taxonomy, curator: str,
          note: str | None = None, timeout: float = 60.0) -> ActionResult:
    """The candidate belongs to an existing type: its papers go to review with that type suggested."""
    if into not in taxonomy.type_ids:
        raise TaxonomyError(f"cannot merge into '{into}': not a type of taxonomy {taxonomy.version}; "
                            f"valid types: {', '.join(taxonomy.type_ids)}")
    queued = _close_into(db_path, topic_id, "merge", into, taxonomy.version, curator, note, timeout,
                         f"candidate {topic_id} merged into {into} by {curator}")
    return ActionResult(topic_id, "merge", target=into, taxonomy_version=taxonomy.version, queued=queued)


def _close_into(db_path: str | Path, topic_id: str, action: str, target: str, version: str, curator: str,
                note: str | None, timeout: float, why: str) -> int:
    """Merge or promote, in one transaction: queue the members for review with ``target`` suggested,
    set the candidate's status and record the curator's action. Returns how many papers were queued."""
    status = {"merge": "merged", "promote": "promoted"}[action]
    with transaction(db_path, timeout=timeout) as con:
        cand = _candidate(con, topic_id)
        _check_open(cand)
        queued = _queue_members(con, cand, target, f"topic-{action}", version, why)
        st.set_status(con, topic_id, status, target=target, target_version=version)
        st.add_action(con, topic_id, action, curator, target=target, taxonomy_version=version, note=note,
                      queued=queued)
    return queued


def promote(db_path: str | Path, topic_id: str, new_type: str, taxonomy_path: str | Path | None, curator: str,
            name: str | None = None, definition: str | None = None, axis: str | dict[str, str] | None = None,
            version: str | None = None, out_path: str | Path | None = None, note: str | None = None,
            migrate: bool = True, timeout: float = 60.0) -> ActionResult:
    """Make the candidate a new type in a new taxonomy version; its papers go to review with that type.

    The new type's cues are the candidate's key phrases and its representative papers the closest
    members; its axis defaults to the nearest existing type's. Labels in force are migrated to the new
    version (an added type moves no label), so the new version starts complete.
    """
    from aisec_radar.taxonomy.migrate import create_version, load_version, migrate_labels, register_file

    base_version = register_file(db_path, taxonomy_path, timeout=timeout)
    base = load_version(db_path, base_version, timeout=timeout)
    with connect(db_path, read_only=True, timeout=timeout) as con:
        cand = _candidate(con, topic_id)
        snaps = st.snapshots(con, topic_id=topic_id)
        mem = st.members(con, topic_id)
    _check_open(cand)
    last = snaps[-1] if snaps else {}
    if axis is None:
        near = last.get("nearest_type")
        if not near or near not in base.type_ids:
            raise InputError(f"candidate {topic_id} has no nearest type to take an axis from; give --axis "
                             f"({', '.join(base.axes)})")
        axis = {m: base.axis_of(near, m) for m in base.axis_maps}
    phrases = list(cand["key_phrases"])
    reps = [{"arxiv_id": m["arxiv_id"], "title": m["title"] or ""} for m in mem[:3]
            if m["arxiv_id"] and m["arxiv_id"][:4].isdigit()]
    spec = {"id": new_type, "name": name or new_type.replace("_", " ").capitalize(),
            "definition": definition or f"Emerging topic {topic_id}: " + "; ".join(phrases[:5]),
            "axis": axis, "cues": [p.lower() for p in phrases], "representative": reps}
    if last.get("nearest_type") in base.type_ids:
        spec["confusable"] = [last["nearest_type"]]
    plan, written = create_version(db_path, [{"add": spec}], base_version=base_version, taxonomy_path=taxonomy_path,
                                   version=version, note=note or f"promote candidate {topic_id} to {new_type}",
                                   created_by=curator, out_path=out_path, timeout=timeout)
    queued = _close_into(db_path, topic_id, "promote", new_type, plan.version, curator, note, timeout,
                         f"candidate {topic_id} promoted to {new_type} ({plan.version}) by {curator}")
    migrated = None
    if migrate:
        migrated = migrate_labels(db_path, plan.version, from_version=base_version, migrated_by=curator,
                                  timeout=timeout).migrated
    return ActionResult(topic_id, "promote", target=new_type, taxonomy_version=plan.version, queued=queued,
                        migrated_labels=migrated, yaml_path=str(written) if written else None)
