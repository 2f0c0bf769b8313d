"""At-risk customers as of a week's end: how many, and the most valuable ones with their reasons.

The rule is the tagging feature's (``tagging.risk``, ``[tagging.at_risk]``): a cancel, refund or export signal
in the last ``signal_days``, or at least ``bad_experiences`` bad experiences (complaints, TAT breaches, and any
source a feature adds to ``bad_experience_sources``) in the last ``bad_experience_days``; cancelled customers
are lost, not at risk. This module reuses its signal rows, its extra sources and its reasons (``_reasons``) and
reads the same rows as its built-in sources, in a form that stays fast over a million tickets:

- the count and the top customers come from ONE query (``count(*) OVER ()`` beside ``ORDER BY value LIMIT n``)
  instead of loading every flagged customer into Python;
- complaints and breaches are first collected per ticket from their own indexes (``complaints.complaint_events``;
  ``breached_at`` of breached clocks and ``due_at`` of running ones past due, where ``tat_breach_experiences``'
  single ``CASE`` predicate forces a scan of all of ``tat_clocks``), and ``tickets`` is joined once for all.

Order: monthly recurring revenue, highest first, in major units of the ``[money]`` base currency when a rate
is configured, else in major units of its own currency; unknown revenue last; then by customer id.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import Any

from iso4217 import Currency
from sqlalchemy import Select, case, func, literal, or_, select, union, union_all
from sqlalchemy.orm import Session

from ..config import Settings
from ..models import Customer, Ticket
from ..models.tat import TatClock
from ..tagging import risk
from .complaints import Window, complaint_events

TOP = 10


def experiences(start: datetime, end: datetime, postgres: bool) -> Any:
    """Subquery ``(ticket_id, kind)`` of the bad experiences in ``(start, end]`` (see the module docstring)."""
    window: Window = lambda column: (column > start) & (column <= end)  # noqa: E731
    complaints = complaint_events(window, postgres)
    branches = [
        select(complaints.c.ticket_id, literal("complaint").label("kind")),
        select(TatClock.ticket_id, literal("tat_breach").label("kind")).where(
            TatClock.state == "breached", window(TatClock.breached_at)
        ),
        select(TatClock.ticket_id, literal("tat_breach").label("kind")).where(
            TatClock.state == "running", window(TatClock.due_at)
        ),
    ]
    return union_all(*branches).subquery("experiences")


def flagged(settings: Settings, at: datetime, postgres: bool) -> Any:
    """Subquery of the ids of customers the rule flags at ``at`` (before the cancelled are left out)."""
    rule = settings.tagging.at_risk
    start = at - timedelta(days=rule.bad_experience_days)
    exp = experiences(start, at, postgres)
    # the tickets are joined ONCE, for every experience: their customer, and whether a complaint still is one
    rows: list[Select[Any]] = [
        select(Ticket.customer_id.label("customer_id"))
        .join(exp, exp.c.ticket_id == Ticket.id)
        .where(or_(exp.c.kind != "complaint", Ticket.is_complaint.is_(True)))
    ]
    builtin = (risk.complaint_experiences, risk.tat_breach_experiences)
    rows += [select(source(start, at).subquery().c.customer_id) for source in risk.bad_experience_sources()
             if source not in builtin]  # fmt: skip
    bad = union_all(*rows).subquery("bad")
    by_bad = (
        select(bad.c.customer_id)
        .where(bad.c.customer_id.is_not(None))
        .group_by(bad.c.customer_id)
        .having(func.count() >= rule.bad_experiences)
    )
    signals = risk._signal_rows(settings, at).subquery("signals")
    return union(select(signals.c.customer_id), by_bad).subquery("flagged")


@cache
def _codes_by_exponent() -> dict[int, tuple[str, ...]]:
    """ISO 4217 codes whose minor unit is not the usual 2 digits (JPY 0, KWD 3, CLF 4), by exponent."""
    found: dict[int, list[str]] = {}
    for currency in Currency:
        if currency.exponent is not None and currency.exponent != 2:
            found.setdefault(int(currency.exponent), []).append(currency.code)
    return {e: tuple(sorted(codes)) for e, codes in found.items()}


def value(settings: Settings) -> Any:
    """SQL: a customer's MRR as a comparable number (see the module docstring)."""
    c = Customer.currency
    major = case(
        *[(c.in_(codes), Customer.mrr_minor / 10.0**e) for e, codes in sorted(_codes_by_exponent().items())],
        else_=Customer.mrr_minor / 100.0,
    )
    rates = {code: float(rate) for code, rate in settings.money.rates.items()} if settings.money.base_currency else {}
    if not rates:
        return major
    return major * case(*[(c == code, rate) for code, rate in sorted(rates.items())], else_=1.0)


def at_risk(session: Session, settings: Settings, at: datetime, limit: int = TOP) -> dict[str, Any]:
    """``{"count", "customers": [{email, name, plan, mrr_minor, currency, reasons: [...]}]}``, top ``limit``."""
    ids = flagged(settings, at, session.get_bind().dialect.name == "postgresql")
    stmt = (
        select(Customer, func.count().over().label("total"))
        .join(ids, ids.c.customer_id == Customer.id)
        .where(Customer.status != "cancelled")
        .order_by(value(settings).desc().nulls_last(), Customer.id)
        .limit(limit)
    )
    rows = session.execute(stmt).all()
    why = risk._reasons(session, settings, at, [c.id for c, _ in rows if c.id is not None])
    return {"count": int(rows[0].total) if rows else 0, "customers": [_customer(c, why.get(c.id, [])) for c, _ in rows]}


def _customer(c: Customer, reasons: list[Any]) -> dict[str, Any]:
    return {
        "email": c.email,
        "name": c.name,
        "plan": c.plan,
        "mrr_minor": c.mrr_minor,
        "currency": c.currency,
        "reasons": [
            {"rule": r.rule, "kind": r.kind, "count": r.count, "last_at": r.last_at, "evidence": r.evidence}
            for r in reasons
        ],
    }
