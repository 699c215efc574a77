"""Curator labels: append-only, the latest per paper wins, the history is never rewritten."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from aisec_radar.records import Label


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def add_label(con: duckdb.DuckDBPyConnection, label: Label) -> int:
    """Append one label and return its id. Validation of type ids is the caller's job (taxonomy)."""
    created = label.created_at or _now()
    row = con.execute(
        "INSERT INTO labels (arxiv_id, types, role, modality, curator, note, source, taxonomy_version, created_at) "
        "VALUES (?,?,?,?,?,?,?,?,?) RETURNING label_id",
        [label.arxiv_id, list(label.types), label.role, label.modality, label.curator, label.note,
         label.source, label.taxonomy_version, created],
    ).fetchone()
    return int(row[0])


def _row_to_label(row: tuple) -> Label:
    return Label(arxiv_id=row[0], types=list(row[1]), role=row[2], modality=row[3], curator=row[4],
                 note=row[5], source=row[6], taxonomy_version=row[7], created_at=row[8])


_COLS = "arxiv_id, types, role, modality, curator, note, source, taxonomy_version, created_at"


def latest_labels(con: duckdb.DuckDBPyConnection) -> dict[str, Label]:
    """The label in force for each labelled paper (the latest one)."""
    rows = con.execute(
        f"SELECT {_COLS} FROM labels QUALIFY row_number() OVER "
        "(PARTITION BY arxiv_id ORDER BY created_at DESC, label_id DESC) = 1"
    ).fetchall()
    return {r[0]: _row_to_label(r) for r in rows}


def label_history(con: duckdb.DuckDBPyConnection, arxiv_id: str | None = None) -> list[Label]:
    sql = f"SELECT {_COLS} FROM labels"
    params: list[Any] = []
    if arxiv_id is not None:
        sql += " WHERE arxiv_id = ?"
        params.append(arxiv_id)
    sql += " ORDER BY created_at, label_id"
    return [_row_to_label(r) for r in con.execute(sql, params).fetchall()]


def label_to_json(label: Label) -> dict[str, Any]:
    return {
        "arxiv_id": label.arxiv_id, "types": label.types, "role": label.role, "modality": label.modality,
        "curator": label.curator, "note": label.note, "source": label.source,
        "taxonomy_version": label.taxonomy_version,
        "created_at": label.created_at.isoformat() if label.created_at else None,
    }


def label_from_json(obj: dict[str, Any]) -> Label:
    created = obj.get("created_at")
    return Label(
        arxiv_id=obj["arxiv_id"], types=list(obj["types"]), curator=obj["curator"], role=obj.get("role"),
        modality=obj.get("modality"), note=obj.get("note"), source=obj.get("source") or "import",
        taxonomy_version=obj.get("taxonomy_version"),
        created_at=datetime.fromisoformat(created) if created else None,
    )


def _key(label: Label) -> tuple:
    return (label.arxiv_id, tuple(label.types), label.role, label.curator, label.note,
            label.created_at.isoformat() if label.created_at else None)


def import_labels(con: duckdb.DuckDBPyConnection, labels: Iterable[Label]) -> tuple[int, int]:
    """Append labels not already present (same paper, types, curator, note and time); return (added, skipped).

    Importing the same export twice adds nothing, so labels kept in git can rebuild or top up a DB.
    """
    existing = {_key(lab) for lab in label_history(con)}
    added = skipped = 0
    for lab in labels:
        if _key(lab) in existing:
            skipped += 1
            continue
        add_label(con, lab)
        existing.add(_key(lab))
        added += 1
    return added, skipped


def dumps_label(label: Label) -> str:
    return json.dumps(label_to_json(label), ensure_ascii=False)


def write_labels_jsonl(path: Path, labels: Iterable[Label]) -> None:
    """Write labels as JSON Lines through a temporary file, so a crash never leaves half an export."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for lab in labels:
            f.write(dumps_label(lab) + "\n")
    tmp.replace(path)


def read_labels_jsonl(path: Path, taxonomy: Any = None) -> list[Label]:
    """Parse a labels JSONL file; any bad line fails the whole import, naming file and line.

    ``taxonomy`` (a taxonomy.Taxonomy) checks the type ids of every line before anything is written.
    """
    from aisec_radar.errors import InputError, TaxonomyError

    if not path.exists():
        raise InputError(f"labels file {path} does not exist")
    labels = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            lab = label_from_json(json.loads(line))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{path}:{n}: not a valid label record ({exc})") from exc
        if taxonomy is not None:
            try:
                taxonomy.check_labels(lab.types, where=f"at {path}:{n}")
            except TaxonomyError as exc:
                raise InputError(str(exc)) from exc
        labels.append(lab)
    return labels
