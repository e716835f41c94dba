"""Binary COPY payloads and aggregated column values, built and parsed with numpy in bulk.

Ingest writes ``COPY ... FROM STDIN (FORMAT BINARY)``: every field is a big-endian length and
its bytes, so a batch is laid out with a few vectorized scatters per column, never a Python
step per row. Scans ask the server for one value per column of a chunk (``string_agg`` of the
text, of ``int4send`` lengths, of ``int8send`` numbers, of ``array_send`` arrays), so Python
does work per column, not per row. Text is stuffed and unstuffed as in ``_text`` (no U+0000).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import numpy.typing as npt

from crmkit.errors import StorageError
from crmkit.storage.postgres._text import unstuff

__all__ = [
    "COPY_HEADER",
    "COPY_TRAILER",
    "INT8_OID",
    "TEXT_OID",
    "Records",
    "array_field",
    "constant",
    "int4s",
    "int8_fields",
    "int8_items",
    "int8_values",
    "int8s",
    "segment_sums",
    "strings",
    "text_field",
    "text_fields",
    "text_items",
    "utf8",
]

#: The signature, flags and header-extension length that open a binary COPY stream.
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
#: The field count -1 that ends it.
COPY_TRAILER = b"\xff\xff"
#: Element type oids of ``bigint[]`` and ``text[]`` (binary arrays name their element type).
INT8_OID = 20
TEXT_OID = 25

_UTF32 = "utf-32-le" if sys.byteorder == "little" else "utf-32-be"
_ARRAY_HEADER = np.dtype(
    [
        ("size", ">i4"),
        ("ndim", ">i4"),
        ("flags", ">i4"),
        ("oid", ">i4"),
        ("dim", ">i4"),
        ("lower", ">i4"),
    ]
)
_INT8_FIELD = np.dtype([("size", ">i4"), ("value", ">i8")])

U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]


def _starts(lengths: I64) -> I64:
    return np.cumsum(lengths) - lengths


def segment_sums(values: npt.NDArray[Any], counts: I64) -> I64:
    """Sums of consecutive groups of ``counts`` values (empty groups sum to 0).

    Examples:
        >>> segment_sums(np.array([1, 2, 3, 4]), np.array([2, 0, 2])).tolist()
        [3, 0, 7]
    """
    edges = np.concatenate([[0], np.cumsum(values, dtype=np.int64)])
    ends = np.cumsum(counts)
    out: I64 = edges[ends] - edges[ends - counts]
    return out


def _at(raw: U8, kind: str) -> npt.NDArray[Any]:
    """Numbers of ``kind`` (``>i4``, ``>i8``) starting at every byte offset of ``raw``."""
    size = np.dtype(kind).itemsize
    return np.ndarray((max(raw.size - size + 1, 0),), kind, raw, strides=(1,))


def utf8(values: npt.NDArray[np.str_]) -> tuple[U8, I64]:
    """The stuffed UTF-8 bytes of strings, one zero-padded row each, and the byte counts.

    A lone surrogate raises ``UnicodeEncodeError``, as encoding it one by one would.

    Examples:
        >>> table, sizes = utf8(np.array(["ab", "é", "\\x00a"]))
        >>> table.tobytes(), sizes.tolist()
        (b'ab\\x00\\xc3\\xa9\\x00\\x01\\x01a', [2, 2, 3])
    """
    arr = np.ascontiguousarray(values, dtype=np.str_).reshape(-1)
    n, width = arr.size, arr.dtype.itemsize // 4
    lengths = np.char.str_len(arr).astype(np.int64)
    if n == 0 or width == 0:
        return np.zeros((n, 0), np.uint8), lengths
    points = arr.view(np.uint32).reshape(n, width)
    plain = int(points.max()) < 0x80 and not (points == 1).any()
    if plain and np.count_nonzero(points) == int(lengths.sum()):
        return points.astype(np.uint8), lengths  # ASCII without U+0000 or U+0001
    flat = points[np.arange(width) < lengths[:, None]]
    special = flat <= 1
    if special.any():
        # U+0000 -> U+0001 U+0001 and U+0001 -> U+0001 U+0002, as _text.stuff does.
        reps = 1 + special.astype(np.int64)
        out = np.repeat(flat, reps)
        first = _starts(reps)[special]
        out[first + 1] = flat[special] + 1
        out[first] = 1
        lengths = lengths + np.bincount(np.repeat(np.arange(n), lengths)[special], minlength=n)
        flat = out
    text = flat.tobytes().decode(_UTF32, "surrogatepass")
    data = np.frombuffer(text.encode("utf-8"), np.uint8)
    size = 1 + (flat >= 0x80).astype(np.int64) + (flat >= 0x800) + (flat >= 0x10000)
    sizes = segment_sums(size, lengths)
    table = np.zeros((n, int(sizes.max())), np.uint8)
    table[np.arange(table.shape[1]) < sizes[:, None]] = data
    return table, sizes


class Records:
    """Variable-length records: parts laid side by side in a padded table, padding dropped.

    Record i joins every part's row i: all of a fixed part's bytes, the first ``sizes[i]``
    bytes of a variable part, or the bytes a masked part's mask keeps. Building is one
    boolean selection of the whole table, in row order.

    Examples:
        >>> r = Records(2).fixed(np.array([1, 2], ">i2"))
        >>> r = r.var(np.array([[97, 0], [98, 99]], np.uint8), np.array([1, 2]))
        >>> r.build()
        b'\\x00\\x01a\\x00\\x02bc'
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self._parts: list[tuple[U8, npt.NDArray[np.bool_] | None]] = []

    def fixed(self, block: npt.NDArray[Any]) -> Records:
        """Append the same number of bytes to every record: one item (or row) of ``block`` each."""
        b = np.ascontiguousarray(block)
        width = b.dtype.itemsize * int(np.prod(b.shape[1:], dtype=np.int64))
        self._parts.append((b.view(np.uint8).reshape(self.n, width), None))
        return self

    def var(self, table: U8, sizes: I64) -> Records:
        """Append the first ``sizes[i]`` bytes of ``table[i]`` to record i."""
        if sizes.size and int(sizes.min()) == int(sizes.max()):
            return self.fixed(table[:, : int(sizes[0])])
        return self.masked(table, np.arange(table.shape[1]) < sizes[:, None])

    def masked(self, table: U8, mask: npt.NDArray[np.bool_]) -> Records:
        """Append the bytes of ``table[i]`` that ``mask[i]`` keeps to record i."""
        self._parts.append((table, mask))
        return self

    def take(self, rows: npt.NDArray[np.intp]) -> Records:
        """The records ``rows`` only."""
        out = Records(len(rows))
        out._parts = [(t[rows], None if m is None else m[rows]) for t, m in self._parts]
        return out

    def build(self) -> bytes:
        """The records, one after another."""
        if not self._parts or not self.n:
            return b""
        n = self.n
        total = sum(t.shape[1] for t, _ in self._parts)
        table = np.empty((n, total), np.uint8)
        masked = any(keep is not None for _, keep in self._parts)
        mask = np.ones((n, total), np.bool_) if masked else table
        at = 0
        for part, keep in self._parts:
            width = part.shape[1]
            if width:
                _columns(table, at, width)[...] = _rows(part)
                if keep is not None:
                    _columns(mask.view(np.uint8), at, width)[...] = _rows(keep.view(np.uint8))
            at += width
        return table.reshape(-1)[mask.reshape(-1)].tobytes() if masked else table.tobytes()


