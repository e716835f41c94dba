"""Earn rule values: rounding, multipliers, campaigns, caps and bonus events."""

from __future__ import annotations

import datetime as dt
import enum
import fractions
import math
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmkit.errors import InvalidInputError
from crmkit.model._checks import aware, non_empty

__all__ = ["BonusRule", "Campaign", "EarnCap", "EarnRule", "Period", "Rounding"]

Multiplier = fractions.Fraction


def _fraction(value: Any) -> fractions.Fraction:
    if isinstance(value, float):
        raise InvalidInputError(
            f"multiplier: float {value!r} is inexact. Pass an int, a str such as '1.5' or a "
            "fractions.Fraction."
        )
    try:
        out = fractions.Fraction(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"multiplier: {value!r} is not a number ({exc}).") from exc
    if out < 0:
        raise InvalidInputError(f"multiplier: {value!r} is negative. Multipliers are >= 0.")
    return out


def _fractions(values: Any) -> tuple[fractions.Fraction, ...]:
    return tuple(_fraction(v) for v in values)


def _fraction_map(values: Mapping[str, Any] | None) -> dict[str, fractions.Fraction]:
    return {str(k): _fraction(v) for k, v in (values or {}).items()}


def _count(inst: Any, attr: Any, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError(
            f"{type(inst).__name__}.{attr.name}: expected a whole number >= 0 (got {value!r})."
        )


def _positive(inst: Any, attr: Any, value: Any) -> None:
    _count(inst, attr, value)
    if value < 1:
        raise InvalidInputError(
            f"{type(inst).__name__}.{attr.name}: expected a whole number >= 1 (got {value!r})."
        )


class Rounding(enum.StrEnum):
    """How fractional points round to whole points (always explicit in an EarnRule).

    Examples:
        >>> Rounding.HALF_UP.round_ratio(np.array([5, 15]), 10).tolist()
        [1, 2]
    """

    FLOOR = "floor"
    CEIL = "ceil"
    HALF_UP = "half_up"
    HALF_EVEN = "half_even"

    def round_ratio(self, num: npt.NDArray[np.int64], den: int) -> npt.NDArray[np.int64]:
        """``num / den`` rounded, exactly, for non-negative integer numerators."""
        if self is Rounding.FLOOR:
            return num // den
        if self is Rounding.CEIL:
            return -((-num) // den)
        if self is Rounding.HALF_UP:
            return (2 * num + den) // (2 * den)
        q, r = np.divmod(num, den)
        twice = 2 * r
        up = (twice > den) | ((twice == den) & (q % 2 == 1))
        return np.asarray(q + up, dtype=np.int64)

    def round_int(self, num: int, den: int) -> int:
        """The scalar twin of ``round_ratio``."""
        if self is Rounding.FLOOR:
            return num // den
        if self is Rounding.CEIL:
            return -((-num) // den)
        if self is Rounding.HALF_UP:
            return (2 * num + den) // (2 * den)
        q, r = divmod(num, den)
        return q + int(2 * r > den or (2 * r == den and q % 2 == 1))


class Period(enum.StrEnum):
    """A local calendar period of the program's time zone.

    Examples:
        >>> Period("month").value
        'month'
    """

    DAY = "day"
    MONTH = "month"
    YEAR = "year"
    EVER = "ever"


def _strings(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


@attrs.frozen(kw_only=True)
class Campaign:
    """A time-boxed multiplier, optionally restricted to channels.

    Active for orders placed in ``[start, end)``. When several campaigns are active, the highest
    multiplier applies (campaigns do not stack).

    Examples:
        >>> import datetime as dt
        >>> Campaign(name="double-points", multiplier=2,
        ...          start=dt.datetime(2024, 11, 29, tzinfo=dt.UTC),
        ...          end=dt.datetime(2024, 12, 2, tzinfo=dt.UTC), channels=("app",)).multiplier
        Fraction(2, 1)
    """

    name: str = attrs.field(validator=non_empty)
    multiplier: fractions.Fraction = attrs.field(converter=_fraction)
    start: dt.datetime = attrs.field(validator=aware)
    end: dt.datetime = attrs.field(validator=aware)
    channels: tuple[str, ...] = attrs.field(default=(), converter=_strings)

    def __attrs_post_init__(self) -> None:
        if self.end <= self.start:
            raise InvalidInputError(
                f"Campaign.end: {self.end.isoformat()} is not after start "
                f"{self.start.isoformat()} (campaign {self.name!r})."
            )


def _campaigns(values: Iterable[Campaign]) -> tuple[Campaign, ...]:
    return tuple(values)


@attrs.frozen(kw_only=True)
class EarnCap:
    """At most ``points`` earned from orders per member per local ``period``.

    Orders are capped in time order: the order that crosses the cap earns the rest.

    Examples:
        >>> EarnCap(points=5000, period="month").period.value
        'month'
    """

    points: int = attrs.field(validator=_count)
    period: Period = attrs.field(default=Period.MONTH, converter=Period)


@attrs.frozen(kw_only=True)
class EarnRule:
    """How orders earn points.

    Base points are ``points_per_unit`` per ``unit_minor`` of eligible amount (e.g. 1 point per
    100 cents) plus ``points_per_item`` per unit bought, times the line's product or category
    multiplier, times the member's tier multiplier, times the highest active campaign
    multiplier; rounded once per order with the explicit ``rounding``. ``points_per_order`` is
    a flat amount added after rounding. Orders whose eligible amount is below
    ``min_order_minor`` earn nothing, cancelled orders earn nothing.

    Eligible amount excludes shipping and tax (by default) and, when lines are given and
    ``exclude_discounted_lines`` is set, every line with a discount. Multipliers are exact
    fractions (``"1.5"``, ``Fraction(3, 2)``), never floats.

    Examples:
        >>> rule = EarnRule(rounding="floor", points_per_unit=1, unit_minor=100,
        ...                 tier_multipliers=[1, "1.25", 2])
        >>> rule.denominator
        4
    """

    rounding: Rounding = attrs.field(converter=Rounding)
    points_per_unit: int = attrs.field(default=1, validator=_count)
    unit_minor: int = attrs.field(default=100, validator=_positive)
    points_per_order: int = attrs.field(default=0, validator=_count)
    points_per_item: int = attrs.field(default=0, validator=_count)
    min_order_minor: int = attrs.field(default=0, validator=_count)
    exclude_shipping: bool = True
    exclude_tax: bool = True
    exclude_discounted_lines: bool = False
    tier_multipliers: tuple[fractions.Fraction, ...] = attrs.field(default=(), converter=_fractions)
    category_multipliers: dict[str, fractions.Fraction] = attrs.field(
        factory=dict, converter=_fraction_map, hash=False
    )
    product_multipliers: dict[str, fractions.Fraction] = attrs.field(
        factory=dict, converter=_fraction_map, hash=False
    )
    campaigns: tuple[Campaign, ...] = attrs.field(default=(), converter=_campaigns)
    cap: EarnCap | None = None

    @property
    def denominator(self) -> int:
        """The common denominator of every multiplier (exact integer arithmetic)."""
        dens = [1]
        dens += [m.denominator for m in self.tier_multipliers]
        dens += [m.denominator for m in self.category_multipliers.values()]
        dens += [m.denominator for m in self.product_multipliers.values()]
        dens += [c.multiplier.denominator for c in self.campaigns]
        return math.lcm(*dens)

    def scaled(self, m: fractions.Fraction) -> int:
        """A multiplier as an integer over ``denominator``."""
        return int(m * self.denominator)

    def tier_scaled(self, tier: int) -> int:
        """The scaled multiplier of a tier index (``-1`` or unknown: 1×)."""
        if 0 <= tier < len(self.tier_multipliers):
            return self.scaled(self.tier_multipliers[tier])
        return self.denominator

    def line_scaled(self, product_id: str, category: str) -> int:
        """The scaled multiplier of a line: its product's, else its category's, else 1×."""
        m = self.product_multipliers.get(product_id)
        if m is None:
            m = self.category_multipliers.get(category, fractions.Fraction(1))
        return self.scaled(m)

    def campaign_scaled(self, at: dt.datetime, channel: str) -> int:
        """The scaled highest active campaign multiplier at ``at`` on ``channel`` (1× if none)."""
        best = self.denominator
        for c in self.campaigns:
            if c.start <= at < c.end and (not c.channels or channel in c.channels):
                best = max(best, self.scaled(c.multiplier))
        return best


@attrs.frozen(kw_only=True)
class BonusRule:
    """Points for an event type (signup, birthday, review, referral...), with a limit.

    At most ``limit`` events of that type earn per member per local ``period``
    (``period="ever"``: a one-off such as signup).

    Examples:
        >>> BonusRule(event_type="review", points=50, limit=3, period="month").limit
        3
    """

    event_type: str = attrs.field(validator=non_empty)
    points: int = attrs.field(validator=_positive)
    limit: int = attrs.field(default=1, validator=_positive)
    period: Period = attrs.field(default=Period.EVER, converter=Period)
