"""Producers: due follow-ups, overdue escalations and TAT records -> outbound messages, each exactly once.

The rows come from other features, left for the notifier (``models/followups.py``, ``models/tat.py``):
follow-ups with ``state = 'due' AND notified_at IS NULL``; escalated ones with ``escalation_notified_at IS
NULL``; ``tat_events`` with ``notified_at IS NULL``. Per batch, in ONE transaction: select them (``FOR UPDATE
SKIP LOCKED`` on PostgreSQL, so concurrent schedulers take disjoint rows; SQLite's ``BEGIN IMMEDIATE``
serialises), mark them notified with a conditional UPDATE, and enqueue their messages. A crash before the
commit leaves neither; the unique dedupe key of each message is a second guard.

Reminders are grouped per assignee (one message listing all their customers to tell), escalations per team
lead, TAT records per assignee. ``run_due_messages`` delivers them.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Hashable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from .. import followups
from ..db import is_postgres, session_scope
from ..models import Customer, Ticket
from ..models.followups import FollowUp
from ..models.links import Issue
from ..models.tat import TatClock, TatEvent
from . import render, routing
from .outbox import enqueue

if TYPE_CHECKING:
    from ..config import Settings
    from ..runtime import Runtime

log = logging.getLogger(__name__)

BATCH = 500
MAX_BATCHES = 100
T = TypeVar("T")
Producer = Callable[[Session, "Settings", datetime, int], tuple[int, int]]


def run_due_notifications(rt: Runtime, now: datetime) -> int:
    """Turn every due reminder, escalation and TAT record into messages; returns how many were enqueued."""
    total = 0
    for produce in (produce_reminders, produce_escalations, produce_tat_alerts):
        for _ in range(MAX_BATCHES):
            with session_scope(rt.sessions) as session:
                enqueued, seen = produce(session, rt.settings, now, BATCH)
            total += enqueued
            if seen < BATCH:
                break
    return total


def produce_reminders(session: Session, settings: Settings, now: datetime, limit: int) -> tuple[int, int]:
    stmt = (
        select(FollowUp.id)
        .where(FollowUp.state == "due", FollowUp.notified_at.is_(None))
        .order_by(FollowUp.assignee_email, FollowUp.id)
        .limit(limit)
    )
    ids = _lock(session, stmt)
    if not ids:
        return 0, 0
    followups.mark_notified(session, ids, now)  # the rows are ours (locked / serialised): all of them move
    enqueued = 0
    for assignee, items in _group(_followup_items(session, settings, ids), lambda i: i.assignee).items():
        notice = render.reminder_notice(assignee, items)
        routes = routing.assignee_routes(settings.notify, assignee)
        enqueued += _enqueue(session, notice, routes, f"reminder:{items[0].id}", now)
    return enqueued, len(ids)


def produce_escalations(session: Session, settings: Settings, now: datetime, limit: int) -> tuple[int, int]:
    stmt = (
        select(FollowUp.id)
        .where(
            FollowUp.state.in_(("due", "sent")),
            FollowUp.escalated_at.is_not(None),
            FollowUp.escalation_notified_at.is_(None),
        )
        .order_by(FollowUp.id)
        .limit(limit)
    )
    ids = _lock(session, stmt)
    if not ids:
        return 0, 0
    table = FollowUp.__table__
    session.execute(
        update(table)
        .where(table.c.id.in_(ids), table.c.escalation_notified_at.is_(None))
        .values(escalation_notified_at=now)
    )
    cfg = settings.notify
    enqueued = 0
    items = _followup_items(session, settings, ids)
    for _team, group in _group(items, lambda i: routing.team_name(cfg, i.assignee)).items():
        lead = routing.lead_of(cfg, group[0].assignee)
        notice = render.escalation_notice(lead, group)
        routes = routing.lead_routes(cfg, group[0].assignee)
        enqueued += _enqueue(session, notice, routes, f"escalation:{group[0].id}", now)
    return enqueued, len(ids)


def produce_tat_alerts(session: Session, settings: Settings, now: datetime, limit: int) -> tuple[int, int]:
    ids = _lock(session, select(TatEvent.id).where(TatEvent.notified_at.is_(None)).order_by(TatEvent.id).limit(limit))
    if not ids:
        return 0, 0
    table = TatEvent.__table__
    session.execute(
        update(table).where(table.c.id.in_(ids), table.c.notified_at.is_(None)).values(claimed_at=now, notified_at=now)
    )
    items = [i for i in _tat_items(session, settings, ids) if _worth_sending(settings, i, now)]
    enqueued = 0
    for assignee, group in _group(items, lambda i: i.assignee).items():
        notice = render.tat_notice(assignee, group)
        routes = routing.assignee_routes(settings.notify, assignee)
        enqueued += _enqueue(session, notice, routes, f"tat:{group[0].id}", now)
    return enqueued, len(ids)


def _worth_sending(settings: Settings, item: render.TatItem, now: datetime) -> bool:
    """Configured kinds only; nothing older than ``tat_max_age_minutes`` (history imported later); no
    warning whose clock stopped running since (it was met, paused, or its breach is reported)."""
    cfg = settings.notify
    if item.kind not in cfg.tat_events or item.at < now - timedelta(minutes=cfg.tat_max_age_minutes):
        return False
    return item.kind == "breach" or item.clock_state == "running"


def _lock(session: Session, stmt: Any) -> list[int]:
    if is_postgres(session):
        stmt = stmt.with_for_update(skip_locked=True)
    return list(session.execute(stmt).scalars())


def _group(items: list[T], key: Callable[[T], Hashable]) -> dict[Any, list[T]]:
    groups: dict[Any, list[T]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    return groups


def _enqueue(session: Session, notice: render.Notice, routes: list[routing.Route], key: str, now: datetime) -> int:
    if not routes:
        log.warning("%s: nobody to tell; set [notify] recipients (or team_lead for escalations)", key)
    enqueued = 0
    for route in routes:
        dedupe = f"{key}:{route.channel}:{route.recipient}"
        if len(dedupe) > 300:
            dedupe = f"{key}:{route.channel}:{hashlib.sha256(route.recipient.encode()).hexdigest()}"
        new = enqueue(
            session,
            dedupe_key=dedupe,
            kind=notice.kind,
            channel=route.channel,
            recipient=route.recipient,
            subject=notice.subject,
            text=notice.text,
            html=notice.html,
            blocks=notice.blocks,
            data=notice.data,
            now=now,
        )
        enqueued += new is not None
    return enqueued


def ticket_ref(settings: Settings, row: Any) -> render.TicketRef:
    """The ticket with its link: the help desk's URL, else ``[notify] ticket_urls`` for its source."""
    url = row.url
    template = settings.notify.ticket_urls.get(row.source)
    if not url and template:
        url = template.format(external_id=row.external_id, display_id=row.display_id or row.external_id)
    return render.TicketRef(row.source, row.external_id, row.display_id, row.subject, url)


