"""Outbound message delivery with a real SMTP server (aiosmtpd on 127.0.0.1) and a fixed clock."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from helpdesk_retain.config import settings_from_dict
from helpdesk_retain.db import session_scope
from helpdesk_retain.models.messages import Message
from helpdesk_retain.notify import delivery
from helpdesk_retain.notify.delivery import backoff_seconds, run_due_messages
from helpdesk_retain.notify.outbox import enqueue, message_uid
from helpdesk_retain.runtime import Runtime, build_runtime
from helpdesk_retain.scheduler import sweep_jobs
from helpdesk_retain.testing import SmtpSink

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def make_runtime(make_settings: Callable[..., Any]) -> Iterator[Callable[..., Runtime]]:
    built: list[Runtime] = []

    def make(smtp: SmtpSink | None = None, **notify: Any) -> Runtime:
        extra: dict[str, Any] = {"notify": {"backoff_seconds": 60, **notify}}
        if smtp is not None:
            extra["smtp"] = smtp.settings()
        built.append(build_runtime(make_settings(extra=extra)))
        return built[-1]

    yield make
    for rt in built:
        rt.close()


def queue(rt: Runtime, n: int = 1, channel: str = "email", prefix: str = "test") -> list[int]:
    with session_scope(rt.sessions) as session:
        return [
            enqueue(
                session,
                dedupe_key=f"{prefix}:{i}",
                kind="test",
                channel=channel,
                recipient=f"agent{i}@example.com",
                subject=f"Message {i}",
                text=f"Body {i}",
                now=NOW,
            )
            for i in range(n)
        ]


def messages(rt: Runtime) -> list[Message]:
    with session_scope(rt.sessions) as session:
        return list(session.execute(select(Message).order_by(Message.id)).scalars())


def test_a_due_message_is_sent_once_and_recorded_as_sent(smtp, make_runtime):
    rt = make_runtime(smtp)
    queue(rt, 3)
    assert run_due_messages(rt, NOW) == 3
    assert run_due_messages(rt, NOW + timedelta(hours=1)) == 0
    assert sorted(m.rcpt_tos[0] for m in smtp.received) == [f"agent{i}@example.com" for i in range(3)]
    rows = messages(rt)
    assert [(m.state, m.attempts, m.last_error) for m in rows] == [("sent", 1, None)] * 3
    assert all(m.sent_at is not None and m.sent_at >= NOW for m in rows)
    # the Message-ID is the row's stable uid (the same on a retry)
    assert sorted(smtp.message_ids()) == sorted(f"<{message_uid(m.id, m.dedupe_key)}@localhost>" for m in rows)


def test_the_same_dedupe_key_is_enqueued_once(make_runtime):
    rt = make_runtime()
    assert queue(rt, 2) == [1, 2]
    assert queue(rt, 2) == [None, None]
    assert len(messages(rt)) == 2


def test_a_message_waits_for_its_next_attempt_time(smtp, make_runtime):
    rt = make_runtime(smtp)
    queue(rt)
    assert run_due_messages(rt, NOW - timedelta(seconds=1)) == 0
    assert smtp.received == [] and messages(rt)[0].state == "pending"


def test_a_550_fails_at_once_and_is_never_retried(smtp, make_runtime):
    rt = make_runtime(smtp)
    smtp.reject = (550, "5.1.1 No such user")
    queue(rt)
    assert run_due_messages(rt, NOW) == 1
    smtp.reject = None
    assert run_due_messages(rt, NOW + timedelta(days=7)) == 0
    [row] = messages(rt)
    assert (row.state, row.attempts, row.last_error) == ("failed", 1, "SMTP 550 5.1.1 No such user")
    assert smtp.received == []


def test_a_451_is_retried_with_backoff_until_max_attempts_then_failed(smtp, make_runtime):
    rt = make_runtime(smtp, max_attempts=3, backoff_seconds=60)
    smtp.reject = (451, "4.7.1 Greylisted, try again later")
    queue(rt)
    at = NOW
    for attempt, ceiling in ((1, 60), (2, 120)):
        assert run_due_messages(rt, at) == 1
        [row] = messages(rt)
        assert (row.state, row.attempts) == ("pending", attempt)
        assert at + timedelta(seconds=ceiling / 2) <= row.next_attempt_at <= at + timedelta(seconds=ceiling + 1)
        assert run_due_messages(rt, row.next_attempt_at - timedelta(seconds=1)) == 0
        at = row.next_attempt_at
    assert run_due_messages(rt, at) == 1
    [row] = messages(rt)
    assert (row.state, row.attempts) == ("failed", 3)
    assert row.last_error == "gave up after 3 attempts: SMTP 451 4.7.1 Greylisted, try again later"


def test_a_server_that_is_down_holds_back_its_channel_without_counting_attempts(smtp, make_runtime):
    rt = make_runtime(smtp)
    smtp.stop()
    queue(rt, 3)
    assert run_due_messages(rt, NOW) == 1  # one attempt finds the server down; the others wait with it
    rows = messages(rt)
    assert [(m.state, m.attempts) for m in rows] == [("pending", 1), ("pending", 0), ("pending", 0)]
    assert "ConnectionRefusedError" in (rows[0].last_error or "")
    assert len({m.next_attempt_at for m in rows}) == 1 and rows[0].next_attempt_at >= NOW + timedelta(seconds=30)
    smtp.start()
    assert run_due_messages(rt, rows[0].next_attempt_at) == 3
    assert [(m.state, m.attempts) for m in messages(rt)] == [("sent", 2), ("sent", 1), ("sent", 1)]
    assert len(smtp.received) == 3


def leave_sending(rt: Runtime, claimed_at: datetime, worker: str = "dead-host:1") -> None:
    """What a process killed mid-send leaves behind: claimed rows in ``sending``."""
    assert delivery.claim(rt, claimed_at, 10, worker)


def test_a_message_left_sending_by_a_dead_process_is_retried_after_the_stale_timeout(smtp, make_runtime):
    rt = make_runtime(smtp, stale_after_seconds=600)
    queue(rt, 2)
    leave_sending(rt, NOW)
    assert run_due_messages(rt, NOW + timedelta(seconds=599)) == 0
    assert {m.state for m in messages(rt)} == {"sending"} and smtp.received == []
    assert run_due_messages(rt, NOW + timedelta(seconds=601)) == 4  # 2 recovered + 2 sent
    rows = messages(rt)
    assert [(m.state, m.attempts) for m in rows] == [("sent", 2), ("sent", 2)]
    assert len(smtp.received) == 2


def test_with_on_stale_fail_a_message_left_sending_fails_with_an_unknown_outcome(smtp, make_runtime):
    rt = make_runtime(smtp, stale_after_seconds=600, on_stale="fail")
    queue(rt)
    leave_sending(rt, NOW)
    assert run_due_messages(rt, NOW + timedelta(hours=1)) == 1
    [row] = messages(rt)
    assert row.state == "failed" and (row.last_error or "").startswith("unknown outcome")
    assert smtp.received == []


def test_a_message_recorded_as_sent_is_never_sent_again(smtp, make_runtime):
    rt = make_runtime(smtp, stale_after_seconds=1)
    queue(rt)
    run_due_messages(rt, NOW)
    for later in (timedelta(minutes=1), timedelta(days=30)):
        assert run_due_messages(rt, NOW + later) == 0
    assert len(smtp.received) == 1


def test_an_outcome_is_not_recorded_over_a_claim_taken_over_by_recovery(smtp, make_runtime):
    rt = make_runtime(smtp)
    [row_id] = queue(rt)
    [claimed] = delivery.claim(rt, NOW, 10, "slow-host:1")
    with session_scope(rt.sessions) as session:  # recovery handed it to another process meanwhile
        session.execute(update(Message).where(Message.id == row_id).values(claimed_by="other-host:2"))
    with ExitStack() as stack:
        run = delivery.Run(rt, delivery.Clock(NOW), "slow-host:1", {}, stack)
        run.record(claimed, "sent", NOW)
        run.flush()
    assert messages(rt)[0].state == "sending"


def test_concurrent_runs_deliver_each_message_exactly_once(smtp, make_runtime):
    rt = make_runtime(smtp, batch_size=7)
    queue(rt, 60)
    counts: list[int] = []
    threads = [threading.Thread(target=lambda: counts.append(run_due_messages(rt, NOW))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts) == 60
    assert Counter(Counter(smtp.message_ids()).values()) == {1: 60}
    assert {m.state for m in messages(rt)} == {"sent"}


def test_a_message_for_an_unconfigured_channel_fails_with_the_reason(make_runtime):
    rt = make_runtime()
    queue(rt, channel="pager")
    assert run_due_messages(rt, NOW) == 1
    [row] = messages(rt)
    assert row.state == "failed" and "'pager' is not configured" in (row.last_error or "")


def test_outcomes_are_counted_in_the_metrics_per_channel(smtp, make_runtime):
    rt = make_runtime(smtp)
    queue(rt, 2)
    run_due_messages(rt, NOW)
    smtp.reject = (554, "5.7.1 Rejected")
    queue(rt, 1, prefix="other")
    run_due_messages(rt, NOW)
    text = rt.metrics.render().decode()
    assert 'helpdesk_retain_messages_total{channel="email",outcome="sent"} 2.0' in text
    assert 'helpdesk_retain_messages_total{channel="email",outcome="failed"} 1.0' in text


def test_backoff_doubles_per_attempt_with_jitter_and_a_cap():
    cfg = settings_from_dict({"notify": {"backoff_seconds": 10, "max_backoff_seconds": 100}}, environ={}).notify
    for attempts, ceiling in ((1, 10), (2, 20), (3, 40), (4, 80), (5, 100), (40, 100), (5000, 100)):
        delays = [backoff_seconds(cfg, attempts) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1
    assert backoff_seconds(cfg, 1, retry_after=7) == 7


def test_messages_are_delivered_after_the_producers_in_the_scheduler():
    names = [name for name, _ in sweep_jobs()]
    assert names[-1] == "messages" and names.index("notifications") < names.index("messages")
    assert names.index("reminders") < names.index("notifications") and names.index("tat") < names.index("notifications")
