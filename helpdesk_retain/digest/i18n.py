"""The digest's words and number formats in ``en`` or ``zh-Hans``.

Catalogs are TOML files beside the templates (``templates/digest/i18n/<language>.toml``), one key per
string, so adding a language is adding a file, and a test holds every language to the English keys. Why
not gettext: compiled ``.mo`` catalogs need a build step this project does not have, and the templates are
the only consumer; a key lookup with ``str.format`` placeholders is all they need. A value may be a table of
CLDR plural forms (``{ one = "...", other = "..." }``), chosen with Babel's plural rule for the locale.

Numbers, percentages, money and dates are formatted by Babel in the digest's locale. Money arrives as
integer minor units and is divided by ``10 ** exponent`` of its ISO 4217 currency only for display.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from babel import Locale
from babel.dates import format_interval, format_skeleton
from babel.numbers import format_currency, format_decimal, format_percent

from ..money import exponent

LANGUAGES = ("en", "zh-Hans")
CATALOG_PACKAGE = "helpdesk_retain"
CATALOG_DIR = ("templates", "digest", "i18n")


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, str | dict[str, str]]:
    out: dict[str, str | dict[str, str]] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and not set(value) <= {"zero", "one", "two", "few", "many", "other"}:
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


@cache
def catalog(language: str) -> dict[str, str | dict[str, str]]:
    """The flattened catalog of ``language`` (``"section.key" -> text or plural forms``)."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown digest language {language!r}: expected one of {', '.join(LANGUAGES)}")
    path = resources.files(CATALOG_PACKAGE).joinpath(*CATALOG_DIR, f"{language}.toml")
    return _flatten(tomllib.loads(path.read_text("utf-8")))


@dataclass(frozen=True)
class Translator:
    """``t(key, **values)`` for template strings, plus Babel formatters in the same locale."""

    language: str

    @property
    def locale(self) -> Locale:
        return Locale.parse(self.language, sep="-")

    def t(self, key: str, count: int | None = None, **values: Any) -> str:
        entry = catalog(self.language).get(key)
        if entry is None:
            raise KeyError(f"digest catalog {self.language} has no key {key!r}")
        if isinstance(entry, dict):
            form = self.locale.plural_form(count if count is not None else 0)
            entry = entry.get(form, entry["other"])
        return entry.format(count=self.number(count) if count is not None else "", **values)

    def label(self, group: str, name: str | None) -> str:
        """A category, metric or reason name; a name the catalog does not know is shown as it is."""
        entry = catalog(self.language).get(f"{group}.{name}")
        return entry if isinstance(entry, str) else str(name)

    def number(self, value: int | float | None) -> str:
        return "–" if value is None else format_decimal(value, locale=self.locale)

    def percent(self, share: float | None, signed: bool = False) -> str:
        """A share (0.945) as a percentage ("94.5%"); ``signed`` for a change ("+15%")."""
        if share is None:
            return "–"
        pattern = "+#,##0%;-#,##0%" if signed else "#,##0.#%"
        return format_percent(share, format=pattern, locale=self.locale)

    def money(self, amount_minor: int | None, currency: str | None, whole: bool = False) -> str:
        """``format_currency(amount_minor / 10**exponent)``; ``whole`` for the compact "USD 4,900" form."""
        if amount_minor is None or currency is None:
            return "–"
        amount = Decimal(amount_minor).scaleb(-exponent(currency))
        if whole:
            return format_currency(amount, currency, format="¤¤ #,##0", currency_digits=False, locale=self.locale)
        return format_currency(amount, currency, locale=self.locale)

    def week_range(self, first: date, last: date) -> str:
        return format_interval(first, last, skeleton="yMMMd", locale=self.locale)

    def day(self, value: date) -> str:
        return format_skeleton("MMMEd", value, locale=self.locale)

    def minutes(self, value: float | None) -> str:
        return "–" if value is None else self.t("unit.minutes", value=self.number(value))
