"""One vectorized pass from orders (and lines, returns, events) to per-customer features."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from crmkit import _validation as v
from crmkit.columns import EventColumns, OrderColumns, OrderLineColumns, ReturnColumns
from crmkit.errors import InvalidInputError
from crmkit.features._index import (
    as_customer_ids,
    encode_customers,
    factorize_levels,
    union_ids,
)
from crmkit.features._table import CustomerFeatures

__all__ = ["customer_features", "order_features"]

log = logging.getLogger("crmkit.features")

_US_PER_DAY = 86_400_000_000
_EXACT_FLOAT = 2**53
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


def _grouped_sum_int(codes: npt.NDArray[np.intp], values: I64, n: int) -> I64:
    """Exact int64 sums per group (bincount in float64 while every partial sum is exact)."""
    if values.size == 0:
        return np.zeros(n, dtype=np.int64)
    if int(np.abs(values).max()) * values.size < _EXACT_FLOAT:
        return np.rint(np.bincount(codes, weights=values, minlength=n)).astype(np.int64)
    out = np.zeros(n, dtype=np.int64)
    np.add.at(out, codes, values)
    return out


def _not_after(name: str, t: npt.NDArray[np.datetime64], as_of: np.datetime64) -> None:
    v.require(
        name,
        t > as_of,
        t,
        "timestamps after as_of",
        "Features are computed as of a date; pass rows up to it, e.g. table.between(end=as_of).",
    )


def _purchase_columns(
    codes: npt.NDArray[np.intp],
    n: int,
    t_us: I64,
    amount: I64,
    as_of_us: int,
) -> dict[str, np.ndarray[Any, Any]]:
    """Recency, frequency, monetary, tenure and inter-purchase intervals by customer code."""
    n_orders = np.bincount(codes, minlength=n).astype(np.int64)
    has = n_orders > 0
    gross = _grouped_sum_int(codes, amount, n)

    first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    last = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    np.minimum.at(first, codes, t_us)
    np.maximum.at(last, codes, t_us)

    # Distinct purchase days (UTC) per customer from one sort of a packed (customer, day) key.
    day = np.floor_divide(t_us, _US_PER_DAY)
    d0 = int(day.min()) if day.size else 0
    span = (int(day.max()) - d0 + 1) if day.size else 1
    if n * span < 2**62:
        keys = np.sort(codes.astype(np.int64) * span + (day - d0))
        keep = np.ones(keys.size, dtype=bool)
        keep[1:] = keys[1:] != keys[:-1]
        keys = keys[keep]
        ucode, uday = np.divmod(keys, span)
    else:  # pragma: no cover - needs a span of billions of days
        pairs = np.unique(np.stack([codes.astype(np.int64), day - d0]), axis=1)
        ucode, uday = pairs[0], pairs[1]
    n_days = np.bincount(ucode, minlength=n).astype(np.int64)

    same = ucode[1:] == ucode[:-1]
    gaps = (uday[1:] - uday[:-1])[same].astype(np.float64)
    gcode = ucode[1:][same]
    n_gaps = np.bincount(gcode, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        g_mean = np.bincount(gcode, weights=gaps, minlength=n) / n_gaps
        dev = gaps - g_mean[gcode]
        g_std = np.sqrt(np.bincount(gcode, weights=dev * dev, minlength=n) / n_gaps)
    g_min = np.full(n, np.inf)
    g_max = np.full(n, -np.inf)
    np.minimum.at(g_min, gcode, gaps)
    np.maximum.at(g_max, gcode, gaps)
    g_last = np.full(n, np.nan)
    is_last = np.ones(gcode.size, dtype=bool)
    is_last[:-1] = gcode[1:] != gcode[:-1]
    g_last[gcode[is_last]] = gaps[is_last]
    no_gap = n_gaps == 0
    for arr in (g_mean, g_std, g_min, g_max):
        arr[no_gap] = np.nan

    nan_if_none = np.where(has, 0.0, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        aov = np.where(has, gross / np.maximum(n_orders, 1), np.nan)
    return {
        "n_orders": n_orders,
        "n_purchase_days": n_days,
        "first_purchase_at": np.where(has, first, np.iinfo(np.int64).min).view("datetime64[us]"),
        "last_purchase_at": np.where(has, last, np.iinfo(np.int64).min).view("datetime64[us]"),
        "recency_days": (as_of_us - last) / _US_PER_DAY + nan_if_none,
        "tenure_days": (as_of_us - first) / _US_PER_DAY + nan_if_none,
        "gross_minor": gross,
        "average_order_value_minor": aov,
        "interval_mean_days": g_mean,
        "interval_std_days": g_std,
        "interval_min_days": g_min,
        "interval_max_days": g_max,
        "last_interval_days": g_last,
    }


def order_features(
    customer_id: Any,
    placed_at: Any,
    amount_minor: Any,
    *,
    as_of: Any,
    customers: Any = None,
) -> CustomerFeatures:
    """Purchase features from plain aligned arrays (one row per purchase).

    Args:
        customer_id: string or integer ids (integer ids in a compact range are fastest).
        placed_at: purchase times, ``datetime64`` (taken as UTC) or aware datetimes.
        amount_minor: purchase amounts in integer minor units.
        as_of: the date the features describe; a purchase after it is an error.
        customers: every customer to report (sorted or not); default the ids found.

    Returns the columns of [`customer_features`][crmkit.features.customer_features] that come
    from orders alone (no returns, mixes or events).

    Examples:
        >>> import numpy as np
        >>> f = order_features(["a", "a", "b"],
        ...     np.array(["2024-01-01", "2024-01-11", "2024-01-05"], "datetime64[us]"),
        ...     [1000, 3000, 500], as_of=np.datetime64("2024-01-31", "us"))
        >>> f["n_orders"].tolist(), f["recency_days"].tolist(), f["monetary_minor"].tolist()
        ([2, 1], [20.0, 26.0], [4000, 500])
        >>> f["interval_mean_days"].tolist()
        [10.0, nan]
    """
    ids = as_customer_ids("customer_id", customer_id)
    t = v.as_datetime_array("placed_at", placed_at)
    amount = v.as_int_array("amount_minor", amount_minor)
    v.same_length(customer_id=ids, placed_at=t, amount_minor=amount)
    as_of64 = v.to_datetime64("as_of", as_of)
    _not_after("placed_at", t, as_of64)
    universe = None if customers is None else union_ids(as_customer_ids("customers", customers))
    uids, codes = encode_customers(ids, universe=universe)
    cols = _purchase_columns(
        codes, uids.size, t.view(np.int64), amount, int(as_of64.astype(np.int64))
    )
    gross = cols.pop("gross_minor")
    cols = {
        **{k: cols[k] for k in list(cols)[:6]},
        "monetary_minor": gross,
        "monetary_mean_minor": cols["average_order_value_minor"],
        **{k: cols[k] for k in list(cols)[6:]},
    }
    return CustomerFeatures(
        customer_id=v.frozen(np.array(uids, copy=True)),
        as_of=as_of64,
        columns={k: v.frozen(np.asarray(a)) for k, a in cols.items()},
    )


def _shares(
    codes: npt.NDArray[np.intp],
    n: int,
    labels: np.ndarray[Any, Any],
    level: npt.NDArray[np.intp],
    weights: F64 | None,
    prefix: str,
) -> dict[str, F64]:
    k = labels.size
    key = codes * k + level
    counts = np.bincount(key, weights=weights, minlength=n * k).reshape(n, k)
    total = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = counts / total[:, None]
    return {f"{prefix}[{labels[j]}]": share[:, j] for j in range(k)}


def customer_features(
    orders: OrderColumns,
    *,
    as_of: Any,
    lines: OrderLineColumns | None = None,
    returns: ReturnColumns | None = None,
    events: EventColumns | None = None,
    net_of_returns: bool = False,
    event_windows_days: Sequence[int] = (7, 30, 90),
    customers: Any = None,
) -> CustomerFeatures:
    """The per-customer feature table from column tables, in one vectorized pass.

    Purchases are the orders that are not cancelled. Columns (one value per customer):

    - ``n_orders``, ``n_purchase_days`` (distinct UTC days with a purchase);
    - ``first_purchase_at``, ``last_purchase_at``; ``recency_days`` (as_of − last purchase) and
      ``tenure_days`` (as_of − first purchase), in fractional days;
    - ``monetary_minor`` (sum of order totals, minus refunds when ``net_of_returns``),
      ``monetary_mean_minor`` (that per order), ``average_order_value_minor`` (gross per order),
      ``returned_minor`` (refunds up to as_of);
    - ``interval_mean_days``, ``interval_std_days`` (population), ``interval_min_days``,
      ``interval_max_days``, ``last_interval_days``: gaps between successive purchase days;
    - ``channel_share[<channel>]``: share of orders per channel;
    - ``category_share[<category>]`` (with ``lines``): share of line revenue per category;
    - ``last_event_at[<type>]`` and ``events_<N>d[<type>]`` (with ``events``): time of the last
      event of each type, and the count in the window (as_of − N days, as_of].

    A customer without purchases (known from events or ``customers``) has zero counts and
    sums and NaN / NaT in the rest. Rows after ``as_of`` are an error; mixed currencies are an
    error (`CurrencyMismatchError`).

    Examples:
        >>> import numpy as np
        >>> from crmkit.columns import OrderColumns
        >>> oc = OrderColumns.from_arrays(order_id=["o1", "o2", "o3"],
        ...     customer_id=["a", "a", "b"], currency=["EUR"] * 3, total_minor=[1000, 3000, 500],
        ...     placed_at=np.array(["2024-01-01", "2024-01-11", "2024-01-05"], "datetime64[us]"),
        ...     channel=["web", "app", "web"])
        >>> f = customer_features(oc, as_of=np.datetime64("2024-01-31", "us"))
        >>> f["channel_share[web]"].tolist(), f["tenure_days"].tolist()
        ([0.5, 1.0], [30.0, 26.0])
    """
    as_of64 = v.to_datetime64("as_of", as_of)
    buys = orders.purchases()
    if len(buys):
        buys.single_currency()
    _not_after("orders.placed_at", buys.placed_at, as_of64)
    known_events = events.known() if events is not None else None
    if known_events is not None:
        _not_after("events.at", known_events.at, as_of64)
    if returns is not None:
        returns = returns.between(end=as_of64 + np.timedelta64(1, "us"))
    if customers is not None:
        universe = union_ids(as_customer_ids("customers", customers))
    else:
        parts = [buys.customer_id]
        if known_events is not None:
            parts.append(known_events.customer_id)
        if returns is not None:
            parts.append(returns.customer_id)
        universe = union_ids(*parts)
    n = universe.size
    _, codes = encode_customers(buys.customer_id, universe=universe, name="orders.customer_id")
    core = _purchase_columns(
        codes, n, buys.placed_at.view(np.int64), buys.total_minor, int(as_of64.astype(np.int64))
    )
    gross = core.pop("gross_minor")
    returned = np.zeros(n, dtype=np.int64)
    if returns is not None and len(returns):
        if len(buys):
            v.require(
                "returns.currency",
                returns.currency != buys.single_currency(),
                returns.currency,
                f"refunds not in the orders' currency {buys.single_currency()}",
                "Convert to one currency first.",
            )
        _, rcodes = encode_customers(
            returns.customer_id, universe=universe, name="returns.customer_id"
        )
        returned = _grouped_sum_int(rcodes, returns.refund_minor, n)
    monetary = gross - returned if net_of_returns else gross
    n_orders = core["n_orders"]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n_orders > 0, monetary / np.maximum(n_orders, 1), np.nan)
    cols: dict[str, np.ndarray[Any, Any]] = {k: core[k] for k in list(core)[:6]}
    cols.update(
        monetary_minor=monetary,
        monetary_mean_minor=mean,
        average_order_value_minor=core["average_order_value_minor"],
        returned_minor=returned,
    )
    cols.update({k: core[k] for k in list(core)[7:]})
    if len(buys):
        labels, level = factorize_levels(buys.channel)
        cols.update(_shares(codes, n, labels, level, None, "channel_share"))
    if lines is not None and len(lines):
        lines = lines.take(lines.placed_at <= as_of64)
        _, lcodes = encode_customers(lines.customer_id, universe=universe, name="lines.customer_id")
        labels, level = factorize_levels(lines.category)
        weights = lines.total_minor.astype(np.float64)
        cols.update(_shares(lcodes, n, labels, level, weights, "category_share"))
    if known_events is not None and len(known_events):
        cols.update(_event_columns(known_events, universe, as_of64, event_windows_days))
    log.debug("features: %d customers from %d purchases", n, len(buys))
    return CustomerFeatures(
        customer_id=v.frozen(np.array(universe, copy=True)),
        as_of=as_of64,
        columns={k: v.frozen(np.asarray(a)) for k, a in cols.items()},
    )


def _event_columns(
    events: EventColumns,
    universe: np.ndarray[Any, Any],
    as_of: np.datetime64,
    windows: Sequence[int],
) -> dict[str, np.ndarray[Any, Any]]:
    n = universe.size
    _, codes = encode_customers(events.customer_id, universe=universe, name="events.customer_id")
    labels, level = factorize_levels(events.type)
    k = labels.size
    key = codes * k + level
    t = events.at.view(np.int64)
    last = np.full(n * k, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(last, key, t)
    last_at = last.reshape(n, k).view("datetime64[us]")
    out: dict[str, np.ndarray[Any, Any]] = {
        f"last_event_at[{labels[j]}]": last_at[:, j] for j in range(k)
    }
    for days in windows:
        if days <= 0:
            raise InvalidInputError(
                f"event_windows_days: windows must be positive (got {days}). Pass days, e.g. 30."
            )
        inside = t > int(as_of.astype(np.int64)) - int(days) * _US_PER_DAY
        counts = np.bincount(key[inside], minlength=n * k).reshape(n, k).astype(np.int64)
        out.update({f"events_{days}d[{labels[j]}]": counts[:, j] for j in range(k)})
    return out
