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
from typing import Any, TypeVar

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import instance_state, set_attribute

from .config import Settings
from .events import CustomerEvent, Event, IssueEvent, Person, TicketEvent
from .integrations import IntegrationConfig
from .models import Customer, Ticket, TicketLog
from .sqlutil import (
    DeferredObjects,
    DeferredRows,
    allocate_ids,
    column_attributes,
    id_beside_allocated,
    insert_ignore,
    insert_ignore_statement,
    read_connection,
)

log = logging.getLogger(__name__)
M = TypeVar("M")

#: session.info keys: what this transaction knows of tickets ((source, external id) -> row, None if absent)
#: and customers (key -> row, None if absent). Cleared with the session, or by whoever rolls back a savepoint.
TICKETS = "ingest.tickets"
CUSTOMERS = "customers_by_key"
#: session.info key: ids set aside (``preload``) for the tickets an import batch creates; while present, new
#: tickets are queued (``TICKET_ROWS``) instead of inserted one by one
NEW_TICKET_IDS = "ingest.new_ticket_ids"

#: tickets created by an import batch, written together before anything reads or references them
TICKET_ROWS = DeferredObjects(Ticket)
#: log rows, written together at the end of an apply (or import batch) or before the log is read
LOG_ROWS = DeferredRows(
    TicketLog.__table__,
    lambda dialect: insert_ignore_statement(dialect, TicketLog.__table__, ("ticket_id", "dedupe_key"), returning=()),
    after=[TICKET_ROWS],
)

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
    """The finish steps, then every queued write of the apply (before a savepoint around it can end, so a row
    that fails fails its own line)."""
    for finish_step in steps.finish:
        finish_step(ctx)
    DeferredRows.flush_all(ctx.session)


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
    cache: dict[str, Customer | None] = session.info.setdefault(CUSTOMERS, {})
    customer = cache[key] if key in cache else _lookup(session, key)
    if customer is not None:
        cache[key] = customer
        return customer
    if id_key is not None:
        found = cache.get(id_key, False)  # False: not known either way, read it
        customer = _lookup(session, id_key) if found is False else found
        if customer is not None:
            customer.key, customer.email = key, email.strip().lower() if email else None
            cache.pop(id_key, None)
            session.flush()
    if customer is None:  # insert-or-nothing: a concurrent creator wins without an error, and we read theirs
        values = {"key": key, "email": email.strip().lower() if email else None, "status": "active", "created_at": at}
        new_id = insert_ignore(session, Customer.__table__, values, ["key"])
        if new_id is not None:
            customer = attach_inserted(session, Customer, values, new_id)
        else:
            customer = _lookup(session, key)
            assert customer is not None
    cache[key] = customer
    return customer


def _lookup(session: Session, key: str) -> Customer | None:
    return session.execute(_customer_query(), {"key": key}).scalar_one_or_none()


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
    known: dict[tuple[str, str], Ticket | None] = session.info.setdefault(TICKETS, {})
    ticket = known[ctx.source, ev.external_id] if (ctx.source, ev.external_id) in known else _load_ticket(session, key)
    new_id = None
    if ticket is None:
        # insert the event's fields with the row, so a new ticket costs one INSERT and no UPDATE
        customer = customer_for_requester(ctx, ev.requester, ev.created_at or ev.occurred_at)
        values: dict[str, Any] = {
            "source": ctx.source,
            "external_id": ev.external_id,
            **{name: value for name in TICKET_FIELDS if (value := getattr(ev, name)) is not None},
            "status": ev.status or "new",
            "tags": list(ev.tags or ()),
            "custom_fields": dict(ev.custom_fields or {}),
            "customer_id": customer.id if customer is not None else None,
            "created_at": created,
            "updated_at": at,
            "first_seen_at": ctx.now,
            "complaint_evidence": [],
            "complaint_source": "rules",
            "is_complaint": False,
        }
        ids: list[int] | None = session.info.get(NEW_TICKET_IDS)
        if ids:  # an import batch: the row is written with the batch's others (``preload``)
            new_id = ids.pop()
            ticket = attach_inserted(session, Ticket, values, new_id)
            TICKET_ROWS.add(session, [ticket])
        elif (new_id := _insert_ticket(session, values)) is not None:
            ticket = attach_inserted(session, Ticket, values, new_id)
        else:  # a concurrent transaction inserted it and has committed
            ticket = _load_ticket(session, key)
            assert ticket is not None
    known[ctx.source, ev.external_id] = ticket
    _merge_fields(ctx, ticket, ev, is_new=new_id is not None)
    _append_log(ctx, ticket, ev)
    return ticket


