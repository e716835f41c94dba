"""Comparisons of two arms: proportions, means, CUPED, beta-binomial posterior, sample ratio."""

from __future__ import annotations

import math
from typing import Any, Literal

import attrs
import numpy as np
import numpy.typing as npt
from scipy import integrate, special, stats

from crmkit._validation import as_float_array, frozen, same_length
from crmkit.errors import InvalidInputError, NumericalError

__all__ = [
    "Alternative",
    "BetaBinomialComparison",
    "CupedAdjustment",
    "MeanTest",
    "ProportionTest",
    "SampleRatioTest",
    "adjust_pvalues",
    "cuped",
    "probability_to_beat_control",
    "sample_ratio_test",
    "two_proportion_test",
    "welch_test",
]

Alternative = Literal["two-sided", "greater", "less"]
Correction = Literal["holm", "bonferroni", "fdr_bh", "none"]


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise InvalidInputError(f"alpha: must lie in (0, 1) (got {alpha!r}). Use e.g. 0.05.")


def _check_alternative(alternative: str) -> None:
    if alternative not in ("two-sided", "greater", "less"):
        raise InvalidInputError(
            f"alternative: unknown value {alternative!r}. Use 'two-sided', 'greater' or 'less'."
        )


def _check_counts(name: str, successes: int, n: int) -> None:
    if int(n) != n or int(successes) != successes or n <= 0 or not 0 <= successes <= n:
        raise InvalidInputError(
            f"{name}: need whole counts with 0 <= successes <= n and n > 0 "
            f"(got successes={successes!r}, n={n!r}). Pass counts per arm."
        )


def _p_value(stat: float, alternative: Alternative, dist: Any) -> float:
    if alternative == "two-sided":
        return float(2.0 * dist.sf(abs(stat)))
    if alternative == "greater":
        return float(dist.sf(stat))
    return float(dist.cdf(stat))


def _interval(
    estimate: float, se: float, alpha: float, alternative: Alternative, dist: Any
) -> tuple[float, float]:
    if alternative == "two-sided":
        q = float(dist.ppf(1.0 - alpha / 2.0))
        return estimate - q * se, estimate + q * se
    q = float(dist.ppf(1.0 - alpha))
    if alternative == "greater":
        return estimate - q * se, math.inf
    return -math.inf, estimate + q * se


def _fmt_p(p: float) -> str:
    return f"{p:.2e}" if p < 1e-4 else f"{p:.4f}"


@attrs.frozen(kw_only=True)
class ProportionTest:
    """Two-proportion z-test of treatment against control, with a Wald interval for the difference.

    ``z`` and ``p_value`` use the pooled standard error (the test under H0: equal rates, identical
    to Pearson's chi-square without continuity correction); ``ci_low``/``ci_high`` use the unpooled
    standard error of the difference ``rate_treatment - rate_control``.

    Examples:
        >>> t = two_proportion_test(100, 1000, 130, 1000)
        >>> round(t.difference, 3), t.p_value < 0.05
        (0.03, True)
    """

    control_successes: int
    control_n: int
    treatment_successes: int
    treatment_n: int
    rate_control: float
    rate_treatment: float
    difference: float
    relative_lift: float
    z: float
    p_value: float
    ci_low: float
    ci_high: float
    alpha: float
    alternative: Alternative

    def summary(self) -> str:
        """One readable line: rates, difference with its interval, z and p.

        Examples:
            >>> print(two_proportion_test(100, 1000, 130, 1000).summary())
            rate 10.00% -> 13.00%: +3.00 pp (95% CI +0.21 to +5.79 pp),
            lift +30.0%, z=2.10, p=0.0355
        """
        level = round(100 * (1 - self.alpha))
        return (
            f"rate {self.rate_control:.2%} -> {self.rate_treatment:.2%}: "
            f"{100 * self.difference:+.2f} pp ({level}% CI {100 * self.ci_low:+.2f} to "
            f"{100 * self.ci_high:+.2f} pp), lift {self.relative_lift:+.1%}, "
            f"z={self.z:.2f}, p={_fmt_p(self.p_value)}"
        )


