"""Streamlit page script: see aisec_radar/dashboard/runs.py."""

from aisec_radar.dashboard import runs

runs.render()
