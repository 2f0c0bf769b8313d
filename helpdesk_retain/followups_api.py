"""``GET /api/reminders`` and ``POST /api/reminders/<id>/done`` (CONTRACT.md)."""

from __future__ import annotations

from typing import Any

from flask import Response, g, request
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from . import followups
from .api import ApiError, decode_cursor, encode_cursor, make_api_blueprint, respond, runtime, validate
from .db import session_scope
from .events import utcnow
from .followups_schemas import ReminderListQuery, ReminderOut, ReminderPage
from .models import Customer, Ticket
from .models.followups import FollowUp
from .models.links import Issue

bp = make_api_blueprint("followups")


@bp.get("/reminders")
def list_reminders() -> Response:
    query: ReminderListQuery = validate(ReminderListQuery, request.args.to_dict())
    limit = max(1, min(query.limit, 500))
    stmt = _joined()
    if query.state is not None:
        stmt = stmt.where(FollowUp.state == query.state)
    if query.assignee is not None:
        stmt = stmt.where(func.lower(FollowUp.assignee_email) == query.assignee.strip().lower())
    if query.cursor:
        due, row_id = decode_cursor(query.cursor)
        stmt = stmt.where(or_(FollowUp.due_at > due, and_(FollowUp.due_at == due, FollowUp.id > row_id)))
    stmt = stmt.order_by(FollowUp.due_at, FollowUp.id).limit(limit + 1)
    with session_scope(runtime().sessions) as session:
        rows = session.execute(stmt).all()
    page, more = rows[:limit], len(rows) > limit
    cursor = encode_cursor(page[-1][0].due_at, page[-1][0].id or 0) if more else None
    return respond(ReminderPage, {"items": [_item(*row) for row in page], "next_cursor": cursor})


@bp.post("/reminders/<int:reminder_id>/done")
def mark_done(reminder_id: int) -> Response:
    with session_scope(runtime().sessions) as session:
        try:
            row = followups.mark_done(session, reminder_id, utcnow(), by=f"token:{g.token_name}")
        except followups.Conflict as exc:
            raise ApiError(409, "reminder was cancelled", str(exc)) from None
        if row is None:
            raise ApiError(404, "unknown reminder", {"id": reminder_id})
        session.flush()
        return respond(ReminderOut, _one(session, reminder_id))


def _joined() -> Any:
    return (
        select(FollowUp, Ticket, Issue, Customer)
        .join(Ticket, Ticket.id == FollowUp.ticket_id)
        .join(Issue, Issue.id == FollowUp.issue_id)
        .outerjoin(Customer, Customer.id == Ticket.customer_id)
    )


def _one(session: Session, reminder_id: int) -> dict[str, Any]:
    return _item(*session.execute(_joined().where(FollowUp.id == reminder_id)).one())


def _item(f: FollowUp, t: Ticket, i: Issue, c: Customer | None) -> dict[str, Any]:
    data = f.model_dump(exclude={"issue_id", "ticket_id", "customer_id", "claimed_at", "escalation_notified_at"})
    return data | {
        "ticket": {"source": t.source, "external_id": t.external_id, "subject": t.subject, "url": t.url},
        "customer": {"email": c.email, "name": c.name} if c is not None else None,
        "issue": {"tracker": i.tracker, "issue": i.issue, "state": i.state, "url": i.url, "title": i.title},
    }
