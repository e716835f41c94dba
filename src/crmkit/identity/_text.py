"""String-column helpers shared by the normalizers: code points, digits, per-unique mapping."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from crmkit import _validation as v

__all__ = ["as_text", "digits_only", "map_unique", "slice_text", "strip_accents"]

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
    """``fn`` applied once per distinct value and broadcast back (names and places repeat)."""
    if arr.size == 0:
        return np.empty(0, dtype=dtype if dtype is not str else "<U1")
    uniq, inverse = np.unique(arr, return_inverse=True)
    mapped = np.array([fn(str(u)) for u in uniq], dtype=dtype)
    return mapped[inverse.reshape(-1)]


def strip_accents(text: str) -> str:
    """``text`` without combining marks (é → e, ß → ss, ø → o)."""
    text = text.replace("ß", "ss").replace("ø", "o").replace("Ø", "O").replace("æ", "ae")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))
