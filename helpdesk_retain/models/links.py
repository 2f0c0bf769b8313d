"""Tracker issues and the links between tickets and them.

An issue row exists once a tracker (or the generic source) has told us about the issue; a link to an
issue we have not heard of yet creates no issue row: the API shows it as ``open`` (a left join), so a
ticket full of pasted URLs costs one row per link, and the issue's state arrives with its first event.
Links and issues meet on ``(tracker, key)`` (``helpdesk_retain.links.make_ref``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from .types import BigId, UTCDateTime


class Issue(SQLModel, table=True):
    """The last known state of a tracker issue. ``updated_at`` is the tracker's time of the newest
    applied event: an older event is ignored (stale-safe). ``fix_cycle`` counts transitions to fixed;
    follow-ups are unique per (issue, ticket, fix cycle)."""

    __tablename__ = "issues"
    __table_args__ = (UniqueConstraint("tracker", "key", name="uq_issues_tracker_key"),)

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    tracker: str = Field(sa_type=String(32))
    #: normalized match key (GitHub/GitLab paths lower-cased)
    key: str = Field(sa_type=String(300))
    #: as the tracker shows it: ``acme/app#123``, ``APP-12``
    issue: str = Field(sa_type=String(300))
    external_id: str | None = Field(default=None, sa_type=String(200))
    url: str | None = Field(default=None, sa_type=Text)
    title: str | None = Field(default=None, sa_type=Text)
    #: open | fixed | wontfix
    state: str = Field(default="open", sa_type=String(16))
    is_bug: bool | None = None
    fix_cycle: int = 0
    state_changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    fixed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)


class BugLink(SQLModel, table=True):
    """A ticket refers to a tracker issue. ``origin`` says where the reference was found
    (``description``, ``comment:<id>``, ``field:<name>``, ``tag:<tag>``, ``integration``, ``issue``) and
    ``delivery_id`` which delivery brought it, so a wrong link can be traced to its source."""

    __tablename__ = "bug_links"
    __table_args__ = (
        UniqueConstraint("ticket_id", "tracker", "key", name="uq_bug_links_ticket_issue"),
        Index("ix_bug_links_issue", "tracker", "key"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    ticket_id: int = Field(sa_column=Column(BigId, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False))
    tracker: str = Field(sa_type=String(32))
    key: str = Field(sa_type=String(300))
    issue: str = Field(sa_type=String(300))
    url: str | None = Field(default=None, sa_type=Text)
    origin: str = Field(sa_type=String(200))
    delivery_id: int | None = Field(default=None, sa_column=Column(BigId, nullable=True))
    created_at: datetime = Field(sa_type=UTCDateTime)
