"""Power and sample size for two-arm comparisons (normal approximation)."""

from __future__ import annotations

import math

from scipy import stats

from crmkit.errors import InvalidInputError
from crmkit.experiments._compare import Alternative, _check_alpha, _check_alternative

__all__ = [
    "power_two_means",
    "power_two_proportions",
    "sample_size_two_means",
    "sample_size_two_proportions",
]


def _z_alpha(alpha: float, alternative: Alternative) -> float:
    _check_alpha(alpha)
    _check_alternative(alternative)
    return float(stats.norm.isf(alpha / 2 if alternative == "two-sided" else alpha))


def _check_rate(name: str, p: float) -> None:
    if not 0.0 < p < 1.0:
        raise InvalidInputError(f"{name}: a rate must lie in (0, 1) (got {p!r}).")


def _check_ratio(ratio: float) -> None:
    if not ratio > 0:
        raise InvalidInputError(
            f"ratio: treatment size over control size must be > 0 (got {ratio!r})."
        )


def power_two_proportions(
    rate_control: float,
    rate_treatment: float,
    n_control: int,
    *,
    ratio: float = 1.0,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> float:
    """Power of the pooled two-proportion z-test with ``n_control`` and ``ratio * n_control``.

    Uses the pooled standard error under H0 and the unpooled one under H1 (Fleiss, Levin & Paik
    2003, eq. 4.14), which is the test ``two_proportion_test`` runs.

    Examples:
        >>> round(power_two_proportions(0.10, 0.12, 3841), 3)
        0.8
    """
    _check_rate("rate_control", rate_control)
    _check_rate("rate_treatment", rate_treatment)
    _check_ratio(ratio)
    if n_control <= 0:
        raise InvalidInputError(f"n_control: must be > 0 (got {n_control!r}).")
    z = _z_alpha(alpha, alternative)
    n1 = float(n_control)
    n2 = ratio * n1
    delta = rate_treatment - rate_control
    pbar = (rate_control * n1 + rate_treatment * n2) / (n1 + n2)
    se0 = math.sqrt(pbar * (1 - pbar) * (1 / n1 + 1 / n2))
    se1 = math.sqrt(
        rate_control * (1 - rate_control) / n1 + rate_treatment * (1 - rate_treatment) / n2
    )
    if alternative == "less":
        delta = -delta
    if alternative == "two-sided":
        d = abs(delta)
        return float(stats.norm.cdf((d - z * se0) / se1) + stats.norm.cdf((-d - z * se0) / se1))
    return float(stats.norm.cdf((delta - z * se0) / se1))


def sample_size_two_proportions(
    rate_control: float,
    rate_treatment: float,
    *,
    power: float = 0.8,
    ratio: float = 1.0,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> tuple[int, int]:
    """Smallest (control, treatment) sizes giving ``power`` to detect the two rates.

    The closed form (Fleiss et al. 2003) gives the start; the count is then raised until
    ``power_two_proportions`` reaches the target, so the two functions agree exactly.

    Examples:
        >>> sample_size_two_proportions(0.10, 0.12)
        (3841, 3841)
    """
    _check_rate("rate_control", rate_control)
    _check_rate("rate_treatment", rate_treatment)
    _check_ratio(ratio)
    if rate_control == rate_treatment:
        raise InvalidInputError(
            "rate_treatment: equals rate_control, so no sample size detects it. "
            "Pass the smallest difference worth detecting."
        )
    if not 0.0 < power < 1.0:
        raise InvalidInputError(f"power: must lie in (0, 1) (got {power!r}).")
    z_a = _z_alpha(alpha, alternative)
    z_b = float(stats.norm.ppf(power))
    p1, p2 = rate_control, rate_treatment
    pbar = (p1 + ratio * p2) / (1 + ratio)
    num = z_a * math.sqrt(pbar * (1 - pbar) * (1 + 1 / ratio)) + z_b * math.sqrt(
        p1 * (1 - p1) + p2 * (1 - p2) / ratio
    )
    n = max(2, math.ceil(num**2 / (p2 - p1) ** 2) - 2)
    while (
        power_two_proportions(p1, p2, n, ratio=ratio, alpha=alpha, alternative=alternative) < power
    ):
        n += 1
    return n, math.ceil(ratio * n)


def power_two_means(
    difference: float,
    sd: float,
    n_control: int,
    *,
    ratio: float = 1.0,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> float:
    """Power of a two-sample test of means with common standard deviation ``sd`` (normal approx.).

    Examples:
        >>> round(power_two_means(0.5, 1.0, 64), 3)
        0.807
    """
    _check_ratio(ratio)
    if sd <= 0 or n_control <= 0:
        raise InvalidInputError(f"sd, n_control: must be > 0 (got {sd!r}, {n_control!r}).")
    z = _z_alpha(alpha, alternative)
    se = sd * math.sqrt(1 / n_control + 1 / (ratio * n_control))
    d = difference / se
    if alternative == "less":
        d = -d
    if alternative == "two-sided":
        return float(stats.norm.cdf(abs(d) - z) + stats.norm.cdf(-abs(d) - z))
    return float(stats.norm.cdf(d - z))


def sample_size_two_means(
    difference: float,
    sd: float,
    *,
    power: float = 0.8,
    ratio: float = 1.0,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> tuple[int, int]:
    """Smallest (control, treatment) sizes giving ``power`` to detect a difference in means.

    Examples:
        >>> sample_size_two_means(0.5, 1.0)
        (63, 63)
    """
    _check_ratio(ratio)
    if difference == 0 or sd <= 0:
        raise InvalidInputError(
            f"difference, sd: need a non-zero difference and sd > 0 (got {difference!r}, {sd!r})."
        )
    if not 0.0 < power < 1.0:
        raise InvalidInputError(f"power: must lie in (0, 1) (got {power!r}).")
    z_a = _z_alpha(alpha, alternative)
    z_b = float(stats.norm.ppf(power))
    n = max(2, math.ceil((z_a + z_b) ** 2 * sd**2 * (1 + 1 / ratio) / difference**2) - 2)
    while (
        power_two_means(difference, sd, n, ratio=ratio, alpha=alpha, alternative=alternative)
        < power
    ):
        n += 1
    return n, math.ceil(ratio * n)
