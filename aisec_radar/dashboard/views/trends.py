"""Streamlit page script: see aisec_radar/dashboard/trends.py."""

from aisec_radar.dashboard import trends
from aisec_radar.dashboard.common import run_page

run_page(trends.render)
