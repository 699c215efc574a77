"""Streamlit page script: see aisec_radar/dashboard/trends.py."""

from aisec_radar.dashboard import trends

trends.render()
