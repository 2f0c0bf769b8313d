"""Repeat contact: a customer's Nth ticket about the same matter within a window (default 3rd in 14 days).

A ticket's matter is what its subject and description are about: its complaint category, its risk signals
(a refund, an export, ...) and its complaint evidence, normalised so Traditional and Simplified spellings
agree. Two tickets are about the same matter when their matters overlap. Tickets without a complaint or a
signal have no matter (three how-to questions are not a repeat contact). The signal sits on the Nth ticket,
``at`` its creation; when a ticket arrives late, the customer's later tickets in the window are re-judged.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from functools import cache
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from ..config import TaggingSettings
from ..models import Ticket
from ..models.tagging import RiskSignal
from ..sqlutil import read_connection
from .normalize import normalize
from .signals import CONTACTS, Found, add_many, sync_signals
from .tagger import Tagger

#: signals that say what a ticket is about (a competitor mention or a repeat contact does not)
MATTER_SIGNALS = frozenset(
    {"cancel_intent", "refund_request", "data_export", "billing_change", "downgrade", "legal_threat"}
)


#: per tagger, matters by a digest of (subject, description): a customer's earlier tickets are re-read whenever
#: a new one arrives, and tagging them again would cost more than everything else the import does per event
_MATTERS: WeakKeyDictionary[Tagger, dict[bytes, frozenset[str]]] = WeakKeyDictionary()
MATTER_CACHE_SIZE = 50_000  # entries of ~200 bytes; emptied when full


def matter(tagger: Tagger, subject: str | None, description: str | None) -> frozenset[str]:
    """What the subject and description are about (see the module docstring); memoised per tagger."""
    digest = hashlib.blake2b(f"{subject}\x00{description}".encode(), digest_size=16).digest()
    known = _MATTERS.setdefault(tagger, {})
    found = known.get(digest)
    if found is None:
        if len(known) >= MATTER_CACHE_SIZE:
            known.clear()
        found = known[digest] = _matter(tagger, subject, description)
    return found


def _matter(tagger: Tagger, subject: str | None, description: str | None) -> frozenset[str]:
    keys: set[str] = set()
    for text in (subject, description):
        tags = tagger.tag(text)
        if tags.complaint and tags.category and tags.category != "other":
            keys.add(f"category:{tags.category}")
        keys.update(f"signal:{name}" for name in tags.signals if name in MATTER_SIGNALS)
        keys.update(f"evidence:{normalize(e)}" for e in tags.evidence)
    return frozenset(keys)


def describe(keys: frozenset[str]) -> str:
    names = sorted(k.split(":", 1)[1].replace("_", " ") for k in keys if not k.startswith("evidence:"))
    if names:
        return ", ".join(names)
    return ", ".join(sorted(k.split(":", 1)[1] for k in keys))[:80]


#: session.info key: tickets whose repeat contacts are re-judged when the apply (or import batch) finishes
PENDING = "tagging.repeat_pending"


@cache
def _window_query() -> Select[Any]:
    """The tickets of some customers created in [low, high]; one statement object, so its compiled form is
    reused (the customer list is an expanding bind parameter). A Core statement: the rows need no ORM loading."""
    t = Ticket.__table__.c
    return (
        select(t.id, t.customer_id, t.external_id, t.created_at, t.subject, t.description)
        .where(
            t.customer_id.in_(bindparam("customers", expanding=True)),
            t.created_at >= bindparam("low", type_=t.created_at.type),
            t.created_at <= bindparam("high", type_=t.created_at.type),
        )
        .order_by(t.customer_id, t.created_at, t.id)
    )


@cache
def _contacts_query() -> Select[Any]:
    return select(RiskSignal).where(
        RiskSignal.ticket_id.in_(bindparam("tickets", expanding=True)), RiskSignal.source == CONTACTS
    )


def update_repeat_contacts(
    session: Session, settings: TaggingSettings, tagger: Tagger, ticket: Ticket, *, fresh: bool = False
) -> None:
    """Queue ``ticket`` to be re-judged, with the customer's later tickets inside the window, by ``finish``.

    A ``fresh`` ticket (inserted by this apply) without a matter can neither be nor make a repeat contact.
    """
    if ticket.customer_id is None or ticket.id is None:
        return
    if fresh and not matter(tagger, ticket.subject, ticket.description):
        return
    pending: dict[int, tuple[Ticket, bool]] = session.info.setdefault(PENDING, {})
    was_fresh = pending.get(ticket.id, (ticket, True))[1]
    pending[ticket.id] = (ticket, fresh and was_fresh)


def finish(session: Session, settings: TaggingSettings, tagger: Tagger) -> None:
    """Re-judge the queued tickets: one read of their customers' tickets and one of their stored signals,
    however many tickets an import batch queued. Runs inside the apply's transaction, before it commits."""
    pending: dict[int, tuple[Ticket, bool]] = session.info.pop(PENDING, {})
    if not pending:
        return
    window = timedelta(days=settings.repeat_contact_days)
    queued = [t for t, _fresh in pending.values() if t.customer_id is not None]
    bounds = {
        "customers": sorted({t.customer_id for t in queued}),
        "low": min(t.created_at for t in queued) - window,
        "high": max(t.created_at for t in queued) + window,
    }
    by_customer: dict[int, list[Any]] = {}
    for row in read_connection(session).execute(_window_query(), bounds):  # this apply's tickets are in the window
        by_customer.setdefault(row.customer_id, []).append(row)
    judge: dict[int, Any] = {}
    for t in queued:
        for row in by_customer.get(t.customer_id or 0, []):
            # the queued ticket and the customer's later tickets inside its window
            if (t.created_at, t.id) <= (row.created_at, row.id) and row.created_at <= t.created_at + window:
                judge[row.id] = row
    # a ticket inserted by this apply has no stored signal; the others' are read in one statement
    stored = [i for i in judge if not pending.get(i, (None, False))[1]]
    existing: dict[int, list[RiskSignal]] = {i: [] for i in judge}
    if stored:
        for signal in session.execute(_contacts_query(), {"tickets": stored}).scalars():
            existing[signal.ticket_id].append(signal)
    matters: dict[int, frozenset[str]] = {}

    def about(row: Any) -> frozenset[str]:
        if row.id not in matters:
            matters[row.id] = matter(tagger, row.subject, row.description)
        return matters[row.id]

    added: list[tuple[int, Found]] = []
    for rows in by_customer.values():  # each customer's rows in (created_at, id) order
        for position, row in enumerate(rows):
            if row.id not in judge:
                continue
            mine, same = about(row), []
            earlier = position - 1
            while mine and earlier >= 0 and rows[earlier].created_at > row.created_at - window:
                if about(rows[earlier]) & mine:
                    same.append(rows[earlier])
                earlier -= 1
            same.reverse()
            found = []
            if mine and len(same) + 1 >= settings.repeat_contact_count:
                shared = frozenset().union(*(about(e) & mine for e in same))
                before = ", ".join(e.external_id for e in same[-5:])
                evidence = (
                    f"contact {len(same) + 1} in {settings.repeat_contact_days} days about {describe(shared)}"
                    f" (after {before})"
                )
                found.append(Found("repeat_contact", CONTACTS, evidence, row.created_at))
            if existing[row.id]:
                sync_signals(session, row.id, found, contacts=True, existing=existing[row.id])
            else:  # nothing stored to compare with: insert with the others, in one statement
                added += [(row.id, f) for f in found]
    add_many(session, added)
