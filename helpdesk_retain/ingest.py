"""Apply typed events to the store, inside the caller's transaction.

Contract: ``apply_events`` never commits and never does outbound I/O. Applying the same events twice
leaves the store as applying them once (the event log is deduplicated, flags are recomputed from
current state). A ticket update older than the stored ticket's own ``updated_at`` is appended to the
log but does not overwrite newer fields.

Feature modules (tagging, TAT, saves, follow-ups) plug in as steps; each step receives the context
and the affected row after core has upserted it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from .config import Settings
from .events import CustomerEvent, Event, IssueEvent, Person, TicketEvent
from .integrations import IntegrationConfig
from .models import Customer, Ticket, TicketLog
from .sqlutil import insert_ignore

log = logging.getLogger(__name__)

TICKET_FIELDS = (
    "subject",
    "description",
    "status",
    "priority",
    "channel",
    "type",
    "assignee_email",
    "display_id",
    "url",
)
SNAPSHOT_FIELDS = ("status", "priority", "channel", "type", "tags")


@dataclass
class Context:
    """What a step may use. ``now`` is the processing time (a fixed clock in tests)."""

    session: Session
    settings: Settings
    source: str
    source_config: IntegrationConfig | None
    now: datetime
    delivery_row_id: int | None = None
    #: tickets touched in this apply, so steps can batch work per ticket
    touched: dict[int, Ticket] = field(default_factory=dict)
    #: the ticket fields the current ticket event changed ("created" when it inserted the ticket), so a step
    #: can skip work when what it reads did not change: vendors resend the whole ticket with every event,
    #: so "the event carries a subject" does not mean "the subject changed"
    changed: set[str] = field(default_factory=set)


TicketStep = Callable[[Context, Ticket, TicketEvent], None]
IssueStep = Callable[[Context, IssueEvent], None]
CustomerStep = Callable[[Context, Customer, CustomerEvent], None]
#: runs once when an apply (a delivery, or a whole import batch) is done, before its transaction commits
FinishStep = Callable[[Context], None]


@dataclass
class Steps:
    ticket: list[TicketStep] = field(default_factory=list)
    issue: list[IssueStep] = field(default_factory=list)
    customer: list[CustomerStep] = field(default_factory=list)
    finish: list[FinishStep] = field(default_factory=list)


def default_steps() -> Steps:
    """The feature steps, in order. Core modules only: integrations never appear here."""
    from . import buglinks, saves
    from .tagging.step import finish_step as tagging_finish
    from .tagging.step import ticket_step as tagging_step
    from .tat.store import recompute_step as tat_step  # after tagging: a complaint category can pick the policy

    return Steps(
        ticket=[tagging_step, buglinks.link_ticket, saves.ticket_step, tat_step],
        issue=[buglinks.apply_issue],
        customer=[saves.customer_step],
        finish=[tagging_finish],
    )


def apply_events(ctx: Context, events: list[Event], steps: Steps, *, finish: bool = True) -> int:
    """Apply ``events`` in order; returns how many were applied.

    ``finish=False`` leaves the finish steps to the caller, who must call ``finish_apply`` in the same
    transaction (the importer does, once per batch of lines)."""
    for ev in events:
        if isinstance(ev, TicketEvent):
            ticket = upsert_ticket(ctx, ev)
            for step in steps.ticket:
                step(ctx, ticket, ev)
        elif isinstance(ev, IssueEvent):
            for issue_step in steps.issue:
                issue_step(ctx, ev)
        elif isinstance(ev, CustomerEvent):
            customer = upsert_customer(ctx, ev)
            for customer_step in steps.customer:
                customer_step(ctx, customer, ev)
    if finish:
        finish_apply(ctx, steps)
    return len(events)


def finish_apply(ctx: Context, steps: Steps) -> None:
    for finish_step in steps.finish:
        finish_step(ctx)


# --- customers ---------------------------------------------------------------------------------


def customer_key(source: str, email: str | None, external_id: str | None) -> str | None:
    if email:
        return email.strip().lower()
    if external_id:
        return f"{source}:{external_id}"
    return None


def _get_or_create_customer(
    ctx: Context, key: str, email: str | None, at: datetime, id_key: str | None = None
) -> Customer:
    """The customer keyed ``key``, created if missing. A customer first seen by vendor id only (``id_key``,
    e.g. Zendesk event payloads carry just ``requester_id``) takes the email key once a delivery shows
    both, so one person does not become two customers."""
    session = ctx.session
    # customers repeat within a transaction (an import batch, a multi-event delivery): look each up once
    cache: dict[str, Customer] = session.info.setdefault("customers_by_key", {})
    if key in cache:
        return cache[key]
    customer = session.execute(_customer_query(), {"key": key}).scalar_one_or_none()
    if customer is None and id_key is not None:
        customer = session.execute(_customer_query(), {"key": id_key}).scalar_one_or_none()
        if customer is not None:
            customer.key, customer.email = key, email.strip().lower() if email else None
            cache.pop(id_key, None)
            session.flush()
    if customer is None:  # insert-or-nothing, then read: a concurrent creator wins without an error
        values = {"key": key, "email": email.strip().lower() if email else None, "status": "active", "created_at": at}
        insert_ignore(session, Customer.__table__, values, ["key"])
        customer = session.execute(_customer_query(), {"key": key}).scalar_one()
    cache[key] = customer
    return customer


@cache
def _customer_query() -> Select[Any]:
    return select(Customer).where(Customer.key == bindparam("key"))


def customer_for_requester(ctx: Context, person: Person | None, at: datetime) -> Customer | None:
    if person is None:
        return None
    key = customer_key(ctx.source, person.email, person.external_id)
    if key is None:
        return None
    id_key = f"{ctx.source}:{person.external_id}" if person.email and person.external_id else None
    customer = _get_or_create_customer(ctx, key, person.email, at, id_key=id_key)
    if person.name and not customer.name:
        customer.name = person.name
    if person.external_id and not customer.external_id:
        customer.external_id = person.external_id
    return customer


def upsert_customer(ctx: Context, ev: CustomerEvent) -> Customer:
    key = customer_key(ctx.source, ev.email, ev.external_id)
    if key is None:  # parsers guarantee one of the two; keep the invariant explicit
        raise ValueError("customer event without email or external id")
    customer = _get_or_create_customer(ctx, key, ev.email, ev.occurred_at)
    if customer.updated_at is not None and ev.occurred_at < customer.updated_at:
        log.info("stale customer update for %s ignored (%s < %s)", key, ev.occurred_at, customer.updated_at)
        return customer
    for name in ("name", "external_id", "mrr_minor", "currency", "plan"):
        value = getattr(ev, name)
        if value is not None:
            setattr(customer, name, value)
    if ev.status is not None and ev.status != customer.status:
        customer.status = ev.status
        customer.cancelled_at = ev.occurred_at if ev.status == "cancelled" else None
    customer.updated_at = ev.occurred_at
    return customer


# --- tickets -----------------------------------------------------------------------------------


def upsert_ticket(ctx: Context, ev: TicketEvent) -> Ticket:
    """Insert or update the ticket (locked for the rest of the transaction) and append to its log."""
    session = ctx.session
    at = ev.updated_at or ev.occurred_at
    created = ev.created_at or (ev.occurred_at if ev.kind == "ticket.created" else at)
    # the common case is an update of a known ticket: one locking SELECT (with its customer, who is usually
    # the event's requester); only a miss pays for the insert
    key = {"source": ctx.source, "external_id": ev.external_id}
    ticket = _load_ticket(session, key)
    new_id = (
        None
        if ticket is not None
        else insert_ignore(
            session,
            Ticket.__table__,
            {
                "source": ctx.source,
                "external_id": ev.external_id,
                "status": "new",
                "tags": [],
                "custom_fields": {},
                "created_at": created,
                "updated_at": at,
                "first_seen_at": ctx.now,
                "complaint_evidence": [],
                "complaint_source": "rules",
                "is_complaint": False,
            },
            ["source", "external_id"],
        )
    )
    if ticket is None:
        ticket = _load_ticket(session, key)
        assert ticket is not None  # inserted above, or by a concurrent transaction that has committed
    _merge_fields(ctx, ticket, ev, is_new=new_id is not None)
    _append_log(ctx, ticket, ev)
    ctx.touched[ticket.id or 0] = ticket
    return ticket


@cache
def _ticket_query() -> Select[Any]:
    # built once: bind parameters carry the key, so SQLAlchemy reuses the compiled statement
    return (
        select(Ticket, Customer)
        .outerjoin(Customer, Customer.id == Ticket.customer_id)
        .where(Ticket.source == bindparam("source"), Ticket.external_id == bindparam("external_id"))
        .with_for_update(of=Ticket)
    )


def _load_ticket(session: Session, key: dict[str, str]) -> Ticket | None:
    """The ticket, locked; its customer (if any) joins the transaction's customer cache."""
    row = session.execute(_ticket_query(), key).one_or_none()
    if row is None:
        return None
    ticket, customer = row
    if customer is not None:
        session.info.setdefault("customers_by_key", {}).setdefault(customer.key, customer)
    return ticket


