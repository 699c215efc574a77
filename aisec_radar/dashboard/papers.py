"""Papers: keyword and semantic search, a sortable table, and one paper's full record."""

from __future__ import annotations

from typing import Any

import streamlit as st

from aisec_radar.config import Settings
from aisec_radar.dashboard import common
from aisec_radar.dashboard.common import md_escape
from aisec_radar.taxonomy import Taxonomy

PAGE_SIZE = 200


@st.cache_data(ttl=3600, show_spinner=False, max_entries=200)
def _encode(_s: Settings, model_key: str, text: str) -> list[float]:
    encode_texts, _key, paper_text = _encoder_api()
    vec = encode_texts(_s, [paper_text(text) if paper_text else text])[0]
    return [float(x) for x in vec]


def _encoder_api() -> tuple:
    """(encode_texts, encoder_model_key, paper_text or None) from the classifier, imported lazily (torch)."""
    try:
        from aisec_radar.classify.encoder import encode_texts, encoder_model_key, paper_text
    except ImportError:
        from aisec_radar.classify import encode_texts, encoder_model_key  # the package-level contract

        paper_text = None
    return encode_texts, encoder_model_key, paper_text


def _semantic(s: Settings, f, text: str):
    """Encode the query with the classifier's encoder, compare with stored embeddings inside DuckDB."""
    try:
        _encode_texts, encoder_model_key, _ = _encoder_api()
    except ImportError:
        st.info("Semantic search needs the classifier's encoder (`aisec_radar.classify.encode_texts`), "
                "which this installation does not provide yet. Use keyword search instead.")
        return None
    configured = encoder_model_key(s)
    model_key = common.read(s, "search_model_key", configured)
    if model_key is None:
        st.info(f"No stored embeddings for encoder {md_escape(configured)} yet: run `aisec-radar classify` "
                "(or the nightly job) first.")
        return None
    if model_key != configured:
        st.caption(f"Searching the vectors stored by {md_escape(model_key)} (the setting is "
                   f"{md_escape(configured)}; `aisec-radar classify --all` re-encodes with it).")
    with st.spinner("Encoding the query…"):
        try:
            vec = _encode(s, model_key, text)
        except Exception as exc:  # the encoder is another stage: show its failure, keep the page
            st.error(f"The encoder failed: {md_escape(str(exc))}")
            return None
    return common.read(s, "semantic_search", f, vec, model_key, limit=PAGE_SIZE)