def _rows(block: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """A (n, w) byte table as n opaque items of w bytes (copied item by item, not byte by byte)."""
    b = np.ascontiguousarray(block)
    return b.view(f"V{b.shape[1]}").reshape(b.shape[0])


def _columns(table: U8, at: int, width: int) -> npt.NDArray[Any]:
    """Columns ``at:at + width`` of a C-ordered byte table, as one opaque item per row."""
    return np.ndarray((table.shape[0],), f"V{width}", table, offset=at, strides=(table.shape[1],))


def int8s(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Non-NULL ``bigint`` fields (length 8 and the big-endian value), one per value."""
    out = np.empty(len(values), _INT8_FIELD)
    out["size"] = 8
    out["value"] = values
    return out


def int4s(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Non-NULL ``integer`` fields (length 4 and the big-endian value), one per value."""
    out = np.empty(len(values), [("size", ">i4"), ("value", ">i4")])
    out["size"] = 4
    out["value"] = values
    return out


def constant(n: int, raw: bytes) -> U8:
    """``n`` copies of one non-NULL field holding ``raw``."""
    field = np.frombuffer(len(raw).to_bytes(4, "big") + raw, np.uint8)
    return np.tile(field, (n, 1))


def int8_fields(
    values: npt.NDArray[np.int64], null: npt.NDArray[np.bool_] | None = None
) -> tuple[U8, I64]:
    """``bigint`` fields, NULL (length -1, no bytes) where ``null``: a padded table, sizes."""
    block = int8s(values)
    if null is None:
        return block.view(np.uint8).reshape(len(values), 12), np.full(len(values), 12)
    block["size"][null] = -1
    return block.view(np.uint8).reshape(len(values), 12), np.where(null, 4, 12)


def text_fields(values: npt.NDArray[np.str_], *, null_if_empty: bool = False) -> tuple[U8, I64]:
    """``text`` fields of strings (NULL for ``""`` if asked): a padded table, sizes."""
    body, sizes = utf8(values)
    header = sizes.astype(">i4")
    if null_if_empty:
        header[sizes == 0] = -1
    table = np.hstack([header.view(np.uint8).reshape(len(sizes), 4), body])
    return table, sizes + 4


def text_field(
    records: Records, values: npt.NDArray[np.str_], *, null_if_empty: bool = False
) -> None:
    """Append a ``text`` field of each string to ``records`` (NULL for ``""`` if asked)."""
    body, sizes = utf8(values)
    header = sizes.astype(">i4")
    if null_if_empty:
        header[sizes == 0] = -1
    records.fixed(header).var(body, sizes)


def array_field(
    records: Records, elements: tuple[U8, I64], counts: I64, slots: int, oid: int
) -> None:
    """Append a one-dimensional array field per record: ``counts[i]`` elements each, in turn.

    ``elements`` are the element fields of all records (a padded table and sizes, as
    ``int8_fields`` or ``text_fields`` make them); no record has more than ``slots``.
    """
    table, sizes = elements
    n, width = records.n, table.shape[1]
    header = np.empty(n, _ARRAY_HEADER)
    header["size"] = 20 + segment_sums(sizes, counts)
    header["ndim"] = 1
    header["flags"] = 0
    header["oid"] = oid
    header["dim"] = counts
    header["lower"] = 1
    records.fixed(header)
    if n and int(counts.min()) == slots:  # every record fills its slots: no padding between
        if slots == 1:
            records.var(table, sizes)
        elif int(sizes.min()) == width:
            records.fixed(table.reshape(n, slots * width))
        else:
            keep = np.arange(width) < sizes.reshape(n, slots)[:, :, None]
            records.masked(table.reshape(n, slots * width), keep.reshape(n, -1))
        return
    filled = np.arange(slots) < counts[:, None]
    block = np.zeros((n, slots, width), np.uint8)
    block[filled] = table
    lengths = np.zeros((n, slots), np.int64)
    lengths[filled] = sizes
    mask = np.arange(width) < lengths[:, :, None]
    records.masked(block.reshape(n, -1), mask.reshape(n, -1))


# -- reading aggregated columns -------------------------------------------------------------
def int8_values(blob: bytes | None) -> I64:
    """The numbers of a ``string_agg(int8send(x), '')`` value.

    Examples:
        >>> int8_values(b"\\x00" * 7 + b"\\x05").tolist(), int8_values(None).size
        ([5], 0)
    """
    return np.frombuffer(blob or b"", ">i8").astype(np.int64)


def strings(text: str | None, lengths: I64) -> npt.NDArray[np.str_]:
    """Unstuffed strings from their concatenation and their lengths in code points.

    Examples:
        >>> strings("abcd\\x01\\x01x", np.array([1, 3, 3])).tolist() == ["a", "bcd", "\\x00x"]
        True
    """
    n = lengths.size
    points = np.frombuffer((text or "").encode(_UTF32), np.uint32)
    if int(lengths.sum()) != points.size:
        raise StorageError(
            f"text column: {points.size} characters came back where the lengths say "
            f"{int(lengths.sum())}. The database's encoding must be UTF8; recreate it so."
        )
    width = max(int(lengths.max()) if n else 0, 1)
    table = np.zeros((n, width), np.uint32)
    table[np.arange(width) < lengths[:, None]] = points
    out = table.view(f"U{width}").reshape(n)
    special = points == 1
    if special.any():
        rows = np.unique(np.repeat(np.arange(n), lengths)[special])
        out[rows] = [unstuff(x) for x in out[rows].tolist()]
    return out


def _elements(raw: U8, sizes: I64) -> tuple[I64, I64, I64]:
    """Where the elements of one-dimensional arrays sent one after another are.

    ``raw`` holds ``array_send`` values of ``sizes`` bytes each. The start and length (-1 for
    NULL) of every element, in order, and the count per array. Elements are walked by
    position within their array, all arrays at once (longest arrays last to drop out).
    """
    starts = _starts(sizes.astype(np.int64))
    int4s_at = _at(raw, ">i4")
    counts = np.zeros(sizes.size, np.int64)
    full = sizes > 12  # an empty array is 12 bytes: no dimensions
    counts[full] = int4s_at[starts[full] + 12]
    first = _starts(counts)
    begin = np.zeros(int(counts.sum()), np.int64)
    length = np.zeros(begin.size, np.int64)
    by_count = np.argsort(-counts, kind="stable")
    live_counts = counts[by_count]
    at = starts[by_count] + 20
    slots = first[by_count]
    for j in range(int(live_counts[0]) if counts.size else 0):
        live = int(np.count_nonzero(live_counts > j))
        at, slots = at[:live], slots[:live]
        size = int4s_at[at].astype(np.int64)
        begin[slots + j] = at + 4
        length[slots + j] = size
        at = at + 4 + np.maximum(size, 0)
    return begin, length, counts


def text_items(blob: bytes | None, sizes: I64) -> tuple[npt.NDArray[np.str_], I64]:
    """The elements of ``text[]`` values sent one after another: strings and count per array.

    ``blob`` holds ``array_send`` values of ``sizes`` bytes each; NULL elements come back as
    ``""``.

    Examples:
        >>> import struct
        >>> one = struct.pack(">5i", 1, 1, 25, 2, 1) + struct.pack(">i", 1) + b"a"
        >>> one += struct.pack(">i", -1)
        >>> empty = struct.pack(">3i", 0, 0, 25)
        >>> items, counts = text_items(one + empty, np.array([len(one), len(empty)]))
        >>> items.tolist(), counts.tolist()
        (['a', ''], [2, 0])
    """
    raw = np.frombuffer(blob or b"", np.uint8)
    begin, length, counts = _elements(raw, sizes)
    length = np.maximum(length, 0)
    data = raw[np.repeat(begin - _starts(length), length) + np.arange(int(length.sum()))]
    if data.size and int(data.max()) >= 0x80:
        chars = segment_sums((data & 0xC0) != 0x80, length)
    else:
        chars = length
    return strings(data.tobytes().decode("utf-8"), chars), counts


def int8_items(blob: bytes | None, sizes: I64) -> tuple[I64, I64]:
    """The elements of ``bigint[]`` values sent one after another (NULL as 0), and the counts.

    Examples:
        >>> import struct
        >>> one = struct.pack(">5i", 1, 1, 20, 3, 1) + struct.pack(">iqiiq", 8, 7, -1, 8, -2)
        >>> values, counts = int8_items(one, np.array([len(one)]))
        >>> values.tolist(), counts.tolist()
        ([7, 0, -2], [3])
    """
    raw = np.frombuffer(blob or b"", np.uint8)
    begin, length, counts = _elements(raw, sizes)
    values = np.zeros(begin.size, np.int64)
    present = length == 8
    values[present] = _at(raw, ">i8")[begin[present]]
    return values, counts
