"""A/B/n analysis of a campaign: every arm against control, corrected, with SRM and ROI."""

from __future__ import annotations

import logging
import math
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmkit._validation import as_binary_array, as_float_array, as_str_array, frozen, same_length
from crmkit.errors import InvalidInputError
from crmkit.experiments._compare import (
    BetaBinomialComparison,
    Correction,
    MeanTest,
    ProportionTest,
    SampleRatioTest,
    _check_alpha,
    adjust_pvalues,
    cuped,
    probability_to_beat_control,
    sample_ratio_test,
    two_proportion_test,
    welch_test,
)

__all__ = ["ArmComparison", "ArmROI", "ExperimentAnalysis", "analyze_experiment"]

logger = logging.getLogger("crmkit.experiments")


@attrs.frozen(kw_only=True)
class ArmROI:
    """Return on the contact cost of one arm, from the incremental value over control.

    ``incremental_value = (mean_value_arm - mean_value_control) * n_arm * margin``;
    ``roi = (incremental_value - cost) / cost`` with ``cost = cost_per_contact * n_arm``.

    Examples:
        >>> r = ArmROI(arm="mail", n=100, incremental_value=150.0, cost=100.0, roi=0.5)
        >>> r.roi
        0.5
    """

    arm: str
    n: int
    incremental_value: float
    cost: float
    roi: float


@attrs.frozen(kw_only=True)
class ArmComparison:
    """One treatment arm against control: conversion test, spend test, Bayes and corrected p.

    Examples:
        >>> res = analyze_experiment(["a", "b"] * 50, converted=[0, 1] * 50, control="a")
        >>> res.comparisons[0].arm
        'b'
    """

    arm: str
    conversion: ProportionTest | None
    conversion_p_adjusted: float
    bayes: BetaBinomialComparison | None
    value: MeanTest | None
    value_p_adjusted: float
    value_cuped: MeanTest | None
    roi: ArmROI | None


@attrs.frozen(kw_only=True)
class ExperimentAnalysis:
    """The analysis of an A/B/n test: arm sizes and rates, SRM check, comparisons to control.

    Arrays are aligned with ``arms`` (control first, then the other arms sorted by name).

    Examples:
        >>> res = analyze_experiment(["a", "b"] * 50, converted=[0, 1] * 50, control="a")
        >>> res.arms, res.n.tolist()
        (('a', 'b'), [50, 50])
    """

    arms: tuple[str, ...]
    control: str
    n: npt.NDArray[np.int64]
    conversions: npt.NDArray[np.int64] | None
    conversion_rate: npt.NDArray[np.float64] | None
    mean_value: npt.NDArray[np.float64] | None
    srm: SampleRatioTest
    comparisons: tuple[ArmComparison, ...]
    correction: Correction
    alpha: float
    cuped_theta: float | None

    def comparison(self, arm: str) -> ArmComparison:
        """The comparison of ``arm`` with control.

        Examples:
            >>> res = analyze_experiment(["a", "b"] * 50, converted=[0, 1] * 50, control="a")
            >>> res.comparison("b").conversion.difference
            1.0
        """
        for c in self.comparisons:
            if c.arm == arm:
                return c
        raise InvalidInputError(
            f"arm: {arm!r} is not a treatment arm (arms: {list(self.arms)}). "
            f"The control is {self.control!r}."
        )

    def summary(self) -> str:
        """A readable multi-line report of the experiment.

        Examples:
            >>> res = analyze_experiment(["a", "b"] * 50, converted=[0, 1] * 50, control="a")
            >>> print(res.summary().splitlines()[0])
            A/B/n test: 2 arms, 100 customers, control 'a'
        """
        lines = [
            (
                f"A/B/n test: {len(self.arms)} arms, {int(self.n.sum())} customers, "
                f"control {self.control!r}"
            ),
            self.srm.summary(),
        ]
        for i, arm in enumerate(self.arms):
            parts = [f"  {arm}: n={int(self.n[i])}"]
            if self.conversion_rate is not None:
                parts.append(f"conversion {self.conversion_rate[i]:.2%}")
            if self.mean_value is not None:
                parts.append(f"mean value {self.mean_value[i]:.4g}")
            lines.append(", ".join(parts))
        lines.append(f"comparisons with control (p adjusted: {self.correction}):")
        for c in self.comparisons:
            lines.append(f"  {c.arm} vs {self.control}:")
            if c.conversion is not None and c.bayes is not None:
                lines.append(f"    conversion {c.conversion.summary()}")
                lines.append(
                    f"    adjusted p={c.conversion_p_adjusted:.4g}; "
                    f"P(beats control)={c.bayes.probability_to_beat_control:.4f}"
                )
            if c.value is not None:
                lines.append(f"    value {c.value.summary()}; adjusted p={c.value_p_adjusted:.4g}")
            if c.value_cuped is not None:
                lines.append(f"    value (CUPED) {c.value_cuped.summary()}")
            if c.roi is not None:
                lines.append(
                    f"    ROI {c.roi.roi:+.1%} (incremental value {c.roi.incremental_value:.2f}, "
                    f"cost {c.roi.cost:.2f})"
                )
        return "\n".join(lines)


