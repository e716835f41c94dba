"""Uplift metrics in causalml 0.18's convention: same names, table input, normalization and ties.

causalml scores every column of a table that is not the outcome, treatment or true-effect column
as a model. It sorts each with pandas' ``sort_values(ascending=False)``, which uses numpy's
*unstable* quicksort on the reversed column: inside a run of tied scores the order is whatever
that sort leaves, and the curves, evaluated at every row, depend on it. crmkit sorts the same way,
so it agrees with causalml on tied scores when both run the same numpy build; the tie order (and
so causalml's own number) can differ between numpy versions and CPUs. The curves get a row 0 equal
to 0 and missing leading values (no treated or no control row yet) are interpolated linearly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt
from scipy import stats

from crmkit._validation import as_1d, as_float_array, frozen, same_length
from crmkit.errors import InvalidInputError

__all__ = [
    "ModelCurves",
    "ModelScores",
    "auuc_score",
    "get_cumgain",
    "get_cumlift",
    "get_qini",
    "qini_score",
]

FloatArray = npt.NDArray[np.float64]


@attrs.frozen(kw_only=True)
class ModelCurves:
    """Curves per model column: ``values[i, j]`` is model ``names[j]`` after targeting ``i`` rows.

    Examples:
        >>> c = get_qini({"y": [1, 0], "w": [1, 0], "m": [1.0, 0.0]})
        >>> c.names, c.values[:, 0].tolist()
        (('m',), [0.0, 0.5, 1.0])
    """

    names: tuple[str, ...]
    values: FloatArray

    def __getitem__(self, name: str) -> FloatArray:
        """The curve of one model.

        Examples:
            >>> get_cumgain({"y": [1, 0], "w": [1, 0], "m": [1.0, 0.0]})["m"].tolist()
            [0.0, 0.5, 2.0]
        """
        if name not in self.names:
            raise InvalidInputError(f"name: no model {name!r} (models: {list(self.names)}).")
        return frozen(self.values[:, self.names.index(name)].copy())


@attrs.frozen(kw_only=True)
class ModelScores:
    """One score per model column; with ``return_ci`` also the bootstrap interval columns.

    Examples:
        >>> s = qini_score({"y": [1, 0, 1, 0, 1, 0], "w": [1, 0, 0, 1, 1, 0],
        ...                 "m": [0.9, 0.5, 0.3, 0.1, 0.7, 0.2]})
        >>> s.names, round(s["m"], 4)
        (('m',), 0.5476)
    """

    names: tuple[str, ...]
    score: FloatArray
    se: FloatArray | None = None
    ci_lower: FloatArray | None = None
    ci_upper: FloatArray | None = None
    p_value: FloatArray | None = None

    def __getitem__(self, name: str) -> float:
        """The score of one model.

        Examples:
            >>> auuc_score({"y": [1, 0], "w": [1, 0], "m": [1.0, 0.0]})["m"]
            0.5
        """
        if name not in self.names:
            raise InvalidInputError(f"name: no model {name!r} (models: {list(self.names)}).")
        return float(self.score[self.names.index(name)])

    def as_dict(self) -> dict[str, float]:
        """``{model: score}``.

        Examples:
            >>> auuc_score({"y": [1, 0], "w": [1, 0], "m": [1.0, 0.0]}).as_dict()
            {'m': 0.5}
        """
        return {n: float(v) for n, v in zip(self.names, self.score, strict=True)}


def _columns(df: Any) -> list[str]:
    keys = df.keys() if hasattr(df, "keys") else None
    if keys is None:
        raise InvalidInputError(
            "df: expected a table (a pandas DataFrame or a dict of columns). "
            "Pass {'y': outcome, 'w': treatment, 'model': scores}."
        )
    return [str(k) for k in keys]


def _table(
    df: Any, outcome_col: str, treatment_col: str, treatment_effect_col: str
) -> tuple[list[str], dict[str, np.ndarray[Any, Any]], int]:
    cols = _columns(df)
    models = [c for c in cols if c not in (outcome_col, treatment_col, treatment_effect_col)]
    if not models:
        raise InvalidInputError(
            f"df: no model column besides {outcome_col!r}, {treatment_col!r} and "
            f"{treatment_effect_col!r}. Add a column of uplift scores per model."
        )
    data: dict[str, np.ndarray[Any, Any]] = {}
    has_tau = treatment_effect_col in cols
    need = [treatment_col] + ([treatment_effect_col] if has_tau else [outcome_col])
    for c in need:
        if c not in cols:
            raise InvalidInputError(
                f"df: no column {c!r}. Name the outcome and treatment columns "
                "(outcome_col=, treatment_col=) or give true effects in treatment_effect_col."
            )
        data[c] = as_float_array(c, df[c])
    for m in models:
        raw = as_1d(m, np.asarray(df[m]))
        as_float_array(m, raw)
        data[m] = raw
    n = same_length(**data)
    if n == 0:
        raise InvalidInputError("df: no rows. Pass at least one row.")
    return models, data, n


def _pandas_desc_order(values: np.ndarray[Any, Any]) -> npt.NDArray[np.intp]:
    """The row order of pandas' ``sort_values(ascending=False)`` (numpy quicksort, reversed)."""
    idx = np.arange(values.size)[::-1]
    return np.asarray(idx[values[::-1].argsort(kind="quicksort")][::-1])


