"""Follow-ups for fixed bugs: creation on a fix, cancellation, completion, the due sweep and escalation.

Contracts (states and the notifier hand-off are described in ``models/followups.py``):
- ``create_for_fix``: one follow-up per ticket linked to the issue (open or solved: a customer whose
  ticket was closed with "we'll let you know" is the one to tell), for the issue's current fix cycle,
  unless the customer was already told (a public agent reply on the ticket at or after the fix). A
  ticket linked to an issue that is already fixed gets none: the agent answering it knows.
  Unique per (issue, ticket, fix cycle): a duplicate "fixed" delivery creates nothing.
- ``due_at`` = fix time + ``[followups] delay_minutes``; ``escalate_at`` = ``due_at`` +
  ``escalate_after_minutes`` (0: never). Both in business time of ``[followups] calendar`` when one is
  configured, else wall-clock minutes.
- ``cancel_for_issue``: unfinished follow-ups (pending, due, sent) of the issue become ``cancelled``
  with the reason; done ones stay done, and nothing new is created until the issue is fixed again.
- ``run_due_reminders``: pending rows whose ``due_at`` passed become ``due``, each claimed by exactly one
  run (conditional UPDATE; ``FOR UPDATE SKIP LOCKED`` on PostgreSQL); then unfinished rows past
  ``escalate_at`` get ``escalated_at``, set once by a conditional UPDATE.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .config import Settings
from .db import is_postgres, session_scope
from .events import Comment
from .models import Ticket, TicketLog
from .models.followups import ACTIVE_STATES, FollowUp
from .models.links import BugLink, Issue
from .sqlutil import insert_ignore_many

if TYPE_CHECKING:
    from .ingest import Context
    from .runtime import Runtime
    from .tat import BusinessCalendar

log = logging.getLogger(__name__)

#: rows claimed per transaction by the due sweep
CLAIM_BATCH = 500
FOLLOWUPS = FollowUp.__table__


class Conflict(Exception):
    """The follow-up cannot be marked done (it was cancelled)."""


# --- scheduling ----------------------------------------------------------------------------------------

_calendars: dict[str, tuple[Any, BusinessCalendar]] = {}


def calendar(settings: Settings) -> BusinessCalendar | None:
    """The ``[followups] calendar`` (built once per calendar table), or None for wall-clock minutes."""
    name = settings.followups.calendar
    if name is None:
        return None
    table = settings.calendars[name]  # existence is checked when the settings are validated
    cached = _calendars.get(name)
    if cached is None or cached[0] is not table:
        from .tat import BusinessCalendar

        cached = _calendars[name] = (table, BusinessCalendar.from_config(table))
    return cached[1]


def schedule(settings: Settings, fixed_at: datetime) -> tuple[datetime, datetime | None]:
    """``(due_at, escalate_at)`` for a fix at ``fixed_at``."""
    cfg = settings.followups
    cal = calendar(settings)

    def plus(start: datetime, minutes: int) -> datetime:
        return cal.add(start, minutes) if cal is not None else start + timedelta(minutes=minutes)

    due = plus(fixed_at, cfg.delay_minutes)
    return due, plus(due, cfg.escalate_after_minutes) if cfg.escalate_after_minutes else None


# --- changes driven by ingest --------------------------------------------------------------------------


def create_for_fix(ctx: Context, issue: Issue) -> int:
    """Create the follow-ups of the issue's current fix cycle; returns how many are new."""
    assert issue.id is not None and issue.fixed_at is not None
    linked = ctx.session.execute(
        select(BugLink.ticket_id, Ticket.customer_id)
        .join(Ticket, Ticket.id == BugLink.ticket_id)
        .where(BugLink.tracker == issue.tracker, BugLink.key == issue.key)
    ).all()
    told = _told_since(ctx.session, [t for t, _ in linked], issue.fixed_at)
    due_at, escalate_at = schedule(ctx.settings, issue.fixed_at)
    rows = [
        {
            "issue_id": issue.id,
            "ticket_id": ticket_id,
            "customer_id": customer_id,
            "fix_cycle": issue.fix_cycle,
            "state": "pending",
            "fixed_at": issue.fixed_at,
            "due_at": due_at,
            "escalate_at": escalate_at,
            "created_at": ctx.now,
        }
        for ticket_id, customer_id in linked
        if ticket_id not in told
    ]
    if not rows:
        return 0

    created = len(insert_ignore_many(ctx.session, FOLLOWUPS, rows, ["issue_id", "ticket_id", "fix_cycle"]))
    log.info("%s %s fixed: %d follow-up(s) due %s", issue.tracker, issue.issue, created, due_at.isoformat())
    return created


def _told_since(session: Session, ticket_ids: list[int], since: datetime) -> set[int]:
    """Tickets with a public agent reply at or after ``since`` (their customer has heard from us)."""
    if not ticket_ids:
        return set()
    stmt = select(TicketLog.ticket_id).where(
        TicketLog.ticket_id.in_(ticket_ids),
        TicketLog.kind == "comment",
        TicketLog.author_role == "agent",
        TicketLog.public.is_(True),
        TicketLog.at >= since,
    )
    return set(session.execute(stmt).scalars())


