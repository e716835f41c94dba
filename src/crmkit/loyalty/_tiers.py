"""Tier evaluation: every member at once (vectorized), or one member on an event."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmkit import _validation as v
from crmkit.errors import InvalidInputError
from crmkit.loyalty._tierpolicy import (
    Downgrade,
    DowngradeStep,
    Metric,
    TierPolicy,
    Upgrade,
    Window,
)

__all__ = ["Reason", "TierState", "TierStatus", "evaluate_member", "evaluate_tiers"]

IntArray = npt.NDArray[np.int64]
Times = npt.NDArray[np.datetime64]
_NAT = np.datetime64("NaT", "us")
_DAY = np.timedelta64(1, "D").astype("timedelta64[us]")
_US = np.timedelta64(1, "us")


class Reason(enum.IntEnum):
    """Why a member holds the tier an evaluation gave.

    Examples:
        >>> Reason.GRACE_STARTED.name.lower()
        'grace_started'
    """

    BELOW_FIRST_TIER = 0
    UNCHANGED = 1
    UPGRADED = 2
    RETAINED = 3
    DOWNGRADED = 4
    GRACE_STARTED = 5
    IN_GRACE = 6
    FLOOR = 7
    LIFETIME = 8


@attrs.frozen(kw_only=True, eq=False)
class TierState:
    """What the engine remembers per member between evaluations (aligned arrays).

    ``tier`` (-1: none), ``since`` (last tier change), ``evaluated_at`` (NaT: never),
    ``grace_until`` (NaT: no grace running), ``floor`` (manual tier, -1: none), ``lifetime``
    (highest lifetime tier reached, -1: none), ``joined_at`` (anniversaries).

    Examples:
        >>> import numpy as np
        >>> s = TierState.start(np.array(["2023-05-01", "2024-02-10"], "datetime64[us]"))
        >>> s.tier.tolist(), len(s)
        ([-1, -1], 2)
    """

    tier: IntArray
    since: Times
    evaluated_at: Times
    grace_until: Times
    floor: IntArray
    lifetime: IntArray
    joined_at: Times

    def __attrs_post_init__(self) -> None:
        n = self.tier.size
        for f in attrs.fields(TierState):
            a = getattr(self, f.name)
            if a.size != n:
                raise InvalidInputError(
                    f"TierState.{f.name}: {a.size} rows, expected {n}. Pass aligned columns."
                )

    def __len__(self) -> int:
        return int(self.tier.size)

    @classmethod
    def start(cls, joined_at: Any, *, floor: Any = None) -> TierState:
        """Members who just joined: no tier yet, ``since = joined_at``; ``floor`` optional."""
        j = v.as_datetime_array("joined_at", joined_at)
        n = j.size
        fl = (
            np.full(n, -1, np.int64)
            if floor is None
            else v.as_int_array("floor", floor, min_value=-1)
        )
        return cls(
            tier=np.full(n, -1, np.int64),
            since=j,
            evaluated_at=np.full(n, _NAT),
            grace_until=np.full(n, _NAT),
            floor=fl,
            lifetime=np.full(n, -1, np.int64),
            joined_at=j,
        )

    def with_floor(self, floor: Any) -> TierState:
        """The same state with manual tiers (floors) replaced (-1: none)."""
        fl = v.as_int_array("floor", floor, min_value=-1)
        return attrs.evolve(self, floor=fl)


@attrs.frozen(kw_only=True, eq=False)
class TierStatus:
    """The result of an evaluation: the new state and, per member, where they stand.

    ``next_tier`` is -1 at the top; ``to_next`` is how much metric is missing to reach it;
    ``to_retain`` how much is missing to keep the current tier at the next review (0 when
    secure); ``days_left`` the days until the period ends (the next review).

    Examples:
        >>> import numpy as np
        >>> from crmkit.loyalty import Tier, TierPolicy
        >>> policy = TierPolicy(tiers=[Tier(name="Silver", threshold=100),
        ...                            Tier(name="Gold", threshold=500)], window="calendar_year")
        >>> state = TierState.start(np.array(["2024-01-01"] * 2, "datetime64[us]"))
        >>> st = evaluate_tiers(policy, state, np.datetime64("2024-06-01"),
        ...                     codes=[0, 0, 1], at=np.array(["2024-02-01", "2024-03-01",
        ...                     "2024-04-01"], "datetime64[us]"), values=[300, 250, 50])
        >>> st.tier.tolist(), st.to_next.tolist()
        ([1, -1], [0, 50])
        >>> st.explain(policy, 1)
        'Below Silver: 50 of 100 in the window; 50 to go.'
    """

    state: TierState
    previous: IntArray
    metric: IntArray
    next_tier: IntArray
    to_next: IntArray
    to_retain: IntArray
    days_left: IntArray
    reason: npt.NDArray[np.int8]

    @property
    def tier(self) -> IntArray:
        """The tier each member holds after the evaluation."""
        return self.state.tier

    def __len__(self) -> int:
        return int(self.metric.size)

    def distribution(self, policy: TierPolicy) -> dict[str, int]:
        """Members per tier name (plus ``"(none)"``), in tier order."""
        counts = np.bincount(self.tier + 1, minlength=len(policy.tiers) + 1)
        out = {"(none)": int(counts[0])}
        out.update({t.name: int(counts[i + 1]) for i, t in enumerate(policy.tiers)})
        return out

    def explain(self, policy: TierPolicy, i: int) -> str:
        """The reason for member ``i``'s tier, in words, with the numbers behind it."""
        names = [t.name for t in policy.tiers]
        tier = int(self.tier[i])
        prev = int(self.previous[i])
        m = int(self.metric[i])
        reason = Reason(int(self.reason[i]))
        nxt = int(self.next_tier[i])
        tail = f"; {int(self.to_next[i])} to {names[nxt]}" if nxt >= 0 else ""
        if reason is Reason.BELOW_FIRST_TIER:
            return (
                f"Below {names[0]}: {m} of {policy.tiers[0].threshold} in the window; "
                f"{int(self.to_next[i])} to go."
            )
        name = names[tier]
        text = {
            Reason.UNCHANGED: f"{name}: unchanged, {m} in the window",
            Reason.UPGRADED: f"Upgraded from {names[prev] if prev >= 0 else 'no tier'} to "
            f"{name}: {m} in the window meets {policy.tiers[tier].threshold}",
            Reason.RETAINED: f"{name} retained at the review",
            Reason.DOWNGRADED: f"Downgraded from {names[prev]} to {name}: the retention "
            f"threshold {policy.tiers[prev].retain} was not met",
            Reason.GRACE_STARTED: f"{name} kept in a {policy.grace_days}-day grace period: the "
            f"retention threshold {policy.tiers[tier].retain} was not met",
            Reason.IN_GRACE: f"{name} kept: grace period running until {self.state.grace_until[i]}",
            Reason.FLOOR: f"{name}: held by a manual tier",
            Reason.LIFETIME: f"{name}: a lifetime tier",
        }[reason]
        return f"{text}{tail}; {int(self.days_left[i])} days left in the period."


