"""Recording saves: from the help-desk tag (an ingest ticket step) and from ``POST /api/saves``.

Contract:
- One save per ticket. Marking a ticket that already has a save updates it (values not said are kept);
  the unique constraint on ``saves.ticket_id`` settles a race, and the ticket row is locked first.
- The tag is the source of truth for tag-marked saves: when the ticket's current tags no longer contain
  the source's ``save_tag`` the save is withdrawn (kept, with ``withdrawn_at`` and a history row); tagging
  again reinstates it as a new save (new ``saved_at``, pending). A save made through the API is not
  withdrawn by tags it never had.
- The step reads the ticket's stored (merged, stale-safe) tags and custom fields, never the event's, so
  a duplicate or out-of-order delivery leaves the save as it was. Every real change appends to
  ``save_history``; re-applying the same state appends nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config import Settings
from ..events import TicketEvent
from ..ingest import Context
from ..models import Customer, Ticket
from ..models.saves import Save, SaveEvent
from ..money import mrr_arr
from ..sqlutil import insert_ignore
from .fields import SaveInput, fields_for, from_custom_fields, has_tag

VALUE_FIELDS = ("amount_minor", "currency", "interval", "mrr_minor", "arr_minor", "reason", "offer")


class UnknownTicket(LookupError):
    """``POST /api/saves`` named a ticket we have never received."""


def window(settings: Settings) -> timedelta:
    return timedelta(days=settings.saves.verify_after_days)


def load_save(session: Session, ticket_id: int) -> Save | None:
    """The ticket's save, locked for the rest of the transaction (PostgreSQL)."""
    return session.execute(select(Save).where(Save.ticket_id == ticket_id).with_for_update()).scalar_one_or_none()


def ticket_step(ctx: Context, ticket: Ticket, ev: TicketEvent) -> None:
    """Ingest step: record, update or withdraw the ticket's save from its tags and custom fields."""
    if ev.tags is None and not ev.custom_fields:
        return  # nothing save-relevant in this event (e.g. a comment)
    session = ctx.session
    save_tag = ctx.source_config.save_tag if ctx.source_config is not None else "saved"
    existing = load_save(session, ticket.id or 0)
    if has_tag(ticket.tags, save_tag):
        customer = session.get(Customer, ticket.customer_id) if ticket.customer_id else None
        found = from_custom_fields(
            ticket.custom_fields or {},
            fields_for(ctx.settings, ctx.source),
            ctx.settings.saves.default_currency,
            customer,
            billing_fallback=existing is None or existing.amount_minor is None,
        )
        mark(session, ctx.settings, ticket, found, via="tag", at=ticket.updated_at, now=ctx.now, existing=existing)
    elif existing is not None and existing.withdrawn_at is None and existing.via == "tag":
        withdraw(session, existing, at=ticket.updated_at, now=ctx.now)


def record_api_save(
    session: Session, settings: Settings, source: str, external_id: str, found: SaveInput, now: datetime
) -> tuple[Save, str | None]:
    """Record a save for an existing ticket (raises UnknownTicket); returns the save and what changed."""
    stmt = select(Ticket).where(Ticket.source == source, Ticket.external_id == external_id).with_for_update()
    ticket = session.execute(stmt).scalar_one_or_none()
    if ticket is None:
        raise UnknownTicket(f"{source}/{external_id}")
    return mark(
        session, settings, ticket, found, via="api", at=now, now=now, existing=load_save(session, ticket.id or 0)
    )


def mark(
    session: Session,
    settings: Settings,
    ticket: Ticket,
    found: SaveInput,
    *,
    via: str,
    at: datetime,
    now: datetime,
    existing: Save | None,
) -> tuple[Save, str | None]:
    """Create, reinstate or update the ticket's save; returns it and the history kind written (or None)."""
    values = merged_values(existing, found)
    if existing is None:
        row = {**values, "ticket_id": ticket.id, "customer_id": ticket.customer_id, "via": via, "saved_at": at}
        row.update(verify_due_at=at + window(settings), outcome="pending", created_at=now, updated_at=now)
        new_id = insert_ignore(session, Save.__table__, row, ["ticket_id"])
        existing = load_save(session, ticket.id or 0)
        assert existing is not None
        if new_id is not None:
            append_history(session, existing, "marked", via, at, now, snapshot(existing, found))
            return existing, "marked"
    kind = _apply(existing, values, ticket, via, at, settings)
    if kind is not None:
        existing.updated_at = now
        append_history(session, existing, kind, via, at, now, snapshot(existing, found))
    return existing, kind


def _apply(
    save: Save, values: dict[str, Any], ticket: Ticket, via: str, at: datetime, settings: Settings
) -> str | None:
    kind = None
    if save.withdrawn_at is not None:
        save.withdrawn_at, save.saved_at, save.verify_due_at = None, at, at + window(settings)
        save.outcome, save.verified_at = "pending", None
        kind = "reinstated"
    changed = {k: v for k, v in values.items() if getattr(save, k) != v}
    if ticket.customer_id is not None and save.customer_id != ticket.customer_id:
        changed["customer_id"] = ticket.customer_id
    if save.via != via:
        changed["via"] = via
    for key, value in changed.items():
        setattr(save, key, value)
    return kind or ("updated" if changed else None)


def withdraw(session: Session, save: Save, *, at: datetime, now: datetime) -> None:
    save.withdrawn_at = at
    save.updated_at = now
    append_history(session, save, "withdrawn", "tag", at, now, {})


def merged_values(existing: Save | None, found: SaveInput) -> dict[str, Any]:
    """The save's values after applying ``found``: what it says wins, what it leaves out is kept."""
    keep = existing
    amount = found.amount_minor if found.amount_minor is not None else (keep.amount_minor if keep else None)
    currency = found.currency if found.amount_minor is not None else (keep.currency if keep else None)
    interval = found.interval or (keep.interval if keep else "month")
    mrr, arr = mrr_arr(amount, interval) if amount is not None else (None, None)
    return {
        "amount_minor": amount,
        "currency": currency,
        "interval": interval,
        "mrr_minor": mrr,
        "arr_minor": arr,
        "reason": found.reason if found.reason is not None else (keep.reason if keep else None),
        "offer": found.offer if found.offer is not None else (keep.offer if keep else None),
    }


def snapshot(save: Save, found: SaveInput) -> dict[str, Any]:
    detail: dict[str, Any] = {name: getattr(save, name) for name in VALUE_FIELDS}
    if found.problems:
        detail["problems"] = list(found.problems)
    return detail


def append_history(
    session: Session, save: Save, kind: str, via: str, at: datetime, now: datetime, detail: dict[str, Any]
) -> None:
    session.add(SaveEvent(save_id=save.id or 0, kind=kind, via=via, at=at, recorded_at=now, detail=detail))