def cancel_for_issue(session: Session, issue: Issue, reason: str, at: datetime) -> int:
    """Cancel the issue's unfinished follow-ups, keeping them with ``reason``."""
    result = session.execute(
        update(FOLLOWUPS)
        .where(FOLLOWUPS.c.issue_id == issue.id, FOLLOWUPS.c.state.in_(ACTIVE_STATES))
        .values(state="cancelled", cancelled_at=at, cancel_reason=reason)
    )
    return result.rowcount or 0


def complete_by_reply(session: Session, ticket_id: int, comment: Comment) -> int:
    """A public agent reply after a fix marks that fix's unfinished follow-ups on the ticket done."""
    if not (comment.public and comment.author_role == "agent"):
        return 0
    result = session.execute(
        update(FOLLOWUPS)
        .where(
            FOLLOWUPS.c.ticket_id == ticket_id,
            FOLLOWUPS.c.state.in_(ACTIVE_STATES),
            FOLLOWUPS.c.fixed_at <= comment.created_at,
        )
        .values(state="done", done_at=comment.created_at, done_reason="agent_reply", done_by=comment.author_email)
    )
    return result.rowcount or 0


def mark_done(session: Session, followup_id: int, now: datetime, by: str | None) -> FollowUp | None:
    """Mark one follow-up done by hand; None if unknown, ``Conflict`` if cancelled, unchanged if done."""
    row = session.get(FollowUp, followup_id, with_for_update=True)
    if row is None:
        return None
    if row.state == "cancelled":
        raise Conflict(row.cancel_reason or "cancelled")
    if row.state != "done":
        row.state, row.done_at, row.done_reason, row.done_by = "done", now, "manual", by
    return row


# --- the sweep -----------------------------------------------------------------------------------------


def run_due_reminders(rt: Runtime, now: datetime) -> int:
    """Move due follow-ups to ``due`` and record escalations; returns rows changed (see module contract)."""
    total = 0
    while True:
        with session_scope(rt.sessions) as session:
            claimed = claim_due(session, now, CLAIM_BATCH)
        total += claimed
        if claimed < CLAIM_BATCH:
            break
    with session_scope(rt.sessions) as session:
        total += escalate_overdue(session, now)
    return total


def claim_due(session: Session, now: datetime, limit: int) -> int:
    stmt = (
        select(FollowUp.id)
        .where(FollowUp.state == "pending", FollowUp.due_at <= now)
        .order_by(FollowUp.due_at, FollowUp.id)
        .limit(limit)
    )
    if is_postgres(session):
        # rows another scheduler is claiming right now are skipped, not waited for
        stmt = stmt.with_for_update(skip_locked=True)
    ids = list(session.execute(stmt).scalars())
    if not ids:
        return 0
    assignee = select(Ticket.assignee_email).where(Ticket.id == FOLLOWUPS.c.ticket_id).scalar_subquery()
    result = session.execute(
        update(FOLLOWUPS)
        .where(FOLLOWUPS.c.id.in_(ids), FOLLOWUPS.c.state == "pending")
        .values(state="due", claimed_at=now, assignee_email=assignee)
    )
    return result.rowcount or 0


def escalate_overdue(session: Session, now: datetime) -> int:
    # On PostgreSQL a concurrent run blocks on the row lock, re-checks ``escalated_at IS NULL`` and skips.
    result = session.execute(
        update(FOLLOWUPS)
        .where(
            FOLLOWUPS.c.state.in_(("due", "sent")),
            FOLLOWUPS.c.escalated_at.is_(None),
            FOLLOWUPS.c.escalate_at <= now,
        )
        .values(escalated_at=now)
    )
    escalated = result.rowcount or 0
    if escalated:
        log.info("%d follow-up(s) overdue: escalated to the team lead", escalated)
    return escalated


# --- hand-off to the notifier (a later task) -----------------------------------------------------------


@dataclass
class ReminderBatch:
    """One reminder to one assignee (None: the default route): every due follow-up they have."""

    assignee_email: str | None
    followup_ids: list[int] = field(default_factory=list)


def due_batches(session: Session, limit: int = 1000) -> list[ReminderBatch]:
    """Due follow-ups not yet handed to a notifier, grouped per assignee."""
    stmt = (
        select(FollowUp.id, FollowUp.assignee_email)
        .where(FollowUp.state == "due", FollowUp.notified_at.is_(None))
        .order_by(FollowUp.assignee_email, FollowUp.id)
        .limit(limit)
    )
    batches: dict[str | None, ReminderBatch] = {}
    for row_id, assignee in session.execute(stmt):
        batches.setdefault(assignee, ReminderBatch(assignee)).followup_ids.append(row_id)
    return list(batches.values())


def mark_notified(session: Session, followup_ids: list[int], now: datetime) -> int:
    """Claim follow-ups for one outbound reminder (``due`` -> ``sent``); returns how many this call got."""
    result = session.execute(
        update(FOLLOWUPS)
        .where(FOLLOWUPS.c.id.in_(followup_ids), FOLLOWUPS.c.state == "due", FOLLOWUPS.c.notified_at.is_(None))
        .values(state="sent", notified_at=now)
    )
    return result.rowcount or 0
