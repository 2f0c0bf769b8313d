"""Repeat contact: a customer's Nth ticket about the same matter within a window (default 3rd in 14 days).

A ticket's matter is what its subject and description are about: its complaint category, its risk signals
(a refund, an export, ...) and its complaint evidence, normalised so Traditional and Simplified spellings
agree. Two tickets are about the same matter when their matters overlap. Tickets without a complaint or a
signal have no matter (three how-to questions are not a repeat contact). The signal sits on the Nth ticket,
``at`` its creation; when a ticket arrives late, the customer's later tickets in the window are re-judged.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from ..config import TaggingSettings
from ..models import Ticket
from .normalize import normalize
from .signals import CONTACTS, Found, sync_signals
from .tagger import Tagger

#: signals that say what a ticket is about (a competitor mention or a repeat contact does not)
MATTER_SIGNALS = frozenset(
    {"cancel_intent", "refund_request", "data_export", "billing_change", "downgrade", "legal_threat"}
)


def matter(tagger: Tagger, subject: str | None, description: str | None) -> frozenset[str]:
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


@cache
def _window_query() -> Select[Any]:
    """A customer's tickets created in [low, high]; one statement object, so its compiled form is reused."""
    return (
        select(Ticket.id, Ticket.external_id, Ticket.created_at, Ticket.subject, Ticket.description)
        .where(
            Ticket.customer_id == bindparam("customer"),
            Ticket.created_at >= bindparam("low", type_=Ticket.__table__.c.created_at.type),
            Ticket.created_at <= bindparam("high", type_=Ticket.__table__.c.created_at.type),
        )
        .order_by(Ticket.created_at, Ticket.id)
    )


def update_repeat_contacts(
    session: Session, settings: TaggingSettings, tagger: Tagger, ticket: Ticket, *, fresh: bool = False
) -> None:
    """Re-judge ``ticket`` and the customer's later tickets inside the window.

    A ``fresh`` ticket (inserted by this apply) without a matter can neither be nor make a repeat contact.
    """
    if ticket.customer_id is None or ticket.id is None:
        return
    if fresh and not matter(tagger, ticket.subject, ticket.description):
        return
    window = timedelta(days=settings.repeat_contact_days)
    bounds = {"customer": ticket.customer_id, "low": ticket.created_at - window, "high": ticket.created_at + window}
    rows = session.execute(_window_query(), bounds).all()
    matters = {row.id: matter(tagger, row.subject, row.description) for row in rows}
    for row in rows:
        if (row.created_at, row.id) < (ticket.created_at, ticket.id):
            continue
        same = [
            earlier
            for earlier in rows
            if (earlier.created_at, earlier.id) < (row.created_at, row.id)
            and earlier.created_at > row.created_at - window
            and matters[earlier.id] & matters[row.id]
        ]
        found = []
        if matters[row.id] and len(same) + 1 >= settings.repeat_contact_count:
            shared = frozenset().union(*(matters[e.id] & matters[row.id] for e in same))
            before = ", ".join(e.external_id for e in same[-5:])
            evidence = (
                f"contact {len(same) + 1} in {settings.repeat_contact_days} days about {describe(shared)}"
                f" (after {before})"
            )
            found.append(Found("repeat_contact", CONTACTS, evidence, row.created_at))
        sync_signals(session, row.id, found, contacts=True, existing=[] if fresh and row.id == ticket.id else None)
