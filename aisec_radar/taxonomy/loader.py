"""Load and validate the taxonomy YAML.

Every error names the YAML path of the problem (``types[3].confusable[1]``) so a curator editing
the file can find it without reading code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from aisec_radar.errors import TaxonomyError

OUT_OF_TAXONOMY = ("other_aisec", "not_relevant")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_ARXIV_ID = re.compile(r"^(\d{4}\.\d{4,5}|[a-z\-]+(\.[A-Z]{2})?/\d{7})$")


@dataclass(frozen=True)
class TypeDef:
    id: str
    name: str
    definition: str
    cues: tuple[str, ...] = ()
    confusable: tuple[str, ...] = ()
    representative: tuple[tuple[str, str], ...] = ()  # (arxiv_id, title)


@dataclass(frozen=True)
class Taxonomy:
    version: str
    types: tuple[TypeDef, ...]
    out_of_taxonomy: tuple[TypeDef, ...]
    axes: dict[str, str]  # id -> name
    axis_maps: dict[str, dict[str, str]]  # survey version -> type id -> axis id
    default_axis_map: str
    roles: tuple[str, ...]
    modalities: tuple[str, ...]
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def type_ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.types)

    @property
    def label_ids(self) -> tuple[str, ...]:
        """Every label a paper can carry: the types plus other_aisec and not_relevant."""
        return self.type_ids + tuple(t.id for t in self.out_of_taxonomy)

    def type(self, type_id: str) -> TypeDef:
        for t in self.types + self.out_of_taxonomy:
            if t.id == type_id:
                return t
        raise KeyError(type_id)

    def axis_map(self, name: str | None = None) -> dict[str, str]:
        key = name or self.default_axis_map
        if key not in self.axis_maps:
            raise TaxonomyError(
                f"unknown axis map '{key}' in taxonomy {self.version}; valid: {', '.join(self.axis_maps)}"
            )
        return self.axis_maps[key]

    def axis_of(self, type_id: str, axis_map: str | None = None) -> str | None:
        return self.axis_map(axis_map).get(type_id)

    def check_labels(self, labels: list[str], where: str = "") -> None:
        """Refuse unknown label ids with a message listing the valid ones."""
        for lab in labels:
            if lab not in self.label_ids:
                at = f" {where}" if where else ""
                raise TaxonomyError(
                    f"unknown attack type '{lab}'{at}; valid types: {', '.join(self.label_ids)}"
                )
        if len(labels) > 1 and any(lab in OUT_OF_TAXONOMY for lab in labels):
            at = f" {where}" if where else ""
            raise TaxonomyError(f"'other_aisec'/'not_relevant' cannot be combined with other types{at}")


def _req(obj: Any, key: str, path: str, kind: type = str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise TaxonomyError(f"{path}: missing required key '{key}'")
    val = obj[key]
    if not isinstance(val, kind):
        raise TaxonomyError(f"{path}.{key}: expected {kind.__name__}, got {type(val).__name__}")
    return val


def _typedefs(items: Any, path: str) -> list[TypeDef]:
    if not isinstance(items, list):
        raise TaxonomyError(f"{path}: expected a list")
    out = []
    for i, t in enumerate(items):
        p = f"{path}[{i}]"
        tid = _req(t, "id", p)
        if not _ID.match(tid):
            raise TaxonomyError(f"{p}.id: '{tid}' must be lowercase letters, digits and underscores")
        reps = []
        for j, r in enumerate(t.get("representative") or []):
            rp = f"{p}.representative[{j}]"
            aid = str(_req(r, "arxiv_id", rp))
            if not _ARXIV_ID.match(aid):
                raise TaxonomyError(f"{rp}.arxiv_id: '{aid}' is not an arXiv id")
            reps.append((aid, str(r.get("title", ""))))
        cues = t.get("cues") or []
        if not isinstance(cues, list) or not all(isinstance(c, str) for c in cues):
            raise TaxonomyError(f"{p}.cues: expected a list of strings")
        out.append(TypeDef(
            id=tid, name=str(t.get("name", tid)), definition=_req(t, "definition", p),
            cues=tuple(c.lower() for c in cues), confusable=tuple(t.get("confusable") or ()),
            representative=tuple(reps),
        ))
    return out


def parse_taxonomy(data: Any, source: str = "<memory>") -> Taxonomy:
    """Validate a parsed YAML document and build the Taxonomy; raise TaxonomyError naming the path."""
    if not isinstance(data, dict):
        raise TaxonomyError(f"{source}: the taxonomy must be a mapping at the top level")
    version = str(_req(data, "version", "$", (str, int, float)))
    types = _typedefs(data.get("types"), "types")
    oot = _typedefs(data.get("out_of_taxonomy") or [], "out_of_taxonomy")
    ids = [t.id for t in types] + [t.id for t in oot]
    seen: set[str] = set()
    for tid in ids:
        if tid in seen:
            raise TaxonomyError(f"types: duplicate id '{tid}'")
        seen.add(tid)
    missing_oot = [x for x in OUT_OF_TAXONOMY if x not in seen]
    if missing_oot:
        raise TaxonomyError(f"out_of_taxonomy: missing required class(es) {', '.join(missing_oot)}")
    for i, t in enumerate(types):
        for j, c in enumerate(t.confusable):
            if c not in seen:
                raise TaxonomyError(f"types[{i}].confusable[{j}]: '{c}' is not a type id")
    axes_raw = _req(data, "axes", "$", list)
    axes = {}
    for i, a in enumerate(axes_raw):
        axes[_req(a, "id", f"axes[{i}]")] = str(a.get("name", a["id"]))
    maps_raw = _req(data, "axis_maps", "$", dict)
    axis_maps: dict[str, dict[str, str]] = {}
    for name, m in maps_raw.items():
        mp = _req(m, "map", f"axis_maps.{name}", dict)
        for tid, axis in mp.items():
            if tid not in seen or tid in OUT_OF_TAXONOMY:
                raise TaxonomyError(f"axis_maps.{name}.map.{tid}: '{tid}' is not one of the types")
            if axis not in axes:
                raise TaxonomyError(f"axis_maps.{name}.map.{tid}: unknown axis '{axis}' (axes: {', '.join(axes)})")
        for t in types:
            if t.id not in mp:
                raise TaxonomyError(f"axis_maps.{name}.map: type '{t.id}' is not mapped to an axis")
        axis_maps[name] = dict(mp)
    default = str(data.get("default_axis_map") or next(iter(axis_maps), ""))
    if default not in axis_maps:
        raise TaxonomyError(f"default_axis_map: '{default}' is not one of {', '.join(axis_maps)}")
    facets = data.get("facets") or {}
    roles = tuple(r["id"] for r in facets.get("role", []))
    modalities = tuple(m["id"] for m in facets.get("modality", []))
    if not roles or not modalities:
        raise TaxonomyError("facets: both 'role' and 'modality' lists are required")
    known = {"version", "name", "types", "out_of_taxonomy", "axes", "axis_maps", "default_axis_map", "facets"}
    return Taxonomy(version=version, types=tuple(types), out_of_taxonomy=tuple(oot), axes=axes,
                    axis_maps=axis_maps, default_axis_map=default, roles=roles, modalities=modalities,
                    source=source, extra={k: v for k, v in data.items() if k not in known})


def default_taxonomy_path() -> Path:
    return Path(str(resources.files("aisec_radar.taxonomy").joinpath("ai_security.yaml")))


@lru_cache(maxsize=8)
def _load_cached(path: str, mtime: float) -> Taxonomy:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise TaxonomyError(f"cannot read taxonomy file {path}: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TaxonomyError(f"taxonomy file {path} is not valid YAML: {exc}") from exc
    return parse_taxonomy(data, source=path)


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    p = Path(path) if path else default_taxonomy_path()
    if not p.exists():
        raise TaxonomyError(f"taxonomy file {p} does not exist")
    return _load_cached(str(p), p.stat().st_mtime)