def _merge_fields(ctx: Context, ticket: Ticket, ev: TicketEvent, *, is_new: bool) -> None:
    at = ev.updated_at or ev.occurred_at
    changed = ctx.changed = set()
    if is_new:
        changed.add("created")
    if ev.created_at is not None and ev.created_at < ticket.created_at:
        ticket.created_at = ev.created_at
        changed.add("created_at")
    customer = customer_for_requester(ctx, ev.requester, ev.created_at or ev.occurred_at)
    if customer is not None and ticket.customer_id is None:
        ticket.customer_id = customer.id
        changed.add("customer_id")
    stale = not is_new and at < ticket.updated_at
    if stale:
        log.info(
            "stale update of %s/%s kept in the log only (%s < %s)", ctx.source, ev.external_id, at, ticket.updated_at
        )
        return
    for name in TICKET_FIELDS:
        value = getattr(ev, name)
        if value is not None and getattr(ticket, name) != value:
            setattr(ticket, name, value)
            changed.add(name)
    if ev.tags is not None and list(ev.tags) != ticket.tags:
        ticket.tags = list(ev.tags)
        changed.add("tags")
    if ev.custom_fields:
        merged = {**ticket.custom_fields, **ev.custom_fields}
        if merged != ticket.custom_fields:
            ticket.custom_fields = merged
            changed.add("custom_fields")
    if at > ticket.updated_at:
        ticket.updated_at = at


