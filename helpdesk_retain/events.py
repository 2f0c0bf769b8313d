"""Typed events that integrations produce and core applies.

Contract: every datetime is timezone-aware UTC; every vendor id is a string; ``None`` means
"this delivery does not say" and never overwrites a stored value. Status, priority and author
roles use the normalized vocabulary of DESIGN.md §4.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

Status = Literal["new", "open", "pending", "on_hold", "solved", "closed"]
Priority = Literal["low", "normal", "high", "urgent"]
Role = Literal["customer", "agent", "system"]
IssueState = Literal["open", "fixed", "wontfix"]

STATUSES: frozenset[str] = frozenset({"new", "open", "pending", "on_hold", "solved", "closed"})
PRIORITIES: frozenset[str] = frozenset({"low", "normal", "high", "urgent"})
ROLES: frozenset[str] = frozenset({"customer", "agent", "system"})


@dataclass(frozen=True, slots=True)
class Person:
    email: str | None = None
    name: str | None = None
    external_id: str | None = None


@dataclass(frozen=True, slots=True)
class Comment:
    id: str
    body: str
    public: bool
    author_role: Role
    created_at: datetime
    author_email: str | None = None


@dataclass(frozen=True, slots=True)
class TicketEvent:
    """A ticket was created or changed, or a comment was added to it.

    ``occurred_at`` is when the change happened at the vendor; ``updated_at`` (if known) is the
    ticket's own last-modified time, used to keep newer fields when deliveries arrive out of order.
    ``links`` are tracker URLs or keys found in structured fields (core also scans the text).
    """

    kind: Literal["ticket.created", "ticket.updated", "comment.created"]
    external_id: str
    occurred_at: datetime
    subject: str | None = None
    description: str | None = None
    status: Status | None = None
    priority: Priority | None = None
    channel: str | None = None
    type: str | None = None
    tags: tuple[str, ...] | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    requester: Person | None = None
    assignee_email: str | None = None
    custom_fields: dict[str, str] = field(default_factory=dict)
    links: tuple[str, ...] = ()
    comment: Comment | None = None
    display_id: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class IssueEvent:
    """An issue in a tracker changed state.

    ``issue`` is normalized (``acme/app#123``, ``APP-12``, ``ENG-7``); ``transition`` is True only
    when the delivery shows the state change itself (a changelog, ``updatedFrom``, an action), so a
    later edit of an already-closed issue does not fire follow-ups again.
    """

    tracker: str
    issue: str
    state: IssueState
    occurred_at: datetime
    transition: bool = True
    url: str | None = None
    title: str | None = None
    is_bug: bool | None = None
    external_id: str | None = None
    links: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CustomerEvent:
    """A customer's account changed (used to verify saves and compute retention)."""

    occurred_at: datetime
    email: str | None = None
    external_id: str | None = None
    name: str | None = None
    status: Literal["active", "cancelled"] | None = None
    mrr_minor: int | None = None
    currency: str | None = None
    plan: str | None = None


Event = TicketEvent | IssueEvent | CustomerEvent


def utcnow() -> datetime:
    return datetime.now(UTC)
