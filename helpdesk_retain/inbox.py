"""The delivery inbox: accept, deduplicate, apply, keep dead letters, replay them.

Contract of ``accept``: the delivery row and everything its events change commit in ONE transaction;
a second delivery with the same (source, delivery id) changes nothing and reports "duplicate", also
when both race (the unique constraint decides). A body that cannot be parsed, or whose events fail to
apply, is kept as a dead letter with the error, for ``replay``.

``accept_many`` is ``accept`` for deliveries that arrived together (``group_commit``): they share one
transaction, and each delivery's row still commits with its events; if the shared transaction fails, each is
accepted again on its own, so only a delivery at fault fails.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from .db import UNAVAILABLE, session_scope
from .events import Event, utcnow
from .groupcommit import GroupCommit
from .ingest import Context, apply_events, finish_apply, preload
from .integrations import Integration, IntegrationError, body_hash
from .models import Delivery
from .runtime import Runtime
from .sqlutil import insert_ignore, insert_ignore_many

log = logging.getLogger(__name__)

#: headers never stored with a delivery (credentials); everything else is kept so replay can re-parse
SECRET_HEADERS = frozenset({"authorization", "cookie", "x-webhook-secret", "proxy-authorization"})


@dataclass(frozen=True)
class Accepted:
    status: str  # accepted | duplicate
    delivery_id: str
    row_id: int | None
    events: int


def storable_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items() if k.lower() not in SECRET_HEADERS}


def delivery_key(integration: Integration, headers: Mapping[str, str], body: bytes) -> str:
    return (integration.delivery_id(headers, body) or "sha256:" + body_hash(body))[:200]


def accept(
    rt: Runtime,
    source: str,
    key: str,
    headers: Mapping[str, str],
    body: bytes,
    events: list[Event],
    now: datetime | None = None,
) -> Accepted:
    """Record the delivery and apply its events atomically (see the module contract)."""
    return _accept(rt, Pending(source, key, storable_headers(headers), body, events), now)


def _accept(rt: Runtime, d: Pending, now: datetime | None = None) -> Accepted:
    now = now or utcnow()
    with session_scope(rt.sessions) as session:
        row_id = insert_ignore(session, Delivery.__table__, inbox_row(d, now), ["source", "delivery_id"])
        if row_id is None:
            return Accepted("duplicate", d.key, None, 0)
        accepted, _ctx = _apply_recorded(rt, session, d, row_id, now)
    return accepted


def _apply_recorded(
    rt: Runtime, session: Session, d: Pending, row_id: int, now: datetime, *, finish: bool = True
) -> tuple[Accepted, Context]:
    """Apply the events of ``d``, recorded in the inbox as ``row_id``, in ``session``'s transaction; with the
    context used. ``finish=False`` leaves the finish steps to the caller (``finish_apply``)."""
    ctx = Context(session, rt.settings, d.source, rt.source_config(d.source), now, delivery_row_id=row_id)
    apply_events(ctx, d.events, rt.steps, finish=finish)
    return Accepted("accepted", d.key, row_id, len(d.events)), ctx


#: PostgreSQL errors of a batch that are no reason to answer 503: deadlock detected (two batches of other processes
#: locking the same tickets in another order) and serialization failure. Each delivery is then accepted on its own,
#: which locks one ticket at a time.
RETRY_ALONE = frozenset({"40P01", "40001"})


@dataclass(frozen=True)
class Pending:
    """A verified, parsed delivery waiting to be accepted; ``headers`` as stored (``storable_headers``)."""

    source: str
    key: str
    headers: dict[str, str]
    body: bytes | None  # None: a line of ``import``, which keeps no body
    events: list[Event]


def accept_many(rt: Runtime, deliveries: list[Pending]) -> list[Accepted | Exception]:
    """Accept deliveries in one transaction, in order; per delivery its ``Accepted`` or the exception it failed with.

    Each delivery is recorded and applied as ``accept`` would (a duplicate of a delivery stored earlier, or earlier
    in the same batch, is reported and changes nothing); the finish steps and the queued rows run once for all, as
    for an import batch. If the transaction fails, each delivery is accepted again in its own transaction and gets
    its own outcome, except when the database is unavailable: then every one gets that error (answered 503)."""
    if len(deliveries) == 1:
        return [_accept_alone(rt, deliveries[0])]
    try:
        results: list[Accepted | Exception] = []
        with session_scope(rt.sessions) as session:
            row_ids = _record_many(session, deliveries, utcnow())
            recorded = [d for d, row_id in zip(deliveries, row_ids, strict=True) if row_id is not None]
            if len({d.source for d in recorded}) == 1:  # the tickets of the batch read (and locked) together
                preload(session, recorded[0].source, [ev for d in recorded for ev in d.events])
            last: Context | None = None
            for d, row_id in zip(deliveries, row_ids, strict=True):
                if row_id is None:
                    results.append(Accepted("duplicate", d.key, None, 0))
                    continue
                accepted, last = _apply_recorded(rt, session, d, row_id, utcnow(), finish=False)
                results.append(accepted)
            if last is not None:  # once for the batch, as for an import batch
                finish_apply(last, rt.steps)
        return results
    except UNAVAILABLE as exc:
        if getattr(getattr(exc, "orig", None), "sqlstate", None) not in RETRY_ALONE:
            return [exc] * len(deliveries)
        log.info("a batch of %d deliveries met a conflict; accepting each on its own: %s", len(deliveries), exc)
        return [_accept_alone(rt, d) for d in deliveries]
    except Exception:
        log.info("a batch of %d deliveries failed; accepting each on its own", len(deliveries), exc_info=True)
        return [_accept_alone(rt, d) for d in deliveries]


#: what the batch INSERT of inbox rows returns per new row
RETURNED = ("source", "delivery_id", "id")


def _record_many(session: Session, deliveries: list[Pending], now: datetime) -> list[int | None]:
    """The inbox rows of a batch, in one round trip; per delivery its row id, or None for a duplicate (of a delivery
    stored before, or of one earlier in the batch). On PostgreSQL a concurrent transaction inserting the same
    delivery makes this wait for it, and its row then counts as stored before."""
    first: dict[tuple[str, str], Pending] = {}
    for d in deliveries:
        first.setdefault((d.source, d.key), d)
    rows = [inbox_row(d, now) for d in first.values()]
    returned = insert_ignore_many(session, Delivery.__table__, rows, ["source", "delivery_id"], RETURNED)
    ids = {(source, key): row_id for source, key, row_id in returned}
    return [ids.pop((d.source, d.key), None) for d in deliveries]  # the first occurrence takes the row


def _accept_alone(rt: Runtime, d: Pending) -> Accepted | Exception:
    try:
        return _accept(rt, d)
    except Exception as exc:
        return exc


def group_commit(rt: Runtime) -> GroupCommit[Pending, Accepted]:
    """The runtime's batcher of webhook deliveries (one per process), made on first use."""
    committer = rt.extras.get(_GROUP_COMMIT)
    if committer is None:
        with _GROUP_COMMIT_LOCK:
            committer = rt.extras.get(_GROUP_COMMIT)
            if committer is None:
                committer = rt.extras[_GROUP_COMMIT] = GroupCommit(lambda batch: accept_many(rt, batch))
    return committer


