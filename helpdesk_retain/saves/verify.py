"""Verifying saves: did the customer stay for the window (``[saves] verify_after_days``, default 60)?

Contract:
- A cancellation (a ``CustomerEvent`` with status cancelled, from the generic ``customer.updated`` or a
  billing plugin such as stripe) that happened inside a save's window [saved_at, verify_due_at) makes it
  ``lost`` at once, also when it arrives late and the save had already been judged ``held``.
- ``run_due_save_checks`` judges every pending save whose window has ended: ``lost`` when the customer
  (or a linked customer record, below) is cancelled with a cancellation before the window's end, else
  ``held``. A save without a known customer is ``held``: no cancellation can be attributed to it.
- Each save is claimed by a conditional UPDATE (``outcome = 'pending'``), after a ``FOR UPDATE SKIP
  LOCKED`` read on PostgreSQL, so any number of schedulers judge each save exactly once.

Linked customer records: core keys a customer on email, else ``<source>:<external id>``. A billing system
often sends only its own customer id (Stripe's ``cus_...``) while the help desk knows the email, so the
same person can have two rows that share ``external_id``. Rows with the same non-null external id are
treated as one customer here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from ..db import is_postgres, session_scope
from ..events import CustomerEvent
from ..ingest import Context
from ..models import Customer
from ..models.saves import Save, SaveEvent
from ..runtime import Runtime

BATCH = 500


def linked_customer_ids(session: Session, customer: Customer, external_id: str | None) -> list[int]:
    ids = {customer.id or 0}
    external_ids = {x for x in (customer.external_id, external_id) if x}
    if external_ids:
        stmt = select(Customer.id).where(Customer.external_id.in_(external_ids))
        ids.update(session.execute(stmt).scalars())
    return sorted(ids)


def customer_step(ctx: Context, customer: Customer, ev: CustomerEvent) -> None:
    """Ingest step: a cancellation inside a save's window makes the save lost now."""
    if ev.status != "cancelled":
        return
    at = ev.occurred_at
    session = ctx.session
    linked = linked_customer_ids(session, customer, ev.external_id)
    candidates = select(Save.id).where(
        Save.customer_id.in_(linked),
        Save.withdrawn_at.is_(None),
        Save.outcome.in_(("pending", "held")),
        Save.saved_at <= at,
        Save.verify_due_at > at,
    )
    ids = list(session.execute(candidates).scalars())
    detail = {"cancelled_at": at.isoformat(), "source": ctx.source}
    claimed = _claim(session, ids, ("pending", "held"), "lost", ctx.now)
    _history(session, claimed, "lost", "customer", at, ctx.now, detail)


def cancelled_in_time() -> ColumnElement[bool]:
    """SQL: the save's customer, or a linked record, is cancelled with a cancellation before the window's end."""
    own = aliased(Customer)
    other = aliased(Customer)
    own_external = select(own.external_id).where(own.id == Save.customer_id).scalar_subquery()
    return exists().where(
        other.status == "cancelled",
        func.coalesce(other.cancelled_at, other.created_at) < Save.verify_due_at,
        or_(other.id == Save.customer_id, and_(other.external_id.is_not(None), other.external_id == own_external)),
    )


def run_due_save_checks(runtime: Runtime, now: datetime) -> int:
    """Scheduler job: judge pending saves whose window ended by ``now``; returns how many were judged."""
    judged = 0
    while True:
        with session_scope(runtime.sessions) as session:
            done = _judge_batch(session, now)
        judged += done
        if done < BATCH:
            return judged


def _judge_batch(session: Session, now: datetime) -> int:
    due = select(Save.id).where(Save.outcome == "pending", Save.withdrawn_at.is_(None), Save.verify_due_at <= now)
    due = due.order_by(Save.verify_due_at, Save.id).limit(BATCH)
    if is_postgres(session):
        # another scheduler's batch is skipped, not waited for; the conditional UPDATE below is the claim
        due = due.with_for_update(skip_locked=True)
    ids = list(session.execute(due).scalars())
    if not ids:
        return 0
    lost_ids = set(session.execute(select(Save.id).where(Save.id.in_(ids), cancelled_in_time())).scalars())
    lost = _claim(session, sorted(lost_ids), ("pending",), "lost", now)
    held = _claim(session, [i for i in ids if i not in lost_ids], ("pending",), "held", now)
    due_at = {
        row.id: row.verify_due_at
        for row in session.execute(select(Save.id, Save.verify_due_at).where(Save.id.in_(lost + held)))
    }
    for kind, claimed in (("lost", lost), ("held", held)):
        for save_id in claimed:
            # the verdict belongs to the window's end, not to whenever the sweep noticed it
            _history(session, [save_id], kind, "verification", due_at[save_id], now, {})
    return len(ids)


def _claim(session: Session, ids: list[int], from_outcomes: tuple[str, ...], outcome: str, now: datetime) -> list[int]:
    """Set ``outcome`` on those of ``ids`` still in ``from_outcomes`` and not withdrawn; returns the ids changed."""
    if not ids:
        return []
    stmt = (
        update(Save)
        .where(Save.id.in_(ids), Save.outcome.in_(from_outcomes), Save.withdrawn_at.is_(None))
        .values(outcome=outcome, verified_at=now, updated_at=now)
        .returning(Save.id)
    )
    return sorted(session.execute(stmt, execution_options={"synchronize_session": False}).scalars())


def _history(session: Session, ids: list[int], kind: str, via: str, at: datetime, now: datetime, detail: dict) -> None:
    for save_id in ids:
        session.add(SaveEvent(save_id=save_id, kind=kind, via=via, at=at, recorded_at=now, detail=detail))
