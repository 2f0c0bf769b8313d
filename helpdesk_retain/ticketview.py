"""How a ticket looks through the API (CONTRACT.md), built for a page of tickets at once.

Feature modules contribute sections (risk, save, tat, bug_links) as batch loaders
``(session, ticket_ids) -> {ticket_id: value}``, so a page costs one query per section, not per ticket.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Customer, Ticket

SectionLoader = Callable[[Session, list[int]], dict[int, Any]]


def section_loaders() -> dict[str, tuple[SectionLoader, Any]]:
    """name -> (loader, value when the loader has nothing for a ticket)."""
    from .buglinks import load_bug_links
    from .saves import load_save_sections
    from .tagging.views import load_risk
    from .tat.read import load_tat

    return {
        "bug_links": (load_bug_links, []),
        "save": (load_save_sections, None),
        "tat": (load_tat, []),
        "risk": (load_risk, []),
    }


def serialize_tickets(session: Session, tickets: list[Ticket]) -> list[dict[str, Any]]:
    ids = [t.id for t in tickets if t.id is not None]
    customer_ids = {t.customer_id for t in tickets if t.customer_id is not None}
    customers = (
        {c.id: c for c in session.execute(select(Customer).where(Customer.id.in_(customer_ids))).scalars()}
        if customer_ids
        else {}
    )
    sections = {name: (loader(session, ids), empty) for name, (loader, empty) in section_loaders().items()}
    out = []
    for t in tickets:
        customer = customers.get(t.customer_id) if t.customer_id else None
        item: dict[str, Any] = {
            "source": t.source,
            "external_id": t.external_id,
            "subject": t.subject,
            "status": t.status,
            "priority": t.priority,
            "channel": t.channel,
            "type": t.type,
            "tags": t.tags,
            "customer": {"email": customer.email, "name": customer.name} if customer else None,
            "assignee_email": t.assignee_email,
            "created_at": t.created_at,
            "updated_at": t.updated_at,
            "complaint": {
                "is_complaint": t.is_complaint,
                "category": t.complaint_category,
                "evidence": t.complaint_evidence,
                "source": t.complaint_source,
            },
            "risk": [],
            "save": None,
            "tat": [],
            "bug_links": [],
        }
        for name, (values, empty) in sections.items():
            item[name] = values.get(t.id, empty)
        out.append(item)
    return out
