"""Verification: a cancel inside the window makes a save lost, none makes it held; each save judged once."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from helpdesk_retain.db import session_scope
from helpdesk_retain.models import Customer, Ticket
from helpdesk_retain.models.saves import Save, SaveEvent
from helpdesk_retain.saves import run_due_save_checks
from helpdesk_retain.scheduler import sweep_jobs

SAVED_AT = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
WINDOW_END = SAVED_AT + timedelta(days=60)


def tag_save(server, tid: str = "T-1", email: str = "ana@example.com") -> None:  # noqa: ANN001
    body = {
        "event": "ticket.updated",
        "occurred_at": "2026-11-20T10:00:00Z",
        "ticket": {
            "id": tid,
            "updated_at": "2026-11-20T10:00:00Z",
            "tags": ["saved"],
            "requester": {"email": email, "external_id": "cus_881"},
            "custom_fields": {"save_amount": "49.00", "save_currency": "USD"},
        },
    }
    assert server.post_signed("generic", json.dumps(body).encode()).status_code == 202


def customer(server, status: str, at: datetime, email: str = "ana@example.com") -> None:  # noqa: ANN001
    body = {
        "event": "customer.updated",
        "occurred_at": at.isoformat(),
        "customer": {"email": email, "external_id": "cus_881", "status": status, "updated_at": at.isoformat()},
    }
    assert server.post_signed("generic", json.dumps(body).encode()).status_code == 202


def outcome(server, tid: str = "T-1") -> str:  # noqa: ANN001
    return server.ticket("generic", tid)["save"]["outcome"]


def kinds(runtime) -> list[tuple[str, str]]:  # noqa: ANN001
    with session_scope(runtime.sessions) as session:
        return [tuple(r) for r in session.execute(select(SaveEvent.kind, SaveEvent.via).order_by(SaveEvent.id))]


def test_the_check_is_a_scheduler_sweep_job():
    assert ("save_checks", run_due_save_checks) in sweep_jobs()


def test_a_cancel_inside_the_window_makes_the_save_lost_at_once(server, runtime):
    tag_save(server)
    customer(server, "cancelled", SAVED_AT + timedelta(days=10))
    assert outcome(server) == "lost"
    assert kinds(runtime) == [("marked", "tag"), ("lost", "customer")]
    assert run_due_save_checks(runtime, WINDOW_END + timedelta(days=1)) == 0


def test_without_a_cancel_the_save_is_held_after_the_window(server, runtime):
    tag_save(server)
    assert run_due_save_checks(runtime, WINDOW_END - timedelta(seconds=1)) == 0
    assert outcome(server) == "pending"
    assert run_due_save_checks(runtime, WINDOW_END) == 1
    assert outcome(server) == "held"
    with session_scope(runtime.sessions) as session:
        event = session.execute(select(SaveEvent).where(SaveEvent.kind == "held")).scalar_one()
    assert event.at == WINDOW_END and event.via == "verification"


def test_each_save_is_judged_once_when_the_job_runs_again(server, runtime):
    tag_save(server)
    assert run_due_save_checks(runtime, WINDOW_END) == 1
    assert run_due_save_checks(runtime, WINDOW_END + timedelta(days=1)) == 0
    assert kinds(runtime).count(("held", "verification")) == 1


def test_a_cancel_after_the_window_leaves_a_held_save_held(server, runtime):
    tag_save(server)
    run_due_save_checks(runtime, WINDOW_END)
    customer(server, "cancelled", WINDOW_END + timedelta(days=5))
    assert outcome(server) == "held"


def test_a_late_delivered_cancel_from_inside_the_window_turns_a_held_save_lost(server, runtime):
    tag_save(server)
    run_due_save_checks(runtime, WINDOW_END)
    customer(server, "cancelled", WINDOW_END - timedelta(days=1))
    assert outcome(server) == "lost"


def test_a_customer_cancelled_before_the_save_and_still_cancelled_is_lost_at_the_window_end(server):
    customer(server, "cancelled", SAVED_AT - timedelta(days=1))
    tag_save(server)
    assert outcome(server) == "pending"  # the cancel came before the save: not yet a verdict
    run_due_save_checks(server.app.extensions["helpdesk_retain"], WINDOW_END)
    assert outcome(server) == "lost"


def test_a_customer_who_came_back_before_the_window_end_is_held(server):
    customer(server, "cancelled", SAVED_AT - timedelta(days=1))
    tag_save(server)
    customer(server, "active", SAVED_AT + timedelta(days=2))
    run_due_save_checks(server.app.extensions["helpdesk_retain"], WINDOW_END)
    assert outcome(server) == "held"


def test_a_withdrawn_save_is_never_judged(server, runtime):
    tag_save(server)
    body = {
        "event": "ticket.updated",
        "occurred_at": "2026-11-21T10:00:00Z",
        "ticket": {"id": "T-1", "updated_at": "2026-11-21T10:00:00Z", "tags": []},
    }
    server.post_signed("generic", json.dumps(body).encode())
    customer(server, "cancelled", SAVED_AT + timedelta(days=3))
    assert run_due_save_checks(runtime, WINDOW_END) == 0
    with session_scope(runtime.sessions) as session:
        assert session.execute(select(Save.outcome)).scalar_one() == "pending"


def seed_due_saves(runtime, n: int) -> None:  # noqa: ANN001
    with session_scope(runtime.sessions) as session:
        cancelled = Customer(
            key="gone@example.com",
            email="gone@example.com",
            status="cancelled",
            created_at=SAVED_AT,
            cancelled_at=SAVED_AT + timedelta(days=1),
        )
        session.add(cancelled)
        session.flush()
        for i in range(n):
            t = Ticket(
                source="generic",
                external_id=f"S-{i}",
                created_at=SAVED_AT,
                updated_at=SAVED_AT,
                first_seen_at=SAVED_AT,
                customer_id=cancelled.id if i % 3 == 0 else None,
            )
            session.add(t)
            session.flush()
            session.add(
                Save(
                    ticket_id=t.id,
                    customer_id=t.customer_id,
                    via="api",
                    amount_minor=100,
                    currency="USD",
                    interval="month",
                    mrr_minor=100,
                    arr_minor=1200,
                    saved_at=SAVED_AT,
                    verify_due_at=WINDOW_END,
                    created_at=SAVED_AT,
                    updated_at=SAVED_AT,
                )
            )


def test_two_schedulers_running_at_once_judge_each_save_exactly_once(runtime):
    seed_due_saves(runtime, 60)
    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(run_due_save_checks(runtime, WINDOW_END))) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == 60
    verdicts = [k for k in kinds(runtime) if k[1] == "verification"]
    assert len(verdicts) == 60 and verdicts.count(("lost", "verification")) == 20
