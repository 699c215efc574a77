"""Entry point of the dashboard: `aisec-radar dashboard` runs `streamlit run` on this file."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

HERE = Path(__file__).resolve().parent

st.set_page_config(page_title="aisec-radar", page_icon=":material/radar:", layout="wide")

pages = [
    st.Page(str(HERE / "views" / "trends.py"), title="Trends", icon=":material/trending_up:", default=True),
    st.Page(str(HERE / "views" / "papers.py"), title="Papers", icon=":material/article:"),
    st.Page(str(HERE / "views" / "review.py"), title="Review", icon=":material/rate_review:"),
    st.Page(str(HERE / "views" / "taxonomy_page.py"), title="Taxonomy", icon=":material/account_tree:",
            url_path="taxonomy"),
    st.Page(str(HERE / "views" / "runs.py"), title="Runs", icon=":material/schedule:"),
]
st.navigation(pages).run()
