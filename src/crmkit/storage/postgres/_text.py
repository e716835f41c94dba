"""Text through PostgreSQL: NUL-free stuffing, COPY text format in and out, array literals.

PostgreSQL ``text`` cannot hold U+0000. The adapter stores every string column through an
order-preserving byte stuffing: U+0001 becomes U+0001 U+0002 and U+0000 becomes U+0001 U+0001.
Strings without either character are stored unchanged, and ``COLLATE "C"`` comparisons of
stuffed strings order them as the originals (by code point). JSON columns need none of this:
JSON text escapes control characters (``\\u0000``).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence

__all__ = [
    "array_literals",
    "copy_payload",
    "copy_text",
    "parse_copy",
    "stuff",
    "unstuff",
]

_STUFFED = re.compile("\x01(.)", re.DOTALL)
_COPY_SPECIAL = re.compile(r"[\\\t\n\r\x00\x01]")
_ARRAY_SPECIAL = re.compile(r'[\\"\t\n\r\x00\x01]')
_COPY_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_UNESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def stuff(text: str) -> str:
    """``text`` without U+0000, ordered as the original under ``COLLATE "C"``.

    Examples:
        >>> stuff("a\\x00b") == "a\\x01\\x01b", stuff("plain")
        (True, 'plain')
    """
    if "\x00" not in text and "\x01" not in text:
        return text
    return text.replace("\x01", "\x01\x02").replace("\x00", "\x01\x01")


def unstuff(text: str) -> str:
    """The original of a ``stuff``-ed string.

    Examples:
        >>> unstuff(stuff("\\x00\\x02\\x01")) == "\\x00\\x02\\x01"
        True
    """
    if "\x01" not in text:
        return text
    return _STUFFED.sub(lambda m: "\x00" if m.group(1) == "\x01" else "\x01", text)


def _copy_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def copy_text(values: Sequence[str], *, empty_is_null: bool = False) -> list[str]:
    """COPY text-format fields of strings (stuffed, escaped; ``""`` as NULL if asked).

    Examples:
        >>> copy_text(["a", "b\\tc", ""], empty_is_null=True)
        ['a', 'b\\\\tc', '\\\\N']
    """
    out = list(values)
    if _COPY_SPECIAL.search("".join(out)):
        out = [_copy_escape(stuff(s)) for s in out]
    if empty_is_null:
        out = [s or "\\N" for s in out]
    return out


def array_literals(
    values: Sequence[str], counts: Iterable[int], *, quoted: bool, null: str | None = None
) -> list[str]:
    """One PostgreSQL array literal per group of ``counts`` consecutive values, as COPY fields.

    ``quoted`` elements are text (stuffed, quoted, escaped); others are numbers written as is.
    Elements equal to ``null`` become NULL.

    Examples:
        >>> array_literals(["a", "b", "c"], [2, 1], quoted=True)
        ['{"a","b"}', '{"c"}']
        >>> array_literals(["1", "0"], [2], quoted=False, null="0")
        ['{1,NULL}']
    """
    tokens = list(values)
    if quoted:
        if _ARRAY_SPECIAL.search("".join(tokens)):
            tokens = [
                _copy_escape(stuff(s).replace("\\", "\\\\").replace('"', '\\"')) for s in tokens
            ]
        tokens = [f'"{s}"' for s in tokens]
    if null is not None:
        tokens = ["NULL" if s == null or s == f'"{null}"' else s for s in tokens]
    if not tokens:
        return ["{}" for _ in counts]
    # One join and one split for the whole batch: escaped tokens hold no raw newline.
    seps = [","] * len(tokens)
    for end in itertools.accumulate(counts):
        seps[end - 1] = "}\n{"
    text = "{" + "".join(itertools.chain.from_iterable(zip(tokens, seps, strict=True)))
    return text[:-2].split("\n")


def copy_payload(columns: Sequence[Sequence[str]]) -> bytes:
    """The COPY text-format data of aligned columns of fields.

    Examples:
        >>> copy_payload([["a", "b"], ["1", "2"]])
        b'a\\t1\\nb\\t2\\n'
    """
    if not columns or not columns[0]:
        return b""
    return ("\n".join(map("\t".join, zip(*columns, strict=True))) + "\n").encode()


def _unescape(text: str) -> str:
    return _COPY_ESCAPE.sub(lambda m: _UNESCAPES.get(m.group(1), m.group(1)), text)


def parse_copy(data: bytes, width: int, *, texts: Sequence[int] = ()) -> list[list[str]]:
    """The ``width`` columns of COPY text-format output (no NULLs); ``texts`` are unstuffed.

    Examples:
        >>> parse_copy(b"a\\t1\\nb\\\\tc\\t2\\n", 2, texts=[0])
        [['a', 'b\\tc'], ['1', '2']]
    """
    if not data:
        return [[] for _ in range(width)]
    text = data.decode()
    flat = text[:-1].replace("\n", "\t").split("\t")
    cols = [flat[i::width] for i in range(width)]
    special = "\\" in text
    stuffed = "\x01" in text
    for i in texts:
        col = cols[i]
        if special:
            col = [_unescape(s) if "\\" in s else s for s in col]
        if stuffed:
            col = [unstuff(s) for s in col]
        cols[i] = col
    return cols
