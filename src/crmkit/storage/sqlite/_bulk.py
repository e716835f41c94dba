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
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmkit.columns import EventColumns, OrderColumns

__all__ = [
    "BulkColumn",
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
class BulkColumn:
    """One bound column of a bulk load: a validated 1-D array (integers or text).

    ``none_if_falsy`` stores ``0``/``""`` as NULL (optional amounts, absent ids).

    Examples:
        >>> col = BulkColumn(values=np.array([0, 490, 0]), none_if_falsy=True)
        >>> col.chunk(0, 3), col.constant()
        ([None, 490, None], None)
        >>> BulkColumn(values=np.array(["EUR", "EUR"])).constant()
        ('EUR',)
    """

    values: np.ndarray[Any, Any]
    none_if_falsy: bool = False

    def chunk(self, start: int, stop: int) -> list[Any]:
        """Rows ``[start, stop)`` as Python values."""
        out: list[Any] = self.values[start:stop].tolist()
        return [x or None for x in out] if self.none_if_falsy else out

    def constant(self) -> tuple[Any] | None:
        """``(value,)`` if every row holds the same value, else None."""
        v = self.values
        if not v.size or not bool((v == v[0]).all()):
            return None
        return (self.chunk(0, 1)[0],)


@attrs.frozen(kw_only=True)
class BulkRows:
    """The rows of a bulk load into one table.

    ``head`` is ``INSERT ... (columns) VALUES``; ``terms`` gives one SQL term per table column:
    ``?`` for the next of ``columns``, or a constant written into the statement (``'{}'``).
    Rows are bound many per statement, chunk by chunk. A column holding one value in every row
    (a shop's single currency, an unused optional amount) is bound once per statement as a
    numbered parameter instead of once per row: binding text is most of the cost of a load.
    """

    head: str
    terms: tuple[str, ...]
    columns: tuple[BulkColumn, ...]

    @property
    def n(self) -> int:
        """The number of rows."""
        return int(self.columns[0].values.size) if self.columns else 0

    def _statement(self, rows: int, numbers: list[int | None], width: int, shared: int) -> str:
        """The INSERT of ``rows`` rows: ``numbers[j]`` is the parameter of a constant column
        ``j``, None for a column bound per row (``shared + r * width + its place``)."""
        out, varying = [], [j for j, k in enumerate(numbers) if k is None]
        place = {j: i for i, j in enumerate(varying)}
        for r in range(rows):
            it = iter(range(len(numbers)))
            row = []
            for term in self.terms:
                if term != "?":
                    row.append(term)
                    continue
                j = next(it)
                k = numbers[j]
                row.append(f"?{k if k is not None else shared + r * width + place[j] + 1}")
            out.append(f"({', '.join(row)})")
        return f"{self.head} {', '.join(out)}"

    def execute(self, con: sqlite3.Connection) -> None:
        """Insert every row: groups of rows per statement, then the remainder one by one."""
        if self.terms.count("?") != len(self.columns):
            raise ValueError("BulkRows: one column per '?' term")  # pragma: no cover
        found = [c.constant() for c in self.columns]
        consts = [f[0] for f in found if f is not None]
        numbers: list[int | None] = []
        for f in found:
            numbers.append(None if f is None else sum(k is not None for k in numbers) + 1)
        varying = [c for c, f in zip(self.columns, found, strict=True) if f is None]
        width, shared = len(varying), len(consts)
        limit = con.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        per = max(1, min(ROWS_PER_STATEMENT, (limit - shared) // max(width, 1)))
        group = self._statement(per, numbers, width, shared)
        single = self._statement(1, numbers, width, shared)
        step = per * width
        for start in range(0, self.n, CHUNK_ROWS):
            m = min(CHUNK_ROWS, self.n - start)
            flat: list[Any] = [None] * (m * width)
            for j, column in enumerate(varying):
                flat[j::width] = column.chunk(start, start + m)
            full = m - m % per
            if not width:  # every column is constant: the same parameters for every row
                con.executemany(group, [consts] * (full // per))
                con.executemany(single, [consts] * (m - full))
                continue
            if full:
                con.executemany(
                    group, [consts + flat[i : i + step] for i in range(0, full * width, step)]
                )
            if full < m:
                con.executemany(
                    single,
                    [consts + flat[i : i + width] for i in range(full * width, m * width, width)],
                )


def order_rows(
    orders: OrderColumns,
    counts: npt.NDArray[np.int64],
    blocks: npt.NDArray[np.int64],
    offsets: npt.NDArray[np.int64],
) -> tuple[BulkColumn, ...]:
    """The bound columns of ``orders`` table rows for a validated batch whose lines sit in
    blocks (order id ... channel, line count, block, offset)."""
    return (
        BulkColumn(values=orders.order_id),
        BulkColumn(values=orders.customer_id),
        BulkColumn(values=orders.placed_at.astype(np.int64)),
        BulkColumn(values=orders.currency),
        BulkColumn(values=orders.total_minor),
        BulkColumn(values=orders.shipping_minor, none_if_falsy=True),
        BulkColumn(values=orders.tax_minor, none_if_falsy=True),
        BulkColumn(values=orders.status),
        BulkColumn(values=orders.channel),
        BulkColumn(values=counts),
        BulkColumn(values=blocks),
        BulkColumn(values=offsets),
    )


def event_rows(events: EventColumns) -> tuple[BulkColumn, ...]:
    """The bound columns of ``events`` table rows from a validated batch (``""`` ids: NULL)."""
    return (
        BulkColumn(values=events.event_id),
        BulkColumn(values=events.customer_id, none_if_falsy=True),
        BulkColumn(values=events.anonymous_id, none_if_falsy=True),
        BulkColumn(values=events.type),
        BulkColumn(values=events.at.astype(np.int64)),
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
