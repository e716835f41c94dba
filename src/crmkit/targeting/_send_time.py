"""Each customer's best hour and weekday to receive a message, smoothed toward the population."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import numpy.typing as npt
from scipy import special

from crmkit import _validation as v
from crmkit.columns import EventColumns
from crmkit.errors import ConvergenceError
from crmkit.targeting._keys import Audience
from crmkit.targeting._timezones import local_times

__all__ = ["SendTimes", "best_send_times"]

_US_PER_HOUR = 3_600_000_000
_ENGAGEMENT = ("email_open", "email_click", "sms_click", "push_open")


@attrs.frozen(kw_only=True, eq=False)
class SendTimes:
    """Per customer: best local hour (0–23) and weekday (Monday = 0) and the smoothed shares.

    ``hour_share`` (customers × 24) and ``weekday_share`` (customers × 7) are posterior mean
    probabilities of engaging in each bin; ``prior_strength_hour`` / ``prior_strength_weekday``
    are the estimated Dirichlet concentrations (how many events' worth of weight the population
    profile gets).

    Examples:
        >>> import numpy as np
        >>> ev = EventColumns.from_arrays(event_id=["1", "2"], customer_id=["a", "b"],
        ...     type=["email_open", "email_open"],
        ...     at=np.array(["2024-05-06T09:10", "2024-05-07T09:40"], dtype="datetime64[us]"))
        >>> st = best_send_times(ev, customer_id=["a", "b", "c"])
        >>> st.hour.tolist()
        [9, 9, 9]
    """

    customer_id: npt.NDArray[np.str_] = attrs.field(converter=v.frozen)
    hour: npt.NDArray[np.int64] = attrs.field(converter=v.frozen)
    weekday: npt.NDArray[np.int64] = attrs.field(converter=v.frozen)
    hour_share: npt.NDArray[np.float64] = attrs.field(converter=v.frozen)
    weekday_share: npt.NDArray[np.float64] = attrs.field(converter=v.frozen)
    events: npt.NDArray[np.int64] = attrs.field(converter=v.frozen)
    prior_strength_hour: float
    prior_strength_weekday: float


def _dirichlet_precision(counts: npt.NDArray[np.float64], mean: npt.NDArray[np.float64]) -> float:
    """ML Dirichlet-multinomial precision with a fixed mean (Minka's fixed point)."""
    rows = counts[counts.sum(axis=1) > 0]
    if rows.shape[0] < 2:
        return 1.0
    totals = rows.sum(axis=1)
    mean = np.clip(mean, 1e-12, None)
    alpha = 1.0
    for _ in range(200):
        a = alpha * mean
        num = float((mean * (special.digamma(rows + a) - special.digamma(a))).sum())
        den = float((special.digamma(totals + alpha) - special.digamma(alpha)).sum())
        if den <= 0 or num <= 0:
            return 1e6  # no extra spread at all: the population profile is everything
        new = alpha * num / den
        if not np.isfinite(new):
            raise ConvergenceError(f"send time: Dirichlet precision diverged (alpha {alpha:g}).")
        if abs(new - alpha) <= 1e-6 * alpha:
            return float(min(new, 1e6))
        alpha = min(new, 1e6)
    return float(alpha)


def _smooth(
    counts: npt.NDArray[np.float64], prior_strength: float | None
) -> tuple[npt.NDArray[np.float64], float]:
    pop = counts.sum(axis=0) + 1.0  # add-one keeps every bin possible
    mean = pop / pop.sum()
    alpha = _dirichlet_precision(counts, mean) if prior_strength is None else prior_strength
    post = (counts + alpha * mean) / (counts.sum(axis=1, keepdims=True) + alpha)
    return post, alpha


def best_send_times(
    events: EventColumns,
    *,
    customer_id: Any,
    time_zone: Any = "UTC",
    event_types: tuple[str, ...] = _ENGAGEMENT,
    prior_strength: float | None = None,
) -> SendTimes:
    """Best local hour and weekday per customer from engagement events, empirical Bayes.

    Each customer's counts of engagement events by local hour (and weekday) are combined with
    the population profile as a Dirichlet prior: posterior share = (n_h + α p_h) / (n + α). The
    concentration α is the maximum-likelihood Dirichlet-multinomial precision over all
    customers (Minka 2000) unless ``prior_strength`` fixes it. A customer with no events gets
    the population's best time; one with many events gets their own.

    Examples:
        >>> import numpy as np
        >>> ev = EventColumns.from_arrays(event_id=["1"], customer_id=["a"], type=["email_click"],
        ...     at=np.array(["2024-05-06T18:00"], dtype="datetime64[us]"))
        >>> best_send_times(ev, customer_id=["a"], time_zone="Europe/Berlin").hour.tolist()
        [20]
    """
    aud = Audience.of(customer_id)
    n = len(aud)
    tz = np.asarray(time_zone, dtype=str)
    if tz.ndim == 1:
        v.same_length(customer_id=aud.customer_id, time_zone=tz)
    sel = np.isin(events.type, event_types) & (events.customer_id != "")
    pos = aud.position(events.customer_id[sel])
    member = pos >= 0
    # the population profile and the prior's strength come from everyone with events; customers
    # outside the audience are read in UTC unless the audience gives their zone
    others, other_row = np.unique(events.customer_id[sel][~member], return_inverse=True)
    row = np.where(member, pos, n + np.searchsorted(others, events.customer_id[sel]))
    zone = np.full(row.size, "UTC", dtype=object)
    zone[member] = tz if tz.ndim == 0 else tz[pos[member]]
    local = local_times(events.at[sel], zone.astype(str))
    day = local.astype("datetime64[D]")
    hour = ((local - day.astype("datetime64[us]")).astype(np.int64) // _US_PER_HOUR).astype(
        np.int64
    )
    weekday = (day.astype(np.int64) + 3) % 7
    rows = n + others.size
    h_counts = np.zeros((rows, 24))
    w_counts = np.zeros((rows, 7))
    np.add.at(h_counts, (row, hour), 1.0)
    np.add.at(w_counts, (row, weekday), 1.0)
    del other_row
    h_post, a_h = _smooth(h_counts, prior_strength)
    w_post, a_w = _smooth(w_counts, prior_strength)
    h_post, w_post = h_post[:n], w_post[:n]
    pos = row[row < n]
    return SendTimes(
        customer_id=aud.customer_id,
        hour=np.argmax(h_post, axis=1).astype(np.int64),
        weekday=np.argmax(w_post, axis=1).astype(np.int64),
        hour_share=h_post,
        weekday_share=w_post,
        events=np.bincount(pos, minlength=n).astype(np.int64),
        prior_strength_hour=a_h,
        prior_strength_weekday=a_w,
    )
