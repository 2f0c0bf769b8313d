"""Tables of the service core: the delivery inbox, tickets, customers, the ticket event log, API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from .types import BigId, Json, UTCDateTime


class Delivery(SQLModel, table=True):
    """One accepted webhook delivery (or imported line). Unique per (source, delivery_id): the inbox
    is how duplicates are refused, by constraint rather than check-then-insert."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("source", "delivery_id", name="uq_deliveries_source_delivery"),
        Index("ix_deliveries_state_received", "state", "received_at"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    source: str = Field(sa_type=String(64))
    delivery_id: str = Field(sa_type=String(200))
    received_at: datetime = Field(sa_type=UTCDateTime)
    #: raw request bytes, kept until processed and purged after the configured days; dead letters keep it
    body: bytes | None = Field(default=None, sa_type=LargeBinary)
    headers: dict[str, Any] = Field(default_factory=dict, sa_type=Json)
    #: processed | ignored | dead
    state: str = Field(sa_type=String(16))
    error: str | None = Field(default=None, sa_type=Text)
    events: int = 0
    processed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Customer(SQLModel, table=True):
    """A customer, keyed by lower-cased email when known, else ``<source>:<external id>``."""

    __tablename__ = "customers"

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    key: str = Field(sa_type=String(320), unique=True)
    email: str | None = Field(default=None, sa_type=String(320))
    name: str | None = Field(default=None, sa_type=String(200))
    external_id: str | None = Field(default=None, sa_type=String(200))
    #: active | cancelled
    status: str = Field(default="active", sa_type=String(16))
    mrr_minor: int | None = None
    currency: str | None = Field(default=None, sa_type=String(3))
    plan: str | None = Field(default=None, sa_type=String(100))
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Ticket(SQLModel, table=True):
    """The normalized copy of a help-desk ticket. ``updated_at`` is the vendor's own last-modified time:
    a delivery older than it does not overwrite fields."""

    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_tickets_source_external"),
        Index("ix_tickets_created", "created_at", "id"),
        Index("ix_tickets_customer", "customer_id"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    source: str = Field(sa_type=String(64))
    external_id: str = Field(sa_type=String(200))
    display_id: str | None = Field(default=None, sa_type=String(200))
    url: str | None = Field(default=None, sa_type=Text)
    subject: str | None = Field(default=None, sa_type=Text)
    description: str | None = Field(default=None, sa_type=Text)
    status: str = Field(default="new", sa_type=String(16))
    priority: str | None = Field(default=None, sa_type=String(16))
    channel: str | None = Field(default=None, sa_type=String(64))
    type: str | None = Field(default=None, sa_type=String(64))
    tags: list[str] = Field(default_factory=list, sa_type=Json)
    custom_fields: dict[str, Any] = Field(default_factory=dict, sa_type=Json)
    customer_id: int | None = Field(default=None, sa_column=Column(BigId, ForeignKey("customers.id"), nullable=True))
    assignee_email: str | None = Field(default=None, sa_type=String(320))
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    first_seen_at: datetime = Field(sa_type=UTCDateTime)
    # complaint flags: computed by tagging rules unless an agent overrode them (complaint_source "agent")
    is_complaint: bool = False
    complaint_category: str | None = Field(default=None, sa_type=String(32))
    complaint_evidence: list[str] = Field(default_factory=list, sa_type=Json)
    complaint_source: str = Field(default="rules", sa_type=String(8))


class TicketLog(SQLModel, table=True):
    """The per-ticket event log, append-only, deduplicated by ``(ticket_id, dedupe_key)``.

    Each row records what happened and a snapshot of the fields TAT policies match on, so clocks
    are a pure function of the ordered log (DESIGN.md §5)."""

    __tablename__ = "ticket_log"
    __table_args__ = (
        UniqueConstraint("ticket_id", "dedupe_key", name="uq_ticket_log_dedupe"),
        Index("ix_ticket_log_ticket_at", "ticket_id", "at"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    ticket_id: int = Field(sa_column=Column(BigId, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False))
    at: datetime = Field(sa_type=UTCDateTime)
    #: created | updated | comment
    kind: str = Field(sa_type=String(16))
    dedupe_key: str = Field(sa_type=String(200))
    status: str | None = Field(default=None, sa_type=String(16))
    priority: str | None = Field(default=None, sa_type=String(16))
    author_role: str | None = Field(default=None, sa_type=String(16))
    public: bool | None = None
    body: str | None = Field(default=None, sa_type=Text)
    snapshot: dict[str, Any] = Field(default_factory=dict, sa_type=Json)
    delivery_id: int | None = Field(default=None, sa_column=Column(BigId, nullable=True))


class ApiToken(SQLModel, table=True):
    """A bearer token for /api/*; only its SHA-256 is stored (tokens are 256-bit random)."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=String(100), unique=True)
    token_hash: str = Field(sa_type=String(64), unique=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
