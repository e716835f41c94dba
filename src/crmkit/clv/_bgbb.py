"""BG/BB: discrete-time noncontractual purchasing (Fader, Hardie & Shang 2010)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import attrs
import numpy as np
import numpy.typing as npt
from scipy import special

from crmkit.clv._btyd import FitResult, finite
from crmkit.clv._fitting import Rows, check_weights, compress, information_criteria, maximize
from crmkit.clv._inputs import btyd_arrays, fail
from crmkit.clv._summary import RFMSummary
from crmkit.errors import InvalidInputError

__all__ = ["BetaGeoBetaBinom", "BetaGeoBetaBinomFit"]

FloatArray = npt.NDArray[np.float64]


def _dlb(p: Any, q: Any) -> tuple[Any, Any]:
    """Partial derivatives of log B(p, q)."""
    dpq = special.digamma(p + q)
    return special.digamma(p) - dpq, special.digamma(q) - dpq


def _core(p: Sequence[Any], rows: Rows) -> tuple[FloatArray, FloatArray]:
    alpha, beta, gamma, delta = p
    x, tx, n = rows.columns
    base = special.betaln(alpha, beta) + special.betaln(gamma, delta)
    da0, db0 = _dlb(alpha, beta)
    dg0, dd0 = _dlb(gamma, delta)
    # Term "alive through n": B(α+x, β+n-x) B(γ, δ+n).
    terms = [special.betaln(alpha + x, beta + n - x) + special.betaln(gamma, delta + n) - base]
    pa, pb = _dlb(alpha + x, beta + n - x)
    pg, pd = _dlb(gamma, delta + n)
    grads = [np.stack([pa - da0, pb - db0, pg - dg0, pd - dd0])]
    # Terms "died after opportunity t_x + i", i = 0 .. n - t_x - 1.
    gap = n - tx
    for i in range(int(gap.max(initial=0))):
        ok = gap > i
        t = (
            special.betaln(alpha + x, beta + tx - x + i)
            + special.betaln(gamma + 1.0, delta + tx + i)
            - base
        )
        terms.append(np.where(ok, t, -np.inf))
        pa, pb = _dlb(alpha + x, beta + tx - x + i)
        pg, pd = _dlb(gamma + 1.0, delta + tx + i)
        grads.append(np.stack([pa - da0, pb - db0, pg - dg0, pd - dd0]))
    stacked = np.stack(terms)
    ll = special.logsumexp(stacked, axis=0)
    w = np.exp(stacked - ll)
    g = np.einsum("jn,jkn->kn", w, np.stack(grads))
    g *= np.array([alpha, beta, gamma, delta])[:, None]
    return ll, g


def _arrays(
    summary: RFMSummary | None, frequency: Any, recency: Any, T: Any
) -> tuple[FloatArray, FloatArray, FloatArray, Any]:
    x, tx, n, ids = btyd_arrays(summary, frequency, recency, T)
    fail(
        "recency",
        tx != np.round(tx),
        tx,
        ids,
        "non-integer values",
        "In BG/BB recency is the opportunity of the last purchase; pass whole numbers.",
    )
    fail(
        "T",
        n != np.round(n),
        n,
        ids,
        "non-integer values",
        "In BG/BB, T is the number of transaction opportunities; pass whole numbers.",
    )
    fail(
        "frequency",
        x > tx,
        x,
        ids,
        "frequency > recency",
        "In BG/BB a customer with x purchases has its last one at opportunity >= x.",
    )
    return x, tx, n, ids


@attrs.frozen(kw_only=True)
class BetaGeoBetaBinomFit(FitResult):
    """A fitted BG/BB model: purchase probability p ~ Beta(α, β), dropout θ ~ Beta(γ, δ).

    Examples:
        >>> fit = BetaGeoBetaBinomFit.from_params(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783)
        >>> round(float(fit.expected_purchases(5)), 3)
        1.938
    """

    alpha: float
    beta: float
    gamma: float
    delta: float
    _names: ClassVar[tuple[str, ...]] = ("alpha", "beta", "gamma", "delta")
    #: Time is counted in transaction opportunities (see ``expected_clv``).
    discrete_time: ClassVar[bool] = True

    def _lik_terms(self, x: FloatArray, tx: FloatArray, n: FloatArray) -> FloatArray:
        rows = compress([x, tx, n], np.ones(x.size), merge=False)
        ll, _ = _core(list(self.params.values()), rows)
        return ll

    def log_likelihood_per_customer(
        self,
        summary: RFMSummary | None = None,
        *,
        frequency: Any = None,
        recency: Any = None,
        T: Any = None,
    ) -> FloatArray:
        """Each customer's log-likelihood (T = number of opportunities).

        Examples:
            >>> fit = BetaGeoBetaBinomFit.from_params(alpha=1.2, beta=0.75, gamma=0.66, delta=2.8)
            >>> bool(fit.log_likelihood_per_customer(frequency=[6], recency=[6], T=[6])[0] < 0)
            True
        """
        x, tx, n, _ = _arrays(summary, frequency, recency, T)
        with np.errstate(all="ignore"):
            return finite("log_likelihood", self._lik_terms(x, tx, n))

    def p_alive(
        self,
        summary: RFMSummary | None = None,
        *,
        frequency: Any = None,
        recency: Any = None,
        T: Any = None,
        t: int = 0,
    ) -> FloatArray:
        """P(alive at opportunity n + 1 + t) given the history over n opportunities.

        Examples:
            >>> fit = BetaGeoBetaBinomFit.from_params(alpha=1.2, beta=0.75, gamma=0.66, delta=2.8)
            >>> fit.p_alive(frequency=[0, 6], recency=[0, 6], T=[6, 6]).round(3)
            array([0.109, 0.93 ])
        """
        x, tx, n, _ = _arrays(summary, frequency, recency, T)
        a, b, g, d = self.alpha, self.beta, self.gamma, self.delta
        with np.errstate(all="ignore"):
            lp = (
                special.betaln(a + x, b + n - x)
                - special.betaln(a, b)
                + special.betaln(g, d + n + 1.0 + t)
                - special.betaln(g, d)
                - self._lik_terms(x, tx, n)
            )
        return finite("p_alive", np.clip(np.exp(lp), 0.0, 1.0))

    def conditional_expected_purchases(
        self,
        t: int,
        summary: RFMSummary | None = None,
        *,
        frequency: Any = None,
        recency: Any = None,
        T: Any = None,
    ) -> FloatArray:
        """Expected purchases in the next ``t`` opportunities given the history (FHS 2010, eq. 13).

        Computed as a finite sum over the next opportunities (no 0/0 at γ = 1).

        Examples:
            >>> fit = BetaGeoBetaBinomFit.from_params(alpha=1.2, beta=0.75, gamma=0.66, delta=2.8)
            >>> fit.conditional_expected_purchases(5, frequency=[6], recency=[6], T=[6]).round(2)
            array([3.75])
        """
        x, tx, n, _ = _arrays(summary, frequency, recency, T)
        a, b, g, d = self.alpha, self.beta, self.gamma, self.delta
        with np.errstate(all="ignore"):
            head = (
                special.betaln(a + x + 1.0, b + n - x)
                - special.betaln(a, b)
                - special.betaln(g, d)
                - self._lik_terms(x, tx, n)
            )
            total = np.zeros(x.size)
            for k in range(1, int(t) + 1):
                total += np.exp(head + special.betaln(g, d + n + k))
        return finite("conditional_expected_purchases", total)

    def expected_purchases(self, t: Any) -> FloatArray:
        """Expected purchases in the first ``t`` opportunities for a new customer.

        Examples:
            >>> fit = BetaGeoBetaBinomFit.from_params(alpha=1.2, beta=0.75, gamma=0.66, delta=2.8)
            >>> fit.expected_purchases([1, 6]).round(3)
            array([0.498, 2.217])
        """
        t = np.asarray(t, dtype=np.int64)
        a, b, g, d = self.alpha, self.beta, self.gamma, self.delta
        ks = np.arange(1, int(t.max(initial=0)) + 1)
        per = a / (a + b) * np.exp(special.betaln(g, d + ks) - special.betaln(g, d))
        cum = np.r_[0.0, np.cumsum(per)]
        return finite("expected_purchases", cum[t])

    def purchase_count_pmf(self, x: Any, t: int) -> FloatArray:
        """P(X(t) = x) in the first ``t`` opportunities for a new customer (FHS 2010, eq. 8).

        Examples:
            >>> fit = BetaGeoBetaBinomFit.from_params(alpha=1.2, beta=0.75, gamma=0.66, delta=2.8)
            >>> round(float(fit.purchase_count_pmf(range(7), 6).sum()), 10)
            1.0
        """
        x = np.asarray(x, dtype=np.float64)
        a, b, g, d = self.alpha, self.beta, self.gamma, self.delta
        lbab, lbgd = special.betaln(a, b), special.betaln(g, d)
        with np.errstate(all="ignore"):
            out = np.exp(
                _lchoose(t, x)
                + special.betaln(a + x, b + t - x)
                - lbab
                + special.betaln(g, d + t)
                - lbgd
            )
            for i in range(int(t)):
                term = np.exp(
                    _lchoose(i, x)
                    + special.betaln(a + x, b + i - x)
                    - lbab
                    + special.betaln(g + 1.0, d + i)
                    - lbgd
                )
                out = out + np.where(x <= i, term, 0.0)
        out = np.where((x >= 0) & (x <= t), out, 0.0)
        return finite("purchase_count_pmf", out)


def _lchoose(n: Any, k: Any) -> Any:
    return special.gammaln(n + 1.0) - special.gammaln(k + 1.0) - special.gammaln(n - k + 1.0)


@attrs.frozen(kw_only=True)
class BetaGeoBetaBinom:
    """The BG/BB specification for discrete transaction opportunities (donations, events).

    ``T`` is the number of opportunities, ``recency`` the opportunity of the last purchase and
    ``frequency`` the number of repeat purchases (all whole numbers).

    Examples:
        >>> spec = BetaGeoBetaBinom()
        >>> fit = spec.fit(frequency=[0, 1, 3, 6], recency=[0, 4, 5, 6], T=[6, 6, 6, 6],
        ...                weights=[30, 20, 25, 25])
        >>> fit.diagnostics.converged
        True
    """

    penalizer: float = 0.0
    n_starts: int = 2

    def fit(
        self,
        summary: RFMSummary | None = None,
        *,
        frequency: Any = None,
        recency: Any = None,
        T: Any = None,
        weights: Any = None,
    ) -> BetaGeoBetaBinomFit:
        """Fit by maximum likelihood (identical rows are compressed into weights)."""
        if self.penalizer < 0:
            raise InvalidInputError(f"penalizer: negative ({self.penalizer}). Pass >= 0.")
        x, tx, n, ids = _arrays(summary, frequency, recency, T)
        w = check_weights(weights, x.size, ids)
        rows = compress([x, tx, n], w)
        starts = ((1.0, 1.0, 1.0, 1.0), (0.5, 2.0, 0.5, 5.0))[: max(1, self.n_starts)]
        res = maximize(
            names=BetaGeoBetaBinomFit._names,
            core=_core,
            rows=rows,
            starts=starts,
            penalizer=self.penalizer,
            model="BetaGeoBetaBinom",
        )
        aic, bic = information_criteria(res.log_likelihood, res.n_parameters, res.n_customers)
        return BetaGeoBetaBinomFit(
            **res.params,
            standard_errors=res.standard_errors,
            log_likelihood=res.log_likelihood,
            aic=aic,
            bic=bic,
            n_customers=res.n_customers,
            diagnostics=res.diagnostics,
        )
