"""Maximum likelihood on log-parameters: L-BFGS-B with analytic gradients, Newton polishing,
multi-start, Hessian standard errors, weights, L2 penalty and compression of identical rows."""

from __future__ import annotations

import contextlib
import importlib
import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt
from scipy import optimize

from crmkit.errors import ConvergenceError, DegenerateFitWarning, InvalidInputError

__all__ = ["FitDiagnostics"]

log = logging.getLogger("crmkit.clv")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
#: core(params, rows) -> (log-likelihood per row, gradient w.r.t. log-parameters, shape (k, n)).
Core = Callable[[Sequence[Any], "Rows"], tuple[FloatArray, FloatArray]]

_LOG_BOUND = 18.0
_COEF_BOUND = 50.0
_SUBSAMPLE_ROWS = 5_000
_GTOL = 1e-4


@attrs.frozen(kw_only=True)
class FitDiagnostics:
    """How the optimizer ended: iterations, evaluations, the gradient at the optimum, starts.

    ``gradient_norm`` is the largest absolute gradient of the mean negative log-likelihood with
    respect to the log-parameters at the optimum; ``n_rows`` counts the distinct rows that the
    likelihood was evaluated on after compression, ``n_customers`` the sum of the weights.

    Examples:
        >>> d = FitDiagnostics(converged=True, n_iterations=12, n_evaluations=15,
        ...     gradient_norm=1e-7, message="ok", n_starts=1, n_customers=10.0, n_rows=4,
        ...     penalizer=0.0)
        >>> d.converged
        True
    """

    converged: bool
    n_iterations: int
    n_evaluations: int
    gradient_norm: float
    message: str
    n_starts: int
    n_customers: float
    n_rows: int
    penalizer: float


@attrs.frozen(kw_only=True)
class MLResult:
    """Internal: the optimum in log-parameter space and what the fit objects are built from."""

    params: dict[str, Any]
    standard_errors: dict[str, float]
    coefficients: dict[str, FloatArray]
    coefficient_errors: dict[str, FloatArray]
    log_likelihood: float
    n_parameters: int
    n_customers: float
    diagnostics: FitDiagnostics


