"""The purchase and spend processes are the ones the truth says, checked against theory.

Tolerances are 4 standard errors of the simulated statistic (computed from the same draws or
from the model's variance), so a correct generator fails about once in 16,000 runs per check;
the seeds are fixed, so the tests are deterministic.
"""

from __future__ import annotations

import numpy as np
from scipy import special  # type: ignore[import-untyped, unused-ignore]

from crmkit.datasets import BetaGeoParams, GammaGammaParams, SyntheticShop, synthetic_shop

Z = 4.0


def _observed_days(shop: SyntheticShop) -> np.ndarray:
    end = np.datetime64(shop.truth.end.replace(tzinfo=None), "us")
    return (end - shop.truth.acquired_at) / np.timedelta64(1, "D")


def test_latent_traits_have_the_stated_moments(big_shop: SyntheticShop) -> None:
    """Mean λ = r/α and mean p = a/(a+b), within 4 standard errors of the sample mean."""
    t = big_shop.truth
    n = t.n_persons
    for draws, mean in ((t.lam, t.bgnbd.mean_rate_per_day), (t.p, t.bgnbd.mean_dropout)):
        se = draws.std(ddof=1) / np.sqrt(n)
        assert abs(draws.mean() - mean) < Z * se
    # ν ~ Gamma(q, rate γ): mean q/γ
    se = t.nu.std(ddof=1) / np.sqrt(n)
    assert abs(t.nu.mean() - t.spend.q / t.spend.gamma) < Z * se


def test_repeat_purchases_match_the_conditional_expectation(big_shop: SyntheticShop) -> None:
    """Σ repeats ≈ Σ (1 − e^{−λpT})/p, the BG/NBD mean given each person's λ, p and T."""
    t = big_shop.truth
    horizon = _observed_days(big_shop)
    expected = -np.expm1(-t.lam * t.p * horizon) / t.p
    resid = t.n_repeat - expected
    assert abs(resid.sum()) < Z * np.sqrt((resid**2).sum())


def test_alive_share_matches_exp_minus_lambda_p_t(big_shop: SyntheticShop) -> None:
    """P(alive at the end | λ, p, T) = e^{−λpT}: the alive count is within 4 binomial SEs."""
    t = big_shop.truth
    prob = np.exp(-t.lam * t.p * _observed_days(big_shop))
    se = np.sqrt((prob * (1 - prob)).sum())
    assert abs(t.alive.sum() - prob.sum()) < Z * se


def test_repeat_purchases_match_the_bgnbd_population_mean() -> None:
    """Mean repeats ≈ the BG/NBD E[X(T)] of Fader, Hardie & Lee (2005, eq. 9), averaged over T."""
    params = BetaGeoParams(r=0.5, alpha=20.0, a=2.0, b=4.0)
    shop = synthetic_shop(20_000, rng=99, bgnbd=params)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    horizon = _observed_days(shop)
    z = horizon / (alpha + horizon)
    ex = (
        (a + b - 1)
        / (a - 1)
        * (1 - (alpha / (alpha + horizon)) ** r * special.hyp2f1(r, b, a + b - 1, z))
    )
    x = shop.truth.n_repeat
    se = x.std(ddof=1) / np.sqrt(x.size)
    assert abs(x.mean() - ex.mean()) < Z * se
    # and the orders table shows exactly those purchases
    counts = np.bincount(shop.truth.order_person[shop.orders.status != "cancelled"])
    assert np.array_equal(counts - 1, x)


def test_first_order_spend_has_the_gamma_gamma_mean(big_shop: SyntheticShop) -> None:
    """First-order totals (one per person, iid) average p·γ/(q−1) within 4 model SEs."""
    t = big_shop.truth
    o = big_shop.orders
    buy = o.status != "cancelled"
    person, placed, total = t.order_person[buy], o.placed_at[buy], o.total_minor[buy]
    first = placed == t.acquired_at[person]
    spend = np.zeros(t.n_persons)
    spend[person[first]] = total[first] / 100.0  # EUR has 2 minor digits
    g = t.spend
    # Var z = p E[1/ν²] + p² Var(1/ν), ν ~ Gamma(q, rate γ)
    e_inv2 = g.gamma**2 / ((g.q - 1) * (g.q - 2))
    var_inv = g.gamma**2 / ((g.q - 1) ** 2 * (g.q - 2))
    se = np.sqrt((g.p * e_inv2 + g.p**2 * var_inv) / t.n_persons)
    assert abs(spend.mean() - g.mean_spend) < Z * se + 0.005  # + rounding to cents


def test_spend_per_person_follows_its_nu() -> None:
    """A person's mean spend tracks p/ν: the rank correlation across persons is strong."""
    shop = synthetic_shop(3_000, rng=8, bgnbd=BetaGeoParams(r=2.0, alpha=20.0, a=1.0, b=20.0))
    t = shop.truth
    buy = shop.orders.status != "cancelled"
    person = t.order_person[buy]
    sums = np.bincount(person, weights=shop.orders.total_minor[buy], minlength=t.n_persons)
    n = np.bincount(person, minlength=t.n_persons)
    many = n >= 5
    mean = sums[many] / n[many]
    rank = np.argsort(np.argsort(mean))
    rank_true = np.argsort(np.argsort(t.spend.p / t.nu[many]))
    assert np.corrcoef(rank, rank_true)[0, 1] > 0.8


def test_gamma_gamma_parameters_are_validated() -> None:
    """q ≤ 1 (no finite mean spend) is rejected."""
    import pytest

    from crmkit.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="q"):
        GammaGammaParams(q=1.0)
    with pytest.raises(InvalidInputError, match="alpha"):
        BetaGeoParams(alpha=-1)
