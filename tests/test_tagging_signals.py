"""Risk-signal rows are queued and inserted together; reads and commits see them, rollbacks drop them."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update

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


def test_queued_complaint_times_keep_the_last_per_ticket_and_an_orm_write_of_the_table_waits_for_them(runtime):
    from datetime import timedelta

    from helpdesk_retain.models.tagging import ComplaintState
    from helpdesk_retain.tagging.complaints import COMPLAINT_TIMES

    with session_scope(runtime.sessions) as session:
        tickets = [
            Ticket(source="generic", external_id=f"T-{n}", created_at=AT, updated_at=AT, first_seen_at=AT)
            for n in (1, 2)
        ]
        session.add_all(tickets)
        session.flush()
        one, two = (t.id or 0 for t in tickets)
    later = AT + timedelta(hours=1)
    with session_scope(runtime.sessions) as session:
        # twice for one ticket in one batch: one multi-row upsert must not touch a row twice (PostgreSQL refuses)
        COMPLAINT_TIMES.add(session, [{"ticket_id": one, "complaint_at": AT}, {"ticket_id": two, "complaint_at": AT}])
        COMPLAINT_TIMES.add(session, [{"ticket_id": one, "complaint_at": later}])
        session.execute(  # an ORM write of the table: the queued upserts are written before it
            update(ComplaintState).where(ComplaintState.ticket_id == two).values(complaint_at=None)
        )
    with session_scope(runtime.sessions) as session:
        rows = dict(session.execute(select(ComplaintState.ticket_id, ComplaintState.complaint_at)).all())
    assert rows == {one: later, two: None}
