"""Keep a ticket's ``risk_signals`` rows equal to what its current text says (idempotent by construction)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import Insert, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..ingest import TICKET_ROWS
from ..models.tagging import RiskSignal
from ..sqlutil import DeferredRows

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


#: risk-signal rows are queued and written once per apply or import batch (see ``DeferredRows``)
SIGNAL_ROWS = DeferredRows(RiskSignal.__table__, _insert_signal, after=[TICKET_ROWS])


def add_many(session: Session, found: list[tuple[int, Found]]) -> None:
    """``add_signals`` for several tickets at once. The rows are queued (``SIGNAL_ROWS``): reads and the commit of
    the session see them, and ``ingest.finish_apply`` writes them at the end of each apply (a savepoint around one
    import line must hold its own rows)."""
    SIGNAL_ROWS.add(
        session,
        [
            {"ticket_id": ticket_id, "signal": f.signal, "source": f.source, "evidence": f.evidence, "at": f.at}
            for ticket_id, f in found
        ],
    )
