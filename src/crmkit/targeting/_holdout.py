"""Deterministic treatment/control assignment by salted hash; the split is checked with
``crmkit.experiments.sample_ratio_test``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmkit import _validation as v
from crmkit.errors import InvalidInputError
from crmkit.experiments import SampleRatioTest, sample_ratio_test
from crmkit.targeting._keys import Audience

__all__ = ["HoldoutAssignment", "assign_holdout", "hash_unit"]

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def _mix(h: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    # splitmix64 finalizer: a bijection of uint64 with full avalanche
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def _hash64(ids: npt.NDArray[np.str_], salt: str) -> npt.NDArray[np.uint64]:
    seed = np.zeros(1, dtype=np.uint64)
    for ch in salt.encode("utf-8"):
        seed = _mix(seed ^ np.uint64(ch) ^ np.uint64(0x9E3779B97F4A7C15))
    n = ids.size
    h = np.full(n, seed[0], dtype=np.uint64) ^ np.uint64(0x632BE59BD9B4E019)
    if n == 0:
        return h
    width = ids.dtype.itemsize // 4
    codes = np.ascontiguousarray(ids).view(np.uint32).reshape(n, width).astype(np.uint64)
    with np.errstate(over="ignore"):
        for j in range(width):
            c = codes[:, j]
            live = c != 0  # numpy pads shorter strings with NUL: skip the padding
            mixed = _mix(h ^ (c + np.uint64(j + 1) * np.uint64(0x9E3779B97F4A7C15)))
            h = np.where(live, mixed, h)
        return _mix(h ^ np.uint64(0xD6E8FEB86659FD93))


def hash_unit(customer_id: Any, *, salt: str) -> npt.NDArray[np.float64]:
    """A uniform number in [0, 1) per id, fixed by the id and the salt alone.

    The value does not depend on which other ids are present or on their order, so an
    assignment made from it is stable across runs and audience changes. A new salt (one per
    campaign) gives an independent draw.

    Examples:
        >>> u = hash_unit(["c1", "c2"], salt="spring-2024")
        >>> bool(((u >= 0) & (u < 1)).all()), bool(hash_unit(["c2"], salt="spring-2024")[0] == u[1])
        (True, True)
    """
    ids = v.as_str_array("customer_id", customer_id)
    h = _hash64(ids, salt)
    return (h >> np.uint64(11)).astype(np.float64) / float(2**53)


@attrs.frozen(kw_only=True, eq=False)
class HoldoutAssignment:
    """The group of each customer (aligned with ``customer_id``) and the groups' names.

    Examples:
        >>> a = assign_holdout(["a", "b", "c"], salt="x", fractions={"treatment": 1.0})
        >>> a.group.tolist(), a.counts()
        (['treatment', 'treatment', 'treatment'], {'treatment': 3})
    """

    customer_id: npt.NDArray[np.str_] = attrs.field(converter=v.frozen)
    group: npt.NDArray[np.str_] = attrs.field(converter=v.frozen)
    salt: str
    fractions: Mapping[str, float]

    def counts(self) -> dict[str, int]:
        """Customers per group, in the order the fractions were given."""
        return {g: int((self.group == g).sum()) for g in self.fractions}

    def members(self, group: str) -> npt.NDArray[np.str_]:
        """Ids of the customers in ``group``."""
        return v.frozen(self.customer_id[self.group == group])

    def check(
        self, counts: Mapping[str, int] | None = None, *, threshold: float = 0.001
    ) -> SampleRatioTest:
        """Sample-ratio test of group sizes against the intended fractions.

        ``counts`` are the sizes as they reach the analysis (after sending and logging); by
        default the sizes of this assignment. Groups with fraction 0 are left out.
        """
        counts = dict(counts or self.counts())
        groups = [g for g, f in self.fractions.items() if f > 0]
        missing = sorted(set(groups) - set(counts))
        if missing:
            raise InvalidInputError(f"counts: no count for groups {missing}. Pass every group.")
        return sample_ratio_test(
            [counts[g] for g in groups],
            [self.fractions[g] for g in groups],
            threshold=threshold,
        )


def _fractions(fractions: Mapping[str, float]) -> tuple[list[str], npt.NDArray[np.float64]]:
    names = list(fractions)
    p = v.as_float_array("fractions", [fractions[k] for k in names], min_value=0.0)
    if not names or abs(float(p.sum()) - 1.0) > 1e-9:
        raise InvalidInputError(
            f"fractions: must sum to 1 (got {dict(fractions)!r}, sum {float(p.sum()):g}). "
            "Give every group its share, e.g. {'treatment': 0.9, 'control': 0.1}."
        )
    return names, p


def assign_holdout(
    customer_id: Any,
    *,
    salt: str,
    fractions: Mapping[str, float] | None = None,
    strata: Any = None,
) -> HoldoutAssignment:
    """Assign each customer to a group by a salted hash of the id.

    Without ``strata`` a customer's group depends only on its id, the salt and the fractions:
    the same customer lands in the same group in every run, whoever else is in the audience.
    With ``strata`` (one label per customer) customers are ranked by hash within each stratum and
    the groups cut at the given fractions, so every stratum is split in the exact proportions;
    a customer then keeps its group unless audience changes move it across a cut.

    Examples:
        >>> ids = [f"c{i}" for i in range(10_000)]
        >>> a = assign_holdout(ids, salt="winback-2024-05")
        >>> a.counts()["control"] / 10_000    # about the 10% asked for
        0.1...
        >>> b = assign_holdout(ids[:500], salt="winback-2024-05")
        >>> bool((b.group == a.group[:500]).all())   # stable when the audience changes
        True
    """
    fractions = dict(fractions or {"treatment": 0.9, "control": 0.1})
    names, p = _fractions(fractions)
    aud = Audience.of(customer_id)
    u = hash_unit(aud.customer_id, salt=salt)
    cuts = np.cumsum(p)
    cuts[-1] = 1.0
    if strata is None:
        idx = np.searchsorted(cuts, u, side="right")
    else:
        s = v.as_str_array("strata", strata, allow_empty=True)
        v.same_length(customer_id=aud.customer_id, strata=s)
        _, inv, sizes = np.unique(s, return_inverse=True, return_counts=True)
        order = np.lexsort((aud.customer_id, u, inv))
        starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        rank = np.empty(u.size, dtype=np.int64)
        rank[order] = np.arange(u.size) - np.repeat(starts, sizes)
        q = (rank + 0.5) / sizes[inv]
        idx = np.searchsorted(cuts, q, side="right")
    idx = np.minimum(idx, len(names) - 1)
    group = np.asarray(names, dtype=str)[idx]
    return HoldoutAssignment(
        customer_id=aud.customer_id, group=group, salt=salt, fractions=fractions
    )
