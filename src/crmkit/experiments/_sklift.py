"""Uplift metrics in scikit-uplift 0.5.1's convention: same names, signatures, ties and scaling.

Ties: rows are ordered by ``argsort(uplift, kind="mergesort")[::-1]`` (descending; among equal
scores the later row first) and curves are evaluated only at the last row of each run of equal
scores, so a curve does not depend on the order inside a tie. ``uplift_at_k`` and the percentile
tables do cut inside ties, in that same order. Areas are trapezoids over the number targeted.

Unlike scikit-uplift, continuous outcomes are accepted wherever the formula is defined (every
function but the perfect uplift curve and ``uplift_auc_score``, which need a binary outcome).
"""

from __future__ import annotations

from typing import Any, Literal

import attrs
import numpy as np
import numpy.typing as npt

from crmkit._validation import as_binary_array, as_float_array, frozen, same_length
from crmkit.errors import InvalidInputError

__all__ = [
    "PercentileTable",
    "perfect_qini_curve",
    "perfect_uplift_curve",
    "qini_auc_score",
    "qini_curve",
    "response_rate_by_percentile",
    "uplift_at_k",
    "uplift_auc_score",
    "uplift_by_percentile",
    "uplift_curve",
    "weighted_average_uplift",
]

Strategy = Literal["overall", "by_group"]
FloatArray = npt.NDArray[np.float64]


def _inputs(
    y_true: Any, uplift: Any, treatment: Any, *, binary_y: bool = False
) -> tuple[FloatArray, FloatArray, FloatArray]:
    y = (
        as_binary_array("y_true", y_true).astype(np.float64)
        if binary_y
        else as_float_array("y_true", y_true)
    )
    s = as_float_array("uplift", uplift)
    t = as_binary_array("treatment", treatment).astype(np.float64)
    same_length(y_true=y, uplift=s, treatment=t)
    if y.size == 0:
        raise InvalidInputError("y_true: empty. Pass at least one row.")
    if t.min() == t.max():
        raise InvalidInputError(
            f"treatment: every row is in one group (all {int(t[0])}). "
            "Uplift metrics need both treated and control rows."
        )
    return y, s, t


def _desc_order(score: FloatArray) -> npt.NDArray[np.intp]:
    """scikit-uplift's order: stable ascending argsort, reversed."""
    return np.argsort(score, kind="mergesort")[::-1]


