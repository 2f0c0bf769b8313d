"""Risk-signal rows are queued and inserted together; reads and commits see them, rollbacks drop them."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from helpdesk_retain.db import session_scope
from helpdesk_retain.models import Ticket
from helpdesk_retain.models.tagging import RiskSignal
from helpdesk_retain.tagging.signals import Found, add_signals

AT = datetime(2026, 11, 20, 9, tzinfo=UTC)


def stored(runtime) -> list[str]:  # noqa: ANN001
    with session_scope(runtime.sessions) as session:
        return sorted(session.execute(select(RiskSignal.signal)).scalars())


def test_queued_rows_are_read_in_their_transaction_committed_with_it_and_dropped_by_a_rollback(runtime):
    with session_scope(runtime.sessions) as session:
        ticket = Ticket(source="generic", external_id="T-1", created_at=AT, updated_at=AT, first_seen_at=AT)
        session.add(ticket)
        session.flush()
        ticket_id = ticket.id or 0
    with session_scope(runtime.sessions) as session:
        add_signals(session, ticket_id, [Found("refund_request", "description", "refund", AT)])
        assert session.execute(select(RiskSignal.signal)).scalars().all() == ["refund_request"]  # a read sees it
        add_signals(session, ticket_id, [Found("data_export", "description", "export", AT)])
        savepoint = session.begin_nested()
        add_signals(session, ticket_id, [Found("cancel_intent", "subject", "cancel", AT)])
        savepoint.rollback()  # drops only what was queued inside it
    assert stored(runtime) == ["data_export", "refund_request"]
    with session_scope(runtime.sessions) as session:
        add_signals(session, ticket_id, [Found("legal_threat", "comment:1", "lawyer", AT)])
        session.rollback()
    assert "legal_threat" not in stored(runtime)
