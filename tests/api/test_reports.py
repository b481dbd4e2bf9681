"""Manager reports over HTTP and from the CLI: content, formats, the event that announces them."""
from __future__ import annotations

import csv
import io
import re

import pytest
from click.testing import CliRunner

from registry.cli import main
from registry.db import database
from registry.services.reevaluation import reevaluate_all
from tests.api.helpers import assert_problem, create_model, promote, put_criteria, ready_version

ACCURACY = {"metric": "accuracy", "op": ">=", "threshold": 0.9}
LIVE_CTR = {"metric": "ctr", "source": "live", "op": ">=", "threshold": 0.02}


def fleet(app, client) -> None:
    """fraud: version 2 in production (passing), with two scheduled evaluations of live ctr;
    churn: degraded in production; spam: nothing in production."""
    create_model(client)
    put_criteria(client, production=[ACCURACY, LIVE_CTR, {"require": ["run.code.commit"]}])
    for number, accuracy in ((1, 0.91), (2, 0.95)):
        ready_version(client, metrics={"accuracy": accuracy}, run={"code": {"commit": "abc"}})
        client.post(f"/api/v1/models/fraud/versions/{number}/metrics",
                    json={"metrics": {"ctr": 0.05}, "source": "live"})
        assert promote(client, version=number).status_code == 200
    create_model(client, "churn")
    put_criteria(client, "churn", production=[LIVE_CTR])
    ready_version(client, "churn")
    client.post("/api/v1/models/churn/versions/1/metrics", json={"metrics": {"ctr": 0.04},
                                                                 "source": "live"})
    assert promote(client, "churn", version=1).status_code == 200
    with database.connection_context():
        reevaluate_all(store=app.extensions["modelyard_store"])
    for model, ctr in (("fraud", 0.06), ("churn", 0.01)):
        number = 2 if model == "fraud" else 1
        client.post(f"/api/v1/models/{model}/versions/{number}/metrics",
                    json={"metrics": {"ctr": ctr}, "source": "live"})
    with database.connection_context():
        reevaluate_all(store=app.extensions["modelyard_store"])
    create_model(client, "spam")


def test_a_report_covers_the_fleet_and_each_model(app, client):
    fleet(app, client)
    response = client.post("/api/v1/reports", json={})
    assert response.status_code == 201
    report = response.json
    assert response.headers["Location"] == f"/api/v1/reports/{report['id']}"
    assert report["summary"] == {"models": 3, "passing": 1, "degraded": 1, "failing": 0,
                                 "no_production": 1, "promotions": 3, "rollbacks": 0,
                                 "automatic_rollbacks": 0}
    sections = {section["model"]: section for section in report["models"]}
    assert [s["status"] for s in report["models"]] == ["degraded", "passing", "no_production"]
    fraud = sections["fraud"]
    assert fraud["production"]["version"] == 2 and fraud["production"]["promoted_by"] == "anonymous"
    assert fraud["production"]["arrived_by"] == "promote"
    accuracy, ctr, commit = fraud["criteria"]
    assert accuracy["margin"] == pytest.approx(0.05) and accuracy["passed"]
    assert ctr["observed"] == 0.06 and ctr["margin"] == pytest.approx(0.04)
    assert commit["margin"] is None and commit["passed"]
    trend = {line["metric"]: line for line in fraud["trend"]}
    # the promotion's evaluation, two scheduled ones, and the report's own
    assert [p["value"] for p in trend["live ctr"]["points"]] == [0.05, 0.05, 0.06, 0.06]
    assert trend["live ctr"]["bound"] == ">= 0.02"
    assert [(m["stage"], m["action"], m["to_version"]) for m in fraud["history"]] == [
        ("production", "promote", 1), ("production", "promote", 2)]
    assert sections["spam"]["production"] is None and sections["spam"]["trend"] == []


def test_a_report_is_announced_with_its_summary_and_a_link(app, client):
    fleet(app, client)
    report = client.post("/api/v1/reports", json={"models": ["churn"], "period_days": 1}).json
    assert report["models_requested"] == ["churn"] and len(report["models"]) == 1
    [event] = client.get("/api/v1/events?type=report.generated").json["items"]
    assert event["data"]["report_id"] == report["id"]
    assert event["data"]["summary"] == report["summary"] == {
        "models": 1, "passing": 0, "degraded": 1, "failing": 0, "no_production": 0,
        "promotions": 1, "rollbacks": 0, "automatic_rollbacks": 0}
    assert event["data"]["url"] == f"http://localhost/api/v1/reports/{report['id']}?format=html"


