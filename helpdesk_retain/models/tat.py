"""TAT tables: computed clocks per ticket, and the breach / warning records the sweep makes once each."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from .core import TicketLog
from .types import BigId, Json, UTCDateTime


class TatClock(SQLModel, table=True):
    """One clock of a ticket, keyed by ``(ticket_id, metric, seq)`` (``seq`` counts next-response clocks;
    it is 1 for the others). Every column but ``sweep_at`` is recomputed from the ticket's event log.

    ``sweep_at`` is the next instant the breach sweep has something to record for the clock (its warning
    time, then its due time; NULL when nothing is left). It is indexed only where set, so the sweep reads
    what is due, not every open clock.
    """

    __tablename__ = "tat_clocks"
    __table_args__ = (
        UniqueConstraint("ticket_id", "metric", "seq", name="uq_tat_clocks_key"),
        Index(
            "ix_tat_clocks_sweep",
            "sweep_at",
            sqlite_where=text("sweep_at IS NOT NULL"),
            postgresql_where=text("sweep_at IS NOT NULL"),
        ),
        Index(
            "ix_tat_clocks_due_running",
            "due_at",
            sqlite_where=text("state = 'running'"),
            postgresql_where=text("state = 'running'"),
        ),
        Index("ix_tat_clocks_stopped", "stopped_at"),
        Index("ix_tat_clocks_breached", "breached_at"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    ticket_id: int = Field(sa_column=Column(BigId, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False))
    #: first_response | next_response | resolution
    metric: str = Field(sa_type=String(16))
    seq: int = 1
    #: the policy in force: when the clock breached, stopped, or now
    policy: str = Field(sa_type=String(100))
    target_minutes: int
    started_at: datetime = Field(sa_type=UTCDateTime)
    #: NULL while paused
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    warn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: running | paused | met | breached
    state: str = Field(sa_type=String(16))
    stopped_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: equals the due time the clock ran out at
    breached_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sweep_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: the computed columns as one text (timing ones first), so a recompute reads one column to find
    #: the clocks that changed, and writes only those
    fingerprint: str | None = Field(default=None, sa_type=Text)


class TatEvent(SQLModel, table=True):
    """A breach or warning, recorded once per clock by the sweep (the unique key decides), and left with
    ``notified_at`` NULL for the notifier. ``at`` is when it happened (the due or warning time), not when
    the sweep noticed. It does not reference ``tat_clocks``: the record outlives a recomputed clock."""

    __tablename__ = "tat_events"
    __table_args__ = (
        UniqueConstraint("ticket_id", "metric", "seq", "kind", name="uq_tat_events_clock_kind"),
        Index(
            "ix_tat_events_unnotified",
            "id",
            sqlite_where=text("notified_at IS NULL"),
            postgresql_where=text("notified_at IS NULL"),
        ),
        Index("ix_tat_events_at", "at"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    # No foreign key, on purpose: on PostgreSQL the key check would take a share lock on the ticket row
    # while the sweep holds clock rows, and ingest takes them in the opposite order (ticket, then clocks).
    ticket_id: int = Field(sa_column=Column(BigId, nullable=False))
    metric: str = Field(sa_type=String(16))
    seq: int = 1
    #: breach | warning
    kind: str = Field(sa_type=String(8))
    policy: str = Field(sa_type=String(100))
    at: datetime = Field(sa_type=UTCDateTime)
    recorded_at: datetime = Field(sa_type=UTCDateTime)
    #: for the notifier: claim with a conditional UPDATE on claimed_at, then set notified_at
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    notified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class TatReplay(SQLModel, table=True):
    """A ticket's clock replay saved after the last log row it covered (``tat.checkpoint``), so the next
    event replays only newer rows. A cache: deleting every row changes no result, only the next cost."""

    __tablename__ = "tat_replays"

    ticket_id: int = Field(
        sa_column=Column(BigId, ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True, autoincrement=False)
    )
    #: configuration, creation time, complaint category and plan the replay depended on
    inputs_key: str = Field(sa_type=Text)
    last_id: int = Field(sa_column=Column(BigId, nullable=False))
    last_at: datetime = Field(sa_type=UTCDateTime)
    state: dict[str, Any] = Field(default_factory=dict, sa_type=Json)


# The replay reads a ticket's log rows added since its checkpoint (``tat.logrows.rows_after``): without this
# index that read would visit every row of the ticket, and the per-event cost would grow with the log again.
Index("ix_ticket_log_ticket_id_id", TicketLog.__table__.c.ticket_id, TicketLog.__table__.c.id)

# Met clocks by when they stopped: the digest's attainment trend counts them per week from this index alone
# (partial, so a clock costs an entry only once it is met; queries must say ``state = 'met'`` literally).
Index(
    "ix_tat_clocks_met",
    TatClock.__table__.c.stopped_at,
    sqlite_where=text("state = 'met'"),
    postgresql_where=text("state = 'met'"),
)

# Breached clocks by breach time with their ticket: the at-risk window's breaches and the attainment trend read
# this index alone (partial: an entry per breached clock; ``state = 'breached'`` written literally, as above).
Index(
    "ix_tat_clocks_breached_ticket",
    TatClock.__table__.c.breached_at,
    TatClock.__table__.c.ticket_id,
    sqlite_where=text("state = 'breached'"),
    postgresql_where=text("state = 'breached'"),
)
