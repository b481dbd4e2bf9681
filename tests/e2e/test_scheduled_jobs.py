"""Three `modelyard worker` processes on one database, a job firing every second: each fire
runs exactly once."""
from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import tempfile
import time

from registry.app import create_app
from registry.db import database
from registry.models import Evaluation, JobRun
from tests.api.helpers import create_model, promote, ready_version

WORKERS = 3
RUN_FOR_S = 10


def _start_worker(env: dict) -> tuple[subprocess.Popen, tempfile.TemporaryFile]:
    log = tempfile.TemporaryFile()
    process = subprocess.Popen([sys.executable, "-m", "registry", "worker"], env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    return process, log


def _output(log) -> str:
    log.seek(0)
    return log.read().decode(errors="replace")


def _wait_until_started(workers, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    for process, log in workers:
        while "scheduled jobs: reevaluate" not in _output(log):
            assert process.poll() is None and time.monotonic() < deadline, _output(log)[-3000:]
            time.sleep(0.1)


def test_each_fire_runs_exactly_once_across_three_workers(backend):
    app = create_app(backend, environ={})
    client = app.test_client()
    create_model(client)
    ready_version(client)
    assert promote(client, version=1).status_code == 200
    env = {**os.environ, "MODELYARD_SERVER_DATA_DIR": backend["server"]["data_dir"],
           "MODELYARD_SCHEDULE_REEVALUATE": "* * * * * *", "MODELYARD_SCHEDULE_REPORT": "",
           "MODELYARD_SCHEDULE_ARTIFACTS_GC": ""}
    if "database" in backend:
        env["DATABASE_URL"] = backend["database"]["url"]
    workers = [_start_worker(env) for _ in range(WORKERS)]
    try:
        _wait_until_started(workers)
        started = dt.datetime.now(dt.timezone.utc)
        time.sleep(RUN_FOR_S)
    finally:
        for process, _ in workers:
            os.killpg(process.pid, signal.SIGTERM)
        for process, log in workers:
            assert process.wait(15) == 0, _output(log)[-3000:]
            log.close()

    with database.connection_context():
        runs = list(JobRun.select().where(JobRun.job == "reevaluate")
                    .order_by(JobRun.scheduled_for))
        scheduled = Evaluation.select().where(Evaluation.trigger == "scheduled").count()
    fires = [run.scheduled_for for run in runs]
    assert len(fires) == len(set(fires))  # never twice (the index would refuse it anyway)
    while_all_ran = [fire for fire in fires if fire >= started.replace(microsecond=0)
                     + dt.timedelta(seconds=1)]
    assert len(while_all_ran) >= RUN_FOR_S - 2
    steps = {(later - earlier).total_seconds() for earlier, later in zip(fires, fires[1:])}
    assert steps == {1.0}, fires  # no fire skipped: each second ran, once
    assert all(run.outcome == "succeeded" and run.finished_at for run in runs)
    assert scheduled == len(runs)  # the work itself happened once per fire
    print(f"{len(runs)} fires, claimed by {sorted({run.worker for run in runs})}")
