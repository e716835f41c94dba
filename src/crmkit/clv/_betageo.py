"""BG/NBD (Fader, Hardie & Lee 2005) and MBG/NBD (Batislam, Denizel & Filiztekin 2007)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import attrs
import numpy as np
import numpy.typing as npt
from scipy import special

from crmkit.clv._btyd import BTYDFitMixin, FitResult, fit_btyd
from crmkit.clv._fitting import Rows, compress
from crmkit.clv._summary import RFMSummary

__all__ = ["BetaGeo", "BetaGeoFit", "ModifiedBetaGeo", "ModifiedBetaGeoFit"]

FloatArray = npt.NDArray[np.float64]


def _core(modified: bool) -> Any:
    shift = 1.0 if modified else 0.0

    def dropout_terms(a: Any, b: Any, xv: FloatArray) -> list[Any]:
        bx = b + xv + shift  # second Beta argument of the surviving term
        dead_ok = (xv > 0) if not modified else np.ones_like(xv, dtype=bool)
        denom = np.where(dead_ok, bx - 1.0, 1.0)
        dab = special.digamma(a + b)
        dabx = special.digamma(a + bx)
        return [
            special.betaln(a, bx) - special.betaln(a, b),
            np.where(dead_ok, np.log(a) - np.log(denom), -np.inf),
            dab - dabx,
            special.digamma(bx) - dabx - special.digamma(b) + dab,
            1.0 / denom,
        ]

    def core(p: Sequence[Any], rows: Rows) -> tuple[FloatArray, FloatArray]:
        r, alpha, a, b = p
        x = rows.columns[0]
        xs, cx = rows.tables[0], rows.codes[0]
        scalar_alpha = np.ndim(alpha) == 0
        if scalar_alpha:  # logs and reciprocals on the T and recency tables, one gather each
            tab_t = np.log(alpha + rows.tables[2])
            tab_x = np.log(alpha + rows.tables[1])
            lt, it = np.stack([tab_t, np.exp(-tab_t)])[:, rows.codes[2]]
            ltx, itx = np.stack([tab_x, np.exp(-tab_x)])[:, rows.codes[1]]
        else:
            lt = np.log(alpha + rows.columns[2])
            ltx = np.log(alpha + rows.columns[1])
            it, itx = np.exp(-lt), np.exp(-ltx)
        if np.ndim(a) == 0 and np.ndim(b) == 0:
            tab = np.stack(
                [
                    special.gammaln(r + xs) - special.gammaln(r),
                    special.digamma(r + xs) - special.digamma(r),
                    *dropout_terms(a, b, xs),
                ]
            )
            lg_r, dg_r, lbeta, c2, ga, gb, idenom = tab[:, cx]
        else:
            lg_r, dg_r = np.stack(
                [
                    special.gammaln(r + xs) - special.gammaln(r),
                    special.digamma(r + xs) - special.digamma(r),
                ]
            )[:, cx]
            lbeta, c2, ga, gb, idenom = dropout_terms(a, b, x)
        k = r + x
        la = np.log(alpha)
        t1 = -k * lt
        t2 = c2 - k * ltx
        m = np.logaddexp(t1, t2)
        w2 = np.exp(t2 - m)
        w1 = 1.0 - w2
        ll = lg_r + r * la + lbeta + m
        g = np.empty((4, x.size))
        g[0] = r * (dg_r + la - w1 * lt - w2 * ltx)
        g[1] = r - alpha * k * (w1 * it + w2 * itx)
        g[2] = a * ga + w2
        g[3] = b * (gb - w2 * idenom)
        return ll, g

    return core


def _expected_given_alive(k: Any, alpha_t: Any, a: Any, b_post: Any, t: Any) -> FloatArray:
    """E[purchases in (0, t] | alive] with λ ~ Gamma(k, alpha_t), p ~ Beta(a, b_post).

    E[(1 - (1 + p t/alpha_t)^(-k)) / p], through the Euler transform of the Gauss hypergeometric
    closed form when its third argument is comfortably positive, else by quadrature of
    k ∫_0^c 2F1(k+1, a; a+b_post; -u) du (same value; no cancellation).
    """
    k, alpha_t, a, b_post, t = np.broadcast_arrays(
        *(np.asarray(v, dtype=np.float64) for v in (k, alpha_t, a, b_post, t))
    )
    a = np.where(np.abs(a - 1.0) < 1e-7, 1.0 + 1e-7, a)
    c3 = a + b_post - 1.0
    z = t / (alpha_t + t)
    out = np.empty(k.shape)
    good = c3 > 0.5
    with np.errstate(all="ignore"):
        hyp = _hyp2f1(c3 - k, a - 1.0, c3, z)
        lh = np.log(np.where(hyp > 0, hyp, 1.0))
        closed = np.where(
            hyp > 0,
            c3 / (a - 1.0) * -np.expm1((a - 1.0) * np.log1p(-z) + lh),
            c3 / (a - 1.0) * (1.0 - (1.0 - z) ** (a - 1.0) * hyp),
        )
    bad = ~good | ~np.isfinite(closed)
    out[~bad] = closed[~bad]
    if bad.any():
        out[bad] = _expected_by_quadrature(k[bad], alpha_t[bad], a[bad], b_post[bad], t[bad])
    return np.maximum(out, 0.0)


_GL_X, _GL_W = np.polynomial.legendre.leggauss(48)


def _hyp2f1(a: Any, b: Any, c: Any, z: Any) -> Any:
    """scipy's 2F1 for 0 <= z < 1, retrying where it overflows on integer c - a - b.

    scipy returns inf on some integer c − a − b cases (e.g. 2F1(0.5, 1; 100.5; 0.98)); moving
    c by 1e-10 relative breaks the integer relation and changes the value by ~1e-10.
    """
    out = special.hyp2f1(a, b, c, z)
    bad = ~np.isfinite(out)
    if np.any(bad):
        a, b, c, z = np.broadcast_arrays(a, b, c, z)
        out = np.array(out, dtype=np.float64, copy=True)
        out[bad] = special.hyp2f1(a[bad], b[bad], c[bad] * (1 + 1e-10) + 1e-10, z[bad])
    return out


def _expected_by_quadrature(
    k: FloatArray, alpha_t: FloatArray, a: FloatArray, b_post: FloatArray, t: FloatArray
) -> FloatArray:
    c = t / alpha_t
    vmax = np.log1p(c)
    v = (_GL_X[None, :] + 1.0) / 2.0 * vmax[:, None]
    u = np.expm1(v)
    c = (a + b_post)[:, None]
    # Pfaff: 2F1(k+1, a; c; -u) = (1+u)^-a 2F1(a, c-k-1; c; u/(1+u)), a non-negative argument < 1.
    integrand = np.exp((1.0 - a[:, None]) * np.log1p(u)) * _hyp2f1(
        a[:, None], c - k[:, None] - 1.0, c, u / (1.0 + u)
    )
    return np.asarray(k * (integrand @ _GL_W) * vmax / 2.0, dtype=np.float64)


class _BetaGeoMethods(BTYDFitMixin):
    _modified: ClassVar[bool] = False
    r: float
    alpha: float
    a: float
    b: float

    def _params_for(self, n: int, cov: dict[str, Any]) -> tuple[Any, Any, Any, Any]:
        alpha = self._scaled("alpha", self.alpha, cov, n)
        a = self._scaled("a", self.a, cov, n)
        b = self._scaled("b", self.b, cov, n)
        return self.r, alpha, a, b

    def _loglik(self, x: FloatArray, tx: FloatArray, T: FloatArray, cov: dict[str, Any]) -> Any:
        rows = compress([x, tx, T], np.ones(x.size), merge=False)
        ll, _ = _core(self._modified)(self._params_for(x.size, cov), rows)
        return ll

    def _log_odds_dead(
        self, x: FloatArray, tx: FloatArray, T: FloatArray, cov: dict[str, Any]
    ) -> Any:
        r, alpha, a, b = self._params_for(x.size, cov)
        if self._modified:
            return np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
        denom = np.where(x > 0, b + x - 1.0, 1.0)
        lo = np.log(a) - np.log(denom) + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
        return np.where(x > 0, lo, -np.inf)

    def _b_post(self, b: Any, x: Any) -> Any:
        return b + x + (1.0 if self._modified else 0.0)

    def _survive(self, x: FloatArray, T: FloatArray, t: Any, cov: dict[str, Any]) -> Any:
        r, alpha, a, b = self._params_for(x.size, cov)
        c = t / (alpha + T)
        bp = self._b_post(b, x)
        # E[(1 + p c)^-(r+x)] for p ~ Beta(a, bp), Pfaff-transformed to a non-negative argument.
        with np.errstate(all="ignore"):
            h = _hyp2f1(a, a + bp - (r + x), a + bp, c / (1.0 + c))
            return np.clip(np.exp(-a * np.log1p(c)) * h, 0.0, 1.0)

    def _given_alive(self, x: FloatArray, T: FloatArray, t: Any, cov: dict[str, Any]) -> Any:
        r, alpha, a, b = self._params_for(x.size, cov)
        return _expected_given_alive(r + x, alpha + T, a, self._b_post(b, x), t)

    def expected_purchases(self, t: Any) -> FloatArray:
        """Expected purchases in ``(0, t]`` for a new customer (one who just made a first purchase).

        Examples:
            >>> fit = BetaGeoFit.from_params(r=0.2426, alpha=4.4137, a=0.793, b=2.4262)
            >>> round(float(fit.expected_purchases(39.0)), 3)
            1.195
        """
        t = np.asarray(t, dtype=np.float64)
        if self._modified:
            alive0 = self.b / (self.a + self.b)
            return np.asarray(
                alive0 * _expected_given_alive(self.r, self.alpha, self.a, self.b + 1.0, t)
            )
        return _expected_given_alive(self.r, self.alpha, self.a, self.b, t)

    def purchase_count_pmf(self, n: Any, t: Any) -> FloatArray:
        """P(X(t) = n) for a new customer: the probability of exactly ``n`` purchases in ``(0, t]``.

        Examples:
            >>> fit = BetaGeoFit.from_params(r=0.2426, alpha=4.4137, a=0.793, b=2.4262)
            >>> round(float(fit.purchase_count_pmf(range(200), 39.0).sum()), 6)
            1.0
        """
        n = np.asarray(n, dtype=np.float64)
        t = np.asarray(t, dtype=np.float64)
        return _nbd_beta_pmf(n, t, self.r, self.alpha, self.a, self.b, drop_at_zero=self._modified)

    def _alive_pmf(
        self, x: FloatArray, T: FloatArray, n: FloatArray, t: float, cov: dict[str, Any]
    ) -> FloatArray:
        r, alpha, a, b = self._params_for(x.size, cov)
        shift = 1.0 if self._modified else 0.0

        def col(v: Any) -> Any:
            return np.asarray(v, dtype=np.float64)[:, None] if np.ndim(v) else v

        # Alive at T: λ ~ Gamma(r+x, α+T), p ~ Beta(a, b+x(+1)); the future is that of a
        # BG/NBD customer who has just purchased (dropout only after later purchases).
        return _nbd_beta_pmf(
            n[None, :],
            np.float64(t),
            r + x[:, None],
            col(alpha) + T[:, None],
            col(a),
            col(b) + x[:, None] + shift,
            drop_at_zero=False,
        )


def _nbd_beta_pmf(
    n: Any, t: Any, r: Any, alpha: Any, a: Any, b: Any, *, drop_at_zero: bool
) -> FloatArray:
    """P(X(t) = n) for BG/NBD-type purchasing (FHL 2005, eq. 8), arrays broadcast.

    NB(n) B(a, b+n+s)/B(a, b) + B(a+1, b+n−1+s)/B(a, b) P(NB ≥ n), with s = 1 when the
    customer may also drop out at time 0 (MBG/NBD), and P(NB ≥ n) = I_{t/(α+t)}(n, r).
    """
    s = 1.0 if drop_at_zero else 0.0
    z = t / (alpha + t)
    lnb = (
        special.gammaln(r + n)
        - special.gammaln(r)
        - special.gammaln(n + 1.0)
        + r * np.log1p(-z)
        + special.xlogy(n, z)
    )
    lbab = special.betaln(a, b)
    alive = np.exp(special.betaln(a, b + n + s) - lbab + lnb)
    tail = np.where(n > 0, special.betainc(np.maximum(n, 1.0), r, z), 1.0)
    if not drop_at_zero:
        tail = np.where(n > 0, tail, 0.0)
    dead = np.exp(special.betaln(a + 1.0, np.maximum(b + n - 1.0 + s, 1e-300)) - lbab)
    return np.asarray(alive + dead * tail, dtype=np.float64)


@attrs.frozen(kw_only=True)
class BetaGeoFit(_BetaGeoMethods, FitResult):
    """A fitted BG/NBD model: parameters ``r``, ``alpha``, ``a``, ``b`` and the fit's diagnostics.

    Examples:
        >>> fit = BetaGeoFit.from_params(r=0.2426, alpha=4.4137, a=0.793, b=2.4262)
        >>> round(float(fit.p_alive(frequency=[0, 2], recency=[0, 30.43], T=[38.86, 38.86])[1]), 3)
        0.727
    """

    r: float
    alpha: float
    a: float
    b: float
    _modified: ClassVar[bool] = False
    _names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")


@attrs.frozen(kw_only=True)
class ModifiedBetaGeoFit(_BetaGeoMethods, FitResult):
    """A fitted MBG/NBD model: BG/NBD where a customer may also drop out at the first purchase.

    Examples:
        >>> fit = ModifiedBetaGeoFit.from_params(r=0.525, alpha=6.183, a=0.891, b=1.614)
        >>> 0 < float(fit.p_alive(frequency=[0], recency=[0], T=[38.86])[0]) < 1
        True
    """

    r: float
    alpha: float
    a: float
    b: float
    _modified: ClassVar[bool] = True
    _names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")


_STARTS = ((0.5, 5.0, 1.0, 2.0), (1.0, 1.0, 0.5, 5.0), (0.2, 20.0, 2.0, 1.0))
_LINKS = {"purchase": {"alpha": -1.0}, "dropout": {"a": 1.0, "b": 1.0}}


@attrs.frozen(kw_only=True)
class BetaGeo:
    """The BG/NBD specification (Fader, Hardie & Lee 2005): drop-out happens after a purchase.

    ``penalizer`` adds ``penalizer * Σ θ²`` (natural parameters) to the mean negative
    log-likelihood; ``n_starts`` optimizer starts are tried (the best is kept). Covariates are
    time-invariant: purchase covariates scale α by ``exp(-x·γ)``, dropout covariates scale a and b
    by ``exp(x·γ_a)`` and ``exp(x·γ_b)``.

    Examples:
        >>> from crmkit.clv import simulate_beta_geo
        >>> data = simulate_beta_geo(5000, T=40.0, r=0.25, alpha=4.0, a=0.8, b=2.5, rng=1)
        >>> fit = BetaGeo().fit(data)
        >>> round(fit.r, 1), fit.diagnostics.converged
        (0.2, True)
    """

    penalizer: float = 0.0
    n_starts: int = 1

    def fit(
        self,
        summary: RFMSummary | None = None,
        *,
        frequency: Any = None,
        recency: Any = None,
        T: Any = None,
        weights: Any = None,
        purchase_covariates: Any = None,
        dropout_covariates: Any = None,
    ) -> BetaGeoFit:
        """Fit by maximum likelihood; see the class docstring."""
        fit: BetaGeoFit = fit_btyd(
            BetaGeoFit,
            _core(False),
            _STARTS[: max(1, self.n_starts)],
            _LINKS,
            self.penalizer,
            summary,
            frequency,
            recency,
            T,
            weights,
            purchase_covariates,
            dropout_covariates,
            model="BetaGeo",
        )
        return fit


@attrs.frozen(kw_only=True)
class ModifiedBetaGeo:
    """The MBG/NBD specification (Batislam et al. 2007): BG/NBD with a drop-out chance at time 0.

    Examples:
        >>> from crmkit.clv import simulate_beta_geo
        >>> data = simulate_beta_geo(3000, T=40.0, r=0.5, alpha=6.0, a=0.9, b=1.6, modified=True,
        ...                          rng=2)
        >>> ModifiedBetaGeo().fit(data).diagnostics.converged
        True
    """

    penalizer: float = 0.0
    n_starts: int = 1

    def fit(
        self,
        summary: RFMSummary | None = None,
        *,
        frequency: Any = None,
        recency: Any = None,
        T: Any = None,
        weights: Any = None,
        purchase_covariates: Any = None,
        dropout_covariates: Any = None,
    ) -> ModifiedBetaGeoFit:
        """Fit by maximum likelihood; see the class docstring."""
        fit: ModifiedBetaGeoFit = fit_btyd(
            ModifiedBetaGeoFit,
            _core(True),
            _STARTS[: max(1, self.n_starts)],
            _LINKS,
            self.penalizer,
            summary,
            frequency,
            recency,
            T,
            weights,
            purchase_covariates,
            dropout_covariates,
            model="ModifiedBetaGeo",
        )
        return fit
