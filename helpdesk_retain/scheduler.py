"""APScheduler wiring only. Jobs are ``run_due_x(runtime, now) -> int`` functions; all pending work
lives in database rows, so any number of scheduler processes may poll (claims make them safe).

APScheduler 3.x with its in-memory job store, ``coalesce=True`` and ``max_instances=1``: after a pause
a job runs once, not once per missed tick.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from . import inbox
from .events import utcnow
from .runtime import Runtime

log = logging.getLogger(__name__)

Job = Callable[[Runtime, Any], int]


@dataclass(frozen=True)
class JobSpec:
    name: str
    func: Job
    trigger: str
    trigger_args: dict[str, Any]


def job_specs(rt: Runtime) -> list[JobSpec]:
    """Every periodic job, in the order ``run-due --once`` runs them."""
    sweep = rt.settings.scheduler.sweep_seconds
    return [
        JobSpec("purge_inbox", inbox.run_due_purge, "interval", {"hours": 1}),
    ] + [JobSpec(name, func, "interval", {"seconds": sweep}) for name, func in sweep_jobs()]


def sweep_jobs() -> list[tuple[str, Job]]:
    """Jobs that poll for due rows every ``[scheduler] sweep_seconds``; features add theirs here."""
    from . import followups, saves
    from .digest.send import run_due_digest
    from .notify.delivery import run_due_messages
    from .notify.producers import run_due_notifications
    from .tat.sweep import run_due_tat

    return [
        ("reminders", followups.run_due_reminders),
        ("save_checks", saves.run_due_save_checks),
        ("tat", run_due_tat),
        ("notifications", run_due_notifications),  # after the producers of due rows above
        ("digest", run_due_digest),  # the weekly digest, once per ISO week
        ("messages", run_due_messages),  # last: delivers what the jobs above enqueued
    ]


def run_job(rt: Runtime, spec: JobSpec) -> int:
    """Run one job now; an error is logged and the job simply runs again at its next tick."""
    try:
        done = spec.func(rt, utcnow())
    except Exception:
        log.exception("job %s failed", spec.name)
        return 0
    if done:
        log.info("job %s handled %d item(s)", spec.name, done)
    return done


def run_all_once(rt: Runtime) -> dict[str, int]:
    return {spec.name: run_job(rt, spec) for spec in job_specs(rt)}


def build_scheduler(rt: Runtime, *, blocking: bool) -> BaseScheduler:
    cls = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = cls(job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}, timezone="UTC")
    for spec in job_specs(rt):
        # next_run_time=now: catch up once at start-up after downtime, then follow the trigger
        scheduler.add_job(
            run_job,
            spec.trigger,
            args=(rt, spec),
            id=spec.name,
            name=spec.name,
            next_run_time=utcnow(),
            **spec.trigger_args,
        )
    return scheduler


def run_blocking(rt: Runtime, on_ready: Callable[[], None] | None = None) -> None:
    """Run until SIGTERM or SIGINT; the running job finishes, then the process exits cleanly."""
    scheduler = build_scheduler(rt, blocking=True)

    def stop(signum: int, _frame: object) -> None:
        log.info("signal %d: stopping the scheduler", signum)
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if on_ready is not None:
        on_ready()
    scheduler.start()
