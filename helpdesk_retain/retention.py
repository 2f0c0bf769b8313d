"""Retention figures for a period [since, until), each from SQL aggregates (no Python loop over rows).

- **Saves**: saves whose ``saved_at`` falls in the period, without withdrawn ones: count, pending / held /
  lost, and per currency MRR and ARR (``money.mrr_arr``); held and lost MRR separately. Withdrawn saves
  are only counted as ``withdrawn``. Totals in one currency only through configured ``[money]`` rates.
- **Save rate** = saves / tickets that showed cancel or refund intent in the period (``intent_ticket_count``).
- **CRR** = (E - N) / S x 100 from the records of customers known to billing (a customer event set their
  ``updated_at``; help-desk requesters alone say nothing about churn): S customers active at ``since``, E
  active at ``until``, N created in the period; null when S = 0. ``churned`` = those whose cancellation took
  effect in the period, over the same identities. A customer is active at t when created before t and
  not cancelled by t. A record without an email that shares its external id with a record that has one (a
  billing system's copy, see ``saves.verify``) counts as that customer: first seen at the earlier of the
  two, cancelled if either says so. Figures come from current records: a customer who cancelled and came
  back counts as active throughout.
- **Customers saved and MRR / ARR kept**: per customer, not per ticket: ``customers`` = distinct customers
  with a save in the period that is neither withdrawn nor lost (a save without a customer counts as one);
  per currency ``kept_mrr_minor`` / ``kept_arr_minor`` = each such customer's MRR and ARR once (the largest
  of their kept saves), so the ARR kept is the kept saves' own ARR whatever their intervals.
- **CLV of saves** = MRR kept (above) x ``[saves] expected_lifetime_months``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import Session

from .config import Settings
from .models import Customer
from .models.saves import Save
from .money import Converter

#: the tagging feature's signals that show a wish to cancel or get money back
INTENT_SIGNALS = ("cancel_intent", "refund_request")


@dataclass(frozen=True)
class Period:
    since: datetime
    until: datetime


def percent(numerator: int, denominator: int | None) -> float | None:
    return None if not denominator else round(numerator * 100 / denominator, 2)


def converter(settings: Settings) -> Converter:
    return Converter(settings.money.base_currency, settings.money.rates)


# --- saves ------------------------------------------------------------------------------------


def save_totals(session: Session, period: Period, settings: Settings) -> dict[str, Any]:
    """Counts and per-currency money of the period's saves (one GROUP BY currency query)."""
    active = Save.withdrawn_at.is_(None)

    def count(*conditions: Any) -> Any:
        return func.count(Save.id).filter(and_(*conditions))

    def total(column: Any, *conditions: Any) -> Any:
        return func.coalesce(func.sum(column).filter(and_(active, *conditions)), 0)

    stmt = (
        select(
            Save.currency,
            count(active).label("count"),
            count(active, Save.outcome == "pending").label("pending"),
            count(active, Save.outcome == "held").label("held"),
            count(active, Save.outcome == "lost").label("lost"),
            count(Save.withdrawn_at.is_not(None)).label("withdrawn"),
            count(active, Save.amount_minor.is_(None)).label("unpriced"),
            total(Save.mrr_minor).label("mrr_minor"),
            total(Save.arr_minor).label("arr_minor"),
            total(Save.mrr_minor, Save.outcome == "held").label("held_mrr_minor"),
            total(Save.mrr_minor, Save.outcome == "lost").label("lost_mrr_minor"),
        )
        .where(Save.saved_at >= period.since, Save.saved_at < period.until)
        .group_by(Save.currency)
        .order_by(Save.currency)
    )
    rows = [row._asdict() for row in session.execute(stmt)]
    out: dict[str, Any] = {
        key: sum(int(r[key]) for r in rows) for key in ("count", "pending", "held", "lost", "withdrawn", "unpriced")
    }
    money_keys = ("count", "mrr_minor", "arr_minor", "held_mrr_minor", "lost_mrr_minor")
    kept = _kept_by_currency(session, period)
    out["customers"] = _kept_customer_count(session, period)
    out["by_currency"] = [
        {
            "currency": r["currency"],
            **{k: int(r[k]) for k in money_keys},
            **kept.get(r["currency"], {"customers": 0, "kept_mrr_minor": 0, "kept_arr_minor": 0}),
        }
        for r in rows
        if r["currency"] is not None and r["count"]
    ]
    out["base"] = _base_totals(converter(settings), out["by_currency"])
    return out


def _kept_saves(period: Period) -> Any:
    """The period's saves that are neither withdrawn nor lost."""
    return and_(
        Save.withdrawn_at.is_(None),
        Save.outcome != "lost",
        Save.saved_at >= period.since,
        Save.saved_at < period.until,
    )


