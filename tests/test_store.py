"""Store: migrations, refusal of newer files, idempotent upserts, atomic batches, labels history."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from aisec_radar.errors import SchemaTooNew
from aisec_radar.records import Label, Paper, PaperVersion
from aisec_radar.store import code_schema_version, connect, init_db, transaction
from aisec_radar.store.db import _migrations, migrate
from aisec_radar.store.labels import (
    add_label,
    import_labels,
    label_from_json,
    label_history,
    label_to_json,
    latest_labels,
)
from aisec_radar.store.papers import get_versions, upsert_papers


def paper(i: int, title: str = "Jailbreaking aligned models", version: int = 1, **kw) -> Paper:
    return Paper(arxiv_id=f"2601.{i:05d}", title=title, abstract=f"Abstract {i}.", authors=["A. Author"],
                 categories=["cs.CR", "cs.LG"], primary_category="cs.CR", published=date(2026, 1, 5),
                 updated=date(2026, 1, 5), version=version, **kw)


def test_fresh_db_has_latest_schema(db_path: Path) -> None:
    with connect(db_path, read_only=True) as con:
        assert con.execute("SELECT max(version) FROM schema_version").fetchone()[0] == code_schema_version()
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert {"papers", "paper_versions", "predictions", "labels", "runs", "harvest_state", "embeddings"} <= tables


def test_old_file_is_migrated_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    migrate(con, path, upto=1)  # a file as the first release wrote it
    con.execute("BEGIN")
    upsert_papers(con, [paper(1)])
    add_label(con, Label(arxiv_id="2601.00001", types=["jailbreak"], curator="ana"))
    con.execute("COMMIT")
    con.close()
    applied = init_db(path)
    assert len(applied) == len([m for m in _migrations() if m[0] > 1])
    with connect(path, read_only=True) as con:
        assert con.execute("SELECT max(version) FROM schema_version").fetchone()[0] == code_schema_version()
        assert con.execute("SELECT count(*) FROM papers").fetchone()[0] == 1
        assert con.execute("SELECT types FROM labels").fetchone()[0] == ["jailbreak"]
    assert init_db(path) == []  # nothing left to apply


def test_read_only_open_of_old_file_upgrades_it(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    migrate(con, path, upto=1)
    con.close()
    with connect(path, read_only=True) as con:
        assert con.execute("SELECT max(version) FROM schema_version").fetchone()[0] == code_schema_version()


def test_newer_file_is_refused(db_path: Path) -> None:
    con = duckdb.connect(str(db_path))
    con.execute("INSERT INTO schema_version (version, name) VALUES (?, 'from the future')",
                [code_schema_version() + 5])
    con.close()
    for read_only in (False, True):
        with pytest.raises(SchemaTooNew, match="upgrade aisec-radar"):
            with connect(db_path, read_only=read_only):
                pass


def test_upserts_are_idempotent_and_count_changes(db_path: Path) -> None:
    batch = [paper(i) for i in range(5)]
    with transaction(db_path) as con:
        c1 = upsert_papers(con, batch)
    with transaction(db_path) as con:
        c2 = upsert_papers(con, batch)
    assert (c1.new, c1.updated, c1.unchanged) == (5, 0, 0)
    assert (c2.new, c2.updated, c2.unchanged) == (0, 0, 5)
    v2 = paper(0, version=2, versions=[PaperVersion(1), PaperVersion(2, submitted=datetime(2026, 2, 1))])
    v2.updated = date(2026, 2, 1)
    with transaction(db_path) as con:
        c3 = upsert_papers(con, [v2])
        assert [r[0] for r in get_versions(con, "2601.00000")] == [1, 2]
    assert (c3.updated, c3.text_changed) == (1, 0)  # same text: predictions stay valid
    v3 = paper(0, title="A different title", version=3)
    with transaction(db_path) as con:
        c4 = upsert_papers(con, [v3])
        n, latest = con.execute("SELECT count(*), max(latest_version) FROM papers").fetchone()
    assert (c4.updated, c4.text_changed) == (1, 1)
    assert (n, latest) == (5, 3)


def test_failed_batch_rolls_back_whole(db_path: Path) -> None:
    with pytest.raises(RuntimeError):
        with transaction(db_path) as con:
            upsert_papers(con, [paper(i) for i in range(3)])
            raise RuntimeError("crawler died mid-page")
    with connect(db_path, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM papers").fetchone()[0] == 0


def test_latest_label_wins_and_history_is_kept(db_path: Path) -> None:
    with transaction(db_path) as con:
        upsert_papers(con, [paper(1)])
        add_label(con, Label(arxiv_id="2601.00001", types=["jailbreak"], curator="ana",
                             created_at=datetime(2026, 1, 1)))
        add_label(con, Label(arxiv_id="2601.00001", types=["poisoning"], role="attack", curator="bo",
                             created_at=datetime(2026, 1, 2)))
    with connect(db_path, read_only=True) as con:
        assert latest_labels(con)["2601.00001"].types == ["poisoning"]
        assert [lab.types for lab in label_history(con, "2601.00001")] == [["jailbreak"], ["poisoning"]]
        eff = con.execute("SELECT types, provenance FROM effective_labels").fetchone()
    assert eff == (["poisoning"], "curated")


def test_label_json_round_trip_and_import_is_idempotent(db_path: Path, tmp_path: Path) -> None:
    with transaction(db_path) as con:
        add_label(con, Label(arxiv_id="2601.00001", types=["jailbreak"], curator="ana", note="héllo",
                             created_at=datetime(2026, 1, 1, 12, 30)))
        add_label(con, Label(arxiv_id="2601.00001", types=["poisoning"], curator="bo",
                             created_at=datetime(2026, 1, 2)))
        history = label_history(con)
    lines = [json.dumps(label_to_json(lab)) for lab in history]
    back = [label_from_json(json.loads(line)) for line in lines]
    other = tmp_path / "other.duckdb"
    with transaction(other) as con:
        assert import_labels(con, back) == (2, 0)
        assert import_labels(con, back) == (0, 2)
        rebuilt = label_history(con)
    assert [(lab.arxiv_id, lab.types, lab.curator, lab.note, lab.created_at) for lab in rebuilt] == [
        (lab.arxiv_id, lab.types, lab.curator, lab.note, lab.created_at) for lab in history
    ]


def test_nested_write_inside_open_connection_is_refused_at_once(db_path: Path) -> None:
    """Our file lock would otherwise wait for itself until the timeout."""
    from aisec_radar.errors import StoreError

    with connect(db_path, read_only=True):
        with pytest.raises(StoreError, match="nested write connection"):
            with transaction(db_path, timeout=30):
                pass
        with connect(db_path, read_only=True) as inner:  # two readers in one thread are fine
            assert inner.execute("SELECT 1").fetchone() == (1,)
    with transaction(db_path) as con:  # and the lock is free again afterwards
        con.execute("SELECT 1")


def test_writer_waits_for_reader_in_other_process_then_times_out_clearly(db_path: Path) -> None:
    import subprocess
    import sys

    from aisec_radar.errors import DatabaseLocked

    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\nfrom aisec_radar.store import connect\n"
         f"with connect({str(db_path)!r}, read_only=True):\n    print('held', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(DatabaseLocked, match="stayed locked by another process"):
            with transaction(db_path, timeout=0.5):
                pass
    finally:
        holder.kill()
        holder.wait()
    with transaction(db_path, timeout=10) as con:
        con.execute("SELECT 1")


def test_migration_added_into_a_numbering_gap_is_still_applied(tmp_path: Path, monkeypatch) -> None:
    """Areas reserve migration numbers, so a file can be at 007 before a 003 ships: 003 must still run."""
    from aisec_radar.store import db

    path = tmp_path / "gap.duckdb"
    shipped = db._migrations()
    later = max(m[0] for m in shipped) + 2
    init_db(path)
    extra = [(later, f"{later:03d}_later.sql", "CREATE TABLE later_t (x INTEGER);")]
    db._migrations.cache_clear()
    monkeypatch.setattr(db, "_migrations", lambda: shipped + extra)
    init_db(path)
    gap = [(later - 1, f"{later - 1:03d}_gap.sql", "CREATE TABLE gap_t (x INTEGER);")]
    monkeypatch.setattr(db, "_migrations", lambda: sorted(shipped + gap + extra))
    with connect(path, read_only=True) as con:  # the reader's upgrade path notices the gap too
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        versions = {r[0] for r in con.execute("SELECT version FROM schema_version").fetchall()}
    assert {"later_t", "gap_t"} <= tables
    assert {later - 1, later} <= versions


def test_a_long_waiter_holding_the_turnstile_stops_newcomers(tmp_path: Path) -> None:
    """Against starvation: while a process that has waited long holds <db>.lock.turn, nobody new
    takes the database lock (even a free one); once it lets go, everyone gets through again."""
    import fcntl
    import os

    from aisec_radar.errors import DatabaseLocked
    from aisec_radar.store import connect

    db = tmp_path / "t.duckdb"
    with connect(db, read_only=False) as con:
        con.execute("SELECT 1")
    turn = os.open(str(db) + ".lock.turn", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(turn, fcntl.LOCK_EX)
        with pytest.raises(DatabaseLocked), connect(db, read_only=True, timeout=0.3):
            pass
    finally:
        os.close(turn)
    with connect(db, read_only=True, timeout=1) as con:
        assert con.execute("SELECT 1").fetchone() == (1,)
