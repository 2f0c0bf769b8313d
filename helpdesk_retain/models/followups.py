"""Follow-ups: "tell the customer the bug they reported is fixed", one row per (issue, ticket, fix cycle).

Life cycle (``state``)::

    pending --due_at passed, claimed by run_due_reminders--> due --notifier sent the reminder--> sent
       \\______________________________ any of them _____________________________> done | cancelled

``done``: a public agent reply after the fix, or marked by hand. ``cancelled``: the issue was reopened or
closed as won't fix (``cancel_reason`` says which). Hand-off to the notifier (a later task): rows with
``state = 'due' AND notified_at IS NULL``, grouped by ``assignee_email`` into one reminder each; it sets
``notified_at`` and ``state = 'sent'`` with a conditional update. Escalations likewise: rows with
``escalated_at`` set and ``escalation_notified_at IS NULL`` go to the team lead.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from .types import BigId, UTCDateTime

ACTIVE_STATES = ("pending", "due", "sent")
STATES = ("pending", "due", "sent", "done", "cancelled")


class FollowUp(SQLModel, table=True):
    __tablename__ = "followups"
    __table_args__ = (
        UniqueConstraint("issue_id", "ticket_id", "fix_cycle", name="uq_followups_issue_ticket_cycle"),
        Index("ix_followups_state_due", "state", "due_at"),
        Index("ix_followups_state_escalate", "state", "escalate_at"),
        Index("ix_followups_ticket_state", "ticket_id", "state"),
        Index("ix_followups_issue_state", "issue_id", "state"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    issue_id: int = Field(sa_column=Column(BigId, ForeignKey("issues.id", ondelete="CASCADE"), nullable=False))
    ticket_id: int = Field(sa_column=Column(BigId, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False))
    customer_id: int | None = Field(default=None, sa_column=Column(BigId, ForeignKey("customers.id"), nullable=True))
    fix_cycle: int
    #: pending | due | sent | done | cancelled
    state: str = Field(default="pending", sa_type=String(16))
    fixed_at: datetime = Field(sa_type=UTCDateTime)
    due_at: datetime = Field(sa_type=UTCDateTime)
    #: when an unfinished follow-up escalates to the team lead; None: never
    escalate_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    #: set once, by the run that moved it from pending to due
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: the ticket's assignee when it became due: who gets the reminder
    assignee_email: str | None = Field(default=None, sa_type=String(320))
    notified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    escalated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    escalation_notified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: agent_reply | manual
    done_reason: str | None = Field(default=None, sa_type=String(32))
    done_by: str | None = Field(default=None, sa_type=String(320))
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancel_reason: str | None = Field(default=None, sa_type=Text)
