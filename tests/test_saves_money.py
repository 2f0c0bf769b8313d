"""Money for saves: ISO 4217 codes and exponents, major-unit parsing, MRR/ARR rounding, explicit conversion."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpdesk_retain.money import Converter, MoneyError, currency_code, exponent, monthly, mrr_arr, parse_major


@pytest.mark.parametrize(("code", "digits"), [("USD", 2), ("jpy", 0), ("KWD", 3), ("CLF", 4), ("ISK", 0)])
def test_the_exponent_comes_from_iso_4217(code, digits):
    assert exponent(code) == digits


@pytest.mark.parametrize("code", ["XYZ", "XAU", "XTS", "US", "", None, "€", "usd1"])
def test_unknown_or_non_monetary_codes_are_refused(code):
    with pytest.raises(MoneyError):
        currency_code(code)


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("49.00", "USD", 4900),
        ("49", "USD", 4900),
        ("49.5", "usd", 4950),
        ("4900", "JPY", 4900),
        ("12.500", "KWD", 12500),
        ("1 234,50", "EUR", 123450),
        (49, "USD", 4900),
        (49.9, "USD", 4990),
        ("0", "USD", 0),
    ],
)
def test_major_units_become_minor_units(text, currency, minor):
    assert parse_major(text, currency) == minor


@pytest.mark.parametrize("text", ["-5", "49.999", "4.5e3", "about 50", "1,234.50", "", "NaN", True, None])
def test_bad_major_amounts_are_refused_not_rounded(text):
    with pytest.raises(MoneyError):
        parse_major(text, "USD")


def test_a_yen_amount_cannot_have_decimals():
    with pytest.raises(MoneyError, match="0 decimal"):
        parse_major("4900.5", "JPY")


@pytest.mark.parametrize(
    ("amount", "interval", "expected"),
    [
        (4900, "month", (4900, 58800)),
        (120000, "year", (10000, 120000)),
        (10000, "year", (833, 10000)),
        (102, "year", (9, 102)),
        (6, "year", (1, 6)),
        (5, "year", (0, 5)),
    ],
)
def test_mrr_and_arr_round_half_up_to_the_minor_unit(amount, interval, expected):
    assert mrr_arr(amount, interval) == expected


@given(st.integers(min_value=0, max_value=10**15))
def test_a_yearly_mrr_is_within_half_a_minor_unit_of_a_twelfth(amount):
    mrr, arr = mrr_arr(amount, "year")
    assert arr == amount and abs(Fraction(mrr) - Fraction(amount, 12)) <= Fraction(1, 2)


def test_other_billing_intervals_normalise_to_a_month():
    assert monthly(15000, "month", 3) == 5000
    assert monthly(1200, "week") == Fraction(1200 * 52, 12)
    assert monthly(100, "day") == Fraction(100 * 365, 12)


def test_conversion_needs_a_rate_for_every_currency():
    conv = Converter("EUR", {"USD": Decimal("0.92"), "JPY": Decimal("0.0061")})
    assert conv.convert(1000, "USD") == 920
    assert conv.convert(10000, "JPY") == 6100  # 10,000 yen (no decimals) -> 61.00 EUR
    assert conv.total({"USD": 1000, "EUR": 500}) == (1420, [])
    assert conv.total({"USD": 1000, "GBP": 500}) == (None, ["GBP"])
    assert Converter(None, {}).total({"USD": 1}) == (None, ["USD"])
