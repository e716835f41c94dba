"""Checks shared by adapters: value batches, scan arguments, and columnar batches of orders."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

import attrs
import numpy as np
import numpy.typing as npt

from crmkit import _validation as v
from crmkit.columns import EventColumns, OrderColumns, OrderLineColumns
from crmkit.errors import InvalidInputError
from crmkit.model import Event, Money, Order, OrderLine, OrderStatus
from crmkit.storage._page import from_micros, micros

__all__ = [
    "GroupedLines",
    "check_events",
    "check_key",
    "check_limit",
    "check_values",
    "events_from_columns",
    "group_lines",
    "last_wins",
    "orders_from_columns",
    "time_bounds",
]

T = TypeVar("T")

_SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
_SPACE = np.array([c for c in map(chr, range(0x3001)) if c.isspace()])


def check_values(name: str, values: Iterable[Any], cls: type[T]) -> list[T]:
    """The batch as a list, every item an instance of ``cls`` (else InvalidInputError)."""
    if isinstance(values, str | bytes) or attrs.has(type(values)):
        raise InvalidInputError(
            f"{name}: expected an iterable of {cls.__name__} (got one {type(values).__name__}). "
            "Pass a list, e.g. [value]."
        )
    out = list(values)
    for i, value in enumerate(out):
        if not isinstance(value, cls):
            raise InvalidInputError(
                f"{name}[{i}]: expected {cls.__name__} (got {type(value).__name__}). "
                f"Pass {cls.__name__} values only."
            )
    return out


def last_wins(values: list[T], key: Callable[[T], str]) -> dict[str, T]:
    """The batch by key, keeping the last value given for each key (insertion-ordered)."""
    out: dict[str, T] = {}
    for value in values:
        k = key(value)
        out.pop(k, None)
        out[k] = value
    return out


def check_limit(limit: int) -> int:
    """A page size: a whole number >= 1."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidInputError(f"limit: expected a whole number >= 1 (got {limit!r}).")
    return limit


def check_key(name: str, key: Any) -> str:
    """A key argument: a string."""
    if not isinstance(key, str):
        raise InvalidInputError(f"{name}: expected a string key (got {type(key).__name__}).")
    return key


def time_bounds(start: dt.datetime | None, end: dt.datetime | None) -> tuple[int, int]:
    """``[start, end)`` as microseconds since the epoch (open bounds become the int64 limits)."""
    lo = -(2**63) if start is None else micros(_aware("start", start))
    hi = 2**63 - 1 if end is None else micros(_aware("end", end))
    return lo, hi


