"""Streamlit page script: see aisec_radar/dashboard/papers.py."""

from aisec_radar.dashboard import papers
from aisec_radar.dashboard.common import run_page

run_page(papers.render)
