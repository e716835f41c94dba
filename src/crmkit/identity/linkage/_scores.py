"""Candidate pairs with their comparison levels, and scored pairs with per-comparison evidence."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmkit import _validation as v

__all__ = ["Candidates", "ScoredPairs", "Waterfall"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
StrArray = npt.NDArray[np.str_]


@attrs.frozen(kw_only=True, eq=False)
class Candidates:
    """Candidate pairs ``(a[i], b[i])`` (record positions) and their comparison ``levels`` (one
    column per comparison, -1 where a value is missing).

    Examples:
        >>> import numpy as np
        >>> c = Candidates(a=np.array([0]), b=np.array([1]), levels=np.zeros((1, 2), np.int8))
        >>> len(c)
        1
    """

    a: IntArray
    b: IntArray
    levels: npt.NDArray[np.int8]

    def __attrs_post_init__(self) -> None:
        for name in ("a", "b", "levels"):
            v.frozen(getattr(self, name))

    def __len__(self) -> int:
        return int(self.a.size)

    @staticmethod
    def concat(parts: Sequence[Candidates], n_comparisons: int) -> Candidates:
        """Chunks of candidates as one table."""
        if not parts:
            e = np.empty(0, np.int64)
            return Candidates(a=e, b=e.copy(), levels=np.empty((0, n_comparisons), np.int8))
        return Candidates(
            a=np.concatenate([p.a for p in parts]),
            b=np.concatenate([p.b for p in parts]),
            levels=np.concatenate([p.levels for p in parts]),
        )


@attrs.frozen(kw_only=True, eq=False)
class Waterfall:
    """How one pair's match weight adds up: the prior, then one row per comparison.

    ``step`` (``"prior"`` then each comparison's name), ``level`` (the level name, ``"missing"``
    when a value is missing), ``value_a``/``value_b``, ``weight`` (log2 Bayes factor; the term
    frequency adjustment is included and also shown alone in ``tf_adjustment``) and
    ``cumulative``. The last cumulative value is the pair's match weight.

    Examples:
        >>> import crmkit.identity.linkage as lk
        >>> fit = lk.FellegiSunterFit.from_parameters(
        ...     comparisons=[lk.ExactMatch(column="email")], m=[[0.95, 0.05]],
        ...     u=[[0.001, 0.999]], prior=0.01)
        >>> t = lk.read_table({"email": ["a@x.org", "a@x.org"]})
        >>> w = fit.score(t, fit.compare(t, a=[0], b=[1])).waterfall(0)
        >>> w.step.tolist(), w.cumulative.round(2).tolist()
        (['prior', 'email'], [-6.63, 3.26])
    """

    step: StrArray
    level: StrArray
    value_a: StrArray
    value_b: StrArray
    weight: FloatArray
    tf_adjustment: FloatArray
    cumulative: FloatArray

    def rows(self) -> list[tuple[str, str, str, str, float]]:
        """The waterfall as ``(step, level, value_a, value_b, weight)`` tuples."""
        return [
            (str(s), str(lv), str(x), str(y), float(w))
            for s, lv, x, y, w in zip(
                self.step, self.level, self.value_a, self.value_b, self.weight, strict=True
            )
        ]


@attrs.frozen(kw_only=True, eq=False)
class ScoredPairs:
    """Scored candidate pairs as aligned read-only columns.

    ``a``/``b`` (record positions), ``record_a``/``record_b`` (record ids), ``match_weight``
    (log2 odds: the prior plus every contribution), ``match_probability``, ``levels`` and
    ``contributions`` (one column per comparison, in ``comparisons`` order; a missing value
    contributes 0), ``tf_adjustment`` (the term-frequency part of each contribution),
    ``prior`` (log2 λ/(1-λ), the same for every pair) and ``corroborated`` (some comparison
    other than names agrees with positive weight).

    Examples:
        >>> import crmkit.identity.linkage as lk
        >>> recs = {"first": ["ann", "ann", "bob"], "dob": ["1990-01-02", "1990-01-02", ""]}
        >>> fit = lk.FellegiSunterFit.from_parameters(
        ...     comparisons=[lk.NameComparison(column="first"), lk.DateComparison(column="dob")],
        ...     m=[[.9, .02, .01, .01, .03, .02, .01], [.9, .02, .02, .02, .02, .02]],
        ...     u=[[.01, .005, .001, .01, .01, .05, .914], [.001, .001, .001, .01, .1, .887]],
        ...     prior=1e-3)
        >>> t = lk.read_table(recs)
        >>> s = fit.score(t, fit.compare(t, a=[0, 0], b=[1, 2]))
        >>> s.match_weight.round(2).tolist()
        [6.34, -16.48]
        >>> s.waterfall(0).rows()[1]
        ('first', 'exact', '', '', 6.491853096329675)
        >>> bool(abs(s.contributions.sum(1) + s.prior - s.match_weight).max() < 1e-9)
        True
    """

    a: IntArray
    b: IntArray
    record_a: StrArray
    record_b: StrArray
    match_weight: FloatArray
    match_probability: FloatArray
    levels: npt.NDArray[np.int8]
    contributions: FloatArray
    tf_adjustment: FloatArray
    prior: float
    corroborated: npt.NDArray[np.bool_]
    comparisons: tuple[str, ...]
    level_names: tuple[tuple[str, ...], ...]

    def __attrs_post_init__(self) -> None:
        for f in attrs.fields(type(self)):
            x = getattr(self, f.name)
            if isinstance(x, np.ndarray):
                v.frozen(x)

    def __len__(self) -> int:
        return int(self.a.size)

    @staticmethod
    def concat(parts: Sequence[ScoredPairs]) -> ScoredPairs:
        """Chunks of scored pairs (of one fit) as one table; ``parts`` must not be empty."""
        first = parts[0]
        if len(parts) == 1:
            return first
        kw: dict[str, Any] = {}
        for f in attrs.fields(ScoredPairs):
            x = getattr(first, f.name)
            kw[f.name] = (
                np.concatenate([getattr(p, f.name) for p in parts])
                if isinstance(x, np.ndarray)
                else x
            )
        return ScoredPairs(**kw)

    def take(self, index: Any) -> ScoredPairs:
        """Rows at ``index`` (positions or a mask)."""
        kw: dict[str, Any] = {}
        for f in attrs.fields(type(self)):
            x = getattr(self, f.name)
            kw[f.name] = x[index] if isinstance(x, np.ndarray) else x
        return ScoredPairs(**kw)

    def level_name(self, comparison: int) -> StrArray:
        """The level name of every pair for one comparison (``"missing"`` where missing)."""
        names = np.array([*self.level_names[comparison], "missing"])
        out: StrArray = names[self.levels[:, comparison]]
        return out

    def waterfall(self, row: int, values: Any = None) -> Waterfall:
        """The [`Waterfall`][crmkit.identity.linkage.Waterfall] of pair ``row``; ``values``: the
        compared values as ``(value_a, value_b)`` lists per comparison, if known (else blank)."""
        c = len(self.comparisons)
        lv = self.levels[row]
        level = [self.level_names[k][lv[k]] if lv[k] >= 0 else "missing" for k in range(c)]
        va = ["" if values is None else str(values[k][0]) for k in range(c)]
        vb = ["" if values is None else str(values[k][1]) for k in range(c)]
        weight = np.concatenate([[self.prior], self.contributions[row]])
        return Waterfall(
            step=np.array(["prior", *self.comparisons]),
            level=np.array(["", *level]),
            value_a=np.array(["", *va]),
            value_b=np.array(["", *vb]),
            weight=weight,
            tf_adjustment=np.concatenate([[0.0], self.tf_adjustment[row]]),
            cumulative=np.cumsum(weight),
        )

    def to_pandas(self) -> Any:
        """The pairs as a pandas DataFrame (one ``w_<comparison>`` column per contribution)."""
        import pandas as pd

        data: dict[str, Any] = {
            "record_a": self.record_a,
            "record_b": self.record_b,
            "match_weight": self.match_weight,
            "match_probability": self.match_probability,
            "corroborated": self.corroborated,
        }
        for k, name in enumerate(self.comparisons):
            data[f"level_{name}"] = self.level_name(k)
            data[f"w_{name}"] = self.contributions[:, k]
        return pd.DataFrame(data)