def _aware(name: str, value: Any) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise InvalidInputError(
            f"{name}: expected a timezone-aware datetime (got {type(value).__name__})."
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInputError(
            f"{name}: naive datetime ({value.isoformat()}). Attach a time zone, e.g. tzinfo=UTC."
        )
    return value


def _padded(name: str, ids: npt.NDArray[np.str_]) -> None:
    # Ids must be trimmed, as the model's values require; read the first and last code points.
    if ids.size == 0:
        return
    width = ids.dtype.itemsize // 4
    points = np.ascontiguousarray(ids).view(np.uint32).reshape(ids.size, width)
    lengths = np.char.str_len(ids)
    first = points[:, 0]
    last = points[np.arange(ids.size), np.maximum(lengths - 1, 0)]
    space = _SPACE.view(np.uint32)
    bad = np.isin(first, space) | np.isin(last, space)
    v.require(name, bad, ids, "padded ids", "Trim surrounding whitespace from ids.")


@attrs.frozen(kw_only=True)
class GroupedLines:
    """Lines of a validated batch regrouped in order-row order: ``lines.take(perm)`` and counts."""

    lines: OrderLineColumns
    counts: npt.NDArray[np.int64]


def group_lines(orders: OrderColumns, lines: OrderLineColumns) -> GroupedLines:
    """Validate a columnar batch of orders with lines, as ``Order`` would; group lines by order.

    Checks: order ids unique and trimmed; every line belongs to an order of the batch and repeats
    its customer, time and currency; line numbers run 0..k-1; every order has a line; quantities
    >= 1; prices, discounts, shipping and tax >= 0; discount <= gross; line totals = quantity ×
    unit price − discount; order totals = Σ line totals + shipping + tax; statuses and channels
    are valid codes.
    """
    if not isinstance(orders, OrderColumns) or not isinstance(lines, OrderLineColumns):
        raise InvalidInputError(
            "upsert_columns: expected OrderColumns and OrderLineColumns "
            f"(got {type(orders).__name__}, {type(lines).__name__})."
        )
    n = len(orders)
    oid = orders.order_id
    _padded("orders.order_id", oid)
    _padded("orders.customer_id", orders.customer_id)
    _padded("lines.product_id", lines.product_id)
    statuses = sorted(s.value for s in OrderStatus)
    v.require(
        "orders.status",
        ~np.isin(orders.status, statuses),
        orders.status,
        "unknown statuses",
        f"Use one of {statuses}.",
    )
    bad_channels = [c for c in set(orders.channel.tolist()) if not _SNAKE.match(c)]
    v.require(
        "orders.channel",
        np.isin(orders.channel, bad_channels),
        orders.channel,
        "channels that are not lower snake_case",
        "Use codes such as 'web' or 'app'.",
    )
    for name in ("shipping_minor", "tax_minor"):
        col = getattr(orders, name)
        v.require(f"orders.{name}", col < 0, col, "negative amounts", "Amounts must be >= 0.")
    # Map each line to its order row: fast when lines come grouped in order-row order.
    lid = lines.order_id
    counts: npt.NDArray[np.int64]
    if lid.size and n:
        change = np.flatnonzero(lid[1:] != lid[:-1]) + 1
        run_starts = np.concatenate(([0], change))
        grouped = run_starts.size == n and np.array_equal(lid[run_starts], oid)
    else:
        grouped = lid.size == 0 and n == 0
    if grouped:
        perm = np.arange(lid.size)
        counts = (
            np.diff(np.append(run_starts, lid.size)).astype(np.int64)
            if n
            else np.zeros(0, np.int64)
        )
        row = np.repeat(np.arange(n), counts)
    else:
        sorter = np.argsort(oid, kind="stable")
        sorted_ids = oid[sorter]
        dup = sorted_ids[1:] == sorted_ids[:-1]
        v.require(
            "orders.order_id", dup, sorted_ids[1:], "duplicate order ids", "Pass each order once."
        )
        pos = np.searchsorted(sorted_ids, lid)
        pos_c = np.minimum(pos, max(n - 1, 0))
        found = (pos < n) & (sorted_ids[pos_c] == lid) if n else np.zeros(lid.size, bool)
        v.require(
            "lines.order_id",
            ~found,
            lid,
            "lines of orders not in the batch",
            "Pass their orders too.",
        )
        row_unsorted = sorter[pos_c]
        perm = np.lexsort((lines.line_no, row_unsorted))
        row = row_unsorted[perm]
        counts = np.bincount(row, minlength=n).astype(np.int64)
    if grouped and n > 1:
        sorted_ids = np.sort(oid)
        dup = sorted_ids[1:] == sorted_ids[:-1]
        v.require(
            "orders.order_id", dup, sorted_ids[1:], "duplicate order ids", "Pass each order once."
        )
    empty = counts == 0
    v.require("orders.order_id", empty, oid, "orders without lines", "An order needs a line.")
    g = lines.take(perm) if not grouped else lines
    starts = np.cumsum(counts) - counts
    expected_no = np.arange(lid.size) - np.repeat(starts, counts)
    v.require(
        "lines.line_no",
        g.line_no != expected_no,
        g.line_no,
        "line numbers that do not run 0..k-1 within their order",
        "Number each order's lines from 0.",
    )
    for name, col in (
        ("customer_id", orders.customer_id),
        ("placed_at", orders.placed_at),
        ("currency", orders.currency),
    ):
        line_col = getattr(g, name)
        v.require(
            f"lines.{name}",
            line_col != col[row],
            line_col,
            "values that differ from their order's",
            "Copy the order's value to its lines.",
        )
    v.require("lines.quantity", g.quantity < 1, g.quantity, "quantities < 1", "Pass whole units.")
    for name in ("unit_price_minor", "discount_minor"):
        col = getattr(g, name)
        v.require(f"lines.{name}", col < 0, col, "negative amounts", "Amounts must be >= 0.")
    gross = g.quantity * g.unit_price_minor
    v.require(
        "lines.discount_minor",
        g.discount_minor > gross,
        g.discount_minor,
        "discounts above the line's gross",
        "A discount cannot exceed quantity × unit price.",
    )
    v.require(
        "lines.total_minor",
        g.total_minor != gross - g.discount_minor,
        g.total_minor,
        "totals other than quantity × unit price − discount",
        "Recompute line totals.",
    )
    sums = np.add.reduceat(g.total_minor, starts) if n else np.zeros(0, np.int64)
    expected_total = sums + orders.shipping_minor + orders.tax_minor
    v.require(
        "orders.total_minor",
        orders.total_minor != expected_total,
        orders.total_minor,
        "totals other than Σ line totals + shipping + tax",
        "Recompute order totals.",
    )
    return GroupedLines(lines=g, counts=counts)


def orders_from_columns(orders: OrderColumns, lines: OrderLineColumns) -> list[Order]:
    """Order values from a validated columnar batch (discount 0 and category "" become None).

    Examples:
        >>> import numpy as np
        >>> oc = OrderColumns.from_arrays(order_id=["o1"], customer_id=["c1"],
        ...     placed_at=np.array(["2024-01-01"], "datetime64[us]"), currency=["EUR"],
        ...     total_minor=[300])
        >>> lc = OrderLineColumns.from_arrays(order_id=["o1"], line_no=[0], customer_id=["c1"],
        ...     placed_at=oc.placed_at, product_id=["p"], quantity=[3], unit_price_minor=[100],
        ...     total_minor=[300], currency=["EUR"])
        >>> str(orders_from_columns(oc, lc)[0].total)
        '3.00 EUR'
    """
    grouped = group_lines(orders, lines)
    g, counts = grouped.lines, grouped.counts.tolist()
    q, u, d = g.quantity.tolist(), g.unit_price_minor.tolist(), g.discount_minor.tolist()
    pids, cats = g.product_id.tolist(), g.category.tolist()
    out: list[Order] = []
    pos = 0
    t_us = orders.placed_at.astype(np.int64).tolist()
    for i, cur in enumerate(orders.currency.tolist()):
        made = [
            OrderLine(
                product_id=pids[j],
                quantity=q[j],
                unit_price=Money(amount_minor=u[j], currency=cur),
                discount=Money(amount_minor=d[j], currency=cur) if d[j] else None,
                category=cats[j] or None,
            )
            for j in range(pos, pos + counts[i])
        ]
        pos += counts[i]
        shipping, tax = int(orders.shipping_minor[i]), int(orders.tax_minor[i])
        out.append(
            Order(
                order_id=str(orders.order_id[i]),
                customer_id=str(orders.customer_id[i]),
                placed_at=from_micros(t_us[i]),
                currency=cur,
                lines=cast(Any, made),  # converter=tuple types as Iterable[_T_co]
                status=str(orders.status[i]),
                channel=str(orders.channel[i]),
                shipping=Money(amount_minor=shipping, currency=cur) if shipping else None,
                tax=Money(amount_minor=tax, currency=cur) if tax else None,
            )
        )
    return out


def check_events(events: EventColumns) -> None:
    """Validate a columnar batch of events as ``Event`` would (ids, types, one id per row)."""
    if not isinstance(events, EventColumns):
        raise InvalidInputError(
            f"upsert_columns: expected EventColumns (got {type(events).__name__})."
        )
    _padded("events.event_id", events.event_id)
    sorted_ids = np.sort(events.event_id)
    v.require(
        "events.event_id",
        sorted_ids[1:] == sorted_ids[:-1],
        sorted_ids[1:],
        "duplicate event ids",
        "Pass each event once.",
    )
    bad_types = [t for t in set(events.type.tolist()) if not _SNAKE.match(t)]
    v.require(
        "events.type",
        np.isin(events.type, bad_types),
        events.type,
        "types that are not lower snake_case",
        "Use codes such as 'page_view'.",
    )
    v.require(
        "events.customer_id",
        (events.customer_id == "") & (events.anonymous_id == ""),
        events.event_id,
        "events with neither customer_id nor anonymous_id",
        "Set at least one.",
    )
    for name in ("customer_id", "anonymous_id"):
        col = getattr(events, name)
        present = col[col != ""]
        _padded(f"events.{name}", present)


def events_from_columns(events: EventColumns) -> list[Event]:
    """Event values from a validated columnar batch ("" ids become None, no properties).

    Examples:
        >>> import numpy as np
        >>> ec = EventColumns.from_arrays(event_id=["e1"], customer_id=[""], anonymous_id=["a"],
        ...     type=["page_view"], at=np.array(["2024-01-01"], "datetime64[us]"))
        >>> events_from_columns(ec)[0].customer_id is None
        True
    """
    check_events(events)
    t_us = events.at.astype(np.int64).tolist()
    return [
        Event(
            event_id=e,
            type=t,
            at=from_micros(at),
            customer_id=c or None,
            anonymous_id=a or None,
        )
        for e, c, a, t, at in zip(
            events.event_id.tolist(),
            events.customer_id.tolist(),
            events.anonymous_id.tolist(),
            events.type.tolist(),
            t_us,
            strict=True,
        )
    ]
