"""Points earned by orders and bonus events: vectorized over columns, and for one order."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmkit import _validation as v
from crmkit.columns import EventColumns, OrderColumns, OrderLineColumns
from crmkit.errors import InvalidInputError
from crmkit.loyalty._clock import ProgramClock, calendar_units
from crmkit.loyalty._expiry import ExpiryRule
from crmkit.loyalty._rules import BonusRule, EarnRule, Period
from crmkit.model import Order, OrderStatus

__all__ = ["EarnColumns", "bonus_points", "earn_points", "member_codes", "points_for_order"]

_DENSE_LIMIT = 64_000_000  # member × period cells counted densely before falling back to a sort

IntArray = npt.NDArray[np.int64]


@attrs.frozen(kw_only=True, eq=False)
class EarnColumns:
    """Points earned, one row per order (or bonus event), aligned with its input.

    ``basis_minor`` is the eligible amount the points were earned on (0 for bonus events);
    ``uncapped`` the points before the period cap; ``expires_at`` each lot's expiry (NaT: never,
    or no expiry rule given).

    Examples:
        >>> import numpy as np
        >>> oc = OrderColumns.from_arrays(order_id=["o1", "o2"], customer_id=["a", "a"],
        ...     placed_at=np.array(["2024-01-05", "2024-01-09"], "datetime64[us]"),
        ...     currency=["EUR", "EUR"], total_minor=[1999, 4550], shipping_minor=[0, 500])
        >>> earn_points(EarnRule(rounding="floor"), oc).points.tolist()
        [19, 40]
    """

    source_id: npt.NDArray[np.str_]
    customer_id: npt.NDArray[np.str_]
    earned_at: npt.NDArray[np.datetime64]
    points: IntArray
    uncapped: IntArray
    basis_minor: IntArray
    expires_at: npt.NDArray[np.datetime64] | None = None

    def __len__(self) -> int:
        return int(self.points.size)

    def total_by_member(self, codes: IntArray, n_members: int) -> IntArray:
        """Σ points per member code (``codes`` aligned with the rows)."""
        return np.bincount(codes, weights=self.points, minlength=n_members).astype(np.int64)


def member_codes(customer_id: Any) -> tuple[npt.NDArray[np.str_], IntArray]:
    """Sorted unique member ids and each row's integer code into them.

    Hot paths take these codes; compute them once per batch (sorting strings is the costly
    part of any grouped computation over string ids).

    Examples:
        >>> ids, codes = member_codes(["b", "a", "b"])
        >>> ids.tolist(), codes.tolist()
        (['a', 'b'], [1, 0, 1])
    """
    arr = v.as_str_array("customer_id", customer_id)
    ids, codes = np.unique(arr, return_inverse=True)
    return ids, codes.astype(np.int64).reshape(-1)


def period_index(
    period: Period,
    at: npt.NDArray[np.datetime64],
    clock: ProgramClock,
    days: IntArray | None = None,
) -> IntArray:
    """Local period numbers (days, months or years since 1970; 0 for ``ever``)."""
    if period is Period.EVER:
        return np.zeros(at.size, dtype=np.int64)
    if days is None:
        days = clock.local_days(at)
    if period is Period.DAY:
        return days
    return calendar_units(days, "M" if period is Period.MONTH else "Y")


def _group_keys(codes: IntArray, periods: IntArray) -> tuple[IntArray, int]:
    lo = int(periods.min())
    span = int(periods.max()) - lo + 1
    n = int(codes.max()) + 1
    return codes * span + (periods - lo), n * span


def _rank_in_groups(keys: IntArray, at: npt.NDArray[np.datetime64], rows: IntArray) -> IntArray:
    """0-based rank of each of ``rows`` within its key group, in time order (ties by row)."""
    order = rows[np.lexsort((rows, at[rows], keys[rows]))]
    k = keys[order]
    start = np.ones(order.size, dtype=bool)
    start[1:] = k[1:] != k[:-1]
    first = np.maximum.accumulate(np.where(start, np.arange(order.size), 0))
    rank = np.empty(order.size, dtype=np.int64)
    rank[np.argsort(order)] = np.arange(order.size) - first
    return rank


def _cap(
    points: IntArray,
    codes: IntArray,
    periods: IntArray,
    at: npt.NDArray[np.datetime64],
    cap: int,
) -> IntArray:
    """Cap Σ points per (member, period) at ``cap``, consuming it in time order."""
    if points.size == 0:
        return points
    keys, cells = _group_keys(codes, periods)
    if cells <= _DENSE_LIMIT:
        totals = np.bincount(keys, weights=points, minlength=cells)
        over = np.flatnonzero(totals[keys] > cap)
    else:  # sparse: sort the keys once
        _, inv = np.unique(keys, return_inverse=True)
        totals = np.bincount(inv, weights=points)
        over = np.flatnonzero(totals[inv] > cap)
    if over.size == 0:
        return points
    order = over[np.lexsort((over, at[over], keys[over]))]
    k = keys[order]
    p = points[order]
    cum = np.cumsum(p)
    start = np.ones(order.size, dtype=bool)
    start[1:] = k[1:] != k[:-1]
    base = np.maximum.accumulate(np.where(start, cum - p, 0))
    before = cum - p - base
    out = points.copy()
    out[order] = np.clip(cap - before, 0, p)
    return out


def _line_numerators(
    rule: EarnRule, orders: OrderColumns, lines: OrderLineColumns
) -> tuple[IntArray, IntArray]:
    """Per order: Σ weighted line numerators, and Σ eligible line amounts."""
    sorter = np.argsort(orders.order_id, kind="stable")
    sorted_ids = orders.order_id[sorter]
    pos = np.searchsorted(sorted_ids, lines.order_id)
    pos_c = np.minimum(pos, max(sorted_ids.size - 1, 0))
    missing = (pos >= sorted_ids.size) | (sorted_ids[pos_c] != lines.order_id)
    v.require(
        "lines.order_id",
        missing,
        lines.order_id,
        "lines of orders that are not among the orders",
        "Pass the lines of exactly these orders.",
    )
    row = sorter[pos_c]
    eligible = lines.total_minor.copy()
    items = lines.quantity.copy()
    if rule.exclude_discounted_lines:
        discounted = lines.discount_minor > 0
        eligible[discounted] = 0
        items[discounted] = 0
    mult = np.full(len(lines), rule.denominator, dtype=np.int64)
    for cat, m in rule.category_multipliers.items():
        mult[lines.category == cat] = rule.scaled(m)
    for prod, m in rule.product_multipliers.items():
        mult[lines.product_id == prod] = rule.scaled(m)
    line_num = eligible * rule.points_per_unit + items * rule.points_per_item * rule.unit_minor
    num = np.zeros(len(orders), dtype=np.int64)
    np.add.at(num, row, line_num * mult)
    basis = np.zeros(len(orders), dtype=np.int64)
    np.add.at(basis, row, eligible)
    return num, basis


def earn_points(
    rule: EarnRule,
    orders: OrderColumns,
    *,
    lines: OrderLineColumns | None = None,
    tiers: Any = None,
    codes: Any = None,
    clock: ProgramClock | None = None,
    expiry: ExpiryRule | None = None,
) -> EarnColumns:
    """Points earned by every order, vectorized.

    ``tiers`` is each order's tier index at the time of the order (``-1``: none), for the tier
    multipliers. ``codes`` are integer member codes aligned with the orders (from
    [`member_codes`][crmkit.loyalty.member_codes]); they are only needed for a period cap and
    computed from ``customer_id`` when not given. Lines are needed for category and product
    multipliers, per-item points and the exclusion of discounted lines. With an ``expiry`` rule,
    each row's lot expiry is computed in the same pass (``EarnColumns.expires_at``).

    Examples:
        >>> import numpy as np
        >>> oc = OrderColumns.from_arrays(order_id=["o1", "o2", "o3"], customer_id=["a"] * 3,
        ...     placed_at=np.array(["2024-01-05", "2024-01-09", "2024-02-01"], "datetime64[us]"),
        ...     currency=["EUR"] * 3, total_minor=[30000, 30000, 30000])
        >>> from crmkit.loyalty import EarnCap
        >>> rule = EarnRule(rounding="floor", tier_multipliers=[1, 2], cap=EarnCap(points=500))
        >>> earn_points(rule, oc, tiers=[0, 1, 1]).points.tolist()
        [300, 200, 500]
    """
    clock = clock or ProgramClock()
    n = len(orders)
    den_mult = rule.denominator
    needs_days = expiry is not None or (rule.cap is not None and rule.cap.period is not Period.EVER)
    local_days = clock.local_days(orders.placed_at) if needs_days else None
    if lines is not None:
        num, basis = _line_numerators(rule, orders, lines)
        for name, excluded in (
            ("shipping_minor", rule.exclude_shipping),
            ("tax_minor", rule.exclude_tax),
        ):
            if not excluded:
                extra = getattr(orders, name)
                basis = basis + extra
                num = num + extra * (rule.points_per_unit * den_mult)
    else:
        if rule.points_per_item or rule.category_multipliers or rule.product_multipliers:
            raise InvalidInputError(
                "lines: the rule has per-item points or product/category multipliers, which "
                "need order lines. Pass lines=OrderLineColumns(...)."
            )
        if rule.exclude_discounted_lines:
            raise InvalidInputError(
                "lines: the rule excludes discounted lines, which needs order lines. "
                "Pass lines=OrderLineColumns(...)."
            )
        basis = orders.total_minor.copy()
        if rule.exclude_shipping:
            basis -= orders.shipping_minor
        if rule.exclude_tax:
            basis -= orders.tax_minor
        v.require(
            "orders",
            basis < 0,
            basis,
            "shipping and tax exceed the total",
            "Check total_minor, shipping_minor and tax_minor.",
        )
        num = basis * (rule.points_per_unit * den_mult)
    tier_s = np.full(n, den_mult, dtype=np.int64)
    if tiers is not None and rule.tier_multipliers:
        t = v.as_int_array("tiers", tiers, min_value=-1)
        v.same_length(tiers=t, orders=orders.order_id)
        table = np.array(
            [rule.tier_scaled(i) for i in range(len(rule.tier_multipliers))] + [den_mult],
            dtype=np.int64,
        )
        tier_s = table[np.where(t >= len(rule.tier_multipliers), -1, t)]
    camp_s = np.full(n, den_mult, dtype=np.int64)
    for c in rule.campaigns:
        active = (orders.placed_at >= v.to_datetime64("start", c.start)) & (
            orders.placed_at < v.to_datetime64("end", c.end)
        )
        if c.channels:
            active &= np.isin(orders.channel, c.channels)
        camp_s = np.where(active, np.maximum(camp_s, rule.scaled(c.multiplier)), camp_s)
    with np.errstate(over="raise"):
        total_num = num * tier_s * camp_s
    points = rule.rounding.round_ratio(total_num, rule.unit_minor * den_mult**3)
    points = points + rule.points_per_order
    ok = (basis >= rule.min_order_minor) & (orders.status != OrderStatus.CANCELLED.value)
    uncapped = np.where(ok, points, 0)
    capped = uncapped
    if rule.cap is not None:
        if codes is None:
            _, c_arr = member_codes(orders.customer_id)
        else:
            c_arr = v.as_int_array("codes", codes, min_value=0)
            v.same_length(codes=c_arr, orders=orders.order_id)
        periods = period_index(rule.cap.period, orders.placed_at, clock, local_days)
        capped = _cap(uncapped, c_arr, periods, orders.placed_at, rule.cap.points)
    return EarnColumns(
        source_id=orders.order_id,
        customer_id=orders.customer_id,
        earned_at=orders.placed_at,
        points=v.frozen(capped),
        uncapped=v.frozen(uncapped),
        basis_minor=v.frozen(np.where(ok, basis, 0)),
        expires_at=None
        if expiry is None or local_days is None
        else v.frozen(expiry.expires_at_days(local_days, clock)),
    )


def points_for_order(
    rule: EarnRule, order: Order, *, tier: int = -1, earned_in_period: int = 0
) -> int:
    """Points one order earns (plain Python; the single-member twin of ``earn_points``).

    ``earned_in_period`` is what the member already earned from orders in the cap's period.

    Examples:
        >>> import datetime as dt
        >>> from crmkit.model import Money, OrderLine
        >>> eur = lambda s: Money.of(s, "EUR")
        >>> o = Order(order_id="o-1", customer_id="c-1", currency="EUR", shipping=eur("5"),
        ...           placed_at=dt.datetime(2024, 5, 1, tzinfo=dt.UTC),
        ...           lines=[OrderLine(product_id="p", quantity=3, unit_price=eur("9.99"))])
        >>> points_for_order(EarnRule(rounding="half_up", tier_multipliers=[1, "1.5"]), o, tier=1)
        45
    """
    if order.status is OrderStatus.CANCELLED:
        return 0
    den_mult = rule.denominator
    basis = 0
    num = 0
    for line in order.lines:
        if rule.exclude_discounted_lines and line.discount and line.discount.amount_minor > 0:
            continue
        eligible = line.total.amount_minor
        basis += eligible
        mult = rule.line_scaled(line.product_id, line.category or "")
        unit = eligible * rule.points_per_unit + line.quantity * rule.points_per_item * (
            rule.unit_minor
        )
        num += unit * mult
    if not rule.exclude_shipping and order.shipping is not None:
        basis += order.shipping.amount_minor
        num += order.shipping.amount_minor * rule.points_per_unit * den_mult
    if not rule.exclude_tax and order.tax is not None:
        basis += order.tax.amount_minor
        num += order.tax.amount_minor * rule.points_per_unit * den_mult
    if basis < rule.min_order_minor:
        return 0
    num *= rule.tier_scaled(tier) * rule.campaign_scaled(order.placed_at, order.channel)
    points = rule.rounding.round_int(num, rule.unit_minor * den_mult**3) + rule.points_per_order
    if rule.cap is not None:
        points = max(0, min(points, rule.cap.points - earned_in_period))
    return points


def bonus_points(
    rules: list[BonusRule] | tuple[BonusRule, ...],
    events: EventColumns,
    *,
    clock: ProgramClock | None = None,
) -> EarnColumns:
    """Bonus points for events (signup, birthday, review, referral...), limits applied.

    Events of anonymous visitors and of types without a rule earn nothing; beyond a rule's
    ``limit`` per member and period, events earn nothing (earliest events win).

    Examples:
        >>> import numpy as np
        >>> ev = EventColumns.from_arrays(event_id=["e1", "e2", "e3"], customer_id=["a"] * 3,
        ...     type=["review"] * 3,
        ...     at=np.array(["2024-01-01", "2024-01-02", "2024-02-01"], "datetime64[us]"))
        >>> bonus_points([BonusRule(event_type="review", points=50, period="month")],
        ...              ev).points.tolist()
        [50, 0, 50]
    """
    clock = clock or ProgramClock()
    n = len(events)
    points = np.zeros(n, dtype=np.int64)
    known = events.customer_id != ""
    if n and known.any():
        _, inverse = np.unique(events.customer_id, return_inverse=True)  # "" is its own group
        codes = inverse.astype(np.int64).reshape(-1)
        for rule in rules:
            rows = np.flatnonzero(known & (events.type == rule.event_type))
            if rows.size == 0:
                continue
            periods = np.zeros(n, dtype=np.int64)
            periods[rows] = period_index(rule.period, events.at[rows], clock)
            keys, _ = _group_keys(codes, periods)
            rank = _rank_in_groups(keys, events.at, rows)
            points[rows] = np.where(rank < rule.limit, rule.points, 0)
    return EarnColumns(
        source_id=events.event_id,
        customer_id=events.customer_id,
        earned_at=events.at,
        points=v.frozen(points),
        uncapped=v.frozen(points.copy()),
        basis_minor=v.frozen(np.zeros(n, dtype=np.int64)),
    )