def _save_customer() -> Any:
    """Who a save saved: its customer, else the save itself (negative key: never a customer's id)."""
    return func.coalesce(Save.customer_id, -Save.id)


def _kept_customer_count(session: Session, period: Period) -> int:
    """Customers with a save in the period that is not lost, each once however many tickets were saved."""
    stmt = select(func.count(func.distinct(_save_customer()))).where(_kept_saves(period))
    return int(session.execute(stmt).scalar_one())


def _kept_by_currency(session: Session, period: Period) -> dict[str, dict[str, int]]:
    """Per currency: customers kept and their MRR / ARR, each customer once (their largest save's money,
    so two tickets saved for one subscription do not double it)."""
    per_customer = (
        select(
            Save.currency.label("currency"),
            func.max(Save.mrr_minor).label("mrr"),
            func.max(Save.arr_minor).label("arr"),
        )
        .where(_kept_saves(period), Save.currency.is_not(None))
        .group_by(Save.currency, _save_customer())
        .subquery()
    )
    stmt = select(
        per_customer.c.currency,
        func.count(),
        func.coalesce(func.sum(per_customer.c.mrr), 0),
        func.coalesce(func.sum(per_customer.c.arr), 0),
    ).group_by(per_customer.c.currency)
    return {
        currency: {"customers": int(n), "kept_mrr_minor": int(mrr), "kept_arr_minor": int(arr)}
        for currency, n, mrr, arr in session.execute(stmt)
    }


def _base_totals(conv: Converter, by_currency: list[dict[str, Any]]) -> dict[str, Any] | None:
    if conv.base is None:
        return None
    mrr, missing = conv.total({r["currency"]: r["mrr_minor"] for r in by_currency})
    arr, _ = conv.total({r["currency"]: r["arr_minor"] for r in by_currency})
    return {"currency": conv.base, "mrr_minor": mrr, "arr_minor": arr, "missing_rates": missing}


def clv(totals: dict[str, Any], settings: Settings) -> dict[str, Any]:
    months = settings.saves.expected_lifetime_months
    rows = []
    for r in totals["by_currency"]:
        kept = r["kept_mrr_minor"]
        rows.append({"currency": r["currency"], "mrr_minor": kept, "clv_minor": kept * months})
    conv = converter(settings)
    base = None
    if conv.base is not None:
        value, missing = conv.total({r["currency"]: r["clv_minor"] for r in rows})
        base = {"currency": conv.base, "clv_minor": value, "missing_rates": missing}
    return {"expected_lifetime_months": months, "by_currency": rows, "base": base}


# --- save rate ----------------------------------------------------------------------------------


def intent_ticket_count(session: Session, period: Period) -> int | None:
    """Tickets that showed cancel or refund intent in the period: a ``cancel_intent`` or ``refund_request``
    risk signal dated in it, or a save made in it (a save implies the customer wanted to leave, also when the
    rules missed their wording), so the save rate never exceeds 100%. None while the tagging feature's
    ``risk_signals`` table is not part of the schema.
    """
    from .models import metadata

    table = metadata.tables.get("risk_signals")
    if table is None or not {"ticket_id", "signal", "at"} <= set(table.c.keys()):
        return None
    signalled = and_(table.c.signal.in_(INTENT_SIGNALS), table.c.at >= period.since, table.c.at < period.until)
    with_signal = select(func.count(func.distinct(table.c.ticket_id))).where(signalled).scalar_subquery()
    # saves whose ticket has no intent signal in the period (an anti-join, not a UNION of both id lists)
    saved_only = (
        select(func.count())
        .select_from(Save)
        .where(Save.withdrawn_at.is_(None), Save.saved_at >= period.since, Save.saved_at < period.until)
        .where(~exists().where(table.c.ticket_id == Save.ticket_id, signalled))
        .scalar_subquery()
    )
    return int(session.execute(select(with_signal + saved_only)).scalar_one())


def save_rate(session: Session, period: Period, saves: int) -> dict[str, Any]:
    intent = intent_ticket_count(session, period)
    return {"saves": saves, "intent_tickets": intent, "percent": percent(saves, intent)}


# --- customer retention rate ---------------------------------------------------------------------


def crr(session: Session, period: Period) -> dict[str, Any]:
    """S, E, N and CRR over billing customers' identities (see ``customer_figures``)."""
    out = customer_figures(session, period)
    return {key: out[key] for key in ("start", "end", "new", "percent")}


