"""A/B statistics against scipy and against simulations with known ground truth."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from crmkit.errors import InvalidInputError
from crmkit.experiments import (
    adjust_pvalues,
    analyze_experiment,
    cuped,
    power_two_means,
    power_two_proportions,
    probability_to_beat_control,
    sample_ratio_test,
    sample_size_two_means,
    sample_size_two_proportions,
    two_proportion_test,
    welch_test,
)


def test_one_sided_proportion_test_halves_the_two_sided_p():
    """For a positive difference, 'greater' gives half the two-sided p and 'less' its complement."""
    two = two_proportion_test(120, 1000, 150, 1000)
    greater = two_proportion_test(120, 1000, 150, 1000, alternative="greater")
    less = two_proportion_test(120, 1000, 150, 1000, alternative="less")
    assert greater.p_value == pytest.approx(two.p_value / 2, rel=1e-12)
    assert less.p_value == pytest.approx(1 - two.p_value / 2, rel=1e-12)


def test_wald_interval_covers_the_true_difference_at_its_level():
    """Over 4,000 simulated tests the 95% interval covers the truth 95% +- 1.1 pp (3 SE)."""
    rng = np.random.default_rng(3)
    n, p0, p1 = 2000, 0.1, 0.13
    a = rng.binomial(n, p0, 4000)
    b = rng.binomial(n, p1, 4000)
    cover = np.mean(
        [
            (t := two_proportion_test(int(x), n, int(y), n)).ci_low <= p1 - p0 <= t.ci_high
            for x, y in zip(a, b, strict=True)
        ]
    )
    assert cover == pytest.approx(0.95, abs=0.011)


def test_welch_matches_scipy_on_unequal_variances():
    """t, df, p and the one-sided interval equal scipy's ttest_ind(equal_var=False)."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 50), rng.normal(0.4, 3, 80)
    ours = welch_test(a, b, alternative="greater")
    ref = stats.ttest_ind(b, a, equal_var=False, alternative="greater")
    assert ours.t == pytest.approx(ref.statistic, rel=1e-12)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    assert ours.ci_low == pytest.approx(ref.confidence_interval(0.95).low, rel=1e-10)


def test_cuped_keeps_the_effect_and_removes_the_explained_variance():
    """With rho = 0.8 the adjusted outcome keeps the true lift 0.5 and loses ~64% of variance."""
    rng = np.random.default_rng(11)
    n = 40_000
    x = rng.normal(10, 2, n)
    t = rng.integers(0, 2, n)
    y = 0.8 * (x - 10) / 2 + 0.6 * rng.normal(size=n) + 0.5 * t
    adj = cuped(y, x)
    assert adj.variance_reduction == pytest.approx(0.8**2 / (0.8**2 + 0.6**2 + 0.0625), abs=0.01)
    plain = welch_test(y[t == 0], y[t == 1])
    reduced = welch_test(adj.adjusted[t == 0], adj.adjusted[t == 1])
    # SE of the difference is ~0.01: 4 SE around the truth.
    assert reduced.difference == pytest.approx(0.5, abs=0.025)
    assert reduced.se < 0.65 * plain.se
    res = analyze_experiment(np.where(t == 1, "b", "a"), control="a", value=y, covariate=x)
    assert res.comparisons[0].value_cuped.difference == pytest.approx(reduced.difference)


def test_probability_to_beat_control_matches_monte_carlo():
    """The exact posterior probability agrees with 10^6 posterior draws within 4 MC SE."""
    rng = np.random.default_rng(5)
    res = probability_to_beat_control(48, 520, 63, 515)
    a = rng.beta(*res.posterior_control, 1_000_000)
    b = rng.beta(*res.posterior_treatment, 1_000_000)
    mc = float(np.mean(b > a))
    assert res.probability_to_beat_control == pytest.approx(
        mc, abs=4 * np.sqrt(mc * (1 - mc) / 1e6)
    )
    # A non-integer prior takes the integration route and gives the same kind of answer.
    half = probability_to_beat_control(48, 520, 63, 515, prior_alpha=0.5, prior_beta=0.5)
    assert half.probability_to_beat_control == pytest.approx(mc, abs=0.01)


def test_corrections_match_their_definitions_and_scipy():
    """Benjamini-Hochberg equals scipy's false_discovery_control; Holm is step-down Bonferroni."""
    p = np.array([0.001, 0.04, 0.03, 0.2, 0.012])
    assert adjust_pvalues(p, "fdr_bh") == pytest.approx(stats.false_discovery_control(p))
    assert adjust_pvalues(p, "holm").tolist() == pytest.approx([0.005, 0.09, 0.09, 0.2, 0.048])
    assert adjust_pvalues(p, "bonferroni").tolist() == pytest.approx([0.005, 0.2, 0.15, 1, 0.06])
    with pytest.raises(InvalidInputError, match="method"):
        adjust_pvalues(p, "sidak")  # type: ignore[arg-type]


def test_sample_ratio_mismatch_is_flagged_against_planned_shares():
    """A 50/50 plan that delivered 10,000 vs 10,600 is a mismatch; a 49/51 plan is not."""
    assert sample_ratio_test([10_000, 10_600]).mismatch
    assert not sample_ratio_test([10_000, 10_600], [0.49, 0.51]).mismatch


def test_sample_size_gives_the_promised_power_in_simulation():
    """At the computed n, 4,000 simulated tests reject at the target 80% +- 2 pp (3 SE)."""
    n, _ = sample_size_two_proportions(0.10, 0.13)
    assert power_two_proportions(0.10, 0.13, n) >= 0.8 > power_two_proportions(0.10, 0.13, n - 1)
    rng = np.random.default_rng(8)
    a, b = rng.binomial(n, 0.10, 4000), rng.binomial(n, 0.13, 4000)
    rejected = np.mean(
        [
            two_proportion_test(int(x), n, int(y), n).p_value < 0.05
            for x, y in zip(a, b, strict=True)
        ]
    )
    assert rejected == pytest.approx(0.8, abs=0.02)


def test_sample_size_for_means_matches_the_textbook_value():
    """d = 0.5 at alpha 0.05 and power 0.8 needs 63 per arm under the normal approximation."""
    assert sample_size_two_means(0.5, 1.0) == (63, 63)
    assert power_two_means(0.5, 1.0, 63) >= 0.8
    n_c, n_t = sample_size_two_means(0.5, 1.0, ratio=2.0)
    assert n_t == 2 * n_c


def test_bad_inputs_name_the_argument():
    """Invalid counts, arms and controls raise InvalidInputError naming the argument."""
    with pytest.raises(InvalidInputError, match="control"):
        two_proportion_test(5, 3, 1, 10)
    with pytest.raises(InvalidInputError, match="control"):
        analyze_experiment(["a", "b"], control="c", converted=[0, 1])
    with pytest.raises(InvalidInputError, match="converted"):
        analyze_experiment(["a", "b"], control="a", converted=[0, 2])