def render() -> None:
    s = common.settings()
    tax = common.taxonomy(s)
    st.title("Papers")
    ov = common.require_db(s)
    common.require_papers(ov)
    f = common.sidebar_filters(s, tax, ov, with_types=True)
    common.sidebar_footer(s)

    c1, c2 = st.columns([1, 3])
    mode = c1.radio("Search", ["keyword", "semantic"], key="p_mode",
                    format_func={"keyword": "keywords", "semantic": "papers like this text"}.get)
    query = c2.text_input("Words in title or abstract" if mode == "keyword" else "Describe the papers you want",
                          key="p_query")
    if mode == "semantic" and query.strip():
        df = _semantic(s, f, query.strip())
        if df is None:
            return
        total = len(df)
        st.metric("Most similar papers shown", f"{total:,}")
    else:
        c1, c2 = st.columns([3, 1])
        sort = c1.selectbox("Sort by", list(common.queries.SORTS), key="p_sort")
        page_no = int(st.session_state.get("p_page") or 1)
        total, df = common.read(s, "search_page", f, query, sort, limit=PAGE_SIZE, offset=(page_no - 1) * PAGE_SIZE)
        pages = max(1, -(-total // PAGE_SIZE))
        if page_no > pages:  # the filters shrank the result below the page shown: back to the last page
            page_no = pages
            st.session_state["p_page"] = pages
            total, df = common.read(s, "search_page", f, query, sort, limit=PAGE_SIZE,
                                    offset=(page_no - 1) * PAGE_SIZE)
        c2.number_input(f"Page (of {pages:,})", min_value=1, max_value=pages, key="p_page")
        st.metric("Papers matching", f"{total:,}")
        if total > PAGE_SIZE:
            first = (page_no - 1) * PAGE_SIZE + 1
            st.caption(f"Rows {first:,}–{min(total, first + PAGE_SIZE - 1):,} of {total:,} in the chosen order.")
    if df.empty:
        st.info("No paper matches. Clear a filter or change the search words.")
        return
    df = df.rename(columns={"d": "date"})
    df.insert(1, "link", "https://arxiv.org/abs/" + df["arxiv_id"])
    st.dataframe(
        df, hide_index=True, width="stretch", key="p_table",
        column_config={
            "link": st.column_config.LinkColumn("arXiv", display_text="abs"),
            "confidence": st.column_config.NumberColumn(format="%.2f"),
            "similarity": st.column_config.NumberColumn(format="%.3f"),
            "date": st.column_config.DateColumn(),
        },
    )

    st.divider()
    ids = list(df["arxiv_id"])
    titles = dict(zip(df["arxiv_id"], df["title"], strict=True))
    wanted = st.query_params.get("paper")
    picked = st.selectbox("Open a paper", ids, index=ids.index(wanted) if wanted in ids else 0, key="p_pick",
                          format_func=lambda a: f"{a} — {(titles.get(a) or '')[:110]}")
    other = st.text_input("…or any arXiv id in the store", key="p_open_id").strip()
    if not other and wanted and wanted not in ids:
        other = str(wanted)  # a shared link (?paper=ID) opens that paper whatever the filters
    show_paper(s, tax, other or picked)


def _scores_chart(scores: dict[str, float], tax: Taxonomy):
    import altair as alt
    import pandas as pd

    df = pd.DataFrame({"type": [common.type_name(tax, t) for t in scores],
                       "probability": [float(v) for v in scores.values()]})
    return (alt.Chart(df).mark_bar().encode(
        x=alt.X("probability:Q", scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("type:N", sort="-x", title=None),
        tooltip=["type", alt.Tooltip("probability:Q", format=".3f")],
    ).properties(height=28 * max(3, len(df))))


def show_explanation(explanation: dict[str, Any], tax: Taxonomy) -> None:
    """Matched cue phrases per type and the nearest curated papers, all as plain text."""
    import pandas as pd

    cues = explanation.get("cues") or {}
    if cues:
        st.markdown("**Matched cue phrases**")
        for t, phrases in cues.items():
            st.markdown(f"- {md_escape(common.type_name(tax, t))}: " + ", ".join(md_escape(str(p)) for p in phrases))
    neighbours = explanation.get("neighbours") or []
    if neighbours:
        st.markdown("**Nearest curated papers**")
        st.dataframe(pd.DataFrame([{
            "arxiv_id": n.get("arxiv_id"), "title": n.get("title"),
            "types": ", ".join(n.get("types") or []), "similarity": n.get("similarity"),
        } for n in neighbours]), hide_index=True, width="stretch")
    if not cues and not neighbours:
        st.caption("No explanation stored with this prediction.")


def show_paper(s: Settings, tax: Taxonomy, arxiv_id: str) -> None:
    from urllib.parse import quote

    from aisec_radar.records import split_arxiv_id

    base, _ = split_arxiv_id(arxiv_id)
    d = common.read(s, "paper_detail", base)
    if d is None:
        st.warning(f"Paper {md_escape(base)} is not in the store.")
        return
    st.subheader(md_escape(d["title"]))
    st.markdown(f"[arxiv.org/abs/{md_escape(base)}](https://arxiv.org/abs/{quote(base, safe='/.')})"
                f" · {md_escape(str(d['date'] or 'date unknown'))}"
                f" · {md_escape(', '.join(d['categories'] or []))}"
                + (" · cross-listed" if d["is_cross_list"] else "")
                + (f" · doi {md_escape(d['doi'])}" if d["doi"] else ""))
    if d["authors"]:
        st.caption(md_escape(", ".join(d["authors"])))
    st.markdown(md_escape(d["abstract"]))
    cited = d["survey"]
    st.caption(f"Cited by the survey ({md_escape(cited['bibkey'] or '')})" if cited else "Not yet cited by the survey")

    st.markdown(f"**Effective label** ({d['provenance']}): "
                + md_escape(", ".join(common.type_name(tax, t) for t in (d["types"] or [])) or "none")
                + (f" · role {md_escape(d['role'])}" if d["role"] else "")
                + (f" · modality {md_escape(d['modality'])}" if d["modality"] else ""))

    preds = d["predictions"]
    if preds:
        p = preds[0]
        st.markdown(f"**Prediction** ({md_escape(p['model_version'])}, taxonomy {md_escape(p['taxonomy_version'])}):"
                    f" {md_escape(p['relevance'])}"
                    + (" → " + md_escape(", ".join(p["labels"])) if p["labels"] else "")
                    + (f" · confidence {p['confidence']:.2f}" if p["confidence"] is not None else "")
                    + f" · {md_escape(p['status'])}" + (" · stale (text changed since)" if p["stale"] else ""))
        c1, c2 = st.columns(2)
        with c1:
            if p["type_scores"]:
                st.altair_chart(_scores_chart(p["type_scores"], tax), width="stretch")
        with c2:
            show_explanation(p["explanation"], tax)
    else:
        st.caption("Not classified yet.")

    c1, c2 = st.columns(2)
    with c1:
        st.markdown("**Versions**")
        if d["versions"].empty:
            st.caption("none recorded")
        else:
            st.dataframe(d["versions"], hide_index=True, width="stretch")
    with c2:
        st.markdown("**Label history**")
        if d["labels"].empty:
            st.caption("no curator label yet")
        else:
            st.dataframe(d["labels"], hide_index=True, width="stretch")
