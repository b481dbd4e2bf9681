"""Reports by e-mail, against a real SMTP server on loopback (aiosmtpd): the scheduled report and
`modelyard reports run --mail` reach the recipients as an HTML body without SVG, a plain-text
part, the CSV attached and the console link; a failed send is retried and logged, and the
stored report is never lost."""
from __future__ import annotations

import email
import email.policy
import logging

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from click.testing import CliRunner

from registry.app import create_app
from registry.cli import main
from registry.db import database
from registry.worker import _report
from tests.api.test_reports import fleet
from tests.e2e.conftest import free_port

USER, PASSWORD = "reports", "s3cret-pass"


class Inbox:
    """Accepts mail after refusing the first `refuse` deliveries with a temporary error."""

    def __init__(self, refuse: int = 0) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.recipients: list[list[str]] = []
        self.refuse = refuse

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            self.refuse -= 1
            return "451 4.3.0 Try again later"
        self.recipients.append(envelope.rcpt_tos)
        self.messages.append(email.message_from_bytes(envelope.content,
                                                      policy=email.policy.default))
        return "250 OK"


def _authenticate(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok)


@pytest.fixture
def smtp():
    def start(refuse: int = 0):
        inbox = Inbox(refuse)
        controller = Controller(inbox, hostname="127.0.0.1", port=free_port(),
                                authenticator=_authenticate, auth_require_tls=False)
        controller.start()
        started.append(controller)
        return inbox, f"smtp://{USER}:{PASSWORD}@127.0.0.1:{controller.port}"
    started: list[Controller] = []
    yield start
    for controller in started:
        controller.stop()


def _app(backend, smtp_url: str, **report):
    settings = {"mail_to": ["cto@example.com", "ops@example.com"], "smtp_url": smtp_url,
                "mail_from": "modelyard@example.com", "mail_retry_s": 0, **report}
    return create_app({**backend, "report": settings,
                       "server": {**backend["server"], "public_url": "https://models.example.com"}},
                      environ={})


def test_the_scheduled_report_is_mailed_with_its_csv_and_console_link(backend, smtp):
    inbox, url = smtp()
    app = _app(backend, url)
    fleet(app, app.test_client())
    with database.connection_context():
        outcome = _report(app.config["MODELYARD"], app.extensions["modelyard_store"])
    assert outcome["mailed"] is True
    [message] = inbox.messages
    assert inbox.recipients == [["cto@example.com", "ops@example.com"]]
    assert message["Subject"] == (f"Modelyard report {outcome['report_id']}: 1 passing, "
                                  "1 degraded, 0 failing")
    html = message.get_body(("html",)).get_content()
    link = f"https://models.example.com/ui/reports/{outcome['report_id']}"
    assert link in html and "churn" in html and "degraded" in html and "<svg" not in html
    assert "live ctr is 0.01" in html  # the failing criterion, in words
    assert link in message.get_body(("plain",)).get_content()
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == f"modelyard-report-{outcome['report_id']}.csv"
    assert attachment.get_content().startswith("report_id,model,status")


def test_a_refused_send_is_retried_then_delivered(backend, smtp, caplog):
    inbox, url = smtp(refuse=2)
    app = _app(backend, url, mail_attempts=3)
    app.test_client().post("/api/v1/models", json={"name": "fraud"})
    with database.connection_context(), caplog.at_level(logging.WARNING):
        outcome = _report(app.config["MODELYARD"], app.extensions["modelyard_store"])
    assert outcome["mailed"] is True and len(inbox.messages) == 1
    assert sum("attempt" in r.message and "451" in r.message for r in caplog.records) == 2


def test_a_send_that_keeps_failing_is_logged_and_the_report_kept(backend, caplog):
    app = _app(backend, f"smtp://127.0.0.1:{free_port()}", mail_attempts=2)  # nothing listens
    client = app.test_client()
    with database.connection_context(), caplog.at_level(logging.WARNING):
        outcome = _report(app.config["MODELYARD"], app.extensions["modelyard_store"])
    assert outcome["mailed"] is False
    assert any("was not mailed after 2 attempts; it is stored" in r.message
               for r in caplog.records)
    assert [r["id"] for r in client.get("/api/v1/reports").json["items"]] == [
        outcome["report_id"]]


def test_reports_run_mail_from_the_command_line(backend, smtp, monkeypatch):
    inbox, url = smtp()
    create_app(backend, environ={}).test_client().post("/api/v1/models", json={"name": "fraud"})
    monkeypatch.setenv("MODELYARD_SERVER_DATA_DIR", backend["server"]["data_dir"])
    if "database" in backend:
        monkeypatch.setenv("DATABASE_URL", backend["database"]["url"])
    monkeypatch.setenv("MODELYARD_REPORT_MAIL_TO", '["cto@example.com"]')
    monkeypatch.setenv("MODELYARD_REPORT_SMTP_URL", url)
    result = CliRunner().invoke(main, ["reports", "run", "--mail"])
    assert result.exit_code == 0, result.output
    assert "mailed to cto@example.com" in result.output and len(inbox.messages) == 1
    monkeypatch.setenv("MODELYARD_REPORT_SMTP_URL", "")
    unset = CliRunner().invoke(main, ["reports", "run", "--mail"])
    assert unset.exit_code == 1 and "report 2 is stored, but it cannot be mailed" in unset.output
