"""Pydantic models of the reminders API (``GET /api/reminders``, ``POST /api/reminders/<id>/done``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from .schemas import CustomerOut, Out

ReminderState = Literal["pending", "due", "sent", "done", "cancelled"]


class ReminderTicketOut(Out):
    source: str
    external_id: str
    subject: str | None = None
    url: str | None = None


class ReminderIssueOut(Out):
    tracker: str
    issue: str
    state: Literal["open", "fixed", "wontfix"]
    url: str | None = None
    title: str | None = None


class ReminderOut(Out):
    """One follow-up: tell this ticket's customer that this issue is fixed."""

    id: int
    state: ReminderState
    ticket: ReminderTicketOut
    customer: CustomerOut | None = None
    issue: ReminderIssueOut
    fix_cycle: int
    fixed_at: datetime
    due_at: datetime
    escalate_at: datetime | None = None
    assignee_email: str | None = None
    notified_at: datetime | None = None
    escalated_at: datetime | None = None
    done_at: datetime | None = None
    done_reason: Literal["agent_reply", "manual"] | None = None
    done_by: str | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    created_at: datetime


class ReminderPage(Out):
    items: list[ReminderOut]
    next_cursor: str | None = None


class ReminderListQuery(BaseModel):
    """Oldest due first; ``assignee`` filters by the assignee's email."""

    model_config = ConfigDict(extra="forbid")

    state: ReminderState | None = None
    assignee: str | None = None
    cursor: str | None = None
    limit: int = 100