def _block_sums(
    y: FloatArray, s: FloatArray, t: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Cumulative (n_all, n_treated, y_treated, y_control) at the end of each run of ties."""
    order = _desc_order(s)
    ys, ts, ss = y[order], t[order], s[order]
    ends = np.r_[np.flatnonzero(np.diff(ss)), ss.size - 1]
    n_t = np.cumsum(ts)[ends]
    y_t = np.cumsum(ys * ts)[ends]
    y_c = np.cumsum(ys * (1.0 - ts))[ends]
    return (ends + 1).astype(np.float64), n_t, y_t, y_c


def _start_at_origin(x: FloatArray, v: FloatArray) -> tuple[FloatArray, FloatArray]:
    if x.size == 0 or v[0] != 0 or x[0] != 0:
        return np.r_[0.0, x], np.r_[0.0, v]
    return x, v


def _qini_values(n: FloatArray, n_t: FloatArray, y_t: FloatArray, y_c: FloatArray) -> FloatArray:
    n_c = n - n_t
    ratio = np.divide(n_t, n_c, out=np.zeros_like(n_t), where=n_c != 0)
    return np.asarray(y_t - y_c * ratio, dtype=np.float64)


def _uplift_values(n: FloatArray, n_t: FloatArray, y_t: FloatArray, y_c: FloatArray) -> FloatArray:
    n_c = n - n_t
    rt = np.divide(y_t, n_t, out=np.zeros_like(y_t), where=n_t != 0)
    rc = np.divide(y_c, n_c, out=np.zeros_like(y_c), where=n_c != 0)
    return np.asarray((rt - rc) * n, dtype=np.float64)


def _auc(x: FloatArray, v: FloatArray) -> float:
    """Trapezoid area, with scikit-learn's ``auc`` rule for the direction of x."""
    dx = np.diff(x)
    direction = 1.0
    if np.any(dx < 0):
        if np.all(dx <= 0):
            direction = -1.0
        else:
            raise InvalidInputError(
                "x: the curve's x values are neither increasing nor decreasing, so its area is "
                "undefined (scikit-uplift raises here too). Check the outcome and treatment."
            )
    return direction * float(np.sum(dx * (v[1:] + v[:-1]) / 2.0))


def qini_curve(y_true: Any, uplift: Any, treatment: Any) -> tuple[FloatArray, FloatArray]:
    """Qini curve: incremental responders ``Y_t - Y_c * N_t / N_c`` among the top targeted.

    Returns ``(x, y)``: the number targeted at each distinct score and the curve value there,
    starting at ``(0, 0)``.

    Examples:
        >>> x, q = qini_curve([1, 0, 1, 0], [0.9, 0.5, 0.3, 0.1], [1, 0, 0, 1])
        >>> x.tolist(), q.tolist()
        ([0.0, 1.0, 2.0, 3.0, 4.0], [0.0, 1.0, 1.0, 0.5, 0.0])
    """
    y, s, t = _inputs(y_true, uplift, treatment)
    n, n_t, y_t, y_c = _block_sums(y, s, t)
    x, v = _start_at_origin(n, _qini_values(n, n_t, y_t, y_c))
    return frozen(x), frozen(v)


def uplift_curve(y_true: Any, uplift: Any, treatment: Any) -> tuple[FloatArray, FloatArray]:
    """Uplift curve: ``(Y_t / N_t - Y_c / N_c) * N`` among the top ``N`` targeted.

    Examples:
        >>> x, u = uplift_curve([1, 0, 1, 0], [0.9, 0.5, 0.3, 0.1], [1, 0, 0, 1])
        >>> u.tolist()
        [0.0, 1.0, 2.0, 1.5, 0.0]
    """
    y, s, t = _inputs(y_true, uplift, treatment)
    n, n_t, y_t, y_c = _block_sums(y, s, t)
    x, v = _start_at_origin(n, _uplift_values(n, n_t, y_t, y_c))
    return frozen(x), frozen(v)


def perfect_qini_curve(
    y_true: Any, treatment: Any, negative_effect: bool = True
) -> tuple[FloatArray, FloatArray]:
    """The best attainable Qini curve (scikit-uplift's definition).

    With ``negative_effect=True`` it is the Qini curve of the score ``y`` for treated and ``-y``
    for control rows; otherwise the three points ``(0, 0), (r, r), (n, r)`` with ``r`` the total
    incremental responders.

    Examples:
        >>> perfect_qini_curve([1, 0, 1, 0], [1, 0, 0, 1])[1].tolist()
        [0.0, 1.0, 1.0, 0.0]
    """
    if not isinstance(negative_effect, bool):
        raise InvalidInputError(
            f"negative_effect: expected a bool (got {type(negative_effect).__name__})."
        )
    y = as_float_array("y_true", y_true)
    t = as_binary_array("treatment", treatment).astype(np.float64)
    same_length(y_true=y, treatment=t)
    if negative_effect:
        return qini_curve(y, y * t - y * (1 - t), t)
    n_t = t.sum()
    r = float(y[t == 1].sum() - n_t * y[t == 0].sum() / (y.size - n_t))
    return frozen(np.array([0.0, r, float(y.size)])), frozen(np.array([0.0, r, r]))


def perfect_uplift_curve(y_true: Any, treatment: Any) -> tuple[FloatArray, FloatArray]:
    """The best attainable uplift curve for a binary outcome (scikit-uplift's definition).

    Examples:
        >>> perfect_uplift_curve([1, 0, 1, 0], [1, 0, 0, 1])[1].tolist()
        [0.0, 1.0, 2.0, 1.5, 0.0]
    """
    y = as_binary_array("y_true", y_true)
    t = as_binary_array("treatment", treatment)
    same_length(y_true=y, treatment=t)
    cr = int(np.sum((y == 1) & (t == 0)))
    tn = int(np.sum((y == 0) & (t == 1)))
    summand = y if cr > tn else t
    return uplift_curve(y, 2 * (y == t) + summand, t)


def _normalized_area(
    actual: tuple[FloatArray, FloatArray], perfect: tuple[FloatArray, FloatArray]
) -> float:
    xp, vp = perfect
    base = _auc(np.array([0.0, xp[-1]]), np.array([0.0, vp[-1]]))
    denom = _auc(xp, vp) - base
    if denom == 0:
        raise InvalidInputError(
            "y_true: the perfect curve has no area above the random line (no response "
            "difference to rank), so the normalized area is undefined."
        )
    return (_auc(*actual) - base) / denom


def qini_auc_score(y_true: Any, uplift: Any, treatment: Any, negative_effect: bool = True) -> float:
    """Normalized area under the Qini curve (the Qini coefficient, scikit-uplift's scaling).

    ``(area(actual) - area(random)) / (area(perfect) - area(random))``: 1 for a perfect ranking,
    0 for a random one.

    Examples:
        >>> qini_auc_score([1, 0, 1, 0], [0.9, 0.5, 0.3, 0.1], [1, 0, 0, 1])
        0.8333333333333334
    """
    actual = qini_curve(y_true, uplift, treatment)
    return _normalized_area(actual, perfect_qini_curve(y_true, treatment, negative_effect))


def uplift_auc_score(y_true: Any, uplift: Any, treatment: Any) -> float:
    """Normalized area under the uplift curve (scikit-uplift's scaling; binary outcome).

    Examples:
        >>> round(uplift_auc_score([1, 0, 1, 0], [0.9, 0.5, 0.3, 0.1], [1, 0, 0, 1]), 4)
        1.0
    """
    as_binary_array("y_true", y_true)
    actual = uplift_curve(y_true, uplift, treatment)
    return _normalized_area(actual, perfect_uplift_curve(y_true, treatment))


def _check_strategy(strategy: str) -> None:
    if strategy not in ("overall", "by_group"):
        raise InvalidInputError(
            f"strategy: unknown value {strategy!r}. Use 'overall' or 'by_group'."
        )


def uplift_at_k(
    y_true: Any, uplift: Any, treatment: Any, strategy: Strategy, k: float | int = 0.3
) -> float:
    """Response rate of treated minus control among the top ``k`` (a share or a count).

    ``strategy="overall"`` takes the top ``k`` of everyone; ``"by_group"`` the top ``k`` of each
    group separately.

    Examples:
        >>> uplift_at_k([1, 0, 1, 0], [0.9, 0.5, 0.3, 0.1], [1, 0, 0, 1], "overall", k=2)
        1.0
    """
    y, s, t = _inputs(y_true, uplift, treatment)
    _check_strategy(strategy)
    n = y.size
    kind = np.asarray(k).dtype.kind
    if kind not in ("i", "f") or isinstance(k, bool):
        raise InvalidInputError(f"k: expected a count or a share (got {k!r}).")
    if (kind == "i" and not 0 < k < n) or (kind == "f" and not 0 < k < 1):
        raise InvalidInputError(
            f"k: {k!r} must be a count in (0, {n}) or a share in (0, 1). Pass e.g. k=0.3."
        )
    order = _desc_order(s)
    ys, ts = y[order], t[order]
    if strategy == "overall":
        size = int(n * k) if kind == "f" else int(k)
        top_y, top_t = ys[:size], ts[:size]
        treated, control = top_y[top_t == 1], top_y[top_t == 0]
    else:
        n_c = int((t == 0).sum() * k) if kind == "f" else int(k)
        n_t = int((t == 1).sum() * k) if kind == "f" else int(k)
        if n_c > (t == 0).sum() or n_t > (t == 1).sum():
            raise InvalidInputError(
                f"k: {k!r} exceeds the size of a group ({int((t == 0).sum())} control, "
                f"{int((t == 1).sum())} treated). Use a smaller k."
            )
        treated, control = ys[ts == 1][:n_t], ys[ts == 0][:n_c]
    if treated.size == 0 or control.size == 0:
        raise InvalidInputError(
            f"k: the top {k!r} hold no {'treated' if treated.size == 0 else 'control'} rows, so "
            "the uplift there is undefined. Use a larger k or strategy='by_group'."
        )
    return float(treated.mean() - control.mean())


def response_rate_by_percentile(
    y_true: Any,
    uplift: Any,
    treatment: Any,
    group: Literal["treatment", "control"],
    strategy: Strategy = "overall",
    bins: int = 10,
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.int64]]:
    """Response rate, its binomial variance and group size per score bin (``np.array_split``).

    Examples:
        >>> rate, var, size = response_rate_by_percentile(
        ...     [1, 0, 1, 0], [0.9, 0.5, 0.3, 0.1], [1, 0, 0, 1], "treatment", bins=2)
        >>> rate.tolist(), size.tolist()
        ([1.0, 0.0], [1, 1])
    """
    y, s, t = _inputs(y_true, uplift, treatment)
    _check_strategy(strategy)
    if group not in ("treatment", "control"):
        raise InvalidInputError(f"group: unknown value {group!r}. Use 'treatment' or 'control'.")
    if isinstance(bins, bool) or not isinstance(bins, int) or not 0 < bins < y.size:
        raise InvalidInputError(f"bins: must be a whole number in (0, {y.size}) (got {bins!r}).")
    order = _desc_order(s)
    flag = 1.0 if group == "treatment" else 0.0
    ys, ts = y[order], t[order]
    if strategy == "overall":
        edges = _split_edges(y.size, bins)
        mask = ts == flag
        size = np.diff(np.r_[0, np.cumsum(mask)][edges]).astype(np.int64)
        total = np.diff(np.r_[0.0, np.cumsum(np.where(mask, ys, 0.0))][edges])
    else:
        sel = ys[ts == flag]
        edges = _split_edges(sel.size, bins)
        size = np.diff(edges).astype(np.int64)
        total = np.diff(np.r_[0.0, np.cumsum(sel)][edges])
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = total / size
        var = rate * ((1 - rate) / size)
    return frozen(rate), frozen(var), frozen(size)


