"""Money as integer minor units with an ISO 4217 currency code; never floats.

Contract:
- ``currency_code`` accepts any case and returns the upper-case code of an ISO 4217 currency that has minor
  units (funds, metals and test codes such as XAU, XDR, XTS, XXX are refused: nobody pays a subscription in
  them). The list and the exponents come from the ``iso4217`` package (the SIX maintenance-agency table).
- ``parse_major`` turns a major-unit decimal written by a person ("49.00", "49", "1 234,5") into minor
  units with the currency's exponent (USD 2, JPY 0, KWD 3) and refuses more decimals than the currency has.
- Recurring amounts are normalised to MRR and ARR in integer minor units. A yearly amount's MRR is the
  amount / 12 rounded half up to the minor unit (so 100.00/year -> 8.33/month, 1.02 -> 0.09); its ARR is
  the amount itself, exactly. A monthly amount's ARR is amount x 12, exactly.
- Conversion happens only through ``Converter`` with explicitly configured rates; totals in several
  currencies without rates stay per currency.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Literal

from iso4217 import Currency

Interval = Literal["month", "year"]
INTERVALS: frozenset[str] = frozenset({"month", "year"})
#: months in one unit of a billing interval (a year = 12 months = 52 weeks = 365 days)
MONTHS_PER: dict[str, Fraction] = {
    "day": Fraction(12, 365),
    "week": Fraction(12, 52),
    "month": Fraction(1),
    "year": Fraction(12),
}
_MAJOR = re.compile(r"^\d+(?:[.,]\d+)?$")


class MoneyError(ValueError):
    """An unknown currency, a negative or malformed amount; the message names the problem."""


def currency_code(value: object) -> str:
    """The ISO 4217 code for ``value`` (case-insensitive), or MoneyError."""
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{3}", value.strip()):
        raise MoneyError(f"unknown currency {value!r}: expected a three-letter ISO 4217 code")
    code = value.strip().upper()
    try:
        currency = Currency(code)
    except ValueError:
        raise MoneyError(f"unknown currency {value!r}: not an ISO 4217 code") from None
    if currency.exponent is None:
        raise MoneyError(f"unknown currency {value!r}: {code} has no minor unit (a fund, metal or test code)")
    return code


def exponent(code: str) -> int:
    """Digits after the decimal point in ``code``'s minor unit (ISO 4217)."""
    return int(Currency(currency_code(code)).exponent or 0)


def check_amount(amount_minor: object) -> int:
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise MoneyError(f"amount {amount_minor!r}: expected an integer number of minor units")
    if amount_minor < 0:
        raise MoneyError(f"amount {amount_minor}: must not be negative")
    return amount_minor


def parse_major(value: object, currency: str) -> int:
    """Minor units of a major-unit amount such as ``"49.00"``, ``49`` or ``"1 234,50"`` in ``currency``.

    A comma is read as the decimal separator when it is the only separator; spaces and apostrophes
    group thousands. More decimals than the currency has (``"49.999"`` USD) are refused, not rounded.
    """
    if isinstance(value, bool) or value is None:
        raise MoneyError(f"amount {value!r}: not a number")
    if isinstance(value, int | float | Decimal):
        text = format(Decimal(str(value)), "f")
    else:
        text = re.sub(r"[\s'\u00a0\u202f]", "", str(value))
    if text.startswith("-"):
        raise MoneyError(f"amount {value!r}: must not be negative")
    if not _MAJOR.match(text):
        raise MoneyError(f"amount {value!r}: expected a decimal number such as 49.00")
    try:
        amount = Decimal(text.replace(",", "."))
    except InvalidOperation:
        raise MoneyError(f"amount {value!r}: expected a decimal number such as 49.00") from None
    minor = amount.scaleb(exponent(currency))
    if minor != minor.to_integral_value():
        raise MoneyError(f"amount {value!r}: {currency} has {exponent(currency)} decimal place(s)")
    return int(minor)


def round_half_up(value: Fraction) -> int:
    """Nearest integer, halves away from zero (amounts here are never negative)."""
    return int(value + Fraction(1, 2)) if value >= 0 else -int(-value + Fraction(1, 2))


def rescale(amount: int, from_exponent: int, to_exponent: int) -> int:
    """Re-express ``amount`` counted in 10^-from units in 10^-to units, rounding half up."""
    return round_half_up(Fraction(amount) * Fraction(10) ** (to_exponent - from_exponent))


def mrr_arr(amount_minor: int, interval: str) -> tuple[int, int]:
    """(MRR, ARR) in minor units of an amount billed every month or every year (see module docstring)."""
    if interval == "month":
        return amount_minor, amount_minor * 12
    if interval == "year":
        return round_half_up(Fraction(amount_minor, 12)), amount_minor
    raise MoneyError(f"interval {interval!r}: expected month or year")


def monthly(amount_minor: int | Fraction, unit: str, count: int = 1) -> Fraction:
    """The exact monthly value of ``amount_minor`` billed every ``count`` ``unit`` (day|week|month|year)."""
    if unit not in MONTHS_PER or count < 1:
        raise MoneyError(f"interval {count} {unit!r}: expected day, week, month or year and a count >= 1")
    return Fraction(amount_minor) / (MONTHS_PER[unit] * count)


class Converter:
    """Explicit conversion to ``base`` with ``rates`` (1 unit of a currency = rate units of base)."""

    def __init__(self, base: str | None, rates: Mapping[str, Decimal]) -> None:
        self.base = base
        self.rates = {currency_code(k): Fraction(str(v)) for k, v in rates.items()}
        if base is not None:
            self.rates[base] = Fraction(1)

    def convert(self, amount_minor: int, currency: str) -> int | None:
        """``amount_minor`` in base minor units, or None when no base or no rate is configured."""
        if self.base is None or currency not in self.rates:
            return None
        major = Fraction(amount_minor) / 10 ** exponent(currency)
        return round_half_up(major * self.rates[currency] * 10 ** exponent(self.base))

    def total(self, per_currency: Mapping[str, int]) -> tuple[int | None, list[str]]:
        """(sum in base minor units, currencies without a rate); the sum is None unless all convert."""
        if self.base is None:
            return None, sorted(per_currency)
        missing = sorted(c for c in per_currency if c not in self.rates)
        if missing:
            return None, missing
        return sum(self.convert(v, c) or 0 for c, v in per_currency.items()), []
