"""Local wall-clock time of UTC instants in each customer's IANA time zone, without row loops."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import numpy as np
import numpy.typing as npt

from crmkit import _validation as v
from crmkit.errors import InvalidInputError

__all__ = ["local_times", "utc_offsets"]

_US_PER_S = 1_000_000


def _zone(name: str) -> dt.tzinfo:
    if name in ("", "UTC", "Z"):
        return dt.UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInputError(
            f"time_zone: unknown IANA time zone ({name!r}). Use names like 'Europe/Berlin'."
        ) from exc


def _offset_us(zone: dt.tzinfo, at: np.datetime64) -> int:
    when = v.from_datetime64(at)
    off = when.astimezone(zone).utcoffset()
    assert off is not None
    return int(off.total_seconds() * _US_PER_S)


def utc_offsets(times: npt.NDArray[np.datetime64], time_zone: Any) -> npt.NDArray[np.int64]:
    """UTC offset in microseconds of each instant in its zone (``time_zone`` scalar or aligned).

    Offsets are computed once per zone and UTC day; only rows on a day whose offset changes
    (a daylight-saving switch) are computed one by one.

    Examples:
        >>> import numpy as np
        >>> t = np.array(["2024-01-15T12:00", "2024-07-15T12:00"], dtype="datetime64[us]")
        >>> (utc_offsets(t, "Europe/Berlin") // 3_600_000_000).tolist()
        [1, 2]
    """
    t = np.asarray(times, dtype="datetime64[us]")
    tz = np.asarray(time_zone, dtype=str)
    if tz.ndim == 0:
        tz = np.full(t.size, str(tz))
    v.same_length(times=t, time_zone=tz)
    out = np.zeros(t.size, dtype=np.int64)
    names, inverse = np.unique(tz, return_inverse=True)
    for k, name in enumerate(names.tolist()):
        zone = _zone(name)
        if zone is dt.UTC:
            continue
        rows = np.flatnonzero(inverse == k)
        day = t[rows].astype("datetime64[D]")
        days, day_inv = np.unique(day, return_inverse=True)
        start = np.array([_offset_us(zone, d.astype("datetime64[us]")) for d in days])
        end = np.array([_offset_us(zone, (d + 1).astype("datetime64[us]")) for d in days])
        off = start[day_inv]
        switch = np.flatnonzero(start[day_inv] != end[day_inv])
        for i in switch.tolist():
            off[i] = _offset_us(zone, t[rows[i]])
        out[rows] = off
    return out


def local_times(times: npt.NDArray[np.datetime64], time_zone: Any) -> npt.NDArray[np.datetime64]:
    """Wall-clock local times (naive ``datetime64[us]``) of UTC instants in the given zones.

    Examples:
        >>> import numpy as np
        >>> t = np.array(["2024-07-15T12:00"], dtype="datetime64[us]")
        >>> str(local_times(t, ["America/New_York"])[0])
        '2024-07-15T08:00:00.000000'
    """
    t = np.asarray(times, dtype="datetime64[us]")
    out: npt.NDArray[np.datetime64] = t + utc_offsets(t, time_zone).astype("timedelta64[us]")
    return out
