"""Money: integer minor units with an ISO code; arithmetic only within one currency."""

from __future__ import annotations

import decimal

import pytest

from crmkit.errors import CurrencyMismatchError, InvalidInputError
from crmkit.model import Money


def test_of_converts_decimal_strings_exactly_by_currency_exponent() -> None:
    """Major-unit decimals become minor units using each currency's exponent."""
    assert Money.of("19.99", "EUR").amount_minor == 1999
    assert Money.of("1500", "JPY").amount_minor == 1500
    assert Money.of("1.234", "KWD").amount_minor == 1234
    assert Money.of(decimal.Decimal("0.10"), "USD").amount_minor == 10


@pytest.mark.parametrize("amount", [1.5, "abc", "0.001"])
def test_of_rejects_floats_garbage_and_excess_precision(amount: object) -> None:
    """Floats, non-numbers and more decimals than the currency has are errors, not roundings."""
    with pytest.raises(InvalidInputError, match="amount"):
        Money.of(amount, "EUR")  # type: ignore[arg-type]


@pytest.mark.parametrize("currency", ["eur", "XXX", "", "EURO"])
def test_unknown_currency_codes_are_rejected_naming_the_field(currency: str) -> None:
    """Only ISO 4217 codes in use are accepted."""
    with pytest.raises(InvalidInputError, match=r"Money\.currency"):
        Money(amount_minor=1, currency=currency)


@pytest.mark.parametrize("amount", [1.0, True, "1"])
def test_amount_must_be_an_int_not_a_float_bool_or_string(amount: object) -> None:
    """Minor units are ints; anything else raises naming amount_minor."""
    with pytest.raises(InvalidInputError, match="amount_minor"):
        Money(amount_minor=amount, currency="EUR")  # type: ignore[arg-type]


def test_arithmetic_within_one_currency() -> None:
    """Add, subtract, negate, multiply by an int and compare work in one currency."""
    a, b = Money.of("2.50", "EUR"), Money.of("1.25", "EUR")
    assert (a + b).amount_minor == 375
    assert (a - b).amount_minor == 125
    assert (-a).amount_minor == -250
    assert (a * 3).amount_minor == 750 == (3 * a).amount_minor
    assert b < a and a >= b and not a < b
    assert str(Money.of("-1.05", "EUR")) == "-1.05 EUR"


def test_mixed_currencies_raise_currency_mismatch() -> None:
    """Combining EUR and USD is an error that is also a ValueError."""
    with pytest.raises(CurrencyMismatchError, match="EUR and USD"):
        _ = Money.of("1", "EUR") + Money.of("1", "USD")
    with pytest.raises(ValueError, match="compare"):
        _ = Money.of("1", "EUR") < Money.of("1", "USD")


def test_multiplying_by_a_float_is_a_type_error() -> None:
    """Rates need explicit rounding, so Money * float is refused."""
    with pytest.raises(TypeError):
        _ = Money.of("1", "EUR") * 1.5  # type: ignore[operator]
