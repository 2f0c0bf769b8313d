"""Retention figures for a period [since, until), each from SQL aggregates (no Python loop over rows).

- **Saves**: saves whose ``saved_at`` falls in the period, without withdrawn ones: count, pending / held /
  lost, and per currency MRR and ARR (``money.mrr_arr``); held and lost MRR separately. Withdrawn saves
  are only counted as ``withdrawn``. Totals in one currency only through configured ``[money]`` rates.
- **Save rate** = saves / tickets that showed cancel or refund intent in the period (``intent_ticket_count``).
- **CRR** = (E - N) / S x 100 from customer records: S customers active at ``since``, E active at
  ``until``, N created in the period; null when S = 0. A customer is active at t when created before t and
  not cancelled by t. A record without an email that shares its external id with a record that has one (a
  billing system's copy, see ``saves.verify``) counts as that customer: first seen at the earlier of the
  two, cancelled if either says so. Figures come from current records: a customer who cancelled and came
  back counts as active throughout.
- **CLV of saves** = MRR of the period's saves that are not lost x ``[saves] expected_lifetime_months``.
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
    out["by_currency"] = [
        {"currency": r["currency"], **{k: int(r[k]) for k in money_keys}}
        for r in rows
        if r["currency"] is not None and r["count"]
    ]
    out["base"] = _base_totals(converter(settings), out["by_currency"])
    return out


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
        kept = r["mrr_minor"] - r["lost_mrr_minor"]
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
    """S, E, N and CRR over customer identities, in two aggregates and no GROUP BY over all customers.

    (1) every record except billing copies (no email, an external id), by its own dates; (2) the copies,
    joined to the records with an email that share their external id: a copy without one is a customer of
    its own, otherwise it adds to that customer the difference it makes (an earlier first-seen time, a
    cancellation only the billing system saw).
    """
    c = Customer.__table__.alias("c")
    is_copy = and_(c.c.email.is_(None), c.c.external_id.is_not(None))
    counts = session.execute(_own_counts(c, period).where(~is_copy)).one()
    deltas = session.execute(_copy_contributions(period)).one()
    start, end, new = (int(n) + int(d or 0) for n, d in zip(counts, deltas, strict=True))
    return {"start": start, "end": end, "new": new, "percent": percent(end - new, start)}


def _own_counts(c: Any, period: Period) -> Any:
    active = [func.count().filter(_active(c.c.created_at, _cancelled(c), t)) for t in (period.since, period.until)]
    return select(*active, func.count().filter(_new(c.c.created_at, period)))


def _copy_contributions(period: Period) -> Any:
    """Per customer reached through copies: (identity counted) - (record already counted by its own dates)."""
    copy, primary = Customer.__table__.alias("copy"), Customer.__table__.alias("primary_")
    link = and_(primary.c.email.is_not(None), primary.c.external_id == copy.c.external_id)
    g = (
        select(
            primary.c.created_at.label("own_created"),
            _cancelled(primary).label("own_cancelled"),
            func.min(copy.c.created_at).label("copy_created"),
            func.min(_cancelled(copy)).label("copy_cancelled"),
        )
        .select_from(copy.outerjoin(primary, link))
        .where(copy.c.email.is_(None), copy.c.external_id.is_not(None))
        # a copy without a primary record is its own group (negative key: never a primary's id)
        .group_by(
            func.coalesce(primary.c.id, -copy.c.id), primary.c.created_at, primary.c.status, primary.c.cancelled_at
        )
        .subquery()
    )
    created = _earliest(g.c.own_created, g.c.copy_created)
    cancelled = _earliest(g.c.own_cancelled, g.c.copy_cancelled)

    def delta(identity: Any, own: Any) -> Any:
        return func.sum(case((identity, 1), else_=0) - case((own, 1), else_=0))

    return select(
        *(
            delta(_active(created, cancelled, t), _active(g.c.own_created, g.c.own_cancelled, t))
            for t in (period.since, period.until)
        ),
        delta(_new(created, period), _new(g.c.own_created, period)),
    )


def _cancelled(t: Any) -> Any:
    """When the record's cancellation took effect, or NULL while it is active."""
    return case((t.c.status == "cancelled", func.coalesce(t.c.cancelled_at, t.c.created_at)))


def _active(created: Any, cancelled: Any, t: datetime) -> Any:
    return and_(created < t, or_(cancelled.is_(None), cancelled >= t))


def _new(created: Any, period: Period) -> Any:
    return and_(created >= period.since, created < period.until)


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
