"""The dashboard in a real browser: `aisec-radar dashboard` on a free port, headless Chromium
(Debian's /usr/bin/chromium through Playwright, never a downloaded browser), Trends -> Papers ->
Review (-> Taxonomy -> Runs), with screenshots.

Screenshots go to artifacts/screenshots/ (ignored); set AISEC_RADAR_SCREENSHOTS=docs/screenshots to
refresh the ones the curator guide shows.
"""

from __future__ import annotations

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, require_browser, running_dashboard, shots_dir
from dashboard_data import CURATOR_SECRET, HOSTILE_ID, build_filled_db

from aisec_radar.dashboard.auth import hash_secret
from aisec_radar.store import connect, init_db

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def server(tmp_path, corpus_records):
    require_browser()
    db = tmp_path / "browser.duckdb"
    init_db(db)
    build_filled_db(db, corpus_records, n=800)
    with running_dashboard(db, tmp_path, hash_secret(CURATOR_SECRET)) as url:
        yield url, db


def test_trends_papers_review_in_chromium(server):
    from playwright.sync_api import expect, sync_playwright

    url, db = server
    shots = shots_dir()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(60_000)
            alerts: list[str] = []
            page.on("dialog", lambda d: (alerts.append(d.message), d.dismiss()))

            # Trends: title, metrics and a drawn chart
            page.goto(url)
            expect(page.get_by_role("heading", name="Trends")).to_be_visible()
            expect(page.get_by_text("Papers matching the filters")).to_be_visible()
            page.locator("[data-testid='stVegaLiteChart'] canvas, [data-testid='stVegaLiteChart'] svg").first.wait_for()
            page.wait_for_timeout(1000)
            page.screenshot(path=str(shots / "trends.png"))

            # Papers: search the hostile title; it shows as text and runs no script
            page.get_by_role("link", name="Papers").click()
            expect(page.get_by_role("heading", name="Papers", exact=True)).to_be_visible()
            box = page.get_by_label("Words in title or abstract")
            box.fill("pwned")
            box.press("Enter")
            title = page.get_by_role("heading").filter(has_text="<script>alert('pwned')</script> **Bold**")
            expect(title).to_be_visible()
            page.wait_for_timeout(1000)
            page.screenshot(path=str(shots / "papers.png"))
            assert alerts == []
            assert page.locator("script:has-text('pwned')").count() == 0

            # Review: sign in, accept the first paper; the label is in the store
            page.get_by_role("link", name="Review").click()
            expect(page.get_by_role("heading", name="Review")).to_be_visible()
            page.get_by_label("Your name (stored with every label)").fill("carol")
            page.get_by_label("Curator secret").fill(CURATOR_SECRET)
            page.get_by_role("button", name="Sign in").click()
            accept = page.get_by_role("button", name="Accept the classifier's label")
            expect(accept).to_be_visible()
            page.wait_for_timeout(1000)
            page.screenshot(path=str(shots / "review.png"))
            accept.click()
            expect(page.get_by_text(f"Accepted {HOSTILE_ID}")).to_be_visible()
            assert alerts == []

            # Taxonomy and Runs, for the curator guide and the operations doc
            page.get_by_role("link", name="Taxonomy").click()
            expect(page.get_by_role("heading", name="Emerging-topic candidates")).to_be_visible()
            page.wait_for_timeout(1000)
            page.screenshot(path=str(shots / "taxonomy-page.png"))
            page.get_by_role("link", name="Runs").click()
            expect(page.get_by_role("heading", name="Recent runs")).to_be_visible()
            page.wait_for_timeout(500)
            page.screenshot(path=str(shots / "runs.png"))
        finally:
            browser.close()
    with connect(db, read_only=True) as con:
        rows = con.execute("SELECT arxiv_id, curator, source FROM labels WHERE source = 'dashboard'").fetchall()
    assert rows == [(HOSTILE_ID, "carol", "dashboard")]
    for name in ("trends.png", "papers.png", "review.png", "taxonomy-page.png", "runs.png"):
        assert (shots / name).stat().st_size > 10_000
