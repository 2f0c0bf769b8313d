"""Complaint and churn-risk tagging: risk signals per ticket and each ticket's complaint state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from .core import Ticket
from .types import BigId, UTCDateTime


class RiskSignal(SQLModel, table=True):
    """A churn-risk signal found on a ticket, with the customer's words that carried it.

    One row per (ticket, signal, evidence source), so re-delivered or re-tagged text cannot duplicate a
    signal: the unique constraint decides. ``source`` is ``subject``, ``description``, ``comment:<id>`` or
    ``contacts`` (repeat contact, found across the customer's tickets). ``at`` is the time of the text that
    carried the signal, so signals age out of the at-risk windows by when the customer wrote them.
    """

    __tablename__ = "risk_signals"
    __table_args__ = (
        UniqueConstraint("ticket_id", "signal", "source", name="uq_risk_signals_ticket_signal_source"),
        Index("ix_risk_signals_signal_at", "signal", "at"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    ticket_id: int = Field(sa_column=Column(BigId, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False))
    signal: str = Field(sa_type=String(32))
    source: str = Field(sa_type=String(220))
    evidence: str = Field(sa_type=Text)
    at: datetime = Field(sa_type=UTCDateTime)


class ComplaintState(SQLModel, table=True):
    """When a ticket became a complaint, and an agent's override of the rules (set through the API).

    The verdict itself lives on ``tickets`` (``is_complaint``, ``complaint_*``); this row keeps what the
    verdict cannot: ``complaint_at``, when the ticket became a complaint if that was after its creation (a later
    comment; null or no row: the ticket's ``created_at``), by which bad experiences age out; and the agent's
    override, which later automatic tagging never undoes.
    """

    __tablename__ = "complaint_states"
    # complaints by when they were made (the digest's weeks, the at-risk window); ticket_id makes it covering
    __table_args__ = (Index("ix_complaint_states_complaint_at", "complaint_at", "ticket_id"),)

    ticket_id: int = Field(sa_column=Column(BigId, ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True))
    complaint_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    override_is_complaint: bool | None = None
    override_category: str | None = Field(default=None, sa_type=String(32))
    override_by: str | None = Field(default=None, sa_type=String(100))
    override_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


# Complaint tickets by creation: the complaints without a recorded time (``tagging.risk.complaint_events``) and
# ``flag=complaint`` read these rows, not every ticket of the window. Partial, so only complaint tickets cost an
# entry; each predicate is written as that backend renders ``is_complaint.is_(True)``, which it must match.
Index(
    "ix_tickets_complaint_created",
    Ticket.__table__.c.created_at,
    Ticket.__table__.c.id,
    sqlite_where=text("is_complaint IS 1"),
    postgresql_where=text("is_complaint IS true"),
)

# A ticket's customer and complaint flag by id, without reading the ticket row (on SQLite a long description
# pushes these columns into overflow pages): the at-risk rule maps every bad experience of its window to its
# customer through this index. Written once per ticket; changed only when its customer or flag changes.
Index("ix_tickets_id_customer", Ticket.__table__.c.id, Ticket.__table__.c.customer_id, Ticket.__table__.c.is_complaint)
