"""Vectorized string edits on numpy unicode arrays: typos, inserted characters, case and digits.

Edits work on the UTF-32 code points of a fixed-width ``U`` array viewed as a 2-D ``uint32``
matrix, so a million strings are edited with a handful of array operations.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "build_by",
    "digits",
    "double_letter",
    "drop_letter",
    "fingerprint",
    "head",
    "insert_char",
    "join",
    "number",
    "pick",
    "random_letters",
    "str_len",
    "tail",
    "tight",
    "transpose_letters",
]

Str = npt.NDArray[np.str_]
Int = npt.NDArray[np.int64]

_PAIRS = (48 + np.stack([np.arange(100) // 10, np.arange(100) % 10], axis=1)).astype(np.uint32)


def join(*parts: Any) -> Str:
    """Element-wise concatenation of string arrays and scalars."""
    out = np.asarray(parts[0], dtype=str)
    for p in parts[1:]:
        out = np.char.add(out, np.asarray(p, dtype=str))
    return out


def digits(values: Int, width: int, prefix: str = "") -> Str:
    """Integers in [0, 10**width) as ``prefix`` + ``width`` zero-padded decimal digits."""
    x = np.asarray(values, dtype=np.int64)
    codes = np.empty((x.size, len(prefix) + width), dtype=np.uint32)
    for j, ch in enumerate(prefix):
        codes[:, j] = ord(ch)
    k = len(prefix) + width
    while k - len(prefix) >= 2:  # two digits per step from a lookup table of "00".."99"
        codes[:, k - 2 : k] = _PAIRS[x % 100]
        x = x // 100
        k -= 2
    if k > len(prefix):
        codes[:, k - 1] = 48 + x % 10
    return _from_codes(codes)


def tight(values: Str) -> Str:
    """``values`` at the width of its longest string (fixed-width arrays pad every row to it)."""
    width = values.dtype.itemsize // 4
    if values.size == 0 or width <= 1:
        return values
    codes = values.view(np.uint32).reshape(values.size, width)
    used = np.flatnonzero(codes.any(axis=0))
    need = int(used[-1]) + 1 if used.size else 1
    return values if need == width else values.astype(f"U{need}")


def number(values: Int) -> Str:
    """Non-negative integers as decimal strings without padding."""
    x = np.asarray(values, dtype=np.int64)
    width = len(str(int(x.max()))) if x.size else 1
    padded = digits(x, width)
    zeros = width - np.maximum(np.floor(np.log10(np.maximum(x, 1))).astype(np.int64) + 1, 1)
    return tail(padded, zeros)


def str_len(values: Str) -> Int:
    """Length of each string."""
    return np.char.str_len(values).astype(np.int64)


def _codes(values: Str, extra: int) -> npt.NDArray[np.uint32]:
    width = max(values.dtype.itemsize // 4, 1) + extra
    wide = values.astype(f"U{width}")
    return wide.view(np.uint32).reshape(values.size, width).copy()


def _from_codes(codes: npt.NDArray[np.uint32]) -> Str:
    width = codes.shape[1]
    return np.ascontiguousarray(codes).view(f"U{width}").reshape(codes.shape[0])


def _shift(values: Str, at: Int, *, extra: int, source: Any) -> npt.NDArray[np.uint32]:
    codes = _codes(values, extra)
    n, width = codes.shape
    j = np.arange(width)[None, :]
    src = source(j, at[:, None])
    padded = np.concatenate([codes, np.zeros((n, 1), dtype=np.uint32)], axis=1)
    src = np.where((src < 0) | (src >= width), width, src)
    out: npt.NDArray[np.uint32] = np.take_along_axis(padded, src, axis=1)
    return out


def transpose_letters(values: Str, at: Int) -> Str:
    """Swap the characters at ``at`` and ``at + 1`` (``at + 1`` must be inside each string)."""
    codes = _codes(values, 0)
    rows = np.arange(values.size)
    left = codes[rows, at].copy()
    codes[rows, at] = codes[rows, at + 1]
    codes[rows, at + 1] = left
    return _from_codes(codes)


def drop_letter(values: Str, at: Int) -> Str:
    """Remove the character at ``at``."""
    return _from_codes(_shift(values, at, extra=0, source=lambda j, k: np.where(j >= k, j + 1, j)))


def double_letter(values: Str, at: Int) -> Str:
    """Write the character at ``at`` twice."""
    return _from_codes(_shift(values, at, extra=1, source=lambda j, k: np.where(j > k, j - 1, j)))


def insert_char(values: Str, at: Int, char: str) -> Str:
    """Insert ``char`` (one character) before position ``at``."""
    codes = _shift(values, at, extra=1, source=lambda j, k: np.where(j >= k, j - 1, j))
    codes[np.arange(values.size), at] = ord(char)
    return _from_codes(codes)


def head(values: Str, length: Int) -> Str:
    """The first ``length`` characters of each string."""
    codes = _codes(values, 0)
    codes[np.arange(codes.shape[1])[None, :] >= length[:, None]] = 0
    return _from_codes(codes)


def tail(values: Str, start: Int) -> Str:
    """Each string from position ``start`` on."""
    return _from_codes(_shift(values, start, extra=0, source=lambda j, k: j + k))


def random_letters(rng: np.random.Generator, n: int, length: int) -> Str:
    """``n`` random strings of ``length`` lower-case ASCII letters."""
    codes = rng.integers(ord("a"), ord("z") + 1, (n, length)).astype(np.uint32)
    return _from_codes(codes)


def fingerprint(values: Str) -> npt.NDArray[np.uint64]:
    """A 64-bit polynomial hash of each string: equal strings get equal fingerprints.

    Sorting fingerprints is far faster than sorting strings; distinct strings collide with
    probability about n² / 2⁶⁴, which callers only use to add digits to a possible duplicate.
    """
    codes = np.ascontiguousarray(_codes(values, 0).T).astype(np.uint64)
    h = np.full(values.size, 1469598103934665603, dtype=np.uint64)
    prime = np.uint64(1099511628211)
    with np.errstate(over="ignore"):
        for column in codes:
            h = (h ^ column) * prime
    return h


def pick(choice: Int, options: list[Any]) -> Str:
    """Element-wise ``options[choice[i]][i]`` for string arrays (``np.choose`` is slow on text)."""
    arrays = [np.asarray(o, dtype=str) for o in options]
    width = max(a.dtype.itemsize // 4 for a in arrays)
    out = np.empty(choice.size, dtype=f"U{max(width, 1)}")
    for i, a in enumerate(arrays):
        mask = choice == i
        out[mask] = a[mask] if a.ndim else a
    return out


def build_by(choice: Int, builders: list[Any]) -> Str:
    """Element-wise ``builders[choice[i]]`` where each builder makes the rows it is given.

    Each builder receives the positions of its rows and returns their strings, so no option is
    computed for rows that do not use it.
    """
    parts = []
    for i, build in enumerate(builders):
        idx = np.flatnonzero(choice == i)
        if idx.size:
            parts.append((idx, np.asarray(build(idx), dtype=str)))
    width = max([max(p.dtype.itemsize // 4, 1) for _, p in parts] + [1])
    out = np.empty(choice.size, dtype=f"U{width}")
    for idx, p in parts:
        out[idx] = p
    return out
