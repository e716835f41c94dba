"""Orders, lines, cancellations and returns of the synthetic shop, built from the purchase draws."""

from __future__ import annotations

import attrs
import numpy as np
import numpy.typing as npt

from crmkit.datasets._catalog import Catalog
from crmkit.datasets._config import ShopBehaviour

__all__ = [
    "GUEST",
    "LOYALTY_CARD",
    "MARKETPLACE_ACCOUNT",
    "WEB_ACCOUNT",
    "OrderDraft",
    "ReturnDraft",
    "assign_channels",
    "draft_orders",
    "draft_returns",
    "group_rows",
]

Int = npt.NDArray[np.int64]
Flt = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]

#: How a purchase was placed (which of the person's records it is keyed to).
WEB_ACCOUNT, LOYALTY_CARD, MARKETPLACE_ACCOUNT, GUEST = range(4)
#: Order status codes, indexes into ``STATUSES``.
STATUSES = ("completed", "shipped", "paid", "cancelled")
#: The ``Order.channel`` of each way of buying.
ORDER_CHANNELS = ("web", "store", "marketplace", "web")


def group_rows(offsets: Int, counts: Int) -> Int:
    """Row positions of the groups starting at ``offsets`` with ``counts`` rows, concatenated."""
    total = int(counts.sum())
    starts = np.repeat(offsets - (np.cumsum(counts) - counts), counts)
    return starts + np.arange(total, dtype=np.int64)


def assign_channels(
    person: Int,
    has_web: Bool,
    has_loyalty: Bool,
    has_marketplace: Bool,
    behaviour: ShopBehaviour,
    rng: np.random.Generator,
) -> Int:
    """How each purchase is placed, among the ways its person has."""
    w = np.zeros((person.size, 4))
    w[:, WEB_ACCOUNT] = np.where(has_web[person], 1.0 - behaviour.guest_checkout, 0.0)
    w[:, LOYALTY_CARD] = np.where(has_loyalty[person], 0.35, 0.0)
    w[:, MARKETPLACE_ACCOUNT] = np.where(has_marketplace[person], 0.4, 0.0)
    w[:, GUEST] = np.where(has_web[person], behaviour.guest_checkout, 1.0)
    cdf = np.cumsum(w, axis=1)
    u = rng.random(person.size) * cdf[:, -1]
    out: Int = np.minimum((u[:, None] >= cdf).sum(axis=1), 3).astype(np.int64)
    return out


@attrs.frozen(kw_only=True)
class OrderDraft:
    """Orders (purchases and cancelled attempts) and their lines, in time order."""

    person: Int
    day: Flt
    how: Int  # WEB_ACCOUNT, LOYALTY_CARD, MARKETPLACE_ACCOUNT or GUEST
    purchase: Int  # row of the purchase this order is (or is a cancelled attempt of)
    status: Int
    total: Int
    shipping: Int
    tax: Int
    line_count: Int
    line_offset: Int
    line_product: Int  # index into the catalog
    line_quantity: Int
    line_discount: Int
    line_total: Int


def _allocate(amount: Int, parts: Int, rng: np.random.Generator) -> Int:
    """Split each ``amount`` into ``parts`` positive integers that sum to it exactly."""
    owner = np.repeat(np.arange(amount.size), parts)
    w = rng.standard_exponential(owner.size)
    ends = np.cumsum(parts)
    group_total = np.add.reduceat(w, ends - parts)
    cum = np.cumsum(w)
    before = np.concatenate([[0.0], cum])[ends - parts]
    share = (cum - np.repeat(before, parts)) / np.repeat(group_total, parts)
    spare = np.repeat(amount - parts, parts)
    upto = np.floor(share * spare).astype(np.int64)
    upto[ends - 1] = amount - parts  # the last cumulative share is exactly the whole
    prev = np.concatenate([[0], upto[:-1]])
    prev[ends - parts] = 0
    out: Int = upto - prev + 1
    return out