def _insert_ticket(session: Session, values: dict[str, Any]) -> int | None:
    """INSERT-or-nothing of one ticket; its id, or None when the row exists (a concurrent creator won)."""
    TICKET_ROWS.flush(session)  # queued tickets first: the unique constraint must see them
    if (row_id := id_beside_allocated(session, Ticket.__table__)) is not None:
        values = {**values, "id": row_id}
    return insert_ignore(session, Ticket.__table__, values, ["source", "external_id"])


def attach_inserted(session: Session, model: type[M], values: dict[str, Any], row_id: int) -> M:
    """The ORM object of a row just inserted through Core as ``values`` (plus the model's defaults), attached
    to the session as persistent without reading it back; later changes to it flush as an UPDATE."""
    obj = model.__mapper__.class_manager.new_instance()  # what loading a row does: no __init__, no validation
    state = obj.__dict__
    if len(values) < len(_defaults(model)):  # (a row read back has every column)
        for name, default in _defaults(model):
            state[name] = default()
    state.update(values)
    state["id"] = row_id
    # what ``make_transient_to_detached`` does for an object whose every column is set and none was ever changed
    # (so nothing to commit or expire): it gets its identity. It is then attached as persistent the way
    # ``Session.add`` attaches a detached object, minus ``add``'s save-update cascade: a new instance has no related
    # objects to cascade to, and walking the mapper's relationships cost more than the rest of the attach
    state = instance_state(obj)
    state.key = model.__mapper__.identity_key_from_primary_key((row_id,))
    session._update_impl(state)
    return obj


@cache
def _defaults(model: type[Any]) -> tuple[tuple[str, Callable[[], Any]], ...]:
    """(column attribute, default factory) of every column of ``model`` (the pydantic field defaults)."""
    out = []
    for name in (prop.key for prop in model.__mapper__.column_attrs):
        field_info = model.model_fields[name]
        if field_info.default_factory is not None:
            out.append((name, field_info.default_factory))
        else:
            out.append((name, (lambda value: lambda: value)(None if field_info.is_required() else field_info.default)))
    return tuple(out)


def _tickets_with_customers() -> Select[Any]:
    """Tickets with their customers' columns (a row: ticket columns, then customer columns), the tickets locked.
    Core columns: rows become ORM objects through ``_attach_ticket_row``, cheaper than the ORM's loading of a
    joined row."""
    tickets, customers = Ticket.__table__, Customer.__table__
    return (
        select(*tickets.columns, *customers.columns)
        .outerjoin(customers, customers.c.id == tickets.c.customer_id)
        .where(tickets.c.source == bindparam("source"))
        .with_for_update(of=tickets)
    )


@cache
def _ticket_query() -> Select[Any]:
    # built once: bind parameters carry the key, so SQLAlchemy reuses the compiled statement
    return _tickets_with_customers().where(Ticket.__table__.c.external_id == bindparam("external_id"))


def _attach_row(session: Session, model: type[M], values: tuple[Any, ...]) -> M:
    """The ORM object of a row read through Core: the one the session already holds, else attached as loaded."""
    row = {attr: value for (_column, attr), value in zip(column_attributes(model), values, strict=True)}
    held = session.identity_map.get(session.identity_key(model, row["id"]))
    if held is not None:  # loaded earlier in this transaction: it may carry changes not flushed yet
        return held  # type: ignore[return-value]
    return attach_inserted(session, model, row, row["id"])


