"""SQLite orders: rows with JSON lines or line blocks; cached columnar scans; bulk ingest."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt

from crmkit.columns import OrderColumns, OrderLineColumns
from crmkit.errors import StorageError
from crmkit.model import Order
from crmkit.storage._batch import group_lines, time_bounds
from crmkit.storage.sqlite import _bulk, _cache, _lines
from crmkit.storage.sqlite._collections import (
    SQLiteCollection,
    _Arrays,
    _in_order,
    _int,
    _str,
    _time_key_order,
    _transpose,
    _window,
)

__all__ = ["SQLiteOrders"]


class SQLiteOrders(SQLiteCollection[Order]):
    """Orders, one row each with their lines; columnar scans (cached) and bulk ingest."""

    _ORDER_COLUMNS = (
        ("order_id", False),
        ("customer_id", False),
        ("placed_at", True),
        ("currency", False),
        ("total_minor", True),
        ("coalesce(shipping_minor, 0)", True),
        ("coalesce(tax_minor, 0)", True),
        ("status", False),
        ("channel", False),
    )

    def columns(self, start: Any = None, end: Any = None) -> OrderColumns:
        return self._cached(start, end, lines=False)[0]

    def line_columns(self, start: Any = None, end: Any = None) -> OrderLineColumns:
        orders, parts = self._cached(start, end, lines=True)
        return _line_table(orders, parts)

    def _cached(self, start: Any, end: Any, *, lines: bool) -> tuple[OrderColumns, _Arrays]:
        """Orders (and the line parts) in ``[start, end)``: from the cache, else from the rows.

        A scan of the whole collection stores what it had to rebuild; a range scan over a stale
        cache reads its range from the rows without caching.
        """
        lo, hi = time_bounds(start, end)
        entries = ("orders", "order_lines") if lines else ("orders",)
        with self._store._snapshot() as con:
            at, found = self._store._cache_load(con, "orders", entries, lo, hi)
            got, got_lines = found["orders"], found.get("order_lines")
            if got is not None and (got_lines is not None or not lines):
                return _orders_window(got, got_lines, lo, hi)
            if start is not None or end is not None:
                orders = self._scan_columns(start, end)
                return orders, self._scan_lines(orders, start, end) if lines else {}
            orders = OrderColumns(**got) if got is not None else self._scan_columns(None, None)
            parts: _Arrays = {}
            if got_lines is not None:
                parts = got_lines
            elif lines:
                parts = self._scan_lines(orders, None, None)
        keep: dict[str, tuple[_Arrays, list[_cache.Segment]]] = {}
        segs, line_segs = _cache.segments(orders.placed_at, parts.get("n_lines"))
        if got is None:
            keep["orders"] = (orders.arrays(), segs)
        if lines and got_lines is None:
            keep["order_lines"] = (parts, line_segs)
        self._store._cache_store("orders", at, keep)
        return orders, parts

    def _scan_columns(self, start: Any, end: Any) -> OrderColumns:
        got = self._concat(self._ORDER_COLUMNS, start, end)
        split = [got.strs(i) for i in (0, 1, 3, 7, 8)]
        texts: list[Sequence[Any]]
        if any(t is None for t in split):  # a value holds U+001F: read row by row
            rows = self._range_rows(", ".join(e for e, _ in self._ORDER_COLUMNS), start, end)
            cols = _transpose(rows, 9)
            ints = [_int(cols[i]) for i in (2, 4, 5, 6)]
            texts = [cols[i] for i in (0, 1, 3, 7, 8)]
        else:
            ints = [got.ints(i) for i in (2, 4, 5, 6)]
            texts = [t for t in split if t is not None]
        table = OrderColumns(
            order_id=_str(texts[0]),
            customer_id=_str(texts[1]),
            placed_at=ints[0].view("datetime64[us]"),
            currency=_str(texts[2]),
            total_minor=ints[1],
            shipping_minor=ints[2],
            tax_minor=ints[3],
            status=_str(texts[3]),
            channel=_str(texts[4]),
        )
        return _in_order(table, "placed_at", "order_id")

    def _scan_lines(self, orders: OrderColumns, start: Any, end: Any) -> _Arrays:
        """The line parts of ``orders`` (read in the same snapshot) from the rows and blocks."""
        lo, hi = time_bounds(start, end)
        where, params = "placed_at >= ? AND placed_at < ?", (lo, hi)
        head = self._store._concat(
            "orders",
            (
                ("n_lines", True),
                ("coalesce(line_block, -1)", True),
                ("coalesce(line_offset, 0)", True),
            ),
            where,
            self._order,
            params,
        )
        counts, blocks = head.ints(0), head.ints(1)
        if counts.size != len(orders):  # pragma: no cover - the reads share one snapshot
            raise StorageError(f"{self._store.path}: orders changed during a scan. Retry it.")
        inline = blocks < 0
        parts: list[_Arrays] = []
        if inline.any():
            got = self._store._concat(
                "orders",
                tuple((f"line_{c}", True) for c in _JSON_CELLS),
                f"{where} AND line_block IS NULL",
                self._order,
                params,
            )
            n = int(counts[inline].sum())
            cells = [[t] if t else [] for t in got.texts]
            parts.append(
                {
                    "product_id": _str(_bulk.str_arrays(cells[0], n)),
                    "quantity": _bulk.int_arrays(cells[1], n),
                    "unit_price_minor": _bulk.int_arrays(cells[2], n),
                    "discount_minor": _bulk.int_arrays(cells[3], n),
                    "category": _str(_bulk.str_arrays(cells[4], n)),
                }
            )
        if not inline.all():
            offsets, sel = head.ints(2), ~inline
            parts.append(
                self._store._run(
                    lambda con: _lines.gather(con, blocks[sel], offsets[sel], counts[sel])
                )
            )
        out: _Arrays = {"n_lines": counts}
        if not parts:
            ints = ("quantity", "unit_price_minor", "discount_minor")
            return {
                **out,
                **{f: np.empty(0, np.int64 if f in ints else "U1") for f in _lines.FIELDS},
            }
        if len(parts) == 1:
            return {**out, **parts[0]}
        on_row = np.repeat(inline, counts)
        for field in _lines.FIELDS:
            a, b = parts[0][field], parts[1][field]
            merged = np.empty(on_row.size, dtype=np.result_type(a.dtype, b.dtype))
            merged[on_row], merged[~on_row] = a, b
            out[field] = merged
        return out

    def _fetch_rows(self, sql: str, params: Sequence[Any]) -> list[Sequence[Any]]:
        # Rows and the blocks they point into are read in one snapshot: a writer may replace
        # those orders and delete their block in between two reads.
        with self._store._snapshot() as con:
            rows = self._store._fetch(sql, params)
            if not any(r[16] is not None for r in rows):
                return rows
            return self._store._run(lambda _: _lines.resolve(con, rows, 16, 11))

    def _after_write(self) -> None:
        self._store._run(_lines.collect)

    def upsert_columns(self, orders: OrderColumns, lines: OrderLineColumns) -> int:
        counts = _run_counts(orders, lines) if len(orders) >= OVERLAP_ROWS else None
        if counts is None:
            grouped = group_lines(orders, lines)
            return self._write_columns(orders, grouped.lines, grouped.counts, None)
        # Lines come grouped by order (the usual shape of a load), so the rows to write do not
        # depend on the checks: run them, and encode the scan cache, in a thread while SQLite
        # writes (it releases the GIL); a failed check rolls the batch back.
        with ThreadPoolExecutor(1, thread_name_prefix="crmkit-ingest") as pool:
            jobs: list[Future[_Entries | None]] = []

            def beside(empty: bool) -> Future[_Entries | None]:
                jobs.append(pool.submit(_check_and_encode, orders, lines, counts, empty))
                return jobs[-1]

            try:
                return self._write_columns(orders, lines, counts, beside)
            except Exception:
                # An invalid batch is reported as such, whatever the writes hit meanwhile.
                failed = jobs[0].exception() if jobs else None
                if failed is not None:
                    raise failed from None
                if not jobs:  # the writes failed before the checks started
                    group_lines(orders, lines)
                raise

    def _write_columns(
        self,
        orders: OrderColumns,
        lines: OrderLineColumns,
        counts: npt.NDArray[np.int64],
        beside: Callable[[bool], Future[_Entries | None]] | None,
    ) -> int:
        """Write a batch whose lines are grouped by order.

        ``beside(empty)``, if given, starts the checks of the batch (and, into an empty table,
        the encoding of its cache entries); they must pass before anything commits.
        """
        with self._store.transaction():
            empty = self._store._run(_is_empty)
            blocks, offsets = self._store._run(lambda con: _lines.write(con, lines, counts))
            rows = _bulk.BulkRows(
                head=_BULK_ORDERS_HEAD,
                terms=_BULK_ORDERS_TERMS,
                columns=_bulk.order_rows(orders, counts, blocks, offsets),
            )
            side: list[Future[_Entries | None]] = []
            self._store._bulk_insert(
                "orders", rows, None if beside is None else lambda: side.append(beside(empty))
            )
            cached = side[0].result() if side else None
            if not empty:
                self._store._run(_lines.collect)
            self._store._touch("orders")
            if empty:  # the batch is the whole collection: cache its columns now
                self._store._cache_store(
                    "orders", None, cached or _cache_entries(orders, lines, counts)
                )
        return len(orders)


_Entries = dict[str, _cache.Encoded]


def _is_empty(con: sqlite3.Connection) -> bool:
    return con.execute("SELECT 1 FROM orders LIMIT 1").fetchone() is None


def _check_and_encode(
    orders: OrderColumns, lines: OrderLineColumns, counts: npt.NDArray[np.int64], empty: bool
) -> _Entries | None:
    """Check a batch written as grouped by ``counts``; its cache entries if ``empty``."""
    if not np.array_equal(group_lines(orders, lines).counts, counts):
        raise StorageError(  # pragma: no cover - both group the lines the same way
            "upsert_columns: lines grouped differently by the checks. Report this."
        )
    return _cache_entries(orders, lines, counts) if empty else None


def _cache_entries(
    orders: OrderColumns, lines: OrderLineColumns, counts: npt.NDArray[np.int64]
) -> _Entries:
    """The cache entries of a batch that is the whole collection (lines grouped by order)."""
    kept, parts = _sorted_orders(orders, lines, counts)
    segs, line_segs = _cache.segments(kept["placed_at"], parts["n_lines"])
    return {"orders": _cache.encoded(kept, segs), "order_lines": _cache.encoded(parts, line_segs)}


#: Batches of at least this many orders are checked in a thread while they are written.
OVERLAP_ROWS = 50_000


def _run_counts(orders: OrderColumns, lines: OrderLineColumns) -> npt.NDArray[np.int64] | None:
    """Lines per order if ``lines`` come as one run per order, in the orders' row order.

    This is the shape ``group_lines`` accepts without regrouping (it still checks the rest);
    None for any other shape.
    """
    lid, oid = lines.order_id, orders.order_id
    if not lid.size or not oid.size:
        return None
    starts = np.concatenate(([0], np.flatnonzero(lid[1:] != lid[:-1]) + 1))
    if starts.size != oid.size or not np.array_equal(lid[starts], oid):
        return None
    return np.diff(np.append(starts, lid.size)).astype(np.int64)


_JSON_CELLS = ("products", "quantities", "unit_prices", "discounts", "categories")

# Orders of a columnar batch: lines in a block, JSON line cells left empty.
_BULK_ORDERS_HEAD = (
    "INSERT OR REPLACE INTO orders (order_id, customer_id, placed_at, currency, total_minor, "
    "shipping_minor, tax_minor, status, channel, attributes, n_lines, line_products, "
    "line_quantities, line_unit_prices, line_discounts, line_categories, line_block, "
    "line_offset) VALUES"
)
_BULK_ORDERS_TERMS = ("?",) * 9 + ("'{}'", "?") + ("''",) * 5 + ("?", "?")


def _sorted_orders(
    orders: OrderColumns, lines: OrderLineColumns, counts: np.ndarray[Any, Any]
) -> tuple[_Arrays, _Arrays]:
    """A validated batch (lines grouped by order) as cache parts, in (placed_at, order_id) order."""
    order = _time_key_order(orders.placed_at, orders.order_id)
    kept = orders.arrays()
    parts: _Arrays = {
        "n_lines": counts,
        "product_id": lines.product_id,
        "quantity": lines.quantity,
        "unit_price_minor": lines.unit_price_minor,
        "discount_minor": lines.discount_minor,
        "category": lines.category,
    }
    if order is None:
        return kept, parts
    starts = np.cumsum(counts) - counts
    moved = counts[order]
    new_starts = np.cumsum(moved) - moved
    line_order = np.repeat(starts[order] - new_starts, moved) + np.arange(int(moved.sum()))
    kept = {k: a[order] for k, a in kept.items()}
    parts = {k: (a[order] if k == "n_lines" else a[line_order]) for k, a in parts.items()}
    return kept, parts


def _orders_window(
    got: _Arrays, got_lines: _Arrays | None, lo: int, hi: int
) -> tuple[OrderColumns, _Arrays]:
    """Cached orders (and line parts) of the loaded segments, cut to ``[lo, hi)``."""
    if not got:
        return OrderColumns.empty(), {}
    i, j = _window(got["placed_at"], lo, hi)
    whole = i == 0 and j == got["placed_at"].size
    orders = OrderColumns(**(got if whole else {k: a[i:j] for k, a in got.items()}))
    if got_lines is None or whole:
        return orders, got_lines or {}
    ends = np.concatenate(([0], np.cumsum(got_lines["n_lines"])))
    a, b = int(ends[i]), int(ends[j])
    return orders, {k: (x[i:j] if k == "n_lines" else x[a:b]) for k, x in got_lines.items()}


def _line_table(orders: OrderColumns, parts: _Arrays) -> OrderLineColumns:
    """Order lines from their orders and the line parts (counts, products, amounts...)."""
    if not len(orders):
        return OrderLineColumns.empty()
    counts = parts["n_lines"]
    total = int(counts.sum())
    quantity, unit = parts["quantity"], parts["unit_price_minor"]
    discount = parts["discount_minor"]
    starts = np.cumsum(counts) - counts
    # Arrays made here are handed over read-only, so the table need not copy them.
    return OrderLineColumns(
        order_id=_owned(np.repeat(orders.order_id, counts)),
        line_no=_owned(np.arange(total, dtype=np.int64) - np.repeat(starts, counts)),
        customer_id=_owned(np.repeat(orders.customer_id, counts)),
        placed_at=_owned(np.repeat(orders.placed_at, counts)),
        product_id=_owned(parts["product_id"]),
        quantity=_owned(quantity),
        unit_price_minor=_owned(unit),
        discount_minor=_owned(discount),
        total_minor=_owned(quantity * unit - discount),
        currency=_owned(np.repeat(orders.currency, counts)),
        category=_owned(parts["category"]),
    )


def _owned(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """``values`` marked read-only: arrays no one else holds, passed on without a copy."""
    values.flags.writeable = False
    return values
