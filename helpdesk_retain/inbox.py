"""The delivery inbox: accept, deduplicate, apply, keep dead letters, replay them.

Contract of ``accept``: the delivery row and everything its events change commit in ONE transaction;
a second delivery with the same (source, delivery id) changes nothing and reports "duplicate", also
when both race (the unique constraint decides). A body that cannot be parsed, or whose events fail to
apply, is kept as a dead letter with the error, for ``replay``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from .db import session_scope
from .events import Event, utcnow
from .ingest import Context, apply_events
from .integrations import Integration, IntegrationError, body_hash
from .models import Delivery
from .runtime import Runtime
from .sqlutil import insert_ignore

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
    now = now or utcnow()
    with session_scope(rt.sessions) as session:
        row_id = insert_ignore(
            session,
            Delivery.__table__,
            {
                "source": source,
                "delivery_id": key,
                "received_at": now,
                "body": body,
                "headers": storable_headers(headers),
                "state": "processed",
                "events": len(events),
                "processed_at": now,
            },
            ["source", "delivery_id"],
        )
        if row_id is None:
            return Accepted("duplicate", key, None, 0)
        ctx = Context(session, rt.settings, source, rt.source_config(source), now, delivery_row_id=row_id)
        apply_events(ctx, events, rt.steps)
    return Accepted("accepted", key, row_id, len(events))


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
        row_id = insert_ignore(
            session,
            Delivery.__table__,
            {
                "source": source,
                "delivery_id": key,
                "received_at": now,
                "body": body,
                "headers": storable_headers(headers),
                "state": "dead",
                "error": error[:4000],
                "events": 0,
            },
            ["source", "delivery_id"],
        )
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