def _interpolate(col: FloatArray) -> FloatArray:
    """pandas' default ``interpolate()``: linear in position; trailing gaps take the last value."""
    bad = np.isnan(col)
    if not bad.any():
        return col
    pos = np.arange(col.size)
    good = ~bad
    out = col.copy()
    out[bad] = np.interp(pos[bad], pos[good], col[good])
    return out


def _curves(
    df: Any, outcome_col: str, treatment_col: str, treatment_effect_col: str, kind: str
) -> ModelCurves:
    models, data, n = _table(df, outcome_col, treatment_col, treatment_effect_col)
    has_tau = treatment_effect_col in data
    index = np.arange(1, n + 1, dtype=np.float64)
    out = np.zeros((n + 1, len(models)))
    with np.errstate(invalid="ignore", divide="ignore"):
        for j, m in enumerate(models):
            order = _pandas_desc_order(data[m])
            w = data[treatment_col][order]
            cum_tr = np.cumsum(w)
            if has_tau:
                tau = np.cumsum(data[treatment_effect_col][order])
                col = tau / index if kind == "lift" else tau / index * cum_tr
            else:
                y = data[outcome_col][order]
                cum_ct = index - cum_tr
                y_tr = np.cumsum(y * w)
                y_ct = np.cumsum(y * (1 - w))
                if kind == "lift":
                    col = y_tr / cum_tr - y_ct / cum_ct
                else:
                    col = y_tr - y_ct * cum_tr / cum_ct
            out[1:, j] = col
    for j in range(len(models)):
        out[:, j] = _interpolate(out[:, j])
    return ModelCurves(names=tuple(models), values=frozen(out))


def _normalize(values: FloatArray) -> FloatArray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(values / np.abs(values[-1, :]), dtype=np.float64)


def get_cumlift(
    df: Any,
    outcome_col: str = "y",
    treatment_col: str = "w",
    treatment_effect_col: str = "tau",
    random_seed: int = 42,
) -> ModelCurves:
    """Average treatment effect among the top ``i`` rows, per model (causalml ``get_cumlift``).

    ``random_seed`` is accepted for signature compatibility; causalml 0.18 no longer uses it.

    Examples:
        >>> get_cumlift({"y": [1, 0], "w": [1, 0], "m": [1.0, 0.0]})["m"].tolist()
        [0.0, 0.5, 1.0]
    """
    del random_seed
    return _curves(df, outcome_col, treatment_col, treatment_effect_col, "lift")


def get_cumgain(
    df: Any,
    outcome_col: str = "y",
    treatment_col: str = "w",
    treatment_effect_col: str = "tau",
    normalize: bool = False,
    random_seed: int = 42,
) -> ModelCurves:
    """Cumulative gain: cumulative lift times the number targeted (causalml ``get_cumgain``).

    With ``normalize`` each curve is divided by the absolute value of its last point.

    Examples:
        >>> get_cumgain({"y": [1, 0], "w": [1, 0], "m": [1.0, 0.0]}, normalize=True)["m"].tolist()
        [0.0, 0.25, 1.0]
    """
    lift = get_cumlift(df, outcome_col, treatment_col, treatment_effect_col, random_seed)
    gain = lift.values * np.arange(lift.values.shape[0], dtype=np.float64)[:, None]
    if normalize:
        gain = _normalize(gain)
    return ModelCurves(names=lift.names, values=frozen(gain))


def get_qini(
    df: Any,
    outcome_col: str = "y",
    treatment_col: str = "w",
    treatment_effect_col: str = "tau",
    normalize: bool = False,
    random_seed: int = 42,
) -> ModelCurves:
    """Qini curve per model: ``Y_t - Y_c * N_t / N_c`` at every row (causalml ``get_qini``).

    Examples:
        >>> get_qini({"y": [1, 0], "w": [1, 0], "m": [1.0, 0.0]})["m"].tolist()
        [0.0, 0.5, 1.0]
    """
    del random_seed
    curves = _curves(df, outcome_col, treatment_col, treatment_effect_col, "qini")
    if normalize:
        return ModelCurves(names=curves.names, values=frozen(_normalize(curves.values)))
    return curves


