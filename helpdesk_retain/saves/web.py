"""``POST /api/saves``, ``GET /api/saves`` and ``GET /api/retention`` (bearer tokens, JSON errors)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Response, request
from sqlalchemy import and_, or_, select

from .. import retention
from ..api import ApiError, decode_cursor, encode_cursor, json_body, make_api_blueprint, respond, runtime, validate
from ..db import session_scope
from ..events import utcnow
from ..models import Customer, Ticket
from ..models.saves import Save
from .fields import SaveInput
from .record import UnknownTicket, record_api_save
from .schemas import PeriodQuery, RetentionOut, SaveIn, SaveRecordedOut, SavesPageOut, SavesQuery

bp = make_api_blueprint("saves")
DEFAULT_PERIOD = timedelta(days=30)


def period_of(query: PeriodQuery) -> retention.Period:
    until = query.until or utcnow()
    since = query.since or until - DEFAULT_PERIOD
    for name, value in (("since", since), ("until", until)):
        if value.tzinfo is None:
            raise ApiError(422, f"invalid {name}: give a time zone (e.g. Z)", {"field": name})
    if since >= until:
        raise ApiError(422, "invalid since: must be before until", {"field": "since"})
    return retention.Period(since, until)


@bp.post("/saves")
def post_save() -> Response:
    body: SaveIn = validate(SaveIn, json_body())
    found = SaveInput(body.amount_minor, body.currency, body.interval, body.reason, body.offer)
    rt = runtime()
    with session_scope(rt.sessions) as session:
        try:
            save, change = record_api_save(session, rt.settings, body.source, body.external_id, found, utcnow())
        except UnknownTicket:
            raise ApiError(404, "unknown ticket", {"source": body.source, "external_id": body.external_id}) from None
        session.flush()
        item = {**_items(session, [save])[0], "change": change}
    # 201 for every recorded save, also an update: the contract answers "recorded", one save per ticket
    return respond(SaveRecordedOut, item, 201)


@bp.get("/saves")
def list_saves() -> Response:
    query: SavesQuery = validate(SavesQuery, request.args.to_dict())
    period = period_of(query)
    stmt = select(Save).where(Save.saved_at >= period.since, Save.saved_at < period.until)
    if query.state != "all":
        stmt = stmt.where(Save.withdrawn_at.is_(None) if query.state == "active" else Save.withdrawn_at.is_not(None))
    if query.outcome is not None:
        stmt = stmt.where(Save.outcome == query.outcome)
    if query.cursor:
        at, row_id = decode_cursor(query.cursor)
        stmt = stmt.where(or_(Save.saved_at < at, and_(Save.saved_at == at, Save.id < row_id)))
    stmt = stmt.order_by(Save.saved_at.desc(), Save.id.desc()).limit(query.limit + 1)
    rt = runtime()
    with session_scope(rt.sessions) as session:
        rows = list(session.execute(stmt).scalars())
        page, more = rows[: query.limit], len(rows) > query.limit
        items = _items(session, page)
        totals = retention.save_totals(session, period, rt.settings)
    cursor = encode_cursor(page[-1].saved_at, page[-1].id or 0) if more else None
    return respond(
        SavesPageOut,
        {"since": period.since, "until": period.until, "items": items, "next_cursor": cursor, "totals": totals},
    )


@bp.get("/retention")
def get_retention() -> Response:
    period = period_of(validate(PeriodQuery, request.args.to_dict()))
    rt = runtime()
    with session_scope(rt.sessions) as session:
        return respond(RetentionOut, retention.figures(session, period, rt.settings))


def _items(session: Any, saves: list[Save]) -> list[dict[str, Any]]:
    """API items for a page of saves: two batch queries (tickets, customers), not one per save."""
    ticket_ids = {s.ticket_id for s in saves}
    customer_ids = {s.customer_id for s in saves if s.customer_id is not None}
    tickets = {t.id: t for t in _by_ids(session, Ticket, ticket_ids)}
    customers = {c.id: c for c in _by_ids(session, Customer, customer_ids)}
    return [_item(s, tickets[s.ticket_id], customers.get(s.customer_id)) for s in saves]


def _by_ids(session: Any, model: Any, ids: set[int]) -> list[Any]:
    return list(session.execute(select(model).where(model.id.in_(ids))).scalars()) if ids else []


def _item(save: Save, ticket: Ticket, customer: Customer | None) -> dict[str, Any]:
    return {
        "id": save.id,
        "source": ticket.source,
        "external_id": ticket.external_id,
        "customer": {"email": customer.email, "name": customer.name} if customer else None,
        **{k: getattr(save, k) for k in ("amount_minor", "currency", "interval", "mrr_minor", "arr_minor")},
        "outcome": save.outcome,
        "state": "withdrawn" if save.withdrawn_at else "active",
        **{k: getattr(save, k) for k in ("via", "reason", "offer", "saved_at", "verify_due_at")},
        "verified_at": save.verified_at,
        "withdrawn_at": save.withdrawn_at,
    }
