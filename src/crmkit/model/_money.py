"""Money: an integer count of minor units plus an ISO 4217 currency code."""

from __future__ import annotations

import decimal
from typing import Any, Self

import attrs

from crmkit.errors import CurrencyMismatchError, InvalidInputError
from crmkit.model._currencies import MINOR_UNITS

__all__ = ["Money"]


def _check_amount(inst: Any, attr: Any, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(
            f"Money.amount_minor: expected an int count of minor units (got {type(value).__name__} "
            f"{value!r}). Use Money.of('12.34', 'EUR') to convert a decimal amount."
        )


def _check_currency(inst: Any, attr: Any, value: Any) -> None:
    if value not in MINOR_UNITS:
        raise InvalidInputError(
            f"Money.currency: {value!r} is not an ISO 4217 currency code in use. "
            "Pass an upper-case code such as 'EUR', 'USD' or 'JPY'."
        )


@attrs.frozen(kw_only=True, order=False)
class Money:
    """An amount of money: integer minor units (cents) and an ISO 4217 code.

    Arithmetic is defined within one currency; mixing currencies raises
    [`CurrencyMismatchError`][crmkit.errors.CurrencyMismatchError]. Never a float.

    Examples:
        >>> price = Money.of("19.99", "EUR")
        >>> price.amount_minor
        1999
        >>> str(price * 3 - Money(amount_minor=97, currency="EUR"))
        '59.00 EUR'
        >>> Money.of("1500", "JPY").amount_minor
        1500
    """

    amount_minor: int = attrs.field(validator=_check_amount)
    currency: str = attrs.field(validator=_check_currency)

    @classmethod
    def of(cls, amount: str | int | decimal.Decimal, currency: str) -> Self:
        """Money from a decimal amount in major units, exact (``"12.34"`` EUR → 1234 cents).

        Examples:
            >>> Money.of("0.5", "KWD").amount_minor
            500
        """
        _check_currency(None, None, currency)
        if isinstance(amount, float):
            raise InvalidInputError(
                f"amount: float {amount!r} is inexact for money. Pass a str or Decimal."
            )
        try:
            dec = decimal.Decimal(amount)
        except decimal.InvalidOperation as exc:
            raise InvalidInputError(f"amount: {amount!r} is not a decimal number.") from exc
        scaled = dec.scaleb(MINOR_UNITS[currency])
        if scaled != scaled.to_integral_value():
            raise InvalidInputError(
                f"amount: {amount!r} has more decimals than {currency} allows "
                f"({MINOR_UNITS[currency]}). Round it explicitly first."
            )
        return cls(amount_minor=int(scaled), currency=currency)

    @classmethod
    def zero(cls, currency: str) -> Self:
        """Zero in a currency.

        Examples:
            >>> Money.zero("USD")
            Money(amount_minor=0, currency='USD')
        """
        return cls(amount_minor=0, currency=currency)

    @property
    def minor_digits(self) -> int:
        """Digits of the currency's minor unit (2 for EUR, 0 for JPY).

        Examples:
            >>> Money.zero("JPY").minor_digits
            0
        """
        return MINOR_UNITS[self.currency]

    def to_decimal(self) -> decimal.Decimal:
        """The exact amount in major units.

        Examples:
            >>> Money(amount_minor=1234, currency="EUR").to_decimal()
            Decimal('12.34')
        """
        return decimal.Decimal(self.amount_minor).scaleb(-self.minor_digits)

    def _same(self, other: object, op: str) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"unsupported operand for {op}: Money and {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatchError(
                f"currency: cannot {op} {self.currency} and {other.currency}. "
                "Convert with a rate table first."
            )
        return other

    def __add__(self, other: Money) -> Money:
        o = self._same(other, "add")
        return Money(amount_minor=self.amount_minor + o.amount_minor, currency=self.currency)

    def __sub__(self, other: Money) -> Money:
        o = self._same(other, "subtract")
        return Money(amount_minor=self.amount_minor - o.amount_minor, currency=self.currency)

    def __neg__(self) -> Money:
        return Money(amount_minor=-self.amount_minor, currency=self.currency)

    def __mul__(self, factor: int) -> Money:
        if isinstance(factor, bool) or not isinstance(factor, int):
            raise TypeError("Money can be multiplied by an int only; round explicitly for rates")
        return Money(amount_minor=self.amount_minor * factor, currency=self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        return self.amount_minor < self._same(other, "compare").amount_minor

    def __le__(self, other: Money) -> bool:
        return self.amount_minor <= self._same(other, "compare").amount_minor

    def __gt__(self, other: Money) -> bool:
        return self.amount_minor > self._same(other, "compare").amount_minor

    def __ge__(self, other: Money) -> bool:
        return self.amount_minor >= self._same(other, "compare").amount_minor

    def __str__(self) -> str:
        return f"{self.to_decimal():f} {self.currency}"
