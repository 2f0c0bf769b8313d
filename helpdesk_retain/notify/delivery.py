"""Delivering outbound messages exactly once per recorded outcome, with any number of scheduler processes.

Per message (DESIGN.md: record the attempt before the side effect, the outcome after):

1. **Claim**, committed before anything is sent: candidates ``state = 'pending' AND next_attempt_at <= now``
   (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent schedulers split a batch instead of queueing on
   it; SQLite's ``BEGIN IMMEDIATE`` serialises them), then ``UPDATE ... SET state = 'sending', attempts =
   attempts + 1 WHERE id IN (...) AND state = 'pending' RETURNING *``. Only one UPDATE can move a row.
2. **Send** through the channel's notifier (one connection per channel and run).
3. **Record** the batch's outcomes in one transaction, each conditional on the claim still being ours:
   ``sent``; a transient error puts the row back to ``pending`` at now + backoff (exponential with jitter,
   or the server's ``Retry-After``) until ``[notify] max_attempts`` claims are used, then ``failed``; a
   permanent error is ``failed`` at once. Either way ``last_error`` keeps the reason. (One transaction per
   batch rather than per message: a commit per message costs more than the send to a local relay.)

Crash recovery. A process killed between 1 and 3 leaves its claimed rows in ``sending``; of them only
those it had already handed over (at most one batch, ``[notify] batch_size``) can have reached the other
side. Nothing recorded ``sent`` is ever sent again: only ``pending`` rows are claimed. A ``sending`` row
whose claim is older than ``[notify] stale_after_seconds`` is recovered by the next run: ``on_stale =
"retry"`` (default) makes it ``pending`` again, so a message handed over just before the crash may arrive
twice, under the same Message-ID / ``webhook-id`` a receiver can deduplicate on, rather than never;
``on_stale = "fail"`` marks it ``failed`` with "unknown outcome" (at most once). A live process never
starts a send more than half the stale timeout after its claim (it releases the rest of its batch), so
recovery cannot take over a claim still being worked on, as long as hosts' clocks agree within half the
timeout and one send's timeouts stay below the other half.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import time
from collections.abc import Collection
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Text, bindparam, func, select, update

from ..db import is_postgres, session_scope
from ..models.types import UTCDateTime
from .channels import notifiers
from .contract import Notifier, PermanentError, Sender, TransientError
from .outbox import MESSAGES, to_outbound

if TYPE_CHECKING:
    from ..config import NotifySettings
    from ..runtime import Runtime

log = logging.getLogger(__name__)

#: a run claims at most this many batches; anything left is due again at the next tick
MAX_BATCHES = 1000
M = MESSAGES.c


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Clock:
    """The run's ``now`` advanced by monotonic time: a fixed clock in tests, real time in the scheduler."""

    start: datetime
    t0: float = field(default_factory=time.monotonic)

    def now(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.t0)


def backoff_seconds(cfg: NotifySettings, attempts: int, retry_after: float | None = None) -> float:
    """Delay before the next attempt: the server's ``Retry-After`` if given, else exponential with jitter
    (between half and all of ``backoff_seconds * 2 ** (attempts - 1)``, capped at ``max_backoff_seconds``)."""
    if retry_after is not None:
        return max(0.0, retry_after)
    ceiling = min(cfg.max_backoff_seconds, cfg.backoff_seconds * 2.0 ** min(attempts - 1, 60))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def run_due_messages(rt: Runtime, now: datetime) -> int:
    """Send every message due by ``now``; returns how many outcomes (sent, retry, failed, stale) were recorded."""
    clock = Clock(now)
    handled = recover_stale(rt, clock.now())
    with ExitStack() as stack:
        run = Run(rt, clock, worker_id(), notifiers(rt), stack)
        for _ in range(MAX_BATCHES):
            batch = claim(rt, clock.now(), rt.settings.notify.batch_size, run.worker, exclude=set(run.down))
            if not batch:
                break
            handled += run.deliver(batch)
            if len(batch) < rt.settings.notify.batch_size:
                break
    return handled


