"""Sign-in throttling per account and per client address, kept in the database (``login_attempts``).

Why the database and not Flask-Limiter: its shared storages are Redis/Memcached/MongoDB, which this
service does not run; its in-memory storage counts per process, so N gunicorn workers would allow N
times the limit. One small table works with SQLite and PostgreSQL and with any number of workers.

Protocol (claim before the side effect): an attempt first commits one row per key, then counts the rows
of each key inside the window, its own included. Whoever counts more than the limit is refused and
deletes its rows, so hammering a locked account does not extend its lock; a success deletes its rows
and the account's earlier failures. Concurrent attempts each see at least the rows committed before
their own, so no more than the limit of them get to check a password.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..config import WebSettings
from ..models.users import LoginAttempt


@dataclass(frozen=True)
class Attempt:
    keys: tuple[str, str]
    ids: tuple[int, ...]


def keys_for(email: str, address: str | None) -> tuple[str, str]:
    return (f"account:{email.strip().lower()[:320]}", f"ip:{address or 'unknown'}")


def begin(session: Session, email: str, address: str | None, now: datetime) -> Attempt:
    """Record the attempt (commit it before counting; see the module docstring)."""
    keys = keys_for(email, address)
    rows = [LoginAttempt(key=key, at=now) for key in keys]
    session.add_all(rows)
    session.flush()
    return Attempt(keys, tuple(r.id or 0 for r in rows))


def refused_for(session: Session, cfg: WebSettings, attempt: Attempt, now: datetime) -> int | None:
    """Seconds until the attempt would be allowed, or None when it may go on."""
    window = timedelta(minutes=cfg.login_window_minutes)
    limits = {attempt.keys[0]: cfg.login_failures_per_account, attempt.keys[1]: cfg.login_failures_per_ip}
    waits = []
    for key, limit in limits.items():
        stmt = select(LoginAttempt.at).where(LoginAttempt.key == key, LoginAttempt.at > now - window)
        times = sorted(session.execute(stmt.order_by(LoginAttempt.at)).scalars())
        if len(times) > limit:
            # allowed again once enough of the oldest failures leave the window
            waits.append(int((times[len(times) - limit - 1] + window - now).total_seconds()) + 1)
    return max(waits) if waits else None


def forget(session: Session, attempt: Attempt, *, succeeded: bool) -> None:
    """Drop the attempt's rows; after a success also the account's failures (not the address's)."""
    session.execute(delete(LoginAttempt).where(LoginAttempt.id.in_(attempt.ids)))
    if succeeded:
        session.execute(delete(LoginAttempt).where(LoginAttempt.key == attempt.keys[0]))


def prune(session: Session, cfg: WebSettings, now: datetime) -> int:
    """Delete rows older than the window (they no longer count); returns how many."""
    cutoff = now - timedelta(minutes=cfg.login_window_minutes)
    return session.execute(delete(LoginAttempt).where(LoginAttempt.at <= cutoff)).rowcount or 0
