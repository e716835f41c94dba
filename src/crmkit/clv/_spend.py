"""Gamma-Gamma spend model (Fader & Hardie 2013 note; Fader, Hardie & Lee 2005, JMR)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

import attrs
import numpy as np
import numpy.typing as npt
from scipy import special

from crmkit.clv._btyd import FitResult, finite
from crmkit.clv._fitting import Rows, check_weights, compress, information_criteria, maximize
from crmkit.clv._inputs import checked, fail
from crmkit.clv._summary import RFMSummary
from crmkit.errors import DegenerateFitWarning, InvalidInputError, NumericalError

__all__ = ["GammaGamma", "GammaGammaFit"]

FloatArray = npt.NDArray[np.float64]


def _core(p: Sequence[Any], rows: Rows) -> tuple[FloatArray, FloatArray]:
    pp, q, g = p
    x, m = rows.columns
    xs, cx = rows.tables[0], rows.codes[0]
    if "log_m" not in rows.cache:
        rows.cache["log_m"] = np.log(rows.tables[1])[rows.codes[1]]
    log_m = rows.cache["log_m"]
    pxs = pp * xs
    dpq = special.digamma(pxs + q)
    head = (special.gammaln(pxs + q) - special.gammaln(pxs) + pxs * np.log(xs))[cx]
    dp = (xs * (dpq - special.digamma(pxs) + np.log(xs)))[cx]
    px = pp * x
    lgm = np.log(g + x * m)
    lg = np.log(g)
    ll = head - special.gammaln(q) + q * lg + (px - 1.0) * log_m - (px + q) * lgm
    grad = np.empty((3, x.size))
    grad[0] = pp * (dp + x * (log_m - lgm))
    grad[1] = q * (dpq[cx] - special.digamma(q) + lg - lgm)
    grad[2] = q - (px + q) * g / (g + x * m)
    return ll, grad


def _spend_arrays(
    summary: RFMSummary | None, frequency: Any, monetary: Any, *, repeaters_only: bool
) -> tuple[FloatArray, FloatArray, Any]:
    if summary is not None:
        frequency, monetary, ids = summary.frequency, summary.monetary, summary.customer_id
    elif frequency is None or monetary is None:
        raise InvalidInputError("frequency, monetary: missing. Pass an RFMSummary or both arrays.")
    else:
        ids = None
    x = checked("frequency", frequency, ids)
    m = checked("monetary", monetary, ids, n=x.size)
    fail(
        "monetary",
        (x > 0) & (m <= 0),
        m,
        ids,
        "non-positive mean spend with repeat purchases",
        "Gamma-Gamma models positive spend; drop refunds or zero-value orders first.",
    )
    if repeaters_only:
        keep = x > 0
        return x[keep], m[keep], None if ids is None else ids[keep]
    return x, m, ids


def _moment_start(rows: Rows) -> tuple[float, float, float]:
    """Method-of-moments start with p fixed at 4.

    With z̄ | ν ~ Gamma(px, xν) and ν ~ Gamma(q, γ): E z̄ = pγ/(q−1) and
    Var z̄ / (E z̄)² = 1/(q−2) + (q−1)/((q−2) p x), solved for q with 1/x averaged.
    """
    x, m = rows.columns
    w = rows.weights
    mean = float(np.average(m, weights=w))
    cv2 = float(np.average((m - mean) ** 2, weights=w)) / max(mean**2, 1e-300)
    p = 4.0
    c = float(np.average(1.0 / x, weights=w)) / p
    q = (1.0 + 2.0 * cv2 - c) / (cv2 - c) if cv2 > c * 1.01 else 10.0
    q = float(min(max(q, 2.5), 1e3))
    return p, q, max(mean * (q - 1.0) / p, 1e-8)


@attrs.frozen(kw_only=True)
class GammaGammaFit(FitResult):
    """A fitted Gamma-Gamma spend model: transaction value ~ Gamma(p, ν), ν ~ Gamma(q, γ).

    Examples:
        >>> fit = GammaGammaFit.from_params(p=6.25, q=3.74, gamma=15.44)
        >>> fit.conditional_expected_spend(frequency=[0, 2], monetary=[0.0, 22.35]).round(2)
        array([35.22, 24.66])
    """

    p: float
    q: float
    gamma: float
    _names: ClassVar[tuple[str, ...]] = ("p", "q", "gamma")

    def mean_spend(self) -> float:
        """Population mean transaction value p·γ/(q − 1); needs q > 1.

        Examples:
            >>> round(GammaGammaFit.from_params(p=6.25, q=3.74, gamma=15.44).mean_spend(), 2)
            35.22
        """
        if self.q <= 1:
            raise NumericalError(
                f"q: {self.q:.4g} <= 1, so the mean spend is infinite. Refit with more data "
                "or a penalizer."
            )
        return self.p * self.gamma / (self.q - 1.0)

    def conditional_expected_spend(
        self, summary: RFMSummary | None = None, *, frequency: Any = None, monetary: Any = None
    ) -> FloatArray:
        """E[value per purchase | x repeats with mean ``monetary``] (the population mean at x = 0).

        Examples:
            >>> fit = GammaGammaFit.from_params(p=6.25, q=3.74, gamma=15.44)
            >>> fit.conditional_expected_spend(frequency=[10], monetary=[50.0]).round(2)
            array([49.38])
        """
        x, m, _ = _spend_arrays(summary, frequency, monetary, repeaters_only=False)
        if self.q <= 1:
            self.mean_spend()
        pp, q, g = self.p, self.q, self.gamma
        return finite("conditional_expected_spend", pp * (g + x * m) / (pp * x + q - 1.0))

    def log_likelihood_per_customer(
        self, summary: RFMSummary | None = None, *, frequency: Any = None, monetary: Any = None
    ) -> FloatArray:
        """Log-density of each repeater's mean spend (customers with frequency 0 are left out).

        Examples:
            >>> fit = GammaGammaFit.from_params(p=6.25, q=3.74, gamma=15.44)
            >>> fit.log_likelihood_per_customer(frequency=[1, 0], monetary=[10.0, 0.0]).shape
            (1,)
        """
        x, m, _ = _spend_arrays(summary, frequency, monetary, repeaters_only=True)
        ll, _ = _core([self.p, self.q, self.gamma], compress([x, m], np.ones(x.size), merge=False))
        return finite("log_likelihood", ll)


@attrs.frozen(kw_only=True)
class GammaGamma:
    """The Gamma-Gamma specification, fitted on repeat customers (frequency > 0) only.

    ``monetary`` is the mean value of the repeat purchases. q ≤ 1 (infinite mean spend) warns
    ``DegenerateFitWarning``. Check independence of frequency and spend first with
    [`spend_frequency_correlation`][crmkit.clv.spend_frequency_correlation].

    Examples:
        >>> from crmkit.clv import simulate_gamma_gamma
        >>> x, m = simulate_gamma_gamma(frequency=[1, 3, 5] * 2000, p=6.0, q=4.0, gamma=15.0, rng=0)
        >>> GammaGamma().fit(frequency=x, monetary=m).diagnostics.converged
        True
    """

    penalizer: float = 0.0

    def fit(
        self,
        summary: RFMSummary | None = None,
        *,
        frequency: Any = None,
        monetary: Any = None,
        weights: Any = None,
    ) -> GammaGammaFit:
        """Fit by maximum likelihood on the customers with frequency > 0."""
        if self.penalizer < 0:
            raise InvalidInputError(f"penalizer: negative ({self.penalizer}). Pass >= 0.")
        x_all, m_all, ids = _spend_arrays(summary, frequency, monetary, repeaters_only=False)
        w_all = check_weights(weights, x_all.size, ids)
        keep = (x_all > 0) & (w_all > 0)
        if keep.sum() < 3:
            raise InvalidInputError(
                f"frequency: {int(keep.sum())} customers with repeat purchases. Gamma-Gamma "
                "needs repeat buyers; pass more customers."
            )
        rows = compress([x_all[keep], m_all[keep]], w_all[keep])
        starts = (_moment_start(rows),)
        res = maximize(
            names=GammaGammaFit._names,
            core=_core,
            rows=rows,
            starts=starts,
            penalizer=self.penalizer,
            model="GammaGamma",
        )
        aic, bic = information_criteria(res.log_likelihood, res.n_parameters, res.n_customers)
        fit = GammaGammaFit(
            **res.params,
            standard_errors=res.standard_errors,
            log_likelihood=res.log_likelihood,
            aic=aic,
            bic=bic,
            n_customers=res.n_customers,
            diagnostics=res.diagnostics,
        )
        if fit.q <= 1:
            warnings.warn(
                f"GammaGamma: q = {fit.q:.3g} <= 1; the mean spend is infinite and conditional "
                "expectations are undefined.",
                DegenerateFitWarning,
                stacklevel=2,
            )
        return fit
