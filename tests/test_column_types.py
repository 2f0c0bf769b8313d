"""Shared column types: UTC datetimes and JSON columns, through the real engine of each backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text, update

from helpdesk_retain.db import session_scope
from helpdesk_retain.models import Ticket
from helpdesk_retain.testing import ticket_values

AT = datetime(2026, 11, 20, 9, 30, 15, 120, tzinfo=UTC)


def add_ticket(runtime, external_id: str, **fields) -> int:
    with session_scope(runtime.sessions) as session:
        ticket = Ticket(**ticket_values(external_id, AT, **fields))
        session.add(ticket)
        session.flush()
        return ticket.id


def read(runtime, ticket_id: int, *columns):
    with session_scope(runtime.sessions) as session:
        return session.execute(select(*columns).where(Ticket.id == ticket_id)).one()


@pytest.mark.parametrize(
    "given",
    [
        AT,
        datetime(2026, 11, 20, 17, 30, 15, 120, tzinfo=timezone(timedelta(hours=8))),  # the same instant
        datetime(2026, 11, 20, 9, 30, 15, 120, tzinfo=timezone(timedelta(0), "GMT")),  # offset 0, another zone
    ],
)
def test_an_aware_datetime_reads_back_as_the_same_instant_in_utc(runtime, given):
    ticket_id = add_ticket(runtime, "T-1", created_at=given)
    (stored,) = read(runtime, ticket_id, Ticket.created_at)
    assert stored == AT and stored.tzinfo is UTC


def test_a_naive_datetime_is_refused(runtime):
    with pytest.raises(Exception, match="naive datetime"):
        add_ticket(runtime, "T-1", created_at=datetime(2026, 11, 20, 9))


def test_a_naive_datetime_is_refused_even_right_after_the_same_wall_time_in_utc_was_bound(runtime):
    # bound texts are remembered by value (``UTCDateTime``): a naive value never finds an aware one's text
    add_ticket(runtime, "T-1", created_at=datetime(2026, 11, 20, 9, tzinfo=UTC))
    with pytest.raises(Exception, match="naive datetime"):
        add_ticket(runtime, "T-2", created_at=datetime(2026, 11, 20, 9))


def test_stored_datetimes_compare_in_time_order_in_sql(runtime):
    early = add_ticket(runtime, "T-early", created_at=AT.replace(microsecond=0))  # a whole second sorts first
    late = add_ticket(runtime, "T-late", created_at=AT + timedelta(microseconds=1))
    with session_scope(runtime.sessions) as session:
        # SQLite compares the stored text: a whole second must be written with its microseconds like any other
        # value, or it would sort before itself and ">=" would miss it
        at_least = select(Ticket.id).where(Ticket.created_at >= AT.replace(microsecond=0)).order_by(Ticket.created_at)
        assert list(session.execute(at_least).scalars()) == [early, late]
        after = select(Ticket.id).where(Ticket.created_at > AT.replace(microsecond=0))
        assert list(session.execute(after).scalars()) == [late]


def test_sqlite_text_written_by_other_hands_still_reads(runtime):
    """Values set by SQL (``CURRENT_TIMESTAMP``, a date alone, a hand-written fix) have other text forms."""
    if runtime.engine.dialect.name != "sqlite":
        pytest.skip("SQLite stores datetimes as text; PostgreSQL has a timestamp type")
    ticket_id = add_ticket(runtime, "T-1")
    for written, expected in [
        ("2026-11-21 08:00:00", datetime(2026, 11, 21, 8, tzinfo=UTC)),
        ("2026-11-21", datetime(2026, 11, 21, tzinfo=UTC)),
        ("2026-11-21T08:00:00+02:00", datetime(2026, 11, 21, 6, tzinfo=UTC)),
    ]:
        with runtime.engine.begin() as conn:
            conn.execute(text("UPDATE tickets SET updated_at = :v WHERE id = :id"), {"v": written, "id": ticket_id})
        (stored,) = read(runtime, ticket_id, Ticket.updated_at)
        assert stored == expected and stored.tzinfo is UTC


def test_json_columns_read_back_as_new_objects_each_time(runtime):
    ticket_id = add_ticket(runtime, "T-1", tags=[], custom_fields={})
    tags, fields = read(runtime, ticket_id, Ticket.tags, Ticket.custom_fields)
    assert (tags, fields) == ([], {})
    tags.append("changed")
    fields["changed"] = "yes"
    assert read(runtime, ticket_id, Ticket.tags, Ticket.custom_fields) == ([], {})
    with session_scope(runtime.sessions) as session:
        session.execute(update(Ticket).where(Ticket.id == ticket_id).values(tags=["vip"], custom_fields={"a": 1}))
    assert read(runtime, ticket_id, Ticket.tags, Ticket.custom_fields) == (["vip"], {"a": 1})


def test_sqlite_rows_in_sqlalchemys_own_text_form_are_found_by_a_bound_datetime(runtime):
    """Rows written before (or by SQLAlchemy's plain DATETIME) hold ``YYYY-MM-DD HH:MM:SS.ffffff``; a bound value
    must be rendered the same way, whole seconds included, or SQL comparisons of the text go wrong."""
    if runtime.engine.dialect.name != "sqlite":
        pytest.skip("SQLite stores datetimes as text; PostgreSQL has a timestamp type")
    ticket_id = add_ticket(runtime, "T-1")
    with runtime.engine.begin() as conn:
        conn.execute(
            text("UPDATE tickets SET created_at = '2026-11-20 09:30:15.000000' WHERE id = :id"), {"id": ticket_id}
        )
    with session_scope(runtime.sessions) as session:
        same = select(Ticket.id).where(Ticket.created_at == AT.replace(microsecond=0))
        assert list(session.execute(same).scalars()) == [ticket_id]
