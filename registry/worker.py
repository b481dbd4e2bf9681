"""Background work: the scheduled jobs (APScheduler 3) and the webhook dispatcher.

`modelyard worker` runs both; `modelyard serve` may run them in its one process (the single-node
default). Any number of workers may share a database: each fire is claimed once
(registry/services/jobs.py) and each delivery once (webhooks/dispatcher.py).
"""
from __future__ import annotations

import datetime as dt
import logging
import signal
import time
from typing import Callable

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from registry.db import analyze, database
from registry.cron import parse_cron, time_zone
from registry.services import approvals, deployments, jobs, reevaluation, reports
from registry.report_mail import mail_configured, mail_report
from registry.services.artifacts import collect_garbage
from registry.services.evaluations import SCHEDULER
from registry.storage import ArtifactStore

log = logging.getLogger(__name__)


def _reevaluate(config: dict, store: ArtifactStore) -> dict:
    return reevaluation.reevaluate_all(store=store)


def _report(config: dict, store: ArtifactStore) -> dict:
    """Generate and store the report, then mail it when `[report]` says to (a failed send is
    retried and logged; the report is stored either way)."""
    report = reports.generate_configured(config, actor=SCHEDULER, trigger="scheduled")
    outcome = {"report_id": report["id"], "summary": report["summary"]}
    if mail_configured(config["report"]):
        outcome["mailed"] = mail_report(report, config["report"], console_url=reports.console_link(
            config["server"]["public_url"], report["id"]))
    return outcome


def _artifacts_gc(config: dict, store: ArtifactStore) -> dict:
    grace = dt.timedelta(seconds=config["schedule"]["artifacts_gc_grace_s"])
    return {"removed": len(collect_garbage(store=store, grace=grace))}


def _db_analyze(config: dict, store: ArtifactStore) -> dict:
    started = time.perf_counter()
    analyze()
    return {"seconds": round(time.perf_counter() - started, 3)}


def _expire_requests(config: dict, store: ArtifactStore) -> dict:
    return approvals.expire_due()


def _check_deployments(config: dict, store: ArtifactStore) -> dict:
    return deployments.check_lagging(timeout_s=config["deploy"]["converge_timeout_s"],
                                     stale_after_s=config["deploy"]["stale_after_s"])


WORK: dict[str, Callable[[dict, ArtifactStore], dict]] = {
    "reevaluate": _reevaluate, "report": _report, "artifacts_gc": _artifacts_gc,
    "db_analyze": _db_analyze, "expire_requests": _expire_requests,
    "check_deployments": _check_deployments}


def fire(job: str, config: dict, store: ArtifactStore) -> None:
    """What the scheduler calls at each fire of `job`: claim that fire, run it if ours."""
    schedule = config["schedule"]
    with database.connection_context():
        jobs.abandon_stale_runs(after_s=schedule["abandon_after_s"])
        scheduled_for = jobs.due_fire(schedule[job], schedule["timezone"],
                                      grace_s=schedule["misfire_grace_s"])
        if scheduled_for is None:
            log.warning("job %s started more than %s s after its fire; skipped", job,
                        schedule["misfire_grace_s"])
            return
        jobs.run_fire(job, scheduled_for, lambda: WORK[job](config, store),
                      worker=jobs.worker_name())


def build_scheduler(config: dict, store: ArtifactStore, *,
                    scheduler_class: type[BaseScheduler] = BlockingScheduler) -> BaseScheduler:
    """A scheduler with one job per non-empty cron expression of the `schedule` section."""
    schedule = config["schedule"]
    scheduler = scheduler_class(
        timezone=time_zone(schedule["timezone"]),
        executors={"default": ThreadPoolExecutor(len(jobs.JOBS))},
        job_defaults={"coalesce": True, "max_instances": 1,
                      "misfire_grace_time": schedule["misfire_grace_s"]})
    for job in jobs.JOBS:
        if schedule[job]:
            scheduler.add_job(fire, parse_cron(schedule[job], schedule["timezone"]), id=job,
                              name=job, args=(job, config, store))
    return scheduler


def start_in_background(config: dict, store: ArtifactStore) -> BaseScheduler:
    """Start the scheduler on a thread of this process (for `modelyard serve`)."""
    scheduler = build_scheduler(config, store, scheduler_class=BackgroundScheduler)
    scheduler.start()
    return scheduler


def run_worker(config: dict, store: ArtifactStore, dispatcher) -> None:
    """Run the dispatcher on a thread and the scheduler on this one until SIGTERM or Ctrl-C."""
    scheduler = build_scheduler(config, store)

    def stop(*_) -> None:
        dispatcher.stop()
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    dispatcher.start()
    try:
        scheduler.start()
    except KeyboardInterrupt:
        stop()
