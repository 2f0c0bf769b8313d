"""The digest's figures for one ISO week, every one a SQL aggregate (no Python loop over tickets).

Periods are ``[since, until)`` in UTC, cut from the week in ``[digest].timezone`` (``weeks.IsoWeek.bounds``);
trends cover the 8 weeks ending with the digest's week, each cut the same way (``trend``: one statement per
series, each row counted in its week).

- **Tickets received**: tickets created in the week.
- **Complaints**: complaint tickets whose customer first complained in the week (``complaints``), by
  category (none counts as ``other``), each with the average of the previous 4 weeks and the change against
  it (``change_percent`` null when that average is 0); the evidence phrases most complaint tickets of the
  week share (case-insensitive).
- **At risk**: ``tagging.risk``'s at-risk customers as of the week's end, or as of ``now`` while the week
  has not ended (``risk.at_risk``: a running TAT clock due after now is no breach yet).
- **Saves**: ``retention.save_totals`` / ``save_rate`` / ``clv`` for the week (one source of truth with
  ``GET /api/retention``), plus ``decided``: saves made before the week whose outcome (held or lost) was
  decided in it (``verified_at``), per outcome and currency.
- **TAT**: ``tat.read.attainment`` per policy and metric, totals, and first-response percentiles
  (``business.first_response_stats``). ``breaches`` = clocks that ran out in the week.
- **Follow-ups**: created, reminders sent, done in the week; ``overdue`` = unfinished at the week's end past
  their escalation time (their due time when escalation is off).
- **Retention**: CRR (``retention.crr``) only when customer events exist (some customer has an update from
  billing or a ``customer.updated`` event; help-desk requesters alone say nothing about churn); ``churned`` =
  customers whose status became cancelled in the week, over the same billing identities as CRR
  (``retention.customer_figures``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from .. import retention
from ..config import Settings
from ..models import Customer, Ticket
from ..models.followups import FollowUp
from ..tagging.risk import reporting
from ..tat.policies import policy_set
from ..tat.read import attainment
from . import complaints
from .business import first_response_stats
from .risk import at_risk
from .trend import weekly_attainment, weekly_counts, weekly_saves
from .weeks import IsoWeek

TREND_WEEKS, BASELINE_WEEKS, TOP_PHRASES = 8, 4, 8


def week_figures(session: Session, settings: Settings, week: IsoWeek, now: datetime) -> dict[str, Any]:
    """Everything ``GET /api/digest/<week>`` answers and the email shows (see the module docstring)."""
    reporting(session)  # PostgreSQL: plans for the week's own bounds, no JIT
    zone = settings.digest.timezone
    weeks = [week.shift(k - TREND_WEEKS + 1) for k in range(TREND_WEEKS)]
    bounds = [w.bounds(zone)[0] for w in weeks] + [week.bounds(zone)[1]]
    since, until = bounds[-2], bounds[-1]
    volume = ticket_volume(session, bounds)
    saves = saves_section(session, settings, bounds)
    tat_figures = tat(session, settings, bounds, now)
    weekly_saves, weekly_tat = saves.pop("weekly"), tat_figures.pop("weekly")
    trend = [
        {
            "week": str(w),
            "received": volume["received"][i],
            "complaints": {c: n[i] for c, n in volume["by_category"].items() if n[i]},
            "saves": weekly_saves[i],
            "tat_attainment": weekly_tat[i],
        }
        for i, w in enumerate(weeks)
    ]
    return {
        "week": str(week),
        "timezone": zone,
        "since": since,
        "until": until,
        "tickets": {"received": volume["received"][-1]},
        "complaints": complaint_figures(volume, session, since, until),
        "at_risk": at_risk(session, settings, until, now=now),
        "saves": saves,
        "tat": tat_figures,
        "followups": followups(session, since, until),
        "retention": customer_retention(session, retention.Period(since, until)),
        "trend": trend,
    }


def saves_section(session: Session, settings: Settings, bounds: list[datetime]) -> dict[str, Any]:
    """``retention``'s figures for the last week of ``bounds`` and the save count of each week."""
    period = retention.Period(bounds[-2], bounds[-1])
    totals = retention.save_totals(session, period, settings)
    return {
        **totals,
        "decided": decided_saves(session, period.since, period.until),
        "save_rate": retention.save_rate(session, period, totals["count"]),
        "clv": retention.clv(totals, settings),
        "weekly": weekly_saves(session, bounds),
    }


