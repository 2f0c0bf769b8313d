"""The key that signs session cookies and CSRF tokens.

``[web] secret_key`` when configured (``init`` writes one). Without it a random key is generated once and
stored in ``web_secrets``: the row is inserted only if missing and then read back, so every worker and
every restart signs with the same key (a per-process key would log users out on each restart and make
gunicorn workers reject each other's cookies).
"""

from __future__ import annotations

import secrets
import threading

from flask import Flask
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..db import session_scope
from ..events import utcnow
from ..models.users import WebSecret
from ..runtime import Runtime

SESSION_KEY = "session_key"
_lock = threading.Lock()


def stored_secret(rt: Runtime, name: str) -> str:
    """The named secret from the database, generated on first use (the first inserter wins a race)."""
    with session_scope(rt.sessions) as session:
        row = {"name": name, "value": secrets.token_urlsafe(48), "created_at": utcnow()}
        _insert_if_missing(session, row)
        return session.execute(select(WebSecret.value).where(WebSecret.name == name)).scalar_one()


def _insert_if_missing(session: Session, row: dict[str, object]) -> None:
    # sqlutil.insert_ignore returns an ``id`` column this name-keyed table does not have
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(WebSecret.__table__).values(row).on_conflict_do_nothing(index_elements=["name"]))


def session_key(rt: Runtime) -> str:
    configured = rt.settings.web.secret_key
    if configured is not None and configured.get_secret_value():
        return configured.get_secret_value()
    return stored_secret(rt, SESSION_KEY)


def ensure_key(app: Flask, rt: Runtime) -> str:
    """Set ``app.secret_key`` on first need (the first request, not at import or app build)."""
    if not app.secret_key:
        with _lock:
            if not app.secret_key:
                app.secret_key = session_key(rt)
    return app.secret_key
