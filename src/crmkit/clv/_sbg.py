"""Shifted-beta-geometric retention for contractual settings (Fader & Hardie 2007)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import attrs
import numpy as np
import numpy.typing as npt
from scipy import special

from crmkit.clv._btyd import FitResult, finite
from crmkit.clv._fitting import Rows, check_weights, compress, information_criteria, maximize
from crmkit.clv._inputs import checked, fail
from crmkit.errors import InvalidInputError

__all__ = ["ShiftedBetaGeo", "ShiftedBetaGeoFit"]

FloatArray = npt.NDArray[np.float64]


def _core(p: Sequence[Any], rows: Rows) -> tuple[FloatArray, FloatArray]:
    a, b = p
    t, churned = rows.columns
    died = churned > 0
    # churned in period t: B(a+1, b+t-1)/B(a,b); still active after t periods: B(a, b+t)/B(a,b)
    p1 = np.where(died, a + 1.0, a)
    q1 = np.where(died, b + t - 1.0, b + t)
    ll = special.betaln(p1, q1) - special.betaln(a, b)
    d1 = special.digamma(p1 + q1)
    d0 = special.digamma(a + b)
    grad = np.empty((2, t.size))
    grad[0] = a * (special.digamma(p1) - d1 - special.digamma(a) + d0)
    grad[1] = b * (special.digamma(q1) - d1 - special.digamma(b) + d0)
    return ll, grad


@attrs.frozen(kw_only=True)
class ShiftedBetaGeoFit(FitResult):
    """A fitted sBG model: churn probability θ ~ Beta(α, β), constant per customer.

    Examples:
        >>> fit = ShiftedBetaGeoFit.from_params(alpha=0.704, beta=1.182)
        >>> fit.survival([1, 2, 7]).round(3)
        array([0.627, 0.474, 0.239])
    """

    alpha: float
    beta: float
    _names: ClassVar[tuple[str, ...]] = ("alpha", "beta")

    def survival(self, t: Any) -> FloatArray:
        """S(t) = B(α, β+t)/B(α, β): the share of a cohort still active after ``t`` periods.

        Examples:
            >>> ShiftedBetaGeoFit.from_params(alpha=1.0, beta=1.0).survival([0, 1]).tolist()
            [1.0, 0.5]
        """
        t = np.asarray(t, dtype=np.float64)
        return finite(
            "survival",
            np.exp(
                special.betaln(self.alpha, self.beta + t) - special.betaln(self.alpha, self.beta)
            ),
        )

    def churn_pmf(self, t: Any) -> FloatArray:
        """P(T = t): the probability that a new customer churns in period ``t`` (t ≥ 1).

        Examples:
            >>> round(float(ShiftedBetaGeoFit.from_params(alpha=1.0, beta=1.0).churn_pmf(1)), 3)
            0.5
        """
        t = np.asarray(t, dtype=np.float64)
        return finite(
            "churn_pmf",
            np.exp(
                special.betaln(self.alpha + 1.0, self.beta + t - 1.0)
                - special.betaln(self.alpha, self.beta)
            ),
        )

    def retention_rate(self, t: Any) -> FloatArray:
        """r_t = (β + t − 1)/(α + β + t − 1): the share of period t−1 survivors renewing at t.

        Examples:
            >>> fit = ShiftedBetaGeoFit.from_params(alpha=0.704, beta=1.182)
            >>> fit.retention_rate([1, 5]).round(3)
            array([0.627, 0.88 ])
        """
        t = np.asarray(t, dtype=np.float64)
        return finite("retention_rate", (self.beta + t - 1.0) / (self.alpha + self.beta + t - 1.0))

    def discounted_expected_residual_lifetime(
        self, discount_rate: float, renewals: Any
    ) -> FloatArray:
        """DERL for a customer who has made ``renewals`` renewals (is in period renewals + 1).

        Σ_{t ≥ n} S(t)/S(n−1) / (1+d)^{t−n} with n = renewals + 1 (Fader & Hardie 2010); counts
        the current period's payment, paid at the start of each period. Closed form
        (β+n−1)/(α+β+n−1) · 2F1(1, β+n; α+β+n; 1/(1+d)).

        Examples:
            >>> fit = ShiftedBetaGeoFit.from_params(alpha=0.704, beta=1.182)
            >>> fit.discounted_expected_residual_lifetime(0.1, [0, 4]).round(2)
            array([2.96, 5.89])
        """
        if not (discount_rate > 0 and math.isfinite(discount_rate)):
            raise InvalidInputError(
                f"discount_rate: must be > 0 (got {discount_rate}). An undiscounted residual "
                "lifetime is infinite for α ≤ 1."
            )
        n = np.asarray(renewals, dtype=np.float64) + 1.0
        a, b = self.alpha, self.beta
        with np.errstate(all="ignore"):
            # S(n)/S(n-1) · Σ_k (S(n+k)/S(n)) z^k, z = 1/(1+d): the series 2F1(1, β+n; α+β+n; z).
            first = (b + n - 1.0) / (a + b + n - 1.0)
            out = first * special.hyp2f1(1.0, b + n, a + b + n, 1.0 / (1.0 + discount_rate))
        return finite("discounted_expected_residual_lifetime", out)


def _survival_to_events(active: Any) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Cohort counts active at t = 0, 1, ..., n → (T, churned, weights) rows."""
    s = checked("active", active, None)
    if s.size < 2:
        raise InvalidInputError(
            f"active: {s.size} values. Pass the cohort size at t = 0 and at least one later count."
        )
    fail(
        "active",
        np.diff(s) > 0,
        s[1:],
        None,
        "the count rises",
        "Survivor counts never increase; pass active customers per period of one cohort.",
    )
    lost = -np.diff(s)
    t = np.arange(1, s.size, dtype=np.float64)
    return (
        np.r_[t, float(s.size - 1)],
        np.r_[np.ones(t.size), 0.0],
        np.r_[lost, s[-1]],
    )


