"""Reading clocks for the API: the ticket ``tat`` section, ``flag=breached`` and attainment.

A running clock whose due time has passed is reported as breached (at its due time) even before the
sweep has marked it, so what the API shows never depends on when the sweep last ran.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from ..events import utcnow
from ..models import Ticket
from ..models.tat import TatClock
from .policies import METRICS, PolicySet

CLOCK_COLUMNS = (
    TatClock.ticket_id,
    TatClock.metric,
    TatClock.policy,
    TatClock.target_minutes,
    TatClock.started_at,
    TatClock.due_at,
    TatClock.state,
    TatClock.stopped_at,
    TatClock.breached_at,
)
CLOCK_COLUMNS_OUT = tuple(c.key for c in CLOCK_COLUMNS[1:])


def load_tat(session: Session, ticket_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Section loader: each ticket's clocks in CONTRACT.md's shape (first response, next responses, resolution)."""
    if not ticket_ids:
        return {}
    now = utcnow()
    stmt = (
        select(*CLOCK_COLUMNS)
        .where(TatClock.ticket_id.in_(ticket_ids))
        .order_by(TatClock.ticket_id, TatClock.metric, TatClock.seq)  # the metric names sort in that order
    )
    out: dict[int, list[dict[str, Any]]] = {}
    for row in session.execute(stmt):
        item = {name: getattr(row, name) for name in CLOCK_COLUMNS_OUT}
        if row.state == "running" and row.due_at is not None and row.due_at <= now:
            item.update(state="breached", breached_at=row.due_at)
        out.setdefault(row.ticket_id, []).append(item)
    return out


def has_breach(now: datetime) -> ColumnElement[bool]:
    """Tickets with a breached clock (including one whose due time passed since the last sweep)."""
    overdue = and_(TatClock.state == "running", TatClock.due_at <= now)
    return exists().where(TatClock.ticket_id == Ticket.id, or_(TatClock.state == "breached", overdue))


def breached_flag() -> ColumnElement[bool]:
    """``GET /api/tickets?flag=breached``."""
    return has_breach(utcnow())


def attainment(
    session: Session, policies: PolicySet, since: datetime, until: datetime, now: datetime
) -> list[dict[str, Any]]:
    """Met and breached clocks per policy and metric in ``[since, until)`` (see ``AttainmentOut``)."""
    met = _count(session, TatClock.state == "met", TatClock.stopped_at, since, until)
    breached = _count(session, TatClock.state == "breached", TatClock.breached_at, since, until)
    breached += _count(session, TatClock.state == "running", TatClock.due_at, since, min(until, now))
    keys = [(p.name, m) for p in policies.policies for m in METRICS if m in p.targets]
    keys += sorted((set(met) | set(breached)) - set(keys))
    rows = []
    for policy, metric in keys:
        good, bad = met[(policy, metric)], breached[(policy, metric)]
        share = good / (good + bad) if good + bad else None
        rows.append({"policy": policy, "metric": metric, "met": good, "breached": bad, "attainment": share})
    return rows


def _count(
    session: Session, condition: ColumnElement[bool], column: Any, since: datetime, until: datetime
) -> Counter[tuple[str, str]]:
    if until <= since:
        return Counter()
    stmt = (
        select(TatClock.policy, TatClock.metric, func.count())
        .where(condition, column >= since, column < until)
        .group_by(TatClock.policy, TatClock.metric)
    )
    return Counter({(policy, metric): n for policy, metric, n in session.execute(stmt)})
