"""Reading a ticket's event log for the clock replay: only the columns it needs, in replay order
(``replay.replay_key``, then id)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import text
from sqlalchemy.orm import Session

from .replay import replay_key

# Plain SQL, so rows arrive as the driver returns them: no per-row type processing, which would cost
# more than the replay itself (a timestamp comes as text on SQLite, JSON as text or already decoded).
_COLUMNS = "SELECT at, kind, status, author_role, public, snapshot, id FROM ticket_log WHERE ticket_id = :ticket"
FULL_LOG = text(f"{_COLUMNS} ORDER BY at, id")
# sorted here, not by the database: so it reads the (ticket_id, id) range, whatever the count of older rows
ROWS_AFTER = text(f"{_COLUMNS} AND id > :after")


class LogEntry(NamedTuple):
    at: datetime
    kind: str
    status: str | None
    author_role: str | None
    public: bool | int | None
    snapshot: Mapping[str, Any] | None
    id: int


def full_log(session: Session, ticket_id: int) -> list[LogEntry]:
    # the database gives (at, id) order; the stable sort puts rows of one instant in their canonical order
    return sorted(_entries(session.execute(FULL_LOG, {"ticket": ticket_id})), key=replay_key)


def rows_after(session: Session, ticket_id: int, after: int) -> list[LogEntry]:
    """Rows with an id above ``after`` (added since), in replay order."""
    rows = _entries(session.execute(ROWS_AFTER, {"ticket": ticket_id, "after": after}))
    return sorted(rows, key=order)


def order(row: LogEntry) -> tuple[datetime, int, int]:
    """A row's place in the replay: ``replay_key``, then its id."""
    return (*replay_key(row), row.id)


def _entries(rows: Any) -> list[LogEntry]:
    return [
        LogEntry(instant(at), kind, status, role, public, _snapshot(snap), row_id)
        for at, kind, status, role, public, snap, row_id in rows
    ]


def instant(value: Any) -> datetime:
    """A timestamp as the driver returns it -> aware UTC (SQLite: naive UTC text, see ``UTCDateTime``)."""
    if isinstance(value, str):
        return _parse_instant(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _snapshot(value: Any) -> Mapping[str, Any] | None:
    # SQLite hands back the JSON text; psycopg has already decoded JSONB
    return _parse_snapshot(value) if isinstance(value, str) else value


# A full replay reads the same rows as the one before it; parsing them is memoised (the replay only reads
# snapshots, so sharing the decoded objects is safe).
@lru_cache(maxsize=1 << 15)
def _parse_instant(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


@lru_cache(maxsize=1 << 15)
def _parse_snapshot(value: str) -> Mapping[str, Any] | None:
    return None if value == "{}" else json.loads(value)
