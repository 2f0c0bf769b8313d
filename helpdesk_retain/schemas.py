"""Pydantic models of the JSON API: they validate requests, shape responses and generate /openapi.json."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorOut(Out):
    error: str
    detail: Any = None


class CustomerOut(Out):
    email: str | None = None
    name: str | None = None


class ComplaintOut(Out):
    is_complaint: bool
    category: str | None = None
    evidence: list[str] = []
    source: Literal["rules", "agent"] = "rules"


class RiskOut(Out):
    signal: str
    evidence: str
    at: datetime


class SaveOut(Out):
    #: null when the agent gave no amount and billing knows no recurring revenue for the customer
    amount_minor: int | None
    currency: str | None
    interval: Literal["month", "year"]
    outcome: Literal["pending", "held", "lost"]
    reason: str | None = None
    offer: str | None = None


class ClockOut(Out):
    metric: Literal["first_response", "next_response", "resolution"]
    policy: str
    target_minutes: int
    started_at: datetime
    due_at: datetime | None = None
    state: Literal["running", "paused", "met", "breached"]
    stopped_at: datetime | None = None
    breached_at: datetime | None = None


class BugLinkOut(Out):
    tracker: str
    issue: str
    state: Literal["open", "fixed", "wontfix"]
    url: str | None = None


class TicketOut(Out):
    source: str
    external_id: str
    subject: str | None = None
    status: str
    priority: str | None = None
    channel: str | None = None
    type: str | None = None
    tags: list[str] = []
    customer: CustomerOut | None = None
    assignee_email: str | None = None
    created_at: datetime
    updated_at: datetime
    complaint: ComplaintOut
    risk: list[RiskOut] = []
    save: SaveOut | None = None
    tat: list[ClockOut] = []
    bug_links: list[BugLinkOut] = []


class TicketPage(Out):
    items: list[TicketOut]
    next_cursor: str | None = None


class WebhookAnswer(Out):
    status: Literal["accepted", "duplicate", "ignored"]
    delivery_id: str | None = None
    events: int | None = None
    detail: Any = None


class TicketListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flag: Literal["complaint", "at_risk", "saved", "breached"] | None = None
    since: datetime | None = None
    until: datetime | None = None
    cursor: str | None = None
    limit: int = 50
