"""What the dashboard's templates can call: formatters, labels, the user and the navigation."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import Any
from urllib.parse import quote, urlsplit

from babel import Locale
from babel.dates import DateTimePattern, format_interval
from flask import Flask, g, request
from flask_babel import get_timezone
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from ..models.users import ROLES
from .base import has_role
from .i18n import HTML_LANG, LANGUAGE_NAMES, LANGUAGES, current_language, label, money, percent

#: (endpoint, label, role needed, path prefix that marks it current)
NAV = (
    ("web.overview", _l("Overview"), "agent", "/"),
    ("web.tickets", _l("Tickets"), "agent", "/tickets"),
    ("web.followups", _l("My follow-ups"), "agent", "/followups"),
    ("web.at_risk", _l("At-risk customers"), "agent", "/at-risk"),
    ("web.digest_preview_latest", _l("Digest"), "lead", "/digest-preview"),
    ("web.settings", _l("Settings"), "lead", "/settings"),
    ("web.dead_letters", _l("Dead letters"), "admin", "/dead-letters"),
    ("web.users", _l("Users"), "admin", "/admin/users"),
    ("web.tokens", _l("API tokens"), "admin", "/admin/tokens"),
)


@cache
def _patterns(language: str, style: str) -> tuple[Locale, str, DateTimePattern, DateTimePattern]:
    """(locale, "{1}, {0}"-style combination, date pattern, time pattern), as ``babel.dates`` combines them."""
    locale = Locale.parse(language)
    combined = str(locale.datetime_formats[style]).replace("'", "")
    return locale, combined, locale.date_formats[style], locale.time_formats[style]


def when(value: datetime | None, style: str = "short") -> str:
    """A UTC instant in the dashboard's zone and the page's language ("–" for none); Babel's own
    ``format_datetime`` looks the locale and pattern up on every call, which adds up over a page of rows."""
    if value is None:
        return "–"
    locale, combined, date, time = _patterns(current_language(), style)
    local = value.astimezone(get_timezone())
    return combined.replace("{0}", time.apply(local, locale)).replace("{1}", date.apply(local, locale))


def ticket_url(source: str, external_id: str) -> str:
    """``url_for("web.ticket", ...)`` without the routing machinery (called once per row)."""
    return f"{request.script_root}/tickets/{quote(source, safe='')}/{quote(external_id, safe='/')}"


def period(since: datetime, until: datetime) -> str:
    """``[since, until)`` as local dates, "Nov 23 – 29, 2026" (the last day is the one before ``until``)."""
    zone = get_timezone()
    first = since.astimezone(zone).date()
    last = (until.astimezone(zone) - timedelta(microseconds=1)).date()
    return format_interval(first, last, skeleton="yMMMd", locale=current_language())


def http_url(value: str | None) -> str | None:
    """``value`` if it is an http(s) URL, else None: a help desk or tracker could send ``javascript:`` links."""
    if not value:
        return None
    scheme = urlsplit(value.strip()).scheme.lower()
    return value.strip() if scheme in ("http", "https") else None


def iso(value: datetime | None) -> str:
    return "" if value is None else value.isoformat()


def highlight(text: str | None, phrases: list[str]) -> Markup:
    """``text`` escaped, with each case-insensitive occurrence of ``phrases`` wrapped in ``<mark>``.

    Every piece of user text goes through ``escape``; only the ``<mark>`` tags are markup."""
    if not text:
        return Markup("")
    wanted = sorted({p.lower() for p in phrases if p and p.strip()}, key=len, reverse=True)
    # lower-case char by char: a few characters lower-case to two, which would shift every index after them
    lower = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    out, i = [], 0
    while i < len(text):
        hit = next((p for p in wanted if lower.startswith(p, i)), None)
        if hit is None:
            nxt = min((j for j in (lower.find(p, i) for p in wanted) if j >= 0), default=len(text))
            out.append(escape(text[i:nxt]))
            i = nxt
        else:
            out.append(Markup("<mark>%s</mark>") % text[i : i + len(hit)])
            i += len(hit)
    return Markup("").join(out)


def nav_items() -> list[dict[str, Any]]:
    user = g.get("user")
    path = request.path
    items = []
    for endpoint, text, role, prefix in NAV:
        if has_role(user, role):
            current = path == "/" if prefix == "/" else path.startswith(prefix)
            items.append({"endpoint": endpoint, "label": text, "current": current})
    return items


def register_template_helpers(app: Flask) -> None:
    app.jinja_env.filters.update(
        when=when, period=period, iso=iso, http_url=http_url, money=money, percent=percent, highlight=highlight
    )
    app.jinja_env.globals.update(
        ticket_url=ticket_url, label=label, has_role=has_role, roles=ROLES, language_names=LANGUAGE_NAMES
    )

    @app.context_processor
    def page_context() -> dict[str, Any]:
        language = current_language()
        return {
            "current_user": g.get("user"),
            "nav": nav_items(),
            "language": language,
            "languages": LANGUAGES,
            "html_lang": HTML_LANG[language],
        }