def wsum(values: Any, weights: FloatArray) -> Any:
    """Weighted sum over the last axis without BLAS.

    A BLAS dot product wakes OpenBLAS's thread pool, which on a busy machine costs more than
    the sum itself and slows the optimizer's own small BLAS calls afterwards.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        return float(np.einsum("i,i->", values, weights))
    return np.einsum("ki,i->k", values, weights)


def factorize(values: FloatArray) -> tuple[FloatArray, IntArray]:
    """(distinct values in increasing order, code of each value) for a float column.

    Whole numbers (or whole multiples of 1/7 or 1/24, as days in weeks or hours in days) with a
    modest range are coded by offset without sorting; anything else falls back to np.unique.
    """
    n = values.size
    if n == 0:
        return values.copy(), np.zeros(0, np.int64)
    lo_v, hi_v = float(values.min()), float(values.max())
    for scale in (1.0, 7.0, 24.0):
        lo, hi = round(lo_v * scale), round(hi_v * scale)
        if hi - lo > 4 * n + 1024:
            break
        scaled = values * scale if scale != 1.0 else values
        whole = np.rint(scaled)
        if not np.allclose(scaled, whole, rtol=0.0, atol=1e-9 * max(1.0, abs(lo), abs(hi))):
            continue
        offset = whole.astype(np.int64)
        offset -= lo
        present = np.zeros(hi - lo + 1, dtype=bool)
        present[offset] = True
        remap = np.cumsum(present, dtype=np.int64) - 1
        codes = remap[offset]
        table = np.empty(int(remap[-1]) + 1)
        table[codes] = values
        return table, codes
    table, inverse = np.unique(values, return_inverse=True)
    return table, inverse.astype(np.int64).reshape(-1)


def factorize_int(key: IntArray, span: int) -> tuple[IntArray, IntArray]:
    """(distinct keys in increasing order, code of each key) for integer keys in [0, span)."""
    if key.size and span <= 4 * key.size + 1024:
        present = np.zeros(span, dtype=bool)
        present[key] = True
        remap = np.cumsum(present, dtype=np.int64) - 1
        return np.flatnonzero(present).astype(np.int64), remap[key]
    uniq, inverse = np.unique(key, return_inverse=True)
    return uniq.astype(np.int64), inverse.astype(np.int64).reshape(-1)


@attrs.frozen(eq=False)
class Rows:
    """Likelihood rows: per column a table of distinct values and a code per row.

    ``columns`` are the gathered values; cores evaluate anything that depends on one column
    and scalar parameters (special functions, logarithms) on the small tables and gather.
    ``cache`` holds a core's own precomputed structure for these rows.
    """

    tables: tuple[FloatArray, ...]
    codes: tuple[IntArray, ...]
    weights: FloatArray
    columns: tuple[FloatArray, ...] = attrs.field(init=False)
    cache: dict[str, Any] = attrs.field(init=False, factory=dict)

    def __attrs_post_init__(self) -> None:
        cols = tuple(t[c] for t, c in zip(self.tables, self.codes, strict=True))
        object.__setattr__(self, "columns", cols)

    @property
    def n(self) -> int:
        return int(self.weights.size)

    def take(self, rows: IntArray, scale: float = 1.0) -> Rows:
        return Rows(self.tables, tuple(c[rows] for c in self.codes), self.weights[rows] * scale)


def lift(rows: Rows, j: int, scalar: bool, fn: Callable[[FloatArray], Any]) -> Any:
    """``fn`` of column ``j``: on its table and gathered when the parameters inside ``fn`` are
    scalars (no covariates), else row by row."""
    if scalar:
        return np.asarray(fn(rows.tables[j]))[rows.codes[j]]
    return fn(rows.columns[j])


def compress(columns: Sequence[FloatArray], weights: FloatArray, *, merge: bool = True) -> Rows:
    """Rows of ``columns``; with ``merge``, identical rows collapse into one summing the weights.

    Each column is factorized on its own, the codes are packed into one int64 key and the key is
    made unique (by counting when its range is small, else by one sort). Zero weights drop out.
    """
    tables, codes = zip(*(factorize(np.asarray(c, dtype=np.float64)) for c in columns), strict=True)
    sizes = [max(t.size, 1) for t in tables]
    if merge and weights.size and float(np.prod(np.array(sizes, dtype=np.float64))) < 2.0**62:
        key = codes[0].copy()
        for c, size in zip(codes[1:], sizes[1:], strict=True):
            key *= size
            key += c
        span = int(np.prod(np.array(sizes, dtype=np.int64)))
        if span <= 4 * key.size + 1024:
            summed = np.bincount(key, weights=weights, minlength=span)
            ukey = np.flatnonzero(summed > 0).astype(np.int64)  # zero weights drop out anyway
            w: FloatArray = np.asarray(summed[ukey], dtype=np.float64)
        else:
            order = np.argsort(key)
            skey = key[order]
            starts = np.flatnonzero(np.r_[True, skey[1:] != skey[:-1]])
            ukey = skey[starts]
            w = np.asarray(np.add.reduceat(weights[order], starts), dtype=np.float64)
        out: list[IntArray] = []
        for size in sizes[::-1]:
            out.append(ukey % size)
            ukey = ukey // size
        codes = tuple(out[::-1])
    else:
        w = weights
    keep = w > 0
    if not keep.all():
        codes = tuple(c[keep] for c in codes)
        w = w[keep]
    return Rows(tuple(tables), tuple(codes), np.asarray(w, dtype=np.float64))


@attrs.frozen
class _Problem:
    names: tuple[str, ...]
    core: Core
    rows: Rows
    covariates: Mapping[str, tuple[FloatArray, float]]
    penalizer: float

    @property
    def n_base(self) -> int:
        return len(self.names)

    @property
    def weights(self) -> FloatArray:
        return self.rows.weights

    def layout(self) -> list[tuple[str, int, int]]:
        out, pos = [], self.n_base
        for name in self.names:
            if name in self.covariates:
                m = self.covariates[name][0].shape[1]
                out.append((name, pos, pos + m))
                pos += m
        return out

    def n_theta(self) -> int:
        return self.n_base + sum(b - a for _, a, b in self.layout())

    def subset(self, rows: IntArray, scale: float) -> _Problem:
        cov = {k: (x[rows], s) for k, (x, s) in self.covariates.items()}
        return _Problem(self.names, self.core, self.rows.take(rows, scale), cov, self.penalizer)

    def params(self, theta: FloatArray) -> list[Any]:
        out: list[Any] = []
        blocks = {name: (a, b) for name, a, b in self.layout()}
        for j, name in enumerate(self.names):
            if name in blocks:
                a, b = blocks[name]
                x, sign = self.covariates[name]
                out.append(np.exp(theta[j] + sign * np.einsum("ik,k->i", x, theta[a:b])))
            else:
                out.append(float(np.exp(theta[j])))
        return out

    def total(self, theta: FloatArray) -> tuple[float, FloatArray]:
        """Weighted log-likelihood and its gradient w.r.t. theta, in one pass (the last one is
        remembered: the optimizer, the polishing and the result ask for the same point)."""
        memo = self.rows.cache.get("last_total")
        if memo is not None and np.array_equal(memo[0], theta):
            return memo[1], memo[2].copy()
        with np.errstate(all="ignore"):
            ll, g = self.core(self.params(theta), self.rows)
            total = wsum(ll, self.weights)
            grad = np.empty(theta.size)
            grad[: self.n_base] = wsum(g, self.weights)
            for name, a, b in self.layout():
                x, sign = self.covariates[name]
                j = self.names.index(name)
                grad[a:b] = sign * np.einsum("ik,i->k", x, g[j] * self.weights)
        self.rows.cache["last_total"] = (theta.copy(), total, grad.copy())
        return total, grad

    def objective(self, theta: FloatArray, n: float) -> tuple[float, FloatArray]:
        total, grad = self.total(theta)
        f = -total / n
        g = -grad / n
        if self.penalizer > 0:
            base = np.exp(2 * theta[: self.n_base])
            f += self.penalizer * (base.sum() + float(theta[self.n_base :] @ theta[self.n_base :]))
            g[: self.n_base] += 2 * self.penalizer * base
            g[self.n_base :] += 2 * self.penalizer * theta[self.n_base :]
        if not (np.isfinite(f) and np.all(np.isfinite(g))):
            return 1e30, np.zeros_like(theta)
        return f, g

    def hessian(self, theta: FloatArray, n: float) -> FloatArray:
        """Hessian of the objective: central differences of the analytic gradient (2k
        evaluations, step 1e-5 in log-parameters)."""
        k = theta.size
        h = 1e-5
        hess = np.empty((k, k))
        for j in range(k):
            e = np.zeros(k)
            e[j] = h
            _, gp = self.objective(theta + e, n)
            _, gm = self.objective(theta - e, n)
            hess[:, j] = (gp - gm) / (2 * h)
        return (hess + hess.T) / 2


def _run(problem: _Problem, theta0: FloatArray, gtol: float) -> optimize.OptimizeResult:
    n = float(problem.weights.sum())
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * problem.n_base + [(-_COEF_BOUND, _COEF_BOUND)] * (
        problem.n_theta() - problem.n_base
    )
    return optimize.minimize(
        problem.objective,
        theta0,
        args=(n,),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": 2000, "ftol": 1e-14, "gtol": gtol, "maxcor": 20},
    )


def _newton(
    problem: _Problem, theta: FloatArray, n: float, free: npt.NDArray[np.bool_]
) -> tuple[FloatArray, FloatArray, int]:
    """Polish with Newton steps on the free coordinates; returns (theta, Hessian, evaluations).

    L-BFGS-B stops at a loose tolerance; near the optimum the likelihood is close to quadratic,
    so one or two Newton steps with a Hessian from the analytic gradient reach full precision
    (and the last Hessian is the one the standard errors need).
    """
    k = theta.size
    evals = 0
    f, g = problem.objective(theta, n)
    hess = problem.hessian(theta, n)
    evals += 1 + 2 * k
    for _ in range(3):
        idx = np.flatnonzero(free)
        if idx.size == 0 or float(np.max(np.abs(g[idx]))) < 1e-10:
            break
        sub = hess[np.ix_(idx, idx)]
        try:
            step = -np.linalg.solve(sub, g[idx])
        except np.linalg.LinAlgError:
            break
        if not np.all(np.isfinite(step)) or float(g[idx] @ step) >= 0:
            break
        trial = theta.copy()
        trial[idx] += step
        bound = np.r_[np.full(problem.n_base, _LOG_BOUND), np.full(k - problem.n_base, 50.0)]
        trial = np.clip(trial, -bound, bound)
        ft, gt = problem.objective(trial, n)
        evals += 1
        if not ft <= f + 1e-12 * abs(f):
            break
        theta, f, g = trial, ft, gt
        if float(np.max(np.abs(step))) < 1e-4:
            break
        hess = problem.hessian(theta, n)
        evals += 2 * k
    return theta, hess, evals


def _fixed_hessian_steps(
    stage: _Problem, problem: _Problem, theta: FloatArray, n: float
) -> tuple[FloatArray, int, bool]:
    """From the subsample optimum, quasi-Newton steps on all rows with the subsample's Hessian.

    The subsample's Hessian (per customer) is close to the full one, so each step costs one
    evaluation on all rows and the error shrinks by a constant factor. Returns (theta,
    evaluations, converged); on failure the caller falls back to L-BFGS-B on all rows.
    """
    n_stage = float(stage.weights.sum())
    hess = stage.hessian(theta, n_stage)
    evals = 0
    try:
        eig = np.linalg.eigvalsh(hess)
    except np.linalg.LinAlgError:
        return theta, evals, False
    if not (np.all(np.isfinite(eig)) and eig.min() > 1e-10 * max(eig.max(), 1e-300)):
        return theta, evals, False
    bound = np.r_[
        np.full(problem.n_base, _LOG_BOUND), np.full(theta.size - problem.n_base, _COEF_BOUND)
    ]
    f, g = problem.objective(theta, n)
    evals += 1
    for _ in range(40):
        if float(np.max(np.abs(g))) < 1e-6:  # Newton polishing takes it from here
            return theta, evals, True
        step = -np.linalg.solve(hess, g)
        for _ in range(6):
            trial = np.clip(theta + step, -bound, bound)
            ft, gt = problem.objective(trial, n)
            evals += 1
            if ft <= f:
                break
            step /= 4.0
        else:
            return theta, evals, False
        theta, f, g = trial, ft, gt
    return theta, evals, float(np.max(np.abs(g))) < 1e-6


def _one_blas_thread() -> contextlib.AbstractContextManager[Any]:
    """One BLAS thread while optimizing, when the optional threadpoolctl is installed.

    scipy's L-BFGS-B calls BLAS on vectors of a few entries; on a busy machine each call that
    wakes OpenBLAS's thread pool costs milliseconds (measured here: 15-20 ms per iteration
    against 0.05 ms with one thread), which dominates small fits. Without threadpoolctl
    nothing changes.
    """
    try:
        tpc = importlib.import_module("threadpoolctl")
    except ImportError:
        return contextlib.nullcontext()
    limits: contextlib.AbstractContextManager[Any] = tpc.threadpool_limits(
        limits=1, user_api="blas"
    )
    return limits


def maximize(
    *,
    names: tuple[str, ...],
    core: Core,
    rows: Rows,
    starts: Sequence[Sequence[float]],
    penalizer: float = 0.0,
    covariates: Mapping[str, tuple[FloatArray, float]] | None = None,
    model: str,
) -> MLResult:
    """Fit by L-BFGS-B, then Newton polishing (see ``_maximize``), with one BLAS thread."""
    with _one_blas_thread():
        return _maximize(
            names=names,
            core=core,
            rows=rows,
            starts=starts,
            penalizer=penalizer,
            covariates=covariates,
            model=model,
        )


def _maximize(
    *,
    names: tuple[str, ...],
    core: Core,
    rows: Rows,
    starts: Sequence[Sequence[float]],
    penalizer: float = 0.0,
    covariates: Mapping[str, tuple[FloatArray, float]] | None = None,
    model: str,
) -> MLResult:
    """Fit by L-BFGS-B, then Newton polishing with the Hessian of the analytic gradient.

    With more than 10,000 rows the starts run on a systematic subsample of 5,000 rows first and
    the optimum continues on all rows by steps with the subsample's Hessian; the next start is
    tried only when the previous one fails.
    """
    problem = _Problem(names, core, rows, dict(covariates or {}), penalizer)
    weights = rows.weights
    n_rows = rows.n
    n = float(weights.sum())
    n_extra = problem.n_theta() - problem.n_base
    thetas = [np.r_[np.log(np.asarray(s, float)), np.zeros(n_extra)] for s in starts]
    stage = problem
    if n_rows > 2 * _SUBSAMPLE_ROWS:
        step = n_rows // _SUBSAMPLE_ROWS
        sample = np.arange(0, n_rows, step)
        stage = problem.subset(sample, float(weights.sum() / weights[sample].sum()))
    results: list[optimize.OptimizeResult] = []
    for t0 in thetas:
        res = _run(stage, t0, 1e-6 if stage is not problem else 1e-9)
        results.append(res)
        if res.success and np.isfinite(res.fun):
            break  # further starts only when this one failed
    best = min(results, key=lambda r: r.fun if np.isfinite(r.fun) else np.inf)
    n_eval = sum(int(r.nfev) for r in results)
    n_iter = sum(int(r.nit) for r in results)
    theta = np.asarray(best.x, dtype=np.float64)
    if stage is not problem:
        theta, used, ok = _fixed_hessian_steps(stage, problem, theta, n)
        n_eval += used
        if not ok:
            best = _run(problem, theta, 1e-7)
            theta = np.asarray(best.x, dtype=np.float64)
            n_eval += int(best.nfev)
            n_iter += int(best.nit)
    free = np.r_[
        np.abs(np.abs(theta[: problem.n_base]) - _LOG_BOUND) > 1e-6, np.ones(n_extra, bool)
    ]
    theta, hess, extra = _newton(problem, theta, n, free)
    n_eval += extra
    f, g = problem.objective(theta, n)
    gfree = g[free]
    gnorm = float(np.max(np.abs(gfree))) if gfree.size else 0.0
    converged = bool(np.isfinite(f) and f < 1e29 and gnorm < _GTOL)
    diag = FitDiagnostics(
        converged=converged,
        n_iterations=n_iter,
        n_evaluations=n_eval,
        gradient_norm=gnorm,
        message=str(best.message),
        n_starts=len(thetas),
        n_customers=n,
        n_rows=n_rows,
        penalizer=penalizer,
    )
    if not converged:
        raise ConvergenceError(
            f"{model}: the optimizer did not converge (message {best.message!r}, "
            f"{n_iter} iterations, largest gradient {gnorm:.3g}, objective {f:.6g}, "
            f"log-parameters {np.round(theta, 4).tolist()}). Check the input summary, add a "
            "small penalizer or pass other starting values."
        )
    for j, name in enumerate(names):
        if not free[j]:
            warnings.warn(
                f"{model}: parameter {name} reached the boundary of its range "
                f"(exp({theta[j]:.1f})); the fit is degenerate and predictions may be poor.",
                DegenerateFitWarning,
                stacklevel=4,
            )
    total, _ = problem.total(theta)
    cov = _covariance(hess * n, model)
    se_theta = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    base = np.exp(theta[: problem.n_base])
    params = {nm: float(base[j]) for j, nm in enumerate(names)}
    ses = {nm: float(base[j] * se_theta[j]) for j, nm in enumerate(names)}
    coefs = {nm: theta[a:b].copy() for nm, a, b in problem.layout()}
    coef_se = {nm: se_theta[a:b].copy() for nm, a, b in problem.layout()}
    for arr in (*coefs.values(), *coef_se.values()):
        arr.flags.writeable = False
    log.debug("%s fit: %s LL=%.6f (%s)", model, params, total, diag)
    return MLResult(
        params=params,
        standard_errors=ses,
        coefficients=coefs,
        coefficient_errors=coef_se,
        log_likelihood=total,
        n_parameters=problem.n_theta(),
        n_customers=n,
        diagnostics=diag,
    )


def _covariance(hess: FloatArray, model: str) -> FloatArray:
    """Inverse of the observed information (the Hessian of the penalized negative LL)."""
    try:
        eig = np.linalg.eigvalsh(hess)
    except np.linalg.LinAlgError:  # pragma: no cover - only on non-finite Hessians
        eig = np.array([-1.0])
    if not np.all(np.isfinite(hess)) or eig.min() <= 0:
        warnings.warn(
            f"{model}: the Hessian at the optimum is not positive definite (smallest eigenvalue "
            f"{eig.min():.3g}); standard errors of the flat directions are unreliable.",
            DegenerateFitWarning,
            stacklevel=5,
        )
        return np.asarray(np.linalg.pinv(np.nan_to_num(hess)), dtype=np.float64)
    return np.asarray(np.linalg.inv(hess), dtype=np.float64)


def information_criteria(ll: float, k: int, n: float) -> tuple[float, float]:
    """(AIC, BIC) with ``n`` the number of customers (the sum of the weights)."""
    return -2 * ll + 2 * k, -2 * ll + k * float(np.log(max(n, 1.0)))


def check_weights(weights: Any, n: int, ids: Any | None = None) -> FloatArray:
    """Weights as float64 (default ones), finite and non-negative."""
    from crmkit.clv._inputs import checked

    if weights is None:
        return np.ones(n)
    w = checked("weights", weights, ids, n=n)
    if w.sum() <= 0:
        raise InvalidInputError("weights: they sum to zero. Pass at least one positive weight.")
    return w
