"""Streamlit page script: see aisec_radar/dashboard/review.py."""

from aisec_radar.dashboard import review

review.render()
