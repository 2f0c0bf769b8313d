"""Wiring the dashboard into the app when its blueprint is registered: session cookies, CSRF, Babel, the
reverse proxy, security headers, HTML error pages, and the sign-in check of other features' pages."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from flask import Flask, Response, g, redirect, render_template, request, url_for
from flask.blueprints import BlueprintSetupState
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from ..config import WebSettings
from ..db import UNAVAILABLE
from ..warmup import freeze_for_good
from .base import bp, has_role, is_public, load_user, runtime
from .i18n import WebBabel, select_language
from .secret import ensure_key

#: routes that authenticate with signatures or bearer tokens, never cookies: no CSRF token to check
# machine routes: signatures or bearer tokens (no CSRF), and probes that must answer without the database
MACHINE_PREFIXES = ("/api", "/webhooks", "/healthz", "/readyz", "/metrics", "/openapi.json")
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class WebSessionInterface(SecureCookieSessionInterface):
    """Signed-cookie sessions whose key is loaded on first need and whose Secure flag follows the request."""

    def __init__(self, cfg: WebSettings) -> None:
        self.cfg = cfg

    def get_signing_serializer(self, app: Flask) -> Any:
        ensure_key(app, app.extensions["helpdesk_retain"])
        return super().get_signing_serializer(app)

    def open_session(self, app: Flask, request: Any) -> Any:
        if app.config["SESSION_COOKIE_NAME"] not in request.cookies:
            return self.session_class()  # webhooks and API calls never touch the key
        return super().open_session(app, request)

    def get_cookie_secure(self, app: Flask) -> bool:
        mode = self.cfg.secure_cookies
        return bool(request.is_secure) if mode == "auto" else bool(mode)


def init_app(state: BlueprintSetupState) -> None:
    app = state.app
    cfg: WebSettings = app.extensions["helpdesk_retain"].settings.web
    app.config.update(
        SESSION_COOKIE_NAME="helpdesk_retain_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=cfg.session_hours),
        WTF_CSRF_CHECK_DEFAULT=False,  # checked in ``guard`` below, after the sign-in check
        WTF_CSRF_TIME_LIMIT=cfg.session_hours * 3600,
    )
    app.session_interface = WebSessionInterface(cfg)
    if cfg.trust_proxy:
        hops = cfg.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)  # type: ignore[method-assign]
    csrf = CSRFProtect(app)
    zone = cfg.timezone or app.extensions["helpdesk_retain"].settings.digest.timezone
    WebBabel(app, locale_selector=select_language, default_timezone=zone)
    app.before_request(freeze_long_lived)
    app.before_request(lambda: guard(app, csrf))
    app.extensions["helpdesk_retain.page_auth"] = lambda: page_auth("lead")
    from .templating import register_template_helpers

    register_template_helpers(app)


_frozen = threading.Event()


def freeze_long_lived() -> None:
    """Once per process, at its first request: collect, then move every object still alive (modules, the app,
    rule packs, compiled templates and statements) to the collector's permanent generation.

    A full collection visits every tracked object: with the app loaded that is about 130,000 objects and
    60-70 ms, and the garbage of a few page renders (a list of 200 customers, a week of figures) triggers
    one, which showed as that much on a page's p95. Frozen objects are skipped; what later requests
    allocate is collected as before. (Objects of this first request that are still alive are frozen too,
    and never collected if they end in a reference cycle: a one-off, bounded leak.)"""
    if not _frozen.is_set():
        _frozen.set()
        freeze_for_good()


def guard(app: Flask, csrf: CSRFProtect) -> Response | None:
    """Every request: dashboard pages need a user (checked first), then every non-machine form a CSRF token."""
    if request.endpoint is None:
        return None  # no such route: let routing answer 404/405
    if request.blueprint == bp.name and load_user() is None and not is_public(request.endpoint):
        return refuse_anonymous()
    if not request.path.startswith(MACHINE_PREFIXES):
        ensure_key(app, runtime())  # CSRF tokens are signed with it, also before a session cookie exists
        csrf.protect()
    return None


def refuse_anonymous() -> Response:
    if request.method in ("GET", "HEAD"):
        return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
    return error_page(401)


def page_auth(role: str) -> Response | None:
    """For other features' HTML pages (the digest in a browser): signed in, with ``role`` or above."""
    user = load_user()
    if user is None:
        return refuse_anonymous()
    return None if has_role(user, role) else error_page(403)


def error_page(status: int, detail: str | None = None) -> Response:
    response = Response(render_template("web/error.html", status=status, detail=detail), status=status)
    return secure_headers(response)


@bp.after_request
def secure_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if g.get("user") is not None:
        response.headers.setdefault("Cache-Control", "no-store")  # pages of signed-in users hold customer data
    return response


@bp.errorhandler(CSRFError)
def csrf_error(exc: CSRFError) -> Response:
    return error_page(400, "csrf")


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Response:
    return error_page(exc.code or 500)


def unavailable(exc: Exception) -> Response:
    response = error_page(503)
    response.headers["Retry-After"] = str(runtime().settings.server.retry_after_seconds)
    return response


for _exc in UNAVAILABLE:
    bp.register_error_handler(_exc, unavailable)
bp.record_once(init_app)
