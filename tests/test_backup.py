"""db backup / db restore round trip (labels included), and the refusal to overwrite data."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from export_fixtures import populate

from aisec_radar.cli import app
from aisec_radar.records import Label
from aisec_radar.store import connect, init_db, transaction
from aisec_radar.store.backup import table_counts
from aisec_radar.store.labels import add_label, label_history


def _snapshot(db: Path) -> dict:
    with connect(db, read_only=True) as con:
        return {
            "counts": table_counts(con),
            "labels": [(lab.arxiv_id, lab.types, lab.curator, lab.created_at) for lab in label_history(con)],
            "effective": con.execute("SELECT * FROM effective_labels ORDER BY arxiv_id").fetchall(),
            "papers": con.execute("SELECT * FROM papers ORDER BY arxiv_id").fetchall(),
        }


def test_backup_restore_round_trip(db_path: Path, tmp_path: Path) -> None:
    populate(db_path)
    before = _snapshot(db_path)
    runner = CliRunner()
    bk = tmp_path / "bk"
    r = runner.invoke(app, ["db", "backup", str(bk), "--db", str(db_path)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert (bk / "labels.jsonl").read_text().count("\n") == len(before["labels"]) == 2
    # a second backup into the same folder is refused
    r = runner.invoke(app, ["db", "backup", str(bk), "--db", str(db_path)])
    assert r.exit_code == 2 and "not empty" in r.output

    new = tmp_path / "restored.duckdb"
    r = runner.invoke(app, ["db", "restore", str(bk), "--db", str(new)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert _snapshot(new) == before
    # the label sequence continues after the restored ids
    with transaction(new) as con:
        lid = add_label(con, Label("2502.00004", ["not_relevant"], "carol"))
    assert lid == 3

    # restoring over a database with data is refused, unless --force
    r = runner.invoke(app, ["db", "restore", str(bk), "--db", str(new)])
    assert r.exit_code == 2 and "already holds data" in r.output
    r = runner.invoke(app, ["db", "restore", str(bk), "--db", str(new), "--force"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert _snapshot(new) == before  # carol's label is gone again: the backup wins

    # an empty (just initialised) database may be replaced without --force
    empty = tmp_path / "empty.duckdb"
    init_db(empty)
    r = runner.invoke(app, ["db", "restore", str(bk), "--db", str(empty)], catch_exceptions=False)
    assert r.exit_code == 0 and _snapshot(empty) == before

    r = runner.invoke(app, ["db", "restore", str(tmp_path), "--db", str(tmp_path / "x.duckdb")])
    assert r.exit_code == 2 and "not a database backup" in r.output
