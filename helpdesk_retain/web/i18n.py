"""The dashboard's languages (``en``, ``zh_Hans``) with Flask-Babel, without a build step.

Messages are gettext: English msgids in the code and templates, Chinese in
``web/translations/zh_Hans/LC_MESSAGES/messages.po``. The ``.po`` file is compiled in memory the first
time a language is used (Babel's ``read_po`` + ``write_mo``), so there is no ``.mo`` to build or to
forget; a test checks that every msgid the code and templates use has a translation.

Which language: the signed-in user's setting, else the one chosen on the sign-in page (session), else
the browser's ``Accept-Language`` (any ``zh*`` reads Simplified Chinese), else ``[web] default_language``.
"""

from __future__ import annotations

import io
from decimal import Decimal
from functools import cache
from importlib import resources

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_percent
from babel.support import NullTranslations, Translations
from flask import current_app, g, request, session
from flask_babel import Babel, Domain, get_locale
from werkzeug.utils import cached_property

from ..money import exponent

LANGUAGES = ("en", "zh_Hans")
LANGUAGE_NAMES = {"en": "English", "zh_Hans": "简体中文"}
HTML_LANG = {"en": "en", "zh_Hans": "zh-Hans"}


@cache
def translations(language: str) -> NullTranslations:
    """The compiled catalog of ``language`` (English is the msgids themselves)."""
    if language == "en":
        return NullTranslations()
    path = resources.files("helpdesk_retain.web").joinpath("translations", language, "LC_MESSAGES", "messages.po")
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


class PoDomain(Domain):
    """A Flask-Babel domain whose catalogs come from ``translations()`` instead of ``.mo`` files."""

    def get_translations(self) -> NullTranslations:
        locale = get_locale()
        return translations(str(locale) if str(locale) in LANGUAGES else "en")


class WebBabel(Babel):
    @cached_property
    def domain_instance(self) -> Domain:
        return PoDomain()


def browser_language(default: str) -> str:
    for value, _quality in request.accept_languages:
        tag = value.lower()
        if tag.startswith("zh"):
            return "zh_Hans"
        if tag.startswith("en"):
            return "en"
    return default


def select_language() -> str:
    user = g.get("user")
    if user is not None and user.language in LANGUAGES:
        return user.language
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return browser_language(current_app.extensions["helpdesk_retain"].settings.web.default_language)


def current_language() -> str:
    locale = str(get_locale())
    return locale if locale in LANGUAGES else "en"


def money(amount_minor: int | None, currency: str | None) -> str:
    """Minor units shown as the currency's major units in the page's locale ("$49.00", "US$49.00")."""
    if amount_minor is None or not currency:
        return "–"
    try:
        amount = Decimal(amount_minor).scaleb(-exponent(currency))
    except ValueError:
        return f"{amount_minor} {currency}"
    return format_currency(amount, currency, locale=current_language())


def percent(share: float | None) -> str:
    return "–" if share is None else format_percent(share, format="#,##0.#%", locale=current_language())


def N_(msgid: str) -> str:  # noqa: N802 - gettext's conventional name for "mark for extraction only"
    """Mark a msgid for the catalog without translating it here (``label`` translates it when shown)."""
    return msgid


#: words that come from data (vocabulary values), translated for display
LABELS: dict[str, dict[str, str]] = {
    "category": {
        "product_defect": N_("Product defect"),
        "service_quality": N_("Service quality"),
        "billing": N_("Billing"),
        "delivery": N_("Delivery"),
        "pricing": N_("Pricing"),
        "usability": N_("Usability"),
        "other": N_("Other"),
    },
    "signal": {
        "cancel_intent": N_("Cancel intent"),
        "refund_request": N_("Refund request"),
        "data_export": N_("Data export request"),
        "billing_change": N_("Billing change"),
        "downgrade": N_("Downgrade"),
        "competitor_mention": N_("Competitor mention"),
        "legal_threat": N_("Legal threat"),
        "repeat_contact": N_("Repeat contact"),
        "bad_experiences": N_("Repeated bad experiences"),
        "complaint": N_("Complaint"),
        "tat_breach": N_("Missed turnaround time"),
    },
    "metric": {
        "first_response": N_("First response"),
        "next_response": N_("Next response"),
        "resolution": N_("Resolution"),
    },
    "clock": {"running": N_("Running"), "paused": N_("Paused"), "met": N_("Met"), "breached": N_("Breached")},
    "status": {
        "new": N_("New"),
        "open": N_("Open"),
        "pending": N_("Pending"),
        "on_hold": N_("On hold"),
        "solved": N_("Solved"),
        "closed": N_("Closed"),
    },
    "priority": {"low": N_("Low"), "normal": N_("Normal"), "high": N_("High"), "urgent": N_("Urgent")},
    "outcome": {"pending": N_("Being verified"), "held": N_("Held"), "lost": N_("Lost")},
    "interval": {"month": N_("per month"), "year": N_("per year")},
    "followup": {
        "pending": N_("Scheduled"),
        "due": N_("Due"),
        "sent": N_("Reminder sent"),
        "done": N_("Done"),
        "cancelled": N_("Cancelled"),
    },
    "issue": {"open": N_("Open"), "fixed": N_("Fixed"), "wontfix": N_("Won't fix")},
    "role": {"agent": N_("Agent"), "lead": N_("Team lead"), "admin": N_("Admin")},
    "save_change": {
        "marked": N_("Marked as saved"),
        "updated": N_("Updated"),
        "withdrawn": N_("Withdrawn"),
        "reinstated": N_("Reinstated"),
        "held": N_("Verified: held"),
        "lost": N_("Verified: lost"),
    },
    "author": {"customer": N_("Customer"), "agent": N_("Agent"), "system": N_("System")},
    "log": {"created": N_("Created"), "updated": N_("Updated"), "comment": N_("Comment")},
}


def label(group: str, value: str | None) -> str:
    """The translated word for a vocabulary value; an unknown value is shown as it is."""
    if value is None:
        return "–"
    msgid = LABELS.get(group, {}).get(value)
    return value if msgid is None else translations(current_language()).gettext(msgid)
