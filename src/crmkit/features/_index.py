"""Customer index: ids to dense integer codes, the key of every grouped reduction."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from crmkit import _validation as v
from crmkit.errors import InvalidInputError

__all__ = ["as_customer_ids", "encode_customers", "factorize_levels", "union_ids"]

#: Integer ids whose range is at most this many times the row count are coded by counting.
_DENSE_FACTOR = 4


def as_customer_ids(name: str, values: Any) -> np.ndarray[Any, Any]:
    """Customer ids as a 1-d array: non-empty strings, or integers (kept as int64)."""
    arr = v.as_1d(name, values)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64, copy=False)
    if arr.dtype.kind == "b" or arr.dtype.kind == "f":
        raise InvalidInputError(
            f"{name}: expected string or integer ids (got dtype {arr.dtype}). "
            "Convert the id column to strings or integers first."
        )
    return v.as_str_array(name, arr)


def encode_customers(
    customer_id: np.ndarray[Any, Any],
    *,
    universe: np.ndarray[Any, Any] | None = None,
    name: str = "customer_id",
) -> tuple[np.ndarray[Any, Any], npt.NDArray[np.intp]]:
    """Sorted unique ids and, for every row, the position of its id among them.

    With ``universe`` (sorted unique ids, e.g. every known customer) the rows are coded against
    it and an id outside it is an error. Integer ids in a compact range are coded by counting
    (linear time); other ids by sorting.

    Examples:
        >>> import numpy as np
        >>> ids, codes = encode_customers(np.array(["b", "a", "b"]))
        >>> ids.tolist(), codes.tolist()
        (['a', 'b'], [1, 0, 1])
    """
    if universe is not None:
        if customer_id.size == 0:
            return universe, np.empty(0, dtype=np.intp)
        if universe.size == 0:
            bad = np.ones(customer_id.size, dtype=bool)
            pos_c = np.zeros(customer_id.size, dtype=np.intp)
        else:
            pos = np.searchsorted(universe, customer_id)
            pos_c = np.minimum(pos, universe.size - 1)
            bad = (pos >= universe.size) | (universe[pos_c] != customer_id)
        v.require(
            name,
            bad,
            customer_id,
            "ids not among the given customers",
            "Pass every customer in `customers`, or leave it out to use the ids found.",
        )
        return universe, pos_c.astype(np.intp, copy=False)
    if customer_id.size == 0:
        return customer_id[:0], np.empty(0, dtype=np.intp)
    if customer_id.dtype.kind == "i":
        lo = int(customer_id.min())
        hi = int(customer_id.max())
        span = hi - lo + 1
        if span <= _DENSE_FACTOR * customer_id.size + 1024:
            shifted = customer_id - lo
            present = np.bincount(shifted, minlength=span) > 0
            ids = np.flatnonzero(present).astype(np.int64) + lo
            lookup = np.cumsum(present, dtype=np.intp) - 1
            return ids, lookup[shifted]
    ids, codes = np.unique(customer_id, return_inverse=True)
    return ids, codes.astype(np.intp, copy=False).reshape(-1)


def union_ids(*arrays: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Sorted unique ids across several id columns (which must share a kind)."""
    kinds = {a.dtype.kind for a in arrays if a.size}
    if len(kinds) > 1:
        raise InvalidInputError(
            f"customer_id: mixed id kinds across tables ({sorted(kinds)}). "
            "Use string ids everywhere or integer ids everywhere."
        )
    nonempty = [a for a in arrays if a.size]
    if not nonempty:
        return arrays[0][:0] if arrays else np.empty(0, dtype=str)
    if len(nonempty) == 1:
        return encode_customers(nonempty[0])[0]
    return encode_customers(np.concatenate([encode_customers(a)[0] for a in nonempty]))[0]


def factorize_levels(
    values: npt.NDArray[np.str_], *, max_levels: int = 64
) -> tuple[npt.NDArray[np.str_], npt.NDArray[np.intp]]:
    """Sorted distinct labels of a low-cardinality string column and each row's code.

    One vectorized comparison per distinct label (fast for channels, categories, event types);
    falls back to a sort when there are more than ``max_levels`` labels.

    Examples:
        >>> import numpy as np
        >>> labels, codes = factorize_levels(np.array(["web", "app", "web"]))
        >>> labels.tolist(), codes.tolist()
        (['app', 'web'], [1, 0, 1])
    """
    n = values.size
    codes = np.full(n, -1, dtype=np.intp)
    found: list[str] = []
    start = 0
    while start < n:
        rest = np.flatnonzero(codes[start:] < 0)
        if rest.size == 0:
            break
        first = start + int(rest[0])
        if len(found) == max_levels:
            labels, inv = np.unique(values, return_inverse=True)
            return labels, inv.astype(np.intp, copy=False).reshape(-1)
        codes[values == values[first]] = len(found)
        found.append(str(values[first]))
        start = first + 1
    labels = np.array(found, dtype=values.dtype if found else str)
    order = np.argsort(labels, kind="stable")
    rank = np.empty(order.size, dtype=np.intp)
    rank[order] = np.arange(order.size)
    return labels[order], rank[codes] if n else codes
