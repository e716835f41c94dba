"""Tier programs: tiers, qualification metric, window, upgrade and downgrade modes, grace."""

from __future__ import annotations

import enum
from typing import Any

import attrs

from crmkit.errors import InvalidInputError
from crmkit.loyalty._clock import ProgramClock
from crmkit.model._checks import non_empty

__all__ = ["Downgrade", "DowngradeStep", "Metric", "Tier", "TierPolicy", "Upgrade", "Window"]


class Metric(enum.StrEnum):
    """What qualifies a member for a tier.

    ``spend`` (minor units), ``orders`` (count), ``points_earned`` in the window, or
    ``active_points`` (the usable balance at evaluation time; no window).

    Examples:
        >>> Metric("orders").value
        'orders'
    """

    SPEND = "spend"
    ORDERS = "orders"
    POINTS_EARNED = "points_earned"
    ACTIVE_POINTS = "active_points"


class Window(enum.StrEnum):
    """The period the metric is summed over, and the review cycle of period-end modes.

    * ``rolling``: the last ``window_days`` days; reviews every ``window_days`` from the last
      tier change.
    * ``calendar_year``: the local calendar year so far; reviews on January 1st.
    * ``anniversary``: the membership year so far (from the local join date); reviews on the
      anniversary.
    * ``since_tier_change``: everything since the last tier change; reviews every
      ``window_days`` from it.

    Examples:
        >>> Window("anniversary").value
        'anniversary'
    """

    ROLLING = "rolling"
    CALENDAR_YEAR = "calendar_year"
    ANNIVERSARY = "anniversary"
    SINCE_TIER_CHANGE = "since_tier_change"


class Upgrade(enum.StrEnum):
    """When a member who qualifies for a higher tier gets it.

    Examples:
        >>> Upgrade("period_end").value
        'period_end'
    """

    IMMEDIATE = "immediate"
    PERIOD_END = "period_end"


class Downgrade(enum.StrEnum):
    """When a member who no longer meets the retention threshold loses the tier.

    ``never``; ``automatic`` (as soon as the window's metric drops below it); ``period_end``
    (at the review, judged on the completed period).

    Examples:
        >>> Downgrade("automatic").value
        'automatic'
    """

    NEVER = "never"
    AUTOMATIC = "automatic"
    PERIOD_END = "period_end"


class DowngradeStep(enum.StrEnum):
    """How far a downgrade goes: one tier at a time, or straight to the qualifying tier.

    Examples:
        >>> DowngradeStep("one_tier").value
        'one_tier'
    """

    ONE_TIER = "one_tier"
    TO_QUALIFYING = "to_qualifying"


def _count(inst: Any, attr: Any, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError(
            f"{type(inst).__name__}.{attr.name}: expected a whole number >= 0 (got {value!r})."
        )


@attrs.frozen(kw_only=True)
class Tier:
    """One tier: its qualification threshold, an optional lower retention threshold.

    ``retain_threshold`` (default: the threshold) is what a member must keep reaching to stay;
    a ``lifetime`` tier, once reached, is never lost.

    Examples:
        >>> Tier(name="Gold", threshold=100_000, retain_threshold=80_000).retain
        80000
    """

    name: str = attrs.field(validator=non_empty)
    threshold: int = attrs.field(validator=_count)
    retain_threshold: int | None = None
    lifetime: bool = False

    def __attrs_post_init__(self) -> None:
        r = self.retain_threshold
        if r is not None and (isinstance(r, bool) or not isinstance(r, int) or r < 0):
            raise InvalidInputError(f"Tier.retain_threshold: expected an int >= 0 (got {r!r}).")
        if r is not None and r > self.threshold:
            raise InvalidInputError(
                f"Tier.retain_threshold: {r} is above the threshold {self.threshold} of tier "
                f"{self.name!r}. Keeping a tier cannot be harder than getting it."
            )

    @property
    def retain(self) -> int:
        """The retention threshold (the threshold when none is set)."""
        return self.threshold if self.retain_threshold is None else self.retain_threshold


def _tiers(values: Any) -> tuple[Tier, ...]:
    return tuple(values)


@attrs.frozen(kw_only=True)
class TierPolicy:
    """A tier program: ordered tiers and the rules that move members between them.

    Tier indexes follow ``tiers`` (0 = lowest); ``-1`` means no tier (below the first
    threshold). Thresholds are in the metric's unit (minor units for spend).

    Examples:
        >>> policy = TierPolicy(
        ...     tiers=[Tier(name="Member", threshold=0), Tier(name="Silver", threshold=50_000),
        ...            Tier(name="Gold", threshold=150_000, retain_threshold=120_000)],
        ...     metric="spend", window="calendar_year", upgrade="immediate",
        ...     downgrade="period_end", step="one_tier", grace_days=30,
        ...     clock=ProgramClock(timezone="Europe/Berlin"))
        >>> ", ".join(t.name for t in policy.tiers)
        'Member, Silver, Gold'
    """

    tiers: tuple[Tier, ...] = attrs.field(converter=_tiers)
    metric: Metric = attrs.field(default=Metric.SPEND, converter=Metric)
    window: Window = attrs.field(default=Window.ROLLING, converter=Window)
    window_days: int = attrs.field(default=365, validator=_count)
    upgrade: Upgrade = attrs.field(default=Upgrade.IMMEDIATE, converter=Upgrade)
    downgrade: Downgrade = attrs.field(default=Downgrade.PERIOD_END, converter=Downgrade)
    step: DowngradeStep = attrs.field(default=DowngradeStep.TO_QUALIFYING, converter=DowngradeStep)
    grace_days: int = attrs.field(default=0, validator=_count)
    clock: ProgramClock = attrs.field(factory=ProgramClock)

    def __attrs_post_init__(self) -> None:
        if not self.tiers:
            raise InvalidInputError("TierPolicy.tiers: empty. A program needs at least one tier.")
        for i, t in enumerate(self.tiers):
            if not isinstance(t, Tier):
                raise InvalidInputError(
                    f"TierPolicy.tiers[{i}]: expected a Tier (got {type(t).__name__})."
                )
        for i in range(1, len(self.tiers)):
            a, b = self.tiers[i - 1], self.tiers[i]
            if b.threshold <= a.threshold or b.retain < a.retain:
                raise InvalidInputError(
                    f"TierPolicy.tiers[{i}]: tier {b.name!r} (threshold {b.threshold}, retain "
                    f"{b.retain}) does not rise above {a.name!r} ({a.threshold}, {a.retain}). "
                    "List tiers from lowest to highest with increasing thresholds."
                )
        names = [t.name for t in self.tiers]
        if len(set(names)) != len(names):
            raise InvalidInputError(f"TierPolicy.tiers: duplicate names in {names}.")
        needs_days = self.window in (Window.ROLLING, Window.SINCE_TIER_CHANGE)
        if needs_days and self.window_days < 1:
            raise InvalidInputError(
                f"TierPolicy.window_days: window {self.window.value!r} needs window_days >= 1 "
                f"(got {self.window_days})."
            )

    def index(self, name: str) -> int:
        """The index of a tier by name."""
        for i, t in enumerate(self.tiers):
            if t.name == name:
                return i
        raise InvalidInputError(
            f"tier: {name!r} is not a tier of this program ({[t.name for t in self.tiers]})."
        )