def claim(rt: Runtime, now: datetime, limit: int, worker: str, exclude: Collection[str] = ()) -> list[Any]:
    """Move up to ``limit`` due messages to ``sending`` for ``worker`` and commit; returns the claimed rows."""
    stmt = select(M.id).where(M.state == "pending", M.next_attempt_at <= now)
    if exclude:
        stmt = stmt.where(M.channel.not_in(sorted(exclude)))
    stmt = stmt.order_by(M.next_attempt_at, M.id).limit(limit)
    with session_scope(rt.sessions) as session:
        if is_postgres(session):
            stmt = stmt.with_for_update(skip_locked=True)
        ids = list(session.execute(stmt).scalars())
        if not ids:
            return []
        claimed = session.execute(
            update(MESSAGES)
            .where(M.id.in_(ids), M.state == "pending")
            .values(state="sending", attempts=M.attempts + 1, claimed_at=now, claimed_by=worker)
            .returning(*MESSAGES.c)
        ).all()
    return sorted(claimed, key=lambda row: (row.next_attempt_at, row.id))


def recover_stale(rt: Runtime, now: datetime) -> int:
    """Recover ``sending`` rows whose claim is older than the stale timeout (see the module docstring)."""
    cfg = rt.settings.notify
    cutoff = now - timedelta(seconds=cfg.stale_after_seconds)
    stmt = select(M.id, M.channel, M.attempts).where(M.state == "sending", M.claimed_at < cutoff).limit(1000)
    with session_scope(rt.sessions) as session:
        if is_postgres(session):
            stmt = stmt.with_for_update(skip_locked=True)
        rows = session.execute(stmt).all()
        retry = [r for r in rows if cfg.on_stale == "retry" and r.attempts < cfg.max_attempts]
        retried = {r.id for r in retry}
        fail = [r for r in rows if r.id not in retried]
        reason = f"unknown outcome: its process stopped mid-send (claim older than {cfg.stale_after_seconds:g}s)"
        for group, values in (
            (retry, {"state": "pending", "next_attempt_at": now, "last_error": reason + "; retried"}),
            (fail, {"state": "failed", "failed_at": now, "last_error": reason + "; not retried"}),
        ):
            if group:
                ids = [r.id for r in group]
                cond = (M.id.in_(ids), M.state == "sending", M.claimed_at < cutoff)
                session.execute(update(MESSAGES).where(*cond).values(**values))
    for row in rows:
        rt.metrics.messages.labels(row.channel, "stale_retry" if row.id in retried else "stale_failed").inc()
        log.warning("message %s on %s: stale claim recovered (%s)", row.id, row.channel, cfg.on_stale)
    return len(rows)


