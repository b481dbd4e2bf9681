"""The HTML report as a manager sees it: opened from disk in headless Chromium, offline.

Chromium comes from Debian's package (/usr/bin/chromium; .ci/run installs it). Outside CI a
machine without it skips this test; in CI it fails.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from registry.app import create_app
from tests.api.test_reports import fleet

CHROMIUM = "/usr/bin/chromium"
QUIET = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _chromium() -> str:
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is required in CI (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is not installed")
    return CHROMIUM


def test_the_report_page_renders_offline_with_its_tables_and_charts(tmp_path):
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    app = create_app({"server": {"data_dir": str(tmp_path / "data")}, "auth": {"enabled": False}},
                     environ={})
    client = app.test_client()
    fleet(app, client)
    report_id = client.post("/api/v1/reports", json={}).json["id"]
    page_file = tmp_path / "report.html"  # as saved from an email attachment
    page_file.write_bytes(client.get(f"/api/v1/reports/{report_id}?format=html").data)
    shot = Path(os.environ.get("MODELYARD_SCREENSHOT_DIR", tmp_path)) / "report.png"

    requested: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=QUIET)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.route("**/*", lambda route: (requested.append(route.request.url),
                                          route.continue_() if route.request.url.startswith(
                                              "file://") else route.abort()))
        page.goto(page_file.as_uri())
        page.wait_for_load_state("networkidle")
        summary = page.locator("table.summary")
        assert summary.is_visible()
        assert summary.locator("td").all_inner_texts() == ["3", "1", "1", "0", "1", "3", "0", "0"]
        assert page.locator("table.fleet tr").count() == 4
        charts = page.locator(".charts svg")
        assert charts.count() == 3
        for index in range(3):
            box = charts.nth(index).bounding_box()
            assert box and box["width"] > 300 and box["height"] > 150
        assert page.locator(".charts svg .line").count() >= 3  # the metric lines are drawn
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert requested == [page_file.as_uri()]  # nothing but the page itself was fetched
    assert shot.stat().st_size > 20_000
