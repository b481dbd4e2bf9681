"""Mailing a stored report to the people in `[report] mail_to`: an HTML body that reads well in
common mail clients (tables with inline styles, no SVG: the charts stay in the console, linked),
a plain-text part, and the CSV attached. Sending is retried; a report is stored before it is
mailed, so a failed send never loses it."""
from __future__ import annotations

import logging
import smtplib
import ssl
import time
import urllib.parse
from email.message import EmailMessage
from typing import Callable

from registry.report_formats import report_csv, template

log = logging.getLogger(__name__)
PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
STATUS_COLOURS = {"passing": "#116329", "degraded": "#953800", "failing": "#a40e26",
                  "no_production": "#424a53"}


def build_message(report: dict, *, mail_from: str, mail_to: list[str],
                  console_url: str) -> EmailMessage:
    summary = report["summary"]
    message = EmailMessage()
    message["Subject"] = (f"Modelyard report {report['id']}: {summary['passing']} passing, "
                          f"{summary['degraded']} degraded, {summary['failing']} failing")
    message["From"], message["To"] = mail_from, ", ".join(mail_to)
    message.set_content(
        f"Modelyard report {report['id']}, {report['period']['start'][:10]} to "
        f"{report['period']['end'][:10]}: {summary['models']} model(s), {summary['passing']} "
        f"passing, {summary['degraded']} degraded, {summary['failing']} failing, "
        f"{summary['no_production']} without production.\n\nOpen it: {console_url}\n")
    message.add_alternative(template("report_mail.html").render(
        report=report, console_url=console_url, STATUS_COLOURS=STATUS_COLOURS), subtype="html")
    message.add_attachment(report_csv(report).encode(), maintype="text", subtype="csv",
                           filename=f"modelyard-report-{report['id']}.csv")
    return message


def _send(message: EmailMessage, smtp_url: str) -> None:
    parts = urllib.parse.urlsplit(smtp_url)
    port = parts.port or PORTS[parts.scheme]
    client = smtplib.SMTP_SSL if parts.scheme == "smtps" else smtplib.SMTP
    with client(parts.hostname, port, timeout=30) as smtp:
        if parts.scheme == "smtp+starttls":
            smtp.starttls(context=ssl.create_default_context())
        if parts.username:
            smtp.login(urllib.parse.unquote(parts.username),
                       urllib.parse.unquote(parts.password or ""))
        smtp.send_message(message)


def mail_report(report: dict, settings: dict, *, console_url: str,
                sleep: Callable[[float], None] = time.sleep) -> bool:
    """Send `report` (already stored) as `[report]` `settings` say: True once sent. Each failed
    attempt is logged and retried after `mail_retry_s`, up to `mail_attempts`; then False.
    Network and SMTP errors never propagate: the report is stored whatever happens here."""
    message = build_message(report, mail_from=settings["mail_from"],
                            mail_to=settings["mail_to"], console_url=console_url)
    attempts = settings["mail_attempts"]
    for attempt in range(1, attempts + 1):
        try:
            _send(message, settings["smtp_url"])
            log.info("report %s mailed to %s", report["id"], ", ".join(settings["mail_to"]))
            return True
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("mailing report %s failed (attempt %d of %d): %s", report["id"],
                        attempt, attempts, exc)
            if attempt < attempts:
                sleep(settings["mail_retry_s"])
    log.error("report %s was not mailed after %d attempts; it is stored: %s", report["id"],
              attempts, console_url)
    return False


def mail_configured(settings: dict) -> bool:
    return bool(settings["mail_to"] and settings["smtp_url"])
