"""The columnar paths of the PostgreSQL store: binary COPY tuples in, aggregated chunks out.

Ingest lays out ``COPY ... FROM STDIN (FORMAT BINARY)`` tuples of a whole chunk with numpy (see
``_binary``); scans read chunks whose every column the server aggregated into one value.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import suppress
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg

from crmkit.columns import EventColumns, OrderColumns, OrderLineColumns
from crmkit.storage.postgres._binary import (
    COPY_HEADER,
    COPY_TRAILER,
    INT8_OID,
    TEXT_OID,
    Records,
    array_field,
    constant,
    int4s,
    int8_fields,
    int8_items,
    int8_values,
    int8s,
    strings,
    text_field,
    text_fields,
    text_items,
)

__all__ = [
    "CHUNK",
    "EVENT_COPY",
    "ORDER_COPY",
    "SCAN_CHUNK",
    "Col",
    "copy_binary",
    "decode_chunk",
    "event_payload",
    "join_chunks",
    "last_key",
    "order_payload",
    "scan_sql",
]

#: Rows per chunk of a COPY payload: the server loads one while the next is built.
CHUNK = 50_000

#: Rows per aggregated chunk of a columnar scan (each column of a chunk is one value, < 1 GB).
SCAN_CHUNK = 100_000

#: A column of a columnar scan: its name, kind (int8, text, int8[] or text[]) and SQL.
Col = tuple[str, str, str]


#: The order columns in the order binary COPY tuples hold them (fixed-size fields first).
ORDER_COPY = (
    "placed_at",
    "total_minor",
    "n_lines",
    "attributes",
    "shipping_minor",
    "tax_minor",
    "order_id",
    "customer_id",
    "currency",
    "status",
    "channel",
    "line_quantities",
    "line_unit_prices",
    "line_discounts",
    "line_products",
    "line_categories",
)


def order_payload(
    orders: OrderColumns, lines: OrderLineColumns, counts: npt.NDArray[np.int64]
) -> Iterator[bytes]:
    """Binary COPY tuples of a validated batch, in chunks of at most ``CHUNK`` orders.

    Orders go in groups by their number of lines (exact up to 16, else rounded up to a power
    of two; the order of tuples in a COPY does not matter), so that each group lays its line
    arrays out in a table of as many slots.
    """
    order_cols = [getattr(orders, name) for name in _ORDER_FIELDS]
    line_cols = [getattr(lines, name) for name in _LINE_FIELDS]
    slots = np.where(counts <= 16, counts, 1 << np.ceil(np.log2(np.maximum(counts, 1))).astype(int))
    kinds = np.unique(slots).tolist()
    for k in kinds:
        o, g, c = order_cols, line_cols, counts
        if len(kinds) > 1:
            rows = np.flatnonzero(slots == k)
            picked = np.repeat(slots == k, counts)
            o, g, c = [x[rows] for x in o], [x[picked] for x in g], counts[rows]
        ends = np.cumsum(c)
        step = max(1, min(CHUNK, 5 * CHUNK // 2 // max(k, 1)))
        for lo in range(0, len(c), step):
            hi = min(lo + step, len(c))
            first, last = int(ends[lo - 1]) if lo else 0, int(ends[hi - 1])
            yield _order_tuples([x[lo:hi] for x in o], [x[first:last] for x in g], c[lo:hi], int(k))


#: The order and line columns that ``_order_tuples`` takes, in this order.
_ORDER_FIELDS = (
    "placed_at",
    "total_minor",
    "shipping_minor",
    "tax_minor",
    "order_id",
    "customer_id",
    "currency",
    "status",
    "channel",
)
_LINE_FIELDS = ("quantity", "unit_price_minor", "discount_minor", "product_id", "category")


def _order_tuples(
    o: list[npt.NDArray[Any]], g: list[npt.NDArray[Any]], counts: npt.NDArray[np.int64], slots: int
) -> bytes:
    """Binary COPY tuples (``ORDER_COPY``) of orders with at most ``slots`` lines each."""
    placed, total, shipping, tax, *texts = o
    quantity, unit, discount, product, category = g
    n = len(counts)
    r = Records(n)
    r.fixed(np.full(n, len(ORDER_COPY), ">i2"))
    r.fixed(int8s(placed.astype(np.int64))).fixed(int8s(total))
    r.fixed(int4s(counts)).fixed(constant(n, b"{}"))
    r.var(*int8_fields(shipping, shipping == 0)).var(*int8_fields(tax, tax == 0))
    for text in texts:
        text_field(r, text)
    array_field(r, int8_fields(quantity), counts, slots, INT8_OID)
    array_field(r, int8_fields(unit), counts, slots, INT8_OID)
    array_field(r, int8_fields(discount, discount == 0), counts, slots, INT8_OID)
    array_field(r, text_fields(product), counts, slots, TEXT_OID)
    array_field(r, text_fields(category, null_if_empty=True), counts, slots, TEXT_OID)
    return r.build()


def event_payload(events: EventColumns) -> Iterator[bytes]:
    """Binary COPY tuples of a validated batch of events, in chunks of ``CHUNK``."""
    for lo in range(0, len(events), CHUNK):
        part = slice(lo, min(lo + CHUNK, len(events)))
        n = part.stop - lo
        r = Records(n)
        r.fixed(np.full(n, 6, ">i2")).fixed(int8s(events.at[part].astype(np.int64)))
        r.fixed(constant(n, b"{}"))
        text_field(r, events.event_id[part])
        text_field(r, events.customer_id[part], null_if_empty=True)
        text_field(r, events.anonymous_id[part], null_if_empty=True)
        text_field(r, events.type[part])
        yield r.build()


def last_key(times: bytes, keys: str, lengths: bytes) -> tuple[int, str]:
    """The last (time, stuffed key) of a chunk, straight from its aggregated values."""
    size = int.from_bytes(lengths[-4:], "big")
    return int.from_bytes(times[-8:], "big", signed=True), keys[len(keys) - size :]


def decode_chunk(
    cols: Sequence[Col], values: Sequence[Any], *, check: bool
) -> dict[str, Any] | None:
    """One aggregated chunk as arrays; None if ``check`` finds it out of (time, key) order."""
    out: dict[str, Any] = {}
    it = iter(values)
    for name, kind, _ in cols:
        blob = next(it)
        if kind == "int8":
            out[name] = int8_values(blob)
            continue
        sizes = np.frombuffer(next(it) or b"", ">i4").astype(np.int64)
        if kind == "text":
            out[name] = strings(blob, sizes)
        elif kind == "int8[]":
            out[name] = int8_items(blob, sizes)
        else:
            out[name] = text_items(blob, sizes)
        if check and name == "_key":
            times, keys = out["_time"], out["_key"]
            step = np.diff(times)
            tie = step == 0
            # Keys are unique; equal ones here differ by trailing U+0000 that numpy drops.
            if (step < 0).any() or (keys[1:][tie] < keys[:-1][tie]).any():
                return None
    return out


def join_chunks(cols: Sequence[Col], chunks: list[dict[str, Any]]) -> dict[str, Any]:
    if len(chunks) == 1:
        return chunks[0]
    out: dict[str, Any] = {}
    for name, kind, _ in cols:
        parts = [c[name] for c in chunks]
        if kind.endswith("[]"):
            out[name] = (
                np.concatenate([p[0] for p in parts]),
                np.concatenate([p[1] for p in parts]),
            )
        else:
            out[name] = np.concatenate(parts)
    return out


def copy_binary(cur: psycopg.Cursor[Any], table: str, names: str, payload: Iterable[bytes]) -> None:
    """``COPY`` binary tuples into ``table``, framed by the stream's header and trailer.

    A worker thread builds the next chunks while this one is sent, so the server loads one
    part of the batch while Python lays out the next.
    """
    with cur.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(COPY_HEADER)
        for chunk in _ahead(payload):
            copy.write(chunk)
        copy.write(COPY_TRAILER)


def _ahead(chunks: Iterable[bytes], depth: int = 2) -> Iterator[bytes]:
    """The chunks in order, built by a worker thread at most ``depth`` ahead of the reader.

    An error in the worker is raised here; a reader that stops early stops the worker.
    """
    ready: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: tuple[bool, Any]) -> bool:
        while not stop.is_set():
            with suppress(queue.Full):
                ready.put(item, timeout=0.05)
                return True
        return False

    def work() -> None:
        try:
            for chunk in chunks:
                if not offer((True, chunk)):
                    return
        except BaseException as exc:  # handed to the reader, raised there
            offer((False, exc))
            return
        offer((False, None))

    worker = threading.Thread(target=work, name="crmkit-copy", daemon=True)
    worker.start()
    try:
        while True:
            more, value = ready.get()
            if not more:
                if value is not None:
                    raise value
                return
            yield value
    finally:
        stop.set()
        worker.join()


#: The event columns in the order event binary COPY tuples hold them.
EVENT_COPY = ("at", "properties", "event_id", "customer_id", "anonymous_id", "type")


def scan_sql(table: str, time: str, key: str, cols: Sequence[Col], *, ordered: bool) -> str:
    """The query of one scan chunk: ``count(*)``, then each column aggregated into one value.

    Text gives two values (the concatenation and ``int4send`` lengths), arrays two (their
    ``array_send`` forms and byte lengths), numbers one (``int8send``). ``ordered`` puts
    ``ORDER BY`` inside every aggregate instead of relying on the subquery's order. The
    parameters are the range's own, then the (time, key) to continue after, if any, and the
    chunk size; ``{keyset}`` is where the continuation goes.
    """
    by = " ORDER BY c0, c1" if ordered else ""
    inner, outer = [], []
    for i, (_, kind, expr) in enumerate(cols):
        array = kind.endswith("[]")
        inner.append(f"array_send({expr}) AS c{i}" if array else f"{expr} AS c{i}")
        if kind == "int8":
            outer.append(f"string_agg(int8send(c{i}), ''::bytea{by})")
        else:
            empty = "''" if kind == "text" else "''::bytea"
            outer.append(f"string_agg(c{i}, {empty}{by})")
            outer.append(f"string_agg(int4send(length(c{i})), ''::bytea{by})")
    return (
        f"SELECT count(*), {', '.join(outer)} FROM (SELECT {', '.join(inner)} FROM {table} "
        f"WHERE {{where}}{{keyset}} ORDER BY {time}, {key} LIMIT %s) AS t"
    )
