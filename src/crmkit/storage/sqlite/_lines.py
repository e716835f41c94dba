"""Line blocks: the lines of a columnar batch of orders, kept as numpy arrays in ``line_blocks``.

An order written by value keeps its lines in its own row as JSON arrays. An order written by
``upsert_columns`` instead points into a block (``line_block``, ``line_offset``; its JSON cells
are empty): one row of ``line_blocks`` holds the lines of many orders, one blob per field
(product ids, quantities, unit prices, discounts, categories), so a bulk load writes no
per-order line text at all. Reading an order by key reads its slice of each blob; a columnar
scan reads whole blocks. Blocks no order points to any more are deleted by ``collect``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from crmkit.columns import OrderLineColumns
from crmkit.storage.sqlite._cache import from_ascii, narrow_text, to_ascii

__all__ = ["FIELDS", "collect", "gather", "resolve", "write"]

#: The per-line fields a block holds, in the order of the JSON cells of an order row.
FIELDS = ("product_id", "quantity", "unit_price_minor", "discount_minor", "category")

#: Lines per block at most, and bytes per blob at most (SQLite's default limit is 1e9).
BLOCK_LINES = 1 << 21
BLOCK_BYTES = 1 << 28

_INTS = (np.dtype("<i1"), np.dtype("<i2"), np.dtype("<i4"), np.dtype("<i8"))

Array = np.ndarray[Any, Any]


def _narrow(values: Array) -> Array:
    if values.dtype.kind == "U":
        narrow = to_ascii(values)
        return narrow_text(values) if narrow is None else narrow
    if not values.size:
        return values.astype("<i1")
    lo, hi = int(values.min()), int(values.max())
    small = next(d for d in _INTS if np.iinfo(d).min <= lo and hi <= np.iinfo(d).max)
    return values.astype(small)


def _cuts(counts: npt.NDArray[np.int64], width: int) -> list[tuple[int, int]]:
    """Order ranges whose lines fit one block (every range holds at least one order)."""
    per_block = max(1, min(BLOCK_LINES, BLOCK_BYTES // max(width, 1)))
    ends = np.cumsum(counts)
    cuts, start = [], 0
    while start < counts.size:
        base = int(ends[start - 1]) if start else 0
        stop = int(np.searchsorted(ends, base + per_block, "right"))
        stop = max(stop, start + 1)
        cuts.append((start, stop))
        start = stop
    return cuts


def write(
    con: sqlite3.Connection, lines: OrderLineColumns, counts: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Store the lines of a batch (grouped by order) in blocks; each order's block and offset."""
    arrays = [_narrow(getattr(lines, f)) for f in FIELDS]
    width = sum(a.dtype.itemsize for a in arrays)
    ends = np.cumsum(counts)
    blocks = np.empty(counts.size, dtype=np.int64)
    offsets = np.empty(counts.size, dtype=np.int64)
    for a, b in _cuts(counts, width):
        lo = int(ends[a - 1]) if a else 0
        hi = int(ends[b - 1])
        cur = con.execute(
            "INSERT INTO line_blocks (n_lines, dtypes, product_id, quantity, unit_price_minor, "
            "discount_minor, category) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                hi - lo,
                ",".join(x.dtype.str for x in arrays),
                *(x[lo:hi].tobytes() for x in arrays),
            ),
        )
        blocks[a:b] = int(cur.lastrowid or 0)
        offsets[a:b] = (ends[a:b] - counts[a:b]) - lo
    return blocks, offsets


def collect(con: sqlite3.Connection) -> int:
    """Delete blocks no order points to; returns how many."""
    return con.execute(
        "DELETE FROM line_blocks WHERE NOT EXISTS "
        "(SELECT 1 FROM orders WHERE orders.line_block = line_blocks.block_id)"
    ).rowcount


def _dtypes(con: sqlite3.Connection, block: int) -> list[np.dtype[Any]]:
    row = con.execute("SELECT dtypes FROM line_blocks WHERE block_id = ?", (block,)).fetchone()
    return [np.dtype(d) for d in str(row[0]).split(",")]


def _python(values: Array) -> list[Any]:
    if values.dtype.kind == "S":
        return [b.decode("ascii") for b in values.tolist()]
    return list(values.tolist())


def resolve(
    con: sqlite3.Connection, rows: Sequence[Sequence[Any]], block_at: int, first_cell: int
) -> list[Sequence[Any]]:
    """Rows whose lines sit in a block, with the line cells filled in as Python lists.

    ``block_at`` is the index of ``line_block`` in a row (``line_offset`` follows it) and
    ``first_cell`` that of the first of the five line cells; ``n_lines`` precedes it.
    Discounts of 0 become None and empty categories None, as the columnar path defines.
    """
    out: list[Sequence[Any]] = []
    handles: dict[tuple[int, str], Any] = {}
    types: dict[int, list[np.dtype[Any]]] = {}
    try:
        for row in rows:
            block = row[block_at]
            if block is None:
                out.append(row)
                continue
            offset, n = int(row[block_at + 1]), int(row[first_cell - 1])
            kinds = types.get(block) or types.setdefault(block, _dtypes(con, block))
            cells: list[list[Any]] = []
            for field, dtype in zip(FIELDS, kinds, strict=True):
                blob = handles.get((block, field))
                if blob is None:
                    blob = handles[(block, field)] = con.blobopen(
                        "line_blocks", field, block, readonly=True
                    )
                blob.seek(offset * dtype.itemsize)
                cells.append(_python(np.frombuffer(blob.read(n * dtype.itemsize), dtype=dtype)))
            cells[3] = [d or None for d in cells[3]]
            cells[4] = [c or None for c in cells[4]]
            out.append((*row[:first_cell], *cells, *row[first_cell + 5 :]))
    finally:
        for blob in handles.values():
            blob.close()
    return out


def gather(
    con: sqlite3.Connection,
    blocks: npt.NDArray[np.int64],
    offsets: npt.NDArray[np.int64],
    counts: npt.NDArray[np.int64],
) -> dict[str, Array]:
    """The lines of orders (in order) that point into blocks, as line columns by field."""
    total = int(counts.sum())
    within = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    ids = np.unique(blocks)
    loaded: dict[str, list[Array]] = {f: [] for f in FIELDS}
    base = np.zeros(ids.size, dtype=np.int64)
    size = 0
    for i, block in enumerate(ids.tolist()):
        row = con.execute(
            "SELECT n_lines, dtypes, product_id, quantity, unit_price_minor, discount_minor, "
            "category FROM line_blocks WHERE block_id = ?",
            (block,),
        ).fetchone()
        base[i] = size
        size += int(row[0])
        for field, dtype, data in zip(FIELDS, str(row[1]).split(","), row[2:], strict=True):
            loaded[field].append(np.frombuffer(data, dtype=dtype))
    index = np.repeat(base[np.searchsorted(ids, blocks)] + offsets, counts) + within
    out: dict[str, Array] = {}
    for field, parts in loaded.items():
        if field in ("product_id", "category"):
            parts = [from_ascii(p) if p.dtype.kind == "S" else p for p in parts]
            whole = np.concatenate(parts) if parts else np.empty(0, dtype="U1")
        else:
            whole = (
                np.concatenate([p.astype(np.int64) for p in parts])
                if parts
                else np.empty(0, dtype=np.int64)
            )
        out[field] = whole[index]
    return out
