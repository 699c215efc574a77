"""Streamlit page script: see aisec_radar/dashboard/papers.py."""

from aisec_radar.dashboard import papers

papers.render()
