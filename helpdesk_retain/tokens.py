"""API bearer tokens: created once, shown once, stored as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .models import ApiToken

PREFIX = "hr_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, name: str, now: datetime) -> str:
    """Create a token named ``name`` and return it in clear (the only time it is available)."""
    token = PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(name=name, token_hash=hash_token(token), created_at=now))
    session.flush()
    return token


def check_token(session: Session, token: str, now: datetime) -> ApiToken | None:
    row = session.execute(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).scalar_one_or_none()
    if row is not None and (row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60):
        session.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
    return row
