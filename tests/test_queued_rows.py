"""Rows queued for writing (``sqlutil.DeferredRows``/``DeferredObjects``) with ids set aside (``allocate_ids``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from helpdesk_retain.db import session_scope
from helpdesk_retain.ingest import TICKET_ROWS, _insert_ticket, attach_inserted
from helpdesk_retain.models import Ticket
from helpdesk_retain.sqlutil import allocate_ids
from helpdesk_retain.testing import ticket_values

AT = datetime(2026, 11, 20, 9, tzinfo=UTC)


def values(external_id: str) -> dict[str, Any]:
    return ticket_values(external_id, AT)


def test_ids_set_aside_are_never_handed_out_twice_in_a_transaction_or_across_transactions(runtime):
    with session_scope(runtime.sessions) as session:
        session.add(Ticket(**values("T-0")))
        session.flush()
        first = allocate_ids(session, Ticket.__table__, 3)
        second = allocate_ids(session, Ticket.__table__, 2)  # the first three are not written yet
        assert len(set(first + second)) == 5
        queued = attach_inserted(session, Ticket, values("T-1"), first[0])
        TICKET_ROWS.add(session, [queued])
        queued.subject = "changed after it was queued"  # goes into its INSERT
        # a ticket inserted the ordinary way in the same transaction never takes a set-aside id
        plain = _insert_ticket(session, values("T-2"))
        assert plain is not None and plain not in first + second
    with session_scope(runtime.sessions) as session:
        rows = {t.external_id: t for t in session.execute(select(Ticket)).scalars()}
        assert rows["T-1"].id == first[0] and rows["T-1"].subject == "changed after it was queued"
        assert rows["T-2"].id == plain
        later = allocate_ids(session, Ticket.__table__, 2)
        assert not set(later) & {t.id for t in rows.values()}


def test_a_queued_ticket_is_written_before_anything_reads_or_references_it_and_a_rollback_drops_it(runtime):
    from helpdesk_retain.models import TicketLog

    with session_scope(runtime.sessions) as session:
        (new_id,) = allocate_ids(session, Ticket.__table__, 1)
        TICKET_ROWS.add(session, [attach_inserted(session, Ticket, values("T-9"), new_id)])
        # an ORM write of another table that references it: the queued ticket goes first (foreign key)
        session.add(TicketLog(ticket_id=new_id, at=AT, kind="created", dedupe_key="created:x"))
        session.flush()
        assert session.execute(select(Ticket.external_id).where(Ticket.id == new_id)).scalar() == "T-9"
    session = runtime.sessions()
    try:
        (other,) = allocate_ids(session, Ticket.__table__, 1)
        TICKET_ROWS.add(session, [attach_inserted(session, Ticket, values("T-10"), other)])
        session.rollback()
        assert TICKET_ROWS._info_key not in session.info or not session.info[TICKET_ROWS._info_key]
    finally:
        session.close()
    with session_scope(runtime.sessions) as session:
        assert session.execute(select(Ticket.external_id).where(Ticket.external_id == "T-10")).first() is None
