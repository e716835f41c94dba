"""Orders, lines, cancellations and returns of the synthetic shop, built from the purchase draws."""

from __future__ import annotations

import attrs
import numpy as np
import numpy.typing as npt

from crmkit.datasets._catalog import Catalog
from crmkit.datasets._config import ShopBehaviour
from crmkit.datasets._taste import Taste, choose_products

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
    line_replenish: Bool  # the line re-buys the person's consumable on its cycle


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
    goods: Int,
    person: Int,
    replenish: Int,
    catalog: Catalog,
    taste: Taste,
    minor_scale: int,
    rng: np.random.Generator,
) -> tuple[Int, Int, Int, Int, Int, Bool]:
    """Lines whose totals sum to ``goods`` exactly: catalog price × quantity − discount.

    A purchase that re-buys a consumable (``replenish`` >= 0) starts with one unit of it at list
    price; the rest of the goods is split into 1 to 5 shares, each bought as whole units of a
    product the person's taste picks among those that cover the share with a small discount
    (``choose_products``).
    """
    prices = catalog.price_minor
    count = np.minimum(1 + rng.poisson(0.6, goods.size), 5)
    count = np.clip(count, 1, np.maximum(goods // (8 * minor_scale), 1)).astype(np.int64)
    has_rep = replenish >= 0
    rep_price = prices[np.maximum(replenish, 0)]
    rest = goods - np.where(has_rep, rep_price, 0)
    fold = has_rep & (2 * rest < rep_price)  # too little left for another line: one line
    other = np.where(fold, 0, np.where(has_rep, np.maximum(count - 1, 1), count))
    rest = np.where(fold, 0, rest)
    other = np.minimum(other, rest)  # every line gets at least one minor unit
    owner = np.repeat(np.arange(goods.size), other)
    share = (
        _allocate(rest[other > 0], other[other > 0], rng)
        if owner.size
        else np.empty(0, dtype=np.int64)
    )
    chosen, units = choose_products(person[owner], share, taste, catalog, rng)
    # lines in order: the consumable first, then the others
    line_count = other + has_rep
    offset = np.cumsum(line_count) - line_count
    rep_rows = offset[has_rep]
    is_rep = np.zeros(int(line_count.sum()), dtype=bool)
    is_rep[rep_rows] = True
    amount = np.empty(is_rep.size, dtype=np.int64)
    product = np.empty_like(amount)
    quantity = np.empty_like(amount)
    rep_amount = np.where(fold, goods, rep_price)[has_rep]
    amount[rep_rows], product[rep_rows] = rep_amount, replenish[has_rep]
    quantity[rep_rows] = -(-rep_amount // rep_price[has_rep])
    amount[~is_rep], product[~is_rep], quantity[~is_rep] = share, chosen, units
    discount = quantity * prices[product] - amount
    return line_count, product, quantity, discount, amount, is_rep


def draft_orders(
    person: Int,
    day: Flt,
    spend: Flt,
    how: Int,
    *,
    window_days: float,
    minor_scale: int,
    catalog: Catalog,
    taste: Taste,
    replenish: Int,
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
    count, product, quantity, discount, line_total, is_rep = _lines(
        goods, person, replenish, catalog, taste, minor_scale, rng
    )
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
        line_replenish=is_rep[rows],
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
