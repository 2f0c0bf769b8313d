"""Two real scheduler processes on one PostgreSQL database deliver 1,000 messages to a real SMTP server:
each exactly once, and a kill -9 of one of them mid-run loses nothing and re-sends nothing recorded as sent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from helpdesk_retain.config import settings_from_dict
from helpdesk_retain.db import session_scope
from helpdesk_retain.models.messages import Message
from helpdesk_retain.notify.outbox import enqueue, message_uid
from helpdesk_retain.runtime import Runtime, build_runtime
from helpdesk_retain.testing import SmtpSink, wait_until
from tests.conftest import FIXED_NOW, requires_postgres

MESSAGES = 1000


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    # a few milliseconds per message, so a run lasts long enough to be killed in the middle
    sink = SmtpSink(delay_seconds=0.003).start()
    yield sink
    sink.stop()


@pytest.fixture
def rt(db_url: str) -> Iterator[Runtime]:
    requires_postgres()
    runtime = build_runtime(settings_from_dict({"database": {"url": db_url}}, environ={}))
    yield runtime
    runtime.close()


@pytest.fixture
def config_file(tmp_path: Path, db_url: str, smtp: SmtpSink) -> Path:
    path = tmp_path / "hr.toml"
    path.write_text(
        f'[database]\nurl = "{db_url}"\n\n[scheduler]\nsweep_seconds = 1\n\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {smtp.port}\ntimeout_seconds = 1.0\n\n'
        "[notify]\nstale_after_seconds = 3.0\nbatch_size = 20\n"
    )
    return path


class Scheduler:
    """``helpdesk-retain scheduler`` in its own process (stderr to a file: a full pipe would block it)."""

    def __init__(self, config_file: Path, log: Path) -> None:
        self.log = log
        with log.open("w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "helpdesk_retain.cli", "scheduler", "--config", str(config_file)],
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        assert wait_until(lambda: "scheduler running" in log.read_text() or self.proc.poll() is not None, 60)
        assert self.proc.poll() is None, log.read_text()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)


@pytest.fixture
def schedulers(config_file: Path, tmp_path: Path, rt: Runtime) -> Iterator[list[Scheduler]]:
    started = [Scheduler(config_file, tmp_path / f"scheduler-{n}.log") for n in range(2)]
    yield started
    for scheduler in started:
        scheduler.stop()


def enqueue_all(rt: Runtime) -> dict[str, int]:
    """1,000 due messages in one transaction; returns Message-ID -> row id."""
    ids: dict[str, int] = {}
    with session_scope(rt.sessions) as session:
        for n in range(MESSAGES):
            key = f"load:{n}"
            row_id = enqueue(session, dedupe_key=key, kind="test", channel="email", recipient=f"agent{n}@example.com",
                             subject=f"Reminder {n}", text=f"Body {n}", now=FIXED_NOW)  # fmt: skip
            assert row_id is not None
            ids[f"<{message_uid(row_id, key)}@localhost>"] = row_id
    return ids


def states(rt: Runtime) -> dict[str, int]:
    with session_scope(rt.sessions) as session:
        return dict(session.execute(select(Message.state, func.count()).group_by(Message.state)).all())  # type: ignore[arg-type]


def all_sent(rt: Runtime) -> bool:
    return states(rt) == {"sent": MESSAGES}


def test_two_scheduler_processes_deliver_1000_messages_exactly_once(rt, smtp, schedulers):
    ids = enqueue_all(rt)
    assert wait_until(lambda: all_sent(rt), timeout=180), states(rt)
    received = Counter(smtp.message_ids())
    assert set(received) == set(ids)
    assert set(received.values()) == {1}


def test_a_scheduler_killed_mid_run_loses_nothing_and_resends_nothing_recorded_as_sent(rt, smtp, schedulers):
    ids = enqueue_all(rt)
    victim, survivor = schedulers
    sending = select(Message.id).where(
        Message.state == "sending", Message.claimed_by == f"{os.uname().nodename}:{victim.proc.pid}"
    )

    def victim_is_mid_batch() -> bool:
        # several claimed messages still to send (>= 15 ms of work): the kill lands inside the batch
        with session_scope(rt.sessions) as session:
            return len(session.scalars(sending).all()) >= 5

    assert wait_until(victim_is_mid_batch, timeout=60), "the victim never claimed a batch"
    victim.proc.send_signal(signal.SIGKILL)
    victim.proc.wait(timeout=10)
    with session_scope(rt.sessions) as session:
        orphans = set(session.scalars(sending))
        sent_at_kill = set(session.scalars(select(Message.id).where(Message.state == "sent")))
    assert orphans

    assert wait_until(lambda: all_sent(rt), timeout=180), states(rt)  # the survivor recovers the stale claims
    received = Counter(smtp.message_ids())
    assert set(received) == set(ids)  # nothing lost
    repeated = {ids[message_id] for message_id, count in received.items() if count > 1}
    assert not repeated & sent_at_kill  # nothing recorded as sent went out again
    assert repeated <= orphans  # at most the batch the victim was sending (its outcomes are recorded together)
    assert max(received.values()) <= 2
    assert survivor.proc.poll() is None
