"""Emerging-topic candidates and taxonomy versions on the dashboard's Taxonomy page.

`render(settings)` is called by the Taxonomy page. Reading needs no login; the curator actions
(dismiss, merge into a type, promote to a new type) appear only for a curator signed in on the Review
page (same secret), and each is one store transaction through aisec_radar.topics.actions.
Titles are shown as plain text (st.dataframe / st.text), never as markdown or HTML.
"""

from __future__ import annotations

from typing import Any


def _read(settings: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
    from aisec_radar.store import connect

    with connect(settings.db_path, read_only=True, timeout=min(settings.lock_timeout, 5.0)) as con:
        return fn(con, *args, **kwargs)


def _overview(con: Any, show_all: bool) -> tuple[list[dict[str, Any]], int | None, dict[str, Any]]:
    """Candidates and versions in one short read (one connection open per page run, not three)."""
    from aisec_radar.store import topics as tst

    latest = tst.latest_topic_run(con)
    rows = tst.candidate_rows(con, statuses=None if show_all else ("open",))
    if not show_all:
        rows = [r for r in rows if r["last_run_id"] == latest]
    return rows, latest, _versions(con)


def _detail(con: Any, topic_id: str) -> dict[str, Any]:
    from aisec_radar.store import topics as tst

    return {"snapshots": tst.snapshots(con, topic_id=topic_id), "members": tst.members(con, topic_id),
            "actions": tst.actions(con, topic_id), "candidate": tst.get_candidate(con, topic_id)}


def _versions(con: Any) -> dict[str, Any]:
    from aisec_radar.store import taxonomy_versions as tv

    versions = tv.list_versions(con)
    maps = {v["version"]: tv.get_mapping(con, v["parent_version"], v["version"]) for v in versions
            if v["parent_version"]}
    return {"versions": versions, "mappings": maps}


def _curator(settings: Any) -> str | None:
    import streamlit as st

    name = st.session_state.get("curator")
    return str(name) if name and settings.curator_secret_hash else None


def _actions(settings: Any, cand: dict[str, Any], last: dict[str, Any], curator: str | None) -> None:
    import streamlit as st

    from aisec_radar.errors import AisecRadarError
    from aisec_radar.taxonomy import load_taxonomy
    from aisec_radar.topics import dismiss, merge, promote, reopen

    tid = cand["topic_id"]
    if curator is None:
        st.caption("Curators: sign in on the Review page to dismiss, merge or promote this candidate "
                   f"(or use `aisec-radar topics dismiss|merge|promote {tid}`).")
        return
    tax = load_taxonomy(settings.taxonomy_path or None)
    try:
        if cand["status"] != "open":
            st.caption(f"{tid} is {cand['status']}" + (f" ({cand['target']})" if cand["target"] else ""))
            if st.button("Reopen", key=f"tp_reopen_{tid}"):
                reopen(settings.db_path, tid, curator)
                st.success(f"{tid} reopened")
            return
        c1, c2, c3 = st.columns(3)
        with c1:
            st.markdown("**Dismiss**")
            note = st.text_input("Why (optional)", key=f"tp_dnote_{tid}")
            if st.button("Dismiss", key=f"tp_dismiss_{tid}"):
                dismiss(settings.db_path, tid, curator, note=note or None)
                st.success(f"{tid} dismissed")
        with c2:
            st.markdown("**Merge into a type**")
            types = list(tax.type_ids)
            near = last.get("nearest_type")
            into = st.selectbox("Type", types, index=types.index(near) if near in types else 0,
                                key=f"tp_into_{tid}")
            if st.button("Merge: queue its papers for review", key=f"tp_merge_{tid}"):
                r = merge(settings.db_path, tid, into, tax, curator)
                st.success(f"{tid} merged into {into}: {r.queued} paper(s) are in the review queue")
        with c3:
            st.markdown("**Promote to a new type**")
            new_id = st.text_input("New type id", key=f"tp_newid_{tid}", placeholder="agent_hijacking")
            title = st.text_input("Display name", key=f"tp_title_{tid}")
            axes = ["(nearest type's)"] + list(tax.axes)
            axis = st.selectbox("Axis", axes, key=f"tp_axis_{tid}")
            if st.button("Promote: new taxonomy version", key=f"tp_promote_{tid}"):
                from pathlib import Path

                from aisec_radar.taxonomy.versions import next_version

                version = next_version(tax.version)
                out = Path(settings.db_path).resolve().parent / "taxonomy" / f"ai_security-{version}.yaml"
                r = promote(settings.db_path, tid, new_id.strip(), settings.taxonomy_path or None, curator,
                            name=title or None, axis=None if axis == axes[0] else axis, version=version,
                            out_path=out)
                st.success(f"{tid} is type {r.target} in taxonomy {r.taxonomy_version}: {r.queued} paper(s) queued "
                           f"for review. The new YAML is at {r.yaml_path}; set taxonomy_path to use it.")
    except AisecRadarError as exc:
        st.error(str(exc))


def render(settings: Any) -> None:
    """The panel: candidates of the latest discovery run, one candidate's evidence, curator actions, versions."""
    import pandas as pd
    import streamlit as st

    from aisec_radar.errors import DatabaseLocked, StoreError

    show_all = st.toggle("Show dismissed, merged and promoted candidates too", key="tp_all")
    try:
        rows, latest, versions = _read(settings, _overview, show_all)
    except DatabaseLocked:
        st.info("The database is busy (a nightly run is writing); the candidates show again in a moment.")
        return
    except StoreError as exc:
        st.info(f"No topic candidates: {exc}")
        return
    if latest is None:
        st.info("No topic discovery has run yet. It runs with the nightly job, or by hand: "
                "`aisec-radar topics discover`.")
    elif not rows:
        st.info("The latest discovery run found no open candidates.")
    if rows:
        st.caption("AI-security papers no type explains, clustered over the last months. Growth = papers in the "
                   "last 30 days of the window vs the 30 days before. Ids stay the same across nightly runs.")
        table = pd.DataFrame([{
            "id": r["topic_id"], "status": r["status"], "papers": r["size"], "growth": r["growth"],
            "runs seen": r["runs_seen"], "nearest type": r["nearest_type"],
            "similarity": round(r["nearest_sim"] or 0.0, 2), "key phrases": ", ".join(r["key_phrases"][:6]),
        } for r in rows])
        st.dataframe(table, hide_index=True, width="stretch", column_config={
            "growth": st.column_config.NumberColumn(format="percent")})
        chosen = st.selectbox("Candidate", [r["topic_id"] for r in rows], key="tp_pick",
                              format_func=lambda t: next(f"{t}: {', '.join(r['key_phrases'][:3])}"
                                                         for r in rows if r["topic_id"] == t))
        d = _read(settings, _detail, chosen)
        last = d["snapshots"][-1] if d["snapshots"] else {}
        c1, c2 = st.columns(2)
        with c1:
            st.markdown("**Papers per month (latest run)**")
            months = last.get("monthly_counts") or {}
            if months:
                st.bar_chart(pd.DataFrame({"month": list(months), "papers": list(months.values())})
                             .set_index("month"))
        with c2:
            st.markdown("**Size over discovery runs**")
            hist = pd.DataFrame([{"run": s["run_id"], "papers": s["size"]} for s in d["snapshots"]])
            if not hist.empty:
                st.line_chart(hist.set_index("run"))
        st.markdown("**Key phrases**")
        st.text(", ".join(d["candidate"]["key_phrases"]) if d["candidate"] else "")
        sims = last.get("type_sims") or {}
        if sims:
            st.markdown("**Similarity to each type** (centroid vs type prototype)")
            st.dataframe(pd.DataFrame(sorted(sims.items(), key=lambda kv: -kv[1]), columns=["type", "cosine"]),
                         hide_index=True)
        st.markdown("**Member papers** (closest to the centroid first)")
        st.dataframe(pd.DataFrame([{"arxiv id": m["arxiv_id"], "title": m["title"], "date": m["day"],
                                    "similarity": round(m["score"] or 0.0, 3)} for m in d["members"]]),
                     hide_index=True, width="stretch")
        if d["actions"]:
            st.markdown("**Curator actions**")
            st.dataframe(pd.DataFrame(d["actions"]), hide_index=True)
        if d["candidate"]:
            _actions(settings, d["candidate"], last, _curator(settings))

    st.subheader("Taxonomy versions")
    v = versions
    if not v["versions"]:
        st.caption("Only the shipped taxonomy so far. New versions come from promoting a candidate or from "
                   "`aisec-radar taxonomy new-version CHANGES.yaml` (see docs/curator-guide.md).")
        return
    st.dataframe(pd.DataFrame([{k: x[k] for k in ("version", "parent_version", "created_at", "created_by", "labels",
                                                  "predictions", "note")} for x in v["versions"]]),
                 hide_index=True, width="stretch")
    for version, mapping in v["mappings"].items():
        changed = [(o, n, k) for o, n, k in mapping if k != "same"]
        with st.expander(f"{version}: {len(changed)} change(s) from its parent"):
            st.dataframe(pd.DataFrame(changed, columns=["old id", "new id", "kind"]), hide_index=True)
