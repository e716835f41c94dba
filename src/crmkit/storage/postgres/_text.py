"""Text through PostgreSQL: an order-preserving stuffing that keeps U+0000 out of ``text``.

PostgreSQL ``text`` cannot hold U+0000. The adapter stores every string column through an
order-preserving byte stuffing: U+0001 becomes U+0001 U+0002 and U+0000 becomes U+0001 U+0001.
Strings without either character are stored unchanged, and ``COLLATE "C"`` comparisons of
stuffed strings order them as the originals (by code point). JSON columns need none of this:
JSON text escapes control characters (``\\u0000``).
"""

from __future__ import annotations

import re

__all__ = ["stuff", "unstuff"]

_STUFFED = re.compile("\x01(.)", re.DOTALL)


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