def _window_sums(
    codes: IntArray, at: Times, values: IntArray, lo: Times, hi: Times, n: int
) -> IntArray:
    """Σ values per member over ``[lo[m], hi[m])`` (bounds uniform → scalar compares)."""
    if codes.size == 0:
        return np.zeros(n, dtype=np.int64)
    lo_u = lo.size and bool((lo == lo[0]).all())
    hi_u = hi.size and bool((hi == hi[0]).all())
    mask = (at >= lo[0]) if lo_u else (at >= lo[codes])
    mask &= (at < hi[0]) if hi_u else (at < hi[codes])
    w = values[mask]
    sums = np.bincount(codes[mask], weights=w, minlength=n)
    return sums.astype(np.int64)


def _local_day_start(policy: TierPolicy, days: IntArray) -> Times:
    return policy.clock.day_starts(days)


def _anniversaries(policy: TierPolicy, joined: Times, as_of: np.datetime64) -> Times:
    """Start of each member's current membership year (local anniversary <= as_of)."""
    clock = policy.clock
    jd = clock.local_days(joined).astype("datetime64[D]")
    today = clock.local_days(np.array([as_of]))[0]
    jm = jd.astype("datetime64[M]")
    month_in_year = jm.astype(np.int64) % 12
    day = (jd - jm.astype("datetime64[D]")).astype(np.int64)
    year = np.datetime64(int(today), "D").astype("datetime64[Y]")

    def in_year(y: np.datetime64 | npt.NDArray[Any]) -> IntArray:
        month = np.asarray(y).astype("datetime64[M]") + month_in_year
        length = ((month + 1).astype("datetime64[D]") - month.astype("datetime64[D]")).astype(
            np.int64
        )
        d = month.astype("datetime64[D]") + np.minimum(day, length - 1)
        return np.asarray(d, dtype="datetime64[D]").astype(np.int64)

    this = in_year(year)
    start = np.where(this <= today, this, in_year(year - 1))
    return _local_day_start(policy, start)


