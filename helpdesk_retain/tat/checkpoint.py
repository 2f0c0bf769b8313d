"""Checkpoints of a ticket's replay, so that an event replays only the log rows that are new.

The replay state after the last row of a ticket's log is saved with what it depended on: the configuration
(``PolicySet.key``), the ticket's creation time, complaint category and customer plan, the highest log row
id and the latest ``at`` it covered. The next recompute resumes from it when those still match and every
row added since (``id`` above the saved one) sorts after the saved ones, i.e. is not earlier than the saved
``at``. A row delivered late, out of order, fails that test and the log is replayed in full, so the result
is always the one a full replay gives: the checkpoint is a memo of a pure function, never a source of truth.

Ids of one ticket's rows grow in the order the rows become visible because ingest appends them while
holding the ticket's row lock (``ingest.upsert_ticket``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..models.tat import TatReplay
from .logrows import instant
from .policies import Facts, PolicySet
from .replay import ClockState, Replay

MICROSECOND = timedelta(microseconds=1)
LOAD = text("SELECT inputs_key, last_id, last_at, state FROM tat_replays WHERE ticket_id = :ticket")


@dataclass(frozen=True)
class Checkpoint:
    key: str
    last_id: int
    last_at: datetime
    state: dict[str, Any]


def load_checkpoint(session: Session, ticket_id: int) -> Checkpoint | None:
    row = session.execute(LOAD, {"ticket": ticket_id}).first()
    if row is None:
        return None
    inputs, last_id, last_at, state = row
    # as the driver returns them: SQLite gives text, PostgreSQL a datetime and decoded JSONB
    return Checkpoint(inputs, last_id, instant(last_at), json.loads(state) if isinstance(state, str) else state)


def save_checkpoint(session: Session, ticket_id: int, checkpoint: Checkpoint) -> None:
    table = TatReplay.__table__
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    values = {"inputs_key": checkpoint.key, "last_id": checkpoint.last_id, "last_at": checkpoint.last_at}
    values["state"] = checkpoint.state
    stmt = dialect.insert(table).values(ticket_id=ticket_id, **values)
    session.execute(stmt.on_conflict_do_update(index_elements=["ticket_id"], set_=values))


def inputs_key(policies: PolicySet, created_at: datetime, category: str | None, plan: str | None) -> str:
    """Everything besides the log that a replay depends on."""
    return f"{policies.key}|{created_at.isoformat()}|{category}|{plan}"


def dump(run: Replay) -> dict[str, Any]:
    """The replay's state as JSON-able data (only live and current clocks: stopped ones are final)."""
    return {
        "fields": run.fields,
        "policy": run.policy.name if run.policy else None,
        "status": run.status,
        "solved": run.solved,
        "exchanges": run.exchanges,
        "first": _dump_clock(run.first),
        "resolution": _dump_clock(run.resolution),
        "next": _dump_clock(run.next) if run.next is not None else None,
    }


def restore(policies: PolicySet, base: Facts, state: dict[str, Any]) -> Replay:
    """A replay continuing from ``dump``'s output; its ``clocks`` are the first response, the resolution
    and the running next response, so its results leave out next-response clocks that already stopped."""
    run = object.__new__(Replay)  # the state is set whole, not built by replaying from creation
    run.policies, run.base = policies, base
    run.fields = dict(state["fields"])
    run.policy = policies.by_name(state["policy"])
    run.status, run.solved, run.exchanges = state["status"], state["solved"], state["exchanges"]
    run.first = _load_clock(policies, state["first"])
    run.resolution = _load_clock(policies, state["resolution"])
    run.next = _load_clock(policies, state["next"]) if state["next"] is not None else None
    run.clocks = [run.first, run.resolution, *([run.next] if run.next is not None else [])]
    return run


def _dump_clock(clock: ClockState) -> dict[str, Any]:
    last_run = clock.last_run
    breach = clock.breach
    return {
        "metric": clock.metric,
        "seq": clock.seq,
        "started_at": _time(clock.started_at),
        "consumed": clock.consumed // MICROSECOND,
        "since": _time(clock.since),
        "stopped_at": _time(clock.stopped_at),
        "stop_policy": clock.stop_policy.name if clock.stop_policy else None,
        "stop_due": _time(clock.stop_due),
        "last_run": [last_run[0].name, _time(last_run[1]), last_run[2] // MICROSECOND] if last_run else None,
        "breach": [breach[0].name, _time(breach[1])] if breach else None,
    }


def _load_clock(policies: PolicySet, data: dict[str, Any]) -> ClockState:
    clock = ClockState(data["metric"], data["seq"], _parse(data["started_at"]))
    clock.consumed = data["consumed"] * MICROSECOND
    clock.since, clock.stopped_at = _parse(data["since"]), _parse(data["stopped_at"])
    clock.stop_policy = policies.by_name(data["stop_policy"])
    clock.stop_due = _parse(data["stop_due"])
    if data["last_run"]:
        name, since, consumed = data["last_run"]
        clock.last_run = (_policy(policies, name), _parse(since), consumed * MICROSECOND)
    if data["breach"]:
        name, due = data["breach"]
        clock.breach = (_policy(policies, name), _parse(due))
    return clock


def _policy(policies: PolicySet, name: str):  # noqa: ANN202 - Policy
    policy = policies.by_name(name)
    if policy is None:  # cannot happen while the configuration key matches
        raise ValueError(f"checkpoint names unknown policy {name!r}")
    return policy


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None
