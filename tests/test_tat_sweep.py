"""The breach sweep: each warning and breach recorded once, by one scheduler or by several processes."""

from __future__ import annotations

import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from helpdesk_retain.db import session_scope
from helpdesk_retain.models import Ticket
from helpdesk_retain.models.tat import TatClock, TatEvent
from helpdesk_retain.runtime import Runtime, build_runtime
from helpdesk_retain.scheduler import sweep_jobs
from helpdesk_retain.tat import run_due_tat
from tests.conftest import requires_postgres

TAT_TOML = """
[calendars.always]
timezone = "UTC"

[calendars.always.hours]
mon = [["00:00", "00:00"]]
tue = [["00:00", "00:00"]]
wed = [["00:00", "00:00"]]
thu = [["00:00", "00:00"]]
fri = [["00:00", "00:00"]]
sat = [["00:00", "00:00"]]
sun = [["00:00", "00:00"]]

[[tat.policies]]
name = "standard"
calendar = "always"
targets = { first_response = 60, next_response = 60, resolution = 60 }
"""


@pytest.fixture
def tat_runtime(make_settings) -> Iterator[Runtime]:  # noqa: ANN001
    rt = build_runtime(make_settings(extra=tomllib.loads(TAT_TOML)))
    yield rt
    rt.close()


def test_the_sweep_is_a_registered_scheduler_job():
    assert ("tat", run_due_tat) in sweep_jobs()


def seed_due_clocks(runtime, tickets: int) -> int:  # noqa: ANN001
    """``tickets`` tickets with three clocks each, all due in the past (so ``run-due`` now finds them)."""
    due = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    with session_scope(runtime.sessions) as session:
        base = {"source": "generic", "status": "open", "tags": [], "custom_fields": {}, "complaint_evidence": []}
        times = {"created_at": due, "updated_at": due, "first_seen_at": due}
        rows = [{**base, **times, "external_id": f"S-{n}"} for n in range(tickets)]
        session.execute(insert(Ticket), rows)
        ids = session.execute(select(Ticket.id)).scalars().all()
        clock = {"policy": "standard", "target_minutes": 60, "started_at": due, "state": "running"}
        metrics = ("first_response", "next_response", "resolution")
        session.execute(
            insert(TatClock),
            [
                {**clock, "ticket_id": i, "metric": m, "due_at": due, "warn_at": due, "sweep_at": due}
                for i in ids
                for m in metrics
            ],
        )
    return tickets * 3


def run_due_processes(tmp_path: Path, db_url: str, count: int) -> list[int]:
    config = tmp_path / "scheduler.toml"
    config.write_text(f'[database]\nurl = "{db_url}"\n{TAT_TOML}')
    command = [sys.executable, "-m", "helpdesk_retain.cli", "run-due", "--config", str(config)]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(count)]
    recorded = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        recorded += [int(line.split(":")[1]) for line in out.splitlines() if line.startswith("tat:")]
    return recorded


def test_the_sweep_does_nothing_while_no_policy_is_configured(runtime):
    seed_due_clocks(runtime, 2)
    assert run_due_tat(runtime, datetime(2026, 1, 6, tzinfo=UTC)) == 0


def test_two_scheduler_processes_on_postgresql_record_each_breach_exactly_once(tat_runtime, db_url, tmp_path):
    requires_postgres()
    runtime = tat_runtime
    due = seed_due_clocks(runtime, 400)
    recorded = run_due_processes(tmp_path, db_url, 2)
    assert len(recorded) == 2 and sum(recorded) == due
    with session_scope(runtime.sessions) as session:
        assert session.execute(select(func.count()).select_from(TatEvent)).scalar_one() == due
        kinds = session.execute(select(TatEvent.kind, func.count()).group_by(TatEvent.kind)).all()
        assert dict(kinds) == {"breach": due}
        left = select(func.count()).select_from(TatClock).where(TatClock.state != "breached")
        assert session.execute(left).scalar_one() == 0


def test_two_sweepers_racing_in_threads_record_each_breach_exactly_once(tat_runtime):
    runtime = tat_runtime
    due = seed_due_clocks(runtime, 200)
    now = datetime(2026, 1, 6, tzinfo=UTC)
    barrier = threading.Barrier(2)
    recorded: list[int] = []

    def sweep() -> None:
        barrier.wait()
        recorded.append(run_due_tat(runtime, now))

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(recorded) == due
    with session_scope(runtime.sessions) as session:
        assert session.execute(select(func.count()).select_from(TatEvent)).scalar_one() == due