def test_formats_by_parameter_and_by_accept(app, client):
    fleet(app, client)
    report_id = client.post("/api/v1/reports", json={}).json["id"]
    html = client.get(f"/api/v1/reports/{report_id}?format=html")
    assert html.mimetype == "text/html"
    assert "default-src 'none'" in html.headers["Content-Security-Policy"]
    page = html.data.decode()
    assert page.count("<svg") == 3  # fraud: accuracy and live ctr; churn: live ctr
    assert "Production report" in page and "degraded" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # nothing external
    assert client.get(f"/api/v1/reports/{report_id}",
                      headers={"Accept": "text/html"}).mimetype == "text/html"
    as_csv = client.get(f"/api/v1/reports/{report_id}", headers={"Accept": "text/csv"})
    assert as_csv.mimetype == "text/csv" and "attachment" in as_csv.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(as_csv.data.decode())))
    assert len(rows) == 3 + 1 + 1  # fraud's criteria, churn's one, spam's empty row
    assert rows[0]["model"] == "churn" and rows[0]["criterion"] == "live ctr >= 0.02"
    assert rows[0]["passed"] == "False" and float(rows[0]["margin"]) == pytest.approx(-0.01)
    as_json = client.get(f"/api/v1/reports/{report_id}")
    assert as_json.mimetype == "application/json" and as_json.json["id"] == report_id


def test_reports_are_listed_newest_first_without_their_bodies(client):
    create_model(client)
    ids = [client.post("/api/v1/reports", json={}).json["id"] for _ in range(3)]
    page = client.get("/api/v1/reports?limit=2").json
    assert [item["id"] for item in page["items"]] == ids[:0:-1] and "models" not in page["items"][0]
    rest = client.get(f"/api/v1/reports?cursor={page['next_cursor']}").json
    assert [item["id"] for item in rest["items"]] == [ids[0]]


def test_bad_report_requests(client):
    create_model(client)
    assert_problem(client.post("/api/v1/reports", json={"models": ["nope"]}), 404)
    body = assert_problem(client.post("/api/v1/reports", json={"period_days": 0}), 422)
    assert "period_days" in body["errors"]
    assert_problem(client.post("/api/v1/reports", json={"models": ["../x"]}), 422)
    assert_problem(client.get("/api/v1/reports/99"), 404)
    assert_problem(client.get("/api/v1/reports/1?format=pdf"), 422)
    assert client.get("/api/v1/reports").json["items"] == []  # nothing half-written


def test_csv_cells_that_a_spreadsheet_would_run_are_quoted():
    from registry.report_formats import report_csv
    report = {"id": 1, "models": [{"model": "m", "status": "passing", "production": {
        "version": 1, "since": "x", "promoted_by": "=HYPERLINK(\"http://evil\")"},
        "criteria": []}]}
    row = list(csv.DictReader(io.StringIO(report_csv(report))))[0]
    assert row["promoted_by"].startswith("'=")


def test_reports_run_from_the_command_line(backend, tmp_path, monkeypatch):
    from registry.app import create_app
    client = create_app(backend, environ={}).test_client()
    create_model(client)
    monkeypatch.setenv("MODELYARD_SERVER_DATA_DIR", backend["server"]["data_dir"])
    if "database" in backend:
        monkeypatch.setenv("DATABASE_URL", backend["database"]["url"])
    monkeypatch.setenv("MODELYARD_SERVER_PUBLIC_URL", "https://models.example.com")
    page = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["reports", "run", "--model", "fraud", "--html", str(page)])
    assert result.exit_code == 0, result.output
    assert "report 1: 1 model(s), 0 passing" in result.output
    assert "https://models.example.com/api/v1/reports/1?format=html" in result.output
    assert "<svg" not in page.read_text() and "fraud" in page.read_text()
    missing = CliRunner().invoke(main, ["reports", "run", "--model", "nope"])
    assert missing.exit_code == 1 and "does not exist" in missing.output
    unwritable = CliRunner().invoke(main, ["reports", "run", "--html",
                                           str(tmp_path / "no-such-folder" / "r.html")])
    assert unwritable.exit_code == 1 and unwritable.exception.__class__ is SystemExit
    assert "report 2 is stored, but" in unwritable.output and "Traceback" not in unwritable.output
