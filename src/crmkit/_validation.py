"""Validation at the boundary: array-likes in, checked numpy arrays out, typed errors otherwise.

Every analytic module validates its inputs once through these functions, so error messages share
one shape: ``"argument: what is wrong (evidence). What to do."``.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from crmkit.errors import InvalidInputError

NanPolicy = Literal["raise", "omit", "propagate"]

_EPOCH = np.datetime64("1970-01-01T00:00:00", "us")


def as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    """Return a Generator from a Generator, a seed or None (fresh entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, int | np.integer):
        return np.random.default_rng(rng)
    raise InvalidInputError(
        f"rng: expected a numpy Generator, an int seed or None (got {type(rng).__name__}). "
        "Pass np.random.default_rng(seed)."
    )


def _to_numpy(name: str, values: Any) -> np.ndarray[Any, Any]:
    if isinstance(values, np.ndarray):
        return values
    if hasattr(values, "to_numpy"):  # pandas Series / Index, polars Series
        return np.asarray(values.to_numpy())
    try:
        return np.asarray(values)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"{name}: cannot be read as an array ({exc}). Pass a sequence or a numpy array."
        ) from exc


def describe_bad(mask: npt.NDArray[np.bool_], values: np.ndarray[Any, Any]) -> str:
    """Evidence for a boolean mask of bad entries: count, first index and its value."""
    idx = np.flatnonzero(mask)
    first = int(idx[0])
    noun = "value" if idx.size == 1 else "values"
    return f"{idx.size} {noun}, first at index {first}, value {values[first]!r}"


def require(
    name: str,
    bad: npt.NDArray[np.bool_],
    values: np.ndarray[Any, Any],
    problem: str,
    fix: str,
) -> None:
    """Raise InvalidInputError if any entry of ``bad`` is set."""
    if bad.any():
        raise InvalidInputError(f"{name}: {problem} ({describe_bad(bad, values)}). {fix}")


def as_1d(name: str, values: Any) -> np.ndarray[Any, Any]:
    """Any array-like as a one-dimensional numpy array (no copy when possible)."""
    arr = _to_numpy(name, values)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise InvalidInputError(
            f"{name}: expected a one-dimensional array (got shape {arr.shape}). Flatten it first."
        )
    return arr


def as_float_array(
    name: str,
    values: Any,
    *,
    nan_policy: NanPolicy = "raise",
    allow_inf: bool = False,
    min_value: float | None = None,
    strictly_positive: bool = False,
) -> npt.NDArray[np.float64]:
    """A one-dimensional float64 array; rejects NaN (by policy), infinities, out-of-range values."""
    arr = as_1d(name, values)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"{name}: expected numbers (dtype {arr.dtype}; {exc}). Convert the column first."
            ) from exc
    out = np.asarray(arr, dtype=np.float64)
    nan = np.isnan(out)
    if nan_policy == "raise":
        require(name, nan, out, "missing values (NaN)", "Drop or impute them explicitly first.")
    if not allow_inf:
        require(name, np.isinf(out), out, "infinite values", "Pass finite numbers.")
    ok = ~nan
    if min_value is not None:
        require(
            name, ok & (out < min_value), out, f"values below {min_value:g}", "Check the input."
        )
    if strictly_positive:
        require(name, ok & (out <= 0), out, "values <= 0", "Pass strictly positive values.")
    return out


def as_int_array(name: str, values: Any, *, min_value: int | None = None) -> npt.NDArray[np.int64]:
    """A one-dimensional int64 array; floats must be whole, never silently truncated."""
    arr = as_1d(name, values)
    if arr.dtype.kind in "iub":
        out = arr.astype(np.int64, copy=False)
    else:
        f = as_float_array(name, arr)
        require(
            name,
            f != np.round(f),
            f,
            "non-integer values",
            "This argument counts things; pass whole numbers.",
        )
        out = f.astype(np.int64)
    if min_value is not None:
        require(name, out < min_value, out, f"values below {min_value}", "Check the input.")
    return out


def as_str_array(name: str, values: Any, *, allow_empty: bool = False) -> npt.NDArray[np.str_]:
    """A one-dimensional unicode array; None and (unless allowed) empty strings are errors."""
    arr = as_1d(name, values)
    if arr.dtype.kind == "U":
        out = arr
    else:
        if arr.dtype == object:
            none = np.fromiter((v is None for v in arr), dtype=bool, count=arr.size)
            require(name, none, arr, "missing ids (None)", "Every row needs an id.")
        out = arr.astype(str)
    if not allow_empty and out.size:
        require(name, out == "", out, "empty ids", "Every row needs a non-empty id.")
    return out


