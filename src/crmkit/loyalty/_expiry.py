"""When earned points expire: never, after N days, at the end of the month or of the year."""

from __future__ import annotations

import datetime as dt
import enum

import attrs
import numpy as np
import numpy.typing as npt

from crmkit.errors import InvalidInputError
from crmkit.loyalty._clock import ProgramClock, calendar_units, unit_start_days

__all__ = ["ExpiryMode", "ExpiryRule"]

_EPOCH_DATE = dt.date(1970, 1, 1)


class ExpiryMode(enum.StrEnum):
    """How a lot's expiry date is derived from the local day it was earned.

    Examples:
        >>> ExpiryMode("end_of_month").value
        'end_of_month'
    """

    NEVER = "never"
    AFTER_DAYS = "after_days"
    END_OF_MONTH = "end_of_month"
    END_OF_YEAR = "end_of_year"


def _non_negative(inst: object, attr: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError(
            f"ExpiryRule.{attr.name}: expected a whole number >= 0 (got {value!r})."
        )


@attrs.frozen(kw_only=True)
class ExpiryRule:
    """Expiry of earned points, always rounded to the end of a local day.

    * ``never``: lots never expire.
    * ``after_days``: valid through the local day ``days`` after the earning day.
    * ``end_of_month``: valid through the last day of the month that is ``offset`` months after
      the earning month (``offset=0``: the same month; ``offset=12``: one year later).
    * ``end_of_year``: valid through December 31st, ``offset`` years after the earning year.

    ``expires_at`` is exclusive: points are usable while ``t < expires_at``; it is the local
    midnight that ends the last valid day, as a UTC instant.

    Examples:
        >>> import datetime as dt
        >>> clock = ProgramClock(timezone="Europe/Berlin")
        >>> rule = ExpiryRule(mode="end_of_month", offset=0)
        >>> rule.expires_at(dt.datetime(2024, 2, 10, 9, tzinfo=dt.UTC), clock).isoformat()
        '2024-02-29T23:00:00+00:00'
        >>> ExpiryRule(mode="after_days", days=30).expires_at(
        ...     dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC), clock).isoformat()
        '2024-01-31T23:00:00+00:00'
        >>> ExpiryRule().expires_at(dt.datetime(2024, 1, 1, tzinfo=dt.UTC), clock) is None
        True
    """

    mode: ExpiryMode = attrs.field(default=ExpiryMode.NEVER, converter=ExpiryMode)
    days: int = attrs.field(default=0, validator=_non_negative)
    offset: int = attrs.field(default=0, validator=_non_negative)

    def __attrs_post_init__(self) -> None:
        if self.mode is ExpiryMode.AFTER_DAYS and self.days < 1:
            raise InvalidInputError(
                f"ExpiryRule.days: mode 'after_days' needs days >= 1 (got {self.days}). "
                "Use mode 'never' for points that do not expire."
            )

    def last_day(self, earned: dt.date) -> dt.date | None:
        """The last local day on which points earned on ``earned`` are still valid."""
        if self.mode is ExpiryMode.NEVER:
            return None
        if self.mode is ExpiryMode.AFTER_DAYS:
            return earned + dt.timedelta(days=self.days)
        if self.mode is ExpiryMode.END_OF_MONTH:
            months = earned.year * 12 + earned.month - 1 + self.offset + 1
            return dt.date(months // 12, months % 12 + 1, 1) - dt.timedelta(days=1)
        return dt.date(earned.year + self.offset, 12, 31)

    def expires_at(self, earned_at: dt.datetime, clock: ProgramClock) -> dt.datetime | None:
        """The exclusive expiry instant (UTC) of points earned at ``earned_at``, or None."""
        last = self.last_day(clock.local_date(earned_at))
        if last is None:
            return None
        return clock.start_of_day(last + dt.timedelta(days=1))

    def expires_at_array(
        self, earned_at: npt.NDArray[np.datetime64], clock: ProgramClock
    ) -> npt.NDArray[np.datetime64]:
        """``expires_at`` over a column of UTC instants; NaT where points never expire."""
        at = np.asarray(earned_at, dtype="datetime64[us]")
        if self.mode is ExpiryMode.NEVER:
            return np.full(at.size, np.datetime64("NaT"), dtype="datetime64[us]")
        return self.expires_at_days(clock.local_days(at), clock)

    def expires_at_days(
        self, days: npt.NDArray[np.int64], clock: ProgramClock
    ) -> npt.NDArray[np.datetime64]:
        """``expires_at`` from local earning days (days since 1970-01-01), vectorized."""
        if self.mode is ExpiryMode.NEVER:
            return np.full(days.size, np.datetime64("NaT"), dtype="datetime64[us]")
        if self.mode is ExpiryMode.AFTER_DAYS:
            end = days + self.days + 1
        elif self.mode is ExpiryMode.END_OF_MONTH:
            end = unit_start_days(calendar_units(days, "M") + (self.offset + 1), "M")
        else:
            end = unit_start_days(calendar_units(days, "Y") + (self.offset + 1), "Y")
        return clock.day_starts(end)
