"""The weekly digest: one row per ISO week, claimed before any mail is enqueued (DESIGN.md §2)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from .types import BigId, Json, UTCDateTime


class Digest(SQLModel, table=True):
    """The digest of one ISO week (``"2026-W47"``), in the ``[digest].timezone`` the week was cut in.

    Life cycle: inserted ``pending`` (insert-or-nothing on the unique week), claimed by the one process whose
    conditional UPDATE sets ``claimed_at`` (``state = 'queued'`` once its messages are enqueued in the same
    transaction). A failed render leaves ``claimed_at`` NULL with ``error`` and ``retry_at``, so the sweep
    tries again later rather than on every tick. ``sends`` counts deliveries (``--force`` adds one).
    """

    __tablename__ = "digests"
    __table_args__ = (
        UniqueConstraint("week", name="uq_digests_week"),
        Index("ix_digests_claimed", "claimed_at"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    week: str = Field(sa_type=String(8))
    timezone: str = Field(sa_type=String(64))
    #: pending | queued
    state: str = Field(default="pending", sa_type=String(8))
    created_at: datetime = Field(sa_type=UTCDateTime)
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: host:pid of the claiming process, for operators
    claimed_by: str | None = Field(default=None, sa_type=String(200))
    queued_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sends: int = 0
    recipients: list[str] = Field(default_factory=list, sa_type=Json)
    language: str | None = Field(default=None, sa_type=String(16))
    subject: str | None = Field(default=None, sa_type=Text)
    #: the figures as sent (the JSON of ``GET /api/digest/<week>`` at that moment)
    figures: dict[str, Any] = Field(default_factory=dict, sa_type=Json)
    error: str | None = Field(default=None, sa_type=Text)
    retry_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