def two_proportion_test(
    control_successes: int,
    control_n: int,
    treatment_successes: int,
    treatment_n: int,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> ProportionTest:
    """Compare a treatment conversion rate with the control's (pooled z-test, Wald interval).

    ``alternative="greater"`` tests whether the treatment rate is higher than the control's.

    Examples:
        >>> two_proportion_test(50, 500, 50, 500).p_value
        1.0
    """
    _check_counts("control", control_successes, control_n)
    _check_counts("treatment", treatment_successes, treatment_n)
    _check_alpha(alpha)
    _check_alternative(alternative)
    p0 = control_successes / control_n
    p1 = treatment_successes / treatment_n
    diff = p1 - p0
    pooled = (control_successes + treatment_successes) / (control_n + treatment_n)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / control_n + 1 / treatment_n))
    se1 = math.sqrt(p0 * (1 - p0) / control_n + p1 * (1 - p1) / treatment_n)
    z = diff / se0 if se0 > 0 else 0.0
    norm = stats.norm()
    low, high = _interval(diff, se1, alpha, alternative, norm)
    return ProportionTest(
        control_successes=int(control_successes),
        control_n=int(control_n),
        treatment_successes=int(treatment_successes),
        treatment_n=int(treatment_n),
        rate_control=p0,
        rate_treatment=p1,
        difference=diff,
        relative_lift=diff / p0 if p0 > 0 else math.nan,
        z=z,
        p_value=_p_value(z, alternative, norm),
        ci_low=low,
        ci_high=high,
        alpha=alpha,
        alternative=alternative,
    )


@attrs.frozen(kw_only=True)
class MeanTest:
    """Welch's unequal-variance t-test of treatment minus control, with its interval.

    Examples:
        >>> t = welch_test([1.0, 2.0, 3.0, 4.0], [2.0, 3.0, 4.0, 5.0, 6.0])
        >>> round(t.difference, 2), round(t.df, 2)
        (1.5, 6.98)
    """

    mean_control: float
    mean_treatment: float
    n_control: int
    n_treatment: int
    difference: float
    se: float
    t: float
    df: float
    p_value: float
    ci_low: float
    ci_high: float
    alpha: float
    alternative: Alternative

    def summary(self) -> str:
        """One readable line: means, difference with its interval, t, df and p.

        Examples:
            >>> print(welch_test([1.0, 2.0, 3.0, 4.0], [2.0, 3.0, 4.0, 5.0, 6.0]).summary())
            mean 2.5 -> 4: +1.5 (95% CI -0.7652 to +3.765), t=1.57, df=7.0, p=0.1613
        """
        level = round(100 * (1 - self.alpha))
        return (
            f"mean {self.mean_control:.4g} -> {self.mean_treatment:.4g}: {self.difference:+.4g} "
            f"({level}% CI {self.ci_low:+.4g} to {self.ci_high:+.4g}), t={self.t:.2f}, "
            f"df={self.df:.1f}, p={_fmt_p(self.p_value)}"
        )


