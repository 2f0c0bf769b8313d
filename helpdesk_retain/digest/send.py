"""Sending the digest exactly once per ISO week, from any number of scheduler processes.

Protocol (DESIGN.md: claim before the side effect):

0. a cheap read: nothing to do if the week's row is claimed (or waits for its retry time);
1. compute the figures and render the digest, outside any write transaction (on SQLite every transaction
   holds the write lock, and webhooks must not wait for matplotlib);
2. in ONE transaction: insert the week's ``digests`` row if missing (insert-or-nothing on the unique week;
   on PostgreSQL a concurrent inserter waits for the first transaction and then finds the row), read it
   unclaimed (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises writers) and
   claim it with a conditional UPDATE (``claimed_at IS NULL AND sends = <read>``; a row count of 0 means
   another process has it), enqueue one message per recipient through ``notify.outbox.enqueue`` (dedupe
   key ``digest:<week>:<recipient>``, so not even a lost claim could enqueue a mail twice), mark it queued;
3. ``notify.delivery.run_due_messages`` delivers the messages (each claimed again, sent once).

Two processes may both render in 1; only one claims in 2. A failure rolls its transaction back and is then
recorded on the row (``error``, ``retry_at``) in a new transaction, so the sweep tries again after
``RETRY_AFTER`` instead of on every tick. ``force`` re-sends a week that was sent: it claims the row whatever
``claimed_at`` says, and the dedupe keys get ``#<n>`` for the n-th send.

The scheduler's job ``run_due_digest(runtime, now)`` sends only the newest due week (``weeks.due_week``):
after downtime the missed week is sent once; weeks before it are never sent late.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from ..db import is_postgres, session_scope
from ..models.digest import Digest
from ..notify.delivery import worker_id
from ..notify.outbox import enqueue
from ..sqlutil import insert_ignore
from .figures import week_figures
from .render import Rendered, render
from .weeks import IsoWeek, due_week

if TYPE_CHECKING:
    from ..runtime import Runtime

log = logging.getLogger(__name__)

DIGESTS = Digest.__table__
D = DIGESTS.c
RETRY_AFTER = timedelta(minutes=15)
_JSON = TypeAdapter(dict[str, Any])


class DigestError(Exception):
    """The digest cannot be sent as configured (no recipients, unknown channel); the message says which key."""


def figures_json(figures: dict[str, Any]) -> dict[str, Any]:
    """The figures with datetimes as ISO strings, as the API answers them and the row stores them."""
    return _JSON.dump_python(figures, mode="json")


def online_url(runtime: Runtime, week: IsoWeek) -> str | None:
    base = runtime.settings.digest.base_url
    return f"{base.rstrip('/')}/digest/{week}" if base else None


def compose(runtime: Runtime, week: IsoWeek, now: datetime) -> tuple[dict[str, Any], Rendered]:
    """The week's figures (JSON-ready, read in their own transaction) and the digest rendered from them in
    ``[digest].language``. Rendering holds no transaction: on SQLite every transaction holds the write lock."""
    with session_scope(runtime.sessions) as session:
        figures = figures_json(week_figures(session, runtime.settings, week, now))
    return figures, render(figures, runtime.settings.digest.language, online_url=online_url(runtime, week))


def check_sendable(runtime: Runtime) -> None:
    from ..notify.channels import channel_tables

    cfg = runtime.settings.digest
    if not cfg.recipients:
        raise DigestError("digest.recipients: no recipients configured")
    if cfg.channel not in channel_tables(runtime.settings.notify):
        raise DigestError(f"digest.channel: unknown channel {cfg.channel!r}; define [notify.channels.{cfg.channel}]")


def claim(session: Session, week: IsoWeek, zone: str, now: datetime, force: bool) -> tuple[int, int] | None:
    """Claim the week's row for this process: ``(row id, sends so far)``, or None when it is not ours to send."""
    values = {"week": str(week), "timezone": zone, "state": "pending", "created_at": now, "sends": 0}
    insert_ignore(session, DIGESTS, {**values, "recipients": [], "figures": {}}, ["week"])
    stmt = select(D.id, D.sends).where(D.week == str(week))
    if not force:
        stmt = stmt.where(D.claimed_at.is_(None), or_(D.retry_at.is_(None), D.retry_at <= now))
    if is_postgres(session):
        stmt = stmt.with_for_update(skip_locked=True)
    row = session.execute(stmt).first()
    if row is None:
        return None
    conditions = [D.id == row.id, D.sends == row.sends]
    if not force:
        conditions.append(D.claimed_at.is_(None))
    result = session.execute(update(DIGESTS).where(*conditions).values(claimed_at=now, claimed_by=worker_id()))
    return (row.id, row.sends) if result.rowcount == 1 else None


