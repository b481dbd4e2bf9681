"""The web console in Debian's Chromium (Playwright), against a real `modelyard serve` with auth
on: sign-in, the fleet, rolling back and promoting from the model page (stale pages included),
roles and CSRF, revocation and sign-out, same-origin requests, the report link. The server runs
on SQLite and on PostgreSQL for the flows that change state.

Screenshots go to MODELYARD_SCREENSHOT_DIR (docs/console is where docs/console.md reads them;
set it to refresh them) or to the test's temporary folder.
"""
from __future__ import annotations

import os
import re
import sys
import urllib.parse
from pathlib import Path

import pytest
import requests

from tests.conftest import fresh_pg_database
from tests.e2e.conftest import free_port, running
from tests.e2e.test_report_page import QUIET, _chromium

ADMIN = "console-admin-token-0123456789abcdefghij"


class Registry:
    """The server's API, as the admin, for seeding and for checking what the console did."""

    def __init__(self, url: str) -> None:
        self.url, self.session = url, requests.Session()
        self.session.headers["Authorization"] = f"Bearer {ADMIN}"

    def call(self, method: str, path: str, **body) -> dict:
        answer = self.session.request(method, f"{self.url}/api/v1{path}", json=body or None)
        assert answer.status_code < 300, (path, answer.status_code, answer.text)
        return answer.json() if answer.content else {}

    def version(self, model: str, accuracy: float) -> int:
        number = self.call("POST", f"/models/{model}/versions", run={
            "id": f"run-{accuracy}", "experiment": "nightly", "metrics": {"accuracy": accuracy},
            "params": {"lr": 0.01, "trees": 300}, "code": {"commit": "4be1d0c"},
            "dataset": {"name": "transactions", "version": "2026-11"}})["version"]
        files = f"{self.url}/api/v1/models/{model}/versions/{number}/files"
        for name, content in (("model.bin", b"w" * 4096), ("config.json", b'{"trees": 300}')):
            assert self.session.put(f"{files}/{name}", data=content).status_code == 201
        self.call("POST", f"/models/{model}/versions/{number}/finalize")
        return number

    def token(self, name: str, role: str) -> str:
        return self.call("POST", "/tokens", name=name, role=role)["token"]

    def holder(self, model: str, stage: str = "production") -> int:
        return self.call("GET", f"/models/{model}/stages/{stage}")["version"]


def _seed(api: Registry) -> dict:
    api.call("POST", "/models", name="fraud", tags={"team": "risk"})
    api.call("PUT", "/models/fraud/criteria", stages={"production": [
        {"metric": "accuracy", "op": ">=", "threshold": 0.9}]})
    for accuracy in (0.91, 0.93, 0.95, 0.5, 0.96):
        api.version("fraud", accuracy)
    for number in (1, 2, 3):
        api.call("POST", "/models/fraud/promote", version=number, reason=f"release {number}")
    api.call("POST", "/models", name="churn")
    api.version("churn", 0.8)
    api.call("POST", "/models/churn/promote", version=1, stage="staging")
    api.call("POST", "/models", name="ledger")
    api.version("ledger", 0.9)
    api.version("ledger", 0.92)
    api.call("POST", "/models/ledger/promote", version=1)
    api.call("PATCH", "/models/ledger", approvals={"production": {"required": 1}})
    return {"deployer": api.token("oncall-ana", "deployer"),
            "viewer": api.token("manager-bo", "viewer"),
            "reviewer": api.token("reviewer-cy", "deployer")}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request, tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    url_db = fresh_pg_database("modelyard_test_console") if request.param == "postgres" else ""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"MODELYARD_AUTH_ENABLED": "true", "MODELYARD_ADMIN_TOKEN": ADMIN,
           "MODELYARD_SCHEDULE_RUN_IN_SERVE": "false", "DATABASE_URL": url_db,
           "MODELYARD_CONFIG": "", "MODELYARD_SERVER_PUBLIC_URL": url}
    with running([sys.executable, "-m", "registry", "serve", "--port", str(port), "--data-dir",
                  str(data)], url, env=env):
        api = Registry(url)
        yield {"url": url, "api": api, "tokens": _seed(api), "database": request.param}


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    executable = _chromium()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=QUIET)
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser, server):
    """A fresh browser context per test; every request it makes is recorded and must go to the
    server's own origin."""
    contexts, requested = [], []

    def make(width: int = 1280, height: int = 800):
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.on("request", lambda r: requested.append(r.url))
        return page

    yield make
    for context in contexts:
        context.close()
    origin = urllib.parse.urlsplit(server["url"]).netloc
    assert not contexts or requested  # pages were opened, so requests were seen
    assert all(urllib.parse.urlsplit(u).netloc == origin for u in requested), \
        sorted({u for u in requested if origin not in u})


def sign_in(page, server, token: str, path: str = "/ui/") -> None:
    page.goto(server["url"] + path)
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def _shot(page, name: str, tmp_path: Path) -> None:
    folder = Path(os.environ.get("MODELYARD_SCREENSHOT_DIR", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / name), full_page=True)


