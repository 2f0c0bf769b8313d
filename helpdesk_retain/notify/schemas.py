"""Pydantic models of the messages API (``GET /api/messages``, ``POST /api/messages/<id>/retry``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ..schemas import Out

MessageState = Literal["pending", "sending", "sent", "failed"]


class MessageOut(Out):
    """One outbound message and its delivery state (the rendered body is not included)."""

    id: int
    kind: str
    channel: str
    recipient: str
    subject: str
    dedupe_key: str
    state: MessageState
    attempts: int
    next_attempt_at: datetime
    last_error: str | None = None
    created_at: datetime
    claimed_at: datetime | None = None
    claimed_by: str | None = None
    sent_at: datetime | None = None
    failed_at: datetime | None = None


class MessagePage(Out):
    items: list[MessageOut]
    next_cursor: str | None = None


class MessageListQuery(BaseModel):
    """Newest first; filters combine."""

    model_config = ConfigDict(extra="forbid")

    state: MessageState | None = None
    channel: str | None = None
    kind: str | None = None
    cursor: str | None = None
    limit: int = 100
