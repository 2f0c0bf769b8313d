"""At-risk customers: who, why, the most valuable first (80/20 segmentation).

Default rule (``[tagging.at_risk]``, from retention-facts.md: 26% of customers leave after one bad
experience, 92% after three): a customer is at risk at time ``at`` when one of their tickets carries a
cancel-intent, refund-request or data-export signal written in the ``signal_days`` before ``at``, or when they
had at least ``bad_experiences`` bad experiences in the ``bad_experience_days`` before ``at``. Signals and bad
experiences age out by the time they happened. Cancelled customers are no longer at risk: they are lost.

Bad experiences come from ``bad_experience_sources()``: each source is ``(start, end) -> SELECT customer_id,
at, kind, ticket_id`` of the experiences in ``(start, end]``. Complaints and TAT breaches are built in; a
feature with another kind of bad experience adds its source to that list.

The built-in sources are written so that an index serves each branch (their cost follows the window, not the
table): a complaint's time (``complaint_events``) and a clock's breach time are each a ``COALESCE``/``CASE``
of two columns, which only a scan of every ticket or clock can answer, so each is stated as two branches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, func, literal, literal_column, select, text, union_all
from sqlalchemy.orm import Session

from ..config import Settings
from ..models import Customer, Ticket
from ..models.tagging import ComplaintState, RiskSignal
from ..models.tat import TatClock
from ..money import exponent
from ..retention import converter

BadExperienceSource = Callable[[datetime, datetime], Select[Any]]
Window = Callable[[Any], ColumnElement[bool]]


def reporting(session: Session) -> None:
    """Settings for a report's transaction on PostgreSQL (nothing on SQLite), until the transaction ends.

    - Plan every statement for its own parameters: psycopg prepares a statement after a few runs on one
      connection, and PostgreSQL then settles on a generic plan that ignores the values. With the time window
      unknown, ``customers.status != $1`` was estimated at one row and a partial index on ``state = 'running'``
      could not be proven to apply: the at-risk query went from 35 ms to 600 ms.
    - No JIT: compiling these aggregates (about 0.5 s) costs more than it saves.
    - No parallel workers: starting them costs more than the few thousand rows they would share.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text(
                "SELECT set_config('plan_cache_mode', 'force_custom_plan', true), set_config('jit', 'off', true),"
                " set_config('max_parallel_workers_per_gather', '0', true)"
            )
        )


def _state(name: str) -> Any:
    # inline, not a bound parameter, so the partial index on ``state = 'running'`` matches even in a generic plan
    return literal_column(f"'{name}'")


def complaint_events(window: Window) -> Any:
    """Subquery ``(ticket_id, at)``: tickets whose complaint time falls in ``window``. The complaint time is
    ``complaint_states.complaint_at``, or the ticket's creation when none was recorded; callers keep only
    tickets that still are complaints (``is_complaint``). Two branches an index serves: recorded times (a narrow
    table) and, for complaint tickets without one, their creation (``ix_tickets_created``)."""
    recorded = select(ComplaintState.ticket_id.label("ticket_id"), ComplaintState.complaint_at.label("at")).where(
        window(ComplaintState.complaint_at)
    )
    # OFFSET 0: PostgreSQL would turn NOT EXISTS into a hash anti-join over all of complaint_states; this keeps it
    # a primary-key probe per complaint ticket of the window (SQLite probes either way)
    timed = select(ComplaintState.ticket_id).where(
        ComplaintState.ticket_id == Ticket.id, ComplaintState.complaint_at.is_not(None)
    )
    unrecorded = select(Ticket.id.label("ticket_id"), Ticket.created_at.label("at")).where(
        Ticket.is_complaint.is_(True), window(Ticket.created_at), ~exists(timed.offset(0))
    )
    return union_all(recorded, unrecorded).subquery("complaint_events")


def _within(start: datetime, end: datetime) -> Window:
    return lambda column: (column > start) & (column <= end)


def complaint_experiences(start: datetime, end: datetime) -> Select[Any]:
    """Complaint tickets, at the time the customer first complained (the ticket's creation unless recorded)."""
    events = complaint_events(_within(start, end))
    return (
        select(
            Ticket.customer_id.label("customer_id"),
            events.c.at.label("at"),
            literal("complaint").label("kind"),
            Ticket.id.label("ticket_id"),
        )
        .join(events, events.c.ticket_id == Ticket.id)
        .where(Ticket.is_complaint.is_(True))
    )