def _append_log(ctx: Context, ticket: Ticket, ev: TicketEvent) -> None:
    snapshot = {
        name: list(v) if isinstance(v, tuple) else v for name in SNAPSHOT_FIELDS if (v := getattr(ev, name)) is not None
    }
    c = ev.comment
    if c is not None:
        values: dict[str, Any] = {
            "at": c.created_at,
            "kind": "comment",
            "dedupe_key": f"comment:{c.id}"[:200],
            "author_role": c.author_role,
            "public": c.public,
            "body": c.body,
        }
    else:
        kind = "created" if ev.kind == "ticket.created" else "updated"
        at = ev.created_at if kind == "created" and ev.created_at else (ev.updated_at or ev.occurred_at)
        digest = hashlib.sha256(json.dumps([kind, at.isoformat(), snapshot], sort_keys=True).encode()).hexdigest()
        values = {"at": at, "kind": kind, "dedupe_key": f"{kind}:{digest[:40]}"}
    values.update(
        ticket_id=ticket.id,
        status=ev.status,
        priority=ev.priority,
        snapshot=snapshot,
        delivery_id=ctx.delivery_row_id,
        public=values.get("public"),
    )
    insert_ignore(ctx.session, TicketLog.__table__, values, ["ticket_id", "dedupe_key"])
