"""The Taxonomy page's topic panel under Streamlit's AppTest: renders, reads only, acts only when signed in."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pytest
from test_topics import MODEL, _build, _no_encoder

from aisec_radar.config import Settings
from aisec_radar.dashboard.auth import hash_secret
from aisec_radar.store import connect
from aisec_radar.store import topics as st
from aisec_radar.taxonomy import load_taxonomy
from aisec_radar.topics import DiscoveryParams, discover_topics

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

SCRIPT = """
from aisec_radar.config import load_settings
from aisec_radar.dashboard.topics_panel import render
render(load_settings())
"""


def _app(tmp_path, monkeypatch, db_path, secret: str | None = None) -> AppTest:
    script = tmp_path / "panel_app.py"
    script.write_text(SCRIPT)
    monkeypatch.setenv("AISEC_RADAR_DB_PATH", str(db_path))
    if secret:
        monkeypatch.setenv("AISEC_RADAR_CURATOR_SECRET_HASH", hash_secret(secret))
    else:
        monkeypatch.delenv("AISEC_RADAR_CURATOR_SECRET_HASH", raising=False)
    return AppTest.from_file(str(script), default_timeout=60)


def _all_text(at: AppTest) -> str:
    parts = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "subheader", "text"):
        parts += [str(e.value) for e in getattr(at, kind)]
    return "\n".join(parts)


def test_panel_empty_db(tmp_path, monkeypatch, db_path) -> None:
    at = _app(tmp_path, monkeypatch, db_path).run()
    assert not at.exception
    assert "No topic discovery has run yet" in _all_text(at)


def test_panel_shows_candidates_and_acts_when_signed_in(tmp_path, monkeypatch, db_path) -> None:
    _build(db_path, np.random.default_rng(11), months=range(1, 4))
    res = discover_topics(replace(Settings(), db_path=str(db_path)), load_taxonomy(), until=date(2026, 3, 31),
                          encoder=_no_encoder, model=MODEL, params=DiscoveryParams(min_cluster_size=8))
    biggest = max(res.candidates, key=lambda c: c.size).topic_id

    at = _app(tmp_path, monkeypatch, db_path).run()
    assert not at.exception
    text = _all_text(at)
    assert "sign in on the Review page" in text
    ids = list(at.dataframe[0].value["id"])
    assert biggest in ids and len(ids) == len(res.candidates)
    assert not at.button  # no action buttons without a signed-in curator

    at = _app(tmp_path, monkeypatch, db_path, secret="s3cret")
    at.session_state["curator"] = "ana"
    at.run()
    assert not at.exception
    at.selectbox(key="tp_pick").set_value(biggest).run()
    at.button(key=f"tp_dismiss_{biggest}").click().run()
    assert not at.exception
    assert f"{biggest} dismissed" in _all_text(at)
    with connect(db_path, read_only=True) as con:
        assert st.get_candidate(con, biggest)["status"] == "dismissed"
        assert st.actions(con, biggest)[0]["curator"] == "ana"
