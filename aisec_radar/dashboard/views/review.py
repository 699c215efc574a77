"""Streamlit page script: see aisec_radar/dashboard/review.py."""

from aisec_radar.dashboard import review
from aisec_radar.dashboard.common import run_page

run_page(review.render)
