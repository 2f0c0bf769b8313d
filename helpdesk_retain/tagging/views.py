"""Tagging API: the agent's complaint override, at-risk customers, the ticket ``risk`` section and flag.

``POST /api/tickets/<source>/<external_id>/complaint {"is_complaint", "category"}`` overrides the rules (the
ticket then shows ``source: "agent"``); ``DELETE`` on the same path hands the ticket back to tags and rules.
``GET /api/customers?at_risk=true[&since=&at=&limit=]`` lists at-risk customers, most MRR first.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Response, g, request
from flask.blueprints import BlueprintSetupState
from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.orm import Session

from ..api import ApiError, json_body, make_api_blueprint, respond, runtime, validate
from ..db import session_scope
from ..events import utcnow
from ..models import Ticket
from ..models.tagging import ComplaintState, RiskSignal
from ..schemas import TicketOut
from ..ticketview import serialize_tickets
from .risk import at_risk_customers
from .schemas import AtRiskPage, AtRiskQuery, ComplaintIn
from .step import retag_ticket
from .tagger import tagger_for

bp = make_api_blueprint("tagging")


@bp.record_once
def _load_rules(state: BlueprintSetupState) -> None:
    """Compile (and so validate) the rule packs when the app is built, not on the first webhook."""
    tagger_for(state.app.extensions["helpdesk_retain"].settings)


def _locked_ticket(session: Session, source: str, external_id: str) -> Ticket:
    stmt = select(Ticket).where(Ticket.source == source, Ticket.external_id == external_id).with_for_update()
    ticket = session.execute(stmt).scalar_one_or_none()
    if ticket is None:
        raise ApiError(404, "unknown ticket", {"source": source, "external_id": external_id})
    return ticket


def _set_override(source: str, external_id: str, body: ComplaintIn | None) -> Response:
    rt = runtime()
    with session_scope(rt.sessions) as session:
        ticket = _locked_ticket(session, source, external_id)
        state = session.get(ComplaintState, ticket.id)
        if state is None and body is not None:
            state = ComplaintState(ticket_id=ticket.id)
            session.add(state)
        if state is not None:
            state.override_is_complaint = body.is_complaint if body else None
            state.override_category = body.category if body else None
            state.override_by = getattr(g, "token_name", None) if body else None
            state.override_at = utcnow() if body else None
            session.flush()
        integration = rt.integrations.get(source)
        retag_ticket(session, rt.settings, integration.config if integration else None, ticket, load_state=True)
        session.flush()
        return respond(TicketOut, serialize_tickets(session, [ticket])[0])


@bp.post("/tickets/<source>/<path:external_id>/complaint")
def override_complaint(source: str, external_id: str) -> Response:
    body: ComplaintIn = validate(ComplaintIn, json_body())
    return _set_override(source, external_id, body)


@bp.delete("/tickets/<source>/<path:external_id>/complaint")
def clear_override(source: str, external_id: str) -> Response:
    return _set_override(source, external_id, None)


@bp.get("/customers")
def list_customers() -> Response:
    query: AtRiskQuery = validate(AtRiskQuery, request.args.to_dict())
    at = query.at or utcnow()
    for name, value in (("at", at), ("since", query.since)):
        if value is not None and value.tzinfo is None:
            raise ApiError(422, f"invalid {name}: give a time zone (e.g. Z)", {"field": name})
    rt = runtime()
    with session_scope(rt.sessions) as session:
        found = at_risk_customers(session, rt.settings, at, since=query.since, limit=query.limit)
        items = [_customer_out(item["customer"], item["reasons"]) for item in found]
    return respond(AtRiskPage, {"at": at, "items": items})


def _customer_out(customer: Any, reasons: list[Any]) -> dict[str, Any]:
    fields = ("email", "name", "external_id", "plan", "status", "mrr_minor", "currency")
    return {**{f: getattr(customer, f) for f in fields}, "reasons": [asdict(r) for r in reasons]}


def at_risk_flag() -> ColumnElement[bool]:
    """``GET /api/tickets?flag=at_risk``: tickets that carry a churn-risk signal (their ``risk`` section)."""
    return exists().where(RiskSignal.ticket_id == Ticket.id)


def load_risk(session: Session, ticket_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The ``risk`` section of a page of tickets: signals with evidence and time, oldest first."""
    if not ticket_ids:
        return {}
    stmt = (
        select(RiskSignal.ticket_id, RiskSignal.signal, RiskSignal.evidence, RiskSignal.at)
        .where(RiskSignal.ticket_id.in_(ticket_ids))
        .order_by(RiskSignal.ticket_id, RiskSignal.at, RiskSignal.signal, RiskSignal.source)
    )
    out: dict[int, list[dict[str, Any]]] = {}
    for ticket_id, signal, evidence, at in session.execute(stmt):
        out.setdefault(ticket_id, []).append({"signal": signal, "evidence": evidence, "at": at})
    return out
