"""The columnar paths of the SQLite adapter: rows from columns, columns from JSON-array cells.

Orders written by value keep their lines as JSON arrays (``["p1","p2"]``, ``[1,2]``...).
Parsing them one order at a time costs a Python call per order and per line; these helpers
parse a whole scan with a few string operations. (Bulk-loaded orders keep their lines in line
blocks instead; see ``_lines``.)
"""

from __future__ import annotations

import gc
import itertools
import json
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmkit.columns import EventColumns, OrderColumns

__all__ = [
    "BulkRows",
    "Concatenated",
    "concat_scan",
    "event_rows",
    "int_arrays",
    "order_rows",
    "str_arrays",
]


#: Rows a bulk load binds per INSERT statement (fewer if the driver allows fewer variables):
#: Python's sqlite3 then loops once per group of rows rather than once per row.
ROWS_PER_STATEMENT = 250

#: Rows a bulk load lays out at a time (bounds the Python objects alive at once).
CHUNK_ROWS = 100_000


@attrs.frozen(kw_only=True)
class BulkRows:
    """The rows of a bulk load, as column lists built chunk by chunk.

    ``head``: ``INSERT ... (columns) VALUES``; ``values``: one row's ``(?, ..., 'constant')``
    with one ``?`` per column that ``columns(start, stop)`` returns.
    """

    head: str
    values: str
    n: int
    columns: Callable[[int, int], list[list[Any]]]

    def execute(self, con: sqlite3.Connection) -> None:
        """Insert every row: groups of rows per statement, then the remainder one by one."""
        width = self.values.count("?")
        limit = con.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        per = max(1, min(ROWS_PER_STATEMENT, limit // max(width, 1)))
        group = f"{self.head} {', '.join([self.values] * per)}"
        for start in range(0, self.n, CHUNK_ROWS):
            stop = min(start + CHUNK_ROWS, self.n)
            grid = np.empty((stop - start, width), dtype=object)
            for j, column in enumerate(self.columns(start, stop)):
                grid[:, j] = column
            full = grid.shape[0] - grid.shape[0] % per
            if full:
                con.executemany(group, grid[:full].reshape(-1, per * width).tolist())
            if full < grid.shape[0]:
                con.executemany(f"{self.head} {self.values}", grid[full:].tolist())


def order_rows(
    orders: OrderColumns,
    counts: npt.NDArray[np.int64],
    blocks: npt.NDArray[np.int64],
    offsets: npt.NDArray[np.int64],
) -> Callable[[int, int], list[list[Any]]]:
    """Column lists of ``orders`` table rows for a validated batch whose lines sit in blocks."""

    def columns(a: int, b: int) -> list[list[Any]]:
        return [
            orders.order_id[a:b].tolist(),
            orders.customer_id[a:b].tolist(),
            orders.placed_at[a:b].astype(np.int64).tolist(),
            orders.currency[a:b].tolist(),
            orders.total_minor[a:b].tolist(),
            [x or None for x in orders.shipping_minor[a:b].tolist()],
            [x or None for x in orders.tax_minor[a:b].tolist()],
            orders.status[a:b].tolist(),
            orders.channel[a:b].tolist(),
            counts[a:b].tolist(),
            blocks[a:b].tolist(),
            offsets[a:b].tolist(),
        ]

    return columns


def event_rows(events: EventColumns) -> Callable[[int, int], list[list[Any]]]:
    """Column lists of ``events`` table rows from a validated batch (``""`` ids become NULL)."""

    def columns(a: int, b: int) -> list[list[Any]]:
        return [
            events.event_id[a:b].tolist(),
            [x or None for x in events.customer_id[a:b].tolist()],
            [x or None for x in events.anonymous_id[a:b].tolist()],
            events.type[a:b].tolist(),
            events.at[a:b].astype(np.int64).tolist(),
        ]

    return columns


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
