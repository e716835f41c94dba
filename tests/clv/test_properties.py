"""Invariants over wide parameter ranges (Hypothesis, derandomized for determinism)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from crmkit.clv import BetaGeoBetaBinomFit, BetaGeoFit, ModifiedBetaGeoFit, ParetoNBDFit

pos = st.floats(min_value=0.05, max_value=30.0)
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)


@st.composite
def histories(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    T = draw(st.floats(min_value=0.5, max_value=400.0))
    x = draw(st.integers(min_value=0, max_value=300))
    tx = 0.0 if x == 0 else draw(st.floats(min_value=0.0, max_value=1.0)) * T
    return np.array([float(x)]), np.array([tx]), np.array([T])


def _fits(r: float, alpha: float, a: float, b: float) -> list[object]:
    return [
        BetaGeoFit.from_params(r=r, alpha=alpha, a=a, b=b),
        ModifiedBetaGeoFit.from_params(r=r, alpha=alpha, a=a, b=b),
        ParetoNBDFit.from_params(r=r, alpha=alpha, s=a, beta=b),
    ]


@SETTINGS
@given(pos, pos, pos, pos, histories(), st.floats(min_value=0.0, max_value=100.0))
def test_p_alive_is_a_probability(
    r: float, alpha: float, a: float, b: float, h: tuple[np.ndarray, ...], t: float
) -> None:
    """0 ≤ P(alive) ≤ 1 now and later, and it never increases with the look-ahead t."""
    x, tx, T = h
    for fit in _fits(r, alpha, a, b):
        now = fit.p_alive(frequency=x, recency=tx, T=T)  # type: ignore[attr-defined]
        later = fit.p_alive(frequency=x, recency=tx, T=T, t=t)  # type: ignore[attr-defined]
        assert np.all((now >= 0) & (now <= 1))
        assert np.all(later <= now + 1e-12)


@SETTINGS
@given(pos, pos, pos, pos, histories())
def test_expectations_finite_and_monotone(
    r: float, alpha: float, a: float, b: float, h: tuple[np.ndarray, ...]
) -> None:
    """Conditional and unconditional expected purchases are finite, ≥ 0 and rise with t."""
    x, tx, T = h
    for fit in _fits(r, alpha, a, b):
        ts = [1.0, 10.0, 100.0]
        cond = [
            fit.conditional_expected_purchases(t, frequency=x, recency=tx, T=T)[0]  # type: ignore[attr-defined]
            for t in ts
        ]
        new = fit.expected_purchases(np.array(ts))  # type: ignore[attr-defined]
        for seq in (np.array(cond), new):
            assert np.all(np.isfinite(seq))
            assert np.all(seq >= 0)
            assert np.all(np.diff(seq) >= -1e-9 * (1 + np.abs(seq[1:])))


@SETTINGS
@given(
    st.floats(min_value=0.1, max_value=5.0),
    st.floats(min_value=0.5, max_value=30.0),
    st.floats(min_value=0.1, max_value=5.0),
    st.floats(min_value=0.1, max_value=10.0),
    st.floats(min_value=0.5, max_value=20.0),
)
def test_pmfs_sum_to_one(r: float, alpha: float, a: float, b: float, t: float) -> None:
    """P(X(t) = n), new and conditional on a history, sums to one for the three BTYD models."""
    n = np.arange(2000)
    for fit in _fits(r, alpha, a, b):
        pmf = fit.purchase_count_pmf(n, t)  # type: ignore[attr-defined]
        assert np.all(pmf >= 0)
        assert abs(pmf.sum() - 1.0) < 1e-6
        # Conditional on a history: a mass at 0 for the dead plus a new-customer PMF.
        cond = fit.conditional_purchase_count_pmf(  # type: ignore[attr-defined]
            n, t, frequency=[3], recency=[t / 2], T=[t]
        )
        assert np.all(cond >= 0)
        assert abs(cond.sum() - 1.0) < 1e-6


@SETTINGS
@given(pos, pos, pos, pos, st.integers(min_value=1, max_value=30))
def test_bgbb_pmf_and_alive(al: float, be: float, ga: float, de: float, n: int) -> None:
    """BG/BB: the PMF over 0..n sums to one and P(alive) is a probability."""
    fit = BetaGeoBetaBinomFit.from_params(alpha=al, beta=be, gamma=ga, delta=de)
    assert abs(fit.purchase_count_pmf(np.arange(n + 1), n).sum() - 1.0) < 1e-9
    x = np.arange(0, n + 1, dtype=float)
    pa = fit.p_alive(frequency=x, recency=x, T=np.full(x.size, float(n)))
    assert np.all((pa >= 0) & (pa <= 1))
