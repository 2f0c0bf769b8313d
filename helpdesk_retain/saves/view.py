"""How saves show on tickets: the ticket's ``save`` section and ``GET /api/tickets?flag=saved``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from ..models import Ticket
from ..models.saves import Save


def load_save_sections(session: Session, ticket_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Batch loader for ``ticketview.section_loaders``: the active (not withdrawn) save of each ticket."""
    if not ticket_ids:
        return {}
    stmt = select(Save).where(Save.ticket_id.in_(ticket_ids), Save.withdrawn_at.is_(None))
    return {save.ticket_id: save_section(save) for save in session.execute(stmt).scalars()}


def save_section(save: Save) -> dict[str, Any]:
    return {
        "amount_minor": save.amount_minor,
        "currency": save.currency,
        "interval": save.interval,
        "outcome": save.outcome,
        "reason": save.reason,
        "offer": save.offer,
    }


def saved_flag() -> ColumnElement[bool]:
    """SQL condition for ``flag=saved``: the ticket has a save that is not withdrawn."""
    return Ticket.id.in_(select(Save.ticket_id).where(Save.withdrawn_at.is_(None)))