def tat_breach_experiences(start: datetime, end: datetime) -> Select[Any]:
    """TAT clocks that ran out, at their due time (a running clock past due counts, as in ``tat.read``):
    breached clocks by ``breached_at`` (``ix_tat_clocks_breached``), running ones by ``due_at``
    (``ix_tat_clocks_due_running``)."""
    within = _within(start, end)
    clocks = union_all(
        select(TatClock.ticket_id, TatClock.breached_at.label("at")).where(
            TatClock.state == _state("breached"), within(TatClock.breached_at)
        ),
        select(TatClock.ticket_id, TatClock.due_at.label("at")).where(
            TatClock.state == _state("running"), within(TatClock.due_at)
        ),
    ).subquery("breaches")
    return select(
        Ticket.customer_id.label("customer_id"),
        clocks.c.at.label("at"),
        literal("tat_breach").label("kind"),
        Ticket.id.label("ticket_id"),
    ).join(clocks, clocks.c.ticket_id == Ticket.id)


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


def _bad_experiences(settings: Settings, at: datetime, customer_ids: list[int] | None = None) -> Any:
    """Subquery ``(customer_id, at, kind, ticket_id)`` of every source; of ``customer_ids`` only when given
    (the condition goes into each source, where its own indexes can serve it)."""
    start = at - timedelta(days=settings.tagging.at_risk.bad_experience_days)
    sources = [source(start, at) for source in bad_experience_sources()]
    if customer_ids is not None:
        theirs = select(Ticket.id).where(Ticket.customer_id.in_(customer_ids))
        sources = [s.where(s.selected_columns.ticket_id.in_(theirs)) for s in sources]
    return union_all(*sources).subquery("bad")


def flagged_customers(settings: Settings, at: datetime) -> Any:
    """Subquery ``(customer_id, last_at)``: the customers the rule flags at ``at`` and their latest reason's
    time, cancelled customers included (callers leave them out)."""
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
    last = func.max(flagged.c.last_at).label("last_at")
    return select(flagged.c.customer_id, last).group_by(flagged.c.customer_id).subquery("flagged_customers")


def at_risk_customers(
    session: Session, settings: Settings, at: datetime, *, since: datetime | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """The customers at risk at ``at``, most recurring revenue first, each with the reasons.

    ``since`` keeps only customers with a reason at or after it (newly at risk).
    """
    reporting(session)
    flagged = flagged_customers(settings, at)
    stmt = (
        select(Customer.id, Customer.mrr_minor, Customer.currency)
        .join(flagged, flagged.c.customer_id == Customer.id)
        .where(Customer.status != "cancelled")
    )
    if since is not None:
        stmt = stmt.where(flagged.c.last_at >= since)
    # ranked in Python with exact money (``_value_key``) over three columns per customer; only the top rows
    # are loaded as customers
    top = sorted(session.execute(stmt).all(), key=_value_key(settings))[:limit]
    ids = [row.id for row in top]
    loaded = {c.id: c for c in session.execute(select(Customer).where(Customer.id.in_(ids))).scalars()} if ids else {}
    why = _reasons(session, settings, at, ids)
    return [{"customer": loaded[i], "reasons": why.get(i, [])} for i in ids if i in loaded]


#: every value is compared as an integer number of 10^-8 major units (ISO 4217 minor units have at most 4 digits)
_SCALE = 8


def _value_key(settings: Settings) -> Callable[[Any], tuple[int, int, int]]:
    """Sort key of a row with ``id``, ``mrr_minor`` and ``currency``: highest MRR first (in major units of the
    base currency when a rate converts it, else in major units of its own currency), unknown last. Exact:
    integers scaled by 10^_SCALE instead of fractions, with each currency's factor worked out once."""
    conv = converter(settings)
    factors: dict[str, int | None] = {}

    def factor(currency: str) -> int:
        if currency not in factors:
            try:
                factors[currency] = 10 ** (_SCALE - exponent(currency))
            except ValueError:
                factors[currency] = None
        found = factors[currency]
        return 10**_SCALE if found is None else found

    def key(c: Any) -> tuple[int, int, int]:
        if c.mrr_minor is None:
            return (1, 0, c.id or 0)
        currency = c.currency or ""
        converted = conv.convert(c.mrr_minor, currency) if currency else None
        # both sides in major units (base major units when converted), as ``digest.risk.value`` ranks them
        value = converted * factor(conv.base or "") if converted is not None else c.mrr_minor * factor(currency)
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
    bad = _bad_experiences(settings, at, ids)
    stmt = (
        select(bad.c.customer_id, bad.c.at, bad.c.kind, Ticket.source, Ticket.external_id)
        .join(Ticket, Ticket.id == bad.c.ticket_id)
        .order_by(bad.c.at.desc())
    )
    by_customer: dict[int, list[Any]] = {}
    for row in session.execute(stmt):
        by_customer.setdefault(row.customer_id, []).append(row)
    for customer_id in ids:
        mine = by_customer.get(customer_id, [])
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
