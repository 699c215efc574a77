"""The topic panel in a real browser: `aisec-radar dashboard`, headless Chromium, sign in, Taxonomy page,
merge a candidate into a type; screenshots for the curator guide.

Screenshots go to artifacts/screenshots/ (ignored); AISEC_RADAR_SCREENSHOTS=docs/screenshots refreshes
the ones docs/curator-guide.md shows.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, require_browser, running_dashboard, shots_dir
from test_topics import MODEL, _build, _no_encoder

from aisec_radar.config import Settings
from aisec_radar.dashboard.auth import hash_secret
from aisec_radar.store import connect
from aisec_radar.store import topics as st
from aisec_radar.taxonomy import load_taxonomy
from aisec_radar.topics import DiscoveryParams, discover_topics

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SECRET = "topic-curator-secret"


@pytest.fixture
def server(tmp_path):
    require_browser()
    db = tmp_path / "topics.duckdb"
    from aisec_radar.store import init_db

    init_db(db)
    ids = _build(db, np.random.default_rng(7))
    s = replace(Settings(), db_path=str(db))
    for end in (date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30)):  # three nightly runs
        res = discover_topics(s, load_taxonomy(), until=end, encoder=_no_encoder, model=MODEL,
                              params=DiscoveryParams(min_cluster_size=8))
    with running_dashboard(db, tmp_path, hash_secret(SECRET)) as url:
        yield url, db, res, set(ids["steady"])


def test_topic_panel_in_chromium(server):
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect, sync_playwright

    url, db, res, steady_ids = server
    # the steady certified-robustness theme: a known other_aisec family a curator might merge
    steady = max(res.candidates, key=lambda c: len(steady_ids & {a for a, _ in c.members})).topic_id
    shots = shots_dir()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(url)
            page.get_by_role("link", name="Review").click()
            page.get_by_label("Your name (stored with every label)").fill("dora")
            page.get_by_label("Curator secret").fill(SECRET)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_text("Signed in as dora")).to_be_visible(timeout=60_000)

            page.get_by_role("link", name="Taxonomy").click()
            expect(page.get_by_role("heading", name="Emerging-topic candidates")).to_be_visible(timeout=60_000)
            page.get_by_text("Papers per month (latest run)").scroll_into_view_if_needed()
            page.locator("[data-testid='stVegaLiteChart']").first.wait_for()
            page.wait_for_timeout(1500)
            page.get_by_role("heading", name="Emerging-topic candidates").scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "topics.png"))

            # choose the steady candidate and merge it into a type
            for attempt in range(6):  # a rerun can close the dropdown under us: open it again
                try:
                    page.get_by_role("combobox", name="Candidate").click(timeout=15_000)
                    page.get_by_role("option").filter(has_text=steady).click(timeout=10_000)
                    break
                except PlaywrightError:
                    if attempt == 5:
                        raise
                    page.keyboard.press("Escape")
                    page.wait_for_timeout(1000)
            merge = page.get_by_role("button", name="Merge: queue its papers for review")
            for _ in range(10):  # the selection reruns the script: the button may be replaced under us
                try:
                    merge.scroll_into_view_if_needed(timeout=10_000)
                    break
                except PlaywrightError:
                    page.wait_for_timeout(500)
            page.wait_for_timeout(800)
            page.screenshot(path=str(shots / "topic-actions.png"))
            merge.click()
            expect(page.get_by_text(f"{steady} merged into")).to_be_visible(timeout=60_000)
        finally:
            browser.close()
    with connect(db, read_only=True) as con:
        cand = st.get_candidate(con, steady)
        queued = st.suggestions(con, reason="topic-merge", ref=steady)
    assert cand["status"] == "merged" and len(queued) == cand["size"]
