"""Maximum likelihood on log-parameters: L-BFGS-B with analytic gradients, multi-start, Hessian
standard errors, weights, L2 penalty and compression of identical rows."""

from __future__ import annotations

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
#: core(params, data) -> (log-likelihood per row, gradient w.r.t. log-parameters, shape (k, n)).
Core = Callable[[Sequence[Any], Sequence[FloatArray]], tuple[FloatArray, FloatArray]]

_LOG_BOUND = 18.0
_COEF_BOUND = 50.0
_SUBSAMPLE_ROWS = 10_000
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


def compress(
    columns: Sequence[FloatArray], weights: FloatArray
) -> tuple[list[FloatArray], FloatArray]:
    """Collapse identical rows of ``columns`` into one row whose weight is the sum of weights."""
    if columns[0].size == 0:
        return list(columns), weights
    order = np.lexsort(tuple(columns[::-1]))
    sc = [c[order] for c in columns]
    change = np.zeros(order.size, dtype=bool)
    change[0] = True
    for c in sc:
        change[1:] |= c[1:] != c[:-1]
    starts = np.flatnonzero(change)
    return [c[starts] for c in sc], np.add.reduceat(weights[order], starts)


@attrs.frozen
class _Problem:
    names: tuple[str, ...]
    core: Core
    data: list[FloatArray]
    weights: FloatArray
    covariates: Mapping[str, tuple[FloatArray, float]]
    penalizer: float

    @property
    def n_base(self) -> int:
        return len(self.names)

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

    def subset(self, rows: npt.NDArray[np.int64], scale: float) -> _Problem:
        cov = {k: (x[rows], s) for k, (x, s) in self.covariates.items()}
        return _Problem(
            self.names,
            self.core,
            [d[rows] for d in self.data],
            self.weights[rows] * scale,
            cov,
            self.penalizer,
        )

    def params(self, theta: FloatArray) -> list[Any]:
        out: list[Any] = []
        blocks = {name: (a, b) for name, a, b in self.layout()}
        for j, name in enumerate(self.names):
            if name in blocks:
                a, b = blocks[name]
                x, sign = self.covariates[name]
                out.append(np.exp(theta[j] + sign * (x @ theta[a:b])))
            else:
                out.append(np.exp(theta[j]))
        return out

    def total(self, theta: FloatArray) -> tuple[float, FloatArray]:
        """Weighted log-likelihood and its gradient w.r.t. theta."""
        with np.errstate(all="ignore"):
            ll, g = self.core(self.params(theta), self.data)
            total = float(ll @ self.weights)
            wg = g * self.weights
            grad = np.empty(theta.size)
            grad[: self.n_base] = wg.sum(axis=1)
            for j, name in enumerate(self.names):
                for nm, a, b in self.layout():
                    if nm == name:
                        x, sign = self.covariates[name]
                        grad[a:b] = sign * (x.T @ wg[j])
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


def _run(problem: _Problem, theta0: FloatArray) -> optimize.OptimizeResult:
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
        options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-9, "maxcor": 20},
    )


def maximize(
    *,
    names: tuple[str, ...],
    core: Core,
    data: list[FloatArray],
    weights: FloatArray,
    starts: Sequence[Sequence[float]],
    penalizer: float = 0.0,
    covariates: Mapping[str, tuple[FloatArray, float]] | None = None,
    model: str,
) -> MLResult:
    """Fit by L-BFGS-B from every start (on a subsample first when the data are large)."""
    problem = _Problem(names, core, data, weights, dict(covariates or {}), penalizer)
    n_rows = int(weights.size)
    n_extra = problem.n_theta() - problem.n_base
    thetas = [np.r_[np.log(np.asarray(s, float)), np.zeros(n_extra)] for s in starts]
    stage = problem
    if n_rows > 2 * _SUBSAMPLE_ROWS:
        step = n_rows // _SUBSAMPLE_ROWS
        rows = np.arange(0, n_rows, step)
        stage = problem.subset(rows, float(weights.sum() / weights[rows].sum()))
    results = [_run(stage, t0) for t0 in thetas]
    best = min(results, key=lambda r: r.fun if np.isfinite(r.fun) else np.inf)
    n_eval = sum(int(r.nfev) for r in results)
    n_iter = sum(int(r.nit) for r in results)
    if stage is not problem:
        best = _run(problem, best.x)
        n_eval += int(best.nfev)
        n_iter += int(best.nit)
    theta = np.asarray(best.x, dtype=np.float64)
    n = float(weights.sum())
    f, g = problem.objective(theta, n)
    free = np.abs(np.abs(theta[: problem.n_base]) - _LOG_BOUND) > 1e-6
    gfree = np.r_[g[: problem.n_base][free], g[problem.n_base :]]
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
                stacklevel=3,
            )
    total, _ = problem.total(theta)
    cov = _covariance(problem, theta, model)
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


def _covariance(problem: _Problem, theta: FloatArray, model: str) -> FloatArray:
    """Inverse of the observed information (central differences of the analytic gradient)."""
    k = theta.size
    h = 1e-5
    hess = np.empty((k, k))
    for j in range(k):
        e = np.zeros(k)
        e[j] = h
        _, gp = problem.total(theta + e)
        _, gm = problem.total(theta - e)
        hess[:, j] = -(gp - gm) / (2 * h)
    if problem.penalizer > 0:
        n = float(problem.weights.sum())
        pen = np.r_[
            4 * problem.penalizer * np.exp(2 * theta[: problem.n_base]),
            np.full(k - problem.n_base, 2 * problem.penalizer),
        ]
        hess += np.diag(pen * n)
    hess = (hess + hess.T) / 2
    try:
        eig = np.linalg.eigvalsh(hess)
    except np.linalg.LinAlgError:  # pragma: no cover - only on non-finite Hessians
        eig = np.array([-1.0])
    if not np.all(np.isfinite(hess)) or eig.min() <= 0:
        warnings.warn(
            f"{model}: the Hessian at the optimum is not positive definite (smallest eigenvalue "
            f"{eig.min():.3g}); standard errors of the flat directions are unreliable.",
            DegenerateFitWarning,
            stacklevel=4,
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
