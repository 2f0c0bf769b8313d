"""Reading a save from a ticket: the save tag and the custom fields that carry amount, currency, interval,
reason and offer.

Contract of ``from_custom_fields``: never raises for bad agent input. A value that cannot be read (an
unknown currency, "about 50", "weekly") is reported in ``problems`` and treated as absent, so a tagged save
is still recorded. The amount field holds MAJOR units as an agent types them ("49.00"; JPY "4900"; KWD
"12.500") and is converted with the currency's ISO 4217 exponent. Without an amount field the customer's
recurring revenue known from billing (``Customer.mrr_minor``, monthly) is used; without either the save
has no amount.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..config import SaveFields, Settings
from ..integrations import vocab_key
from ..models import Customer
from ..money import MoneyError, currency_code, parse_major

#: what agents type into a free-text or drop-down interval field, compared with ``vocab_key``
INTERVAL_WORDS: dict[str, str] = {
    **dict.fromkeys(("month", "monthly", "mo", "mon", "permonth", "m", "1month", "months"), "month"),
    **dict.fromkeys(("year", "yearly", "annual", "annually", "yr", "peryear", "y", "12months", "years"), "year"),
}
TEXT_LIMIT = 500


@dataclass(frozen=True)
class SaveInput:
    """What is known about a save; None means "not said" (an update keeps the stored value)."""

    amount_minor: int | None = None
    currency: str | None = None
    interval: str | None = None
    reason: str | None = None
    offer: str | None = None
    problems: tuple[str, ...] = field(default=())


def fields_for(settings: Settings, source: str) -> SaveFields:
    return settings.saves.source_fields.get(source, settings.saves.fields)


def has_tag(tags: Iterable[str] | None, save_tag: str) -> bool:
    wanted = save_tag.strip().casefold()
    return any(str(tag).strip().casefold() == wanted for tag in tags or ())


def text_value(value: Any) -> str | None:
    """A custom field's value as text: lists (multi-select fields) are joined, blanks are None."""
    if isinstance(value, list | tuple):
        value = ", ".join(str(v) for v in value if v not in (None, ""))
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    return text[:TEXT_LIMIT] or None


def interval_value(value: Any) -> str:
    word = INTERVAL_WORDS.get(vocab_key(text_value(value) or ""))
    if word is None:
        raise MoneyError(f"interval {value!r}: expected month or year")
    return word


def from_custom_fields(
    custom: Mapping[str, Any],
    names: SaveFields,
    default_currency: str,
    customer: Customer | None,
    *,
    billing_fallback: bool = True,
) -> SaveInput:
    """The save described by ``custom``; ``billing_fallback`` allows the customer's MRR as the amount."""
    problems: list[str] = []
    currency = _read(problems, currency_code, custom.get(names.currency))
    interval = _read(problems, interval_value, custom.get(names.interval))
    amount: int | None = None
    raw_amount = text_value(custom.get(names.amount))
    if raw_amount is not None:
        billing_currency = _valid_currency(customer.currency if customer else None)
        currency = currency or billing_currency or default_currency
        amount = _read(problems, lambda v: parse_major(v, currency or default_currency), raw_amount)
    elif billing_fallback and customer is not None and customer.mrr_minor and _valid_currency(customer.currency):
        amount, currency, interval = customer.mrr_minor, _valid_currency(customer.currency), "month"
    if amount is None:
        currency = None  # a currency without an amount says nothing about revenue
    return SaveInput(
        amount_minor=amount,
        currency=currency,
        interval=interval,
        reason=text_value(custom.get(names.reason)),
        offer=text_value(custom.get(names.offer)),
        problems=tuple(problems),
    )


def _read(problems: list[str], parse: Any, value: Any) -> Any:
    if text_value(value) is None:
        return None
    try:
        return parse(value)
    except MoneyError as exc:
        problems.append(str(exc))
        return None


def _valid_currency(value: str | None) -> str | None:
    try:
        return currency_code(value) if value else None
    except MoneyError:
        return None
