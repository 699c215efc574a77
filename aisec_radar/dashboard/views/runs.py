"""Streamlit page script: see aisec_radar/dashboard/runs.py."""

from aisec_radar.dashboard import runs
from aisec_radar.dashboard.common import run_page

run_page(runs.render)