TICKET_COLUMNS = (Ticket.source, Ticket.external_id, Ticket.display_id, Ticket.subject, Ticket.url)


def _followup_items(session: Session, settings: Settings, ids: list[int]) -> list[render.FollowUpItem]:
    stmt = (
        select(
            FollowUp.id,
            FollowUp.assignee_email,
            FollowUp.fixed_at,
            FollowUp.due_at,
            *TICKET_COLUMNS,
            Customer.email.label("customer_email"),
            Customer.name.label("customer_name"),
            Issue.tracker,
            Issue.issue,
            Issue.title.label("issue_title"),
            Issue.url.label("issue_url"),
        )
        .join(Ticket, Ticket.id == FollowUp.ticket_id)
        .join(Issue, Issue.id == FollowUp.issue_id)
        .outerjoin(Customer, Customer.id == Ticket.customer_id)
        .where(FollowUp.id.in_(ids))
        .order_by(FollowUp.id)
    )
    return [
        render.FollowUpItem(
            id=r.id,
            ticket=ticket_ref(settings, r),
            assignee=r.assignee_email,
            customer_email=r.customer_email,
            customer_name=r.customer_name,
            tracker=r.tracker,
            issue=r.issue,
            issue_title=r.issue_title,
            issue_url=r.issue_url,
            fixed_at=r.fixed_at,
            due_at=r.due_at,
        )
        for r in session.execute(stmt)
    ]


def _tat_items(session: Session, settings: Settings, ids: list[int]) -> list[render.TatItem]:
    same_clock = (TatClock.metric == TatEvent.metric, TatClock.seq == TatEvent.seq)
    clock = and_(TatClock.ticket_id == TatEvent.ticket_id, *same_clock)
    stmt = (
        select(
            TatEvent.id,
            TatEvent.kind,
            TatEvent.metric,
            TatEvent.policy,
            TatEvent.at,
            Ticket.assignee_email,
            *TICKET_COLUMNS,
            TatClock.state.label("clock_state"),
        )
        .join(Ticket, Ticket.id == TatEvent.ticket_id)
        .outerjoin(TatClock, clock)
        .where(TatEvent.id.in_(ids))
        .order_by(TatEvent.id)
    )
    return [
        render.TatItem(r.id, r.kind, r.metric, r.policy, r.at, ticket_ref(settings, r), r.assignee_email, r.clock_state)
        for r in session.execute(stmt)
    ]
