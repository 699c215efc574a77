"""Trends: how many papers each axis and attack type gets per month or week, and how fast it grows."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from aisec_radar.dashboard import common

GROUP_LABEL = {"axis": "axis", "type": "attack type"}


def _growth(df, totals, key: str):
    """Last period vs the one before, per group: papers, change and share of all crawled papers."""
    import pandas as pd

    periods = sorted(totals["period"].unique())
    if len(periods) < 2:
        return None, None, None
    last, prev = periods[-1], periods[-2]
    pivot = df.pivot_table(index=key, columns="period", values="papers", aggfunc="sum", fill_value=0)
    cur = pivot[last] if last in pivot.columns else pd.Series(0, index=pivot.index)
    before = pivot[prev] if prev in pivot.columns else pd.Series(0, index=pivot.index)
    total_last = int(totals.loc[totals["period"] == last, "papers"].sum())
    out = pd.DataFrame({
        key: pivot.index,
        "papers (latest)": cur.astype(int).values,
        "papers (previous)": before.astype(int).values,
    })
    out["change"] = [
        (f"{(c - b) / b:+.0%}" if b else ("new" if c else "—")) for c, b in zip(cur.values, before.values, strict=True)
    ]
    out["share of crawled (latest)"] = [f"{c / total_last:.2%}" if total_last else "—" for c in cur.values]
    out = out.sort_values("papers (latest)", ascending=False)
    return out, pd.Timestamp(last), pd.Timestamp(prev)


def render() -> None:
    import altair as alt

    s = common.settings()
    tax = common.taxonomy(s)
    st.title("Trends")
    st.caption("Papers per axis and attack type over time. Curator labels win over the classifier's.")
    ov = common.require_db(s)
    common.require_papers(ov)
    f = common.sidebar_filters(s, tax, ov)
    amap_name = common.axis_map_choice(s, tax)
    common.sidebar_footer(s)

    c1, c2, c3 = st.columns(3)
    period = c1.radio("Period", ["month", "week"], horizontal=True, key="t_period")
    group = c2.radio("Group by", ["axis", "type"], horizontal=True, key="t_group", format_func=GROUP_LABEL.get)
    measure = c3.radio("Measure", ["papers", "share"], horizontal=True, key="t_measure",
                       format_func={"papers": "paper count", "share": "share of all crawled papers"}.get)

    amap = tax.axis_map(amap_name)
    matching = common.read(s, "count_papers", f)
    in_tax = common.read(s, "count_papers", replace(f, scope="taxonomy"))
    totals = common.read(s, "period_totals", f, period)
    m1, m2, m3 = st.columns(3)
    m1.metric("Papers matching the filters", f"{matching:,}")
    m2.metric("…of them in the taxonomy", f"{in_tax:,}")
    m3.metric("Crawled papers in the window", f"{int(totals['papers'].sum()):,}")

    if group == "axis":
        df = common.read(s, "trend_axis_counts", f, period, amap)
        df["group"] = [f"{a} — {tax.axes.get(a, a)}" for a in df["axis"]]
    else:
        df = common.read(s, "trend_type_counts", f, period, list(tax.type_ids))
        df["group"] = [common.type_name(tax, t) for t in df["type"]]
    if df.empty:
        st.info("No paper in the taxonomy matches these filters. Widen the date range or clear a filter.")
        return
    df = df.merge(totals.rename(columns={"papers": "crawled"}), on="period", how="left")
    df["share"] = df["papers"] / df["crawled"].where(df["crawled"] > 0)

    y = (alt.Y("papers:Q", title="papers", stack=True) if measure == "papers"
         else alt.Y("share:Q", title="share of crawled papers", stack=True, axis=alt.Axis(format="%")))
    title = f"Papers per {GROUP_LABEL[group]} and {period}" + (" (axis map: " + amap_name + ")" if group == "axis"
                                                                else "")
    chart = (
        alt.Chart(df, title=title)
        .mark_bar()
        .encode(
            x=alt.X("period:T", title=period, timeUnit="yearmonth" if period == "month" else "yearmonthdate"),
            y=y,
            color=alt.Color("group:N", title=GROUP_LABEL[group], legend=alt.Legend(orient="bottom", columns=3)),
            tooltip=[alt.Tooltip("period:T", title=period), alt.Tooltip("group:N", title=GROUP_LABEL[group]),
                     alt.Tooltip("papers:Q"), alt.Tooltip("share:Q", format=".2%")],
        )
        .properties(height=380)
    )
    st.altair_chart(chart, width="stretch")

    growth, last, prev = _growth(df, totals, "group")
    if growth is not None:
        st.subheader("Growth against the previous period")
        st.caption(f"Latest {period} {last:%Y-%m-%d} vs {prev:%Y-%m-%d}; the latest period may still be filling.")
        st.dataframe(growth, hide_index=True, width="stretch")