def _split_edges(n: int, bins: int) -> npt.NDArray[np.intp]:
    """Bin edges of ``np.array_split(range(n), bins)``: the first ``n % bins`` bins one longer."""
    q, r = divmod(n, bins)
    sizes = np.full(bins, q, dtype=np.intp)
    sizes[:r] += 1
    return np.asarray(np.r_[0, np.cumsum(sizes)], dtype=np.intp)


def weighted_average_uplift(
    y_true: Any, uplift: Any, treatment: Any, strategy: Strategy = "overall", bins: int = 10
) -> float:
    """Bin uplifts averaged with the treated counts of each bin as weights.

    Examples:
        >>> weighted_average_uplift([1, 0, 1, 0], [0.9, 0.5, 0.3, 0.1], [1, 0, 0, 1], bins=2)
        0.0
    """
    rt, _, nt = response_rate_by_percentile(y_true, uplift, treatment, "treatment", strategy, bins)
    rc, _, _ = response_rate_by_percentile(y_true, uplift, treatment, "control", strategy, bins)
    return float(np.dot(nt, rt - rc) / nt.sum())


@attrs.frozen(kw_only=True)
class PercentileTable:
    """Uplift per score bin (scikit-uplift's ``uplift_by_percentile`` as aligned arrays).

    The ``std_*`` columns are binomial (``sqrt(r (1 - r) / n)``), as in scikit-uplift; they are
    NaN where that is undefined for a non-binary outcome.

    Examples:
        >>> tab = uplift_by_percentile([1, 0, 1, 0], [0.9, 0.5, 0.3, 0.1], [1, 0, 0, 1], bins=2)
        >>> tab.percentile, tab.uplift.tolist()
        (('0-50', '50-100'), [1.0, -1.0])
    """

    percentile: tuple[str, ...]
    n_treatment: npt.NDArray[np.int64]
    n_control: npt.NDArray[np.int64]
    response_rate_treatment: FloatArray
    response_rate_control: FloatArray
    uplift: FloatArray
    std_treatment: FloatArray
    std_control: FloatArray
    std_uplift: FloatArray

    def summary(self) -> str:
        """A readable table.

        Examples:
            >>> tab = uplift_by_percentile([1, 0, 1, 0], [0.9, 0.5, 0.3, 0.1], [1, 0, 0, 1], bins=2)
            >>> print(tab.summary().splitlines()[0])
            percentile  n_treat  n_ctrl  rate_treat  rate_ctrl   uplift
        """
        lines = [
            (
                f"{'percentile':>10} {'n_treat':>8} {'n_ctrl':>7} {'rate_treat':>11} "
                f"{'rate_ctrl':>10} {'uplift':>8}"
            )
        ]
        for i, p in enumerate(self.percentile):
            lines.append(
                f"{p:>10} {int(self.n_treatment[i]):>8} {int(self.n_control[i]):>7} "
                f"{self.response_rate_treatment[i]:>11.4f} {self.response_rate_control[i]:>10.4f} "
                f"{self.uplift[i]:>+8.4f}"
            )
        return "\n".join(lines)

    def to_pandas(self) -> Any:
        """The table as a pandas DataFrame indexed by percentile (needs pandas).

        Examples:
            >>> tab = uplift_by_percentile([1, 0, 1, 0], [0.9, 0.5, 0.3, 0.1], [1, 0, 0, 1], bins=2)
            >>> tab.to_pandas().columns[0]
            'n_treatment'
        """
        import pandas as pd

        cols = {f.name: getattr(self, f.name) for f in attrs.fields(PercentileTable)}
        return pd.DataFrame(cols).set_index("percentile")