def preload(session: Session, source: str, events: list[Event]) -> None:
    """Read the tickets and customers a batch of events will touch in two statements (locking the tickets),
    so applying the batch reads nothing per event: ``upsert_ticket`` and the customer lookup use what this
    finds, and skip the read for what it did not find. For the importer, whose batches share a transaction.

    The tickets it did not find get their ids here, and ``upsert_ticket`` queues their INSERTs (``TICKET_ROWS``):
    a batch writes its new tickets in one statement. A concurrent creator of one of them (PostgreSQL) makes that
    statement fail on the unique constraint, and the importer then applies the batch line by line."""
    ids, keys = set(), set()
    for ev in events:
        if isinstance(ev, TicketEvent):
            ids.add(ev.external_id)
            person = ev.requester
            if person is not None:
                keys.add(customer_key(source, person.email, person.external_id))
                if person.email and person.external_id:
                    keys.add(f"{source}:{person.external_id}")
        elif isinstance(ev, CustomerEvent):
            keys.add(customer_key(source, ev.email, ev.external_id))
    keys.discard(None)
    tickets: dict[tuple[str, str], Ticket | None] = session.info.setdefault(TICKETS, {})
    customers: dict[str, Customer | None] = session.info.setdefault(CUSTOMERS, {})
    connection = read_connection(session)
    for chunk in _chunks(sorted(ids - {i for s, i in tickets if s == source})):
        rows = connection.execute(_tickets_query(), {"source": source, "ids": chunk})
        found = {t.external_id: t for t in (_attach_ticket_row(session, row) for row in rows)}
        tickets.update({(source, i): found.get(i) for i in chunk})
    missing = sum(1 for i in ids if tickets[source, i] is None)
    session.info[NEW_TICKET_IDS] = allocate_ids(session, Ticket.__table__, missing)[::-1]  # popped in order
    for chunk in _chunks(sorted(keys - customers.keys())):  # type: ignore[operator]
        rows = connection.execute(_customers_query(), {"keys": chunk})
        found_customers = {c.key: c for c in (_attach_row(session, Customer, tuple(row)) for row in rows)}
        customers.update({k: found_customers.get(k) for k in chunk})


def _chunks(items: list[str], size: int = 500) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


@cache
def _tickets_query() -> Select[Any]:
    return _tickets_with_customers().where(Ticket.__table__.c.external_id.in_(bindparam("ids", expanding=True)))


@cache
def _customers_query() -> Select[Any]:
    customers = Customer.__table__
    return select(*customers.columns).where(customers.c.key.in_(bindparam("keys", expanding=True)))


def _load_ticket(session: Session, key: dict[str, str]) -> Ticket | None:
    """The ticket, locked; its customer (if any) joins the transaction's customer cache.

    Read through Core on the session's connection, which skips autoflush: a ticket with unflushed changes is
    one the session holds already, and that object is the one returned."""
    TICKET_ROWS.flush(session)  # (empty outside import batches) a Core read must see queued tickets too
    row = session.connection().execute(_ticket_query(), key).first()
    return None if row is None else _attach_ticket_row(session, row)


def set_column(obj: Any, name: str, value: Any) -> None:  # noqa: ANN401
    """``setattr`` of a column attribute of a stored (or queued) row, without SQLModel's pydantic half: SQLAlchemy's
    instrumentation records the change for the flush and sets the value, which is all a row needs; pydantic's
    ``__setattr__`` would only set it again and mark the field as set (an import's hot path sets ~5 a ticket)."""
    set_attribute(obj, name, value)


def _attach_ticket_row(session: Session, row: Any) -> Ticket:
    """The ticket of a row of ``_ticket_query`` or ``_tickets_query`` (ticket columns, then its customer's); the
    customer, if any, joins the transaction's customer cache."""
    width = len(Ticket.__table__.columns)
    ticket = _attach_row(session, Ticket, tuple(row[:width]))
    if row[width] is not None:  # the customer's id
        customer = _attach_row(session, Customer, tuple(row[width:]))
        session.info.setdefault(CUSTOMERS, {}).setdefault(customer.key, customer)
    return ticket


def _merge_fields(ctx: Context, ticket: Ticket, ev: TicketEvent, *, is_new: bool) -> None:
    at = ev.updated_at or ev.occurred_at
    changed = ctx.changed = set()
    if is_new:  # inserted with the event's fields (``upsert_ticket``): they count as changed
        changed.add("created")
        changed.update(name for name in TICKET_FIELDS if getattr(ev, name) is not None)
        changed.update(name for name in ("tags", "custom_fields") if getattr(ev, name))
        if ticket.customer_id is not None:
            changed.add("customer_id")
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
            set_column(ticket, name, value)
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
        values = {"at": at, "kind": kind, "dedupe_key": f"{kind}:{digest[:40]}", "author_role": None, "body": None}
    # every row has the same keys: queued rows are written with one executemany, compiled from the first row
    values.update(
        ticket_id=ticket.id,
        status=ev.status,
        priority=ev.priority,
        snapshot=snapshot,
        delivery_id=ctx.delivery_row_id,
        public=values.get("public"),
    )
    LOG_ROWS.add(ctx.session, [values])
