"""The JSON API under /api (Bearer tokens) and the unauthenticated health, metrics and spec routes."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from pydantic import BaseModel, ValidationError
from sqlalchemy import and_, or_, select, text

from .db import session_scope
from .events import utcnow
from .models import Ticket
from .openapi import build_spec
from .runtime import Runtime
from .schemas import TicketListQuery, TicketOut, TicketPage
from .ticketview import serialize_tickets
from .tokens import check_token

ops = Blueprint("ops", __name__)


class ApiError(Exception):
    """Raised by views; answered as JSON ``{"error", "detail"}`` with ``status``."""

    def __init__(self, status: int, error: str, detail: Any = None) -> None:
        super().__init__(error)
        self.status, self.error, self.detail = status, error, detail


def runtime() -> Runtime:
    return current_app.extensions["helpdesk_retain"]


def authenticate() -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "missing bearer token")
    with session_scope(runtime().sessions) as session:
        row = check_token(session, token.strip(), utcnow())
        if row is None:
            raise ApiError(401, "invalid token")
        g.token_name = row.name


def make_api_blueprint(name: str) -> Blueprint:
    """A blueprint under /api whose every route needs a valid bearer token (features add their own)."""
    blueprint = Blueprint(name, __name__, url_prefix="/api")
    blueprint.before_request(authenticate)
    return blueprint


bp = make_api_blueprint("api")


def validate(model: type[BaseModel], data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        detail = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        raise ApiError(422, f"invalid {detail[0]['field']}: {detail[0]['message']}", detail) from None


def json_body() -> Any:
    data = request.get_json(silent=True)
    if data is None:
        raise ApiError(415 if not request.is_json else 422, "expected a JSON body")
    return data


def respond(model: type[BaseModel], data: Any, status: int = 200) -> Response:
    response = current_app.response_class(model.model_validate(data).model_dump_json(), mimetype="application/json")
    response.status_code = status
    return response


@bp.get("/tickets/<source>/<path:external_id>")
def get_ticket(source: str, external_id: str) -> Response:
    with session_scope(runtime().sessions) as session:
        stmt = select(Ticket).where(Ticket.source == source, Ticket.external_id == external_id)
        ticket = session.execute(stmt).scalar_one_or_none()
        if ticket is None:
            raise ApiError(404, "unknown ticket", {"source": source, "external_id": external_id})
        return respond(TicketOut, serialize_tickets(session, [ticket])[0])


def encode_cursor(created_at: datetime, row_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([created_at.isoformat(), row_id]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, row_id = json.loads(raw)
        return datetime.fromisoformat(created), int(row_id)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise ApiError(422, "invalid cursor", str(exc)) from None


def flag_filters() -> dict[str, Any]:
    """flag name -> a function returning the SQL condition; features add theirs."""
    from .saves import saved_flag
    from .tagging.views import at_risk_flag
    from .tat.read import breached_flag

    return {
        "complaint": lambda: Ticket.is_complaint.is_(True),
        "saved": saved_flag,
        "breached": breached_flag,
        "at_risk": at_risk_flag,
    }


@bp.get("/tickets")
def list_tickets() -> Response:
    query: TicketListQuery = validate(TicketListQuery, request.args.to_dict())
    limit = max(1, min(query.limit, 200))
    stmt = select(Ticket)
    if query.flag is not None:
        condition = flag_filters().get(query.flag)
        if condition is None:
            raise ApiError(422, f"invalid flag: {query.flag} is not available yet")
        stmt = stmt.where(condition())
    if query.since is not None:
        stmt = stmt.where(Ticket.created_at >= query.since)
    if query.until is not None:
        stmt = stmt.where(Ticket.created_at < query.until)
    if query.cursor:
        created, row_id = decode_cursor(query.cursor)
        stmt = stmt.where(or_(Ticket.created_at < created, and_(Ticket.created_at == created, Ticket.id < row_id)))
    stmt = stmt.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(limit + 1)
    with session_scope(runtime().sessions) as session:
        rows = list(session.execute(stmt).scalars())
        page, more = rows[:limit], len(rows) > limit
        items = serialize_tickets(session, page)
    cursor = encode_cursor(page[-1].created_at, page[-1].id or 0) if more else None
    return respond(TicketPage, {"items": items, "next_cursor": cursor})


@ops.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@ops.get("/readyz")
def readyz() -> Response:
    with runtime().engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return jsonify(status="ready")


@ops.get("/metrics")
def metrics() -> Response:
    return Response(runtime().metrics.render(), mimetype="text/plain; version=0.0.4")


@ops.get("/openapi.json")
def openapi() -> Response:
    return jsonify(build_spec())
