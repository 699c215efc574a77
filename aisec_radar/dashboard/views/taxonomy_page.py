"""Streamlit page script: see aisec_radar/dashboard/taxonomy_page.py."""

from aisec_radar.dashboard import taxonomy_page

taxonomy_page.render()
