"""The columnar scan cache: a collection's columns as encoded numpy blobs, tied to a version.

Every write to a cached table (``orders``, ``events``) bumps that table's row in
``collection_versions`` inside the writing transaction. An entry of ``column_cache`` (``orders``,
``order_lines``, ``events``) records the version it was built at and is used only while the
version is unchanged, so a rolled-back write, a value upsert after a bulk load, a delete or an
erasure can never leave stale columns visible: the next scan rebuilds the entry from the rows.

An entry is cut into segments of ``SEGMENT_ROWS`` rows in time order, each recording the first and
last time it holds, so a time-range scan decodes only the segments it overlaps. Each column of a
segment is stored under its name as one or more chunks of at most ``CHUNK_BYTES`` with an
encoding tag:

* ``raw:<dtype>``: the array's bytes (times, int64, non-ASCII text as UTF-32);
* ``int:<dtype>``: integers narrowed to the smallest type holding their range;
* ``ascii:<dtype>``: ASCII text as one byte per character, widened to unicode on load;
* ``const:<n>:<dtype>``: n copies of one value (e.g. a shop's single currency).
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np

__all__ = [
    "CACHED_TABLES",
    "CHUNK_BYTES",
    "PER_ORDER",
    "SEGMENT_ROWS",
    "Encoded",
    "Segment",
    "bump",
    "decode",
    "encode",
    "encoded",
    "from_ascii",
    "load",
    "narrow_text",
    "segments",
    "store",
    "text_width",
    "to_ascii",
    "version",
]

#: Tables whose writes invalidate cached columns (the keys of ``collection_versions``).
CACHED_TABLES = frozenset({"orders", "events"})

#: The largest blob written for one chunk of a column (SQLite's default limit is 1e9 bytes).
CHUNK_BYTES = 1 << 28

#: Rows per segment: a time-range scan reads only the segments that overlap its range.
SEGMENT_ROWS = 1 << 18

_INTS = (np.dtype("<i1"), np.dtype("<i2"), np.dtype("<i4"), np.dtype("<i8"))

Array = np.ndarray[Any, Any]


def text_width(values: Array) -> int:
    """The characters of the longest value of a unicode column (at least 1).

    NumPy string operations often give columns far wider than their values (``"p-" + str(i)``
    is ``<U23``); storing at this width instead keeps padding out of the file.

    Examples:
        >>> text_width(np.array(["p-1", "p-22"], dtype="<U23"))
        4
    """
    if values.size == 0 or values.dtype.itemsize == 0:
        return 1
    return max(int(np.char.str_len(values).max()), 1)


def narrow_text(values: Array) -> Array:
    """A unicode column at ``text_width`` (little-endian), the values unchanged.

    Examples:
        >>> narrow_text(np.array(["é", "ab"], dtype="<U9")).dtype.str
        '<U2'
    """
    return values.astype(f"<U{text_width(values)}")


def to_ascii(values: Array) -> Array | None:
    """Unicode text as one byte per character (``S`` dtype), or None if a character is not ASCII.

    Works on the code points directly: the same bytes as ``astype("S")`` at memory speed, at
    the width of the longest value (see ``text_width``).

    Examples:
        >>> to_ascii(np.array(["ab", "c"], dtype="<U8")).tolist(), to_ascii(np.array(["é"]))
        ([b'ab', b'c'], None)
        >>> to_ascii(np.array(["ab", "c"], dtype="<U8")).dtype.str
        '|S2'
    """
    width = values.dtype.itemsize // 4
    if values.size == 0 or width == 0:
        return np.empty(values.size, dtype=f"S{max(width, 1)}")
    used = min(text_width(values), width)
    codes = np.ascontiguousarray(values).view(values.dtype.byteorder.replace("|", "=") + "u4")
    codes = codes.reshape(values.size, width)[:, :used]
    if int(codes.max()) >= 128:
        return None
    out: Array = np.ascontiguousarray(codes.astype(np.uint8)).view(f"S{used}").reshape(values.shape)
    return out


def from_ascii(values: Array) -> Array:
    """ASCII bytes (``S`` dtype) as unicode text; the inverse of ``to_ascii``.

    Examples:
        >>> from_ascii(np.array([b"ab", b"c"])).tolist()
        ['ab', 'c']
    """
    width = values.dtype.itemsize
    if values.size == 0 or width == 0:
        return np.empty(values.size, dtype=f"U{max(width, 1)}")
    codes = np.ascontiguousarray(values).view(np.uint8).astype(np.uint32)
    out: Array = codes.view(f"U{width}").reshape(values.shape)
    return out


def encode(values: Array) -> tuple[str, bytes]:
    """The encoding tag and bytes of a one-dimensional column.

    Examples:
        >>> tag, data = encode(np.array(["EUR", "EUR"]))
        >>> tag, decode(tag, [data]).tolist()
        ('const:2:<U3', ['EUR', 'EUR'])
    """
    n = values.size
    kind = values.dtype.kind
    if kind == "U" and n and bool((values == values[0]).all()):
        return f"const:{n}:{values.dtype.str}", values[:1].tobytes()
    if kind == "U" and values.dtype.itemsize:
        narrow = to_ascii(values)
        if narrow is None:
            little = narrow_text(values)
            return f"raw:{little.dtype.str}", little.tobytes()
        return f"ascii:{narrow.dtype.str}", narrow.tobytes()
    if kind == "i" and n:
        lo, hi = int(values.min()), int(values.max())
        small = next(d for d in _INTS if np.iinfo(d).min <= lo and hi <= np.iinfo(d).max)
        return f"int:{small.str}", values.astype(small).tobytes()
    little = values.dtype.newbyteorder("<") if values.dtype.byteorder == ">" else values.dtype
    return f"raw:{little.str}", values.astype(little, copy=False).tobytes()


def decode(tag: str, chunks: list[bytes]) -> Array:
    """The read-only column stored as ``tag`` and its chunks (the inverse of ``encode``).

    Examples:
        >>> tag, data = encode(np.array([1, 300, -5]))
        >>> tag, decode(tag, [data]).tolist()
        ('int:<i2', [1, 300, -5])
    """
    data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    how, _, dtype = tag.partition(":")
    out: Array
    if not data and how != "const":
        out = np.empty(0, dtype=np.int64 if how == "int" else dtype)
        if how == "ascii":
            out = out.astype(f"<U{max(out.dtype.itemsize, 1)}")
    elif how == "const":
        n, _, dtype = dtype.partition(":")
        out = np.full(int(n), np.frombuffer(data, dtype=dtype)[0], dtype=dtype)
    elif how == "ascii":
        out = from_ascii(np.frombuffer(data, dtype=dtype))
    elif how == "int":
        out = np.frombuffer(data, dtype=dtype).astype(np.int64)
    elif how == "raw":
        out = np.frombuffer(data, dtype=dtype)
    else:  # pragma: no cover - written by a newer release; the caller rebuilds
        raise ValueError(f"unknown column encoding {tag!r}")
    out.flags.writeable = False
    return out


def version(con: sqlite3.Connection, table: str) -> int:
    """The current version of a cached table."""
    row = con.execute(
        "SELECT version FROM collection_versions WHERE collection = ?", (table,)
    ).fetchone()
    return int(row[0])


def bump(con: sqlite3.Connection, table: str) -> None:
    """Mark every cache entry of ``table`` stale (call inside the writing transaction)."""
    con.execute(
        "UPDATE collection_versions SET version = version + 1 WHERE collection = ?", (table,)
    )


@attrs.frozen(kw_only=True)
class Segment:
    """Rows ``[start, stop)`` of an entry, with the first and last time they hold (µs).

    A segment of lines also names its orders' rows ``[head_start, head_stop)``: columns given
    per order (``n_lines``) are cut by those.
    """

    start: int
    stop: int
    lo: int
    hi: int
    head_start: int = 0
    head_stop: int = 0


def segments(times: Array, counts: Array | None = None) -> tuple[list[Segment], list[Segment]]:
    """Segments of ``SEGMENT_ROWS`` rows over sorted ``times``, and the matching line segments.

    ``counts`` (lines per row) gives segments over the rows' lines, aligned with the first list.
    An empty table gets one empty segment, so that an empty entry is still an entry.
    """
    t = times.view(np.int64)
    n = t.size
    cuts = [*range(0, n, SEGMENT_ROWS), n] if n else [0, 0]
    rows = [
        Segment(start=a, stop=b, lo=int(t[a]) if b > a else 0, hi=int(t[b - 1]) if b > a else -1)
        for a, b in itertools.pairwise(cuts)
    ]
    if counts is None:
        return rows, []
    ends = np.concatenate(([0], np.cumsum(counts))).tolist()
    lines = [
        Segment(
            start=ends[s.start],
            stop=ends[s.stop],
            lo=s.lo,
            hi=s.hi,
            head_start=s.start,
            head_stop=s.stop,
        )
        for s in rows
    ]
    return rows, lines


def load(con: sqlite3.Connection, entry: str, at: int, lo: int, hi: int) -> dict[str, Array] | None:
    """The columns of ``entry`` in segments overlapping ``[lo, hi)``, if built at version ``at``.

    None when the entry is stale or absent; ``{}`` when it is current but no segment overlaps.
    """
    if (
        con.execute(
            "SELECT 1 FROM column_cache WHERE entry = ? AND version = ? LIMIT 1", (entry, at)
        ).fetchone()
        is None
    ):
        return None
    rows = con.execute(
        "SELECT segment, part, chunk, encoding, data FROM column_cache "
        "WHERE entry = ? AND version = ? AND hi >= ? AND lo < ? ORDER BY segment, part, chunk",
        (entry, at, lo, hi),
    ).fetchall()
    stored: dict[str, list[tuple[str, list[bytes]]]] = {}
    for (_, part), group in itertools.groupby(rows, key=lambda r: (r[0], r[1])):
        found = list(group)
        tag = found[0][3]
        if [r[2] for r in found] != list(range(len(found))) or any(r[3] != tag for r in found):
            return None  # pragma: no cover - a damaged entry; rebuild it
        stored.setdefault(part, []).append((tag, [r[4] for r in found]))
    try:
        return {part: _joined(segs) for part, segs in stored.items()}
    except ValueError:  # pragma: no cover - an unknown encoding; rebuild it
        return None


def _joined(segs: list[tuple[str, list[bytes]]]) -> Array:
    """One column from its segments, decoded once where the encodings allow it."""
    tags = {tag for tag, _ in segs}
    if len(tags) == 1 and not next(iter(tags)).startswith("const:"):
        return decode(segs[0][0], [d for _, chunks in segs for d in chunks])
    consts = [tag.split(":", 2) for tag in tags if tag.startswith("const:")]
    values = {b"".join(chunks) for _, chunks in segs}
    if len(consts) == len(tags) and len({c[2] for c in consts}) == 1 and len(values) == 1:
        n = sum(int(tag.split(":", 2)[1]) for tag, _ in segs)
        return decode(f"const:{n}:{consts[0][2]}", [values.pop()])
    whole = np.concatenate([decode(tag, chunks) for tag, chunks in segs])
    whole.flags.writeable = False
    return whole


#: Parts of line entries given per order rather than per line.
PER_ORDER = frozenset({"n_lines"})


@attrs.frozen(kw_only=True)
class Encoded:
    """Columns of an entry encoded for ``column_cache``: one row per chunk, version left out.

    ``rows`` are ``(segment, part, chunk, lo, hi, encoding, data)``; ``nbytes`` their data size.
    """

    rows: list[tuple[int, str, int, int, int, str, bytes]]
    nbytes: int


def encoded(
    columns: Mapping[str, Array], parts: Sequence[Segment], per_head: frozenset[str] = PER_ORDER
) -> Encoded:
    """``columns`` cut into ``parts`` and encoded (no database needed: any thread may call it)."""
    rows: list[tuple[int, str, int, int, int, str, bytes]] = []
    nbytes = 0
    for k, seg in enumerate(parts):
        for name, values in columns.items():
            a, b = (seg.head_start, seg.head_stop) if name in per_head else (seg.start, seg.stop)
            tag, data = encode(np.asarray(values)[a:b])
            pieces = (
                [data[i : i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES)]
                if len(data) > CHUNK_BYTES
                else [data]
            )
            rows += [(k, name, c, seg.lo, seg.hi, tag, p) for c, p in enumerate(pieces)]
            nbytes += len(data)
    return Encoded(rows=rows, nbytes=nbytes)


def store(con: sqlite3.Connection, entry: str, at: int, columns: Encoded) -> int:
    """Replace ``entry`` by ``columns``, built at version ``at``. Returns the bytes written."""
    con.execute("DELETE FROM column_cache WHERE entry = ?", (entry,))
    con.executemany(
        "INSERT INTO column_cache (entry, segment, part, chunk, version, lo, hi, encoding, "
        "data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(entry, k, name, c, at, lo, hi, tag, p) for k, name, c, lo, hi, tag, p in columns.rows],
    )
    return columns.nbytes