def _lines(
    goods: Int, catalog: Catalog, minor_scale: int, rng: np.random.Generator
) -> tuple[Int, ...]:
    """Lines whose totals sum to ``goods`` exactly: catalog price × quantity − discount.

    Each line's share of the goods is bought as 1 to 3 units of a product priced just above the
    share per unit, so the line discount that makes the total exact stays small.
    """
    count = np.minimum(1 + rng.poisson(0.6, goods.size), 5)
    count = np.clip(count, 1, np.maximum(goods // (8 * minor_scale), 1)).astype(np.int64)
    amount = _allocate(goods, count, rng)
    prices = catalog.price_minor
    units = np.searchsorted(np.array([0.7, 0.9]), rng.random(amount.size), side="right") + 1
    target = amount / units
    product = np.minimum(
        np.searchsorted(prices, target, side="left") + rng.integers(0, 3, amount.size),
        prices.size - 1,
    )
    price = prices[product]
    quantity = np.maximum(units, -(-amount // price))
    discount = quantity * price - amount
    return count, product, quantity, discount, amount


def draft_orders(
    person: Int,
    day: Flt,
    spend: Flt,
    how: Int,
    *,
    window_days: float,
    minor_scale: int,
    catalog: Catalog,
    behaviour: ShopBehaviour,
    rng: np.random.Generator,
) -> OrderDraft:
    """Turn purchases into orders with exact totals, add cancelled attempts, sort by time."""
    n = person.size
    total = np.maximum(np.rint(spend * minor_scale), 1).astype(np.int64)
    fee = round(behaviour.shipping_fee * minor_scale)
    free_from = round(behaviour.free_shipping_from * minor_scale)
    shipping = np.where((total < free_from) & (total >= 2 * fee) & (fee > 0), fee, 0)
    shipping = np.where(how == LOYALTY_CARD, 0, shipping)  # in-store: no shipping
    rest = total - shipping
    goods = np.maximum(np.rint(rest / (1.0 + behaviour.tax_rate)).astype(np.int64), 1)
    tax = rest - goods
    count, product, quantity, discount, line_total = _lines(goods, catalog, minor_scale, rng)
    offset = np.cumsum(count) - count
    # cancelled attempts: a copy of the purchase minutes to two days before it
    cancel = np.flatnonzero(rng.random(n) < behaviour.cancelled)
    cancel_day = day[cancel] - (10.0 / 1440.0 + rng.random(cancel.size) * 2.0)
    keep = cancel_day >= 0
    cancel, cancel_day = cancel[keep], cancel_day[keep]
    src = np.concatenate([np.arange(n), cancel])
    all_day = np.concatenate([day, cancel_day])
    status = np.where(day > window_days - 1.0, 2, np.where(day > window_days - 10.0, 1, 0)).astype(
        np.int64
    )
    all_status = np.concatenate([status, np.full(cancel.size, 3, dtype=np.int64)])
    order = np.lexsort((src, all_day))
    src, all_day, all_status = src[order], all_day[order], all_status[order]
    rows = group_rows(offset[src], count[src])
    new_count = count[src]
    return OrderDraft(
        person=person[src],
        day=all_day,
        how=how[src],
        purchase=src,
        status=all_status,
        total=total[src],
        shipping=shipping[src],
        tax=tax[src],
        line_count=new_count,
        line_offset=np.cumsum(new_count) - new_count,
        line_product=product[rows],
        line_quantity=quantity[rows],
        line_discount=discount[rows],
        line_total=line_total[rows],
    )


@attrs.frozen(kw_only=True)
class ReturnDraft:
    """Returns: the order (row of the draft), the day and the refund in minor units."""

    order: Int
    day: Flt
    refund: Int


def draft_returns(
    orders: OrderDraft, *, window_days: float, behaviour: ShopBehaviour, rng: np.random.Generator
) -> ReturnDraft:
    """Returns of some purchases 3 to 30 days later: the whole order or one line's total."""
    eligible = np.flatnonzero(orders.status != 3)
    chosen = eligible[rng.random(eligible.size) < behaviour.returned]
    day = orders.day[chosen] + 3.0 + rng.random(chosen.size) * 27.0
    whole = rng.random(chosen.size) < 0.4
    line = orders.line_offset[chosen] + np.floor(
        rng.random(chosen.size) * orders.line_count[chosen]
    ).astype(np.int64)
    refund = np.where(whole, orders.total[chosen], orders.line_total[line])
    keep = day < window_days
    return ReturnDraft(order=chosen[keep], day=day[keep], refund=refund[keep])
