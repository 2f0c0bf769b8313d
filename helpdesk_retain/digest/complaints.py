"""Complaints in a period, by when the customer complained: per week and category, and the evidence phrases.

When a ticket became a complaint is the tagging feature's definition (``tagging.risk.complaint_events``):
``complaint_states.complaint_at``, or the ticket's creation when no time was recorded, read as two branches an
index serves. At-risk customers (``digest.risk``) count the same events as bad experiences.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select, true
from sqlalchemy.orm import Session

from ..models import Ticket
from ..tagging.risk import Window, complaint_events
from .weeks import bucket


def half_open(since: datetime, until: datetime) -> Window:
    """``since <= t < until`` (the digest's weeks)."""
    return lambda column: (column >= since) & (column < until)


def complaint_tickets(session: Session, window: Window) -> tuple[Any, Any, Select[Any]]:
    """``(events, tickets, SELECT ... FROM events JOIN tickets)``: complaint events and their (still complaint)
    tickets' ``complaint_category`` and ``complaint_evidence``, to add columns to.

    On PostgreSQL the tickets are read through ``LATERAL (... OFFSET 0)``: one primary-key probe per event,
    where the planner would otherwise hash every complaint ticket of the table to join a few thousand."""
    postgres = session.get_bind().dialect.name == "postgresql"
    events = complaint_events(window)
    columns = (Ticket.complaint_category, Ticket.complaint_evidence)
    if postgres:
        probe = select(*columns).where(Ticket.id == events.c.ticket_id, Ticket.is_complaint.is_(True))
        tickets = probe.offset(0).lateral("t")
        return events, tickets, select().select_from(events).join(tickets, true())
    tickets = select(Ticket.id, *columns).where(Ticket.is_complaint.is_(True)).subquery("t")
    return events, tickets, select().select_from(events).join(tickets, tickets.c.id == events.c.ticket_id)


def per_week(session: Session, bounds: list[datetime]) -> dict[str, list[int]]:
    """Complaints per category per week of ``bounds`` (exact UTC instants): ``{category: [n, ...]}``."""
    events, tickets, base = complaint_tickets(session, half_open(bounds[0], bounds[-1]))
    week = bucket(events.c.at, bounds).label("week")
    category = func.coalesce(tickets.c.complaint_category, "other").label("cat")
    out: dict[str, list[int]] = {}
    for index, cat, count in session.execute(base.add_columns(week, category, func.count()).group_by(week, category)):
        out.setdefault(cat, [0] * (len(bounds) - 1))[index] += int(count)
    return out


def top_evidence(session: Session, since: datetime, until: datetime, limit: int) -> list[dict[str, Any]]:
    """The phrases most complaint tickets of the period share: ``[{"phrase", "tickets"}]``, ties by phrase.

    Phrases group case-insensitively; the one shown is the smallest spelling in byte order (``COLLATE "C"`` on
    PostgreSQL, whose default collation would order "Charged" and "charged" differently from SQLite).
    """
    events, tickets, base = complaint_tickets(session, half_open(since, until))
    evidence = tickets.c.complaint_evidence
    if session.get_bind().dialect.name == "postgresql":
        phrases = func.jsonb_array_elements_text(evidence).table_valued("value").lateral("e")
        value, key = phrases.c.value.collate("C"), func.lower(phrases.c.value).collate("C")
    else:
        phrases = func.json_each(evidence).table_valued("value").alias("e")
        value, key = phrases.c.value, func.lower(phrases.c.value)
    count = func.count(events.c.ticket_id.distinct())
    stmt = base.join(phrases, true()).add_columns(func.min(value), count).group_by(key).order_by(count.desc(), key)
    return [{"phrase": phrase, "tickets": int(n)} for phrase, n in session.execute(stmt.limit(limit))]
