"""Pareto/NBD (Schmittlein, Morrison & Colombo 1987; Fader & Hardie 2005 note)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

import attrs
import numpy as np
import numpy.typing as npt
from scipy import special

from crmkit.clv._btyd import BTYDFitMixin, FitResult, fit_btyd
from crmkit.clv._fitting import Rows, compress, factorize_int, lift
from crmkit.clv._summary import RFMSummary
from crmkit.errors import DegenerateFitWarning

__all__ = ["ParetoNBD", "ParetoNBDFit"]

FloatArray = npt.NDArray[np.float64]


# Nodes for the tail integral: fixed outer panels in v (where e^v is small; beyond v = -28 the
# rest is below 1e-12 of the total) and geometric inner panels that shrink towards v = 0 down
# to a width set by the integrand's boundary layer.
_OUTER = np.array([28.0, 18.0, 11.5, 7.0, 4.5, 2.8, 1.6, 0.8])
_INNER = 8
_ZT, _WT = np.polynomial.legendre.leggauss(5)
_ZT = (_ZT + 1.0) / 2.0
_WT = _WT / 2.0
_CHUNK = 2048


def _tail(k: Any, alpha: Any, s: Any, beta: Any, t: Any) -> tuple[FloatArray, FloatArray]:
    """log F and the moments E[log(α+τ)], E[1/(α+τ)], E[log(β+τ)], E[1/(β+τ)] under F.

    F(t) = ∫_t^∞ (α+τ)^-k (β+τ)^-(s+1) dτ, the Gauss hypergeometric term of the Pareto/NBD
    likelihood: I = F(t_x) − F(T). With o = max(α, β), m = min(α, β) the integrand is
    (o+τ)^-(c+1) h(τ), c = k + s, and h = ((o+τ)/(m+τ))^e ≥ 1 (e = s+1 if α ≥ β, else k)
    decreases to 1. Substituting o+τ = (o+t) e^(-v/c) gives F = (o+t)^-c / c ∫_{-∞}^0 e^v h dv,
    whose integrand increases with v and decays at least like e^v; h may rise steeply in a
    layer of width about c (m+t)/(o+t) next to v = 0, which the geometric inner panels resolve.
    Evaluated in chunks so the node arrays stay in cache.
    """
    k, alpha, s, beta, t = np.broadcast_arrays(
        *(np.asarray(v, dtype=np.float64).ravel() for v in (k, alpha, s, beta, t))
    )
    n = k.size
    log_f = np.empty(n)
    mom = np.empty((4, n))
    o = np.maximum(alpha, beta)
    e = np.where(alpha >= beta, s + 1.0, k)
    ot = o + t
    # Width in v of the layer next to 0, shrunk by the power of h's rise across it.
    layer = np.clip((k + s) * (np.minimum(alpha, beta) + t) / ot, 0.0, None) / (
        8.0 * (1.0 + e * np.abs(alpha - beta) / ot)
    )
    deep = layer < 1e-3
    for sel, n_inner in ((np.flatnonzero(~deep), _INNER), (np.flatnonzero(deep), 2 * _INNER)):
        for lo in range(0, sel.size, _CHUNK):
            ix = sel[lo : lo + _CHUNK]
            log_f[ix], mom[:, ix] = _tail_chunk(
                k[ix], alpha[ix], s[ix], beta[ix], t[ix], layer[ix], n_inner
            )
    return log_f, mom


def _tail_chunk(
    k: FloatArray,
    alpha: FloatArray,
    s: FloatArray,
    beta: FloatArray,
    t: FloatArray,
    layer: FloatArray,
    n_inner: int,
) -> tuple[FloatArray, FloatArray]:
    c = k + s
    a_big = alpha >= beta
    o = np.maximum(alpha, beta)
    mn = np.minimum(alpha, beta)
    e = np.where(a_big, s + 1.0, k)
    ot = o + t
    mt = mn + t
    log_ot = np.log(ot)
    lo = np.clip(layer, 1e-14, 0.5)
    frac = np.linspace(0.0, 1.0, n_inner)[:-1]
    top_inner = np.log(_OUTER[-1])
    inner = np.exp(top_inner + frac * (np.log(lo) - top_inner)[:, None])
    outer = np.broadcast_to(_OUTER[:-1], (k.size, _OUTER.size - 1))
    edges = -np.concatenate([outer, inner, lo[:, None], np.zeros((k.size, 1))], axis=1)
    left = edges[:, :-1]
    width = edges[:, 1:] - left
    v = (left[:, :, None] + width[:, :, None] * _ZT).reshape(k.size, -1)
    wv = (width[:, :, None] * _WT).reshape(k.size, -1)
    y = v / c[:, None]  # log((o+t)/(o+τ))
    u = np.expm1(-y)
    m_tau = mt[:, None] + ot[:, None] * u
    l_m = np.log(m_tau)
    # v + log h - (its value at v = 0, the maximum): no overflow, no search for the maximum.
    arg = v + e[:, None] * (np.log(mt)[:, None] - y - l_m)
    wgt = wv * np.exp(arg)
    total = wgt.sum(axis=1)
    top = e * (log_ot - np.log(mt))
    log_f = -c * log_ot - np.log(c) + top + np.log(total)
    m_lo = log_ot - np.einsum("ij,ij->i", wgt, y) / total
    m_io = np.einsum("ij,ij->i", wgt, 1.0 / (1.0 + u)) / total / ot
    m_lm = np.einsum("ij,ij->i", wgt, l_m) / total
    m_im = np.einsum("ij,ij->i", wgt, 1.0 / m_tau) / total
    mom = np.where(
        a_big,
        np.stack([m_lo, m_io, m_lm, m_im]),
        np.stack([m_lm, m_im, m_lo, m_io]),
    )
    return log_f, mom


def _pairs(rows: Rows) -> dict[str, Any]:
    """Distinct (x, t) pairs over t in recency and T, and each row's two pair codes."""
    xs, txs, ts = rows.tables
    cx, ctx, ct = rows.codes
    times = np.union1d(txs, ts)
    n_t = max(times.size, 1)
    key = np.concatenate(
        [cx * n_t + np.searchsorted(times, txs)[ctx], cx * n_t + np.searchsorted(times, ts)[ct]]
    )
    uniq, codes = factorize_int(key, xs.size * n_t)
    return {
        "x": xs[uniq // n_t],
        "t": times[uniq % n_t],
        "at_tx": codes[: rows.n],
        "at_T": codes[rows.n :],
    }


def _tails(
    r: float, alpha: Any, s: float, beta: Any, rows: Rows
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """log F and moments at each row's recency and T (on distinct (x, t) pairs if possible)."""
    x, tx, T = rows.columns
    if np.ndim(alpha) == 0 and np.ndim(beta) == 0:
        if "pairs" not in rows.cache:
            rows.cache["pairs"] = _pairs(rows)
        pr = rows.cache["pairs"]
        lf, mom = _tail(r + pr["x"], alpha, s, beta, pr["t"])
        return lf[pr["at_tx"]], lf[pr["at_T"]], mom[:, pr["at_tx"]], mom[:, pr["at_T"]]
    lf_x, mom_x = _tail(r + x, alpha, s, beta, tx)
    lf_t, mom_t = _tail(r + x, alpha, s, beta, T)
    return lf_x, lf_t, mom_x, mom_t


def _log_i(lf_x: FloatArray, lf_t: FloatArray, tx: FloatArray, T: FloatArray) -> FloatArray:
    """log I = log(F(t_x) − F(T)); −inf when t_x = T."""
    gap = np.where(tx < T, lf_t - lf_x, 0.0)
    return np.asarray(lf_x + np.log(-np.expm1(gap)), dtype=np.float64)


def _core(p: Sequence[Any], rows: Rows) -> tuple[FloatArray, FloatArray]:
    r, alpha, s, beta = p
    x, tx, T = rows.columns
    xs, cx = rows.tables[0], rows.codes[0]
    lf_x, lf_t, mom_x, mom_t = _tails(r, alpha, s, beta, rows)
    sa = np.ndim(alpha) == 0
    sb = np.ndim(beta) == 0
    la_t = lift(rows, 2, sa, lambda v: np.log(alpha + v))
    ia_t = lift(rows, 2, sa, lambda v: 1.0 / (alpha + v))
    lb_t = lift(rows, 2, sb, lambda v: np.log(beta + v))
    ib_t = lift(rows, 2, sb, lambda v: 1.0 / (beta + v))
    k = r + x
    ls = np.log(s)
    la, lb = np.log(alpha), np.log(beta)
    t1 = -k * la_t - s * lb_t
    t2 = ls + _log_i(lf_x, lf_t, tx, T)
    m = np.logaddexp(t1, t2)
    ll = (special.gammaln(r + xs) - special.gammaln(r))[cx] + r * la + s * lb + m
    w1 = np.exp(t1 - m)
    w2 = np.exp(t2 - m)
    rx = np.exp(ls + lf_x - m)
    rt = np.where(tx < T, np.exp(ls + lf_t - m), rx)
    d = rx * mom_x - rt * mom_t
    g = np.empty((4, x.size))
    g[0] = r * ((special.digamma(r + xs) - special.digamma(r))[cx] + la - w1 * la_t - d[0])
    g[1] = r - alpha * k * (w1 * ia_t + d[1])
    g[2] = s * (lb - w1 * lb_t - d[2]) + w2
    g[3] = s - beta * (w1 * s * ib_t + (s + 1.0) * d[3])
    return ll, g


@attrs.frozen(kw_only=True)
class ParetoNBDFit(BTYDFitMixin, FitResult):
    """A fitted Pareto/NBD model: purchase rate λ ~ Gamma(r, α), dropout rate μ ~ Gamma(s, β).

    Examples:
        >>> fit = ParetoNBDFit.from_params(r=0.5143, alpha=2.8845, s=0.2856, beta=14.1087)
        >>> fit.conditional_expected_purchases(39.0, frequency=[132], recency=[200], T=[200])
        array([24.857...])
    """

    r: float
    alpha: float
    s: float
    beta: float
    _names: ClassVar[tuple[str, ...]] = ("r", "alpha", "s", "beta")

    def _params_for(self, n: int, cov: dict[str, Any]) -> tuple[Any, Any, Any, Any]:
        alpha = self._scaled("alpha", self.alpha, cov, n)
        beta = self._scaled("beta", self.beta, cov, n)
        return self.r, alpha, self.s, beta

    def _loglik(self, x: FloatArray, tx: FloatArray, T: FloatArray, cov: dict[str, Any]) -> Any:
        rows = compress([x, tx, T], np.ones(x.size), merge=False)
        ll, _ = _core(self._params_for(x.size, cov), rows)
        return ll

    def _log_odds_dead(
        self, x: FloatArray, tx: FloatArray, T: FloatArray, cov: dict[str, Any]
    ) -> Any:
        r, alpha, s, beta = self._params_for(x.size, cov)
        rows = compress([x, tx, T], np.ones(x.size), merge=False)
        lf_x, lf_t, _, _ = _tails(r, alpha, s, beta, rows)
        k = r + x
        log_i = _log_i(lf_x, lf_t, tx, T)
        return np.log(s) + log_i + k * np.log(alpha + T) + s * np.log(beta + T)

    def _survive(self, x: FloatArray, T: FloatArray, t: Any, cov: dict[str, Any]) -> Any:
        _, _, s, beta = self._params_for(x.size, cov)
        return np.exp(-s * np.log1p(t / (beta + T)))

    def _given_alive(self, x: FloatArray, T: FloatArray, t: Any, cov: dict[str, Any]) -> Any:
        r, alpha, s, beta = self._params_for(x.size, cov)
        lam = (r + x) / (alpha + T)
        return lam * _mean_alive_time(s, beta + T, t)

    def expected_purchases(self, t: Any) -> FloatArray:
        """Expected purchases in ``(0, t]`` for a new customer.

        Examples:
            >>> fit = ParetoNBDFit.from_params(r=0.55, alpha=10.58, s=0.61, beta=11.67)
            >>> round(float(fit.expected_purchases(39.0)), 3)
            1.202
        """
        t = np.asarray(t, dtype=np.float64)
        return np.asarray(self.r / self.alpha * _mean_alive_time(self.s, self.beta, t))

    def purchase_count_pmf(self, n: Any, t: Any) -> FloatArray:
        """P(X(t) = n) for a new customer, by quadrature over the dropout time.

        P = NB(n; t)·(β/(β+t))^s + ∫_v NB(n; τ(v)) dv, with v = (β/(β+τ))^s the survival function,
        so the PMF sums to one node by node.

        Examples:
            >>> fit = ParetoNBDFit.from_params(r=0.55, alpha=10.58, s=0.61, beta=11.67)
            >>> round(float(fit.purchase_count_pmf(range(300), 39.0).sum()), 8)
            1.0
        """
        n = np.asarray(n, dtype=np.float64)
        t = np.asarray(t, dtype=np.float64)
        return _pnbd_pmf(n, t, self.r, self.alpha, self.s, self.beta)

    def _alive_pmf(
        self, x: FloatArray, T: FloatArray, n: FloatArray, t: float, cov: dict[str, Any]
    ) -> FloatArray:
        r, alpha, s, beta = self._params_for(x.size, cov)

        def col(v: Any) -> Any:
            return np.asarray(v, dtype=np.float64)[:, None] if np.ndim(v) else v

        # Alive at T: λ ~ Gamma(r+x, α+T), μ ~ Gamma(s, β+T), and both processes are
        # memoryless, so the future is that of a new customer with these parameters.
        return _pnbd_pmf(
            n[None, :],
            np.float64(t),
            r + x[:, None],
            col(alpha) + T[:, None],
            s,
            col(beta) + T[:, None],
        )


_PMF_Z, _PMF_W = np.polynomial.legendre.leggauss(64)


def _pnbd_pmf(n: Any, t: Any, r: Any, alpha: Any, s: Any, beta: Any) -> FloatArray:
    """P(X(t) = n) for Pareto/NBD purchasing, arrays broadcast (nodes on a new last axis)."""
    n, t, r, alpha, s, beta = (
        np.asarray(v, dtype=np.float64)[..., None] for v in (n, t, r, alpha, s, beta)
    )

    def nb(tau: Any) -> Any:
        return np.exp(
            special.gammaln(r + n)
            - special.gammaln(r)
            - special.gammaln(n + 1.0)
            - r * np.log1p(tau / alpha)
            + special.xlogy(n, tau / (alpha + tau))
        )

    v_t = np.exp(-s * np.log1p(t / beta))
    v = v_t + (1.0 - v_t) * (_PMF_Z + 1.0) / 2.0
    tau = beta * np.expm1(-np.log(v) / s)
    dead = (nb(tau) * _PMF_W).sum(-1) * (1.0 - v_t[..., 0]) / 2.0
    return np.asarray(nb(t)[..., 0] * v_t[..., 0] + dead, dtype=np.float64)


def _mean_alive_time(s: Any, beta_t: Any, t: Any) -> Any:
    """E[min(lifetime, t)] for an exponential lifetime with rate ~ Gamma(s, beta_t)."""
    lr = np.log1p(t / beta_t)  # log((β+T+t)/(β+T))
    sm1 = s - 1.0
    # beta_t/(s-1) * (1 - (beta_t/(beta_t+t))^(s-1)); the limit at s = 1 is beta_t * log ratio.
    small = np.abs(sm1 * lr) < 1e-8
    safe = np.where(small, 1.0, sm1)
    general = beta_t * -np.expm1(-sm1 * lr) / safe
    return np.where(small, beta_t * lr * (1.0 - sm1 * lr / 2.0), general)


@attrs.frozen(kw_only=True)
class ParetoNBD:
    """The Pareto/NBD specification: Poisson purchases while alive, exponential lifetimes.

    The likelihood's hypergeometric term is I = F(t_x) − F(T) with F(t) = ∫_t^∞ (α+τ)^-(r+x)
    (β+τ)^-(s+1) dτ, each F by Gauss–Legendre quadrature on panels fitted to the integrand
    (stable at any frequency and any α/β ratio) and evaluated once per distinct (x, t) pair.
    Up to ``n_starts`` starts are tried, the next one only when the previous one fails (the
    surface is flat in β on short panels). A fit with s below 1e-3 warns
    ``DegenerateFitWarning``.

    Examples:
        >>> from crmkit.clv import simulate_pareto_nbd
        >>> data = simulate_pareto_nbd(5000, T=52.0, r=0.5, alpha=10.0, s=0.6, beta=12.0, rng=3)
        >>> ParetoNBD().fit(data).diagnostics.converged
        True
    """

    penalizer: float = 0.0
    n_starts: int = 3

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
    ) -> ParetoNBDFit:
        """Fit by maximum likelihood; see the class docstring."""
        starts = ((0.5, 10.0, 0.5, 10.0), (1.0, 1.0, 1.0, 1.0), (0.3, 5.0, 2.0, 40.0))
        fit: ParetoNBDFit = fit_btyd(
            ParetoNBDFit,
            _core,
            starts[: max(1, self.n_starts)],
            {"purchase": {"alpha": -1.0}, "dropout": {"beta": -1.0}},
            self.penalizer,
            summary,
            frequency,
            recency,
            T,
            weights,
            purchase_covariates,
            dropout_covariates,
            model="ParetoNBD",
        )
        if fit.s < 1e-3:
            warnings.warn(
                f"ParetoNBD: s = {fit.s:.3g} → 0; almost nobody drops out in this model and the "
                "dropout parameters are poorly identified.",
                DegenerateFitWarning,
                stacklevel=2,
            )
        return fit
