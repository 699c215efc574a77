"""Taxonomy: per-type counts, how much is curated, how often curators agree with the classifier."""

from __future__ import annotations

import importlib

import streamlit as st

from aisec_radar.dashboard import common


def _topics(s) -> None:
    st.subheader("Emerging-topic candidates")
    try:
        topics_panel = importlib.import_module("aisec_radar.dashboard.topics_panel")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.endswith("topics_panel"):
            st.info("No topic candidates yet: topic discovery is not part of this installation.")
            return
        st.warning(f"Topic candidates are unavailable: {exc}")
        return
    common.release_reads()  # the panel opens its own connections and may write (curator actions)
    try:
        topics_panel.render(s)
    except common.DashboardStop:
        raise
    except Exception as exc:  # another area's panel: keep the rest of the page usable
        st.warning(f"The topic panel failed: {common.md_escape(str(exc))}")


def render() -> None:
    import pandas as pd

    s = common.settings()
    tax = common.taxonomy(s)
    st.title("Taxonomy")
    st.caption(f"Taxonomy version {tax.version}. Counts use the effective label (the curator's when there is one).")
    ov = common.require_db(s)
    amap_name = common.axis_map_choice(s, tax)
    common.sidebar_footer(s)
    amap = tax.axis_map(amap_name)
    label_ids = list(tax.label_ids)

    counts = common.read(s, "type_summary", label_ids).set_index("type")
    agree = common.read(s, "agreement", label_ids).set_index("type")
    pairs = common.read(s, "reviewed_pairs")
    rows = []
    for t in label_ids:
        n = int(counts["papers"].get(t, 0)) if not counts.empty else 0
        cur = int(counts["curated"].get(t, 0)) if not counts.empty else 0
        pred = int(agree["predicted"].get(t, 0)) if not agree.empty else 0
        ok = int(agree["agreed"].get(t, 0)) if not agree.empty else 0
        curated_pos = int(agree["curated"].get(t, 0)) if not agree.empty else 0
        rows.append({
            "type": common.type_name(tax, t), "id": t, "axis": amap.get(t, "—"), "papers": n,
            "curated": cur, "curated share": (cur / n) if n else None,
            "precision est.": (ok / pred) if pred else None, "recall est.": (ok / curated_pos) if curated_pos else None,
            "reviewed (predicted)": pred,
        })
    df = pd.DataFrame(rows)
    if ov["papers"] == 0:
        st.info("The database has no papers yet; the table fills after the first nightly run.")
    m1, m2, m3 = st.columns(3)
    m1.metric("Papers", f"{ov['papers']:,}")
    m2.metric("Curated papers", f"{ov['labelled_papers']:,}")
    m3.metric("Papers with label and prediction", f"{pairs:,}")
    st.dataframe(df, hide_index=True, width="stretch", column_config={
        "curated share": st.column_config.NumberColumn(format="percent"),
        "precision est.": st.column_config.NumberColumn(format="percent"),
        "recall est.": st.column_config.NumberColumn(format="percent"),
    })
    st.caption("Precision est. = of the papers the classifier gave a type and a curator then labelled, the share "
               "the curator kept that type; recall est. = of the curator's papers of a type, the share the "
               "classifier had found. Few reviewed papers make these rough: see the 'reviewed' column.")
    _topics(s)
