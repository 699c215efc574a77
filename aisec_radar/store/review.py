"""The one write the dashboard adds to the label store: undoing a curator's own last action.

Labels are append-only so history survives disagreement between curators. An undo is different:
it takes back a click made seconds ago (a misclick, the wrong paper), and the paper must return to
the review queue, which appending another label cannot express. So undo deletes exactly the label
row the same curator just wrote from the dashboard, and nothing else.
"""

from __future__ import annotations

import duckdb

from aisec_radar.errors import InputError


def undo_label(con: duckdb.DuckDBPyConnection, label_id: int, curator: str) -> str:
    """Delete label ``label_id`` if ``curator`` wrote it from the dashboard; return its paper id."""
    row = con.execute("SELECT arxiv_id, curator, source FROM labels WHERE label_id = ?", [label_id]).fetchone()
    if row is None:
        raise InputError(f"label {label_id} does not exist (already undone?)")
    arxiv_id, owner, source = row
    if owner != curator or source != "dashboard":
        raise InputError(f"label {label_id} was written by {owner} via {source}; only your own dashboard "
                         "labels can be undone")
    con.execute("DELETE FROM labels WHERE label_id = ?", [label_id])
    return str(arxiv_id)