_GROUP_COMMIT = "inbox.group_commit"
_GROUP_COMMIT_LOCK = threading.Lock()


def inbox_row(d: Pending, now: datetime, *, error: str | None = None) -> dict[str, object]:
    """The inbox row of ``d`` received at ``now``: accepted and applied then, or with ``error`` a dead letter."""
    return {
        "source": d.source,
        "delivery_id": d.key,
        "received_at": now,
        "body": d.body,
        "headers": d.headers,
        "state": "processed" if error is None else "dead",
        "error": None if error is None else error[:4000],
        "events": len(d.events) if error is None else 0,
        "processed_at": now if error is None else None,
    }


def keep_dead_letter(
    rt: Runtime,
    source: str,
    key: str,
    headers: Mapping[str, str],
    body: bytes,
    error: str,
    now: datetime | None = None,
) -> int:
    """Store (or find) the dead letter for this delivery; returns its row id."""
    now = now or utcnow()
    with session_scope(rt.sessions) as session:
        dead = inbox_row(Pending(source, key, storable_headers(headers), body, []), now, error=error)
        row_id = insert_ignore(session, Delivery.__table__, dead, ["source", "delivery_id"])
        if row_id is None:
            stmt = select(Delivery.id).where(Delivery.source == source, Delivery.delivery_id == key)
            row_id = session.execute(stmt).scalar_one()
    return row_id


