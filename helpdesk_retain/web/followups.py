"""Follow-ups due for the signed-in user (their email is the ticket's assignee) and the "done" button,
which calls ``followups.mark_done`` like ``POST /api/reminders/<id>/done``."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from .. import followups as service
from ..db import session_scope
from ..events import utcnow
from ..models import Customer, Ticket
from ..models.followups import ACTIVE_STATES, FollowUp
from ..models.links import Issue
from .base import bp, current_user, runtime, safe_next, wants_fragment

LIMIT = 500


def rows(condition: Any) -> list[Any]:
    stmt = (
        select(FollowUp, Ticket, Issue, Customer)
        .join(Ticket, Ticket.id == FollowUp.ticket_id)
        .join(Issue, Issue.id == FollowUp.issue_id)
        .outerjoin(Customer, Customer.id == Ticket.customer_id)
        .where(condition)
        .order_by(FollowUp.due_at, FollowUp.id)
        .limit(LIMIT)
    )
    with session_scope(runtime().sessions) as session:
        return list(session.execute(stmt).all())


def mine(email: str) -> Any:
    """Unfinished follow-ups whose assignee is ``email``: the one recorded when it fell due, else the
    ticket's current assignee (a follow-up still scheduled has none recorded yet)."""
    assignee = func.lower(func.coalesce(FollowUp.assignee_email, Ticket.assignee_email))
    return (FollowUp.state.in_(ACTIVE_STATES)) & (assignee == email)


@bp.get("/followups")
def followups() -> str:
    now = utcnow()
    found = rows(mine(current_user().email))
    due = [r for r in found if r[0].due_at <= now]
    later = [r for r in found if r[0].due_at > now]
    return render_template("web/followups.html", due=due, later=later, now=now)


@bp.post("/followups/<int:followup_id>/done")
def followup_done(followup_id: int) -> Any:
    user = current_user()
    with session_scope(runtime().sessions) as session:
        try:
            row = service.mark_done(session, followup_id, utcnow(), by=user.email)
        except service.Conflict:
            row, conflict = None, True
        else:
            conflict = False
            if row is None:
                abort(404)
    if wants_fragment() and not conflict:
        found = rows(FollowUp.id == followup_id)
        return render_template("web/_followup_row.html", r=found[0], now=utcnow()) if found else ("", 204)
    if conflict:
        flash(_("This follow-up was cancelled (the issue was reopened or closed as won't fix)."), "error")
    else:
        flash(_("Follow-up marked as done."), "success")
    return redirect_back()


def redirect_back() -> Response:
    return redirect(safe_next(request.form.get("next"), url_for("web.followups")))
