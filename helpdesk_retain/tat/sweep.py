"""The breach sweep: record each clock's warning and breach once, however many schedulers run it.

``run_due_tat(runtime, now)`` reads clocks whose ``sweep_at`` (their warning time, then their due time)
has come, through the partial index on ``sweep_at``, so its cost follows what is due, not how many clocks
are open; after downtime the same query catches up in one run. For each clock it inserts a ``tat_events``
row (unique per clock and kind: a second sweeper's insert does nothing), marks a run-out clock breached
at its due time, and moves ``sweep_at`` on. On PostgreSQL the batch is selected ``FOR UPDATE SKIP
LOCKED``, so concurrent sweepers split the work instead of queueing on it; SQLite's ``BEGIN IMMEDIATE``
serialises them. The rows are left with ``notified_at`` NULL for the notifier.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..db import is_postgres, session_scope
from ..models.tat import TatClock, TatEvent

if TYPE_CHECKING:
    from ..runtime import Runtime

BATCH = 500
#: a run handles at most this many batches; anything left is due again at the next tick
MAX_BATCHES = 200

SWEEP_COLUMNS = (
    TatClock.id,
    TatClock.ticket_id,
    TatClock.metric,
    TatClock.seq,
    TatClock.policy,
    TatClock.state,
    TatClock.due_at,
    TatClock.warn_at,
    TatClock.breached_at,
    TatClock.sweep_at,
)


@dataclass(frozen=True)
class Step:
    """What the sweep does with one clock: maybe record an event, then set these columns."""

    kind: str | None
    at: datetime | None
    values: dict[str, Any]


def run_due_tat(runtime: Runtime, now: datetime) -> int:
    """Record every warning and breach due by ``now``; returns how many rows were recorded."""
    if not runtime.settings.tat.policies:  # TAT is off: clocks left from an earlier configuration stay quiet
        return 0
    recorded = 0
    for _ in range(MAX_BATCHES):
        with session_scope(runtime.sessions) as session:
            done, seen = sweep_batch(session, now, BATCH)
        recorded += done
        if seen < BATCH:
            break
    return recorded


def sweep_batch(session: Session, now: datetime, limit: int) -> tuple[int, int]:
    """Handle up to ``limit`` due clocks in the caller's transaction; returns (events recorded, clocks seen)."""
    stmt = select(*SWEEP_COLUMNS).where(TatClock.sweep_at <= now).order_by(TatClock.sweep_at).limit(limit)
    if is_postgres(session):
        stmt = stmt.with_for_update(skip_locked=True)
    rows = session.execute(stmt).all()
    if not rows:
        return 0, 0
    steps = [(row, decide(row, now)) for row in rows]
    # The rows are ours until commit (locked on PostgreSQL, BEGIN IMMEDIATE on SQLite); the WHERE on the
    # values read is a second guard, and the unique key on tat_events a third.
    clocks = TatClock.__table__.c
    session.execute(
        update(TatClock.__table__)
        .where(clocks.id == bindparam("b_id"), clocks.sweep_at == bindparam("b_seen"))
        .values(state=bindparam("b_state"), breached_at=bindparam("b_breached"), sweep_at=bindparam("b_next")),
        [
            {
                "b_id": row.id,
                "b_seen": row.sweep_at,
                "b_state": step.values.get("state", row.state),
                "b_breached": step.values.get("breached_at", row.breached_at),
                "b_next": step.values["sweep_at"],
            }
            for row, step in steps
        ],
    )
    records = [_record(row, step, now) for row, step in steps if step.kind is not None]
    return _insert_records(session, records), len(rows)


def decide(row: Row[Any], now: datetime) -> Step:
    """The sweep's rule for one clock whose ``sweep_at`` has come."""
    if row.state == "breached":
        return Step("breach", row.breached_at or row.due_at, {"sweep_at": None})
    if row.state == "running" and row.due_at is not None and row.due_at <= now:
        return Step("breach", row.due_at, {"state": "breached", "breached_at": row.due_at, "sweep_at": None})
    if row.state == "running" and row.warn_at is not None and row.warn_at <= now:
        return Step("warning", row.warn_at, {"sweep_at": row.due_at})
    later = row.due_at if row.state == "running" and row.due_at is not None and row.due_at > now else None
    return Step(None, None, {"sweep_at": later})


def _record(row: Row[Any], step: Step, now: datetime) -> dict[str, Any]:
    return {
        "ticket_id": row.ticket_id,
        "metric": row.metric,
        "seq": row.seq,
        "kind": step.kind,
        "policy": row.policy,
        "at": step.at,
        "recorded_at": now,
    }


def _insert_records(session: Session, records: list[dict[str, Any]]) -> int:
    """Insert the events that are not recorded yet; returns how many were new."""
    if not records:
        return 0
    dialect = postgresql if is_postgres(session) else sqlite
    stmt = (
        dialect.insert(TatEvent.__table__)
        .values(records)
        .on_conflict_do_nothing(index_elements=["ticket_id", "metric", "seq", "kind"])
        .returning(TatEvent.__table__.c.id)
    )
    return len(session.execute(stmt).all())