def _subset(df: Any, idx: npt.NDArray[np.intp]) -> dict[str, np.ndarray[Any, Any]]:
    return {c: np.asarray(df[c])[idx] for c in _columns(df)}


def _bootstrap(
    df: Any,
    score_fn: Callable[[Any], ModelScores],
    point: ModelScores,
    n_bootstrap: int,
    alpha: float,
    random_state: Any,
    p_value: bool,
) -> ModelScores:
    """causalml's half-sample bootstrap: ``n // 2`` rows without replacement per draw."""
    if n_bootstrap < 2:
        raise InvalidInputError(f"n_bootstrap: must be at least 2 (got {n_bootstrap}).")
    if not 0 < alpha < 1:
        raise InvalidInputError(f"alpha: must lie in (0, 1) (got {alpha!r}).")
    n = len(np.asarray(df[_columns(df)[0]]))
    m = n // 2
    rng = np.random.default_rng(random_state)
    draws = np.empty((n_bootstrap, len(point.names)))
    for b in range(n_bootstrap):
        idx = rng.choice(n, size=m, replace=False)
        draws[b] = score_fn(_subset(df, idx)).score
    z = float(stats.norm.ppf(1 - alpha / 2))
    se = np.std(draws, axis=0, ddof=1)
    p = None
    if p_value:
        with np.errstate(invalid="ignore", divide="ignore"):
            ok = np.isfinite(se) & (se > 0)
            p = np.where(ok, 2 * (1 - stats.norm.cdf(np.abs(point.score / se))), np.nan)
    return ModelScores(
        names=point.names,
        score=point.score,
        se=frozen(se),
        ci_lower=frozen(point.score - z * se),
        ci_upper=frozen(point.score + z * se),
        p_value=None if p is None else frozen(p),
    )


def auuc_score(
    df: Any,
    outcome_col: str = "y",
    treatment_col: str = "w",
    treatment_effect_col: str = "tau",
    normalize: bool = True,
    *,
    return_ci: bool = False,
    n_bootstrap: int = 200,
    alpha: float = 0.05,
    random_state: Any = None,
) -> ModelScores:
    """Area under the cumulative gain curve, averaged over its ``n + 1`` points (causalml).

    Examples:
        >>> round(auuc_score({"y": [1, 0, 1, 0, 1, 0], "w": [1, 0, 0, 1, 1, 0],
        ...                   "m": [0.9, 0.5, 0.3, 0.1, 0.7, 0.2]})["m"], 4)
        0.8571
    """
    gain = get_cumgain(df, outcome_col, treatment_col, treatment_effect_col, normalize)
    point = ModelScores(
        names=gain.names, score=frozen(gain.values.sum(axis=0) / gain.values.shape[0])
    )
    if not return_ci:
        return point
    return _bootstrap(
        df,
        lambda d: auuc_score(d, outcome_col, treatment_col, treatment_effect_col, normalize),
        point,
        n_bootstrap,
        alpha,
        random_state,
        p_value=False,
    )


def qini_score(
    df: Any,
    outcome_col: str = "y",
    treatment_col: str = "w",
    treatment_effect_col: str = "tau",
    normalize: bool = True,
    *,
    return_ci: bool = False,
    n_bootstrap: int = 200,
    alpha: float = 0.05,
    random_state: Any = None,
) -> ModelScores:
    """Area between the Qini curve and the straight random line, over ``n + 1`` points (causalml).

    The random line joins the first model's first and last points, as causalml 0.18 does.

    Examples:
        >>> round(qini_score({"y": [1, 0, 1, 0, 1, 0], "w": [1, 0, 0, 1, 1, 0],
        ...                   "m": [0.9, 0.5, 0.3, 0.1, 0.7, 0.2]})["m"], 4)
        0.5476
    """
    qini = get_qini(df, outcome_col, treatment_col, treatment_effect_col, normalize)
    v = qini.values
    random_area = np.linspace(v[0, 0], v[-1, 0], v.shape[0]).sum()
    point = ModelScores(names=qini.names, score=frozen((v.sum(axis=0) - random_area) / v.shape[0]))
    if not return_ci:
        return point
    return _bootstrap(
        df,
        lambda d: qini_score(d, outcome_col, treatment_col, treatment_effect_col, normalize),
        point,
        n_bootstrap,
        alpha,
        random_state,
        p_value=True,
    )
