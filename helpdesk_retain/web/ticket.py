"""One ticket: customer, complaint and risk evidence, TAT clocks, bug links, the save and its history,
follow-ups and the conversation; and the save form, recorded by ``saves.record.record_api_save`` exactly
as ``POST /api/saves`` records it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import session_scope
from ..events import utcnow
from ..models import Customer, Ticket, TicketLog
from ..models.followups import FollowUp
from ..models.links import Issue
from ..models.saves import Save, SaveEvent
from ..money import MoneyError, currency_code, parse_major
from ..saves.fields import SaveInput
from ..saves.record import UnknownTicket, record_api_save
from ..saves.schemas import SaveIn
from ..ticketview import serialize_tickets
from .base import bp, runtime
from .forms import SaveForm

LOG_LIMIT = 100


def load_ticket(session: Session, source: str, external_id: str) -> Ticket:
    stmt = select(Ticket).where(Ticket.source == source, Ticket.external_id == external_id)
    ticket = session.execute(stmt).scalar_one_or_none()
    if ticket is None:
        abort(404)
    return ticket


def details(session: Session, ticket: Ticket) -> dict[str, Any]:
    """The API's view of the ticket plus what only the page shows (description, log, history, follow-ups)."""
    item = serialize_tickets(session, [ticket])[0]
    customer = session.get(Customer, ticket.customer_id) if ticket.customer_id else None
    log = session.execute(
        select(TicketLog).where(TicketLog.ticket_id == ticket.id).order_by(TicketLog.at, TicketLog.id).limit(LOG_LIMIT)
    ).scalars()
    save = session.execute(select(Save).where(Save.ticket_id == ticket.id)).scalar_one_or_none()
    history = (
        list(session.execute(select(SaveEvent).where(SaveEvent.save_id == save.id).order_by(SaveEvent.id)).scalars())
        if save is not None
        else []
    )
    followups = session.execute(
        select(FollowUp, Issue).join(Issue, Issue.id == FollowUp.issue_id).where(FollowUp.ticket_id == ticket.id)
        .order_by(FollowUp.due_at, FollowUp.id)
    ).all()  # fmt: skip
    return {
        "t": item,
        "clocks": timeline(item["tat"], utcnow()),
        "ticket": ticket,
        "customer": customer,
        "log": list(log),
        "save_row": save,
        "history": history,
        "followups": followups,
    }


def timeline(clocks: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """The ticket's clocks (as the API reads them) with ``fill``: how much of the way from start to due
    time has passed, in percent (wall-clock: a picture of the deadline, the state says what counts)."""
    out = []
    for clock in clocks:
        end = {"met": clock["stopped_at"], "breached": clock["due_at"]}.get(clock["state"], now)
        due, start = clock["due_at"], clock["started_at"]
        span = (due - start).total_seconds() if due is not None else 0
        fill = 100 if span <= 0 else round(max(0.0, min(1.0, ((end or now) - start).total_seconds() / span)) * 100)
        out.append({**clock, "fill": 0 if clock["state"] == "paused" and due is None else fill})
    return out


def save_form_for(ticket: Ticket, save: dict[str, Any] | None) -> SaveForm:
    currency = (save or {}).get("currency") or runtime().settings.saves.default_currency
    return SaveForm(
        source=ticket.source,
        external_id=ticket.external_id,
        currency=currency,
        interval=(save or {}).get("interval") or "month",
        reason=(save or {}).get("reason"),
        offer=(save or {}).get("offer"),
    )


def render_ticket(source: str, external_id: str, form: SaveForm | None = None, status: int = 200) -> Any:
    with session_scope(runtime().sessions) as session:
        data = details(session, load_ticket(session, source, external_id))
    form = form or save_form_for(data["ticket"], data["t"]["save"])
    return render_template("web/ticket.html", form=form, **data), status


@bp.get("/tickets/<source>/<path:external_id>")
def ticket(source: str, external_id: str) -> Any:
    return render_ticket(source, external_id)


def save_input(form: SaveForm) -> SaveIn | None:
    """The form as the API's ``SaveIn`` (amount in minor units), or None with the errors on the form."""
    try:
        currency = currency_code(form.currency.data)
        amount = parse_major(form.amount.data, currency)
    except MoneyError:
        form.amount.errors = [*form.amount.errors, _("Enter an amount such as 49.00 in a known currency.")]
        return None
    try:
        return SaveIn(
            source=form.source.data,
            external_id=form.external_id.data,
            amount_minor=amount,
            currency=currency,
            interval=form.interval.data,
            reason=form.reason.data or None,
            offer=form.offer.data or None,
        )
    except ValidationError:
        form.amount.errors = [*form.amount.errors, _("The amount is too large.")]
        return None


@bp.post("/saves")
def record_save() -> Any:
    form = SaveForm()
    valid = form.validate()
    body = save_input(form) if valid else None
    if body is None:
        return render_ticket(form.source.data or "", form.external_id.data or "", form, 422)
    rt = runtime()
    found = SaveInput(body.amount_minor, body.currency, body.interval, body.reason, body.offer)
    with session_scope(rt.sessions) as session:
        try:
            record_api_save(session, rt.settings, body.source, body.external_id, found, utcnow())
        except UnknownTicket:
            abort(404)
    flash(_("Save recorded."), "success")
    return redirect_to_ticket(body.source, body.external_id, "save")


def redirect_to_ticket(source: str, external_id: str, anchor: str | None = None) -> Response:
    return redirect(url_for("web.ticket", source=source, external_id=external_id, _anchor=anchor))