@dataclass
class Run:
    """One ``run_due_messages`` call: its connections, and channels found down (skipped until the run ends)."""

    rt: Runtime
    clock: Clock
    worker: str
    registry: dict[str, Notifier]
    #: closes the run's notifier connections and database connection
    stack: ExitStack
    down: dict[str, datetime] = field(default_factory=dict)
    senders: dict[str, Sender] = field(default_factory=dict)
    conn: Connection | None = None
    #: outcomes of the batch being sent, recorded by ``flush``: (outcome, channel, statement parameters)
    outcomes: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def deliver(self, batch: list[Any]) -> int:
        """Send a claimed batch; its outcomes are recorded together at the end (also if a send raised)."""
        claimed_at = time.monotonic()
        budget = self.rt.settings.notify.stale_after_seconds / 2
        handled = 0
        try:
            for index, row in enumerate(batch):
                if row.channel in self.down:
                    self.release(row, self.down[row.channel])
                elif time.monotonic() - claimed_at > budget:
                    # past half the stale timeout another process may take these over: hand them back unsent
                    for rest in batch[index:]:
                        self.release(rest, None)
                    break
                else:
                    self.attempt(row)
                    handled += 1
        finally:
            self.flush()
        return handled

    def sender(self, channel: str) -> Sender:
        if channel not in self.senders:
            notifier = self.registry.get(channel)
            if notifier is None:
                raise PermanentError(f"channel {channel!r} is not configured in [notify.channels]")
            self.senders[channel] = self.stack.enter_context(notifier.connection())
        return self.senders[channel]

    def attempt(self, row: Any) -> None:
        try:
            self.sender(row.channel)(to_outbound(row))
        except TransientError as exc:
            self.retry(row, exc)
        except PermanentError as exc:
            self.fail(row, str(exc))
        except Exception as exc:  # a plugin bug: logged, retried with backoff, bounded by max_attempts
            log.exception("notifier %s raised an unexpected error", row.channel)
            self.retry(row, TransientError(f"{type(exc).__name__}: {exc}"))
        else:
            self.record(row, "sent", self.clock.now())

    def retry(self, row: Any, exc: TransientError) -> None:
        cfg = self.rt.settings.notify
        at = self.clock.now() + timedelta(seconds=backoff_seconds(cfg, row.attempts, exc.retry_after))
        if exc.whole_channel:
            self.down[row.channel] = at
        if row.attempts >= cfg.max_attempts:
            self.fail(row, f"gave up after {row.attempts} attempts: {exc}")
        else:
            log.info("message %s on %s: %s; retry at %s", row.id, row.channel, exc, at.isoformat())
            self.record(row, "retry", at, str(exc))

    def fail(self, row: Any, error: str) -> None:
        log.warning("message %s on %s failed: %s", row.id, row.channel, error)
        self.record(row, "failed", self.clock.now(), error)

    def record(self, row: Any, outcome: str, at: datetime | None, error: str | None = None) -> None:
        """Note an outcome for ``flush``; ``release`` hands a row back unsent (not an attempt), due at ``at``
        or as it was."""
        params = {"b_id": row.id, "b_worker": self.worker, "b_at": at}
        if outcome in ("retry", "failed"):
            params["b_error"] = error
        self.outcomes.append((outcome, row.channel, params))

    def release(self, row: Any, next_attempt_at: datetime | None) -> None:
        self.record(row, "release", next_attempt_at)

    def flush(self) -> None:
        """Record the noted outcomes in one transaction, each only where the claim is still ours (a stale
        recovery may have taken it over meanwhile)."""
        done, self.outcomes = self.outcomes, []
        if not done:
            return
        if self.conn is None:
            self.conn = self.stack.enter_context(self.rt.engine.connect())
        with self.conn.begin():
            for outcome, stmt in OUTCOMES.items():
                params = [p for o, _, p in done if o == outcome]
                recorded = self.conn.execute(stmt, params).rowcount if params else 0
                if 0 <= recorded < len(params):
                    log.warning(
                        "%d claim(s) lost before their outcome (%s) was recorded", len(params) - recorded, outcome
                    )
        for outcome, channel, _ in done:
            if outcome != "release":
                self.rt.metrics.messages.labels(channel, outcome).inc()


def _outcomes() -> dict[str, Any]:
    """Prebuilt statements (compiled once) that record an outcome when the claim is still this worker's."""
    mine = (M.id == bindparam("b_id"), M.state == "sending", M.claimed_by == bindparam("b_worker"))
    at = bindparam("b_at", type_=UTCDateTime())
    error = bindparam("b_error", type_=Text())
    stmt = update(MESSAGES).where(*mine)
    return {
        "sent": stmt.values(state="sent", sent_at=at, last_error=None),
        "retry": stmt.values(state="pending", next_attempt_at=at, last_error=error),
        "failed": stmt.values(state="failed", failed_at=at, last_error=error),
        "release": stmt.values(
            state="pending", attempts=M.attempts - 1, next_attempt_at=func.coalesce(at, M.next_attempt_at)
        ),
    }


OUTCOMES = _outcomes()
