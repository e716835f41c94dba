"""Transaction columns → the per-customer BTYD summary (frequency, recency, T, monetary)."""

from __future__ import annotations

import datetime as _dt
from typing import Any, Literal

import attrs
import numpy as np
import numpy.typing as npt

from crmkit._validation import (
    as_1d,
    as_datetime_array,
    as_float_array,
    as_str_array,
    frozen,
    require,
    same_length,
    to_datetime64,
)
from crmkit.errors import CurrencyMismatchError, InvalidInputError

__all__ = [
    "CalibrationHoldout",
    "RFMSummary",
    "calibration_holdout",
    "summarize",
    "summary_from_orders",
]

Period = Literal["h", "D", "W"]
FloatArray = npt.NDArray[np.float64]

#: Length of each period in microseconds.
_PERIOD_US: dict[str, int] = {"h": 3_600_000_000, "D": 86_400_000_000, "W": 7 * 86_400_000_000}
#: 1970-01-01 was a Thursday; shifting by three days makes weeks start on Monday.
_WEEK_SHIFT_US = 3 * 86_400_000_000


def _ro(values: Any) -> Any:
    return frozen(np.array(values, copy=True))


@attrs.frozen(kw_only=True)
class RFMSummary:
    """One row per customer: the sufficient statistics of the BTYD models.

    These are *BTYD* definitions, not marketing RFM: ``frequency`` counts **repeat** purchase
    periods (the first purchase does not count), ``recency`` is the time from the **first** to
    the last purchase (not the time since the last purchase), ``T`` is the customer's age at
    ``observation_end`` and ``monetary`` is the mean value of the repeat purchase periods (0 when
    there is none). Times are in ``unit`` (``"h"``, ``"D"`` or ``"W"``); purchases in the same
    ``period`` are merged into one.

    Examples:
        >>> import numpy as np
        >>> s = summarize(
        ...     ["a", "a", "b"],
        ...     np.array(["2024-01-01", "2024-01-08", "2024-01-02"], dtype="datetime64[us]"),
        ...     [10.0, 20.0, 5.0],
        ...     observation_end=np.datetime64("2024-01-15"),
        ... )
        >>> s.customer_id.tolist(), s.frequency.tolist(), s.recency.tolist(), s.T.tolist()
        (['a', 'b'], [1.0, 0.0], [7.0, 0.0], [14.0, 13.0])
    """

    customer_id: npt.NDArray[Any] = attrs.field(converter=_ro)
    frequency: FloatArray = attrs.field(converter=_ro)
    recency: FloatArray = attrs.field(converter=_ro)
    T: FloatArray = attrs.field(converter=_ro)
    monetary: FloatArray = attrs.field(converter=_ro)
    period: str = "D"
    unit: str = "D"
    observation_end: np.datetime64 | None = None

    def __len__(self) -> int:
        return int(self.frequency.size)

    def to_pandas(self) -> Any:
        """The summary as a pandas DataFrame indexed by customer id (needs pandas).

        Examples:
            >>> s = RFMSummary(customer_id=["a"], frequency=[1.0], recency=[2.0], T=[3.0],
            ...                monetary=[9.5])
            >>> float(s.to_pandas().loc["a", "T"])
            3.0
        """
        import pandas as pd

        return pd.DataFrame(
            {
                "frequency": self.frequency,
                "recency": self.recency,
                "T": self.T,
                "monetary": self.monetary,
            },
            index=pd.Index(self.customer_id, name="customer_id"),
        )


@attrs.frozen(kw_only=True)
class CalibrationHoldout:
    """A calibration summary plus what the same customers did in the holdout period.

    ``holdout_frequency`` counts purchase periods in the holdout (all of them are repeats),
    ``holdout_monetary`` is their mean value (0 when none) and ``duration_holdout`` is the
    holdout length in ``calibration.unit``.

    Examples:
        >>> import numpy as np
        >>> split = calibration_holdout(
        ...     [1, 1, 1], np.array(["2024-01-01", "2024-01-05", "2024-02-01"], "datetime64[us]"),
        ...     [1.0, 2.0, 3.0], calibration_end=np.datetime64("2024-01-10"),
        ...     observation_end=np.datetime64("2024-02-10"))
        >>> split.calibration.frequency.tolist(), split.holdout_frequency.tolist()
        ([1.0], [1.0])
    """

    calibration: RFMSummary
    holdout_frequency: FloatArray = attrs.field(converter=_ro)
    holdout_monetary: FloatArray = attrs.field(converter=_ro)
    duration_holdout: float