def customer_figures(session: Session, period: Period) -> dict[str, Any]:
    """S, E, N, CRR and ``churned`` over customer identities, in two aggregates and no GROUP BY over all customers.

    Only customers known to billing count: an identity with a customer event (``updated_at`` set on its record
    or on its billing copy); help-desk requesters alone say nothing about churn. ``churned`` = identities whose
    cancellation took effect in the period, over the same merged identities as S, E and N.

    (1) every record except billing copies (no email, an external id), by its own dates; (2) the copies,
    joined to the records with an email that share their external id: a copy without one is a customer of
    its own, otherwise it adds to that customer the difference it makes (an earlier first-seen time, a
    cancellation only the billing system saw, being known to billing at all).
    """
    c = Customer.__table__.alias("c")
    is_copy = and_(c.c.email.is_(None), c.c.external_id.is_not(None))
    counts = session.execute(_own_counts(c, period).where(~is_copy, c.c.updated_at.is_not(None))).one()
    deltas = session.execute(_copy_contributions(period)).one()
    start, end, new, churned = (int(n) + int(d or 0) for n, d in zip(counts, deltas, strict=True))
    return {"start": start, "end": end, "new": new, "percent": percent(end - new, start), "churned": churned}


def _own_counts(c: Any, period: Period) -> Any:
    cancelled = _cancelled(c)
    active = [func.count().filter(_active(c.c.created_at, cancelled, t)) for t in (period.since, period.until)]
    return select(
        *active,
        func.count().filter(_new(c.c.created_at, period)),
        func.count().filter(_within(cancelled, period)),
    )


def _copy_contributions(period: Period) -> Any:
    """Per customer reached through copies: (identity counted) - (record already counted by its own dates)."""
    copy, primary = Customer.__table__.alias("copy"), Customer.__table__.alias("primary_")
    link = and_(primary.c.email.is_not(None), primary.c.external_id == copy.c.external_id)
    g = (
        select(
            primary.c.created_at.label("own_created"),
            _cancelled(primary).label("own_cancelled"),
            primary.c.updated_at.label("own_known"),
            func.max(copy.c.updated_at).label("copy_known"),
            func.min(copy.c.created_at).label("copy_created"),
            func.min(_cancelled(copy)).label("copy_cancelled"),
        )
        .select_from(copy.outerjoin(primary, link))
        .where(copy.c.email.is_(None), copy.c.external_id.is_not(None))
        # a copy without a primary record is its own group (negative key: never a primary's id)
        .group_by(
            func.coalesce(primary.c.id, -copy.c.id),
            primary.c.created_at,
            primary.c.status,
            primary.c.cancelled_at,
            primary.c.updated_at,
        )
        .subquery()
    )
    created = _earliest(g.c.own_created, g.c.copy_created)
    cancelled = _earliest(g.c.own_cancelled, g.c.copy_cancelled)
    identity_known = or_(g.c.own_known.is_not(None), g.c.copy_known.is_not(None))
    own_known = g.c.own_known.is_not(None)

    def delta(identity: Any, own: Any) -> Any:
        return func.sum(case((and_(identity_known, identity), 1), else_=0) - case((and_(own_known, own), 1), else_=0))

    return select(
        *(
            delta(_active(created, cancelled, t), _active(g.c.own_created, g.c.own_cancelled, t))
            for t in (period.since, period.until)
        ),
        delta(_new(created, period), _new(g.c.own_created, period)),
        delta(_within(cancelled, period), _within(g.c.own_cancelled, period)),
    )


def _cancelled(t: Any) -> Any:
    """When the record's cancellation took effect, or NULL while it is active."""
    return case((t.c.status == "cancelled", func.coalesce(t.c.cancelled_at, t.c.created_at)))


def _active(created: Any, cancelled: Any, t: datetime) -> Any:
    return and_(created < t, or_(cancelled.is_(None), cancelled >= t))


def _new(created: Any, period: Period) -> Any:
    return _within(created, period)


def _within(at: Any, period: Period) -> Any:
    """``at`` falls in the period (false for NULL)."""
    return and_(at >= period.since, at < period.until)


def _earliest(a: Any, b: Any) -> Any:
    """The earlier of two nullable times (SQLite's min() and PostgreSQL's LEAST() treat NULL differently)."""
    return case((a.is_(None), b), (b.is_(None), a), (a < b, a), else_=b)


def figures(session: Session, period: Period, settings: Settings) -> dict[str, Any]:
    """Everything ``GET /api/retention`` answers."""
    totals = save_totals(session, period, settings)
    return {
        "since": period.since,
        "until": period.until,
        "saves": totals,
        "save_rate": save_rate(session, period, totals["count"]),
        "crr": crr(session, period),
        "clv": clv(totals, settings),
    }
