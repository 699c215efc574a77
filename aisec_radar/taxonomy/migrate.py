"""Taxonomy versions in the store: register, create from a change list, migrate labels, read under a version.

The rules that keep labels safe:
- a version is stored with its YAML and its mapping before any label moves;
- labels are append-only: a migrated label is a new row (source ``taxonomy-migration``, the new
  version, the same curator/role/modality, a note naming the old label) and the old row stays;
- a label whose types map to one answer migrates; one touching a split type goes to the review queue
  (a ``taxonomy-split`` suggestion listing the children) and keeps its old label until a curator decides;
- predictions are never rewritten: each keeps the version it was made under; ``types_under`` translates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from aisec_radar.errors import InputError, TaxonomyError
from aisec_radar.records import Label
from aisec_radar.store import connect, transaction
from aisec_radar.store import taxonomy_versions as tv
from aisec_radar.store.labels import add_label
from aisec_radar.store.topics import queue_suggestion
from aisec_radar.taxonomy.loader import Taxonomy, default_taxonomy_path, parse_taxonomy
from aisec_radar.taxonomy.versions import MIGRATION_SOURCE, VersionPlan, apply_changes, translate, version_path


def _read_yaml(path: str | Path | None) -> tuple[str, dict[str, Any]]:
    p = Path(path) if path else default_taxonomy_path()
    try:
        text = p.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:
        raise TaxonomyError(f"cannot read taxonomy file {p}: {exc}") from exc
    parse_taxonomy(data, source=str(p))
    return text, data


def register_file(db_path: str | Path, taxonomy_path: str | Path | None = None, timeout: float = 60.0) -> str:
    """Record the taxonomy file's version in the store (once); return its version id.

    The shipped YAML is the root of the version history; a file created by ``create_version`` is
    already registered with its parent.
    """
    text, data = _read_yaml(taxonomy_path)
    version = str(data["version"])
    with transaction(db_path, timeout=timeout) as con:
        if not tv.version_exists(con, version):
            tv.add_version(con, version, text, parent=None, mapping=[], note="registered from "
                           + str(taxonomy_path or default_taxonomy_path()), created_by="aisec-radar")
    return version


def load_version(db_path: str | Path, version: str, timeout: float = 60.0) -> Taxonomy:
    with connect(db_path, read_only=True, timeout=timeout) as con:
        row = tv.get_version(con, version)
    if row is None:
        raise TaxonomyError(f"taxonomy version '{version}' is not in {db_path}; known versions are listed by "
                            "`aisec-radar taxonomy show`")
    return parse_taxonomy(yaml.safe_load(row["yaml_text"]), source=f"{db_path}#{version}")


def read_changes(path: str | Path) -> dict[str, Any]:
    """A change file: {version?, note?, base?, changes: [...]}; errors name the file."""
    p = Path(path)
    try:
        obj = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"cannot read change file {p}: {exc}") from exc
    if isinstance(obj, list):
        obj = {"changes": obj}
    if not isinstance(obj, dict) or not isinstance(obj.get("changes"), list):
        raise InputError(f"{p}: expected a mapping with a 'changes' list (add/rename/split/merge/axis)")
    return obj


def create_version(db_path: str | Path, changes: list[dict[str, Any]], base_version: str | None = None,
                   taxonomy_path: str | Path | None = None, version: str | None = None, note: str | None = None,
                   created_by: str | None = None, out_path: str | Path | None = None,
                   timeout: float = 60.0) -> tuple[VersionPlan, Path | None]:
    """Derive a new version from ``base_version`` (default: the taxonomy file's), store it, write its YAML.

    Nothing is stored when the changes are invalid. The YAML file is written (atomically) only after the
    store holds the version, so the operator can point the setting taxonomy_path at it.
    """
    file_version = register_file(db_path, taxonomy_path, timeout=timeout)
    base = base_version or file_version
    with connect(db_path, read_only=True, timeout=timeout) as con:
        row = tv.get_version(con, base)
    if row is None:
        raise TaxonomyError(f"base taxonomy version '{base}' is not in {db_path}")
    plan = apply_changes(yaml.safe_load(row["yaml_text"]), changes, version=version, note=note)
    text = plan.yaml_text()
    with transaction(db_path, timeout=timeout) as con:
        if tv.version_exists(con, plan.version):
            raise TaxonomyError(f"taxonomy version '{plan.version}' already exists in {db_path}; give another "
                                "version id")
        tv.add_version(con, plan.version, text, parent=plan.parent, mapping=plan.mapping, note=note,
                       created_by=created_by)
    written = None
    if out_path is not None:
        written = Path(out_path)
        written.parent.mkdir(parents=True, exist_ok=True)
        tmp = written.with_name(written.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(written)
    return plan, written


@dataclass
class MigrationReport:
    from_version: str
    to_version: str
    migrated: int = 0  # new label appended under the new version
    queued: int = 0  # split: sent to review, old label kept in force
    already: int = 0  # the label in force is already under the new version
    already_queued: int = 0  # queued by an earlier run, still undecided
    other_version: int = 0  # made under a version not on the line between the two (left alone)
    details: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"from": self.from_version, "to": self.to_version, "migrated": self.migrated, "queued": self.queued,
                "already": self.already, "already_queued": self.already_queued, "other_version": self.other_version}


def migrate_labels(db_path: str | Path, to_version: str, from_version: str | None = None, dry_run: bool = False,
                   migrated_by: str = "aisec-radar", timeout: float = 60.0) -> MigrationReport:
    """Carry every label in force to ``to_version`` through the stored mappings, in one transaction.

    Labels without a version count as made under ``from_version`` (default: the root of to_version's line).
    Each label either migrates (a new label row) or, when a split makes the answer ambiguous, goes to
    the review queue; a rerun does neither twice.
    """
    with transaction(db_path, timeout=timeout) as con:
        parents = tv.parents(con)
        if to_version not in parents:
            raise TaxonomyError(f"taxonomy version '{to_version}' is not in {db_path}")
        root = to_version
        while parents.get(root):
            root = parents[root]  # type: ignore[assignment]
        default_from = from_version or root
        rep = MigrationReport(from_version=default_from, to_version=to_version)
        steps_cache: dict[str, list] = {}

        def steps_from(v: str) -> list | None:
            if v not in steps_cache:
                try:
                    path, direction = version_path(parents, v, to_version)
                except TaxonomyError:
                    steps_cache[v] = None  # type: ignore[assignment]
                else:
                    steps_cache[v] = None if direction != "forward" else [  # type: ignore[assignment]
                        tv.get_mapping(con, a, b) for a, b in zip(path, path[1:], strict=False)]
            return steps_cache[v]

        ref = f"{default_from}->{to_version}"
        queued_before = tv.open_split_suggestion_labels(con, ref)
        for lab in tv.current_labels_rows(con):
            version = lab["taxonomy_version"] or default_from
            if version == to_version:
                rep.already += 1
                continue
            steps = steps_from(version)
            if steps is None:
                rep.other_version += 1
                continue
            types, ambiguous = translate(lab["types"], steps, "forward")
            if not ambiguous:
                rep.migrated += 1
                if not dry_run:
                    add_label(con, Label(
                        arxiv_id=lab["arxiv_id"], types=types, curator=lab["curator"], role=lab["role"],
                        modality=lab["modality"], source=MIGRATION_SOURCE, taxonomy_version=to_version,
                        # the decision's time, not the migration's: the new row still wins (higher id),
                        # and "labelled since this review suggestion?" checks are not fooled by it
                        created_at=lab["created_at"],
                        note=f"migrated {version}->{to_version} on {date.today().isoformat()} from label "
                             f"{lab['label_id']} ({', '.join(lab['types'])}) by {migrated_by}"))
                rep.details.append({"arxiv_id": lab["arxiv_id"], "from": lab["types"], "to": types,
                                    "action": "migrated"})
                continue
            if lab["label_id"] in queued_before:
                rep.already_queued += 1
                continue
            rep.queued += 1
            # Options: every candidate the split offers; the suggestion prefers what a prediction under
            # the new version scores highest, else the first child.
            scores = tv.latest_prediction_scores(con, lab["arxiv_id"], to_version)
            options = list(types)
            ranked = sorted(options, key=lambda t: -scores.get(t, 0.0))
            if not dry_run:
                queue_suggestion(con, lab["arxiv_id"], ranked, reason="taxonomy-split", ref=ref,
                                 taxonomy_version=to_version, options=options, from_label_id=int(lab["label_id"]),
                                 priority=1.0, note=f"label {lab['label_id']} ({', '.join(lab['types'])}) "
                                                    f"needs a choice after the split")
            rep.details.append({"arxiv_id": lab["arxiv_id"], "from": lab["types"], "options": options,
                                "action": "queued"})
        if dry_run:
            raise _DryRun(rep)
    return rep


class _DryRun(Exception):
    def __init__(self, report: MigrationReport) -> None:
        self.report = report


def plan_migration(db_path: str | Path, to_version: str, from_version: str | None = None,
                   timeout: float = 60.0) -> MigrationReport:
    """What migrate_labels would do, computed inside a transaction that is rolled back."""
    try:
        migrate_labels(db_path, to_version, from_version=from_version, dry_run=True, timeout=timeout)
    except _DryRun as dr:
        return dr.report
    raise AssertionError("unreachable")  # pragma: no cover


def types_under(db_path: str | Path, version: str, default_version: str | None = None,
                timeout: float = 60.0) -> dict[str, dict[str, Any]]:
    """Each classified or labelled paper's effective types translated to ``version``.

    {arxiv_id: {"types": [...], "ambiguous": bool, "made_under": v, "provenance": "curated"|"auto"}}.
    Decisions made under a version off the line of descent keep their own ids (made_under tells).
    This is what a trend under either version counts.
    """
    with connect(db_path, read_only=True, timeout=timeout) as con:
        parents = tv.parents(con)
        rows = tv.effective_with_version(con)
        mappings = {(a, b): tv.get_mapping(con, a, b) for b, a in parents.items() if a}
    if version not in parents:
        raise TaxonomyError(f"taxonomy version '{version}' is not in {db_path}")
    root = version
    while parents.get(root):
        root = parents[root]  # type: ignore[assignment]
    base = default_version or root
    out: dict[str, dict[str, Any]] = {}
    cache: dict[str, tuple[list, str] | None] = {}
    for aid, types, made_under, prov in rows:
        v = made_under or base
        if v not in cache:
            try:
                path, direction = version_path(parents, v, version)
                cache[v] = ([mappings[(a, b) if direction == "forward" else (b, a)]
                             for a, b in zip(path, path[1:], strict=False)], direction)
            except TaxonomyError:
                cache[v] = None
        c = cache[v]
        if c is None:
            out[aid] = {"types": types, "ambiguous": False, "made_under": v, "provenance": prov}
            continue
        t, amb = translate(types, c[0], c[1])
        out[aid] = {"types": t, "ambiguous": amb, "made_under": v, "provenance": prov}
    return out


def counts_under(db_path: str | Path, version: str, by_month: bool = False,
                 timeout: float = 60.0) -> dict[str, Any]:
    """Papers per type (optionally per month) with every decision read under ``version``.

    The trend view of a taxonomy version: curated labels and predictions made under older or newer
    versions are translated through the mappings; papers whose translation is ambiguous (a split
    not yet decided, a merge read backwards) are counted under ``undecided`` per candidate type, so
    nothing is silently assigned.
    """
    from aisec_radar.store import topics as tst

    per = types_under(db_path, version, timeout=timeout)
    months: dict[str, str] = {}
    if by_month:
        with connect(db_path, read_only=True, timeout=timeout) as con:
            months = {p.arxiv_id: (f"{p.day.year:04d}-{p.day.month:02d}" if p.day else "unknown")
                      for p in tst.load_pool(con, None, None)}
    decided: dict[str, Any] = {}
    undecided: dict[str, Any] = {}
    for aid, v in per.items():
        target = undecided if v["ambiguous"] else decided
        for t in v["types"]:
            if by_month:
                m = months.get(aid, "unknown")
                target.setdefault(t, {})
                target[t][m] = target[t].get(m, 0) + 1
            else:
                target[t] = target.get(t, 0) + 1
    return {"version": version, "papers": len(per), "types": decided, "undecided": undecided}
