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


def test_many_queued_tickets_are_written_in_statements_of_as_many_rows_as_the_database_takes(runtime, monkeypatch):
    # SQLite writes them as multi-row INSERTs (``sqlutil.insert_multirow``), split by its bound-variable limit:
    # a limit of 100 variables makes 22 columns a row go 4 rows a statement, so 10 tickets take three statements;
    # every column comes back as written (JSON, datetimes, booleans through their types' own conversions)
    from sqlalchemy import event

    from helpdesk_retain import sqlutil

    monkeypatch.setattr(sqlutil, "_variable_limit", lambda _connection: 100)
    inserts: list[int] = []

    def count(_conn, _cursor, statement, parameters, _context, executemany):  # noqa: ANN001
        if statement.startswith("INSERT INTO tickets"):
            inserts.append(len(parameters) if executemany else 1)

    event.listen(runtime.engine, "before_cursor_execute", count)
    with session_scope(runtime.sessions) as session:
        ids = allocate_ids(session, Ticket.__table__, 10)
        for n, row_id in enumerate(ids):
            ticket = attach_inserted(session, Ticket, values(f"M-{n}"), row_id)
            ticket.tags = ["vip", f"n{n}"]
            ticket.custom_fields = {"plan": "pro", "seats": n}
            ticket.is_complaint = n % 2 == 0
            ticket.complaint_evidence = ["charged twice"] if n % 2 == 0 else []
            TICKET_ROWS.add(session, [ticket])
    event.remove(runtime.engine, "before_cursor_execute", count)
    if runtime.engine.dialect.name == "sqlite":
        assert inserts == [1, 1, 1]  # three statements, no executemany
    with session_scope(runtime.sessions) as session:
        stored = {t.external_id: t for t in session.execute(select(Ticket)).scalars()}
    assert sorted(t.id for t in stored.values()) == sorted(ids)
    for n in range(10):
        t = stored[f"M-{n}"]
        assert t.tags == ["vip", f"n{n}"] and t.custom_fields == {"plan": "pro", "seats": n}
        assert t.is_complaint is (n % 2 == 0) and t.complaint_evidence == (["charged twice"] if n % 2 == 0 else [])
        assert t.created_at == AT and t.created_at.tzinfo is not None


def test_queued_rows_with_a_conflict_clause_go_in_one_statement_and_rows_already_stored_are_skipped(runtime):
    from sqlalchemy import event

    from helpdesk_retain.ingest import LOG_ROWS
    from helpdesk_retain.models import TicketLog

    def log_row(ticket_id: int, key: str, body: str, **extra: Any) -> dict[str, Any]:
        row = {"ticket_id": ticket_id, "at": AT, "kind": "comment", "dedupe_key": key, "body": body, "snapshot": {}}
        return {**row, **extra}

    with session_scope(runtime.sessions) as session:
        ticket_id = _insert_ticket(session, values("L-1"))
        assert ticket_id is not None
        LOG_ROWS.add(session, [log_row(ticket_id, "comment:1", "first")])
    statements: list[str] = []

    def count(_conn, _cursor, statement, _parameters, _context, _executemany):  # noqa: ANN001
        if statement.startswith("INSERT INTO ticket_log"):
            statements.append(statement)

    event.listen(runtime.engine, "before_cursor_execute", count)
    try:
        with session_scope(runtime.sessions) as session:
            # a re-delivered comment (stored above), a new one twice (one delivery repeating itself) and a third
            LOG_ROWS.add(
                session,
                [
                    log_row(ticket_id, "comment:1", "again"),
                    log_row(ticket_id, "comment:2", "second"),
                    log_row(ticket_id, "comment:2", "second, repeated"),
                    log_row(ticket_id, "comment:3", "third"),
                ],
            )
        with session_scope(runtime.sessions) as session:
            # rows of different shapes (one with an author) cannot share a statement: written another way instead
            LOG_ROWS.add(
                session,
                [
                    log_row(ticket_id, "comment:4", "fourth"),
                    log_row(ticket_id, "updated:x", "", snapshot={"a": 1}, author_role="agent"),
                ],
            )
    finally:
        event.remove(runtime.engine, "before_cursor_execute", count)
    with session_scope(runtime.sessions) as session:
        stored = session.execute(select(TicketLog.dedupe_key, TicketLog.body, TicketLog.snapshot)).all()
    assert sorted(stored) == [
        ("comment:1", "first", {}),
        ("comment:2", "second", {}),
        ("comment:3", "third", {}),
        ("comment:4", "fourth", {}),
        ("updated:x", "", {"a": 1}),
    ]
    if runtime.engine.dialect.name == "sqlite":
        assert len(statements) == 2 and statements[0].count("(?") == 4 and "ON CONFLICT" in statements[0]


def test_insert_ignore_many_returns_only_the_new_rows_and_writes_queued_tickets_first(runtime):
    from datetime import timedelta

    from helpdesk_retain.models import Delivery
    from helpdesk_retain.sqlutil import insert_ignore_many

    def delivery(key: str) -> dict[str, Any]:
        return {
            "source": "generic",
            "delivery_id": key,
            "received_at": AT,
            "body": b"{}",
            "state": "accepted",
            "headers": {},
            "events": 1,
        }

    with session_scope(runtime.sessions) as session:
        # without the columns SQLAlchemy fills in (headers, events): written SQLAlchemy's way, defaults included
        short = {k: v for k, v in delivery("d-1").items() if k not in ("headers", "events")}
        (stored,) = insert_ignore_many(session, Delivery.__table__, [short], ["source", "delivery_id"])
    with session_scope(runtime.sessions) as session:
        (ticket_id,) = allocate_ids(session, Ticket.__table__, 1)
        TICKET_ROWS.add(session, [attach_inserted(session, Ticket, values("Q-1"), ticket_id)])
        rows = [
            delivery("d-1"),
            delivery("d-2"),
            delivery("d-2"),
            {**delivery("d-3"), "received_at": AT + timedelta(1)},
        ]
        returned = insert_ignore_many(
            session, Delivery.__table__, rows, ["source", "delivery_id"], ("delivery_id", "id")
        )
        # d-1 was stored before and d-2's repeat conflicts with d-2: two new rows, keys as strings, ids as ints
        assert sorted(key for key, _id in returned) == ["d-2", "d-3"]
        assert all(isinstance(row_id, int) and row_id != stored[0] for _key, row_id in returned)
        # the queued ticket was written before the statement (as ``session.execute`` would have)
        assert session.connection().execute(select(Ticket.id).where(Ticket.id == ticket_id)).scalar() == ticket_id