def uplift_by_percentile(
    y_true: Any,
    uplift: Any,
    treatment: Any,
    strategy: Strategy = "overall",
    bins: int = 10,
    string_percentiles: bool = True,
) -> PercentileTable:
    """Response rates and uplift per score bin, best scores first (scikit-uplift's table).

    Examples:
        >>> uplift_by_percentile([1, 0, 1, 0], [0.9, 0.5, 0.3, 0.1], [1, 0, 0, 1],
        ...                      bins=2).n_control.tolist()
        [1, 1]
    """
    rt, vt, nt = response_rate_by_percentile(y_true, uplift, treatment, "treatment", strategy, bins)
    rc, vc, nc = response_rate_by_percentile(y_true, uplift, treatment, "control", strategy, bins)
    pct = [round(p * 100 / bins) for p in range(1, bins + 1)]
    labels = (
        [f"0-{pct[0]}"] + [f"{pct[i]}-{pct[i + 1]}" for i in range(bins - 1)]
        if string_percentiles
        else [str(p) for p in pct]
    )
    with np.errstate(invalid="ignore"):  # binomial variances are negative for non-binary outcomes
        std_t, std_c, std_u = np.sqrt(vt), np.sqrt(vc), np.sqrt(vt + vc)
    return PercentileTable(
        percentile=tuple(labels),
        n_treatment=nt,
        n_control=nc,
        response_rate_treatment=rt,
        response_rate_control=rc,
        uplift=frozen(rt - rc),
        std_treatment=frozen(std_t),
        std_control=frozen(std_c),
        std_uplift=frozen(std_u),
    )