def test_sign_in_and_the_fleet(server, open_page, tmp_path):
    page = open_page()
    page.goto(server["url"] + "/")
    assert page.url.startswith(server["url"] + "/ui/login")  # / -> /ui/ -> sign-in
    page.get_by_label("API token").fill("myd_not-a-token")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == "That token is unknown or revoked."
    sign_in(page, server, server["tokens"]["viewer"])
    assert page.get_by_role("heading", name="Fleet").is_visible()
    if server["database"] == "sqlite":
        _shot(page, "fleet.png", tmp_path)
    fraud = page.locator("tr[data-model=fraud]")
    assert fraud.locator(".badge").inner_text() == "passing"
    assert "production v3" in fraud.inner_text() and "by admin" in fraud.inner_text()
    churn = page.locator("tr[data-model=churn]")
    assert churn.locator(".badge").inner_text() == "no production"
    assert "staging v1" in churn.inner_text()
    page.get_by_label("Tags (key:value …)").fill("team:risk")
    page.get_by_role("button", name="Search").click()
    assert page.locator("#fleet tbody tr").count() == 1


def test_rolling_back_from_the_model_page(server, open_page, tmp_path):
    api = server["api"]
    page = open_page()
    sign_in(page, server, server["tokens"]["deployer"], "/ui/models/fraud")
    before = api.holder("fraud")
    page.get_by_role("link", name="Roll back production…").click()  # the preview, in place
    plan = page.locator("#plan").inner_text()
    assert f"production goes from v{before} to v{before - 1}" in plan
    assert page.url == server["url"] + "/ui/models/fraud"
    if server["database"] == "sqlite":
        _shot(page, "model-rollback-preview.png", tmp_path)
    page.get_by_label("Reason (goes into the history and the event)").fill("precision alert")
    page.get_by_role("button", name=re.compile("Roll back production to")).click()
    assert page.locator(".flash").inner_text() == (
        f"production of fraud rolled back from version {before} to version {before - 1}.")
    assert api.holder("fraud") == before - 1
    newest = page.locator("#history li").first.inner_text()
    assert "rollback" in newest and "precision alert" in newest and "oncall-ana" in newest
    page.get_by_role("link", name="Activity").click()
    assert "model.rolled_back" in page.locator("#events tbody tr").first.inner_text()

    # a stale page: someone else moves production between the preview and the confirm
    page.goto(server["url"] + "/ui/models/fraud/rollback?stage=production")
    api.call("POST", "/models/fraud/promote", version=5, reason="meanwhile")
    page.get_by_label("Reason (goes into the history and the event)").fill("too late")
    page.get_by_role("button", name=re.compile("Roll back production to")).click()
    assert "moved meanwhile" in page.get_by_role("heading").inner_text()
    assert "held by version 5 now" in page.locator("#conflict").inner_text()
    assert api.holder("fraud") == 5


def test_promotions_show_the_evaluation_before_anything_moves(server, open_page, tmp_path):
    api = server["api"]
    page = open_page()
    sign_in(page, server, server["tokens"]["deployer"], "/ui/models/fraud")
    held = api.holder("fraud")
    page.goto(server["url"] + "/ui/models/fraud/versions/4/promote?stage=production")
    assert "refuse v4: nothing was changed" in page.get_by_role("alert").inner_text()
    row = page.locator("table.evaluation tbody tr").first.inner_text()
    assert "0.5" in row and ">= 0.9" in row and "-0.4" in row and "FAIL" in row
    assert page.get_by_role("button", name="Force the promotion").count() == 0  # admins only
    assert api.holder("fraud") == held
    page.goto(server["url"] + "/ui/models/fraud")
    page.locator("tr[data-version='2'] select").select_option("staging")
    page.locator("tr[data-version='2']").get_by_role("button", name="Promote…").click()
    assert "v2 meets the staging criteria" in page.locator("#plan").inner_text()
    page.get_by_role("button", name="Promote v2 to staging").click()
    assert page.locator(".flash").inner_text() == "fraud version 2 promoted to staging."
    assert api.holder("fraud", "staging") == 2


def test_a_viewer_sees_no_buttons_and_forged_posts_change_nothing(server, open_page):
    api = server["api"]
    page = open_page()
    sign_in(page, server, server["tokens"]["viewer"], "/ui/models/fraud")
    assert page.get_by_role("link", name=re.compile("Roll back")).count() == 0
    assert page.get_by_role("button", name="Promote…").count() == 0
    held = api.holder("fraud")
    csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
    forged = page.request.post(server["url"] + "/ui/models/fraud/rollback", form={
        "csrf_token": csrf, "stage": "production", "reason": "forged",
        "expected_current_version": str(held)})
    assert forged.status == 403
    assert page.request.get(server["url"] + "/ui/models/fraud/rollback").status == 403

    deployer = open_page()
    sign_in(deployer, server, server["tokens"]["deployer"], "/ui/models/fraud")
    no_csrf = deployer.request.post(server["url"] + "/ui/models/fraud/rollback", form={
        "stage": "production", "reason": "no token", "expected_current_version": str(held)})
    assert no_csrf.status == 403 and "Reload the page" in no_csrf.text()
    assert api.holder("fraud") == held


