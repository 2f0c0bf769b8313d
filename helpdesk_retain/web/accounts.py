"""Dashboard users: creation, argon2id password hashes, checks and changes (the CLI and admin pages).

Contract: emails are stored stripped and lower-cased (unique); passwords are at least ``MIN_PASSWORD``
characters and only their argon2id hash is stored (OWASP's parameters, see ``hasher``; re-hashed at
sign-in when they change). ``verify_password`` takes about as long for an unknown email as for a wrong
password, so timing does not tell which addresses have accounts.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models.users import ROLES, User

MIN_PASSWORD, MAX_PASSWORD = 12, 1024
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
LANGUAGES = ("en", "zh_Hans")


class AccountError(ValueError):
    """A bad email, role, password or a duplicate account; the message says which."""


@cache
def hasher() -> PasswordHasher:
    # OWASP's argon2id baseline (19 MiB, 2 passes, 1 lane): argon2-cffi's default (64 MiB, 4 lanes) costs
    # ~300 ms per sign-in on a 2-core server, and every hash records its parameters, so they can be raised
    # later: ``signed_in`` re-hashes old hashes with the new ones
    return PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


@cache
def _dummy_hash() -> str:
    return hasher().hash("an unknown account is checked against this")


def normalize_email(value: str) -> str:
    email = (value or "").strip().lower()
    if not EMAIL.match(email) or len(email) > 320:
        raise AccountError(f"{value!r} is not an email address")
    return email


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    return role


def hash_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise AccountError(f"a password needs {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    return hasher().hash(password)


def find_user(session: Session, email: str) -> User | None:
    return session.execute(select(User).where(User.email == email.strip().lower())).scalar_one_or_none()


def create_user(session: Session, email: str, role: str, password: str, now: datetime, name: str | None = None) -> User:
    """Create an account (raises AccountError for bad values or an email that has one already)."""
    address, role, digest = normalize_email(email), check_role(role), hash_password(password)
    if find_user(session, address) is not None:
        raise AccountError(f"{address} has an account already")
    user = User(email=address, name=name or None, password_hash=digest, role=role, created_at=now, updated_at=now)
    session.add(user)
    session.flush()
    return user


def set_password(user: User, password: str, now: datetime) -> None:
    """New password; every session of the user ends."""
    user.password_hash = hash_password(password)
    user.session_epoch += 1
    user.updated_at = now


def verify_password(user: User | None, password: str) -> bool:
    """Whether ``user`` is active and ``password`` is theirs. Call it outside a transaction: argon2 is slow
    on purpose (tens of milliseconds). An unknown or inactive user costs the same as a wrong password."""
    stored = user.password_hash if user is not None and user.active else _dummy_hash()
    try:
        hasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False
    return user is not None and user.active


def signed_in(user: User, password: str, now: datetime) -> None:
    """After a verified sign-in: note the time, and re-hash when argon2-cffi's defaults got stronger."""
    if hasher().check_needs_rehash(user.password_hash):
        user.password_hash = hasher().hash(password)
    user.last_login_at = now


def change(user: User, now: datetime, *, role: str | None = None, active: bool | None = None) -> bool:
    """Change role or active state; a change ends the user's sessions. Returns whether anything changed."""
    changed = False
    if role is not None and role != user.role:
        user.role, changed = check_role(role), True
    if active is not None and active != user.active:
        user.active, changed = active, True
    if changed:
        user.session_epoch += 1
        user.updated_at = now
    return changed


def active_admins(session: Session) -> int:
    stmt = select(func.count()).select_from(User).where(User.role == "admin", User.active.is_(True))
    return int(session.execute(stmt).scalar_one())


def set_language(user: User, language: str | None, now: datetime) -> None:
    if language is not None and language not in LANGUAGES:
        raise AccountError(f"unknown language {language!r}")
    user.language = language
    user.updated_at = now