def dedupe_key(week: IsoWeek, recipient: str, send: int) -> str:
    """``digest:<week>:<recipient>`` for the first send; a forced n-th send adds ``#<n>``."""
    key = f"digest:{week}:{recipient.strip().lower()}"
    return key if send == 1 else f"{key}#{send}"


def sendable(session: Session, week: IsoWeek, now: datetime, force: bool) -> bool:
    """Cheap check before rendering: no row yet, or an unclaimed one whose retry time has come (or ``force``)."""
    row = session.execute(select(D.claimed_at, D.retry_at).where(D.week == str(week))).first()
    if row is None or force:
        return True
    return row.claimed_at is None and (row.retry_at is None or row.retry_at <= now)


def send_week(runtime: Runtime, week: IsoWeek, now: datetime, *, force: bool = False) -> int:
    """Render, then claim and enqueue the week's digest (see the module docstring); returns messages enqueued."""
    check_sendable(runtime)
    with session_scope(runtime.sessions) as session:
        if not sendable(session, week, now, force):
            return 0
    try:
        figures, rendered = compose(runtime, week, now)
        with session_scope(runtime.sessions) as session:
            claimed = claim(session, week, runtime.settings.digest.timezone, now, force)
            if claimed is None:
                return 0
            count = enqueue_all(session, runtime, week, claimed, figures, rendered, now)
    except Exception as exc:
        _record_failure(runtime, week, now, exc)
        raise
    log.info("digest %s: %d message(s) enqueued", week, count)
    return count


def enqueue_all(
    session: Session,
    runtime: Runtime,
    week: IsoWeek,
    claimed: tuple[int, int],
    figures: dict[str, Any],
    rendered: Rendered,
    now: datetime,
) -> int:
    """One message per recipient, and the row marked queued, in the claiming transaction."""
    cfg = runtime.settings.digest
    row_id, sends = claimed
    count = 0
    for recipient in dict.fromkeys(cfg.recipients):
        key = dedupe_key(week, recipient, sends + 1)
        mail = {"subject": rendered.subject, "text": rendered.text, "html": rendered.html, "images": rendered.images}
        added = enqueue(
            session, dedupe_key=key, kind="digest", channel=cfg.channel, recipient=recipient, now=now, **mail
        )
        count += added is not None
    values = {"state": "queued", "queued_at": now, "sends": sends + 1, "recipients": list(cfg.recipients)}
    values.update(language=cfg.language, subject=rendered.subject, figures=figures, error=None, retry_at=None)
    session.execute(update(DIGESTS).where(D.id == row_id).values(**values))
    return count


def _record_failure(runtime: Runtime, week: IsoWeek, now: datetime, exc: Exception) -> None:
    """Note the error on the (unclaimed) row and push the next attempt back by ``RETRY_AFTER``."""
    zone = runtime.settings.digest.timezone
    try:
        with session_scope(runtime.sessions) as session:
            values = {"week": str(week), "timezone": zone, "state": "pending", "created_at": now, "sends": 0}
            insert_ignore(session, DIGESTS, {**values, "recipients": [], "figures": {}}, ["week"])
            session.execute(
                update(DIGESTS)
                .where(D.week == str(week), D.claimed_at.is_(None))
                .values(error=f"{type(exc).__name__}: {exc}"[:2000], retry_at=now + RETRY_AFTER)
            )
    except Exception:
        log.exception("digest %s: could not record the failure", week)


def run_due_digest(runtime: Runtime, now: datetime) -> int:
    """Scheduler job: send the newest due week's digest unless it was sent; returns messages enqueued."""
    cfg = runtime.settings.digest
    if not cfg.recipients:
        return 0
    week = due_week(now, cfg.send_at, cfg.timezone)
    with session_scope(runtime.sessions) as session:
        done = session.execute(select(D.id).where(D.week == str(week), D.claimed_at.is_not(None))).first()
    if done is not None:
        return 0
    return send_week(runtime, week, now)


def delivery_states(runtime: Runtime, week: IsoWeek) -> dict[str, int]:
    """How the week's digest messages stand: ``{"sent": n, "pending": n, ...}`` (every send, forced ones too)."""
    from ..models.messages import Message

    stmt = (
        select(Message.state, func.count())
        .where(Message.kind == "digest", Message.dedupe_key.like(f"digest:{week}:%"))
        .group_by(Message.state)
    )
    with session_scope(runtime.sessions) as session:
        return {state: int(n) for state, n in session.execute(stmt)}
