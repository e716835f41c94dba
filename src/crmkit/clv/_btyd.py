"""What every fitted model shares: parameters, standard errors, AIC/BIC, diagnostics, and the
per-customer predictions of the continuous-time BTYD models."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar, Self

import attrs
import numpy as np
import numpy.typing as npt
from scipy import special

from crmkit.clv._fitting import (
    FitDiagnostics,
    check_weights,
    compress,
    information_criteria,
    maximize,
)
from crmkit.clv._inputs import btyd_arrays, covariate_matrix
from crmkit.clv._summary import RFMSummary
from crmkit.errors import InvalidInputError, NumericalError

FloatArray = npt.NDArray[np.float64]

_LAGUERRE_X, _LAGUERRE_W = np.polynomial.laguerre.laggauss(40)


def finite(name: str, values: Any) -> FloatArray:
    """Return ``values`` as float64, raising NumericalError if anything is not finite."""
    out = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(out)):
        idx = int(np.flatnonzero(~np.isfinite(out.ravel()))[0])
        raise NumericalError(
            f"{name}: non-finite result (first at index {idx}). The parameters are in a regime "
            "where the formula breaks down; check the fit's diagnostics."
        )
    out.flags.writeable = False
    return out


@attrs.frozen(kw_only=True)
class FitResult:
    """Fields every fit shares; parameters are the subclass's own fields.

    Examples:
        >>> from crmkit.clv import GammaGammaFit
        >>> fit = GammaGammaFit.from_params(p=6.25, q=3.74, gamma=15.44)
        >>> fit.params
        {'p': 6.25, 'q': 3.74, 'gamma': 15.44}
    """

    standard_errors: Mapping[str, float] = attrs.field(factory=dict)
    coefficients: Mapping[str, FloatArray] = attrs.field(factory=dict)
    coefficient_errors: Mapping[str, FloatArray] = attrs.field(factory=dict)
    log_likelihood: float | None = None
    aic: float | None = None
    bic: float | None = None
    n_customers: float = 0.0
    diagnostics: FitDiagnostics | None = None
    _names: ClassVar[tuple[str, ...]] = ()

    @property
    def params(self) -> dict[str, float]:
        """The parameters by their literature names."""
        return {n: float(getattr(self, n)) for n in self._names}

    @classmethod
    def from_params(cls, **params: float) -> Self:
        """A fit from known parameters (for scoring with published values or simulation truth)."""
        kwargs: dict[str, Any] = dict(params)
        return cls(**kwargs)


class BTYDFitMixin:
    """Per-customer predictions shared by BG/NBD, MBG/NBD and Pareto/NBD fits."""

    coefficients: Mapping[str, FloatArray]

    # Model hooks -------------------------------------------------------------------------
    def _loglik(self, x: FloatArray, tx: FloatArray, T: FloatArray, cov: dict[str, Any]) -> Any:
        raise NotImplementedError

    def _log_odds_dead(
        self, x: FloatArray, tx: FloatArray, T: FloatArray, cov: dict[str, Any]
    ) -> Any:
        raise NotImplementedError

    def _survive(self, x: FloatArray, T: FloatArray, t: Any, cov: dict[str, Any]) -> Any:
        raise NotImplementedError

    def _given_alive(self, x: FloatArray, T: FloatArray, t: Any, cov: dict[str, Any]) -> Any:
        raise NotImplementedError

    def _alive_pmf(
        self, x: FloatArray, T: FloatArray, n: FloatArray, t: float, cov: dict[str, Any]
    ) -> FloatArray:
        raise NotImplementedError

    # Helpers -----------------------------------------------------------------------------
    _GROUP: ClassVar[dict[str, tuple[str, float]]] = {
        "alpha": ("purchase", -1.0),
        "a": ("dropout", 1.0),
        "b": ("dropout", 1.0),
        "beta": ("dropout", -1.0),
    }

    def _scaled(self, name: str, value: float, cov: dict[str, Any], n: int) -> Any:
        if name not in self.coefficients:
            return value
        group, sign = self._GROUP[name]
        x = cov.get(group)
        if x is None:
            raise InvalidInputError(
                f"{group}_covariates: the model was fitted with covariates on {name}. Pass "
                f"{group}_covariates for the customers to score."
            )
        mat = covariate_matrix(f"{group}_covariates", x, n)
        return value * np.exp(sign * (mat @ self.coefficients[name]))

    @staticmethod
    def _args(
        summary: RFMSummary | None, frequency: Any, recency: Any, T: Any, pcov: Any, dcov: Any
    ) -> tuple[FloatArray, FloatArray, FloatArray, dict[str, Any]]:
        x, tx, t, _ = btyd_arrays(summary, frequency, recency, T)
        cov = {k: v for k, v in (("purchase", pcov), ("dropout", dcov)) if v is not None}
        return x, tx, t, cov

    # Public predictions --------------------------------------------------------------------
    def p_alive(
        self,
        summary: RFMSummary | None = None,
        *,
        frequency: Any = None,
        recency: Any = None,
        T: Any = None,
        t: float = 0.0,
        purchase_covariates: Any = None,
        dropout_covariates: Any = None,
    ) -> FloatArray:
        """P(the customer is alive) at the end of observation, or ``t`` units later.

        Examples:
            >>> from crmkit.clv import ParetoNBDFit
            >>> fit = ParetoNBDFit.from_params(r=0.5143, alpha=2.8845, s=0.2856, beta=14.1087)
            >>> pa = fit.p_alive(frequency=[221, 254], recency=[103.43, 97.14], T=[103.57, 97.29])
            >>> bool(((pa > 0.99) & (pa <= 1)).all())
            True
        """
        x, tx, tt, cov = self._args(
            summary, frequency, recency, T, purchase_covariates, dropout_covariates
        )
        if t < 0:
            raise InvalidInputError(f"t: negative ({t}). Pass a time >= 0 after the end.")
        with np.errstate(all="ignore"):
            pa = special.expit(-np.asarray(self._log_odds_dead(x, tx, tt, cov), dtype=np.float64))
            if t > 0:
                pa = pa * self._survive(x, tt, t, cov)
        return finite("p_alive", np.clip(pa, 0.0, 1.0))

    def conditional_expected_purchases(
        self,
        t: float,
        summary: RFMSummary | None = None,
        *,
        frequency: Any = None,
        recency: Any = None,
        T: Any = None,
        purchase_covariates: Any = None,
        dropout_covariates: Any = None,
    ) -> FloatArray:
        """Expected purchases in the next ``t`` time units given each customer's history.

        Examples:
            >>> from crmkit.clv import BetaGeoFit
            >>> fit = BetaGeoFit.from_params(r=0.2426, alpha=4.4137, a=0.793, b=2.4262)
            >>> fit.conditional_expected_purchases(39.0, frequency=[2], recency=[30.43], T=[38.86])
            array([1.226...])
        """
        x, tx, tt, cov = self._args(
            summary, frequency, recency, T, purchase_covariates, dropout_covariates
        )
        with np.errstate(all="ignore"):
            pa = special.expit(-np.asarray(self._log_odds_dead(x, tx, tt, cov), dtype=np.float64))
            out = pa * self._given_alive(x, tt, np.float64(t), cov)
        return finite("conditional_expected_purchases", out)

    def conditional_purchase_count_pmf(
        self,
        n: Any,
        t: float,
        summary: RFMSummary | None = None,
        *,
        frequency: Any = None,
        recency: Any = None,
        T: Any = None,
        purchase_covariates: Any = None,
        dropout_covariates: Any = None,
    ) -> FloatArray:
        """P(X(T, T+t) = n | history): exactly ``n`` purchases in the next ``t`` time units.

        A dead customer makes none; a customer alive at T continues as a new customer with the
        posterior parameters (r+x, α+T and the updated dropout distribution), so
        P = (1 − P(alive))·[n = 0] + P(alive)·P_new(n). ``n`` is a count or a 1-D array of
        counts; the result has one row per customer (and one column per count for an array).

        Examples:
            >>> from crmkit.clv import BetaGeoFit
            >>> fit = BetaGeoFit.from_params(r=0.2426, alpha=4.4137, a=0.793, b=2.4262)
            >>> pmf = fit.conditional_purchase_count_pmf(range(100), 39.0, frequency=[0, 5],
            ...     recency=[0, 30.0], T=[38.86, 38.86])
            >>> pmf.shape, pmf.sum(axis=1).round(6).tolist()
            ((2, 100), [1.0, 1.0])
        """
        if not (t >= 0 and math.isfinite(t)):
            raise InvalidInputError(f"t: must be a finite time >= 0 (got {t}).")
        counts = np.asarray(n, dtype=np.float64)
        if counts.ndim > 1 or np.any(counts < 0) or np.any(counts != np.round(counts)):
            raise InvalidInputError(
                "n: expected a whole number >= 0 or a 1-D array of them. Pass purchase counts."
            )
        x, tx, tt, cov = self._args(
            summary, frequency, recency, T, purchase_covariates, dropout_covariates
        )
        grid = np.atleast_1d(counts)
        with np.errstate(all="ignore"):
            pa = special.expit(-np.asarray(self._log_odds_dead(x, tx, tt, cov), dtype=np.float64))
            pa = np.broadcast_to(pa, x.shape)
            out = np.empty((x.size, grid.size))
            for lo in range(0, x.size, 4096):
                sl = slice(lo, lo + 4096)
                sub = {k: np.asarray(v)[sl] for k, v in cov.items()}
                alive = self._alive_pmf(x[sl], tt[sl], grid, float(t), sub)
                out[sl] = pa[sl, None] * alive + (1.0 - pa[sl, None]) * (grid == 0)
        out = np.clip(out, 0.0, 1.0)
        return finite("conditional_purchase_count_pmf", out if counts.ndim else out[:, 0])

    def log_likelihood_per_customer(
        self,
        summary: RFMSummary | None = None,
        *,
        frequency: Any = None,
        recency: Any = None,
        T: Any = None,
        purchase_covariates: Any = None,
        dropout_covariates: Any = None,
    ) -> FloatArray:
        """Each customer's log-likelihood under the fitted parameters (a density in time).

        Examples:
            >>> from crmkit.clv import BetaGeoFit
            >>> fit = BetaGeoFit.from_params(r=0.25, alpha=4.0, a=0.8, b=2.5)
            >>> fit.log_likelihood_per_customer(frequency=[0, 200], recency=[0, 38], T=[40, 40])
            array([ -0.59947382, 100.7957...])
        """
        x, tx, tt, cov = self._args(
            summary, frequency, recency, T, purchase_covariates, dropout_covariates
        )
        with np.errstate(all="ignore"):
            return finite("log_likelihood", self._loglik(x, tx, tt, cov))

    def discounted_expected_transactions(
        self,
        discount_rate: float,
        summary: RFMSummary | None = None,
        *,
        frequency: Any = None,
        recency: Any = None,
        T: Any = None,
        purchase_covariates: Any = None,
        dropout_covariates: Any = None,
    ) -> FloatArray:
        """DERT: ∫₀^∞ e^{-δt} dE[Y(t) | history] with continuous rate δ per time unit.

        Evaluated as δ ∫₀^∞ e^{-δt} E[Y(t)] dt by 40-point Gauss–Laguerre quadrature.

        Examples:
            >>> from crmkit.clv import ParetoNBDFit
            >>> fit = ParetoNBDFit.from_params(r=0.55, alpha=10.58, s=0.61, beta=11.67)
            >>> float(fit.discounted_expected_transactions(0.003, frequency=[2], recency=[30.43],
            ...       T=[38.86])[0]) > 0
            True
        """
        if not (discount_rate > 0 and math.isfinite(discount_rate)):
            raise InvalidInputError(
                f"discount_rate: must be > 0 (got {discount_rate}). DERT over an infinite horizon "
                "needs discounting."
            )
        x, tx, tt, cov = self._args(
            summary, frequency, recency, T, purchase_covariates, dropout_covariates
        )
        with np.errstate(all="ignore"):
            pa = special.expit(-np.asarray(self._log_odds_dead(x, tx, tt, cov), dtype=np.float64))
            total = np.zeros(x.size)
            for node, weight in zip(_LAGUERRE_X, _LAGUERRE_W, strict=True):
                total += weight * self._given_alive(x, tt, np.float64(node / discount_rate), cov)
        return finite("discounted_expected_transactions", pa * total)


def fit_btyd(
    fit_cls: Any,
    core: Any,
    starts: Any,
    links: dict[str, dict[str, float]],
    penalizer: float,
    summary: RFMSummary | None,
    frequency: Any,
    recency: Any,
    T: Any,
    weights: Any,
    purchase_covariates: Any,
    dropout_covariates: Any,
    *,
    model: str,
) -> Any:
    """Validate, compress, maximize and build the fit object of a continuous-time BTYD model."""
    if penalizer < 0:
        raise InvalidInputError(f"penalizer: negative ({penalizer}). Pass a value >= 0.")
    x, tx, t, ids = btyd_arrays(summary, frequency, recency, T)
    w = check_weights(weights, x.size, ids)
    covs: dict[str, tuple[FloatArray, float]] = {}
    for group, values in (("purchase", purchase_covariates), ("dropout", dropout_covariates)):
        if values is not None:
            mat = covariate_matrix(f"{group}_covariates", values, x.size)
            for pname, sign in links[group].items():
                covs[pname] = (mat, sign)
    rows = compress([x, tx, t], w, merge=not covs)
    if covs and rows.n < x.size:
        keep = w > 0
        covs = {k: (m[keep], s) for k, (m, s) in covs.items()}
    res = maximize(
        names=fit_cls._names,
        core=core,
        rows=rows,
        starts=starts,
        penalizer=penalizer,
        covariates=covs,
        model=model,
    )
    aic, bic = information_criteria(res.log_likelihood, res.n_parameters, res.n_customers)
    return fit_cls(
        **res.params,
        standard_errors=res.standard_errors,
        coefficients=res.coefficients,
        coefficient_errors=res.coefficient_errors,
        log_likelihood=res.log_likelihood,
        aic=aic,
        bic=bic,
        n_customers=res.n_customers,
        diagnostics=res.diagnostics,
    )