def as_datetime_array(name: str, values: Any) -> npt.NDArray[np.datetime64]:
    """A one-dimensional ``datetime64[us]`` array in UTC.

    numpy datetime64 input is taken as UTC. Python datetimes must be timezone-aware. pandas
    tz-aware columns are converted to UTC; naive pandas columns are taken as UTC like numpy's.
    """
    if hasattr(values, "dt") and getattr(values.dt, "tz", None) is not None:
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    elif hasattr(values, "tz") and getattr(values, "tz", None) is not None:
        values = values.tz_convert("UTC").tz_localize(None)
    arr = as_1d(name, values)
    if arr.dtype.kind == "M":
        out = arr.astype("datetime64[us]")
    elif arr.dtype == object:
        out = _python_datetimes(name, arr)
    else:
        raise InvalidInputError(
            f"{name}: expected timestamps (got dtype {arr.dtype}). Pass datetime64 values or "
            "timezone-aware datetime objects."
        )
    require(name, np.isnat(out), out, "missing timestamps (NaT)", "Every row needs a timestamp.")
    return out


def _python_datetimes(name: str, arr: np.ndarray[Any, Any]) -> npt.NDArray[np.datetime64]:
    out = np.empty(arr.size, dtype="datetime64[us]")
    for i, v in enumerate(arr):
        if not isinstance(v, _dt.datetime):
            raise InvalidInputError(
                f"{name}: expected datetime values (first other at index {i}, value {v!r}). "
                "Pass timezone-aware datetimes."
            )
        if v.tzinfo is None or v.utcoffset() is None:
            raise InvalidInputError(
                f"{name}: naive datetime (first at index {i}, value {v!r}). "
                "Attach a time zone, e.g. datetime(..., tzinfo=UTC)."
            )
        out[i] = np.datetime64(v.astimezone(_dt.UTC).replace(tzinfo=None), "us")
    return out


def to_datetime64(name: str, value: _dt.datetime | np.datetime64 | str) -> np.datetime64:
    """One timestamp as ``datetime64[us]`` UTC (aware datetime, datetime64 or ISO string)."""
    if isinstance(value, np.datetime64):
        return value.astype("datetime64[us]")  # type: ignore[no-any-return]
    if isinstance(value, str):
        try:
            value = _dt.datetime.fromisoformat(value)
        except ValueError as exc:
            raise InvalidInputError(f"{name}: not an ISO timestamp ({value!r}).") from exc
        if value.tzinfo is None:
            raise InvalidInputError(
                f"{name}: naive timestamp ({value.isoformat()!r}). Add an offset such as +00:00."
            )
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidInputError(
                f"{name}: naive datetime ({value!r}). Attach a time zone, e.g. tzinfo=UTC."
            )
        return np.datetime64(value.astimezone(_dt.UTC).replace(tzinfo=None), "us")
    raise InvalidInputError(
        f"{name}: expected a timezone-aware datetime (got {type(value).__name__})."
    )


def from_datetime64(value: np.datetime64) -> _dt.datetime:
    """A ``datetime64`` (UTC) back as an aware UTC datetime."""
    us = int((value.astype("datetime64[us]") - _EPOCH) // np.timedelta64(1, "us"))
    return _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC) + _dt.timedelta(microseconds=us)


def same_length(**arrays: Sequence[Any] | np.ndarray[Any, Any]) -> int:
    """Check that the named arrays have one length and return it."""
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) > 1:
        desc = ", ".join(f"{k}={n}" for k, n in lengths.items())
        raise InvalidInputError(
            f"{', '.join(lengths)}: arrays of different lengths ({desc}). Pass aligned columns."
        )
    return next(iter(lengths.values()), 0)


def frozen(arr: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Mark an array read-only (results are values) and return it."""
    arr.flags.writeable = False
    return arr


def as_binary_array(name: str, values: Any) -> npt.NDArray[np.int64]:
    """A one-dimensional int64 array of 0/1 flags (bools, ints or whole floats equal to 0 or 1)."""
    out = as_int_array(name, values)
    require(
        name,
        (out != 0) & (out != 1),
        out,
        "values other than 0 and 1",
        "Pass a binary flag: 1 for yes (treated, converted), 0 for no.",
    )
    return out
