"""Trends: how many papers each axis and attack type gets per month or week, and how fast it grows."""

from __future__ import annotations

import streamlit as st

from aisec_radar.dashboard import common

GROUP_LABEL = {"axis": "axis", "type": "attack type"}


def _growth(df, totals, key: str, period: str):
    """Latest period vs the calendar period before it, per group: papers, change, share of crawled papers."""
    import pandas as pd

    if totals.empty:
        return None, None, None
    last = pd.Timestamp(totals["period"].max())
    prev = last - (pd.DateOffset(months=1) if period == "month" else pd.Timedelta(days=7))
    when = pd.to_datetime(df["period"])
    cur = df[when == last].groupby(key)["papers"].sum()
    before = df[when == prev].groupby(key)["papers"].sum()
    groups = sorted(set(df[key]))
    total_last = int(totals.loc[pd.to_datetime(totals["period"]) == last, "papers"].sum())
    rows = []
    for g in groups:
        c, b = int(cur.get(g, 0)), int(before.get(g, 0))
        rows.append({key: g, "papers (latest)": c, "papers (previous)": b,
                     "change": f"{(c - b) / b:+.0%}" if b else ("new" if c else "—"),
                     "share of crawled (latest)": f"{c / total_last:.2%}" if total_last else "—"})
    out = pd.DataFrame(rows).sort_values("papers (latest)", ascending=False)
    return out, last, prev


@st.cache_data(ttl=common.CACHE_TTL, show_spinner="Reading every decision under that version…", max_entries=20)
def _counts_under(db_path: str, data_version: tuple[float, float], version: str) -> dict:
    from aisec_radar.taxonomy.migrate import counts_under

    return counts_under(db_path, version, by_month=True)


def _under_version(s, tax) -> None:
    """Trends under another taxonomy version: every label and prediction translated through the mappings."""
    import altair as alt
    import pandas as pd

    names = common.read(s, "taxonomy_version_names")
    if len(names) < 2:
        return
    st.subheader("Under another taxonomy version")
    c1, c2 = st.columns([3, 1])
    version = c1.selectbox("Read every label and prediction under version", names, key="t_version",
                           index=names.index(tax.version) if tax.version in names else len(names) - 1)
    if not c2.toggle("Count", key="t_version_show",
                     help="Translates every decision through the version mappings (takes a few seconds)"):
        st.caption("Switch on to count the whole store under that version (the filters above do not apply).")
        return
    try:
        data = _counts_under(s.db_path, common._data_version(s.db_path), version)
    except Exception as exc:  # another area's translation: keep the page
        st.warning(f"Cannot count under {common.md_escape(version)}: {common.md_escape(str(exc))}")
        return
    rows = [{"month": m, "type": t, "papers": n, "decided": True}
            for t, per in data["types"].items() for m, n in per.items()]
    rows += [{"month": m, "type": f"{t} (undecided)", "papers": n, "decided": False}
             for t, per in data["undecided"].items() for m, n in per.items()]
    df = pd.DataFrame(rows)
    if df.empty:
        st.info("No classified or labelled paper to count.")
        return
    df = df[~df["type"].isin(["not_relevant", "other_aisec"]) & (df["month"] != "unknown")]
    df["month"] = pd.to_datetime(df["month"] + "-01")
    st.altair_chart(alt.Chart(df, title=f"Papers per type and month under taxonomy {version}").mark_bar().encode(
        x=alt.X("month:T", title="month"), y=alt.Y("papers:Q", stack=True),
        color=alt.Color("type:N", legend=alt.Legend(orient="bottom", columns=3)),
        opacity=alt.condition("datum.decided", alt.value(1.0), alt.value(0.45)),
        tooltip=["month:T", "type:N", "papers:Q"]).properties(height=320), width="stretch")
    undecided = int(df.loc[~df["decided"], "papers"].sum())
    st.caption(f"{data['papers']:,} papers; {undecided:,} type assignments are undecided (a split not yet "
               "reviewed, or a merge read backwards) and drawn faded under each candidate type.")


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
    bundle = common.read(s, "trend_bundle", f, period, group, amap, list(tax.type_ids))
    matching, in_tax = bundle["matching"], bundle["in_taxonomy"]
    totals = common.read(s, "period_totals", f, period)
    m1, m2, m3 = st.columns(3)
    m1.metric("Papers matching the filters", f"{matching:,}")
    m2.metric("…of them in the taxonomy", f"{in_tax:,}")
    m3.metric("Crawled papers in the window", f"{int(totals['papers'].sum()):,}")

    df = bundle["series"].copy()
    if group == "axis":
        df["group"] = [f"{a} — {tax.axes.get(a, a)}" for a in df["axis"]]
    else:
        df["group"] = [common.type_name(tax, t) for t in df["type"]]
    if df.empty:
        st.info("No paper in the taxonomy matches these filters. Widen the date range or clear a filter.")
        return
    df["period"] = df["period"].astype("datetime64[ns]")
    totals = totals.assign(period=totals["period"].astype("datetime64[ns]"))
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

    growth, last, prev = _growth(df, totals, "group", period)
    if growth is not None:
        st.subheader("Growth against the previous period")
        st.caption(f"Latest {period} {last:%Y-%m-%d} vs {prev:%Y-%m-%d}; the latest period may still be filling.")
        st.dataframe(growth, hide_index=True, width="stretch")
    _under_version(s, tax)