def welch_test(
    control: Any,
    treatment: Any,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> MeanTest:
    """Welch's t-test for a difference in means (spend per customer, order value).

    Examples:
        >>> welch_test([0.0, 0.0, 10.0], [0.0, 5.0, 10.0]).difference
        1.666...
    """
    _check_alpha(alpha)
    _check_alternative(alternative)
    a = as_float_array("control", control)
    b = as_float_array("treatment", treatment)
    if a.size < 2 or b.size < 2:
        raise InvalidInputError(
            f"control, treatment: need at least 2 values per arm (got {a.size} and {b.size}). "
            "Pass the per-customer outcomes of each arm."
        )
    va, vb = float(a.var(ddof=1)) / a.size, float(b.var(ddof=1)) / b.size
    se = math.sqrt(va + vb)
    if se == 0.0:
        raise NumericalError(
            "control, treatment: both arms have zero variance; Welch's t is undefined. "
            "Compare the constant values directly."
        )
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    diff = float(b.mean() - a.mean())
    t = diff / se
    dist = stats.t(df)
    low, high = _interval(diff, se, alpha, alternative, dist)
    return MeanTest(
        mean_control=float(a.mean()),
        mean_treatment=float(b.mean()),
        n_control=int(a.size),
        n_treatment=int(b.size),
        difference=diff,
        se=se,
        t=t,
        df=df,
        p_value=_p_value(t, alternative, dist),
        ci_low=low,
        ci_high=high,
        alpha=alpha,
        alternative=alternative,
    )


@attrs.frozen(kw_only=True)
class CupedAdjustment:
    """CUPED (Deng, Xu, Kohavi & Walker 2013): ``adjusted = y - theta * (x - mean(x))``.

    ``theta = cov(y, x) / var(x)`` over all customers of every arm; with a pre-experiment covariate
    the adjustment leaves the expected difference between randomized arms unchanged and reduces
    the variance by ``variance_reduction`` (the squared correlation of y and x).

    Examples:
        >>> adj = cuped([1.0, 2.0, 3.0, 5.0], [1.0, 2.0, 3.0, 4.0])
        >>> round(adj.theta, 2), round(adj.variance_reduction, 3)
        (1.3, 0.966)
    """

    theta: float
    covariate_mean: float
    variance_reduction: float
    adjusted: npt.NDArray[np.float64]


def cuped(outcome: Any, covariate: Any) -> CupedAdjustment:
    """Adjust an outcome with a pre-experiment covariate (CUPED); compare arms on ``adjusted``.

    Examples:
        >>> cuped([2.0, 4.0, 6.0], [1.0, 2.0, 3.0]).adjusted
        array([4., 4., 4.])
    """
    y = as_float_array("outcome", outcome)
    x = as_float_array("covariate", covariate)
    same_length(outcome=y, covariate=x)
    vx = float(x.var())
    if vx == 0.0:
        raise InvalidInputError(
            "covariate: constant, so it cannot explain any variance. Pass a pre-period metric "
            "that varies between customers (e.g. spend in the 90 days before the test)."
        )
    xc = x - x.mean()
    theta = float(np.dot(y - y.mean(), xc) / x.size / vx)
    vy = float(y.var())
    rho2 = float(np.dot(y - y.mean(), xc) / x.size) ** 2 / (vx * vy) if vy > 0 else 0.0
    return CupedAdjustment(
        theta=theta,
        covariate_mean=float(x.mean()),
        variance_reduction=rho2,
        adjusted=frozen(y - theta * xc),
    )


@attrs.frozen(kw_only=True)
class BetaBinomialComparison:
    """Posterior comparison of two conversion rates under independent Beta priors.

    ``probability_to_beat_control`` is P(rate_treatment > rate_control | data), computed exactly
    (Miller's closed form in log space, or numerical integration for non-integer posteriors).

    Examples:
        >>> c = probability_to_beat_control(100, 1000, 100, 1000)
        >>> round(c.probability_to_beat_control, 6)
        0.5
    """

    posterior_control: tuple[float, float]
    posterior_treatment: tuple[float, float]
    mean_control: float
    mean_treatment: float
    probability_to_beat_control: float
    credible_control: tuple[float, float]
    credible_treatment: tuple[float, float]

    def summary(self) -> str:
        """One readable line with posterior means and the probability to beat control.

        Examples:
            >>> print(probability_to_beat_control(100, 1000, 130, 1000).summary())
            posterior mean 10.08% -> 13.07%, P(treatment > control) = 0.9822
        """
        return (
            f"posterior mean {self.mean_control:.2%} -> {self.mean_treatment:.2%}, "
            f"P(treatment > control) = {self.probability_to_beat_control:.4f}"
        )


def _prob_b_beats_a(a1: float, b1: float, a2: float, b2: float) -> float:
    """P(X2 > X1) for X1 ~ Beta(a1, b1), X2 ~ Beta(a2, b2)."""
    if float(a2).is_integer() and a2 <= 2_000_000:
        i = np.arange(int(a2), dtype=np.float64)
        terms = (
            special.betaln(a1 + i, b1 + b2)
            - np.log(b2 + i)
            - special.betaln(1 + i, b2)
            - special.betaln(a1, b1)
        )
        return float(np.exp(special.logsumexp(terms)))
    if float(a1).is_integer() and a1 <= 2_000_000:
        return 1.0 - _prob_b_beats_a(a2, b2, a1, b1)
    d1, d2 = stats.beta(a1, b1), stats.beta(a2, b2)
    lo = float(min(d1.ppf(1e-12), d2.ppf(1e-12)))
    hi = float(max(d1.isf(1e-12), d2.isf(1e-12)))
    val, _ = integrate.quad(lambda x: float(d2.pdf(x) * d1.cdf(x)), lo, hi, limit=200)
    return float(val)


def probability_to_beat_control(
    control_successes: int,
    control_n: int,
    treatment_successes: int,
    treatment_n: int,
    *,
    prior_alpha: float = 1.0,
    prior_beta: float = 1.0,
    credible_level: float = 0.95,
) -> BetaBinomialComparison:
    """Bayesian beta-binomial comparison: posterior of each rate and P(treatment beats control).

    Examples:
        >>> round(probability_to_beat_control(10, 100, 20, 100).probability_to_beat_control, 3)
        0.975
    """
    _check_counts("control", control_successes, control_n)
    _check_counts("treatment", treatment_successes, treatment_n)
    if prior_alpha <= 0 or prior_beta <= 0:
        raise InvalidInputError(
            f"prior_alpha, prior_beta: must be > 0 (got {prior_alpha}, {prior_beta}). "
            "Beta(1, 1) is the uniform prior."
        )
    _check_alpha(1 - credible_level)
    a0, b0 = prior_alpha + control_successes, prior_beta + control_n - control_successes
    a1, b1 = prior_alpha + treatment_successes, prior_beta + treatment_n - treatment_successes
    tail = (1 - credible_level) / 2
    p = _prob_b_beats_a(a0, b0, a1, b1)
    return BetaBinomialComparison(
        posterior_control=(float(a0), float(b0)),
        posterior_treatment=(float(a1), float(b1)),
        mean_control=a0 / (a0 + b0),
        mean_treatment=a1 / (a1 + b1),
        probability_to_beat_control=min(max(p, 0.0), 1.0),
        credible_control=(
            float(special.betaincinv(a0, b0, tail)),
            float(special.betaincinv(a0, b0, 1 - tail)),
        ),
        credible_treatment=(
            float(special.betaincinv(a1, b1, tail)),
            float(special.betaincinv(a1, b1, 1 - tail)),
        ),
    )


@attrs.frozen(kw_only=True)
class SampleRatioTest:
    """Chi-square goodness-of-fit of arm sizes against the planned split (Kohavi et al. 2020).

    ``mismatch`` is true when ``p_value < threshold``; the customary threshold is 0.001, because a
    sample-ratio mismatch invalidates every other number of the experiment.

    Examples:
        >>> sample_ratio_test([5000, 5100]).mismatch
        False
    """

    counts: tuple[int, ...]
    expected_shares: tuple[float, ...]
    chi2: float
    p_value: float
    threshold: float
    mismatch: bool

    def summary(self) -> str:
        """One readable line.

        Examples:
            >>> print(sample_ratio_test([5000, 5100]).summary())
            sample ratio 5000 / 5100 vs planned 50.0% / 50.0%: chi2=0.99, p=0.3197, no mismatch
        """
        verdict = "MISMATCH: investigate assignment" if self.mismatch else "no mismatch"
        return (
            f"sample ratio {' / '.join(str(c) for c in self.counts)} vs planned "
            f"{' / '.join(f'{s:.1%}' for s in self.expected_shares)}: chi2={self.chi2:.2f}, "
            f"p={_fmt_p(self.p_value)}, {verdict}"
        )


def sample_ratio_test(
    counts: Any, expected_shares: Any = None, *, threshold: float = 0.001
) -> SampleRatioTest:
    """Test observed arm sizes against the planned shares (equal shares by default).

    Examples:
        >>> round(sample_ratio_test([21306, 21387, 21307]).p_value, 3)
        0.904
    """
    c = as_float_array("counts", counts, min_value=0)
    if c.size < 2 or (c != np.round(c)).any() or c.sum() == 0:
        raise InvalidInputError(
            f"counts: need whole arm sizes for at least 2 arms (got {c.tolist()!r}). "
            "Pass the number of customers assigned to each arm."
        )
    if expected_shares is None:
        shares = np.full(c.size, 1.0 / c.size)
    else:
        shares = as_float_array("expected_shares", expected_shares, strictly_positive=True)
        same_length(counts=c, expected_shares=shares)
        shares = shares / shares.sum()
    _check_alpha(threshold)
    expected = shares * c.sum()
    chi2 = float(((c - expected) ** 2 / expected).sum())
    p = float(stats.chi2.sf(chi2, c.size - 1))
    return SampleRatioTest(
        counts=tuple(int(v) for v in c),
        expected_shares=tuple(float(s) for s in shares),
        chi2=chi2,
        p_value=p,
        threshold=threshold,
        mismatch=p < threshold,
    )


def adjust_pvalues(p_values: Any, method: Correction = "holm") -> npt.NDArray[np.float64]:
    """Adjust p-values for multiple comparisons (Holm, Bonferroni, Benjamini-Hochberg, none).

    Holm and Bonferroni control the family-wise error rate; ``"fdr_bh"`` controls the false
    discovery rate. Adjusted values are capped at 1 and compare directly with ``alpha``.

    Examples:
        >>> adjust_pvalues([0.01, 0.04, 0.03], "holm")
        array([0.03, 0.06, 0.06])
    """
    p = as_float_array("p_values", p_values, min_value=0.0)
    if (p > 1).any():
        raise InvalidInputError("p_values: values above 1. Pass p-values in [0, 1].")
    m = p.size
    if method == "none" or m == 0:
        return frozen(p.copy())
    if method == "bonferroni":
        return frozen(np.minimum(p * m, 1.0))
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    out = np.empty(m)
    if method == "holm":
        adj = np.maximum.accumulate(ranked * (m - np.arange(m)))
    elif method == "fdr_bh":
        adj = np.minimum.accumulate((ranked * m / np.arange(1, m + 1))[::-1])[::-1]
    else:
        raise InvalidInputError(
            f"method: unknown correction {method!r}. Use 'holm', 'bonferroni', 'fdr_bh' or 'none'."
        )
    out[order] = np.minimum(adj, 1.0)
    return frozen(out)
