"""Simulation from each model with known parameters: ground truth for tests and benchmarks."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from crmkit._validation import as_rng
from crmkit.clv._summary import RFMSummary
from crmkit.errors import InvalidInputError

__all__ = [
    "simulate_beta_geo",
    "simulate_beta_geo_beta_binom",
    "simulate_gamma_gamma",
    "simulate_pareto_nbd",
    "simulate_shifted_beta_geo",
]

FloatArray = npt.NDArray[np.float64]


def _ages(n: int, T: Any) -> FloatArray:
    t = np.broadcast_to(np.asarray(T, dtype=np.float64), (n,)).copy()
    if n < 1 or not np.all(t > 0):
        raise InvalidInputError("T: ages must be > 0 and n >= 1. Pass positive ages.")
    return t


def _summary(x: Any, tx: Any, t: Any) -> RFMSummary:
    n = x.size
    return RFMSummary(
        customer_id=np.arange(n),
        frequency=x.astype(np.float64),
        recency=tx,
        T=t,
        monetary=np.zeros(n),
        period="D",
        unit="D",
    )


def _last_of(
    x: FloatArray, total: FloatArray, span: FloatArray, rng: np.random.Generator
) -> FloatArray:
    """Time of the x-th of ``total`` uniform events on [0, span] (0 when x = 0)."""
    pos = x > 0
    out = np.zeros(x.size)
    out[pos] = span[pos] * rng.beta(x[pos], total[pos] - x[pos] + 1.0)
    return out


def simulate_beta_geo(
    n: int,
    *,
    T: Any,
    r: float,
    alpha: float,
    a: float,
    b: float,
    modified: bool = False,
    rng: np.random.Generator | int | None = None,
) -> RFMSummary:
    """Customers from BG/NBD (or MBG/NBD with ``modified=True``) observed for ``T`` time units.

    Examples:
        >>> s = simulate_beta_geo(3, T=10.0, r=1.0, alpha=1.0, a=1.0, b=1.0, rng=0)
        >>> len(s), bool((s.recency <= s.T).all())
        (3, True)
    """
    g = as_rng(rng)
    t = _ages(n, T)
    lam = g.gamma(r, 1.0 / alpha, n)
    p = g.beta(a, b, n)
    total = g.poisson(lam * t).astype(np.float64)
    k = g.geometric(p).astype(np.float64)  # purchases up to and including the dropout one
    if modified:
        k -= 1.0
    x = np.minimum(total, k)
    return _summary(x, _last_of(x, total, t, g), t)


def simulate_pareto_nbd(
    n: int,
    *,
    T: Any,
    r: float,
    alpha: float,
    s: float,
    beta: float,
    rng: np.random.Generator | int | None = None,
) -> RFMSummary:
    """Customers from Pareto/NBD observed for ``T`` time units.

    Examples:
        >>> s = simulate_pareto_nbd(4, T=5.0, r=1.0, alpha=1.0, s=1.0, beta=1.0, rng=0)
        >>> bool((s.frequency >= 0).all())
        True
    """
    g = as_rng(rng)
    t = _ages(n, T)
    lam = g.gamma(r, 1.0 / alpha, n)
    mu = g.gamma(s, 1.0 / beta, n)
    life = np.minimum(g.exponential(1.0 / mu), t)
    x = g.poisson(lam * life).astype(np.float64)
    return _summary(x, _last_of(x, x, life, g), t)


def simulate_beta_geo_beta_binom(
    n: int,
    *,
    opportunities: int,
    alpha: float,
    beta: float,
    gamma: float,
    delta: float,
    rng: np.random.Generator | int | None = None,
) -> RFMSummary:
    """Customers from BG/BB over ``opportunities`` discrete transaction opportunities.

    Examples:
        >>> s = simulate_beta_geo_beta_binom(5, opportunities=6, alpha=1.2, beta=0.75,
        ...                                   gamma=0.66, delta=2.8, rng=0)
        >>> s.T.tolist()
        [6.0, 6.0, 6.0, 6.0, 6.0]
    """
    g = as_rng(rng)
    p = g.beta(alpha, beta, n)
    theta = g.beta(gamma, delta, n)
    alive_for = g.geometric(theta) - 1  # opportunities survived before dying
    opp = np.arange(1, opportunities + 1)
    alive = opp[None, :] <= alive_for[:, None]
    buys = alive & (g.random((n, opportunities)) < p[:, None])
    x = buys.sum(axis=1).astype(np.float64)
    last = np.where(buys, opp[None, :], 0).max(axis=1).astype(np.float64)
    return _summary(x, last, np.full(n, float(opportunities)))


def simulate_gamma_gamma(
    *,
    frequency: Any,
    p: float,
    q: float,
    gamma: float,
    rng: np.random.Generator | int | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Mean repeat-purchase values for customers with the given frequencies (0 where x = 0).

    Examples:
        >>> x, m = simulate_gamma_gamma(frequency=[0, 2], p=6.0, q=4.0, gamma=15.0, rng=0)
        >>> float(m[0]), bool(m[1] > 0)
        (0.0, True)
    """
    g = as_rng(rng)
    x = np.asarray(frequency, dtype=np.float64)
    nu = g.gamma(q, 1.0 / gamma, x.size)
    pos = x > 0
    m = np.zeros(x.size)
    m[pos] = g.gamma(p * x[pos], 1.0 / nu[pos]) / x[pos]
    return x, m


def simulate_shifted_beta_geo(
    n: int,
    *,
    periods: int,
    alpha: float,
    beta: float,
    rng: np.random.Generator | int | None = None,
) -> tuple[FloatArray, FloatArray]:
    """(T, churned) for ``n`` subscribers observed for ``periods`` periods under sBG.

    Examples:
        >>> t, churned = simulate_shifted_beta_geo(3, periods=5, alpha=1.0, beta=1.0, rng=0)
        >>> bool((t <= 5).all())
        True
    """
    g = as_rng(rng)
    theta = g.beta(alpha, beta, n)
    life = g.geometric(theta).astype(np.float64)  # period in which the customer churns
    churned = life <= periods
    return np.minimum(life, float(periods)), churned.astype(np.float64)