def _ids_and_codes(customer_id: Any) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64]]:
    """(id of each code in increasing order, int64 code per transaction).

    Integer ids with a range up to a few times the number of rows are coded by their offset
    from the smallest id (no sort; absent ids get codes that are never used, and customers
    without merged rows are dropped later); other integers by np.unique. String ids already
    in order are coded by their change points; others are sorted once by np.unique (the slow
    path: pass integer-coded ids for speed).
    """
    raw = as_1d("customer_id", customer_id)
    if raw.dtype.kind in "iu":
        ids = raw.astype(np.int64, copy=False)
        if ids.size == 0:
            return ids[:0], ids[:0]
        lo, hi = int(ids.min()), int(ids.max())
        if hi - lo <= 4 * ids.size + 1024:
            return np.arange(lo, hi + 1, dtype=np.int64), ids - lo
        uniq, inverse = np.unique(ids, return_inverse=True)
        return uniq, inverse.astype(np.int64).reshape(-1)
    strs = as_str_array("customer_id", raw)
    if strs.size > 1 and bool(np.all(strs[1:] >= strs[:-1])):
        # Already sorted (e.g. exported by customer): code by change points, no sort.
        start = np.r_[True, strs[1:] != strs[:-1]]
        return strs[start], np.cumsum(start, dtype=np.int64) - 1
    uniq, inverse = np.unique(strs, return_inverse=True)
    return uniq, inverse.astype(np.int64).reshape(-1)


def _period_index(ts_us: npt.NDArray[np.int64], period: str) -> npt.NDArray[np.int64]:
    if period not in _PERIOD_US:
        raise InvalidInputError(
            f"period: unknown period {period!r}. Use one of {sorted(_PERIOD_US)}."
        )
    if period == "W":
        return (ts_us + _WEEK_SHIFT_US) // _PERIOD_US["W"]
    return ts_us // _PERIOD_US[period]


def _to_us(name: str, value: Any) -> int:
    if isinstance(value, np.datetime64):
        v = value.astype("datetime64[us]")
    elif isinstance(value, _dt.datetime | str):
        v = to_datetime64(name, value)
    else:
        raise InvalidInputError(
            f"{name}: expected a datetime64 or a timezone-aware datetime (got "
            f"{type(value).__name__}). Pass e.g. np.datetime64('2024-01-31')."
        )
    if np.isnat(v):
        raise InvalidInputError(f"{name}: NaT. Pass a timestamp.")
    return int(v.astype(np.int64))


def _amounts(amount: Any) -> FloatArray:
    """Amounts as float64, converted once; integer minor units need no NaN/inf checks."""
    arr = as_1d("amount", amount)
    if arr.dtype.kind in "iub":
        return arr.astype(np.float64)
    return as_float_array("amount", arr)


@attrs.frozen
class _Merged:
    """Transactions merged per (customer, period), sorted by customer then period.

    ``cidx``/``mper`` describe the merged rows; ``tcode``/``tper``/``amount`` are the
    transactions (customer code, period, value) for amount sums by counting.
    """

    ids: npt.NDArray[Any]
    cidx: npt.NDArray[np.int64]
    mper: npt.NDArray[np.int64]
    tcode: npt.NDArray[np.int64]
    tper: npt.NDArray[np.int64]
    amount: FloatArray


def _aggregate(customer_id: Any, ts_us: npt.NDArray[np.int64], amount: Any, period: str) -> _Merged:
    """Merge purchases per (customer, period) with one sort of a packed int64 key."""
    ids, codes = _ids_and_codes(customer_id)
    amt = _amounts(amount)
    same_length(customer_id=codes, timestamp=ts_us, amount=amt)
    per = _period_index(ts_us, period)
    if per.size == 0:
        empty = np.zeros(0, np.int64)
        return _Merged(ids[:0], empty, empty, empty, empty, np.zeros(0))
    pmin = int(per.min())
    span = int(per.max()) - pmin + 1
    if ids.size * span < 2**62:
        key = codes * span
        key += per
        key -= pmin
        key.sort()  # in place: one SIMD sort of int64, no argsort
        keep = np.empty(key.size, dtype=bool)
        keep[0] = True
        np.not_equal(key[1:], key[:-1], out=keep[1:])
        cidx, mper = np.divmod(key[keep], span)
        mper += pmin
    else:  # pragma: no cover - needs more than 2**62 customer-periods
        pairs = np.unique(np.stack([codes, per]), axis=1)
        cidx, mper = pairs[0], pairs[1]
    return _Merged(ids, cidx, mper, codes, per, amt)


