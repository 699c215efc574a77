"""The Streamlit dashboard: trends for readers, a review queue for curators.

``app.py`` is the entry point (``aisec-radar dashboard`` runs it with ``streamlit run``); each page
is a module with a ``render()`` function and a one-line script under ``views/``. Pages read through
``aisec_radar.store.queries`` on short-lived read-only connections and write labels only through
``aisec_radar.store``, so the nightly job can keep writing while the dashboard is open.
"""
