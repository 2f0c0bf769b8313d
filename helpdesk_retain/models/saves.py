"""Saved customers: one save per ticket, and the history of every change to it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, ForeignKey, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from .core import Customer
from .types import BigId, Json, UTCDateTime

#: billing records (``stripe:cus_...``) and help-desk records of one customer meet on external_id: the save
#: verification step looks them up on every cancellation, and CRR folds them together
Index("ix_customers_external_id", Customer.__table__.c.external_id)


class Save(SQLModel, table=True):
    """A customer an agent turned around, with the recurring revenue kept.

    One row per ticket (the unique constraint, not a check, keeps a second marking from doubling it).
    ``outcome`` is pending until ``verify_due_at``, then held or lost; a cancellation inside the window
    makes it lost at once. A withdrawn save (tag removed) keeps its row with ``withdrawn_at`` set and is
    left out of every figure. ``mrr_minor``/``arr_minor`` are normalised from ``amount_minor`` and
    ``interval`` by ``money.mrr_arr``; all four are null when the amount is unknown.
    """

    __tablename__ = "saves"
    __table_args__ = (
        UniqueConstraint("ticket_id", name="uq_saves_ticket"),
        Index("ix_saves_saved_at", "saved_at"),
        Index("ix_saves_outcome_due", "outcome", "verify_due_at"),
        Index("ix_saves_customer", "customer_id"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    ticket_id: int = Field(sa_column=Column(BigId, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False))
    customer_id: int | None = Field(default=None, sa_column=Column(BigId, ForeignKey("customers.id"), nullable=True))
    #: how it was last marked: tag | api
    via: str = Field(sa_type=String(8))
    amount_minor: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    currency: str | None = Field(default=None, sa_type=String(3))
    #: month | year
    interval: str = Field(default="month", sa_type=String(8))
    mrr_minor: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    arr_minor: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    reason: str | None = Field(default=None, sa_type=Text)
    offer: str | None = Field(default=None, sa_type=Text)
    saved_at: datetime = Field(sa_type=UTCDateTime)
    verify_due_at: datetime = Field(sa_type=UTCDateTime)
    #: pending | held | lost
    outcome: str = Field(default="pending", sa_type=String(8))
    verified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    withdrawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class SaveEvent(SQLModel, table=True):
    """Append-only history of a save: marked, updated, withdrawn, reinstated, held, lost.

    ``at`` is when it happened (the ticket's or customer's own time); ``recorded_at`` when we applied it.
    ``detail`` holds the values after the change (and, for ``lost``, the cancellation that decided it).
    """

    __tablename__ = "save_history"
    __table_args__ = (Index("ix_save_history_save", "save_id", "id"),)

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    save_id: int = Field(sa_column=Column(BigId, ForeignKey("saves.id", ondelete="CASCADE"), nullable=False))
    kind: str = Field(sa_type=String(16))
    #: tag | api | verification | billing
    via: str = Field(sa_type=String(16))
    at: datetime = Field(sa_type=UTCDateTime)
    recorded_at: datetime = Field(sa_type=UTCDateTime)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=Json)
