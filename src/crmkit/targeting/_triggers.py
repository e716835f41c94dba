"""Behavioural and calendar triggers: who should get a message because of what just happened.

Every trigger function returns a [`Triggers`][crmkit.targeting.Triggers] table: one row per
customer (and item, where the trigger is about an item), the trigger kind, when it fires and the
amount that goes into the message (cart value, amount to the next tier, points expiring).
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmkit import _validation as v
from crmkit.columns import EventColumns, OrderColumns, OrderLineColumns
from crmkit.errors import InvalidInputError

__all__ = [
    "Triggers",
    "abandoned_browse",
    "abandoned_cart",
    "anniversary",
    "points_expiring",
    "replenishment",
    "tier_near_miss",
    "win_back",
]

_US_PER_HOUR = 3_600_000_000
_US_PER_DAY = 24 * _US_PER_HOUR


@attrs.frozen(kw_only=True, eq=False)
class Triggers:
    """Fired triggers as aligned columns; ``item`` is ``""`` where a trigger has no item.

    Examples:
        >>> import numpy as np
        >>> t = Triggers(customer_id=np.array(["a"]), kind=np.array(["win_back"]),
        ...     due_at=np.array(["2024-05-01"], dtype="datetime64[us]"), amount=np.array([0.0]),
        ...     item=np.array([""]))
        >>> len(t)
        1
    """

    customer_id: npt.NDArray[np.str_] = attrs.field(converter=v.frozen)
    kind: npt.NDArray[np.str_] = attrs.field(converter=v.frozen)
    due_at: npt.NDArray[np.datetime64] = attrs.field(converter=v.frozen)
    amount: npt.NDArray[np.float64] = attrs.field(converter=v.frozen)
    item: npt.NDArray[np.str_] = attrs.field(converter=v.frozen)

    def __len__(self) -> int:
        return int(self.customer_id.size)


def _make(
    kind: str,
    customer_id: npt.NDArray[np.str_],
    due_at: npt.NDArray[np.datetime64],
    amount: npt.NDArray[np.float64] | None = None,
    item: npt.NDArray[np.str_] | None = None,
) -> Triggers:
    n = customer_id.size
    return Triggers(
        customer_id=np.asarray(customer_id, dtype=str),
        kind=np.full(n, kind),
        due_at=np.asarray(due_at, dtype="datetime64[us]"),
        amount=np.zeros(n) if amount is None else np.asarray(amount, dtype=np.float64),
        item=np.full(n, "") if item is None else np.asarray(item, dtype=str),
    )


def _now(now: Any) -> np.datetime64:
    if isinstance(now, np.datetime64):
        out: np.datetime64 = now.astype("datetime64[us]")
        return out
    return v.to_datetime64("now", now)


def _last_per_customer(
    cust: npt.NDArray[np.str_], at: npt.NDArray[np.datetime64]
) -> tuple[npt.NDArray[np.str_], npt.NDArray[np.datetime64]]:
    if cust.size == 0:
        return cust, at
    order = np.lexsort((at, cust))
    c, t = cust[order], at[order]
    last = np.ones(c.size, dtype=bool)
    last[:-1] = c[1:] != c[:-1]
    return c[last], t[last]


def _lookup(
    keys: npt.NDArray[np.str_], table_keys: npt.NDArray[np.str_], table_vals: np.ndarray[Any, Any]
) -> tuple[npt.NDArray[np.bool_], np.ndarray[Any, Any]]:
    """Value of table (sorted unique keys) for each key; found mask."""
    if table_keys.size == 0:
        return np.zeros(keys.size, dtype=bool), np.zeros(keys.size, dtype=table_vals.dtype)
    pos = np.minimum(np.searchsorted(table_keys, keys), table_keys.size - 1)
    found = table_keys[pos] == keys
    return found, table_vals[pos]


def _abandoned(
    kind: str,
    events: EventColumns,
    start_types: tuple[str, ...],
    stop_types: tuple[str, ...],
    now: np.datetime64,
    wait_hours: float,
    lookback_hours: float,
    orders: OrderColumns | None,
    amount: npt.NDArray[np.float64] | None,
) -> Triggers:
    known = events.customer_id != ""
    in_range = (events.at <= now) & (
        events.at > now - np.timedelta64(int(lookback_hours * _US_PER_HOUR), "us")
    )
    start = known & in_range & np.isin(events.type, start_types)
    cust, last_start = _last_per_customer(events.customer_id[start], events.at[start])
    stop = known & (events.at <= now) & np.isin(events.type, stop_types)
    s_cust, s_at = _last_per_customer(events.customer_id[stop], events.at[stop])
    if orders is not None and len(orders):
        o = orders.purchases()
        sel = o.placed_at <= now
        s_cust, s_at = _last_per_customer(
            np.concatenate([s_cust, o.customer_id[sel]]), np.concatenate([s_at, o.placed_at[sel]])
        )
    found, stop_at = _lookup(cust, s_cust, s_at)
    # the start must be the customer's latest and no stop may follow it (a stop at the same
    # instant counts as following: a checkout logged with its add_to_cart closes the cart)
    open_ = ~found | (stop_at < last_start)
    waited = last_start + np.timedelta64(int(wait_hours * _US_PER_HOUR), "us") <= now
    keep = open_ & waited
    cust, last_start = cust[keep], last_start[keep]
    value = None
    if amount is not None:
        # the cart: start events since the customer's last stop
        ev_c = events.customer_id[start]
        f2, stop_c = _lookup(ev_c, s_cust, s_at)
        after = ~f2 | (events.at[start] > stop_c)
        sums_c, inv = np.unique(ev_c[after], return_inverse=True)
        sums = np.bincount(inv, weights=amount[start][after], minlength=sums_c.size)
        _, value = _lookup(cust, sums_c, sums)
    due = last_start + np.timedelta64(int(wait_hours * _US_PER_HOUR), "us")
    return _make(kind, cust, due, value)


def abandoned_cart(
    events: EventColumns,
    *,
    now: Any,
    wait_hours: float = 4.0,
    lookback_hours: float = 72.0,
    orders: OrderColumns | None = None,
    cart_value: Any = None,
) -> Triggers:
    """Customers with items added to a cart and no checkout for ``wait_hours`` since.

    One row per customer however many ``add_to_cart`` events there were (deduplicated);
    ``amount`` is the sum of ``cart_value`` (aligned with ``events``) over the add-to-cart events
    since the customer's last checkout. A later ``checkout_started``, ``order_completed`` event or
    order closes the cart. ``due_at`` is the last addition plus ``wait_hours``.

    Examples:
        >>> import numpy as np
        >>> ev = EventColumns.from_arrays(event_id=["1", "2", "3", "4"],
        ...     customer_id=["a", "a", "b", "b"],
        ...     type=["add_to_cart", "add_to_cart", "add_to_cart", "order_completed"],
        ...     at=np.array(["2024-05-01T10:00", "2024-05-01T11:00", "2024-05-01T10:00",
        ...                  "2024-05-01T10:30"], dtype="datetime64[us]"))
        >>> t = abandoned_cart(ev, now=np.datetime64("2024-05-01T18:00"),
        ...                    cart_value=[20.0, 15.0, 50.0, 0.0])
        >>> t.customer_id.tolist(), t.amount.tolist()
        (['a'], [35.0])
    """
    amount = None
    if cart_value is not None:
        amount = v.as_float_array("cart_value", cart_value, min_value=0.0)
        v.same_length(events=events.event_id, cart_value=amount)
    return _abandoned(
        "abandoned_cart", events, ("add_to_cart",),
        ("checkout_started", "order_completed"), _now(now), wait_hours, lookback_hours,
        orders, amount,
    )  # fmt: skip


def abandoned_browse(
    events: EventColumns,
    *,
    now: Any,
    wait_hours: float = 24.0,
    lookback_hours: float = 72.0,
    orders: OrderColumns | None = None,
) -> Triggers:
    """Customers who viewed products and neither added to cart nor bought since.

    Examples:
        >>> import numpy as np
        >>> ev = EventColumns.from_arrays(event_id=["1", "2"], customer_id=["a", "b"],
        ...     type=["product_view", "product_view"],
        ...     at=np.array(["2024-05-01", "2024-05-02T20:00"], dtype="datetime64[us]"))
        >>> abandoned_browse(ev, now=np.datetime64("2024-05-03")).customer_id.tolist()
        ['a']
    """
    return _abandoned(
        "abandoned_browse", events, ("product_view",),
        ("add_to_cart", "checkout_started", "order_completed"), _now(now), wait_hours,
        lookback_hours, orders, None,
    )  # fmt: skip


def win_back(
    orders: OrderColumns,
    *,
    now: Any,
    customer_id: Any = None,
    p_alive: Any = None,
    p_alive_threshold: float = 0.3,
    overdue_factor: float = 2.0,
    min_orders: int = 2,
) -> Triggers:
    """Lapsing customers: P(alive) below a threshold, or overdue against their own cadence.

    A customer with at least ``min_orders`` purchases is overdue when the time since the last
    purchase exceeds ``overdue_factor`` × their mean gap between purchases. ``p_alive`` (aligned
    with ``customer_id``, for example from ``crmkit.clv``) adds those below ``p_alive_threshold``.
    ``amount`` holds the days since the last purchase.

    Examples:
        >>> import numpy as np
        >>> o = OrderColumns.from_arrays(order_id=["1", "2", "3", "4"],
        ...     customer_id=["a", "a", "b", "b"], currency=["EUR"] * 4, total_minor=[1] * 4,
        ...     placed_at=np.array(["2024-01-01", "2024-01-11", "2024-01-01", "2024-04-01"],
        ...                        dtype="datetime64[us]"))
        >>> win_back(o, now=np.datetime64("2024-05-01")).customer_id.tolist()
        ['a']
    """
    t = _now(now)
    buys = orders.purchases()
    sel = buys.placed_at <= t
    cust, at = buys.customer_id[sel], buys.placed_at[sel].astype(np.int64)
    ids, inv, counts = np.unique(cust, return_inverse=True, return_counts=True)
    first = np.full(ids.size, np.iinfo(np.int64).max)
    last = np.full(ids.size, np.iinfo(np.int64).min)
    np.minimum.at(first, inv, at)
    np.maximum.at(last, inv, at)
    gap = (last - first) / np.maximum(counts - 1, 1)
    since = t.astype(np.int64) - last
    overdue = (counts >= min_orders) & (gap > 0) & (since > overdue_factor * gap)
    if p_alive is not None:
        if customer_id is None:
            raise InvalidInputError("customer_id: needed with p_alive (aligned with it).")
        pid = v.as_str_array("customer_id", customer_id)
        pa = v.as_float_array("p_alive", p_alive, min_value=0.0)
        v.same_length(customer_id=pid, p_alive=pa)
        found, pa_at = _lookup(ids, *_sorted_by_key(pid, pa))
        overdue |= found & (pa_at < p_alive_threshold)
    days = since[overdue] / _US_PER_DAY
    return _make("win_back", ids[overdue], np.full(int(overdue.sum()), t), days)


def _sorted_by_key(
    keys: npt.NDArray[np.str_], vals: np.ndarray[Any, Any]
) -> tuple[npt.NDArray[np.str_], np.ndarray[Any, Any]]:
    order = np.argsort(keys, kind="stable")
    return keys[order], vals[order]


def replenishment(
    lines: OrderLineColumns,
    *,
    now: Any,
    lead_days: float = 3.0,
    min_repeats: int = 5,
) -> Triggers:
    """Customers due to run out of a product they buy again and again.

    A product's repurchase cycle is the median gap between consecutive purchases of it by the
    same customer (over all customers; products with fewer than ``min_repeats`` such gaps have
    no cycle). A customer is due ``lead_days`` before last purchase + cycle and stays due until
    they buy it again. ``amount`` is the cycle in days.

    Examples:
        >>> import numpy as np
        >>> days = ["2024-01-01", "2024-01-31", "2024-03-01", "2024-03-31"]
        >>> lines = OrderLineColumns.from_arrays(order_id=["1", "2", "3", "4"], line_no=[0] * 4,
        ...     customer_id=["a"] * 4, product_id=["coffee"] * 4, quantity=[1] * 4,
        ...     unit_price_minor=[900] * 4, total_minor=[900] * 4, currency=["EUR"] * 4,
        ...     placed_at=np.array(days, dtype="datetime64[us]"))
        >>> t = replenishment(lines, now=np.datetime64("2024-04-28"), min_repeats=3)
        >>> t.item.tolist(), t.amount.round(1).tolist()
        (['coffee'], [30.0])
    """
    t = _now(now)
    sel = lines.placed_at <= t
    cust, prod = lines.customer_id[sel], lines.product_id[sel]
    at = lines.placed_at[sel].astype(np.int64)
    order = np.lexsort((at, prod, cust))
    cust, prod, at = cust[order], prod[order], at[order]
    same = np.zeros(at.size, dtype=bool)
    same[1:] = (cust[1:] == cust[:-1]) & (prod[1:] == prod[:-1])
    gaps = np.diff(at, prepend=0)[same]
    gap_prod = prod[same]
    keep_gap = gaps > 0  # lines of one order (or the same instant) are one purchase
    gaps, gap_prod = gaps[keep_gap], gap_prod[keep_gap]
    prods, inv, n = np.unique(gap_prod, return_inverse=True, return_counts=True)
    order = np.lexsort((gaps, inv))
    g_sorted = gaps[order]
    starts = np.concatenate(([0], np.cumsum(n)[:-1]))
    median = (g_sorted[starts + (n - 1) // 2] + g_sorted[starts + n // 2]) / 2
    has = n >= min_repeats
    prods, median = prods[has], median[has]
    last = np.ones(at.size, dtype=bool)
    last[:-1] = (cust[1:] != cust[:-1]) | (prod[1:] != prod[:-1])
    lc, lp, la = cust[last], prod[last], at[last]
    found, cycle = _lookup(lp, prods, median)
    due = la + cycle - lead_days * _US_PER_DAY
    fire = found & (due <= t.astype(np.int64))
    due_at = due[fire].astype(np.int64).astype("datetime64[us]")
    return _make("replenishment", lc[fire], due_at, cycle[fire] / _US_PER_DAY, lp[fire])


def anniversary(
    customer_id: Any,
    dates: Any,
    *,
    now: Any,
    within_days: int = 7,
    kind: str = "birthday",
) -> Triggers:
    """Customers whose birthday (or signup anniversary) falls in the next ``within_days`` days.

    ``dates`` are ``datetime64[D]`` (or ISO strings); NaT means unknown and never fires. A 29
    February falls on 28 February in common years. ``due_at`` is the day (00:00 UTC);
    ``amount`` is the number of years being completed.

    Examples:
        >>> import numpy as np
        >>> anniversary(["a", "b"], np.array(["1990-05-03", "1985-09-01"], dtype="datetime64[D]"),
        ...             now=np.datetime64("2024-05-01")).amount.tolist()
        [34.0]
    """
    ids = v.as_str_array("customer_id", customer_id)
    d = np.asarray(dates, dtype="datetime64[D]")
    v.same_length(customer_id=ids, dates=d)
    today = _now(now).astype("datetime64[D]")
    known = ~np.isnat(d)
    year0 = today.astype("datetime64[Y]").astype(np.int64) + 1970
    born_y = np.where(known, d.astype("datetime64[Y]").astype(np.int64) + 1970, 0)
    month = np.where(known, d.astype("datetime64[M]").astype(np.int64) % 12, 0)
    day = np.where(known, (d - d.astype("datetime64[M]")).astype(np.int64), 0)
    hit = np.zeros(ids.size, dtype=bool)
    when = np.full(ids.size, np.datetime64("NaT", "D"))
    years = np.zeros(ids.size)
    for y in (year0, year0 + 1):
        first = (np.datetime64(f"{y:04d}-01", "M") + month).astype("datetime64[D]")
        month_len = ((first.astype("datetime64[M]") + 1).astype("datetime64[D]") - first).astype(
            np.int64
        )
        this = first + np.minimum(day, month_len - 1)
        ok = known & ~hit & (this >= today) & (this < today + within_days) & (y > born_y)
        when[ok] = this[ok]
        years[ok] = (y - born_y)[ok]
        hit |= ok
    return _make(kind, ids[hit], when[hit].astype("datetime64[us]"), years[hit])


def tier_near_miss(
    customer_id: Any, amount_to_next_tier: Any, *, now: Any, max_amount: float
) -> Triggers:
    """Customers within ``max_amount`` of the next tier ("spend 20 more to reach Gold").

    ``amount_to_next_tier`` comes from a tier policy (``crmkit.loyalty`` or any other); NaN or
    values <= 0 (top tier, or already qualified) never fire.

    Examples:
        >>> import numpy as np
        >>> tier_near_miss(["a", "b"], [15.0, 80.0], now=np.datetime64("2024-05-01"),
        ...                max_amount=25.0).customer_id.tolist()
        ['a']
    """
    ids = v.as_str_array("customer_id", customer_id)
    gap = v.as_float_array("amount_to_next_tier", amount_to_next_tier, nan_policy="omit")
    v.same_length(customer_id=ids, amount_to_next_tier=gap)
    with np.errstate(invalid="ignore"):
        hit = (gap > 0) & (gap <= max_amount)
    return _make("tier_near_miss", ids[hit], np.full(int(hit.sum()), _now(now)), gap[hit])


def points_expiring(
    customer_id: Any,
    points: Any,
    expires_at: Any,
    *,
    now: Any,
    within_days: float = 30.0,
    min_points: float = 1.0,
) -> Triggers:
    """Customers with at least ``min_points`` points expiring in the next ``within_days`` days.

    Rows are points lots (several per customer allowed); the points expiring in the window are
    summed per customer. ``due_at`` is the earliest expiry in the window.

    Examples:
        >>> import numpy as np
        >>> t = points_expiring(["a", "a", "b"], [100, 50, 10],
        ...     np.array(["2024-05-10", "2024-05-20", "2024-09-01"], dtype="datetime64[us]"),
        ...     now=np.datetime64("2024-05-01"))
        >>> t.customer_id.tolist(), t.amount.tolist()
        (['a'], [150.0])
    """
    ids = v.as_str_array("customer_id", customer_id)
    pts = v.as_float_array("points", points, min_value=0.0)
    exp = v.as_datetime_array("expires_at", expires_at)
    v.same_length(customer_id=ids, points=pts, expires_at=exp)
    t = _now(now)
    win = (exp > t) & (exp <= t + np.timedelta64(int(within_days * _US_PER_DAY), "us"))
    u, inv = np.unique(ids[win], return_inverse=True)
    total = np.bincount(inv, weights=pts[win], minlength=u.size)
    first = np.full(u.size, np.iinfo(np.int64).max)
    np.minimum.at(first, inv, exp[win].astype(np.int64))
    hit = total >= min_points
    due = first[hit].astype("datetime64[us]")
    return _make("points_expiring", u[hit], due, total[hit].astype(np.float64))
