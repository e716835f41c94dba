"""Evaluate an uplift ranking: Qini and uplift curves, their areas, uplift at k, bootstrap CIs.

Every number follows scikit-uplift's convention (see ``crmkit.experiments._sklift``). The
bootstrap resamples customers with replacement; each resample is scored exactly as scikit-uplift
would score it, but without re-sorting: resampling only changes how often each row counts, so the
curves are weighted cumulative sums along the one sorted order.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmkit._validation import as_rng, frozen
from crmkit.errors import InvalidInputError
from crmkit.experiments._sklift import (
    PercentileTable,
    _auc,
    _desc_order,
    _inputs,
    _qini_values,
    _start_at_origin,
    _uplift_values,
    uplift_by_percentile,
)

__all__ = ["Interval", "UpliftEvaluation", "evaluate_uplift"]

FloatArray = npt.NDArray[np.float64]


@attrs.frozen(kw_only=True)
class Interval:
    """A point estimate with a percentile bootstrap interval.

    Example:
        >>> str(Interval(estimate=0.1, low=0.05, high=0.15, level=0.95))
        '0.1 (95% CI 0.05 to 0.15)'
    """

    estimate: float
    low: float
    high: float
    level: float

    def __str__(self) -> str:
        """``estimate (level CI low to high)``."""
        return (
            f"{self.estimate:.4g} ({round(100 * self.level)}% CI {self.low:.4g} to {self.high:.4g})"
        )


@attrs.frozen(kw_only=True)
class UpliftEvaluation:
    """How well a score ranks customers by uplift, in scikit-uplift's convention.

    ``x`` is the number targeted at each distinct score (from 0), ``qini`` and ``uplift`` the two
    curves there. ``qini_auc`` and ``uplift_auc`` are the normalized areas (1 = perfect ranking,
    0 = random); ``uplift_auc`` is ``None`` for a continuous outcome.

    Example:
        >>> rng = np.random.default_rng(1)
        >>> t = rng.integers(0, 2, 2000); s = rng.random(2000)
        >>> y = (rng.random(2000) < 0.1 + 0.2 * t * s).astype(int)
        >>> ev = evaluate_uplift(y, s, t, n_resamples=50, rng=7)
        >>> bool(ev.qini_auc.low < ev.qini_auc.estimate < ev.qini_auc.high)
        True
    """

    n_treatment: int
    n_control: int
    x: FloatArray
    qini: FloatArray
    uplift: FloatArray
    qini_auc: Interval
    uplift_auc: Interval | None
    k: float
    uplift_at_k: Interval
    percentiles: PercentileTable
    n_resamples: int

    def summary(self) -> str:
        """A readable report.

        Example:
            >>> ev = evaluate_uplift([1, 0, 1, 0] * 25, np.linspace(1, 0, 100),
            ...                      [1, 0, 0, 1] * 25, n_resamples=20, rng=0)
            >>> print(ev.summary().splitlines()[0])
            uplift evaluation (scikit-uplift convention): 50 treated, 50 control
        """
        lines = [
            (
                f"uplift evaluation (scikit-uplift convention): {self.n_treatment} treated, "
                f"{self.n_control} control"
            ),
            f"  Qini AUC (qini_auc_score, negative_effect=True): {self.qini_auc}",
        ]
        if self.uplift_auc is not None:
            lines.append(f"  uplift AUC (uplift_auc_score): {self.uplift_auc}")
        lines.append(f"  uplift at k={self.k:g} (overall): {self.uplift_at_k}")
        lines.append(f"  bootstrap: {self.n_resamples} resamples of customers")
        lines.append(self.percentiles.summary())
        return "\n".join(lines)

    def plot(self, ax: Any = None, kind: str = "qini") -> Any:
        """Plot the Qini (or ``kind="uplift"``) curve with the random line (needs matplotlib).

        Example:
            >>> ev = evaluate_uplift([1, 0, 1, 0] * 25, np.linspace(1, 0, 100),
            ...                      [1, 0, 0, 1] * 25, n_resamples=20, rng=0)
            >>> ev.plot().get_xlabel()  # doctest: +SKIP
            'customers targeted'
        """
        from crmkit.experiments._plots import plot_curve

        values = self.qini if kind == "qini" else self.uplift
        return plot_curve(self.x, values, ax=ax, label=kind)


def _areas_weighted(
    w: FloatArray,
    ys: FloatArray,
    ts: FloatArray,
    ends: npt.NDArray[np.intp],
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Weighted cumulative (n, n_t, y_t, y_c) at the block ends of a fixed sorted order."""
    wt = w * ts
    wy = w * ys
    return (
        np.cumsum(w)[ends],
        np.cumsum(wt)[ends],
        np.cumsum(wy * ts)[ends],
        np.cumsum(wy - wy * ts)[ends],
    )


def _norm_area(x: FloatArray, v: FloatArray, xp: FloatArray, vp: FloatArray) -> float:
    x, v = _start_at_origin(x, v)
    xp, vp = _start_at_origin(xp, vp)
    base = float(xp[-1] * vp[-1]) / 2.0
    return (_auc(x, v) - base) / (_auc(xp, vp) - base)