def analyze_experiment(
    arm: Any,
    *,
    control: str,
    converted: Any = None,
    value: Any = None,
    covariate: Any = None,
    expected_shares: dict[str, float] | None = None,
    alpha: float = 0.05,
    correction: Correction = "holm",
    cost_per_contact: float | None = None,
    margin: float = 1.0,
    prior: tuple[float, float] = (1.0, 1.0),
) -> ExperimentAnalysis:
    """Analyse an A/B/n test from one row per customer.

    Args:
        arm: the arm of each customer (strings).
        control: the name of the control arm.
        converted: 0/1 conversion flag per customer (optional).
        value: a per-customer numeric outcome such as spend, compared with Welch's t (optional).
        covariate: a pre-experiment value per customer; when given, ``value`` is also compared
            after CUPED adjustment.
        expected_shares: the planned share of each arm for the sample-ratio test (default equal).
        alpha: significance level of tests and intervals.
        correction: multiple-comparison correction over the treatment arms, applied separately
            to the conversion and the value p-values.
        cost_per_contact: contact cost per customer of a treatment arm; enables ROI.
        margin: share of the incremental ``value`` that is profit (1 = revenue as is).
        prior: Beta prior (alpha, beta) of the Bayesian comparison of conversion rates.

    Examples:
        >>> arms = ["ctl"] * 4 + ["mail"] * 4
        >>> res = analyze_experiment(arms, control="ctl", converted=[0, 0, 0, 1, 0, 1, 1, 1])
        >>> res.conversion_rate.tolist()
        [0.25, 0.75]
    """
    _check_alpha(alpha)
    labels = as_str_array("arm", arm)
    if converted is None and value is None:
        raise InvalidInputError(
            "converted, value: neither was given. Pass a conversion flag, a value, or both."
        )
    names = sorted(set(labels.tolist()))
    if control not in names:
        raise InvalidInputError(
            f"control: {control!r} is not among the arms ({names}). Name the control arm."
        )
    if len(names) < 2:
        raise InvalidInputError(f"arm: only one arm ({names}). An experiment needs two or more.")
    arms = (control, *(a for a in names if a != control))
    codes = np.empty(labels.size, dtype=np.int64)
    for i, a in enumerate(arms):
        codes[labels == a] = i
    k = len(arms)
    n = np.bincount(codes, minlength=k).astype(np.int64)
    shares = None
    if expected_shares is not None:
        missing = [a for a in arms if a not in expected_shares]
        if missing:
            raise InvalidInputError(
                f"expected_shares: no planned share for arms {missing}. Give one per arm."
            )
        shares = [expected_shares[a] for a in arms]
    srm = sample_ratio_test(n, shares)
    if srm.mismatch:
        logger.warning("sample-ratio mismatch: %s", srm.summary())

    conv = rate = None
    if converted is not None:
        y = as_binary_array("converted", converted)
        same_length(arm=labels, converted=y)
        conv = np.bincount(codes, weights=y, minlength=k).astype(np.int64)
        rate = conv / n
    mean_v = None
    v: npt.NDArray[np.float64] | None = None
    adjusted: npt.NDArray[np.float64] | None = None
    theta = None
    if value is not None:
        v = as_float_array("value", value)
        same_length(arm=labels, value=v)
        mean_v = np.bincount(codes, weights=v, minlength=k) / n
        if covariate is not None:
            adj = cuped(v, covariate)
            adjusted, theta = adj.adjusted, adj.theta

    conv_tests: list[ProportionTest | None] = []
    bayes: list[BetaBinomialComparison | None] = []
    value_tests: list[MeanTest | None] = []
    cuped_tests: list[MeanTest | None] = []
    rois: list[ArmROI | None] = []
    for i in range(1, k):
        if conv is not None:
            conv_tests.append(
                two_proportion_test(int(conv[0]), int(n[0]), int(conv[i]), int(n[i]), alpha=alpha)
            )
            bayes.append(
                probability_to_beat_control(
                    int(conv[0]),
                    int(n[0]),
                    int(conv[i]),
                    int(n[i]),
                    prior_alpha=prior[0],
                    prior_beta=prior[1],
                )
            )
        else:
            conv_tests.append(None)
            bayes.append(None)
        if v is not None:
            value_tests.append(welch_test(v[codes == 0], v[codes == i], alpha=alpha))
            cuped_tests.append(
                None
                if adjusted is None
                else welch_test(adjusted[codes == 0], adjusted[codes == i], alpha=alpha)
            )
        else:
            value_tests.append(None)
            cuped_tests.append(None)
        rois.append(_roi(arms[i], int(n[i]), mean_v, i, cost_per_contact, margin))

    p_conv = adjust_pvalues([t.p_value for t in conv_tests if t is not None], correction)
    p_val = adjust_pvalues([t.p_value for t in value_tests if t is not None], correction)
    comparisons = tuple(
        ArmComparison(
            arm=arms[i + 1],
            conversion=conv_tests[i],
            conversion_p_adjusted=float(p_conv[i]) if p_conv.size else math.nan,
            bayes=bayes[i],
            value=value_tests[i],
            value_p_adjusted=float(p_val[i]) if p_val.size else math.nan,
            value_cuped=cuped_tests[i],
            roi=rois[i],
        )
        for i in range(k - 1)
    )
    return ExperimentAnalysis(
        arms=arms,
        control=control,
        n=frozen(n),
        conversions=None if conv is None else frozen(conv),
        conversion_rate=None if rate is None else frozen(rate),
        mean_value=None if mean_v is None else frozen(mean_v),
        srm=srm,
        comparisons=comparisons,
        correction=correction,
        alpha=alpha,
        cuped_theta=theta,
    )


def _roi(
    arm: str,
    n_arm: int,
    mean_v: npt.NDArray[np.float64] | None,
    i: int,
    cost_per_contact: float | None,
    margin: float,
) -> ArmROI | None:
    if cost_per_contact is None:
        return None
    if cost_per_contact <= 0:
        raise InvalidInputError(
            f"cost_per_contact: must be > 0 (got {cost_per_contact!r}). "
            "Pass the cost of one contact."
        )
    if mean_v is None:
        raise InvalidInputError(
            "value: ROI needs a per-customer value (e.g. spend). Pass value= with cost_per_contact."
        )
    incremental = float(mean_v[i] - mean_v[0]) * n_arm * margin
    cost = cost_per_contact * n_arm
    return ArmROI(
        arm=arm, n=n_arm, incremental_value=incremental, cost=cost, roi=(incremental - cost) / cost
    )
