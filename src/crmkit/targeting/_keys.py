"""Positions of ids in an audience: the one lookup every step of targeting needs."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmkit import _validation as v

__all__ = ["Audience"]


@attrs.frozen(kw_only=True, eq=False)
class Audience:
    """Unique customer ids with a sorted index, to map rows of other tables onto them.

    Examples:
        >>> aud = Audience.of(["c", "a", "b"])
        >>> aud.position(["a", "x", "c"]).tolist()
        [1, -1, 0]
    """

    customer_id: npt.NDArray[np.str_]
    _order: npt.NDArray[np.intp]
    _sorted: npt.NDArray[np.str_]

    @classmethod
    def of(cls, customer_id: Any, *, name: str = "customer_id") -> Audience:
        """Index ``customer_id``; duplicates are an error (an audience lists each customer once)."""
        ids = v.as_str_array(name, customer_id)
        order = np.argsort(ids, kind="stable")
        srt = ids[order]
        dup = np.zeros(ids.size, dtype=bool)
        if ids.size > 1:
            dup[order[1:]] = srt[1:] == srt[:-1]
        v.require(name, dup, ids, "duplicate ids", "List each customer once.")
        return cls(customer_id=v.frozen(ids.copy()), order=order, sorted=srt)

    def __len__(self) -> int:
        return int(self.customer_id.size)

    def position(self, ids: npt.NDArray[np.str_] | list[str]) -> npt.NDArray[np.intp]:
        """Position of each id in the audience, -1 where it is not a member."""
        arr = np.asarray(ids, dtype=str)
        if self._sorted.size == 0:
            return np.full(arr.size, -1, dtype=np.intp)
        pos = np.searchsorted(self._sorted, arr)
        pos_c = np.minimum(pos, self._sorted.size - 1)
        found = self._sorted[pos_c] == arr
        return np.where(found, self._order[pos_c], -1).astype(np.intp)
