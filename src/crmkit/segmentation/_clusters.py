"""k-means on standardized features with k chosen by silhouette or elbow; segment profiles."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import attrs
import numpy as np
import numpy.typing as npt
from scipy.cluster.vq import ClusterError, kmeans2
from scipy.spatial.distance import cdist

from crmkit import _validation as v
from crmkit.errors import ConvergenceError, InvalidInputError

__all__ = ["Clustering", "SegmentProfiles", "cluster_customers", "segment_profiles"]

log = logging.getLogger("crmkit.segmentation")
F64 = npt.NDArray[np.float64]


@attrs.frozen(kw_only=True, eq=False)
class Clustering:
    """k-means result: a label per customer, centres in the original units, how k was chosen.

    ``scores`` maps each k tried to its silhouette (``selection="silhouette"``) or inertia
    (``"elbow"``); ``inertia`` is the within-cluster sum of squares on standardized features.

    Examples:
        >>> import numpy as np
        >>> g = np.random.default_rng(1)
        >>> x = np.r_[g.normal(0, 1, 20), g.normal(10, 1, 20)]
        >>> res = cluster_customers({"spend": x}, k_range=(2, 4), rng=0)
        >>> res.k, sorted(np.bincount(res.labels).tolist())
        (2, [20, 20])
    """

    labels: npt.NDArray[np.int64]
    centers: F64
    columns: tuple[str, ...]
    k: int
    selection: str
    scores: Mapping[int, float]
    inertia: float
    mean: F64
    scale: F64


def _matrix(table: Any, columns: Sequence[str] | None) -> tuple[F64, tuple[str, ...]]:
    if columns is None:
        columns = [c for c in table if c != "customer_id"]
    cols = tuple(columns)
    if not cols:
        raise InvalidInputError("columns: no feature columns to cluster on. Name some.")
    x = np.column_stack([v.as_float_array(c, table[c]) for c in cols])
    return x, cols


def _kmeans(z: F64, k: int, rng: np.random.Generator, n_init: int) -> tuple[F64, Any, float]:
    best: tuple[F64, Any, float] | None = None
    for _ in range(n_init * 3):
        try:
            centers, labels = kmeans2(z, k, minit="++", missing="raise", rng=rng)
        except ClusterError:
            continue  # an empty cluster: draw new seeds
        inertia = float(((z - centers[labels]) ** 2).sum())
        if best is None or inertia < best[2]:
            best = (centers, labels, inertia)
        n_init -= 1
        if n_init == 0:
            break
    if best is None:
        raise ConvergenceError(
            f"k: k-means left a cluster empty on every start for k={k}. Use a smaller k."
        )
    return best


def _silhouette(z: F64, labels: Any, k: int, rng: np.random.Generator, sample: int) -> float:
    idx = np.arange(z.shape[0]) if z.shape[0] <= sample else rng.choice(z.shape[0], sample, False)
    zs, ls = z[idx], labels[idx]
    d = cdist(zs, zs)
    counts = np.bincount(ls, minlength=k).astype(np.float64)
    sums = np.stack([d[:, ls == j].sum(axis=1) for j in range(k)], axis=1)
    own = counts[ls]
    with np.errstate(invalid="ignore", divide="ignore"):
        a = sums[np.arange(ls.size), ls] / (own - 1)
        other = sums / counts
        other[np.arange(ls.size), ls] = np.inf
        b = other.min(axis=1)
        s = np.where(own > 1, (b - a) / np.maximum(a, b), 0.0)
    return float(np.nanmean(s))


def cluster_customers(
    table: Any,
    *,
    columns: Sequence[str] | None = None,
    k: int | None = None,
    k_range: tuple[int, int] = (2, 8),
    selection: Literal["silhouette", "elbow"] = "silhouette",
    n_init: int = 4,
    silhouette_sample: int = 2000,
    rng: np.random.Generator | int | None = None,
) -> Clustering:
    """k-means (scipy ``kmeans2``, k-means++ starts, best of ``n_init``) on z-scored columns.

    With ``k=None``, every k in ``k_range`` (inclusive) is fitted and the one with the highest
    mean silhouette (on a random sample of ``silhouette_sample`` customers) or at the elbow of
    the inertia curve (largest distance below the chord from first to last k) is kept.
    Columns must be finite and not constant.

    Examples:
        >>> import numpy as np
        >>> g = np.random.default_rng(0)
        >>> table = {"recency_days": np.r_[g.normal(10, 2, 50), g.normal(200, 20, 50)],
        ...          "monetary_minor": np.r_[g.normal(9000, 500, 50), g.normal(900, 90, 50)]}
        >>> res = cluster_customers(table, k_range=(2, 5), rng=0)
        >>> res.k, res.columns
        (2, ('recency_days', 'monetary_minor'))
    """
    gen = v.as_rng(rng)
    x, cols = _matrix(table, columns)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    if np.any(scale == 0):
        bad = [c for c, s in zip(cols, scale, strict=True) if s == 0]
        raise InvalidInputError(
            f"columns: constant columns {bad} cannot be standardized. Drop them."
        )
    z = (x - mean) / scale
    ks = [k] if k is not None else list(range(k_range[0], k_range[1] + 1))
    if min(ks) < 1 or max(ks) > z.shape[0]:
        raise InvalidInputError(f"k: need 1 <= k <= {z.shape[0]} customers (got {ks}).")
    fits = {kk: _kmeans(z, kk, gen, n_init) for kk in ks}
    if selection == "silhouette":
        scores = {
            kk: (_silhouette(z, f[1], kk, gen, silhouette_sample) if kk > 1 else -1.0)
            for kk, f in fits.items()
        }
        chosen = max(scores, key=lambda kk: (scores[kk], -kk))
    elif selection == "elbow":
        scores = {kk: f[2] for kk, f in fits.items()}
        if len(ks) < 3:
            chosen = ks[0]
        else:
            xs = np.array(ks, dtype=np.float64)
            ys = np.array([scores[kk] for kk in ks])
            chord = ys[0] + (ys[-1] - ys[0]) * (xs - xs[0]) / (xs[-1] - xs[0])
            chosen = ks[int(np.argmax(chord - ys))]
    else:
        raise InvalidInputError(f"selection: {selection!r}; use 'silhouette' or 'elbow'.")
    centers, labels, inertia = fits[chosen]
    log.debug("k-means: k=%d chosen by %s from %s", chosen, selection, scores)
    return Clustering(
        labels=v.frozen(np.asarray(labels, dtype=np.int64)),
        centers=v.frozen(centers * scale + mean),
        columns=cols,
        k=chosen,
        selection=selection,
        scores=scores,
        inertia=inertia,
        mean=v.frozen(mean),
        scale=v.frozen(scale),
    )


@attrs.frozen(kw_only=True, eq=False)
class SegmentProfiles:
    """Per segment: size, share of customers, share of revenue and medians of chosen columns.

    Examples:
        >>> p = segment_profiles(["a", "b", "a"], {"spend": [10, 30, 20]}, revenue="spend")
        >>> p.segments.tolist(), p.size.tolist(), p.revenue_share.tolist()
        (['a', 'b'], [2, 1], [0.5, 0.5])
        >>> p.medians["spend"].tolist()
        [15.0, 30.0]
    """

    segments: np.ndarray[Any, Any]
    size: npt.NDArray[np.int64]
    share: F64
    revenue_share: F64
    medians: Mapping[str, F64]


def _grouped_median(codes: npt.NDArray[np.intp], x: F64, k: int) -> F64:
    ok = ~np.isnan(x)
    c, xv = codes[ok], x[ok]
    order = np.lexsort((xv, c))
    cs, xs = c[order], xv[order]
    n = np.bincount(cs, minlength=k)
    start = np.r_[0, np.cumsum(n)[:-1]]
    out = np.full(k, np.nan)
    has = n > 0
    lo = start + (n - 1) // 2
    hi = start + n // 2
    out[has] = (xs[lo[has]] + xs[hi[has]]) / 2.0
    return out


def segment_profiles(
    labels: Any,
    table: Any,
    *,
    revenue: str | None = "monetary_minor",
    columns: Sequence[str] | None = None,
) -> SegmentProfiles:
    """Profiles of segments given a label per customer and the aligned feature table.

    Revenue shares sum the ``revenue`` column per segment (NaN counts as 0); medians skip NaN
    and non-numeric columns.

    Examples:
        >>> p = segment_profiles([1, 0, 1, 1], {"monetary_minor": [5, 5, 20, 10]})
        >>> p.size.tolist(), p.revenue_share.tolist(), p.medians["monetary_minor"].tolist()
        ([1, 3], [0.125, 0.875], [5.0, 10.0])
    """
    lab = v.as_1d("labels", labels)
    segs, codes = np.unique(lab, return_inverse=True)
    codes = codes.reshape(-1)
    k = segs.size
    size = np.bincount(codes, minlength=k).astype(np.int64)
    if revenue is not None:
        rev = v.as_float_array(revenue, table[revenue], nan_policy="omit")
        rev = np.where(np.isnan(rev), 0.0, rev)
        v.same_length(labels=lab, revenue=rev)
        by = np.bincount(codes, weights=rev, minlength=k)
        total = by.sum()
        rshare = by / total if total else np.full(k, np.nan)
    else:
        rshare = np.full(k, np.nan)
    names = list(columns) if columns is not None else [c for c in table if c != "customer_id"]
    medians = {}
    for c in names:
        arr = v.as_1d(c, table[c])
        if arr.dtype.kind not in "iuf":
            continue
        medians[c] = v.frozen(_grouped_median(codes, arr.astype(np.float64), k))
    return SegmentProfiles(
        segments=v.frozen(segs),
        size=v.frozen(size),
        share=v.frozen(size / max(lab.size, 1)),
        revenue_share=v.frozen(np.asarray(rshare, dtype=np.float64)),
        medians=medians,
    )