def _at_k(w: FloatArray, ys: FloatArray, ts: FloatArray, size: int) -> float:
    cw = np.cumsum(w)
    stop = int(np.searchsorted(cw, size)) + 1
    take = np.clip(size - (cw[:stop] - w[:stop]), 0.0, w[:stop])
    tt = ts[:stop]
    nt = float(np.dot(take, tt))
    nc = float(take.sum()) - nt
    yt = float(np.dot(take * tt, ys[:stop]))
    yc = float(np.dot(take, ys[:stop])) - yt
    return yt / nt - yc / nc if nt > 0 and nc > 0 else float("nan")


def evaluate_uplift(
    y_true: Any,
    uplift: Any,
    treatment: Any,
    *,
    k: float = 0.3,
    bins: int = 10,
    n_resamples: int = 200,
    level: float = 0.95,
    rng: np.random.Generator | int | None = None,
) -> UpliftEvaluation:
    """Qini/uplift curves and areas, uplift at ``k`` and by percentile, with bootstrap CIs.

    Works for binary and continuous outcomes (the uplift AUC needs a binary one).

    Example:
        >>> ev = evaluate_uplift([1, 0, 1, 0] * 25, np.linspace(1, 0, 100),
        ...                      [1, 0, 0, 1] * 25, n_resamples=20, rng=0)
        >>> ev.n_treatment
        50
    """
    y, s, t = _inputs(y_true, uplift, treatment)
    if not 0 < k < 1:
        raise InvalidInputError(f"k: a share in (0, 1) (got {k!r}).")
    if n_resamples < 2 or not 0 < level < 1:
        raise InvalidInputError(
            f"n_resamples, level: need >= 2 resamples and a level in (0, 1) "
            f"(got {n_resamples!r}, {level!r})."
        )
    gen = as_rng(rng)
    n = y.size
    binary = bool(np.all((y == 0) | (y == 1)))

    order = _desc_order(s)
    ys, ts, ss = y[order], t[order], s[order]
    ends = np.r_[np.flatnonzero(np.diff(ss)), n - 1]
    # The perfect curves' sort orders, in the model's sorted positions.
    perf_q = ys * ts - ys * (1 - ts)
    q_order = _desc_order(perf_q)
    q_ends = np.r_[np.flatnonzero(np.diff(perf_q[q_order])), n - 1]
    u_orders = []
    if binary:
        for summand in (ys, ts):
            score = 2 * (ys == ts) + summand
            o = _desc_order(score)
            u_orders.append((o, np.r_[np.flatnonzero(np.diff(score[o])), n - 1]))
    size = int(n * k)

    def stats_for(w: FloatArray) -> tuple[float, float, float]:
        nn, nt, yt, yc = _areas_weighted(w, ys, ts, ends)
        wq = w[q_order]
        pn, pnt, pyt, pyc = _areas_weighted(wq, ys[q_order], ts[q_order], q_ends)
        qa = _norm_area(nn, _qini_values(nn, nt, yt, yc), pn, _qini_values(pn, pnt, pyt, pyc))
        ua = np.nan
        if binary:
            cr = float(np.dot(w, ys * (1 - ts)))
            tn = float(np.dot(w, (1 - ys) * ts))
            o, e = u_orders[0] if cr > tn else u_orders[1]
            un, unt, uyt, uyc = _areas_weighted(w[o], ys[o], ts[o], e)
            ua = _norm_area(
                nn, _uplift_values(nn, nt, yt, yc), un, _uplift_values(un, unt, uyt, uyc)
            )
        return qa, ua, _at_k(w, ys, ts, size)

    point = stats_for(np.ones(n))
    draws = np.empty((n_resamples, 3))
    for b in range(n_resamples):
        w = np.bincount(gen.integers(0, n, n), minlength=n).astype(np.float64)
        draws[b] = stats_for(w)
    tail = (1 - level) / 2
    lo = np.full(3, np.nan)
    hi = np.full(3, np.nan)
    for i in range(3):
        finite = draws[:, i][np.isfinite(draws[:, i])]
        if finite.size:
            lo[i], hi[i] = np.quantile(finite, [tail, 1 - tail])

    def interval(i: int) -> Interval:
        return Interval(estimate=point[i], low=float(lo[i]), high=float(hi[i]), level=level)

    nn, nt, yt, yc = _areas_weighted(np.ones(n), ys, ts, ends)
    x, qv = _start_at_origin(nn, _qini_values(nn, nt, yt, yc))
    _, uv = _start_at_origin(nn, _uplift_values(nn, nt, yt, yc))
    n_t = int(t.sum())
    return UpliftEvaluation(
        n_treatment=n_t,
        n_control=n - n_t,
        x=frozen(x),
        qini=frozen(qv),
        uplift=frozen(uv),
        qini_auc=interval(0),
        uplift_auc=interval(1) if binary else None,
        k=k,
        uplift_at_k=interval(2),
        percentiles=uplift_by_percentile(y, s, t, bins=bins),
        n_resamples=n_resamples,
    )