def _summary_from_merged(
    merged: _Merged,
    n: int,
    cidx: npt.NDArray[np.int64],
    mper: npt.NDArray[np.int64],
    tsel: npt.NDArray[np.bool_] | None,
    tcode: npt.NDArray[np.int64],
    end_period: int,
    scale: float,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, npt.NDArray[np.bool_]]:
    """frequency, recency, T, monetary and the mask of customers with merged rows.

    ``cidx``/``mper`` are merged rows sorted by customer then period; amounts are summed from
    the (selected) transactions by counting: all of them, and those in the customer's first
    period.
    """
    counts = np.bincount(cidx, minlength=n)
    present = counts > 0
    ends = np.cumsum(counts) - 1
    starts = ends - counts + 1
    first = mper[np.minimum(starts, max(mper.size - 1, 0))] if mper.size else np.zeros(n, np.int64)
    last = mper[np.maximum(ends, 0)] if mper.size else np.zeros(n, np.int64)
    freq = (counts - 1).astype(np.float64)
    amt = merged.amount if tsel is None else np.where(tsel, merged.amount, 0.0)
    total = np.bincount(tcode, weights=amt, minlength=n)
    in_first = merged.tper == first[tcode]
    first_amt = np.bincount(tcode[in_first], weights=amt[in_first], minlength=n)
    repeat = total - first_amt
    monetary = np.where(freq > 0, repeat / np.maximum(freq, 1.0), 0.0)
    recency = (last - first) * scale
    age = (end_period - first) * scale
    return (
        freq[present],
        recency.astype(np.float64)[present],
        age.astype(np.float64)[present],
        monetary[present],
        present,
    )


def _unit_scale(period: str, unit: str | None) -> tuple[str, float]:
    if period not in _PERIOD_US:
        raise InvalidInputError(
            f"period: unknown period {period!r}. Use one of {sorted(_PERIOD_US)}."
        )
    unit = period if unit is None else unit
    if unit not in _PERIOD_US:
        raise InvalidInputError(f"unit: unknown unit {unit!r}. Use one of {sorted(_PERIOD_US)}.")
    if _PERIOD_US[unit] < _PERIOD_US[period]:
        raise InvalidInputError(
            f"unit: {unit!r} is finer than period {period!r}. Pass a unit at least as coarse."
        )
    return unit, _PERIOD_US[period] / _PERIOD_US[unit]


def summarize(
    customer_id: Any,
    timestamp: Any,
    amount: Any,
    *,
    observation_end: Any,
    period: Period = "D",
    unit: Period | None = None,
) -> RFMSummary:
    """Summarize transaction columns into an [`RFMSummary`][crmkit.clv.RFMSummary].

    Args:
        customer_id: one id per transaction (strings or integers).
        timestamp: one timestamp per transaction: ``datetime64`` (taken as UTC) or
            timezone-aware datetimes / pandas columns.
        amount: one value per transaction, integers in minor units or floats. They are converted
            to float64 once; ``monetary`` is in the same unit as ``amount``.
        observation_end: the end of observation (inclusive). A transaction after it is an error:
            use [`calibration_holdout`][crmkit.clv.calibration_holdout] to split.
        period: purchases by one customer in the same period (``"h"``, ``"D"``, ``"W"``; weeks
            start on Monday, UTC) are merged into one.
        unit: the time unit of recency and T (default: ``period``); ``period="D", unit="W"``
            gives weeks with day resolution (the CDNOW convention).

    Examples:
        >>> import numpy as np
        >>> s = summarize([7, 7, 7], np.array(["2024-01-01T09:00", "2024-01-01T18:00",
        ...               "2024-01-03"], "datetime64[us]"), [100, 50, 30],
        ...               observation_end=np.datetime64("2024-01-05"))
        >>> s.frequency.tolist(), s.monetary.tolist(), s.T.tolist()
        ([1.0], [30.0], [4.0])
    """
    unit_name, scale = _unit_scale(period, unit)
    end_us = _to_us("observation_end", observation_end)
    ts = as_datetime_array("timestamp", timestamp)
    ts_us = ts.view(np.int64)
    late = ts_us > end_us
    require(
        "timestamp",
        late,
        ts,
        "transactions after observation_end",
        "Move observation_end or use calibration_holdout() to split the data",
    )
    merged = _aggregate(customer_id, ts_us, amount, period)
    ids = merged.ids
    end_period = int(_period_index(np.array([end_us], np.int64), period)[0])
    f, r, t, m, present = _summary_from_merged(
        merged, ids.size, merged.cidx, merged.mper, None, merged.tcode, end_period, scale
    )
    ids = ids[present]
    return RFMSummary(
        customer_id=ids,
        frequency=f,
        recency=r,
        T=t,
        monetary=m,
        period=period,
        unit=unit_name,
        observation_end=np.datetime64(end_us, "us"),
    )