def parse_stored(rt: Runtime, row: Delivery) -> list[Event]:
    integration = rt.integrations.get(row.source)
    if integration is None:
        raise IntegrationError(f"source {row.source!r} is not configured")
    return integration.parse(row.headers, row.body or b"")


def replay(rt: Runtime, row_id: int, now: datetime | None = None) -> str:
    """Re-parse and re-apply one dead letter. Returns "processed", "still dead: <error>" or "not dead".

    The dead -> processed transition is claimed by a conditional UPDATE in the same transaction as the
    apply, so two concurrent replays apply it once.
    """
    now = now or utcnow()
    with session_scope(rt.sessions) as session:
        row = session.get(Delivery, row_id)
        if row is None or row.state != "dead":
            return "not dead"
        try:
            events = parse_stored(rt, row)
        except IntegrationError as exc:
            row.error = str(exc)[:4000]
            return f"still dead: {exc}"
        except Exception as exc:  # a parser's own bug: this letter stays dead, a replay of all goes on
            log.exception("replay of delivery %s: parsing failed", row_id)
            row.error = f"parse failed: {exc!r}"[:4000]
            return f"still dead: {exc!r}"
        claimed = session.execute(
            update(Delivery)
            .where(Delivery.id == row_id, Delivery.state == "dead")
            .values(state="processed", error=None, events=len(events), processed_at=now)
        ).rowcount
        if claimed != 1:
            return "not dead"
        ctx = Context(session, rt.settings, row.source, rt.source_config(row.source), now, delivery_row_id=row_id)
        savepoint = session.begin_nested()
        try:
            apply_events(ctx, events, rt.steps)
            savepoint.commit()
        except Exception as exc:  # keep it dead with the new error; the caller sees why
            savepoint.rollback()
            session.execute(
                update(Delivery)
                .where(Delivery.id == row_id)
                .values(state="dead", error=repr(exc)[:4000], processed_at=None)
            )
            log.exception("replay of delivery %s failed", row_id)
            return f"still dead: {exc!r}"
    return "processed"


def dead_letters(rt: Runtime, limit: int = 1000) -> list[Delivery]:
    with session_scope(rt.sessions) as session:
        stmt = select(Delivery).where(Delivery.state == "dead").order_by(Delivery.id).limit(limit)
        return list(session.execute(stmt).scalars())


def run_due_purge(rt: Runtime, now: datetime) -> int:
    """Drop raw bodies of processed deliveries older than the configured days (dead letters are kept)."""
    cutoff = now - timedelta(days=rt.settings.inbox.purge_processed_after_days)
    with session_scope(rt.sessions) as session:
        result = session.execute(
            update(Delivery)
            .where(Delivery.state == "processed", Delivery.received_at < cutoff, Delivery.body.is_not(None))
            .values(body=None)
        )
        return result.rowcount or 0


def discard(rt: Runtime, row_id: int) -> bool:
    with session_scope(rt.sessions) as session:
        return bool(session.execute(delete(Delivery).where(Delivery.id == row_id, Delivery.state == "dead")).rowcount)
