"""Scheduled job fires: claimed once across every worker, run, and recorded.

Every worker's scheduler fires at the same instants (the cron trigger is the same everywhere),
so the fire's instant is the claim key: the first worker to insert (job, instant) runs it and the
others see the unique index refuse theirs.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import traceback
from typing import Callable

from peewee import IntegrityError, fn

from registry.db import write_transaction
from registry.cron import latest_fire, parse_cron
from registry.models import JobRun
from registry.services.timefmt import rfc3339, utcnow

log = logging.getLogger(__name__)
JOBS = ("reevaluate", "report", "artifacts_gc", "db_analyze", "expire_requests",
        "check_deployments")
ERROR_CHARS = 4000


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def claim_fire(job: str, scheduled_for: dt.datetime, *, worker: str,
               now: dt.datetime | None = None) -> JobRun | None:
    """Claim one fire of `job`; None when another worker already has it.

    The unique index on (job, scheduled_for) decides, so two workers racing for one fire can
    never both get it.
    """
    try:
        with write_transaction():
            return JobRun.create(job=job, scheduled_for=scheduled_for, worker=worker,
                                 started_at=now or utcnow(), outcome="running")
    except IntegrityError:
        return None


def run_fire(job: str, scheduled_for: dt.datetime, work: Callable[[], dict], *,
             worker: str) -> JobRun | None:
    """Claim the fire and run `work` once, recording its end, outcome, summary or error.

    Returns the run, or None when another worker claimed the fire. A failing `work` is recorded
    as `failed` with its error and logged, never raised: the scheduler must keep firing. Work
    that carried on past some failures lists them (as text) under `errors` in its summary: the
    run is then `failed` too, with its summary kept.
    """
    run = claim_fire(job, scheduled_for, worker=worker)
    if run is None:
        return None
    try:
        run.summary = work()
        problems = run.summary.get("errors")
        run.outcome = "failed" if problems else "succeeded"
        if problems:
            run.error = "; ".join(map(str, problems))[:ERROR_CHARS]
    except Exception as exc:  # noqa: BLE001 - any failure is the run's outcome
        log.exception("scheduled job %s (fire %s) failed", job, scheduled_for.isoformat())
        run.outcome = "failed"
        run.error = "".join(traceback.format_exception_only(exc)).strip()[:ERROR_CHARS]
    run.finished_at = utcnow()
    with write_transaction():
        run.save(only=[JobRun.summary, JobRun.outcome, JobRun.error, JobRun.finished_at])
    return run


def abandon_stale_runs(*, after_s: int, now: dt.datetime | None = None) -> int:
    """Mark runs still `running` that started more than `after_s` ago as `abandoned`: a run
    records its outcome when it ends, so one this old lost its worker (killed, or its machine
    went away). A run that does end later still records its real outcome. Returns how many."""
    now = now or utcnow()
    with write_transaction():
        return (JobRun.update(outcome="abandoned", finished_at=now,
                              error=f"no outcome within {after_s} s: its worker stopped")
                .where((JobRun.outcome == "running")
                       & (JobRun.started_at < now - dt.timedelta(seconds=after_s)))
                .execute())


def due_fire(expression: str, timezone: str, *, grace_s: int,
             now: dt.datetime | None = None) -> dt.datetime | None:
    """The fire a scheduler called us for: the newest instant of the schedule, up to `grace_s`
    ago (a worker may start a fire late); None when there is none that recent."""
    return latest_fire(parse_cron(expression, timezone), now or utcnow(),
                       within=dt.timedelta(seconds=grace_s))


def run_view(run: JobRun) -> dict:
    return {"id": run.id, "job": run.job, "scheduled_for": rfc3339(run.scheduled_for),
            "worker": run.worker, "started_at": rfc3339(run.started_at),
            "finished_at": rfc3339(run.finished_at) if run.finished_at else None,
            "outcome": run.outcome, "error": run.error, "summary": run.summary}


def schedule_view(schedule: dict, *, now: dt.datetime | None = None) -> list[dict]:
    """Each job of the `schedule` config section: its cron, time zone, next fire and last run."""
    now = now or utcnow()
    newest = JobRun.select(fn.MAX(JobRun.id)).group_by(JobRun.job)
    last = {run.job: run for run in JobRun.select().where(JobRun.id.in_(newest))}
    jobs = []
    for job in JOBS:
        expression = schedule[job]
        trigger = parse_cron(expression, schedule["timezone"]) if expression else None
        next_fire = trigger.get_next_fire_time(None, now) if trigger else None
        jobs.append({"job": job, "cron": expression or None, "timezone": schedule["timezone"],
                     "enabled": bool(expression),
                     "next_run_at": rfc3339(next_fire) if next_fire else None,
                     "last_run": run_view(last[job]) if job in last else None})
    return jobs


def list_runs(job: str, *, limit: int = 50) -> list[dict]:
    """The newest runs of one job, newest first."""
    runs = JobRun.select().where(JobRun.job == job).order_by(JobRun.id.desc()).limit(limit)
    return [run_view(run) for run in runs]
