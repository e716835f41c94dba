"""The program's calendar: local days, months and years of a time zone, over UTC instants.

Loyalty programs speak in local calendar terms ("points expire at the end of the month",
"status for the calendar year"), while crmkit stores instants in UTC. A
[`ProgramClock`][crmkit.loyalty.ProgramClock] converts between the two, one instant at a time
(plain Python, for a single member's event) or over whole columns (vectorized: the UTC offset is
looked up per hour in a table built once for the span of the data, so millions of timestamps
cost a few array gathers).
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo

import attrs
import numpy as np
import numpy.typing as npt

from crmkit.errors import InvalidInputError

__all__ = ["ProgramClock"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_US_PER_HOUR = 3_600_000_000
_US_PER_DAY = 86_400_000_000
_EPOCH_DATE = dt.date(1970, 1, 1)

Instants = npt.NDArray[np.datetime64]


def _zone(inst: object, attr: object, value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise InvalidInputError(
            f"ProgramClock.timezone: {value!r} is not an IANA time zone ({exc}). "
            "Pass a name such as 'Europe/Berlin' or 'UTC'."
        ) from exc


@functools.lru_cache(maxsize=64)
def _zoneinfo(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def _us(value: dt.datetime) -> int:
    return (value - _EPOCH) // dt.timedelta(microseconds=1)


@attrs.frozen(kw_only=True)
class ProgramClock:
    """The time zone a program's calendar is kept in.

    Local days end at local midnight; the first instant of the next local day is the exclusive
    end used for expiry (``t < expires_at`` means still valid).

    Examples:
        >>> import datetime as dt
        >>> clock = ProgramClock(timezone="Europe/Berlin")
        >>> t = dt.datetime(2024, 3, 31, 22, 30, tzinfo=dt.UTC)   # already April 1st in Berlin
        >>> clock.local_date(t)
        datetime.date(2024, 4, 1)
        >>> clock.start_of_day(dt.date(2024, 4, 2)).isoformat()
        '2024-04-01T22:00:00+00:00'
    """

    timezone: str = attrs.field(default="UTC", validator=_zone)

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        """The ``zoneinfo.ZoneInfo`` of the program."""
        return _zoneinfo(self.timezone)

    # -- one instant (plain Python) -------------------------------------------------------
    def local_date(self, at: dt.datetime) -> dt.date:
        """The local calendar date of an aware instant."""
        return at.astimezone(self.tz).date()

    def start_of_day(self, day: dt.date) -> dt.datetime:
        """The UTC instant at which local ``day`` begins (local midnight, gaps resolved forward)."""
        local = dt.datetime(day.year, day.month, day.day, tzinfo=self.tz)
        # A midnight inside a DST gap does not exist; zoneinfo maps it with the pre-gap offset,
        # which lands one hour later on the UTC axis: the first instant of the day that exists.
        return local.astimezone(dt.UTC)

    # -- columns (vectorized) ---------------------------------------------------------------
    def local_days(self, at: Instants) -> npt.NDArray[np.int64]:
        """Local calendar days (days since 1970-01-01) of UTC instants, vectorized."""
        us = np.asarray(at, dtype="datetime64[us]").view(np.int64)
        if us.size == 0:
            return np.empty(0, dtype=np.int64)
        hours = us // _US_PER_HOUR
        lo = int(hours.min())
        hi = int(hours.max())
        table, changes = _offset_table(self.timezone, lo, hi + 1)
        idx = hours - lo
        off = table[idx]
        # An offset change inside the hour: resolve those instants exactly.
        if changes.any() and (changing := changes[idx]).any():
            pos = np.flatnonzero(changing)
            off = off.copy()
            off[pos] = [self._offset_us(int(x)) for x in us[pos]]
        return (us + off) // _US_PER_DAY

    def day_starts(self, days: npt.NDArray[np.int64]) -> Instants:
        """The UTC instants at which local ``days`` (days since 1970-01-01) begin, vectorized."""
        days = np.asarray(days, dtype=np.int64)
        if days.size == 0:
            return np.empty(0, dtype="datetime64[us]")
        lo = int(days.min())
        hi = int(days.max())
        if days.size * 4 < hi - lo + 1:  # few days over a long span: look each one up
            out = np.array([_day_start_us(self.timezone, int(d)) for d in days], np.int64)
            return out.view("datetime64[us]")
        table = np.array(
            [_day_start_us(self.timezone, d) for d in range(lo, hi + 1)], dtype=np.int64
        )
        return table[days - lo].view("datetime64[us]")

    def _offset_us(self, us: int) -> int:
        at = _EPOCH + dt.timedelta(microseconds=us)
        off = at.astimezone(self.tz).utcoffset()
        return 0 if off is None else off // dt.timedelta(microseconds=1)


def calendar_units(days: npt.NDArray[np.int64], unit: str) -> npt.NDArray[np.int64]:
    """Days since 1970 as months (``unit="M"``) or years (``"Y"``) since 1970, vectorized.

    numpy's calendar conversion is slow per element; a table over the span of the days, then
    one gather, is not.
    """
    if days.size == 0:
        return np.empty(0, dtype=np.int64)
    lo = int(days.min())
    hi = int(days.max())
    span = np.arange(lo, hi + 1, dtype=np.int64).astype("datetime64[D]")
    table = span.astype(f"datetime64[{unit}]").astype(np.int64)
    return table[days - lo]


def unit_start_days(units: npt.NDArray[np.int64], unit: str) -> npt.NDArray[np.int64]:
    """The first day (days since 1970) of months or years given as numbers since 1970."""
    if units.size == 0:
        return np.empty(0, dtype=np.int64)
    lo = int(units.min())
    hi = int(units.max())
    span = np.arange(lo, hi + 1, dtype=np.int64).astype(f"datetime64[{unit}]")
    table = span.astype("datetime64[D]").astype(np.int64)
    return table[units - lo]


@functools.lru_cache(maxsize=4096)
def _day_start_us(zone: str, day: int) -> int:
    return _us(ProgramClock(timezone=zone).start_of_day(_EPOCH_DATE + dt.timedelta(days=day)))


@functools.lru_cache(maxsize=16)
def _offset_table(
    zone: str, lo_hour: int, hi_hour: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """UTC offsets (µs) at the start of each hour in ``[lo_hour, hi_hour]``, and whether the
    offset changes within each hour."""
    tz = _zoneinfo(zone)
    n = hi_hour - lo_hour + 1
    if zone == "UTC":
        return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)
    # Offsets are piecewise constant: compare the ends of each day and look at every hour
    # only on the days whose offset changes.
    start = _EPOCH + dt.timedelta(hours=lo_hour)
    step = dt.timedelta(microseconds=1)

    def offset(hour: int) -> int:
        off = (start + dt.timedelta(hours=hour)).astimezone(tz).utcoffset()
        return 0 if off is None else off // step

    out = np.empty(n, dtype=np.int64)
    for i in range(0, n, 24):
        j = min(n, i + 24)
        first, last = offset(i), offset(j - 1)
        if first == last:
            out[i:j] = first
        else:
            out[i:j] = [offset(h) for h in range(i, j)]
    changes = np.zeros(n, dtype=bool)
    changes[:-1] = out[1:] != out[:-1]
    out.flags.writeable = False
    changes.flags.writeable = False
    return out, changes
