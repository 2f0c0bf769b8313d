"""At-risk customers as of a week's end: how many, and the most valuable ones with their reasons.

The rule is the tagging feature's (``tagging.risk``, ``[tagging.at_risk]``): a cancel, refund or export signal
in the last ``signal_days``, or at least ``bad_experiences`` bad experiences (complaints, TAT breaches, and any
source a feature adds to ``bad_experience_sources``) in the last ``bad_experience_days``; cancelled customers
are lost, not at risk. This module reuses its flagged customers (``flagged_customers``) and its reasons
(``_reasons``); the count and the top customers come from ONE query (``count(*) OVER ()`` beside
``ORDER BY value LIMIT n``) instead of loading every flagged customer into Python.

Order: monthly recurring revenue, highest first, in major units of the ``[money]`` base currency when a rate
is configured, else in major units of its own currency; unknown revenue last; then by customer id.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from iso4217 import Currency
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from ..config import Settings
from ..models import Customer
from ..tagging import risk

TOP = 10


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


def at_risk(
    session: Session, settings: Settings, at: datetime, limit: int = TOP, *, now: datetime | None = None
) -> dict[str, Any]:
    """``{"count", "customers": [{email, name, plan, mrr_minor, currency, reasons: [...]}]}``, top ``limit``.

    As of ``min(at, now)``: a week that has not ended yet (the current one) is judged as of now, as
    ``tat.read.attainment`` caps running clocks, so a running TAT clock due later this week is not a breach.
    """
    if now is not None:
        at = min(at, now)
    ids = risk.flagged_customers(settings, at)
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
