"""Expectation–maximisation for the two-class Fellegi–Sunter mixture, on compressed patterns.

Candidate pairs collapse to their distinct comparison vectors (patterns) with counts, so EM costs
the same for a thousand pairs as for a hundred million. Missing levels (-1) are marginalised out:
they contribute a factor 1 to both classes, so a missing value is neutral, not a disagreement.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import attrs
import numpy as np
import numpy.typing as npt
from scipy.special import expit

from crmkit.errors import ConvergenceError, InvalidInputError

__all__ = ["EMResult", "Patterns", "em", "patterns_of"]

_log = logging.getLogger("crmkit.identity")

FloatArray = npt.NDArray[np.float64]
LevelMatrix = npt.NDArray[np.int8]


@attrs.frozen(kw_only=True, eq=False)
class Patterns:
    """Distinct comparison vectors (rows of levels, -1 missing) and how many pairs have each."""

    levels: LevelMatrix
    count: npt.NDArray[np.int64]

    @staticmethod
    def merge(parts: Sequence[Patterns]) -> Patterns:
        """The patterns of several chunks, counted together."""
        lv = np.concatenate([p.levels for p in parts])
        cnt = np.concatenate([p.count for p in parts])
        return _collapse(lv, cnt)


def _collapse(levels: LevelMatrix, count: npt.NDArray[np.int64]) -> Patterns:
    if levels.shape[0] == 0:
        return Patterns(levels=levels, count=count)
    code = np.zeros(levels.shape[0], np.int64)
    for c in range(levels.shape[1]):
        code = code * 128 + (levels[:, c].astype(np.int64) + 1)
    uniq, first, inv = np.unique(code, return_index=True, return_inverse=True)
    total = np.bincount(inv.reshape(-1), weights=count, minlength=uniq.size).astype(np.int64)
    return Patterns(levels=levels[first], count=total)


def patterns_of(levels: LevelMatrix) -> Patterns:
    """The patterns of a matrix of comparison levels (one row per pair)."""
    return _collapse(levels, np.ones(levels.shape[0], np.int64))


@attrs.frozen(kw_only=True, eq=False)
class EMResult:
    """EM estimates: ``m`` and ``u`` per comparison (probability of each level among matches and
    non-matches of the candidate pairs), ``p`` (share of matches among them), the iterations and
    whether the log-likelihood converged."""

    m: tuple[FloatArray, ...]
    u: tuple[FloatArray, ...]
    p: float
    iterations: int
    converged: bool
    log_likelihood: float


def _loglik(patterns: Patterns, probs: Sequence[FloatArray]) -> FloatArray:
    out = np.zeros(patterns.levels.shape[0])
    for c, pr in enumerate(probs):
        g = patterns.levels[:, c]
        ok = g >= 0
        out[ok] += np.log(pr[g[ok]])
    return out


def _update(
    patterns: Patterns, weight: FloatArray, n_levels: Sequence[int], floor: float
) -> tuple[FloatArray, ...]:
    out = []
    for c, k in enumerate(n_levels):
        g = patterns.levels[:, c]
        ok = g >= 0
        tot = np.bincount(g[ok], weights=weight[ok], minlength=k)[:k]
        probs = np.maximum(tot / max(tot.sum(), 1e-300), floor)
        out.append(probs / probs.sum())
    return tuple(out)


def em(
    patterns: Patterns,
    n_levels: Sequence[int],
    *,
    m_start: Sequence[FloatArray],
    u_start: Sequence[FloatArray],
    p_start: float,
    max_iter: int = 200,
    tol: float = 1e-7,
    floor: float = 1e-6,
    fix_u: bool = False,
) -> EMResult:
    """Fit the mixture to ``patterns`` from the starting values; ``fix_u`` keeps ``u``."""
    if patterns.levels.shape[0] == 0:
        raise InvalidInputError(
            "candidates: no candidate pairs to train on. Loosen the blocking rules or give more "
            "records."
        )
    if not 0.0 < p_start < 1.0:
        raise InvalidInputError(f"p_start: {p_start} must be in (0, 1).")
    w = patterns.count.astype(float)
    m = tuple(np.asarray(x, float) for x in m_start)
    u = tuple(np.asarray(x, float) for x in u_start)
    p = p_start
    prev = -np.inf
    ll = -np.inf
    converged = False
    it = 0
    with np.errstate(divide="ignore", over="ignore", under="ignore"):
        for it in range(1, max_iter + 1):  # noqa: B007 - the count is reported
            lm = _loglik(patterns, m) + np.log(p)
            lu = _loglik(patterns, u) + np.log1p(-p)
            joint = np.logaddexp(lm, lu)
            ll = float((w * joint).sum())
            post = expit(lm - lu)
            wm = w * post
            m = _update(patterns, wm, n_levels, floor)
            if not fix_u:
                u = _update(patterns, w - wm, n_levels, floor)
            p = float(np.clip(wm.sum() / w.sum(), 1e-12, 1 - 1e-12))
            if abs(ll - prev) <= tol * max(abs(ll), 1.0):
                converged = True
                break
            prev = ll
    if not np.isfinite(ll):
        raise ConvergenceError(
            f"em: the log-likelihood is not finite after {it} iterations (p={p:.3g}). Check "
            "that the comparisons have more than one observed level."
        )
    if not converged:
        _log.warning("EM stopped after %d iterations without converging", it)
    return EMResult(m=m, u=u, p=p, iterations=it, converged=converged, log_likelihood=ll)
