"""The ``web`` blueprint, the signed-in user of a request, and role checks."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, g, request, session

from ..db import session_scope
from ..models.users import ROLES, User
from ..runtime import Runtime

bp = Blueprint("web", __name__)
F = TypeVar("F", bound=Callable[..., Any])


def runtime() -> Runtime:
    return current_app.extensions["helpdesk_retain"]


def public(view: F) -> F:
    """Mark a view as reachable without signing in (the sign-in page, the language switch)."""
    view.public = True  # type: ignore[attr-defined]
    return view


def is_public(endpoint: str | None) -> bool:
    view = current_app.view_functions.get(endpoint or "")
    return bool(getattr(view, "public", False))


def load_user() -> User | None:
    """The user the session cookie names, if still active and the session is still valid (``g.user``)."""
    if "user" in g:
        return g.user
    user = None
    uid, epoch = session.get("uid"), session.get("epoch")
    if isinstance(uid, int):
        with session_scope(runtime().sessions) as db:
            found = db.get(User, uid)
        if found is not None and found.active and found.session_epoch == epoch:
            user = found
        else:
            session.clear()  # deactivated, password reset or role changed: sign in again
    g.user = user
    return user


def current_user() -> User:
    user = load_user()
    if user is None:
        abort(401)
    return user


def has_role(user: User | None, role: str) -> bool:
    return user is not None and ROLES.index(user.role) >= ROLES.index(role)


def requires(role: str) -> Callable[[F], F]:
    """Decorator: the signed-in user must have ``role`` or a higher one, else 403."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not has_role(current_user(), role):
                abort(403)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go back to; anything pointing elsewhere (``//evil``, ``https://...``) is refused."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else default


def wants_fragment() -> bool:
    """htmx asked for a piece of a page (progressive enhancement; the full page works without it)."""
    return request.headers.get("HX-Request") == "true"
