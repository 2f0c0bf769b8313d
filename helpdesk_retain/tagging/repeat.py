"""Repeat contact: a customer's Nth ticket about the same matter within a window (default 3rd in 14 days).

A ticket's matter is what its subject and description are about: its complaint category, its risk signals
(a refund, an export, ...) and its complaint evidence, normalised so Traditional and Simplified spellings
agree. Two tickets are about the same matter when their matters overlap. Tickets without a complaint or a
signal have no matter (three how-to questions are not a repeat contact). The signal sits on the Nth ticket,
``at`` its creation; when a ticket arrives late, the customer's later tickets in the window are re-judged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Container, Iterator
from datetime import datetime, timedelta
from functools import cache
from operator import attrgetter
from typing import Any, NamedTuple
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
MATTER_CACHE_SIZE = 20_000  # entries of ~200 bytes (~4 MB); emptied when full


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
    # each row with its matter, worked out once (the judgement below asks for it several times a row)
    by_customer: dict[int, list[WindowRow]] = {}
    result = read_connection(session).execute(_window_query(), bounds)  # this apply's tickets are in the window
    for ticket_id, customer_id, external_id, created_at, subject, description in result:
        row = WindowRow(ticket_id, external_id, created_at, matter(tagger, subject, description))
        if (held := by_customer.get(customer_id)) is None:
            by_customer[customer_id] = [row]
        else:
            held.append(row)
    starts: dict[int, list[tuple[datetime, int]]] = {}
    for t in queued:
        starts.setdefault(t.customer_id, []).append((t.created_at, t.id))  # type: ignore[arg-type]
    judge = {
        row.id: row
        for customer_id, held in by_customer.items()
        for row in to_judge(held, starts.get(customer_id, []), window)
    }
    # a ticket inserted by this apply has no stored signal; the others' are read in one statement
    stored = [i for i in judge if not pending.get(i, (None, False))[1]]
    existing: dict[int, list[RiskSignal]] = {i: [] for i in judge}
    if stored:
        for signal in session.execute(_contacts_query(), {"tickets": stored}).scalars():
            existing[signal.ticket_id].append(signal)
    added: list[tuple[int, Found]] = []
    for rows in by_customer.values():  # each customer's rows in (created_at, id) order
        for c in earlier_contacts(rows, judge, _matter_of, window):
            row, found = c.row, []
            if c.matter and c.count + 1 >= settings.repeat_contact_count:
                before = ", ".join(e.external_id for e in c.latest)
                evidence = (
                    f"contact {c.count + 1} in {settings.repeat_contact_days} days about {describe(c.shared)}"
                    f" (after {before})"
                )
                found.append(Found("repeat_contact", CONTACTS, evidence, row.created_at))
            if existing[row.id]:
                sync_signals(session, row.id, found, contacts=True, existing=existing[row.id])
            else:  # nothing stored to compare with: insert with the others, in one statement
                added += [(row.id, f) for f in found]
    add_many(session, added)


class WindowRow(NamedTuple):
    """A ticket of the judged customers' window: what the judgement reads of it."""

    id: int
    external_id: str
    created_at: datetime
    matter: frozenset[str]


_matter_of: Callable[[WindowRow], frozenset[str]] = attrgetter("matter")


class Contacts(NamedTuple):
    """What came before a ticket: ``count`` earlier tickets of its customer inside the window about the same matter
    (their matters overlap its own, ``matter``), the ``latest`` five of them (oldest first) and the matter keys
    they share with it."""

    row: Any
    matter: frozenset[str]
    count: int
    latest: list[Any]
    shared: frozenset[str]


LATEST = 5


def to_judge(rows: list[Any], queued: list[tuple[datetime, int]], window: timedelta) -> Iterator[Any]:
    """The rows (one customer's tickets, in (created_at, id) order) to judge again for the queued tickets (their
    (created_at, id)): each queued ticket and the customer's tickets after it inside its window. One pass: a row is
    judged when the latest queued ticket at or before it is at most ``window`` older."""
    starts = sorted(queued)
    k, latest = 0, None
    for row in rows:
        while k < len(starts) and starts[k] <= (row.created_at, row.id):
            latest = starts[k][0]
            k += 1
        if latest is not None and row.created_at <= latest + window:
            yield row


def earlier_contacts(
    rows: list[Any], wanted: Container[int], about: Callable[[Any], frozenset[str]], window: timedelta
) -> Iterator[Contacts]:
    """``Contacts`` of each row of ``rows`` (one customer's tickets, in (created_at, id) order) whose id is in
    ``wanted``; a row's earlier tickets are those before it in that order created less than ``window`` before it.

    One pass with a sliding window that counts the matters inside it: a row costs work in proportion to the
    distinct matters in its window, not to the tickets there, so a customer with thousands of tickets a fortnight
    (a shared inbox, an integration's address) is judged in linear time."""
    positions = [i for i, row in enumerate(rows) if row.id in wanted]
    if not positions:
        return
    # the earliest row that is inside the window of a judged row
    left, first = positions[0], rows[positions[0]].created_at - window
    while left > 0 and rows[left - 1].created_at > first:
        left -= 1
    in_window: dict[frozenset[str], int] = {}  # matters of rows[left:position], the rows before the current one
    for position in range(left, positions[-1] + 1):
        row = rows[position]
        low = row.created_at - window
        while left < position and rows[left].created_at <= low:
            gone = about(rows[left])
            if in_window[gone] == 1:
                del in_window[gone]
            else:
                in_window[gone] -= 1
            left += 1
        mine = about(row)
        if row.id in wanted:
            overlapping = [(m, n) for m, n in in_window.items() if m & mine] if mine else []
            latest: list[Any] = []
            earlier = position - 1
            while overlapping and len(latest) < LATEST and earlier >= left:
                if about(rows[earlier]) & mine:
                    latest.append(rows[earlier])
                earlier -= 1
            latest.reverse()
            shared = frozenset().union(*(m & mine for m, _n in overlapping))
            yield Contacts(row, mine, sum(n for _m, n in overlapping), latest, shared)
        in_window[mine] = in_window.get(mine, 0) + 1
