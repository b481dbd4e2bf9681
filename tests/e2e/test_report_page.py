"""The HTML report as a manager sees it: opened from disk in headless Chromium, offline.

Chromium comes from Debian's package (/usr/bin/chromium; .ci/run installs it). Outside CI a
machine without it skips this test; in CI it fails.
"""
from __future__ import annotations

import datetime as dt
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
        pytest.skip(f"{CHROMIUM} is not installed; install it with: sudo apt-get install chromium")
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
    shot = Path(os.environ.get("MODELYARD_SCREENSHOT_DIR", tmp_path)) / "report-page.png"

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
        content_width = page.locator("h1").bounding_box()["width"]
        for index in range(3):  # full width, time labels apart, the bound inside the plot
            chart = charts.nth(index)
            assert chart.bounding_box()["width"] >= 0.95 * content_width
            _assert_labels_apart(chart.locator(".axis.x text"))
            bound_line = chart.locator(".serie-1 path.line").bounding_box()
            x_axis = chart.locator(".axis.x text").first.bounding_box()
            assert bound_line["y"] < x_axis["y"] - 10  # drawn inside the plot, not on its axis
        legend = page.locator("dl.legend").inner_text()
        assert all(word in legend for word in ("passing", "degraded", "failing", "no production"))
        assert "token:" not in page.locator("body").inner_text()
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert requested == [page_file.as_uri()]  # nothing but the page itself was fetched
    assert shot.stat().st_size > 20_000


def _assert_labels_apart(labels) -> None:
    """Every label can be read: its box overlaps no other, and no two say the same."""
    texts = [text for text in labels.all_text_contents() if text]
    assert len(texts) == len(set(texts)), texts
    boxes = [labels.nth(i).bounding_box() for i in range(labels.count())]
    boxes = [box for box in boxes if box and box["width"] > 0]
    for number, first in enumerate(boxes):
        for second in boxes[number + 1:]:
            apart = (first["x"] + first["width"] <= second["x"] or
                     second["x"] + second["width"] <= first["x"] or
                     first["y"] + first["height"] <= second["y"] or
                     second["y"] + second["height"] <= first["y"])
            assert apart, (first, second, texts)


SPANS = {"30 seconds": dt.timedelta(seconds=30), "5 hours": dt.timedelta(hours=5),
         "across midnight": dt.timedelta(hours=3), "3 days": dt.timedelta(days=3),
         "90 days": dt.timedelta(days=90), "3 years": dt.timedelta(days=3 * 365),
         "one instant": dt.timedelta(0)}


def test_trend_charts_read_at_any_time_span(tmp_path):
    from playwright.sync_api import sync_playwright

    from registry.report_formats import trend_chart

    executable = _chromium()
    start = dt.datetime(2026, 11, 30, 22, 30, tzinfo=dt.timezone.utc)
    charts = []
    for name, span in SPANS.items():
        points = [{"at": (start + span * i / 29).isoformat(), "value": 0.9 + (i % 7) / 100}
                  for i in range(30)]
        charts.append(f'<div style="width: 1000px" id="c{len(charts)}">'
                      + trend_chart({"metric": name, "bound": ">= 0.85", "points": points})
                      + "</div>")
    page_file = tmp_path / "charts.html"
    page_file.write_text("<!DOCTYPE html><html><body>" + "".join(charts) + "</body></html>")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=QUIET)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(page_file.as_uri())
        for index, name in enumerate(SPANS):
            labels = page.locator(f"#c{index} .axis.x text")
            assert labels.count() >= 1, name
            _assert_labels_apart(labels)
        browser.close()
