"""Taxonomy versions: add, rename, split and merge types with an explicit old->new id mapping.

Why a mapping and not just a new YAML: curator labels are the project's most expensive data. A new
version must say, for every old id, where its papers go, so labels migrate mechanically where the
answer is unique (same, rename, merge) and go to a curator where it is not (split). Nothing is
dropped: a label that cannot be migrated stays in force under its old version until decided.

A change list is plain data (what a curator writes in a small YAML file)::

    version: "2026.2"
    note: split jailbreak by modality
    changes:
      - rename: {from: data_extraction, to: training_data_extraction}
      - split:  {from: jailbreak, into: [{id: text_jailbreak, name: ..., definition: ...},
                                          {id: multimodal_jailbreak, name: ..., definition: ...}]}
      - merge:  {from: [model_inversion, membership_inference], into: privacy_inference, definition: ...}
      - add:    {id: agent_hijacking, name: ..., definition: ..., axis: DM}
      - axis:   {type: jailbreak, axis: DD, map: openreview}   # an axis switch keeps every id

Mapping kinds: same | rename | split | merge | add. ``add`` rows have old_id ''.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import yaml

from aisec_radar.errors import TaxonomyError
from aisec_radar.taxonomy.loader import OUT_OF_TAXONOMY, Taxonomy, parse_taxonomy

MIGRATION_SOURCE = "taxonomy-migration"
Mapping = list[tuple[str, str, str]]  # (old_id, new_id, kind)


def next_version(version: str) -> str:
    """'2026.1' -> '2026.2'; a version without a numeric tail gets '.1' appended."""
    head, _, tail = version.rpartition(".")
    if head and tail.isdigit():
        return f"{head}.{int(tail) + 1}"
    return f"{version}.1"


def _types_index(data: dict[str, Any]) -> dict[str, int]:
    return {t["id"]: i for i, t in enumerate(data.get("types") or [])}


def _type_spec(spec: Any, where: str, inherit: dict[str, Any] | None = None) -> dict[str, Any]:
    if not isinstance(spec, dict) or "id" not in spec:
        raise TaxonomyError(f"{where}: a new type needs at least an 'id' (and a 'definition')")
    base = dict(inherit or {})
    out: dict[str, Any] = {"id": str(spec["id"]), "name": str(spec.get("name") or spec["id"].replace("_", " ")),
                           "definition": spec.get("definition") or base.get("definition")}
    if not out["definition"]:
        raise TaxonomyError(f"{where}: type '{spec['id']}' needs a 'definition'")
    for key in ("cues", "confusable", "representative"):
        if spec.get(key) is not None:
            out[key] = list(spec[key])
        elif key in base and key != "representative":
            out[key] = list(base[key])
    return out


def _replace_refs(data: dict[str, Any], old: str, new: list[str]) -> None:
    """Point confusable lists at the new ids (a split type is confusable with each of its children)."""
    for t in data.get("types") or []:
        conf = t.get("confusable")
        if not conf:
            continue
        out: list[str] = []
        for c in conf:
            for x in (new if c == old else [c]):
                if x != t["id"] and x not in out:
                    out.append(x)
        t["confusable"] = out


def _axis_value(axis: Any, map_name: str, where: str) -> str:
    if isinstance(axis, dict):
        if map_name not in axis:
            raise TaxonomyError(f"{where}: axis for map '{map_name}' is missing")
        return str(axis[map_name])
    if axis is None:
        raise TaxonomyError(f"{where}: 'axis' is required (one axis id, or one per axis map)")
    return str(axis)


@dataclass
class VersionPlan:
    """A new taxonomy version, validated, with its mapping from the parent."""

    parent: str
    version: str
    data: dict[str, Any]
    mapping: Mapping
    note: str | None = None
    taxonomy: Taxonomy | None = None
    changes: list[dict[str, Any]] = field(default_factory=list)

    def yaml_text(self) -> str:
        head = (f"# Taxonomy version {self.version}, derived from {self.parent} by aisec-radar.\n"
                f"# {self.note or ''}\n")
        return head + yaml.safe_dump(self.data, sort_keys=False, allow_unicode=True, width=110)


def apply_changes(base: dict[str, Any], changes: list[dict[str, Any]], version: str | None = None,
                  note: str | None = None) -> VersionPlan:
    """Apply a change list to a parsed taxonomy YAML; return the validated new version and its mapping.

    Every old id (the nine types and the out-of-taxonomy classes) gets at least one mapping row, so
    label migration can account for every label.
    """
    parent = str(base.get("version"))
    new_version = str(version) if version else next_version(parent)
    if new_version == parent:
        raise TaxonomyError(f"new version '{new_version}' equals its parent's; choose another version")
    data = copy.deepcopy(base)
    data["version"] = new_version
    old_ids = [t["id"] for t in data.get("types") or []] + [t["id"] for t in data.get("out_of_taxonomy") or []]
    # where each old id goes; starts as identity
    dest: dict[str, list[str]] = {i: [i] for i in old_ids}
    kind: dict[str, str] = {i: "same" for i in old_ids}
    added: list[str] = []
    maps = data.get("axis_maps") or {}
    if not isinstance(changes, list) or not changes:
        raise TaxonomyError("changes: expected a non-empty list of changes")

    def live(tid: str, where: str) -> int:
        idx = _types_index(data)
        if tid in OUT_OF_TAXONOMY:
            raise TaxonomyError(f"{where}: '{tid}' is an out-of-taxonomy class and cannot be changed")
        if tid not in idx:
            raise TaxonomyError(f"{where}: '{tid}' is not a type of this taxonomy (types: {', '.join(idx)})")
        return idx[tid]

    def retarget(old_target: str, new_targets: list[str], how: str) -> None:
        for oid, targets in dest.items():
            if old_target in targets:
                rest = [t for t in targets if t != old_target]
                dest[oid] = rest + [t for t in new_targets if t not in rest]
                kind[oid] = how if kind[oid] == "same" else kind[oid]

    for n, change in enumerate(changes):
        where = f"changes[{n}]"
        if not isinstance(change, dict) or len(change) != 1:
            raise TaxonomyError(f"{where}: each change is one of add/rename/split/merge/axis with its fields")
        op, spec = next(iter(change.items()))
        if not isinstance(spec, dict):
            raise TaxonomyError(f"{where}.{op}: expected a mapping of fields")
        w = f"{where}.{op}"
        if op == "rename":
            old, new = str(spec.get("from", "")), str(spec.get("to", ""))
            i = live(old, w + ".from")
            if new in _types_index(data) or new in OUT_OF_TAXONOMY:
                raise TaxonomyError(f"{w}.to: '{new}' already exists")
            t = data["types"][i]
            t["id"] = new
            if spec.get("name"):
                t["name"] = str(spec["name"])
            if spec.get("definition"):
                t["definition"] = str(spec["definition"])
            for m in maps.values():
                m["map"] = {(new if k == old else k): v for k, v in m["map"].items()}
            _replace_refs(data, old, [new])
            retarget(old, [new], "rename")
        elif op == "split":
            old = str(spec.get("from", ""))
            i = live(old, w + ".from")
            into = spec.get("into")
            if not isinstance(into, list) or len(into) < 2:
                raise TaxonomyError(f"{w}.into: a split needs a list of at least two new types")
            parent_t = data["types"][i]
            children = [_type_spec(c, f"{w}.into[{j}]", inherit=parent_t) for j, c in enumerate(into)]
            ids = [c["id"] for c in children]
            existing = set(_types_index(data)) - {old}
            clash = [c for c in ids if c in existing or c in OUT_OF_TAXONOMY]
            if clash or len(set(ids)) != len(ids):
                raise TaxonomyError(f"{w}.into: ids {', '.join(clash) or 'repeated'} already exist")
            data["types"][i:i + 1] = children
            for m in maps.values():
                ax = m["map"].pop(old)
                for c, raw in zip(children, into, strict=True):
                    m["map"][c["id"]] = str(raw.get("axis", ax)) if not isinstance(raw.get("axis"), dict) \
                        else str(raw["axis"].get(next(k for k, v in maps.items() if v is m), ax))
            _replace_refs(data, old, ids)
            retarget(old, ids, "split")
        elif op == "merge":
            olds = spec.get("from")
            into = str(spec.get("into", ""))
            if not isinstance(olds, list) or len(olds) < 2:
                raise TaxonomyError(f"{w}.from: a merge needs a list of at least two types")
            idxs = [live(str(o), f"{w}.from") for o in olds]
            keep = into if into in olds else None
            if keep is None and (into in _types_index(data) or into in OUT_OF_TAXONOMY or not into):
                raise TaxonomyError(f"{w}.into: '{into}' must be one of the merged types or a new id")
            first = data["types"][idxs[0]]
            merged = _type_spec({"id": into, "name": spec.get("name"), "definition": spec.get("definition"),
                                 "cues": spec.get("cues"), "confusable": spec.get("confusable")},
                                f"{w}", inherit=data["types"][_types_index(data)[keep]] if keep else first)
            if spec.get("cues") is None:
                merged["cues"] = list(dict.fromkeys(c for i in idxs for c in data["types"][i].get("cues") or []))
            for m in maps.values():
                axes = {m["map"][str(o)] for o in olds}
                ax = spec.get("axis")
                if ax is None and len(axes) > 1:
                    raise TaxonomyError(f"{w}: merged types sit on different axes ({', '.join(sorted(axes))}); "
                                        "give 'axis'")
                value = _axis_value(ax, next(k for k, v in maps.items() if v is m), w) if ax is not None \
                    else axes.pop()
                for o in olds:
                    m["map"].pop(str(o))
                m["map"][into] = value
            pos = min(idxs)
            data["types"] = [t for t in data["types"] if t["id"] not in {str(o) for o in olds}]
            data["types"].insert(min(pos, len(data["types"])), merged)
            for o in olds:
                _replace_refs(data, str(o), [into])
                retarget(str(o), [into], "merge")
        elif op == "add":
            t = _type_spec(spec, w)
            if t["id"] in _types_index(data) or t["id"] in OUT_OF_TAXONOMY:
                raise TaxonomyError(f"{w}.id: '{t['id']}' already exists")
            data["types"].append(t)
            for name, m in maps.items():
                m["map"][t["id"]] = _axis_value(spec.get("axis"), name, w)
            added.append(t["id"])
        elif op == "axis":
            tid = str(spec.get("type", ""))
            live(tid, w + ".type")
            targets = [str(spec["map"])] if spec.get("map") else list(maps)
            for name in targets:
                if name not in maps:
                    raise TaxonomyError(f"{w}.map: unknown axis map '{name}' (maps: {', '.join(maps)})")
                maps[name]["map"][tid] = _axis_value(spec.get("axis"), name, w)
        else:
            raise TaxonomyError(f"{where}: unknown change '{op}'; use add, rename, split, merge or axis")

    try:
        tax = parse_taxonomy(data, source=f"version {new_version}")
    except TaxonomyError as exc:
        raise TaxonomyError(f"the changes give an invalid taxonomy: {exc}") from exc
    mapping: Mapping = []
    for oid in old_ids:
        for nid in dest[oid]:
            k = kind[oid]
            if k == "same" and nid != oid:
                k = "rename"
            mapping.append((oid, nid, "split" if len(dest[oid]) > 1 else k))
    for nid in added:
        mapping.append(("", nid, "add"))
    return VersionPlan(parent=parent, version=new_version, data=data, mapping=mapping, note=note, taxonomy=tax,
                       changes=list(changes))


def diff(mapping: Mapping) -> dict[str, list]:
    """Group a mapping by kind for display: {'rename': [(old, new)], 'split': [(old, [new...])], ...}."""
    out: dict[str, list] = {"same": [], "rename": [], "split": [], "merge": [], "add": []}
    splits: dict[str, list[str]] = {}
    merges: dict[str, list[str]] = {}
    for old, new, kind in mapping:
        if kind == "split":
            splits.setdefault(old, []).append(new)
        elif kind == "merge":
            merges.setdefault(new, []).append(old)
        elif kind == "add":
            out["add"].append(new)
        else:
            out[kind].append((old, new))
    out["split"] = sorted(splits.items())
    out["merge"] = sorted(merges.items())
    return out


def forward(mapping: Mapping) -> dict[str, list[str]]:
    """old id -> new ids (one for same/rename/merge, several for a split)."""
    out: dict[str, list[str]] = {}
    for old, new, _kind in mapping:
        if old:
            out.setdefault(old, []).append(new)
    return out


def backward(mapping: Mapping) -> dict[str, list[str]]:
    """new id -> old ids (several for a merge; none for an added type)."""
    out: dict[str, list[str]] = {}
    for old, new, _kind in mapping:
        out.setdefault(new, [])
        if old:
            out[new].append(old)
    return out


def translate(types: list[str], steps: list[Mapping], direction: str = "forward",
              unmapped: str = "other_aisec") -> tuple[list[str], bool]:
    """Carry a label's types across version steps; return (types, ambiguous).

    Ambiguous (a split going forward, a merge going backward) keeps every candidate, so a trend chart
    can show the paper under each or under a marked 'undecided' bucket; the caller decides. A type
    added in the newer version has no old id: going backward it becomes ``unmapped``.
    """
    cur = list(types)
    ambiguous = False
    for step in steps:
        table = forward(step) if direction == "forward" else backward(step)
        nxt: list[str] = []
        for t in cur:
            targets = table.get(t)
            if targets is None:
                targets = [t]  # an id the step does not know (e.g. a label from elsewhere): keep it
            elif not targets:
                targets = [unmapped]
            if len(targets) > 1:
                ambiguous = True
            for x in targets:
                if x not in nxt:
                    nxt.append(x)
        cur = nxt
    if len(cur) > 1 and any(t in OUT_OF_TAXONOMY for t in cur):
        cur = [t for t in cur if t not in OUT_OF_TAXONOMY] or cur[:1]
    return cur, ambiguous


def version_path(parents: dict[str, str | None], from_version: str, to_version: str) -> tuple[list[str], str]:
    """The chain of versions between two versions and the direction ('forward' if to is a descendant)."""
    def chain(v: str) -> list[str]:
        out = [v]
        seen = {v}
        while parents.get(out[-1]):
            nxt = parents[out[-1]]
            assert nxt is not None
            if nxt in seen:
                raise TaxonomyError(f"taxonomy version history has a cycle at '{nxt}'")
            out.append(nxt)
            seen.add(nxt)
        return out

    if from_version == to_version:
        return [from_version], "forward"
    up = chain(to_version)
    if from_version in up:
        return list(reversed(up[:up.index(from_version) + 1])), "forward"
    down = chain(from_version)
    if to_version in down:
        return down[:down.index(to_version) + 1], "backward"
    raise TaxonomyError(f"taxonomy versions '{from_version}' and '{to_version}' are not on one line of descent")