def _periods(
    policy: TierPolicy, state: TierState, as_of: np.datetime64
) -> tuple[Times, Times, Times, Times]:
    """(current window start, period start, previous period start, period end) per member."""
    n = len(state)
    w = policy.window
    if w in (Window.ROLLING, Window.SINCE_TIER_CHANGE):
        step = policy.window_days * _DAY
        k = (as_of - state.since) // step
        k = np.maximum(k, 0)
        pstart = state.since + k * step
        prev = pstart - step
        pend = pstart + step
        cur = np.full(n, as_of - step + _US) if w is Window.ROLLING else state.since
        return cur, pstart, prev, pend
    if w is Window.CALENDAR_YEAR:
        today = policy.clock.local_days(np.array([as_of]))[0]
        y = np.datetime64(int(today), "D").astype("datetime64[Y]")
        bounds = np.array([y - 1, y, y + 1]).astype("datetime64[D]").astype(np.int64)
        b = _local_day_start(policy, bounds)
        pstart = np.full(n, b[1])
        return pstart, pstart, np.full(n, b[0]), np.full(n, b[2])
    pstart = _anniversaries(policy, state.joined_at, as_of)
    clock = policy.clock
    days = clock.local_days(pstart).astype("datetime64[D]")
    prev_days = _shift_years(days, -1)
    next_days = _shift_years(days, 1)
    return (
        pstart,
        pstart,
        clock.day_starts(prev_days.astype(np.int64)),
        clock.day_starts(next_days.astype(np.int64)),
    )


def _shift_years(days: npt.NDArray[np.datetime64], years: int) -> npt.NDArray[np.datetime64]:
    month = days.astype("datetime64[M]")
    day = (days - month.astype("datetime64[D]")).astype(np.int64)
    target = month + 12 * years
    length = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(
        np.int64
    )
    out = target.astype("datetime64[D]") + np.minimum(day, length - 1)
    return np.asarray(out, dtype="datetime64[D]")


def _levels(thresholds: IntArray, metric: IntArray) -> IntArray:
    """Highest tier index whose threshold <= metric (-1 when none)."""
    return np.searchsorted(thresholds, metric, side="right").astype(np.int64) - 1


