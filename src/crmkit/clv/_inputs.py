"""Boundary checks for model inputs: arrays in, checked float64 out, errors naming the customer."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from crmkit._validation import as_1d, same_length
from crmkit.clv._summary import RFMSummary
from crmkit.errors import InvalidInputError

FloatArray = npt.NDArray[np.float64]


def fail(
    name: str, bad: npt.NDArray[np.bool_], values: Any, ids: Any | None, problem: str, fix: str
) -> None:
    """Raise InvalidInputError naming the count, the first offending customer and its value."""
    if not bad.any():
        return
    idx = np.flatnonzero(bad)
    first = int(idx[0])
    who = f"customer {np.asarray(ids)[first].item()!r}" if ids is not None else f"index {first}"
    noun = "value" if idx.size == 1 else "values"
    value = np.asarray(values)[first].item()
    raise InvalidInputError(
        f"{name}: {problem} ({idx.size} {noun}, first at {who}, value {value!r}). {fix}"
    )


def checked(name: str, values: Any, ids: Any | None, *, n: int | None = None) -> FloatArray:
    """A finite float64 vector; NaN or inf is an error naming the first customer."""
    arr = as_1d(name, values)
    try:
        out = np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name}: expected numbers ({exc}). Convert the column.") from exc
    if n is not None and out.size != n:
        raise InvalidInputError(
            f"{name}: {out.size} values for {n} customers. Pass one value per customer."
        )
    fail(name, np.isnan(out), out, ids, "missing values (NaN)", "Drop or impute them first.")
    fail(name, np.isinf(out), out, ids, "infinite values", "Pass finite numbers.")
    fail(name, out < 0, out, ids, "negative values", f"{name} must be >= 0.")
    return out


def btyd_arrays(
    summary: RFMSummary | None,
    frequency: Any,
    recency: Any,
    T: Any,
    *,
    whole: bool = True,
) -> tuple[FloatArray, FloatArray, FloatArray, Any]:
    """(frequency, recency, T, ids) from a summary or keyword arrays, validated."""
    if summary is not None:
        if frequency is not None or recency is not None or T is not None:
            raise InvalidInputError(
                "summary: passed together with frequency/recency/T arrays. Pass one or the other."
            )
        frequency, recency, T, ids = (
            summary.frequency,
            summary.recency,
            summary.T,
            summary.customer_id,
        )
    else:
        if frequency is None or recency is None or T is None:
            raise InvalidInputError(
                "frequency, recency, T: missing. Pass an RFMSummary or all three arrays."
            )
        ids = None
    x = checked("frequency", frequency, ids)
    n = x.size
    tx = checked("recency", recency, ids)
    t = checked("T", T, ids)
    same_length(frequency=x, recency=tx, T=t)
    if whole:
        fail(
            "frequency",
            x != np.round(x),
            x,
            ids,
            "non-integer values",
            "Frequency counts repeat purchase periods; pass whole numbers.",
        )
    fail(
        "recency",
        tx > t * (1 + 1e-12) + 1e-12,
        tx,
        ids,
        "recency > T",
        "Recency is the time from the first to the last purchase and cannot exceed the age T.",
    )
    fail(
        "recency",
        (x == 0) & (tx > 0),
        tx,
        ids,
        "recency > 0 with frequency 0",
        "A customer without repeat purchases has recency 0.",
    )
    del n
    return x, np.minimum(tx, t), t, ids


def covariate_matrix(name: str, values: Any, n: int) -> FloatArray:
    """A finite (n, k) float64 matrix of time-invariant covariates."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] != n:
        raise InvalidInputError(
            f"{name}: expected shape (n_customers, k) with n_customers = {n} (got {arr.shape}). "
            "Pass one row per customer."
        )
    if not np.all(np.isfinite(arr)):
        row = int(np.flatnonzero(~np.all(np.isfinite(arr), axis=1))[0])
        raise InvalidInputError(
            f"{name}: non-finite covariates (first at index {row}). Impute or drop them first."
        )
    return arr