def test_revoking_the_token_or_signing_out_ends_the_session(server, open_page):
    api = server["api"]
    token = api.call("POST", "/tokens", name=f"short-lived-{server['database']}",
                     role="deployer")
    page = open_page()
    sign_in(page, server, token["token"])
    assert page.get_by_role("heading", name="Fleet").is_visible()
    api.call("DELETE", f"/tokens/{token['id']}")
    page.get_by_role("link", name="fraud").click()
    assert page.url.startswith(server["url"] + "/ui/login")

    sign_in(page, server, server["tokens"]["viewer"])
    page.get_by_role("button", name="Sign out").click()
    assert page.url.startswith(server["url"] + "/ui/login")
    page.goto(server["url"] + "/ui/events")
    assert page.url.startswith(server["url"] + "/ui/login")


def test_the_report_link_opens_the_report_after_sign_in(server, open_page):
    api = server["api"]
    report = api.call("POST", "/reports")
    event = [e for e in api.call("GET", "/events?type=report.generated")["items"]
             if e["data"]["report_id"] == report["id"]][0]
    link = event["data"]["console_url"]
    assert link == f"{server['url']}/ui/reports/{report['id']}"
    page = open_page()
    page.goto(link)
    assert "/ui/login" in page.url
    page.get_by_label("API token").fill(server["tokens"]["viewer"])
    page.get_by_role("button", name="Sign in").click()
    assert page.url == link
    assert page.get_by_role("heading", name=re.compile("Production report")).is_visible()


def test_the_version_page_and_a_phone_width(server, open_page, tmp_path):
    page = open_page(width=390, height=844)
    sign_in(page, server, server["tokens"]["viewer"], "/ui/models/fraud/versions/1")
    assert page.get_by_role("heading", name="fraud version 1").is_visible()
    moves = page.locator("#moves").inner_text()
    assert "entered production" in moves and "left production" in moves
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390 + 1, width  # nothing forces sideways scrolling of the page itself
    if server["database"] == "sqlite":
        page.set_viewport_size({"width": 1280, "height": 800})
        _shot(page, "version.png", tmp_path)


def test_the_activity_feed_updates_itself(server, open_page):
    api = server["api"]
    page = open_page()
    sign_in(page, server, server["tokens"]["viewer"], "/ui/events?model=churn")
    first = page.locator("#events tbody tr").first.get_attribute("data-seq")
    api.call("PATCH", "/models/churn", description=f"live {server['database']}")
    newest = page.locator("#events tbody tr").first
    newest.locator("xpath=self::*[@data-seq!='%s']" % first).wait_for(timeout=12_000)
    assert "model.updated" in newest.inner_text()


def test_pages_fit_a_phone(server, open_page):
    page = open_page(width=390, height=844)
    sign_in(page, server, server["tokens"]["viewer"])
    for path in ("/ui/", "/ui/models/fraud", "/ui/events"):
        page.goto(server["url"] + path)
        assert page.locator("h1").first.is_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 391, (path, width)  # wide tables scroll inside their own box


def test_requesting_and_approving_a_promotion_in_the_console(server, open_page):
    api = server["api"]
    ana = open_page()
    sign_in(ana, server, server["tokens"]["deployer"],
            "/ui/models/ledger/versions/2/promote?stage=production")
    assert "takes promotions through approved requests" in ana.locator("#plan").inner_text()
    ana.get_by_label("What the approvers should know").fill("0.92 on the audit sample")
    ana.get_by_role("button", name="Request approval for v2").click()
    assert "needed from someone else" in ana.locator(".flash").inner_text()
    row = ana.locator("#requests tr[data-request]").first
    assert "your request" in row.inner_text()
    assert row.get_by_role("button", name=re.compile("Approve")).count() == 0

    cy = open_page()
    sign_in(cy, server, server["tokens"]["reviewer"], "/ui/")
    assert "await approval" in cy.locator("#waiting").inner_text()
    cy.locator("#waiting a").first.click()
    cy.locator("#requests").get_by_role("button", name=re.compile("Approve")).click()
    assert "is now in production" in cy.locator(".flash").inner_text()
    assert api.holder("ledger") == 2


def test_the_model_page_shows_what_each_target_serves(server, open_page):
    api = server["api"]
    holder = api.holder("fraud")
    api.call("PUT", "/models/fraud/deployments/eu-1", version=holder, state="serving")
    api.call("PUT", "/models/fraud/deployments/us-1", version=1, state="failed",
             detail="health check failed")
    page = open_page()
    sign_in(page, server, server["tokens"]["viewer"], "/ui/models/fraud")
    assert "serving" in page.locator("#targets tr[data-target=eu-1]").inner_text()
    failed = page.locator("#targets tr[data-target=us-1]").inner_text()
    assert "failed, behind" in failed and "health check failed" in failed
    api.call("PUT", "/models/fraud/deployments/us-1", version=holder, state="serving")
    page.reload()
    newest_production = page.locator("#history li", has_text="production:").first
    assert "served everywhere" in newest_production.inner_text()
