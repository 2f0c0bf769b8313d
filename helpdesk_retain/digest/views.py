"""``GET /api/digest/<YYYY-Www>`` (figures as JSON) and ``GET /digest/<YYYY-Www>`` (the email in a browser).

The page is its own blueprint, not under ``/api``. Who may see it is decided by ``authorize_page``: a web
sign-in, when one is installed, registers a callable in ``app.extensions["helpdesk_retain.page_auth"]``
(called with no arguments; it returns None to allow, or a Response such as a redirect to the login page, or
raises); until then the page asks for the API bearer token, as ``/api`` does. ``?lang=en|zh-Hans`` previews
another language. The page's Content-Security-Policy allows inline styles and ``data:`` images only.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, current_app, request

from ..api import ApiError, authenticate, make_api_blueprint, respond, runtime
from ..db import session_scope
from ..events import utcnow
from .i18n import LANGUAGES
from .render import render
from .schemas import DigestOut
from .send import figures_json, online_url
from .weeks import BadWeek, IsoWeek

PAGE_AUTH = "helpdesk_retain.page_auth"
PAGE_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'none'"

api_bp = make_api_blueprint("digest")
page_bp = Blueprint("digest_page", __name__)


def parse_week(text: str) -> IsoWeek:
    try:
        return IsoWeek.parse(text)
    except BadWeek as exc:
        raise ApiError(422, f"invalid week: {exc}", {"field": "week", "expected": "YYYY-Www, e.g. 2026-W47"}) from None


def week_figures_json(week: IsoWeek) -> dict:
    from .figures import week_figures

    rt = runtime()
    with session_scope(rt.sessions) as session:
        return figures_json(week_figures(session, rt.settings, week, utcnow()))


@api_bp.get("/digest/<week>")
def get_digest(week: str) -> Response:
    return respond(DigestOut, week_figures_json(parse_week(week)))


@page_bp.before_request
def authorize_page() -> Response | None:
    hook: Callable[[], Response | None] | None = current_app.extensions.get(PAGE_AUTH)
    if hook is not None:
        return hook()
    authenticate()
    return None


@page_bp.get("/digest/<week>")
def digest_page(week: str) -> Response:
    parsed = parse_week(week)
    language = request.args.get("lang", runtime().settings.digest.language)
    if language not in LANGUAGES:
        raise ApiError(422, f"invalid lang: expected one of {', '.join(LANGUAGES)}", {"field": "lang"})
    rendered = render(week_figures_json(parsed), language, online_url=online_url(runtime(), parsed))
    response = Response(rendered.html_standalone(), mimetype="text/html")
    response.headers["Content-Security-Policy"] = PAGE_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
