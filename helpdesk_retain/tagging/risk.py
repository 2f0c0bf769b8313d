"""At-risk customers: who, why, the most valuable first (80/20 segmentation).

Default rule (``[tagging.at_risk]``, from retention-facts.md: 26% of customers leave after one bad
experience, 92% after three): a customer is at risk at time ``at`` when one of their tickets carries a
cancel-intent, refund-request or data-export signal written in the ``signal_days`` before ``at``, or when they
had at least ``bad_experiences`` bad experiences in the ``bad_experience_days`` before ``at``. Signals and bad
experiences age out by the time they happened. Cancelled customers are no longer at risk: they are lost.

Bad experiences come from ``bad_experience_sources()``: each source is ``(start, end) -> SELECT customer_id,
at, kind, ticket_id`` of the experiences in ``(start, end]``. Complaints and TAT breaches are built in; a
feature with another kind of bad experience adds its source to that list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

from sqlalchemy import Select, and_, case, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from ..config import Settings
from ..models import Customer, Ticket
from ..models.tagging import ComplaintState, RiskSignal
from ..money import exponent
from ..retention import converter

BadExperienceSource = Callable[[datetime, datetime], Select[Any]]


def complaint_experiences(start: datetime, end: datetime) -> Select[Any]:
    """Complaint tickets, at the time the customer first complained (the ticket's creation unless recorded)."""
    at = func.coalesce(ComplaintState.complaint_at, Ticket.created_at)
    return (
        select(
            Ticket.customer_id.label("customer_id"),
            at.label("at"),
            literal("complaint").label("kind"),
            Ticket.id.label("ticket_id"),
        )
        .outerjoin(ComplaintState, ComplaintState.ticket_id == Ticket.id)
        .where(Ticket.is_complaint.is_(True), at > start, at <= end)
    )


def tat_breach_experiences(start: datetime, end: datetime) -> Select[Any]:
    """TAT clocks that ran out, at their due time (a running clock past due counts, as in ``tat.read``)."""
    from ..models.tat import TatClock

    breached_at = case((TatClock.state == "breached", TatClock.breached_at), else_=TatClock.due_at)
    overdue = and_(TatClock.state == "running", TatClock.due_at <= end)
    return (
        select(
            Ticket.customer_id.label("customer_id"),
            breached_at.label("at"),
            literal("tat_breach").label("kind"),
            Ticket.id.label("ticket_id"),
        )
        .join(Ticket, Ticket.id == TatClock.ticket_id)
        .where(or_(TatClock.state == "breached", overdue), breached_at > start, breached_at <= end)
    )


def bad_experience_sources() -> list[BadExperienceSource]:
    """Where bad experiences come from (a feature registers its own source here, one line)."""
    return [complaint_experiences, tat_breach_experiences]


@dataclass(frozen=True)
class Reason:
    rule: str  # signal | bad_experiences
    kind: str  # the signal name, or "bad_experiences"
    count: int
    last_at: datetime
    evidence: str | None
    tickets: list[dict[str, str]]


def _signal_rows(settings: Settings, at: datetime, customer_ids: list[int] | None = None) -> Select[Any]:
    rule = settings.tagging.at_risk
    stmt = (
        select(
            Ticket.customer_id, RiskSignal.signal, RiskSignal.at, RiskSignal.evidence, Ticket.source, Ticket.external_id
        )
        .join(Ticket, Ticket.id == RiskSignal.ticket_id)
        .where(
            RiskSignal.signal.in_(rule.signals),
            RiskSignal.at > at - timedelta(days=rule.signal_days),
            RiskSignal.at <= at,
            Ticket.customer_id.is_not(None),
        )
    )
    return stmt if customer_ids is None else stmt.where(Ticket.customer_id.in_(customer_ids))


def _bad_experiences(settings: Settings, at: datetime) -> Any:
    start = at - timedelta(days=settings.tagging.at_risk.bad_experience_days)
    return union_all(*(source(start, at) for source in bad_experience_sources())).subquery("bad")


def at_risk_customers(
    session: Session, settings: Settings, at: datetime, *, since: datetime | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """The customers at risk at ``at``, most recurring revenue first, each with the reasons.

    ``since`` keeps only customers with a reason at or after it (newly at risk).
    """
    rule = settings.tagging.at_risk
    signals = _signal_rows(settings, at).subquery("signals")
    by_signal = select(signals.c.customer_id, func.max(signals.c.at).label("last_at")).group_by(signals.c.customer_id)
    bad = _bad_experiences(settings, at)
    by_bad = (
        select(bad.c.customer_id, func.max(bad.c.at).label("last_at"))
        .where(bad.c.customer_id.is_not(None))
        .group_by(bad.c.customer_id)
        .having(func.count() >= rule.bad_experiences)
    )
    flagged = union_all(by_signal, by_bad).subquery("flagged")
    last = select(flagged.c.customer_id, func.max(flagged.c.last_at).label("last_at")).group_by(flagged.c.customer_id)
    if since is not None:
        last = last.having(func.max(flagged.c.last_at) >= since)
    last_sq = last.subquery("last")
    stmt = select(Customer).join(last_sq, last_sq.c.customer_id == Customer.id).where(Customer.status != "cancelled")
    customers = sorted(session.execute(stmt).scalars(), key=_value_key(settings))[:limit]
    why = _reasons(session, settings, at, [c.id for c in customers if c.id is not None])
    return [{"customer": c, "reasons": why.get(c.id or 0, [])} for c in customers]


def _value_key(settings: Settings) -> Callable[[Customer], tuple[int, Fraction, int]]:
    """Sort key: highest MRR first (in the base currency when rates allow, else major units), unknown last."""
    conv = converter(settings)

    def key(c: Customer) -> tuple[int, Fraction, int]:
        if c.mrr_minor is None:
            return (1, Fraction(0), c.id or 0)
        currency = c.currency or ""
        converted = conv.convert(c.mrr_minor, currency) if currency else None
        try:
            value = Fraction(converted) if converted is not None else Fraction(c.mrr_minor, 10 ** exponent(currency))
        except ValueError:
            value = Fraction(c.mrr_minor)
        return (0, -value, c.id or 0)

    return key


def _reasons(session: Session, settings: Settings, at: datetime, ids: list[int]) -> dict[int, list[Reason]]:
    if not ids:
        return {}
    out: dict[int, list[Reason]] = {}
    rows = session.execute(_signal_rows(settings, at, ids).order_by(RiskSignal.at.desc())).all()
    for customer_id, signal in dict.fromkeys((r.customer_id, r.signal) for r in rows):
        mine = [r for r in rows if r.customer_id == customer_id and r.signal == signal]
        out.setdefault(customer_id, []).append(
            Reason("signal", signal, len(mine), mine[0].at, mine[0].evidence, _tickets(mine))
        )
    bad = _bad_experiences(settings, at)
    stmt = (
        select(bad.c.customer_id, bad.c.at, bad.c.kind, Ticket.source, Ticket.external_id)
        .join(Ticket, Ticket.id == bad.c.ticket_id)
        .where(bad.c.customer_id.in_(ids))
        .order_by(bad.c.at.desc())
    )
    experiences = session.execute(stmt).all()
    for customer_id in ids:
        mine = [r for r in experiences if r.customer_id == customer_id]
        if len(mine) >= settings.tagging.at_risk.bad_experiences:
            kinds = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in _count_kinds(mine).items())
            reason = Reason("bad_experiences", "bad_experiences", len(mine), mine[0].at, kinds, _tickets(mine))
            out.setdefault(customer_id, []).append(reason)
    return out


def _count_kinds(rows: list[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.kind] = counts.get(row.kind, 0) + 1
    return counts


def _tickets(rows: list[Any]) -> list[dict[str, str]]:
    refs = dict.fromkeys((r.source, r.external_id) for r in rows)
    return [{"source": s, "external_id": e} for s, e in list(refs)[:20]]
