"""Parameter recovery on 100k simulated customers: each estimate within 4 standard errors.

Four Hessian standard errors leave a false-alarm rate below 1e-4 per parameter for a correct
estimator; the seeds are fixed, so the outcome is deterministic.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from crmkit.clv import (
    BetaGeo,
    BetaGeoBetaBinom,
    GammaGamma,
    ModifiedBetaGeo,
    ParetoNBD,
    ShiftedBetaGeo,
    simulate_beta_geo,
    simulate_beta_geo_beta_binom,
    simulate_gamma_gamma,
    simulate_pareto_nbd,
    simulate_shifted_beta_geo,
)
from crmkit.errors import DegenerateFitWarning

N = 100_000


def _within(fit: object, truth: dict[str, float], k: float = 4.0) -> None:
    params = fit.params  # type: ignore[attr-defined]
    ses = fit.standard_errors  # type: ignore[attr-defined]
    for name, value in truth.items():
        assert abs(params[name] - value) < k * ses[name], (name, params[name], value, ses[name])


def _ages(rng: int) -> np.ndarray:
    return np.random.default_rng(rng).uniform(20.0, 60.0, N).round()


def test_bgnbd_recovery() -> None:
    """BG/NBD recovers r, α, a, b from simulated customers with mixed ages."""
    truth: dict[str, Any] = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}
    data = simulate_beta_geo(N, T=_ages(1), rng=11, **truth)
    _within(BetaGeo().fit(data), truth)


def test_mbgnbd_recovery() -> None:
    """MBG/NBD recovers its parameters."""
    truth: dict[str, Any] = {"r": 0.5, "alpha": 6.0, "a": 0.9, "b": 1.6}
    data = simulate_beta_geo(N, T=_ages(2), modified=True, rng=12, **truth)
    _within(ModifiedBetaGeo().fit(data), truth)


@pytest.mark.slow
def test_pareto_recovery() -> None:
    """Pareto/NBD recovers r, α, s, β."""
    truth: dict[str, Any] = {"r": 0.55, "alpha": 10.0, "s": 0.6, "beta": 12.0}
    data = simulate_pareto_nbd(N, T=_ages(3), rng=13, **truth)
    _within(ParetoNBD(n_starts=1).fit(data), truth)


def test_bgbb_recovery() -> None:
    """BG/BB recovers α, β, γ, δ over 10 opportunities."""
    truth: dict[str, Any] = {"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.8}
    data = simulate_beta_geo_beta_binom(N, opportunities=10, rng=14, **truth)
    _within(BetaGeoBetaBinom().fit(data), truth)


def test_gamma_gamma_recovery() -> None:
    """Gamma-Gamma recovers p, q, γ from repeaters with 1–10 purchases."""
    truth: dict[str, Any] = {"p": 6.0, "q": 3.8, "gamma": 15.0}
    x = np.random.default_rng(5).integers(1, 11, N)
    freq, m = simulate_gamma_gamma(frequency=x, rng=15, **truth)
    _within(GammaGamma().fit(frequency=freq, monetary=m), truth)


def test_sbg_recovery() -> None:
    """sBG recovers α, β from 12 periods of subscriber data."""
    truth: dict[str, Any] = {"alpha": 0.7, "beta": 1.2}
    t, churned = simulate_shifted_beta_geo(N, periods=12, rng=16, **truth)
    _within(ShiftedBetaGeo().fit(T=t, churned=churned), truth)


def test_bgnbd_covariates_recovery_and_zero_covariates() -> None:
    """Covariate effects are recovered; all-zero covariates reproduce the plain fit."""
    rng = np.random.default_rng(7)
    n = 40_000
    z = rng.integers(0, 2, n).astype(float)
    base = {"r": 0.3, "alpha": 4.0, "a": 0.8, "b": 2.5}
    gamma = 0.7  # purchase effect: α_i = α·exp(−0.7 z)
    halves = []
    for value in (0.0, 1.0):
        sel = z == value
        alpha = base["alpha"] * np.exp(-gamma * value)
        halves.append(
            simulate_beta_geo(
                int(sel.sum()),
                T=40.0,
                r=base["r"],
                alpha=alpha,
                a=base["a"],
                b=base["b"],
                rng=int(20 + value),
            )
        )
    x = np.concatenate([h.frequency for h in halves])
    tx = np.concatenate([h.recency for h in halves])
    T = np.concatenate([h.T for h in halves])
    zz = np.r_[np.zeros(len(halves[0])), np.ones(len(halves[1]))]
    fit = BetaGeo().fit(frequency=x, recency=tx, T=T, purchase_covariates=zz[:, None])
    est = fit.coefficients["alpha"][0]
    assert abs(est - gamma) < 4 * fit.coefficient_errors["alpha"][0]
    plain = BetaGeo().fit(frequency=x, recency=tx, T=T)
    with pytest.warns(DegenerateFitWarning, match="Hessian"):  # zero covariates: unidentified
        zero = BetaGeo().fit(
            frequency=x,
            recency=tx,
            T=T,
            purchase_covariates=np.zeros((x.size, 1)),
            dropout_covariates=np.zeros((x.size, 1)),
        )
    for name in ("r", "alpha", "a", "b"):
        assert zero.params[name] == pytest.approx(plain.params[name], rel=1e-4)
    assert zero.log_likelihood == pytest.approx(plain.log_likelihood, abs=1e-6 * x.size)


def test_pareto_zero_covariates_reproduce_plain() -> None:
    """Pareto/NBD with all-zero covariates gives the plain fit and a usable coefficient."""
    data = simulate_pareto_nbd(5000, T=52.0, r=0.5, alpha=10.0, s=0.6, beta=12.0, rng=4)
    plain = ParetoNBD().fit(data)
    with pytest.warns(DegenerateFitWarning, match="Hessian"):  # zero covariates: unidentified
        zero = ParetoNBD(n_starts=1).fit(
            data, purchase_covariates=np.zeros(5000), dropout_covariates=np.zeros(5000)
        )
    assert zero.log_likelihood == pytest.approx(plain.log_likelihood, abs=1e-3)
    pa = zero.p_alive(data, purchase_covariates=np.zeros(5000), dropout_covariates=np.zeros(5000))
    np.testing.assert_allclose(pa, plain.p_alive(data), atol=1e-3)


@pytest.mark.parametrize("alpha_beta", [(10.0, 12.0), (40.0, 2.0), (2.0, 30.0)])
def test_compressed_fit_log_likelihood_equals_per_customer_sum(
    alpha_beta: tuple[float, float],
) -> None:
    """Fitting on compressed rows (tail integrals on distinct (x, t) pairs) gives the same LL
    as summing the per-customer LL (interval quadrature): two paths agree to 1e-9 relative."""
    alpha, beta = alpha_beta
    ages = np.random.default_rng(9).integers(20, 60, 5000).astype(float)
    data = simulate_pareto_nbd(5000, T=ages, r=0.5, alpha=alpha, s=0.6, beta=beta, rng=5)
    tx = np.floor(data.recency)
    fit = ParetoNBD(n_starts=1).fit(frequency=data.frequency, recency=tx, T=data.T)
    assert fit.diagnostics is not None
    assert fit.diagnostics.n_rows < 5000  # identical rows were merged
    per = fit.log_likelihood_per_customer(frequency=data.frequency, recency=tx, T=data.T)
    assert fit.log_likelihood == pytest.approx(float(per.sum()), rel=1e-9)
    bg = BetaGeo().fit(frequency=data.frequency, recency=tx, T=data.T)
    per_bg = bg.log_likelihood_per_customer(frequency=data.frequency, recency=tx, T=data.T)
    assert bg.log_likelihood == pytest.approx(float(per_bg.sum()), rel=1e-12)
