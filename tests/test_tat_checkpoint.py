"""Resuming a ticket's replay from its checkpoint gives exactly the clocks a full replay of its log gives."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from helpdesk_retain.db import session_scope
from helpdesk_retain.events import Comment, TicketEvent
from helpdesk_retain.ingest import Context, Steps, apply_events
from helpdesk_retain.models import Ticket
from helpdesk_retain.models.tat import TatClock, TatReplay
from helpdesk_retain.runtime import build_runtime
from helpdesk_retain.tat import compute_clocks, policy_set
from helpdesk_retain.tat.logrows import full_log
from helpdesk_retain.tat.store import COMPUTED, recompute_step

T0 = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
NOW = datetime(2020, 1, 1, tzinfo=UTC)  # before every event: the log alone decides what ran out
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TAT = {
    "calendars": {"office": {"timezone": "Europe/London", "hours": {d: [["09:00", "17:00"]] for d in DAYS[:5]}}},
    "tat": {
        "policies": [
            {"name": "urgent", "calendar": "office", "match": {"priority": "urgent"}, "targets": {"resolution": 90}},
            {
                "name": "standard",
                "calendar": "office",
                "targets": {"first_response": 60, "next_response": 45, "resolution": 600},
            },
        ]
    },
}
STEPS = Steps(ticket=[recompute_step])

# what happens, and when (minutes after T0)
ACTIONS = st.sampled_from(["customer", "agent", "note", "pending", "open", "solved", "urgent", "normal"])
STORY = st.lists(st.tuples(st.integers(1, 3000), ACTIONS), min_size=1, max_size=14)


def event(ticket: str, n: int, minute: int, action: str) -> TicketEvent:
    at = T0 + timedelta(minutes=minute)
    if action in ("customer", "agent", "note"):
        role = "agent" if action == "note" else action
        note = Comment(f"{ticket}-{n}", "text", public=action != "note", author_role=role, created_at=at)  # type: ignore[arg-type]
        return TicketEvent("comment.created", ticket, at, comment=note)
    if action in ("urgent", "normal"):
        return TicketEvent("ticket.updated", ticket, at, priority=action, updated_at=at)  # type: ignore[arg-type]
    return TicketEvent("ticket.updated", ticket, at, status=action, updated_at=at)  # type: ignore[arg-type]


def stored(session, ticket_id: int) -> list[tuple[Any, ...]]:  # noqa: ANN001
    cols = [getattr(TatClock, name) for name in ("metric", "seq", *COMPUTED)]
    stmt = select(*cols).where(TatClock.ticket_id == ticket_id).order_by(TatClock.metric, TatClock.seq)
    return [tuple(row) for row in session.execute(stmt)]


def expected(session, ticket: Ticket, policies) -> list[tuple[Any, ...]]:  # noqa: ANN001
    clocks = compute_clocks(ticket.created_at, full_log(session, ticket.id), policies, NOW)
    rows = [(c.metric, c.seq, *(getattr(c, name) for name in COMPUTED)) for c in clocks]
    return sorted(rows, key=lambda r: (r[0], r[1]))


@pytest.fixture
def tat_runtime(make_settings):  # noqa: ANN001, ANN201
    rt = build_runtime(make_settings(extra=TAT))
    yield rt
    rt.close()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(story=STORY, order=st.randoms(use_true_random=False), late=st.integers(0, 3))
def test_event_by_event_resumed_replays_match_a_full_replay(tat_runtime, story, order, late):
    ticket = f"T-{uuid.uuid4().hex[:8]}"
    events = [TicketEvent("ticket.created", ticket, T0, status="new", priority="normal", created_at=T0)]
    events += [event(ticket, n, minute, action) for n, (minute, action) in enumerate(sorted(story))]
    for _ in range(late):  # move a few deliveries later than their time: out of order
        events.append(events.pop(order.randrange(1, len(events))))
    policies = policy_set(tat_runtime.settings)
    for ev in events:
        with session_scope(tat_runtime.sessions) as session:
            apply_events(Context(session, tat_runtime.settings, "generic", None, NOW), [ev], STEPS)
    with session_scope(tat_runtime.sessions) as session:
        row = session.execute(select(Ticket).where(Ticket.external_id == ticket)).scalar_one()
        assert stored(session, row.id) == expected(session, row, policies)


def test_a_delivery_older_than_the_checkpoint_replays_the_whole_log(tat_runtime):
    def deliver(*events: TicketEvent) -> None:
        with session_scope(tat_runtime.sessions) as session:
            apply_events(Context(session, tat_runtime.settings, "generic", None, NOW), list(events), STEPS)

    deliver(TicketEvent("ticket.created", "T-1", T0, status="new", created_at=T0), event("T-1", 1, 120, "customer"))
    deliver(event("T-1", 2, 30, "agent"))  # answered before the customer wrote again
    with session_scope(tat_runtime.sessions) as session:
        row = session.execute(select(Ticket).where(Ticket.external_id == "T-1")).scalar_one()
        clocks = {(c[0], c[1]): c for c in stored(session, row.id)}
        assert clocks["first_response", 1][COMPUTED.index("state") + 2] == "met"
        assert ("next_response", 1) in clocks  # the comment at 120 now follows a reply
        assert session.get(TatReplay, row.id).last_at == T0 + timedelta(minutes=120)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    story=st.lists(st.tuples(st.integers(1, 6).map(lambda k: 10 * k), ACTIONS), min_size=2, max_size=10),
    order=st.randoms(use_true_random=False),
)
def test_rows_logged_at_one_instant_give_the_same_clocks_whichever_arrived_first(tat_runtime, story, order):
    """Help desks stamp to the second: a customer's message and an agent's answer (or a status change) often share
    one. The clocks are a function of the log, not of which delivery came first."""
    # two updates stamped alike contradict each other (pending and open at once): the ticket's own fields take the
    # one delivered last, so at most one update per instant here; comments of both roles may share it
    updates = {m: a for m, a in reversed(story) if a not in ("customer", "agent", "note")}
    story = [(m, a) for m, a in story if a in ("customer", "agent", "note")] + sorted(updates.items())
    results = []
    for shuffled in (False, True):
        ticket = f"T-{uuid.uuid4().hex[:8]}"
        events = [event(ticket, n, minute, action) for n, (minute, action) in enumerate(story)]
        if shuffled:
            order.shuffle(events)
        events.insert(0, TicketEvent("ticket.created", ticket, T0, status="new", priority="normal", created_at=T0))
        for ev in events:
            with session_scope(tat_runtime.sessions) as session:
                apply_events(Context(session, tat_runtime.settings, "generic", None, NOW), [ev], STEPS)
        with session_scope(tat_runtime.sessions) as session:
            row = session.execute(select(Ticket).where(Ticket.external_id == ticket)).scalar_one()
            results.append(stored(session, row.id))
            assert results[-1] == expected(session, row, policy_set(tat_runtime.settings))
    assert results[0] == results[1]
