"""L2-penalised, weighted logistic regression on scipy (no scikit-learn)."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import numpy.typing as npt
from scipy import optimize, special

from crmkit._validation import as_binary_array, as_float_array, frozen
from crmkit.errors import ConvergenceError, InvalidInputError

__all__ = ["LogisticFit", "LogisticRegression", "as_design_matrix"]


def as_design_matrix(name: str, values: Any) -> npt.NDArray[np.float64]:
    """A finite two-dimensional float64 matrix (one row per customer); 1-d input is one column.

    Examples:
        >>> as_design_matrix("X", [1.0, 2.0]).shape
        (2, 1)
    """
    arr = np.asarray(values.to_numpy() if hasattr(values, "to_numpy") else values)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise InvalidInputError(
            f"{name}: expected a 2-d matrix, one row per customer (got shape {arr.shape})."
        )
    flat = as_float_array(name, arr.reshape(-1))
    return flat.reshape(arr.shape)


@attrs.frozen(kw_only=True)
class LogisticFit:
    """A fitted logistic regression: ``P(y=1 | x) = expit(intercept + x @ coef)``.

    Examples:
        >>> fit = LogisticRegression(l2=0.0).fit([[0.0], [0.0], [1.0], [1.0]], [0, 1, 1, 1])
        >>> round(float(fit.predict_proba([[1.0]])[0]), 4)
        1.0
    """

    coef: npt.NDArray[np.float64]
    intercept: float
    n_iter: int
    loss: float

    def decision_function(self, X: Any) -> npt.NDArray[np.float64]:
        """The linear predictor (log-odds) per row.

        Examples:
            >>> LogisticFit(coef=np.array([2.0]), intercept=-1.0, n_iter=0, loss=0.0
            ...             ).decision_function([[1.0]])
            array([1.])
        """
        x = as_design_matrix("X", X)
        if x.shape[1] != self.coef.size:
            raise InvalidInputError(
                f"X: {x.shape[1]} columns, but the model was fitted on {self.coef.size}. "
                "Pass the same features in the same order."
            )
        return frozen(x @ self.coef + self.intercept)

    def predict_proba(self, X: Any) -> npt.NDArray[np.float64]:
        """P(y = 1) per row.

        Examples:
            >>> LogisticFit(coef=np.array([0.0]), intercept=0.0, n_iter=0, loss=0.0
            ...             ).predict_proba([[3.0]])
            array([0.5])
        """
        return frozen(special.expit(self.decision_function(X)))


@attrs.frozen(kw_only=True)
class LogisticRegression:
    """Specification of a logistic regression with an L2 penalty and optional sample weights.

    Minimises ``sum_i w_i * logloss_i + l2 / 2 * ||coef||^2`` (the intercept is not penalised)
    with L-BFGS and the analytic gradient; losses are computed in log space
    (``logaddexp(0, eta) - y * eta``) so extreme scores do not overflow.

    Examples:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(2000, 1))
        >>> y = (rng.random(2000) < 1 / (1 + np.exp(-(0.5 + 2 * x[:, 0])))).astype(int)
        >>> fit = LogisticRegression(l2=0.0).fit(x, y)
        >>> round(fit.intercept, 1), round(float(fit.coef[0]), 1)
        (0.6, 2.2)
    """

    l2: float = 1.0
    fit_intercept: bool = True
    max_iter: int = 500
    tol: float = 1e-10

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> LogisticFit:
        """Fit to features ``X`` (n x p) and 0/1 outcomes ``y``.

        Examples:
            >>> LogisticRegression().fit([[0.0], [1.0]], [0, 1]).coef.shape
            (1,)
        """
        x = as_design_matrix("X", X)
        yy = as_binary_array("y", y).astype(np.float64)
        if yy.size != x.shape[0]:
            raise InvalidInputError(
                f"X, y: {x.shape[0]} rows but {yy.size} outcomes. Pass aligned rows."
            )
        if self.l2 < 0:
            raise InvalidInputError(f"l2: must be >= 0 (got {self.l2!r}).")
        w = (
            np.ones(yy.size)
            if sample_weight is None
            else as_float_array("sample_weight", sample_weight, min_value=0.0)
        )
        if w.size != yy.size:
            raise InvalidInputError(
                f"sample_weight: {w.size} weights for {yy.size} rows. Pass one weight per row."
            )
        p = x.shape[1]
        l2 = float(self.l2)
        fit_b = self.fit_intercept

        def fun(theta: npt.NDArray[np.float64]) -> tuple[float, npt.NDArray[np.float64]]:
            beta = theta[:p]
            b0 = theta[p] if fit_b else 0.0
            eta = x @ beta + b0
            loss = float(np.dot(w, np.logaddexp(0.0, eta) - yy * eta)) + 0.5 * l2 * float(
                beta @ beta
            )
            r = w * (special.expit(eta) - yy)
            grad = np.empty_like(theta)
            grad[:p] = x.T @ r + l2 * beta
            if fit_b:
                grad[p] = r.sum()
            return loss, grad

        theta0 = np.zeros(p + (1 if fit_b else 0))
        res = optimize.minimize(
            fun,
            theta0,
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": self.max_iter, "gtol": self.tol, "ftol": 1e-15},
        )
        if not np.all(np.isfinite(res.x)):
            raise ConvergenceError(
                "LogisticRegression: the coefficients diverged (the classes are likely separable). "
                "Use l2 > 0."
            )
        if not res.success and res.nit >= self.max_iter:
            raise ConvergenceError(
                f"LogisticRegression: no convergence in {self.max_iter} iterations "
                f"({res.message}). Scale the features or raise max_iter."
            )
        return LogisticFit(
            coef=frozen(np.array(res.x[:p])),
            intercept=float(res.x[p]) if fit_b else 0.0,
            n_iter=int(res.nit),
            loss=float(res.fun),
        )
