"""What a shop sells and what customers buy and return."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from typing import Any

import attrs

from crmkit.errors import CurrencyMismatchError, InvalidInputError
from crmkit.model._checks import (
    Scalar,
    aware,
    freeze_mapping,
    non_empty,
    optional_text,
    positive_int,
    scalars,
    snake_case,
)
from crmkit.model._money import Money

__all__ = ["Order", "OrderLine", "OrderStatus", "Product", "Return", "ReturnLine"]


class OrderStatus(enum.StrEnum):
    """Where an order stands. Cancelled orders are not purchases in the analytic modules.

    Examples:
        >>> OrderStatus("completed").counts_as_purchase
        True
    """

    PLACED = "placed"
    PAID = "paid"
    SHIPPED = "shipped"
    COMPLETED = "completed"
    CANCELLED = "cancelled"

    @property
    def counts_as_purchase(self) -> bool:
        """False only for cancelled orders."""
        return self is not OrderStatus.CANCELLED


def _non_negative_money(inst: Any, attr: Any, value: Money) -> None:
    if not isinstance(value, Money):
        raise InvalidInputError(
            f"{type(inst).__name__}.{attr.name}: expected Money (got {type(value).__name__})."
        )
    if value.amount_minor < 0:
        raise InvalidInputError(
            f"{type(inst).__name__}.{attr.name}: negative amount ({value}). "
            "Refunds are Return values, not negative prices."
        )


@attrs.frozen(kw_only=True)
class Product:
    """A product in the catalog.

    Examples:
        >>> Product(product_id="sku-1", name="Tea", category="grocery",
        ...         price=Money.of("4.50", "EUR")).category
        'grocery'
    """

    product_id: str = attrs.field(validator=non_empty)
    name: str = attrs.field(validator=non_empty)
    category: str | None = attrs.field(default=None, validator=optional_text)
    price: Money | None = None
    attributes: dict[str, Scalar] = attrs.field(
        factory=dict, converter=freeze_mapping, validator=scalars, hash=False
    )


@attrs.frozen(kw_only=True)
class OrderLine:
    """One line of an order: a product, a quantity, a unit price and a line discount.

    Examples:
        >>> line = OrderLine(product_id="sku-1", quantity=3, unit_price=Money.of("2.00", "EUR"),
        ...                  discount=Money.of("0.50", "EUR"))
        >>> str(line.total)
        '5.50 EUR'
    """

    product_id: str = attrs.field(validator=non_empty)
    quantity: int = attrs.field(validator=positive_int)
    unit_price: Money = attrs.field(validator=_non_negative_money)
    discount: Money | None = None
    category: str | None = attrs.field(default=None, validator=optional_text)

    def __attrs_post_init__(self) -> None:
        if self.discount is None:
            return
        _non_negative_money(self, attrs.fields(OrderLine).discount, self.discount)
        if self.discount.currency != self.unit_price.currency:
            raise CurrencyMismatchError(
                f"OrderLine.discount: currency {self.discount.currency} differs from the unit "
                f"price's {self.unit_price.currency}."
            )
        if self.discount > self.unit_price * self.quantity:
            raise InvalidInputError(
                f"OrderLine.discount: {self.discount} exceeds the line's gross "
                f"{self.unit_price * self.quantity}."
            )

    @property
    def total(self) -> Money:
        """Quantity × unit price − discount."""
        gross = self.unit_price * self.quantity
        return gross if self.discount is None else gross - self.discount


def _order_lines(items: Iterable[OrderLine]) -> tuple[OrderLine, ...]:
    return tuple(items)


@attrs.frozen(kw_only=True)
class Order:
    """An order: lines plus shipping and tax, all in the order's currency.

    ``total`` = Σ line totals + shipping + tax.

    Examples:
        >>> import datetime as dt
        >>> eur = lambda s: Money.of(s, "EUR")
        >>> order = Order(order_id="o-1", customer_id="c-1", currency="EUR",
        ...               placed_at=dt.datetime(2024, 3, 1, 12, tzinfo=dt.UTC),
        ...               lines=[OrderLine(product_id="sku-1", quantity=2, unit_price=eur("10"))],
        ...               shipping=eur("4.90"))
        >>> str(order.total)
        '24.90 EUR'
    """

    order_id: str = attrs.field(validator=non_empty)
    customer_id: str = attrs.field(validator=non_empty)
    placed_at: dt.datetime = attrs.field(validator=aware)
    currency: str
    lines: tuple[OrderLine, ...] = attrs.field(converter=_order_lines)
    status: OrderStatus = attrs.field(default=OrderStatus.COMPLETED, converter=OrderStatus)
    channel: str = attrs.field(default="web", validator=snake_case)
    shipping: Money | None = None
    tax: Money | None = None
    attributes: dict[str, Scalar] = attrs.field(
        factory=dict, converter=freeze_mapping, validator=scalars, hash=False
    )

    def __attrs_post_init__(self) -> None:
        Money.zero(self.currency)  # validates the code
        if not self.lines:
            raise InvalidInputError(
                f"Order.lines: order {self.order_id!r} has no lines. An order needs at least one."
            )
        for i, line in enumerate(self.lines):
            if not isinstance(line, OrderLine):
                raise InvalidInputError(
                    f"Order.lines[{i}]: expected OrderLine (got {type(line).__name__})."
                )
            if line.unit_price.currency != self.currency:
                raise CurrencyMismatchError(
                    f"Order.lines[{i}].unit_price: currency {line.unit_price.currency} differs "
                    f"from the order's {self.currency}."
                )
        for name in ("shipping", "tax"):
            value = getattr(self, name)
            if value is None:
                continue
            _non_negative_money(self, getattr(attrs.fields(Order), name), value)
            if value.currency != self.currency:
                raise CurrencyMismatchError(
                    f"Order.{name}: currency {value.currency} differs from the order's "
                    f"{self.currency}."
                )

    @property
    def subtotal(self) -> Money:
        """Σ line totals."""
        total = Money.zero(self.currency)
        for line in self.lines:
            total = total + line.total
        return total

    @property
    def total(self) -> Money:
        """Σ line totals + shipping + tax."""
        total = self.subtotal
        for extra in (self.shipping, self.tax):
            if extra is not None:
                total = total + extra
        return total


@attrs.frozen(kw_only=True)
class ReturnLine:
    """Units of one product sent back.

    Examples:
        >>> ReturnLine(product_id="sku-1", quantity=1).quantity
        1
    """

    product_id: str = attrs.field(validator=non_empty)
    quantity: int = attrs.field(validator=positive_int)


def _return_lines(items: Iterable[ReturnLine]) -> tuple[ReturnLine, ...]:
    return tuple(items)


@attrs.frozen(kw_only=True)
class Return:
    """A return or refund against an order. ``refund`` is a non-negative amount paid back.

    Examples:
        >>> import datetime as dt
        >>> Return(return_id="r-1", order_id="o-1", customer_id="c-1",
        ...        at=dt.datetime(2024, 3, 9, tzinfo=dt.UTC), refund=Money.of("10.00", "EUR"),
        ...        lines=[ReturnLine(product_id="sku-1", quantity=1)], reason="damaged").reason
        'damaged'
    """

    return_id: str = attrs.field(validator=non_empty)
    order_id: str = attrs.field(validator=non_empty)
    customer_id: str = attrs.field(validator=non_empty)
    at: dt.datetime = attrs.field(validator=aware)
    refund: Money = attrs.field(validator=_non_negative_money)
    lines: tuple[ReturnLine, ...] = attrs.field(default=(), converter=_return_lines)
    reason: str | None = attrs.field(default=None, validator=optional_text)
