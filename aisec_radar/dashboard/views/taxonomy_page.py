"""Streamlit page script: see aisec_radar/dashboard/taxonomy_page.py."""

from aisec_radar.dashboard import taxonomy_page
from aisec_radar.dashboard.common import run_page

run_page(taxonomy_page.render)