def evaluate_tiers(
    policy: TierPolicy,
    state: TierState,
    as_of: Any,
    *,
    codes: Any = (),
    at: Any = (),
    values: Any = None,
    active_points: Any = None,
) -> TierStatus:
    """Evaluate every member's tier at ``as_of``, vectorized.

    Activity rows (orders, or earn entries for ``points_earned``) are given as member
    ``codes`` (indexes into the state's rows), times ``at`` and ``values`` (spend in minor
    units, points; default 1 per row for ``orders``). ``active_points`` is each member's
    usable balance, for the ``active_points`` metric.

    A review happens when the period containing ``as_of`` started after the last evaluation;
    it judges the most recent completed period. The result carries the new state: store it
    and pass it to the next evaluation.

    Examples:
        >>> import numpy as np
        >>> from crmkit.loyalty import Tier, TierPolicy
        >>> policy = TierPolicy(tiers=[Tier(name="Silver", threshold=0),
        ...     Tier(name="Gold", threshold=1000)], window="calendar_year",
        ...     downgrade="period_end")
        >>> s0 = TierState.start(np.array(["2023-01-01"], "datetime64[us]"))
        >>> at = np.array(["2023-03-01"], "datetime64[us]")
        >>> s1 = evaluate_tiers(policy, s0, np.datetime64("2023-03-02"), codes=[0], at=at,
        ...                     values=[1500])
        >>> s2 = evaluate_tiers(policy, s1.state, np.datetime64("2024-01-02"), codes=[0], at=at,
        ...                     values=[1500])
        >>> s3 = evaluate_tiers(policy, s2.state, np.datetime64("2025-01-02"), codes=[0], at=at,
        ...                     values=[1500])
        >>> [s.tier.item() for s in (s1, s2, s3)], Reason(s3.reason[0]).name
        ([1, 1, 0], 'DOWNGRADED')
    """
    n = len(state)
    now = v.to_datetime64("as_of", as_of) if not isinstance(as_of, np.datetime64) else as_of
    now = now.astype("datetime64[us]")
    tiers = policy.tiers
    thresholds = np.array([t.threshold for t in tiers], dtype=np.int64)
    retains = np.array([t.retain for t in tiers], dtype=np.int64)
    is_life = np.array([t.lifetime for t in tiers] + [False], dtype=bool)

    cur_lo, pstart, prev, pend = _periods(policy, state, now)
    hi_now = np.full(n, now + _US)
    if policy.metric is Metric.ACTIVE_POINTS:
        m_now = v.as_int_array("active_points", active_points)
        m_prev = m_now
    else:
        c = v.as_int_array("codes", codes, min_value=0)
        t = np.asarray(at, dtype="datetime64[us]") if len(c) else np.empty(0, "datetime64[us]")
        if values is None:
            vals = np.ones(c.size, dtype=np.int64)
        else:
            vals = v.as_int_array("values", values)
        v.same_length(codes=c, at=t, values=vals)
        if c.size and int(c.max()) >= n:
            raise InvalidInputError(
                f"codes: member code {int(c.max())} but the state has {n} members. "
                "Codes index the rows of the state."
            )
        m_now = _window_sums(c, t, vals, cur_lo, hi_now, n)
        crossed_any = bool(
            (state.evaluated_at < pstart).any() or np.isnat(state.evaluated_at).any()
        )
        lo_prev = state.since if policy.window is Window.SINCE_TIER_CHANGE else prev
        m_prev = _window_sums(c, t, vals, lo_prev, pstart, n) if crossed_any else m_now

    tier = state.tier
    last = np.where(np.isnat(state.evaluated_at), state.since, state.evaluated_at)
    crossed = (last < pstart) & (pstart > state.since)
    q_now = _levels(thresholds, m_now)
    q_prev = _levels(thresholds, m_prev)
    r_now = _levels(retains, m_now)
    r_prev = _levels(retains, m_prev)

    up_target = np.where(crossed, q_prev, -1)
    if policy.upgrade is Upgrade.IMMEDIATE:
        up_target = np.maximum(up_target, q_now)
    up = up_target > tier

    if policy.downgrade is Downgrade.NEVER:
        due = np.zeros(n, dtype=bool)
        level = tier
    elif policy.downgrade is Downgrade.AUTOMATIC:
        level = r_now
        due = level < tier
    else:
        level = np.where(crossed, r_prev, tier)
        due = crossed & (r_prev < tier)
    requalified = r_now >= tier
    in_grace = ~np.isnat(state.grace_until)
    grace_until = state.grace_until.copy()
    if policy.grace_days > 0:
        grace_over = in_grace & ~requalified & (now >= state.grace_until)
        start_grace = due & ~in_grace
        keep = (in_grace & ~requalified & ~grace_over) | start_grace
        down = grace_over & (tier >= 0)
        level = np.where(grace_over, np.minimum(level, r_now), level)
        grace_until = np.where(start_grace, now + policy.grace_days * _DAY, grace_until)
        grace_until = np.where(in_grace & requalified, _NAT, grace_until)
    else:
        keep = np.zeros(n, dtype=bool)
        start_grace = keep
        down = due
    one = policy.step is DowngradeStep.ONE_TIER
    down_target = np.maximum(tier - 1 if one else np.minimum(level, tier - 1), -1)

    computed = np.where(up, up_target, np.where(down & ~up, down_target, tier))
    lifetime = np.maximum(state.lifetime, np.where(is_life[computed], computed, -1))
    final = np.maximum(np.maximum(computed, state.floor), lifetime)
    changed = final != tier
    grace_until = np.where(changed | up, _NAT, grace_until)

    reason = np.full(n, Reason.UNCHANGED, dtype=np.int8)
    reason[crossed & ~changed] = Reason.RETAINED
    reason[keep & in_grace & ~start_grace] = Reason.IN_GRACE
    reason[start_grace & ~changed] = Reason.GRACE_STARTED
    reason[final > tier] = Reason.UPGRADED
    reason[final < tier] = Reason.DOWNGRADED
    reason[(final > computed) & (final == state.floor)] = Reason.FLOOR
    reason[(final > computed) & (final == lifetime) & (final != state.floor)] = Reason.LIFETIME
    reason[final < 0] = Reason.BELOW_FIRST_TIER

    top = len(tiers) - 1
    nxt = np.where(final < top, final + 1, -1)
    to_next = np.where(nxt >= 0, np.maximum(thresholds[np.maximum(nxt, 0)] - m_now, 0), 0)
    period_metric = m_now
    if policy.window is Window.ROLLING:
        # What must be in the window at the review: activity after the review's window start.
        period_metric = _window_sums_or(
            policy, m_now, codes, at, values, pend - policy.window_days * _DAY, hi_now, n
        )
    to_retain = np.where(
        final >= 0, np.maximum(retains[np.maximum(final, 0)] - period_metric, 0), 0
    )
    new_since = np.where(changed, now, state.since)
    if policy.window in (Window.ROLLING, Window.SINCE_TIER_CHANGE):
        end = np.where(changed, now + policy.window_days * _DAY, pend)
    else:
        end = pend
    days_left = -((now - end) // _DAY).astype(np.int64)
    new_state = TierState(
        tier=final,
        since=new_since,
        evaluated_at=np.full(n, now),
        grace_until=grace_until,
        floor=state.floor,
        lifetime=lifetime,
        joined_at=state.joined_at,
    )
    return TierStatus(
        state=new_state,
        previous=tier,
        metric=m_now,
        next_tier=nxt,
        to_next=to_next,
        to_retain=to_retain,
        days_left=days_left,
        reason=reason,
    )


def _window_sums_or(
    policy: TierPolicy,
    fallback: IntArray,
    codes: Any,
    at: Any,
    values: Any,
    lo: Times,
    hi: Times,
    n: int,
) -> IntArray:
    if policy.metric is Metric.ACTIVE_POINTS:
        return fallback
    c = v.as_int_array("codes", codes)
    if c.size == 0:
        return np.zeros(n, dtype=np.int64)
    t = np.asarray(at, dtype="datetime64[us]")
    vals = np.ones(c.size, np.int64) if values is None else v.as_int_array("values", values)
    return _window_sums(c, t, vals, lo, hi, n)


def evaluate_member(
    policy: TierPolicy,
    state: TierState,
    as_of: dt.datetime | np.datetime64,
    *,
    at: Any = (),
    values: Any = None,
    active_points: int | None = None,
) -> TierStatus:
    """Evaluate one member (a one-row state) on an event, from that member's own activity.

    The same rules as [`evaluate_tiers`][crmkit.loyalty.evaluate_tiers], over the member's
    activity rows only: cheap enough to run on every order.

    Examples:
        >>> import numpy as np
        >>> from crmkit.loyalty import Tier, TierPolicy
        >>> policy = TierPolicy(tiers=[Tier(name="Silver", threshold=0),
        ...                            Tier(name="Gold", threshold=1000)])
        >>> s = TierState.start(np.array(["2024-01-01"], "datetime64[us]"))
        >>> evaluate_member(policy, s, np.datetime64("2024-02-01"),
        ...     at=np.array(["2024-01-20"], "datetime64[us]"), values=[1200]).tier.tolist()
        [1]
    """
    if len(state) != 1:
        raise InvalidInputError(
            f"state: {len(state)} members; evaluate_member takes one. Use evaluate_tiers."
        )
    t = np.asarray(at, dtype="datetime64[us]").reshape(-1)
    return evaluate_tiers(
        policy,
        state,
        as_of,
        codes=np.zeros(t.size, dtype=np.int64),
        at=t,
        values=values,
        active_points=None if active_points is None else [active_points],
    )
