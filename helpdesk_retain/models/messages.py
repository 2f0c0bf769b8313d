"""Outbound messages: one row per (notifier channel, recipient, thing to say), delivered at most once
while its outcome is recorded (see ``helpdesk_retain.notify.delivery``).

Life cycle (``state``)::

    pending --claimed (conditional UPDATE)--> sending --> sent
       ^                                         |  \\--> failed   (permanent error, or attempts used up)
       \\------ transient error: backoff --------/

``dedupe_key`` is unique: the same reminder, breach or digest is never enqueued twice. ``attempts`` counts
claims that may have reached the notifier; ``claimed_by`` names the process holding a ``sending`` row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from .types import BigId, Json, UTCDateTime

STATES = ("pending", "sending", "sent", "failed")


class Message(SQLModel, table=True):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("dedupe_key", name="uq_messages_dedupe_key"),
        Index("ix_messages_state_next", "state", "next_attempt_at"),
        Index("ix_messages_state_claimed", "state", "claimed_at"),
        Index("ix_messages_created", "created_at", "id"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    #: what it says: followup.reminder | followup.escalation | tat.alert | digest | ...
    kind: str = Field(sa_type=String(32))
    #: the configured notifier channel (``[notify.channels.<name>]``)
    channel: str = Field(sa_type=String(64))
    #: an email address for address-based channels; for Slack and webhooks whom the message concerns
    recipient: str = Field(default="", sa_type=String(320))
    subject: str = Field(sa_type=Text)
    #: {"text", "html"?, "images"?: [{"cid", "content_type", "base64" | "path"}], "blocks"?, "data"?}
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=Json)
    dedupe_key: str = Field(sa_type=String(300))
    #: pending | sending | sent | failed
    state: str = Field(default="pending", sa_type=String(16))
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime)
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: ``host:pid`` of the process that claimed the row last
    claimed_by: str | None = Field(default=None, sa_type=String(200))
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    failed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
