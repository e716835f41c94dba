"""Uplift models: two-model (T-learner), class transformation, and empirical uplift per cell."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmkit._validation import as_1d, as_binary_array, as_float_array, as_str_array, frozen
from crmkit.errors import InvalidInputError
from crmkit.experiments._logistic import LogisticFit, LogisticRegression, as_design_matrix

__all__ = [
    "CellUplift",
    "CellUpliftFit",
    "ClassTransformationFit",
    "ClassTransformationUplift",
    "TwoModelFit",
    "TwoModelUplift",
]


def _arms(treatment: Any, control: Any) -> tuple[npt.NDArray[np.int64], tuple[str, ...]]:
    """Codes per row (0 = control) and arm names (control first, then sorted)."""
    t = as_1d("treatment", treatment)
    names = as_str_array("treatment", t)
    ctl = str(control)
    uniq = sorted(set(names.tolist()))
    if ctl not in uniq:
        raise InvalidInputError(
            f"control: {control!r} does not occur in treatment (values {uniq[:10]}). "
            "Name the control group's label."
        )
    if len(uniq) < 2:
        raise InvalidInputError(
            f"treatment: only the control group is present ({uniq}). Uplift needs treated rows."
        )
    arms = (ctl, *(u for u in uniq if u != ctl))
    codes = np.zeros(names.size, dtype=np.int64)
    for i, a in enumerate(arms[1:], start=1):
        codes[names == a] = i
    return codes, arms


def _pick(arms: tuple[str, ...], arm: Any) -> int:
    if arm is None:
        if len(arms) != 2:
            raise InvalidInputError(
                f"arm: several treatments ({list(arms[1:])}); name the one to score, "
                "or call predict_all."
            )
        return 1
    key = str(arm)
    if key not in arms[1:]:
        raise InvalidInputError(f"arm: {arm!r} is not a treatment arm (arms: {list(arms[1:])}).")
    return arms.index(key)


@attrs.frozen(kw_only=True)
class TwoModelFit:
    """One outcome model per arm; uplift = P(y | x, arm) - P(y | x, control).

    Examples:
        >>> fit = TwoModelUplift().fit([[0.0], [1.0]] * 20, [0, 1, 0, 0] * 10, [1, 1, 0, 0] * 10)
        >>> fit.arms
        ('0', '1')
    """

    arms: tuple[str, ...]
    models: tuple[LogisticFit, ...]

    def predict_all(self, X: Any) -> npt.NDArray[np.float64]:
        """Uplift of every treatment arm over control, one column per arm (``arms[1:]``).

        Examples:
            >>> fit = TwoModelUplift().fit([[0.0], [1.0]] * 20, [0, 1, 0, 0] * 10,
            ...                            [1, 1, 0, 0] * 10)
            >>> fit.predict_all([[1.0]]).shape
            (1, 1)
        """
        base = self.models[0].predict_proba(X)
        out = np.column_stack([m.predict_proba(X) - base for m in self.models[1:]])
        return frozen(out)

    def predict(self, X: Any, arm: Any = None) -> npt.NDArray[np.float64]:
        """Uplift of ``arm`` (default: the only treatment) over control per row.

        Examples:
            >>> fit = TwoModelUplift().fit([[0.0], [1.0]] * 20, [0, 1, 0, 0] * 10,
            ...                            [1, 1, 0, 0] * 10)
            >>> bool(fit.predict([[1.0]])[0] > fit.predict([[0.0]])[0])
            True
        """
        i = _pick(self.arms, arm)
        return frozen(self.models[i].predict_proba(X) - self.models[0].predict_proba(X))


@attrs.frozen(kw_only=True)
class TwoModelUplift:
    """Two-model (T-learner) uplift over our logistic regression; handles several treatments.

    Examples:
        >>> TwoModelUplift(base=LogisticRegression(l2=0.1)).base.l2
        0.1
    """

    base: LogisticRegression = attrs.field(factory=LogisticRegression)

    def fit(
        self, X: Any, y: Any, treatment: Any, *, control: Any = 0, sample_weight: Any = None
    ) -> TwoModelFit:
        """Fit one outcome model per arm (``control`` names the control label).

        Examples:
            >>> TwoModelUplift().fit([[0.0], [1.0]] * 20, [0, 1, 0, 0] * 10,
            ...                      [1, 1, 0, 0] * 10).models[0].coef.shape
            (1,)
        """
        x = as_design_matrix("X", X)
        yy = as_binary_array("y", y)
        codes, arms = _arms(treatment, control)
        if not x.shape[0] == yy.size == codes.size:
            raise InvalidInputError(
                f"X, y, treatment: {x.shape[0]}, {yy.size} and {codes.size} rows. Align them."
            )
        w = None if sample_weight is None else as_float_array("sample_weight", sample_weight)
        models = tuple(
            self.base.fit(x[codes == i], yy[codes == i], None if w is None else w[codes == i])
            for i in range(len(arms))
        )
        return TwoModelFit(arms=arms, models=models)


@attrs.frozen(kw_only=True)
class ClassTransformationFit:
    """Class-transformation fit: uplift = 2 P(z = 1 | x) - 1 with z = y t + (1 - y)(1 - t).

    Examples:
        >>> fit = ClassTransformationUplift().fit([[0.0], [1.0]] * 20, [0, 1, 0, 0] * 10,
        ...                                       [1, 1, 0, 0] * 10)
        >>> fit.arms
        ('0', '1')
    """

    arms: tuple[str, ...]
    model: LogisticFit
    treated_share: float

    def predict(self, X: Any) -> npt.NDArray[np.float64]:
        """Uplift per row.

        Examples:
            >>> fit = ClassTransformationUplift().fit([[0.0], [1.0]] * 20,
            ...                                       [0, 1, 0, 0] * 10, [1, 1, 0, 0] * 10)
            >>> bool(fit.predict([[1.0]])[0] > 0)
            True
        """
        return frozen(2.0 * self.model.predict_proba(X) - 1.0)


@attrs.frozen(kw_only=True)
class ClassTransformationUplift:
    """Class transformation (Jaskowski & Jaroszewicz 2012) for one treatment against control.

    The identity ``uplift = 2 P(z=1|x) - 1`` needs equal treated and control shares; unequal
    splits are reweighted (weight 0.5/share per arm), so it holds for any split.

    Examples:
        >>> ClassTransformationUplift().base.l2
        1.0
    """

    base: LogisticRegression = attrs.field(factory=LogisticRegression)

    def fit(
        self, X: Any, y: Any, treatment: Any, *, control: Any = 0, sample_weight: Any = None
    ) -> ClassTransformationFit:
        """Fit the transformed-outcome classifier.

        Examples:
            >>> ClassTransformationUplift().fit([[0.0], [1.0]] * 20, [0, 1, 0, 0] * 10,
            ...                                 [1, 1, 0, 0] * 10).treated_share
            0.5
        """
        x = as_design_matrix("X", X)
        yy = as_binary_array("y", y)
        codes, arms = _arms(treatment, control)
        if len(arms) != 2:
            raise InvalidInputError(
                f"treatment: {len(arms) - 1} treatment arms; class transformation handles one. "
                "Use TwoModelUplift for several treatments."
            )
        if not x.shape[0] == yy.size == codes.size:
            raise InvalidInputError(
                f"X, y, treatment: {x.shape[0]}, {yy.size} and {codes.size} rows. Align them."
            )
        w = (
            np.ones(yy.size)
            if sample_weight is None
            else as_float_array("sample_weight", sample_weight, min_value=0.0)
        )
        share = float(np.dot(w, codes) / w.sum())
        balance = np.where(codes == 1, 0.5 / share, 0.5 / (1.0 - share))
        z = yy * codes + (1 - yy) * (1 - codes)
        model = self.base.fit(x, z, w * balance)
        return ClassTransformationFit(arms=arms, model=model, treated_share=share)


@attrs.frozen(kw_only=True)
class CellUpliftFit:
    """Empirical uplift per cell (a segment, or a combination of categorical features).

    ``uplift[c, j]`` is the response rate of treatment arm ``arms[j + 1]`` minus control's in
    cell ``cells[c]``, ``se`` its unpooled standard error; ``NaN`` where an arm has no customers.

    Examples:
        >>> fit = CellUplift().fit(["a", "a", "b", "b"] * 5, [1, 0, 1, 1] * 5, [1, 0, 1, 0] * 5)
        >>> fit.cells, fit.uplift[:, 0].tolist()
        (('a', 'b'), [1.0, 0.0])
    """

    cells: tuple[str, ...]
    arms: tuple[str, ...]
    n: npt.NDArray[np.int64]
    rate: npt.NDArray[np.float64]
    uplift: npt.NDArray[np.float64]
    se: npt.NDArray[np.float64]

    def predict(self, cells: Any, arm: Any = None) -> npt.NDArray[np.float64]:
        """The uplift of each row's cell for ``arm`` (default: the only treatment).

        Examples:
            >>> fit = CellUplift().fit(["a", "a", "b", "b"] * 5, [1, 0, 1, 1] * 5,
            ...                        [1, 0, 1, 0] * 5)
            >>> fit.predict(["b", "a"]).tolist()
            [0.0, 1.0]
        """
        j = _pick(self.arms, arm) - 1
        keys = as_str_array("cells", cells)
        lookup = np.array(self.cells)
        pos = np.searchsorted(lookup, keys)
        pos_c = np.minimum(pos, lookup.size - 1)
        unseen = lookup[pos_c] != keys
        if unseen.any():
            first = int(np.flatnonzero(unseen)[0])
            raise InvalidInputError(
                f"cells: {int(unseen.sum())} rows in cells not seen in fitting (first at index "
                f"{first}, value {keys[first]!r}). Fit on data covering every cell."
            )
        return frozen(self.uplift[pos_c, j].copy())


@attrs.frozen(kw_only=True)
class CellUplift:
    """Specification of the per-cell empirical uplift (no model: rates by cell and arm).

    Examples:
        >>> CellUplift().fit(["x"] * 4, [1, 0, 0, 0], [1, 1, 0, 0]).uplift.tolist()
        [[0.5]]
    """

    def fit(self, cells: Any, y: Any, treatment: Any, *, control: Any = 0) -> CellUpliftFit:
        """Response rates per cell and arm, and each arm's uplift over control.

        Examples:
            >>> CellUplift().fit(["x"] * 4, [1, 0, 0, 0], [1, 1, 0, 0]).n.tolist()
            [[2, 2]]
        """
        keys = as_str_array("cells", cells)
        yy = as_float_array("y", y)
        codes, arms = _arms(treatment, control)
        if not keys.size == yy.size == codes.size:
            raise InvalidInputError(
                f"cells, y, treatment: {keys.size}, {yy.size} and {codes.size} rows. Align them."
            )
        uniq, inv = np.unique(keys, return_inverse=True)
        k = len(arms)
        flat = inv * k + codes
        size = uniq.size * k
        n = np.bincount(flat, minlength=size).reshape(uniq.size, k)
        s = np.bincount(flat, weights=yy, minlength=size).reshape(uniq.size, k)
        s2 = np.bincount(flat, weights=yy * yy, minlength=size).reshape(uniq.size, k)
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = s / n
            var = np.where(n > 1, (s2 - n * rate**2) / (n - 1), np.nan)
            var_mean = var / n
        uplift = rate[:, 1:] - rate[:, :1]
        se = np.sqrt(var_mean[:, 1:] + var_mean[:, :1])
        return CellUpliftFit(
            cells=tuple(str(c) for c in uniq),
            arms=arms,
            n=frozen(n.astype(np.int64)),
            rate=frozen(rate),
            uplift=frozen(uplift),
            se=frozen(se),
        )
