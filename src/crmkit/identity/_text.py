"""String-column helpers shared by the normalizers: code points, digits, per-unique mapping."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from crmkit import _validation as v

__all__ = [
    "as_text",
    "compact",
    "digits_only",
    "hash_text",
    "map_unique",
    "map_values",
    "slice_text",
    "strip_accents",
]

StrArray = npt.NDArray[np.str_]


def as_text(name: str, values: Any) -> StrArray:
    """A one-dimensional unicode array; None and NaN become ``""`` (missing)."""
    arr = v.as_1d(name, values)
    if arr.dtype.kind == "U":
        return arr
    if arr.dtype == object:
        missing = np.fromiter(
            (x is None or (isinstance(x, float) and x != x) for x in arr), bool, arr.size
        )
        if missing.any():
            arr = arr.copy()
            arr[missing] = ""
    elif arr.dtype.kind == "f":
        v.require(name, np.isnan(arr), arr, "numeric values", "Pass text (str) values.")
    return arr.astype(str)


def _codepoints(arr: StrArray) -> npt.NDArray[np.uint32]:
    width = max(arr.dtype.itemsize // 4, 1)
    fixed = np.ascontiguousarray(arr, dtype=f"<U{width}")
    return fixed.view(np.uint32).reshape(arr.size, width)


def _from_codepoints(cp: npt.NDArray[np.uint32]) -> StrArray:
    width = max(cp.shape[1], 1)
    if cp.shape[1] == 0:
        return np.full(cp.shape[0], "", dtype="<U1")
    return np.ascontiguousarray(cp, dtype=np.uint32).view(f"<U{width}").reshape(cp.shape[0])


def digits_only(arr: StrArray) -> StrArray:
    """Each string with every character but the ASCII digits removed (vectorized)."""
    if arr.size == 0:
        return arr.astype("<U1")
    cp = _codepoints(arr)
    keep = (cp >= 48) & (cp <= 57)
    order = np.argsort(~keep, axis=1, kind="stable")
    packed = np.take_along_axis(cp, order, axis=1)
    packed[~np.take_along_axis(keep, order, axis=1)] = 0
    return _from_codepoints(packed)


def slice_text(
    arr: StrArray, start: npt.NDArray[np.int64], stop: npt.NDArray[np.int64]
) -> StrArray:
    """``s[start:stop]`` per element, with per-element bounds (vectorized)."""
    if arr.size == 0:
        return arr.astype("<U1")
    cp = _codepoints(arr)
    width = cp.shape[1]
    idx = start[:, None] + np.arange(width)[None, :]
    inside = idx < np.minimum(stop, width)[:, None]
    out = np.take_along_axis(cp, np.minimum(idx, width - 1), axis=1)
    out[~inside] = 0
    return _from_codepoints(out)


def map_unique(arr: StrArray, fn: Callable[[str], Any], dtype: Any = str) -> np.ndarray[Any, Any]:
    """``fn`` applied once per distinct value and broadcast back (names and places repeat).

    Distinct values are found with a dictionary in one pass (no sort), so the cost is one
    dictionary lookup per value plus one call of ``fn`` per distinct value.
    """
    if arr.size == 0:
        return np.empty(0, dtype=dtype if dtype is not str else "<U1")
    memo: dict[str, Any] = {}
    out = [memo[s] if s in memo else memo.setdefault(s, fn(s)) for s in arr.tolist()]
    res = np.array(out, dtype=dtype)
    return compact(res) if res.dtype.kind == "U" else res


def map_values(arr: StrArray, fn: Callable[[str], tuple[str, str]]) -> tuple[StrArray, StrArray]:
    """``fn`` (returning a value and a note) applied once per distinct string of ``arr``."""
    if arr.size == 0:
        e = np.empty(0, "<U1")
        return e, e.copy()
    memo: dict[str, tuple[str, str]] = {}
    out = [memo[s] if s in memo else memo.setdefault(s, fn(s)) for s in arr.tolist()]
    value = compact(np.array([o[0] for o in out], dtype=str))
    note = compact(np.array([o[1] for o in out], dtype=str))
    return value, note


def compact(arr: StrArray) -> StrArray:
    """``arr`` with the narrowest unicode width that holds its longest value (saves memory)."""
    if arr.dtype.kind != "U":
        return arr
    width = int(np.char.str_len(arr).max(initial=0)) if arr.size else 0
    width = max(width, 1)
    if width * 4 >= arr.dtype.itemsize:
        return arr
    return arr.astype(f"<U{width}")


_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _mix(h: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """The splitmix64 finalizer (a bijection of 64-bit integers that spreads every bit)."""
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def hash_text(arr: StrArray, seed: int = 0) -> npt.NDArray[np.uint64]:
    """A 64-bit hash of every string, independent of the array's width (vectorized).

    Two different strings collide with probability about 2**-64 per pair; among ten million
    distinct values the chance of any collision is below 3e-6.
    """
    n = arr.size
    h = np.full(n, np.uint64(0x9E3779B97F4A7C15) ^ np.uint64(seed), dtype=np.uint64)
    if n == 0:
        return h
    cp = _codepoints(arr)
    prime = np.uint64(0x100000001B3)  # FNV-1a over code points, then a full mix
    for j in range(cp.shape[1]):
        c = cp[:, j]
        live = c != 0
        if not live.any():
            break
        h = np.where(live, (h ^ c.astype(np.uint64)) * prime, h)
    return _mix(h ^ np.uint64(0xD6E8FEB86659FD93))


def strip_accents(text: str) -> str:
    """``text`` without combining marks (é → e, ß → ss, ø → o)."""
    text = text.replace("ß", "ss").replace("ø", "o").replace("Ø", "O").replace("æ", "ae")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))
