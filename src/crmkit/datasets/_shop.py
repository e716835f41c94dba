"""The synthetic shop value: column tables, the catalog, the truth and ways to re-key them."""

from __future__ import annotations

from typing import Any, TypeVar, cast

import attrs
import numpy as np
import numpy.typing as npt

from crmkit import _validation as v
from crmkit.columns import (
    Columns,
    ConsentColumns,
    EventColumns,
    OrderColumns,
    OrderLineColumns,
    ReturnColumns,
    SourceRecordColumns,
)
from crmkit.datasets._catalog import Catalog
from crmkit.datasets._truth import ShopTruth
from crmkit.errors import InvalidInputError
from crmkit.model import Money, Order, OrderLine, Product, SourceRecord

__all__ = ["SyntheticShop"]

T = TypeVar("T", bound=Columns)


def _rekey(table: T, person: npt.NDArray[np.int64], person_id: npt.NDArray[np.str_]) -> T:
    cols = table.arrays()
    cols["customer_id"] = person_id[person]
    return type(table)(**cols)


def _limit(limit: int | None, size: int) -> int:
    if limit is None:
        return size
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise InvalidInputError(
            f"limit: expected a whole number >= 0 or None (got {limit!r}). Pass e.g. limit=100."
        )
    return min(limit, size)


@attrs.frozen(kw_only=True, eq=False)
class SyntheticShop:
    """A synthetic shop: source records, orders, lines, returns, events, consents, products, truth.

    Orders, returns, events and consents are keyed to *records* (``"source:source_key"``), as a
    shop's systems would key them; the ``*_by_person`` methods re-key them to the true persons
    using the truth. Build one with [`synthetic_shop`][crmkit.datasets.synthetic_shop].

    Examples:
        >>> from crmkit.datasets import synthetic_shop
        >>> shop = synthetic_shop(100, rng=7)
        >>> set(shop.orders.customer_id) <= set(shop.records.record_id)
        True
        >>> by_person = shop.orders_by_person()
        >>> len(set(by_person.customer_id)) == shop.truth.n_persons
        True
    """

    records: SourceRecordColumns
    orders: OrderColumns
    order_lines: OrderLineColumns
    returns: ReturnColumns
    events: EventColumns
    consents: ConsentColumns
    products: Catalog
    truth: ShopTruth

    def person_of(self, record_ids: npt.ArrayLike) -> npt.NDArray[np.str_]:
        """The person id behind each of ``record_ids``; unknown ids raise ``InvalidInputError``.

        Examples:
            >>> from crmkit.datasets import synthetic_shop
            >>> shop = synthetic_shop(20, rng=2)
            >>> shop.person_of(shop.orders.customer_id[:1]).tolist() == (
            ...     shop.orders_by_person().customer_id[:1].tolist())
            True
        """
        ids = v.as_str_array("record_ids", record_ids)
        known = self.records.record_id
        order = np.argsort(known)
        sorted_ids = known[order]
        pos = np.minimum(np.searchsorted(sorted_ids, ids), max(sorted_ids.size - 1, 0))
        found = sorted_ids[pos] == ids if sorted_ids.size else np.zeros(ids.size, dtype=bool)
        v.require(
            "record_ids",
            ~found,
            ids,
            "ids that are not records of this shop",
            "Pass values of shop.records.record_id.",
        )
        out: npt.NDArray[np.str_] = self.truth.person_id[self.truth.record_person[order[pos]]]
        return out

    def orders_by_person(self) -> OrderColumns:
        """The orders with ``customer_id`` replaced by the true person id."""
        return _rekey(self.orders, self.truth.order_person, self.truth.person_id)

    def order_lines_by_person(self) -> OrderLineColumns:
        """The order lines with ``customer_id`` replaced by the true person id."""
        return _rekey(self.order_lines, self.truth.line_person, self.truth.person_id)

    def returns_by_person(self) -> ReturnColumns:
        """The returns with ``customer_id`` replaced by the true person id."""
        return _rekey(self.returns, self.truth.return_person, self.truth.person_id)

    def consents_by_person(self) -> ConsentColumns:
        """The consent events with ``customer_id`` replaced by the true person id."""
        return _rekey(self.consents, self.truth.consent_person, self.truth.person_id)

    def events_by_person(self) -> EventColumns:
        """Every event, anonymous ones included, with ``customer_id`` set to the true person id."""
        return _rekey(self.events, self.truth.event_person, self.truth.person_id)

    def record_values(self, limit: int | None = None) -> list[SourceRecord]:
        """The first ``limit`` source records (all when None) as domain values.

        Examples:
            >>> from crmkit.datasets import synthetic_shop
            >>> r = synthetic_shop(30, rng=4).record_values(1)[0]
            >>> r.key.split(":")[0] in {"web", "checkout", "loyalty", "support", "marketplace"}
            True
        """
        n = _limit(limit, len(self.records))
        return self.records.take(np.arange(n)).to_records()

    def order_values(self, limit: int | None = None) -> list[Order]:
        """The first ``limit`` orders (all when None) as domain values with their lines.

        Examples:
            >>> from crmkit.datasets import synthetic_shop
            >>> shop = synthetic_shop(30, rng=4)
            >>> o = shop.order_values(1)[0]
            >>> o.total.amount_minor == int(shop.orders.total_minor[0])
            True
        """
        n = _limit(limit, len(self.orders))
        o, li = self.orders, self.order_lines
        ends = np.searchsorted(li.order_id, o.order_id[:n], side="right")
        starts = np.searchsorted(li.order_id, o.order_id[:n], side="left")
        out: list[Order] = []
        lines: list[OrderLine]
        for i in range(n):
            cur = str(o.currency[i])
            lines = [
                OrderLine(
                    product_id=str(li.product_id[j]),
                    quantity=int(li.quantity[j]),
                    unit_price=Money(amount_minor=int(li.unit_price_minor[j]), currency=cur),
                    discount=Money(amount_minor=int(li.discount_minor[j]), currency=cur)
                    if li.discount_minor[j]
                    else None,
                    category=str(li.category[j]) or None,
                )
                for j in range(int(starts[i]), int(ends[i]))
            ]
            out.append(
                Order(
                    order_id=str(o.order_id[i]),
                    customer_id=str(o.customer_id[i]),
                    placed_at=v.from_datetime64(o.placed_at[i]),
                    currency=cur,
                    lines=cast(Any, lines),  # attrs converter=tuple confuses mypy
                    status=str(o.status[i]),
                    channel=str(o.channel[i]),
                    shipping=Money(amount_minor=int(o.shipping_minor[i]), currency=cur),
                    tax=Money(amount_minor=int(o.tax_minor[i]), currency=cur),
                )
            )
        return out

    def product_values(self) -> list[Product]:
        """The catalog as Product values."""
        return self.products.values()

    def counts(self) -> dict[str, Any]:
        """Row counts of every table, persons and abandoned carts: a short description.

        Examples:
            >>> from crmkit.datasets import synthetic_shop
            >>> synthetic_shop(10, rng=1).counts()["persons"]
            10
        """
        return {
            "persons": self.truth.n_persons,
            "records": len(self.records),
            "records_by_source": {
                str(s): int(c)
                for s, c in zip(*np.unique(self.records.source, return_counts=True), strict=True)
            },
            "orders": len(self.orders),
            "cancelled_orders": int((self.orders.status == "cancelled").sum()),
            "order_lines": len(self.order_lines),
            "returns": len(self.returns),
            "events": len(self.events),
            "abandoned_carts": self.truth.abandoned_carts,
            "consents": len(self.consents),
            "products": len(self.products),
        }
