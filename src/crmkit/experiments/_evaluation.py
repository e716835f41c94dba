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

    Examples:
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

    Examples:
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

        Examples:
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

        Examples:
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


class _CellPerfect:
    """Perfect curves of a binary outcome from the weighted counts of the four (y, t) cells.

    Cell ``c = 2 y + t``. The perfect Qini score ``y t - y (1 - t)`` orders the cells as
    {(1,1)}, {(0,0), (0,1)}, {(1,0)}; the perfect uplift score ``2 [y = t] + summand`` orders them
    (1,1), (0,0), then (1,0), (0,1) when the summand is y, or (0,1), (1,0) when it is t.
    """

    def _points(
        self, cw: FloatArray, blocks: tuple[tuple[int, ...], ...], kind: str
    ) -> tuple[FloatArray, FloatArray]:
        n = np.array([sum(cw[c] for c in b) for b in blocks])
        n_t = np.array([sum(cw[c] for c in b if c % 2 == 1) for b in blocks])
        y_t = np.array([cw[3] if 3 in b else 0.0 for b in blocks])
        y_c = np.array([cw[2] if 2 in b else 0.0 for b in blocks])
        keep = n > 0  # a block that is absent from the resample is no point of the curve
        n, n_t, y_t, y_c = (np.cumsum(v)[keep] for v in (n, n_t, y_t, y_c))
        if kind == "qini":
            return n, _qini_values(n, n_t, y_t, y_c)
        return n, _uplift_values(n, n_t, y_t, y_c)

    def qini(self, cw: FloatArray) -> tuple[FloatArray, FloatArray]:
        return self._points(cw, ((3,), (0, 1), (2,)), "qini")

    def uplift(self, cw: FloatArray) -> tuple[FloatArray, FloatArray]:
        # control responders (cell 2) against treated non-responders (cell 1)
        blocks = ((3,), (0,), (2,), (1,)) if cw[2] > cw[1] else ((3,), (0,), (1,), (2,))
        return self._points(cw, blocks, "uplift")


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
    resolution: int = 5000,
) -> UpliftEvaluation:
    """Qini/uplift curves and areas, uplift at ``k`` and by percentile, with bootstrap CIs.

    Works for binary and continuous outcomes (the uplift AUC needs a binary one). Point estimates
    are exact. A bootstrap replicate resamples customers with replacement; for a binary outcome
    it draws the resampled counts of each (score group, outcome, treatment) cell from their
    multinomial distribution, which is exact when the scores have at most ``resolution``
    distinct values. With more, consecutive runs of tied scores are merged into ``resolution``
    groups of about equal size for the replicates only (the curve is then evaluated at those
    group ends), and uplift at ``k`` splits the group holding the cut in proportion.

    Examples:
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
    yts = ys * ts
    size = int(n * k)
    if binary:
        cells = (2 * ys + ts).astype(np.intp)  # (y, t) cell of each sorted row: 0..3
        perfect = _CellPerfect()
        if ends.size > resolution:
            targets = np.linspace(0, n, resolution + 1)[1:] - 1
            g_ends = ends[np.unique(np.searchsorted(ends, targets))]
        else:
            g_ends = ends
        group = np.searchsorted(g_ends, np.arange(n))
        cell_counts = np.bincount(group * 4 + cells, minlength=4 * g_ends.size)
        probs = cell_counts / n
    else:
        perf_q = ys * ts - ys * (1 - ts)
        q_order = _desc_order(perf_q)
        q_ends = np.r_[np.flatnonzero(np.diff(perf_q[q_order])), n - 1]
        ys_q, ts_q = ys[q_order], ts[q_order]

    def stats_for_counts(c: npt.NDArray[np.int64]) -> tuple[float, float, float]:
        cf = c.reshape(-1, 4).astype(np.float64)
        cum = np.cumsum(cf, axis=0)
        nn = cum.sum(axis=1)
        nt = cum[:, 1] + cum[:, 3]
        yt = cum[:, 3]
        yc = cum[:, 2]
        cw = cum[-1]
        qa = _norm_area(nn, _qini_values(nn, nt, yt, yc), *perfect.qini(cw))
        ua = _norm_area(nn, _uplift_values(nn, nt, yt, yc), *perfect.uplift(cw))
        j = int(np.searchsorted(nn, size))
        before = cum[j - 1] if j > 0 else np.zeros(4)
        inside = cf[j].sum()
        top = before + (size - before.sum()) / inside * cf[j] if inside > 0 else before
        t_n, c_n = top[1] + top[3], top[0] + top[2]
        at_k = top[3] / t_n - top[2] / c_n if t_n > 0 and c_n > 0 else float("nan")
        return qa, ua, at_k

    def stats_for(w: FloatArray) -> tuple[float, float, float]:
        nn = np.cumsum(w)[ends]
        nt = np.cumsum(w * ts)[ends]
        yt = np.cumsum(w * yts)[ends]
        yc = np.cumsum(w * ys)[ends] - yt
        qini = _qini_values(nn, nt, yt, yc)
        ua = float("nan")
        if binary:
            cw = np.bincount(cells, weights=w, minlength=4).astype(np.float64)
            qa = _norm_area(nn, qini, *perfect.qini(cw))
            ua = _norm_area(nn, _uplift_values(nn, nt, yt, yc), *perfect.uplift(cw))
        else:
            pn, pnt, pyt, pyc = _areas_weighted(w[q_order], ys_q, ts_q, q_ends)
            qa = _norm_area(nn, qini, pn, _qini_values(pn, pnt, pyt, pyc))
        return qa, ua, _at_k(w, ys, ts, size)

    point = stats_for(np.ones(n))
    draws = np.empty((n_resamples, 3))
    for b in range(n_resamples):
        if binary:
            draws[b] = stats_for_counts(gen.multinomial(n, probs))
        else:
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
