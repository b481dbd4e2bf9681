"""The planner statistics job: SQLite never gathers them itself."""
from click.testing import CliRunner

from registry.app import create_app
from registry.cli import main
from registry.db import database, is_postgres
from registry.models import JobRun
from registry.worker import fire


def test_the_job_and_the_command_refresh_statistics(backend, monkeypatch):
    app = create_app({**backend, "schedule": {"db_analyze": "* * * * * *"}}, environ={})
    app.test_client().post("/api/v1/models", json={"name": "m"})
    fire("db_analyze", app.config["MODELYARD"], app.extensions["modelyard_store"])
    with database.connection_context():
        run = JobRun.get(JobRun.job == "db_analyze")
        assert run.outcome == "succeeded" and "seconds" in run.summary
        if not is_postgres():
            assert database.execute_sql("SELECT count(*) FROM sqlite_stat1").fetchone()[0] > 0
    monkeypatch.setenv("MODELYARD_SERVER_DATA_DIR", backend["server"]["data_dir"])
    if "database" in backend:
        monkeypatch.setenv("DATABASE_URL", backend["database"]["url"])
    result = CliRunner().invoke(main, ["db", "analyze"])
    assert result.exit_code == 0 and "statistics refreshed" in result.output