def ticket_volume(session: Session, bounds: list[datetime]) -> dict[str, Any]:
    """Tickets received per week (by creation) and complaints per (week, category)."""
    received = weekly_counts(session, Ticket.created_at, bounds)
    return {"received": received, "by_category": complaints.per_week(session, bounds)}


def _change(current: int, previous: list[int]) -> dict[str, Any]:
    average = sum(previous) / len(previous)
    change = round((current - average) * 100 / average, 1) if average else None
    return {"count": current, "previous_average": round(average, 2), "change_percent": change}


def complaint_figures(volume: dict[str, Any], session: Session, since: datetime, until: datetime) -> dict[str, Any]:
    per_week: dict[str, list[int]] = volume["by_category"]
    totals = [sum(col) for col in zip(*per_week.values(), strict=True)] if per_week else [0] * TREND_WEEKS
    base = slice(-1 - BASELINE_WEEKS, -1)
    rows = [{"category": cat, **_change(weeks[-1], weeks[base])} for cat, weeks in per_week.items()]
    rows = [r for r in rows if r["count"] or r["previous_average"]]
    rows.sort(key=lambda r: (-r["count"], -r["previous_average"], r["category"]))
    return {
        **_change(totals[-1], totals[base]),
        "by_category": rows,
        "top_evidence": complaints.top_evidence(session, since, until, TOP_PHRASES),
    }


def decided_saves(session: Session, since: datetime, until: datetime) -> dict[str, Any]:
    """Earlier saves whose outcome was decided this week: counts and MRR per outcome and currency."""
    from ..models.saves import Save

    stmt = (
        select(Save.outcome, Save.currency, func.count(), func.coalesce(func.sum(Save.mrr_minor), 0))
        .where(
            Save.withdrawn_at.is_(None),
            Save.outcome.in_(("held", "lost")),
            Save.verified_at >= since,
            Save.verified_at < until,
            Save.saved_at < since,
        )
        .group_by(Save.outcome, Save.currency)
        .order_by(Save.outcome, Save.currency)
    )
    out: dict[str, Any] = {"held": 0, "lost": 0, "by_currency": []}
    for outcome, currency, count, mrr in session.execute(stmt):
        out[outcome] += int(count)
        if currency is not None:
            out["by_currency"].append(
                {"outcome": outcome, "currency": currency, "count": int(count), "mrr_minor": int(mrr)}
            )
    return out


def tat(session: Session, settings: Settings, bounds: list[datetime], now: datetime) -> dict[str, Any]:
    items = attainment(session, policy_set(settings), bounds[-2], bounds[-1], now)
    met, breached = sum(r["met"] for r in items), sum(r["breached"] for r in items)
    return {
        "items": items,
        "met": met,
        "breached": breached,
        "attainment": met / (met + breached) if met + breached else None,
        "first_response": first_response_stats(session, settings, bounds[-2], bounds[-1]),
        "weekly": weekly_attainment(session, bounds, now),
    }


def followups(session: Session, since: datetime, until: datetime) -> dict[str, int]:
    f = FollowUp

    def within(column: Any) -> Any:
        return and_(column >= since, column < until)

    unfinished = and_(
        f.created_at < until,
        or_(f.done_at.is_(None), f.done_at >= until),
        or_(f.cancelled_at.is_(None), f.cancelled_at >= until),
    )
    stmt = select(
        func.count().filter(within(f.created_at)),
        func.count().filter(within(f.notified_at)),
        func.count().filter(within(f.done_at)),
        func.count().filter(unfinished, func.coalesce(f.escalate_at, f.due_at) < until),
    ).where(f.created_at < until)
    created, sent, done, overdue = (int(x) for x in session.execute(stmt).one())
    return {"created": created, "sent": sent, "done": done, "overdue": overdue}


def customer_retention(session: Session, period: retention.Period) -> dict[str, Any]:
    known = session.execute(select(exists().where(Customer.updated_at.is_not(None)))).scalar_one()
    if not known:
        return {"crr": None, "churned": 0}
    out = retention.customer_figures(session, period)
    churned = out.pop("churned")
    return {"crr": out, "churned": churned}