def calibration_holdout(
    customer_id: Any,
    timestamp: Any,
    amount: Any,
    *,
    calibration_end: Any,
    observation_end: Any,
    period: Period = "D",
    unit: Period | None = None,
) -> CalibrationHoldout:
    """Split transactions at ``calibration_end``: a calibration summary and holdout counts.

    Only customers with a purchase on or before ``calibration_end`` are kept (a model cannot
    score a customer it has not seen); transactions after ``observation_end`` are an error.

    Examples:
        >>> import numpy as np
        >>> ts = np.array(["2024-01-01", "2024-01-20", "2024-01-25"], "datetime64[us]")
        >>> split = calibration_holdout(["a", "a", "b"], ts, [5.0, 7.0, 1.0],
        ...     calibration_end=np.datetime64("2024-01-10"),
        ...     observation_end=np.datetime64("2024-01-31"))
        >>> split.calibration.customer_id.tolist(), split.holdout_monetary.tolist()
        (['a'], [7.0])
    """
    unit_name, scale = _unit_scale(period, unit)
    cal_us = _to_us("calibration_end", calibration_end)
    end_us = _to_us("observation_end", observation_end)
    if cal_us >= end_us:
        raise InvalidInputError(
            "calibration_end: not before observation_end. Pass calibration_end < observation_end."
        )
    ts = as_datetime_array("timestamp", timestamp)
    ts_us = ts.view(np.int64)
    require(
        "timestamp",
        ts_us > end_us,
        ts,
        "transactions after observation_end",
        "Move observation_end",
    )
    merged = _aggregate(customer_id, ts_us, amount, period)
    ids, cidx, mper = merged.ids, merged.cidx, merged.mper
    cal_period = int(_period_index(np.array([cal_us], np.int64), period)[0])
    end_period = int(_period_index(np.array([end_us], np.int64), period)[0])
    in_cal = mper <= cal_period
    n = ids.size
    has_cal = np.bincount(cidx[in_cal], minlength=n) > 0
    keep_ids = ids[has_cal]
    remap = np.cumsum(has_cal) - 1
    sel = in_cal & has_cal[cidx]
    t_cal = merged.tper <= cal_period
    t_keep = has_cal[merged.tcode]
    t_code = remap[merged.tcode]
    t_code = np.where(t_keep, t_code, 0)
    f, r, t, m, _ = _summary_from_merged(
        merged,
        keep_ids.size,
        remap[cidx[sel]],
        mper[sel],
        t_cal & t_keep,
        t_code,
        cal_period,
        scale,
    )
    hold = (~in_cal) & has_cal[cidx]
    hf = np.bincount(remap[cidx[hold]], minlength=keep_ids.size).astype(np.float64)
    t_hold = (~t_cal) & t_keep
    hsum = np.bincount(
        t_code, weights=np.where(t_hold, merged.amount, 0.0), minlength=keep_ids.size
    )
    hm = np.where(hf > 0, hsum / np.maximum(hf, 1.0), 0.0)
    cal = RFMSummary(
        customer_id=keep_ids,
        frequency=f,
        recency=r,
        T=t,
        monetary=m,
        period=period,
        unit=unit_name,
        observation_end=np.datetime64(cal_us, "us"),
    )
    return CalibrationHoldout(
        calibration=cal,
        holdout_frequency=hf,
        holdout_monetary=hm,
        duration_holdout=float((end_period - cal_period) * scale),
    )


def summary_from_orders(
    orders: Any, *, observation_end: Any, period: Period = "D", unit: Period | None = None
) -> RFMSummary:
    """Summarize an order-column container (``customer_id``, ``placed_at``, ``total_minor``).

    Anything with those attributes works (e.g. ``crmkit.columns.OrderColumns``). ``monetary`` is
    in minor units (int64 converted to float64 once). If the container has a ``currency`` column
    holding more than one code, this raises ``CurrencyMismatchError``.

    Examples:
        >>> import numpy as np
        >>> from types import SimpleNamespace
        >>> orders = SimpleNamespace(customer_id=np.array(["c1", "c1"]),
        ...     placed_at=np.array(["2024-03-01", "2024-03-04"], "datetime64[us]"),
        ...     total_minor=np.array([1999, 2500]), currency=np.array(["EUR", "EUR"]))
        >>> summary_from_orders(orders, observation_end=np.datetime64("2024-03-10")).monetary
        array([2500.])
    """
    currency = getattr(orders, "currency", None)
    if currency is not None:
        cur = np.unique(as_1d("currency", currency))
        if cur.size > 1:
            raise CurrencyMismatchError(
                f"orders.currency: {cur.size} currencies in one summary (first two: "
                f"{cur[0]!r}, {cur[1]!r}). Summarize one currency at a time or convert first."
            )
    return summarize(
        orders.customer_id,
        orders.placed_at,
        orders.total_minor,
        observation_end=observation_end,
        period=period,
        unit=unit,
    )
