"""Runs: did last night work? Status, counts, errors and where the harvest will resume."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import streamlit as st

from aisec_radar.dashboard import common
from aisec_radar.dashboard.common import md_escape


def _ago(ts: datetime | None) -> str:
    if ts is None:
        return "never"
    now = datetime.now(UTC).replace(tzinfo=None)
    hours = (now - ts).total_seconds() / 3600
    return f"{hours:.1f} h ago" if hours < 48 else f"{hours / 24:.1f} days ago"


def render() -> None:
    import pandas as pd

    s = common.settings()
    st.title("Runs")
    common.require_db(s)
    common.sidebar_footer(s)
    runs = common.read(s, "runs_table", 100)
    checkpoints = common.read(s, "checkpoints_table")
    if not runs:
        st.info("No runs recorded yet. The nightly job (`aisec-radar nightly`) records one per night.")
    else:
        nightly = [r for r in runs if r["kind"] == "nightly"]
        last = (nightly or runs)[0]
        text = (f"Last {md_escape(last['kind'])} run #{last['run_id']}: **{md_escape(last['status'])}**, "
                f"started {last['started_at']:%Y-%m-%d %H:%M} UTC ({_ago(last['started_at'])})")
        if last["status"] == "ok":
            st.success(text)
        elif last["status"] == "running":
            st.info(text)
        else:
            st.error(text)
        if last.get("error"):
            st.code(last["error"], language=None)
        if last.get("counts"):
            cols = st.columns(min(6, len(last["counts"])))
            for i, (k, v) in enumerate(list(last["counts"].items())[:6]):
                cols[i].metric(md_escape(str(k)), str(v))
        df = pd.DataFrame([{
            "run": r["run_id"], "kind": r["kind"], "status": r["status"], "started (UTC)": r["started_at"],
            "finished (UTC)": r["finished_at"],
            "minutes": ((r["finished_at"] - r["started_at"]).total_seconds() / 60) if r["finished_at"] else None,
            "counts": json.dumps(r["counts"], sort_keys=True), "error": r["error"] or "",
        } for r in runs])
        st.subheader("Recent runs")
        st.dataframe(df, hide_index=True, width="stretch",
                     column_config={"minutes": st.column_config.NumberColumn(format="%.1f")})
    st.subheader("Harvest checkpoints")
    if checkpoints:
        st.dataframe(pd.DataFrame([{"key": k, "value": v, "updated (UTC)": t} for k, (v, t) in checkpoints.items()]),
                     hide_index=True, width="stretch")
    else:
        st.caption("No checkpoint yet: the first harvest starts from the configured window.")
