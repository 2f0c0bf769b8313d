"""Dashboard accounts, the sign-in failure log that throttles guessing, and generated web secrets."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, String, Text
from sqlmodel import Field, SQLModel

from .types import BigId, UTCDateTime

ROLES = ("agent", "lead", "admin")


class User(SQLModel, table=True):
    """A person who signs in to the dashboard. ``email`` is stored lower-cased and is also how follow-ups
    find "mine" (the help desk's assignee address). ``password_hash`` is an argon2id PHC string.

    ``session_epoch`` is copied into the signed session cookie at sign-in; raising it (password reset,
    deactivation, role change) ends every session of the user at their next request.
    """

    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(sa_type=String(320), unique=True)
    name: str | None = Field(default=None, sa_type=String(200))
    password_hash: str = Field(sa_type=Text)
    #: agent | lead | admin (each role can do what the ones before it can)
    role: str = Field(default="agent", sa_type=String(8))
    #: en | zh_Hans; None: from the browser's Accept-Language
    language: str | None = Field(default=None, sa_type=String(16))
    active: bool = True
    session_epoch: int = 0
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class LoginAttempt(SQLModel, table=True):
    """One sign-in attempt counted against a throttle key (``account:<email>`` or ``ip:<address>``).

    A row is written before the password is checked and deleted again when the attempt succeeds or is
    refused by the throttle, so what stays are failures (and attempts in flight): the count within the
    window is the same for every worker process, because it lives in the database.
    """

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_key_at", "key", "at"),)

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    key: str = Field(sa_type=String(400))
    at: datetime = Field(sa_type=UTCDateTime)


class WebSecret(SQLModel, table=True):
    """A secret generated once and shared by every process (the session key when the config has none)."""

    __tablename__ = "web_secrets"

    name: str = Field(sa_type=String(64), primary_key=True)
    value: str = Field(sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime)