@attrs.frozen(kw_only=True)
class ShiftedBetaGeo:
    """The sBG specification: each customer churns each period with a constant θ ~ Beta(α, β).

    ``fit(T=..., churned=...)`` takes per-customer data: ``T`` is the period in which the
    customer churned (``churned`` true) or the number of periods observed active (``churned``
    false). ``fit_survival(active)`` takes one cohort's active counts per period.

    Examples:
        >>> fit = ShiftedBetaGeo().fit_survival([1000, 631, 468, 382, 326, 289, 262, 241])
        >>> round(fit.alpha, 3), round(fit.beta, 3)
        (0.704, 1.182)
    """

    penalizer: float = 0.0

    def fit(self, *, T: Any, churned: Any, weights: Any = None) -> ShiftedBetaGeoFit:
        """Fit by maximum likelihood on per-customer (T, churned) rows."""
        t = checked("T", T, None)
        fail(
            "T",
            (t < 1) | (t != np.round(t)),
            t,
            None,
            "not a whole number >= 1",
            "T counts periods; a customer churning in the first period has T = 1.",
        )
        ch = np.asarray(churned, dtype=np.float64)
        if ch.shape != t.shape:
            raise InvalidInputError(
                f"churned: {ch.size} values for {t.size} customers. Pass one flag per customer."
            )
        fail("churned", (ch != 0) & (ch != 1), ch, None, "not a boolean", "Pass True or False.")
        w = check_weights(weights, t.size)
        rows = compress([t, ch], w)
        res = maximize(
            names=ShiftedBetaGeoFit._names,
            core=_core,
            rows=rows,
            starts=((1.0, 1.0), (0.5, 3.0)),
            penalizer=self.penalizer,
            model="ShiftedBetaGeo",
        )
        aic, bic = information_criteria(res.log_likelihood, res.n_parameters, res.n_customers)
        return ShiftedBetaGeoFit(
            **res.params,
            standard_errors=res.standard_errors,
            log_likelihood=res.log_likelihood,
            aic=aic,
            bic=bic,
            n_customers=res.n_customers,
            diagnostics=res.diagnostics,
        )

    def fit_survival(self, active: Any) -> ShiftedBetaGeoFit:
        """Fit on one cohort's active counts at t = 0, 1, ..., n (those at n are censored).

        Examples:
            >>> fit = ShiftedBetaGeo().fit_survival([1000, 869, 743, 653, 593, 551, 517, 491])
            >>> round(fit.alpha, 3), round(fit.beta, 3)
            (0.668, 3.806)
        """
        t, churned, weights = _survival_to_events(active)
        return self.fit(T=t, churned=churned, weights=weights)
