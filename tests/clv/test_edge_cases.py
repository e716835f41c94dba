"""Finite, correct answers where peers return NaN, and typed errors for bad input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy import integrate, special

from crmkit.clv import (
    BetaGeo,
    BetaGeoBetaBinomFit,
    BetaGeoFit,
    GammaGamma,
    ModifiedBetaGeoFit,
    ParetoNBDFit,
    ShiftedBetaGeoFit,
    expected_clv,
)
from crmkit.errors import InvalidInputError, NumericalError

PARETO = ParetoNBDFit.from_params(r=0.5143, alpha=2.8845, s=0.2856, beta=14.1087)


def test_pareto_p_alive_at_large_frequency() -> None:
    """P(alive) at x 221/254 with t_x just below T is finite and matches direct quadrature."""
    x = np.array([221.0, 254.0])
    tx = np.array([103.43, 97.14])
    T = np.array([103.57, 97.29])
    got = PARETO.p_alive(frequency=x, recency=tx, T=T)
    r, a, s, b = 0.5143, 2.8845, 0.2856, 14.1087
    for i in range(2):
        k = r + x[i]
        # Reference in doubles, scaled by (α+T)^k (β+T)^s so nothing underflows.
        f = lambda tau, i=i, k=k: np.exp(
            -k * np.log((a + tau) / (a + T[i])) - (s + 1) * np.log(b + tau) + s * np.log(b + T[i])
        )
        integral, _ = integrate.quad(f, tx[i], T[i], epsrel=1e-12, epsabs=0)
        ref = 1.0 / (1.0 + s * integral)
        assert got[i] == pytest.approx(ref, rel=1e-9)
    assert np.all((got > 0.99) & (got <= 1.0))


def test_pareto_conditional_expectation_at_tx_equal_T() -> None:
    """x = 132, t_x = T = 200: P(alive) is exactly 1 and E[Y(t)] is the closed form."""
    pa = PARETO.p_alive(frequency=[132], recency=[200], T=[200])
    assert pa[0] == 1.0
    got = PARETO.conditional_expected_purchases(39.0, frequency=[132], recency=[200], T=[200])
    r, a, s, b = 0.5143, 2.8845, 0.2856, 14.1087
    ref = (r + 132) * (b + 200) / ((a + 200) * (s - 1)) * (1 - ((b + 200) / (b + 239)) ** (s - 1))
    assert got[0] == pytest.approx(ref, rel=1e-12)


def test_bgnbd_per_customer_log_likelihood() -> None:
    """BG/NBD per-customer LL at a 0.8, b 2.5, r 0.25, α 4, T 40 matches the published values."""
    fit = BetaGeoFit.from_params(r=0.25, alpha=4.0, a=0.8, b=2.5)
    ll = fit.log_likelihood_per_customer(frequency=[0, 200], recency=[0, 38], T=[40, 40])
    assert ll[0] == pytest.approx(-0.59947382, abs=5e-9)
    assert ll[1] == pytest.approx(100.7957, abs=5e-5)


def test_pareto_dert_matches_closed_form() -> None:
    """Pareto/NBD DERT by quadrature equals the Fader-Hardie-Lee (2005) closed form with Ψ."""
    fit = ParetoNBDFit.from_params(r=0.55, alpha=10.58, s=0.61, beta=11.67)
    x, tx, T, d = np.array([0.0, 2, 7]), np.array([0.0, 30.43, 29.43]), np.full(3, 38.86), 0.003
    got = fit.discounted_expected_transactions(d, frequency=x, recency=tx, T=T)
    r, a, s, b = 0.55, 10.58, 0.61, 11.67
    ll = fit.log_likelihood_per_customer(frequency=x, recency=tx, T=T)
    ref = np.exp(
        r * np.log(a)
        + s * np.log(b)
        + (s - 1) * np.log(d)
        + special.gammaln(r + x + 1)
        + np.log(special.hyperu(s, s, d * (b + T)))
        - special.gammaln(r)
        - (r + x + 1) * np.log(a + T)
        - ll
    )
    # 40-point Gauss-Laguerre on E[Y(t)], whose tail is algebraic: ~2e-6 relative.
    np.testing.assert_allclose(got, ref, rtol=1e-5)


def test_bgbb_conditional_expectation_matches_closed_form() -> None:
    """BG/BB conditional expectation (finite sum) equals FHS (2010) eq. 13."""
    a, b, g, d = 1.204, 0.750, 0.657, 2.783
    fit = BetaGeoBetaBinomFit.from_params(alpha=a, beta=b, gamma=g, delta=d)
    x, tx, n, ns = np.array([0.0, 3, 6]), np.array([0.0, 4, 6]), np.full(3, 6.0), 5
    got = fit.conditional_expected_purchases(ns, frequency=x, recency=tx, T=n)
    lik = np.exp(fit.log_likelihood_per_customer(frequency=x, recency=tx, T=n))
    ref = (
        np.exp(special.betaln(a + x + 1, b + n - x) - special.betaln(a, b))
        * d
        / (g - 1)
        * np.exp(special.gammaln(g + d) - special.gammaln(1 + d))
        * (
            np.exp(special.gammaln(1 + d + n) - special.gammaln(g + d + n))
            - np.exp(special.gammaln(1 + d + n + ns) - special.gammaln(g + d + n + ns))
        )
    ) / lik
    np.testing.assert_allclose(got, ref, rtol=1e-10)


def test_sbg_derl_matches_series() -> None:
    """sBG DERL (hypergeometric form) equals the discounted survival series."""
    fit = ShiftedBetaGeoFit.from_params(alpha=0.704, beta=1.182)
    got = fit.discounted_expected_residual_lifetime(0.1, [0, 4])
    t = np.arange(0, 3000)
    for renewals, value in zip([0, 4], got, strict=True):
        n = renewals + 1
        series = (fit.survival(n + t) / fit.survival(n - 1) / 1.1**t).sum()
        assert value == pytest.approx(series, rel=1e-9)


def test_clv_conventions_agree_for_fine_steps() -> None:
    """Discrete CLV with tiny steps and matching rate approaches the continuous convention."""
    fit = BetaGeoFit.from_params(r=0.2426, alpha=4.4137, a=0.793, b=2.4262)
    kw: dict[str, Any] = {"frequency": [2, 0], "recency": [30.43, 0], "T": [38.86, 38.86]}
    cont = expected_clv(
        fit, spend=30.0, horizon=52.0, discount_rate=0.01, convention="continuous", **kw
    )
    disc = expected_clv(
        fit, spend=30.0, horizon=52.0, discount_rate=np.expm1(0.01 / 8), step=1 / 8, **kw
    )
    np.testing.assert_allclose(disc, cont, rtol=2e-3)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"frequency": [1, -1], "recency": [1, 0], "T": [5, 5]}, "frequency: negative"),
        ({"frequency": [1, 2], "recency": [1, 6], "T": [5, 5]}, "recency: recency > T"),
        ({"frequency": [1, np.nan], "recency": [1, 0], "T": [5, 5]}, "frequency: missing"),
        ({"frequency": [1, 0], "recency": [1, 2], "T": [5, 5]}, "frequency 0"),
    ],
)
def test_bad_input_names_first_customer(kwargs: dict[str, list[float]], needle: str) -> None:
    """Bad BTYD input raises InvalidInputError naming the argument and the first bad customer."""
    with pytest.raises(InvalidInputError, match=needle) as info:
        BetaGeo().fit(**kwargs)  # type: ignore[arg-type]
    assert "index 1" in str(info.value)


def test_bad_summary_names_customer_id() -> None:
    """With an RFMSummary the error names the customer id, not a position."""
    from crmkit.clv import RFMSummary

    s = RFMSummary(
        customer_id=["ok", "bad"],
        frequency=[1.0, 0.0],
        recency=[1.0, 3.0],
        T=[5.0, 5.0],
        monetary=[1.0, 0.0],
    )
    with pytest.raises(InvalidInputError, match="customer 'bad'"):
        BetaGeo().fit(s)


def test_gamma_gamma_q_below_one_is_an_error_for_predictions() -> None:
    """q ≤ 1 means infinite mean spend: predictions raise instead of returning inf."""
    from crmkit.clv import GammaGammaFit

    fit = GammaGammaFit.from_params(p=2.0, q=0.8, gamma=10.0)
    with pytest.raises(NumericalError, match="q:"):
        fit.conditional_expected_spend(frequency=[1], monetary=[10.0])


def test_gamma_gamma_needs_repeaters() -> None:
    """Fitting Gamma-Gamma without repeat buyers is an input error, not a NaN fit."""
    with pytest.raises(InvalidInputError, match="repeat"):
        GammaGamma().fit(frequency=[0, 0, 1], monetary=[0, 0, 5.0])


@pytest.mark.parametrize(
    "fit",
    [
        BetaGeoFit.from_params(r=0.2426, alpha=4.4137, a=0.793, b=2.4262),
        ModifiedBetaGeoFit.from_params(r=0.525, alpha=6.183, a=0.891, b=1.614),
        ParetoNBDFit.from_params(r=0.55, alpha=10.58, s=0.61, beta=11.67),
    ],
)
def test_conditional_pmf_sums_to_one_and_matches_expectation(fit: Any) -> None:
    """The conditional PMF sums to 1 and its mean is conditional_expected_purchases (1e-9)."""
    x = np.array([0.0, 2, 7, 30])
    tx = np.array([0.0, 30.43, 29.43, 38.0])
    T = np.full(4, 38.86)
    n = np.arange(400)
    pmf = fit.conditional_purchase_count_pmf(n, 39.0, frequency=x, recency=tx, T=T)
    np.testing.assert_allclose(pmf.sum(axis=1), 1.0, atol=1e-10)
    mean = fit.conditional_expected_purchases(39.0, frequency=x, recency=tx, T=T)
    np.testing.assert_allclose(pmf @ n, mean, rtol=1e-9)
    zero = fit.conditional_purchase_count_pmf(0, 0.0, frequency=x, recency=tx, T=T)
    np.testing.assert_allclose(zero, 1.0, atol=1e-12)


def test_bgnbd_conditional_pmf_against_simulation() -> None:
    """Customers with no purchase in (0, T]: holdout counts follow the conditional PMF.

    200k simulated BG/NBD customers; a cell frequency of n customers has binomial standard
    error sqrt(p(1-p)/n), and each count is checked within 4 of them.
    """
    rng = np.random.default_rng(8)
    r, alpha, a, b, T, t = 0.5, 8.0, 0.8, 2.5, 20.0, 30.0
    m = 200_000
    lam = rng.gamma(r, 1 / alpha, m)
    p = rng.beta(a, b, m)
    quiet = rng.poisson(lam * T) == 0  # x = 0: no purchase, still alive (BG drops after one)
    later = np.minimum(rng.poisson(lam * t), rng.geometric(p))[quiet]
    fit = BetaGeoFit.from_params(r=r, alpha=alpha, a=a, b=b)
    got = fit.conditional_purchase_count_pmf(np.arange(6), t, frequency=[0], recency=[0], T=[T])
    emp = np.bincount(later, minlength=6)[:6] / later.size
    se = np.sqrt(got[0] * (1 - got[0]) / later.size)
    assert np.all(np.abs(emp - got[0]) < 4 * se + 1e-12)


def test_clv_for_bgbb_is_discrete() -> None:
    """BG/BB CLV sums discounted per-opportunity increments; continuous time is refused."""
    fit = BetaGeoBetaBinomFit.from_params(alpha=1.2, beta=0.75, gamma=0.66, delta=2.8)
    kw: dict[str, Any] = {"frequency": [6, 0], "recency": [6, 0], "T": [6, 6]}
    got = expected_clv(fit, spend=50.0, horizon=5, discount_rate=0.1, **kw)
    e = [np.zeros(2)] + [fit.conditional_expected_purchases(k, **kw) for k in range(1, 6)]
    ref = 50 * sum((e[k] - e[k - 1]) / 1.1**k for k in range(1, 6))
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    with pytest.raises(InvalidInputError, match="convention"):
        expected_clv(fit, spend=1.0, horizon=5, discount_rate=0.1, convention="continuous", **kw)
    with pytest.raises(InvalidInputError, match="whole"):
        expected_clv(fit, spend=1.0, horizon=5.5, discount_rate=0.1, **kw)
