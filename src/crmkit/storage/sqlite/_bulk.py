"""The columnar paths of the SQLite adapter: rows from columns, columns from JSON-array cells.

Lines are kept per order as JSON arrays (``["p1","p2"]``, ``[1,2]``...). Building and parsing
them one order at a time costs a Python call per order and per line; these helpers do it for a
whole batch with a few string operations, falling back to ``json`` when text needs escaping.
"""

from __future__ import annotations

import gc
import itertools
import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from crmkit.columns import EventColumns, OrderColumns, OrderLineColumns

__all__ = ["Concatenated", "concat_scan", "event_rows", "int_arrays", "order_rows", "str_arrays"]

_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')


def _arrays(tokens: list[str], counts: list[int], quoted: bool) -> list[str]:
    """One JSON array text per group of ``counts`` consecutive tokens (tokens already JSON)."""
    if not tokens:
        return ["[]"] * len(counts)
    q = '"' if quoted else ""
    within, between = f"{q},{q}", f"{q}]\x1e[{q}"
    seps = [within] * len(tokens)
    for end in itertools.accumulate(counts):
        seps[end - 1] = between
    text = f"[{q}" + "".join(itertools.chain.from_iterable(zip(tokens, seps, strict=True)))
    return text.split("\x1e")[:-1]


def _str_arrays(values: list[str], counts: list[int], *, empty_is_null: bool) -> list[str]:
    clean = not _NEEDS_ESCAPE.search("".join(values))
    if clean and not (empty_is_null and "" in values):
        return _arrays(values, counts, quoted=True)
    if clean:
        tokens = [f'"{s}"' if s else "null" for s in values]
    else:
        tokens = [
            "null" if empty_is_null and not s else json.dumps(s, ensure_ascii=False) for s in values
        ]
    return _arrays(tokens, counts, quoted=False)


def _int_arrays(
    values: npt.NDArray[np.int64], counts: list[int], *, zero_is_null: bool
) -> list[str]:
    tokens = list(map(str, values.tolist()))
    if zero_is_null:
        tokens = ["null" if t == "0" else t for t in tokens]
    return _arrays(tokens, counts, quoted=False)


def order_rows(
    orders: OrderColumns, lines: OrderLineColumns, counts: npt.NDArray[np.int64]
) -> Iterator[tuple[Any, ...]]:
    """Rows of the ``orders`` table from a validated batch whose lines are grouped by order."""
    c = counts.tolist()
    shipping = [x or None for x in orders.shipping_minor.tolist()]
    tax = [x or None for x in orders.tax_minor.tolist()]
    return zip(
        orders.order_id.tolist(),
        orders.customer_id.tolist(),
        orders.placed_at.astype(np.int64).tolist(),
        orders.currency.tolist(),
        orders.total_minor.tolist(),
        shipping,
        tax,
        orders.status.tolist(),
        orders.channel.tolist(),
        itertools.repeat("{}"),
        c,
        _str_arrays(lines.product_id.tolist(), c, empty_is_null=False),
        _int_arrays(lines.quantity, c, zero_is_null=False),
        _int_arrays(lines.unit_price_minor, c, zero_is_null=False),
        _int_arrays(lines.discount_minor, c, zero_is_null=True),
        _str_arrays(lines.category.tolist(), c, empty_is_null=True),
        strict=False,
    )


def event_rows(events: EventColumns) -> Iterator[tuple[Any, ...]]:
    """Rows of the ``events`` table from a validated batch (``""`` ids become NULL)."""
    return zip(
        events.event_id.tolist(),
        [x or None for x in events.customer_id.tolist()],
        [x or None for x in events.anonymous_id.tolist()],
        events.type.tolist(),
        events.at.astype(np.int64).tolist(),
        itertools.repeat("{}"),
        strict=False,
    )


class Concatenated:
    """The columns of a scan, each fetched as one ``group_concat`` text, split back here."""

    def __init__(self, count: int, texts: Sequence[str | None]) -> None:
        self.count = count
        self.texts = texts

    def ints(self, i: int) -> npt.NDArray[np.int64]:
        """Column ``i`` (integers joined by commas) as int64."""
        text = self.texts[i]
        if not self.count or text is None:
            return np.zeros(0, dtype=np.int64)
        out = np.fromstring(text, dtype=np.int64, sep=",")
        if out.size != self.count:  # pragma: no cover - guards against a damaged row
            raise ValueError(f"expected {self.count} values, found {out.size}")
        return out

    def strs(self, i: int) -> list[str] | None:
        """Column ``i`` (text joined by U+001F) as strings; None if a value held U+001F."""
        text = self.texts[i]
        if not self.count or text is None:
            return []
        parts = text.split(_UNIT)
        return parts if len(parts) == self.count else None


_UNIT = "\x1f"


def concat_scan(
    con: Any,
    table: str,
    columns: Sequence[tuple[str, bool]],
    where: str,
    order: str,
    params: Sequence[Any],
) -> Concatenated:
    """Scan ``table`` into one text per column with ``group_concat`` (a single row to fetch).

    ``columns`` are ``(sql expression, is_integer)``. Rows are fed to the aggregates in
    ``order``; callers verify the order of the result, since SQL does not promise it.
    """
    aggregates = ", ".join(
        f"group_concat(c{i}, ',')" if is_int else f"group_concat(c{i}, char(31))"
        for i, (_, is_int) in enumerate(columns)
    )
    inner = ", ".join(f"{expr} AS c{i}" for i, (expr, _) in enumerate(columns))
    row = con.execute(
        f"SELECT count(*), {aggregates} FROM (SELECT {inner} FROM {table} WHERE {where} "
        f"ORDER BY {order})",
        params,
    ).fetchone()
    return Concatenated(int(row[0]), row[1:])


def int_arrays(cells: Sequence[str], total: int) -> npt.NDArray[np.int64]:
    """The concatenated elements of JSON integer arrays (``null`` read as 0)."""
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    text = ",".join(cells).replace("[", "").replace("]", "").replace("null", "0")
    out = np.array(text.split(","), dtype=np.int64)
    if out.size != total:  # pragma: no cover - guards against a damaged row
        raise ValueError(f"expected {total} line values, found {out.size}")
    return out


def str_arrays(cells: Sequence[str], total: int) -> list[str]:
    """The concatenated elements of JSON string arrays (``null`` read as ``""``)."""
    if total == 0:
        return []
    # A million small lists would trigger the cyclic collector again and again; none can form a
    # cycle, so pause it while they exist.
    paused = gc.isenabled()
    gc.disable()
    try:
        parsed = json.loads("[" + ",".join(cells) + "]")
        out = ["" if s is None else s for s in itertools.chain.from_iterable(parsed)]
        del parsed
    finally:
        if paused:
            gc.enable()
    if len(out) != total:  # pragma: no cover - guards against a damaged row
        raise ValueError(f"expected {total} line values, found {len(out)}")
    return out
