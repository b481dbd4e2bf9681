"""Console sessions and forms through the Flask test client, on both databases: the cookie's
flags, expiry after ui.session_hours, revocation, CSRF, safe redirects after sign-in, and bad
input shown as a page rather than a traceback."""
from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine

from registry.app import create_app

ADMIN = "console-sessions-admin-token-0123456789"


@pytest.fixture
def console(backend):
    app = create_app({**backend, "auth": {"enabled": True, "admin_token": ADMIN},
                      "ui": {"session_hours": 2}}, environ={})
    return app


def _csrf(client, path="/ui/login", **where) -> str:
    page = client.get(path, **where).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def sign_in(client, token=ADMIN, next_path="/ui/"):
    return client.post("/ui/login", data={"csrf_token": _csrf(client), "token": token,
                                          "next": next_path})


def test_the_session_cookie_is_httponly_lax_and_secure_behind_https(console):
    plain = console.test_client()
    answer = sign_in(plain)
    assert answer.status_code == 303 and answer.headers["Location"] == "/ui/"
    cookie = next(v for k, v in answer.headers.items()
                  if k == "Set-Cookie" and v.startswith("modelyard_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert "Path=/ui" in cookie and "Max-Age=7200" in cookie
    secure, https = console.test_client(), {"base_url": "https://models.example.com"}
    answer = secure.post("/ui/login", **https, data={
        "csrf_token": _csrf(secure, **https), "token": ADMIN, "next": "/ui/"},
        headers={"Referer": "https://models.example.com/ui/login"})
    cookie = next(v for k, v in answer.headers.items()
                  if k == "Set-Cookie" and v.startswith("modelyard_session="))
    assert "Secure" in cookie


def test_a_session_ends_after_session_hours_and_with_its_token(console):
    client = console.test_client()
    token = client.post("/api/v1/tokens", json={"name": "ana", "role": "deployer"},
                        headers={"Authorization": f"Bearer {ADMIN}"}).json
    sign_in(client, token["token"])
    assert client.get("/ui/").status_code == 200
    with time_machine.travel(dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2, minutes=1)):
        assert client.get("/ui/").status_code == 302  # expired: back to sign-in
    sign_in(client, token["token"])
    client.delete(f"/api/v1/tokens/{token['id']}", headers={"Authorization": f"Bearer {ADMIN}"})
    assert client.get("/ui/").headers["Location"].startswith("/ui/login")


def test_sign_in_never_redirects_off_the_console(console):
    client = console.test_client()
    for target in ("https://evil.example.com/", "//evil.example.com/x", "/api/v1/tokens"):
        assert sign_in(client, next_path=target).headers["Location"] == "/ui/"
    assert sign_in(client, next_path="/ui/events?model=fraud").headers["Location"] == \
        "/ui/events?model=fraud"


def test_posts_without_the_csrf_token_are_refused(console):
    client = console.test_client()
    assert client.post("/ui/login", data={"token": ADMIN}).status_code == 403
    sign_in(client)
    client.post("/api/v1/models", json={"name": "fraud"}, headers={"Authorization": f"Bearer {ADMIN}"})
    refused = client.post("/ui/models/fraud/rollback", data={"reason": "x", "stage": "production"})
    assert refused.status_code == 403 and "Reload the page" in refused.get_data(as_text=True)
    assert client.post("/ui/logout").status_code == 403


def test_bad_input_is_a_page_with_the_apis_status(console):
    client = console.test_client()
    sign_in(client)
    headers = {"Authorization": f"Bearer {ADMIN}"}
    client.post("/api/v1/models", json={"name": "fraud"}, headers=headers)
    bad_filter = client.get("/ui/models/fraud?filter=metrics.auc+%3E%3E+1")
    assert bad_filter.status_code == 422 and "<h1>Not possible</h1>" in bad_filter.get_data(
        as_text=True)
    assert client.get("/ui/models/nope").status_code == 404
    assert client.get("/ui/models/fraud/rollback?stage=shadow").status_code == 404
    nothing = client.get("/ui/models/fraud/rollback?stage=production")
    assert nothing.status_code == 409 and "nothing to roll back from" in nothing.get_data(
        as_text=True)
    page = client.get("/ui/models/fraud")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page.get_data(as_text=True))
