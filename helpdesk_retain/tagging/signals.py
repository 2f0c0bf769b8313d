"""Keep a ticket's ``risk_signals`` rows equal to what its current text says (idempotent by construction)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import Insert, delete, event, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from ..db import is_postgres
from ..models.tagging import RiskSignal

#: the source of repeat-contact signals found across a customer's tickets (managed by ``repeat.py``)
CONTACTS = "contacts"


@dataclass(frozen=True)
class Found:
    signal: str
    source: str
    evidence: str
    at: datetime


def sync_signals(
    session: Session,
    ticket_id: int,
    found: list[Found],
    *,
    contacts: bool = False,
    existing: list[RiskSignal] | None = None,
) -> None:
    """Make the ticket's text-sourced rows (or, with ``contacts``, its repeat-contact row) exactly ``found``.

    ``existing`` may pass the ticket's rows when the caller knows them (``[]`` for a ticket just inserted).

    A row whose evidence is unchanged keeps its ``at``; changed evidence (edited text) takes the new time;
    rows no longer found are deleted. Inserts race safely on the unique (ticket, signal, source) constraint.
    """
    wanted = {(f.signal, f.source): f for f in found}
    if existing is None:
        existing = list(session.execute(select(RiskSignal).where(RiskSignal.ticket_id == ticket_id)).scalars())
    rows = existing
    stale = []
    for row in rows:
        if (row.source == CONTACTS) != contacts:
            continue
        hit = wanted.pop((row.signal, row.source), None)
        if hit is None:
            stale.append(row.id)
        elif hit.evidence != row.evidence:
            row.evidence, row.at = hit.evidence, hit.at
    if stale:
        session.execute(delete(RiskSignal).where(RiskSignal.id.in_(stale)))
    add_signals(session, ticket_id, list(wanted.values()))


@cache
def _insert_signal(dialect_name: str) -> Insert:
    # one statement object per dialect: SQLAlchemy then reuses its compiled form on every ingest
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return dialect.insert(RiskSignal.__table__).on_conflict_do_nothing(index_elements=["ticket_id", "signal", "source"])


def add_signals(session: Session, ticket_id: int, found: list[Found]) -> None:
    """Insert ``found`` (deferred, see ``add_many``); rows that exist already (a re-delivery) are left alone."""
    add_many(session, [(ticket_id, f) for f in found])


#: session.info key: signal rows waiting to be inserted
PENDING = "tagging.signal_rows"


def add_many(session: Session, found: list[tuple[int, Found]]) -> None:
    """Queue the rows; they are inserted in one statement by ``flush_pending``, which runs before the session's
    next ORM statement (so every read sees them), before it commits, and at the end of each apply
    (``step.finish_step``: a savepoint around one import line must hold its rows). An import batch thus inserts
    its signals in one statement instead of one per text."""
    if not found:
        return
    pending = session.info.get(PENDING)
    if pending is None:
        pending = session.info[PENDING] = []
        if not event.contains(session, "before_commit", flush_pending):
            event.listen(session, "do_orm_execute", _before_orm_statement)
            event.listen(session, "before_commit", flush_pending)
            event.listen(session, "after_soft_rollback", _forget_pending)
    # each row remembers the (innermost) transaction it was queued in, so a savepoint's rollback drops only its own
    current = session.get_nested_transaction() or session.get_transaction() or session.begin()
    pending += [
        (current, {"ticket_id": ticket_id, "signal": f.signal, "source": f.source, "evidence": f.evidence, "at": f.at})
        for ticket_id, f in found
    ]


def _before_orm_statement(state: ORMExecuteState) -> None:
    # any read could read them; a write only when it writes this table (a follow-up UPDATE need not wait)
    if state.is_select or getattr(state.statement, "table", None) is RiskSignal.__table__:
        flush_pending(state.session)


def _forget_pending(session: Session, rolled_back: SessionTransaction) -> None:
    # a rollback drops the rows queued inside the transaction or savepoint it ended (or inside savepoints of it)
    pending = session.info.get(PENDING)
    if pending:
        pending[:] = [(tx, row) for tx, row in pending if not _within(tx, rolled_back)]


def _within(tx: SessionTransaction | None, outer: SessionTransaction) -> bool:
    while tx is not None:
        if tx is outer:
            return True
        tx = tx.parent
    return False


def flush_pending(session: Session) -> None:
    """Insert the queued signal rows (see ``add_many``)."""
    pending = session.info.pop(PENDING, None)
    if pending:
        rows = [row for _tx, row in pending]
        # on the session's connection: rows of other tables need no autoflush first (hot path of ingest)
        session.connection().execute(_insert_signal("postgresql" if is_postgres(session) else "sqlite"), rows)
