"""Who may be contacted now: consent, suppression, cooldown, frequency caps and send windows.

Every customer of an audience comes out either eligible or with exactly one reason (the most
fundamental one, in the order of ``ExclusionReason``), and, when the exclusion only postpones the
send, the earliest time at which it lifts.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from typing import Any, ClassVar, Literal

import attrs
import numpy as np
import numpy.typing as npt

from crmkit import _validation as v
from crmkit.columns import ConsentColumns, ContactColumns, OrderColumns
from crmkit.columns._base import Columns, col
from crmkit.errors import InvalidInputError
from crmkit.model import Channel
from crmkit.targeting._keys import Audience
from crmkit.targeting._timezones import local_times, utc_offsets

__all__ = [
    "Eligibility",
    "EligibilityResult",
    "ExclusionReason",
    "FrequencyCap",
    "SendWindow",
    "SuppressionColumns",
    "SuppressionReason",
    "suppressions_from_contacts",
]

_US_PER_HOUR = 3_600_000_000
_US_PER_MIN = 60_000_000
_NAT = np.datetime64("NaT", "us")


class SuppressionReason(enum.StrEnum):
    """Why a customer is on a suppression list, most binding first.

    Examples:
        >>> SuppressionReason("legal_hold") is SuppressionReason.LEGAL_HOLD
        True
    """

    LEGAL_HOLD = "legal_hold"
    COMPLAINED = "complained"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    MANUAL = "manual"


class ExclusionReason(enum.StrEnum):
    """Why a customer is not contacted now, in the order checks are applied.

    The first three kinds of reason drop a customer; ``cooldown``, ``frequency_cap`` (under the
    ``"defer"`` policy) and ``quiet_hours`` only defer the send.

    Examples:
        >>> ExclusionReason("quiet_hours") is ExclusionReason.QUIET_HOURS
        True
    """

    NO_CONSENT = "no_consent"
    LEGAL_HOLD = "legal_hold"
    COMPLAINED = "complained"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    MANUAL = "manual"
    COOLDOWN = "cooldown"
    FREQUENCY_CAP = "frequency_cap"
    QUIET_HOURS = "quiet_hours"


_SUPPRESSION_ORDER = [r.value for r in SuppressionReason]


@attrs.frozen(kw_only=True, eq=False)
class SuppressionColumns(Columns):
    """Suppression list entries; ``channel`` ``""`` means every channel, ``until`` NaT forever.

    Examples:
        >>> import numpy as np
        >>> s = SuppressionColumns.from_arrays(customer_id=["c1"], reason=["bounced"],
        ...     channel=["email"], at=np.array(["2024-01-01"], dtype="datetime64[us]"))
        >>> s.active(np.datetime64("2024-02-01"), "email").tolist()
        [True]
    """

    time_column: ClassVar[str] = "at"

    customer_id: npt.NDArray[np.str_] = col("id")
    reason: npt.NDArray[np.str_] = col("id")
    at: npt.NDArray[np.datetime64] = col("time")
    channel: npt.NDArray[np.str_] = col("str", default="")
    until: npt.NDArray[np.datetime64] = col("opt_time", default=_NAT)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        bad = ~np.isin(self.reason, _SUPPRESSION_ORDER)
        v.require(
            "SuppressionColumns.reason",
            bad,
            self.reason,
            "unknown reasons",
            f"Use one of {_SUPPRESSION_ORDER}.",
        )

    def active(self, at: np.datetime64, channel: Channel | str) -> npt.NDArray[np.bool_]:
        """Which entries suppress ``channel`` at instant ``at``."""
        t = np.asarray(at).astype("datetime64[us]")
        chan = (self.channel == "") | (self.channel == Channel(channel).value)
        live = (self.at <= t) & (np.isnat(self.until) | (self.until > t))
        out: npt.NDArray[np.bool_] = chan & live
        return out


def suppressions_from_contacts(contacts: ContactColumns) -> SuppressionColumns:
    """Suppressions implied by the contact log: bounced, complained and unsubscribed outcomes.

    Each such contact suppresses its own channel from the contact's time on.

    Examples:
        >>> import numpy as np
        >>> k = ContactColumns.from_arrays(contact_id=["k1", "k2"], campaign_id=["x", "x"],
        ...     customer_id=["a", "b"], channel=["email", "sms"], outcome=["complained", "sent"],
        ...     at=np.array(["2024-01-01", "2024-01-01"], dtype="datetime64[us]"))
        >>> suppressions_from_contacts(k).reason.tolist()
        ['complained']
    """
    keep = np.isin(contacts.outcome, ["bounced", "complained", "unsubscribed"])
    return SuppressionColumns(
        customer_id=contacts.customer_id[keep],
        reason=contacts.outcome[keep],
        at=contacts.at[keep],
        channel=contacts.channel[keep],
        until=np.full(int(keep.sum()), _NAT),
    )


def _channel(value: Channel | str) -> str:
    return Channel(value).value


def _optional_channel(value: Channel | str | None) -> str | None:
    return None if value is None else Channel(value).value


def _positive(name: str) -> Any:
    def check(inst: Any, attr: Any, value: float) -> None:
        if not value > 0:
            raise InvalidInputError(f"{name}: must be > 0 (got {value!r}). Pass a positive number.")

    return check


@attrs.frozen(kw_only=True)
class FrequencyCap:
    """At most ``max_contacts`` contacts in any rolling window of ``window_hours``.

    ``channel`` None counts every channel (a cap across channels); ``campaign_id`` None counts every
    campaign (a cap across campaigns).

    Examples:
        >>> FrequencyCap(max_contacts=2, window_hours=7 * 24, channel="email").max_contacts
        2
    """

    max_contacts: int = attrs.field(validator=_positive("FrequencyCap.max_contacts"))
    window_hours: float = attrs.field(validator=_positive("FrequencyCap.window_hours"))
    channel: str | None = attrs.field(default=None, converter=_optional_channel)
    campaign_id: str | None = None


def _days(value: Iterable[int]) -> tuple[int, ...]:
    return tuple(value)


def _caps(value: Iterable[FrequencyCap]) -> tuple[FrequencyCap, ...]:
    return tuple(value)


def _minutes(value: dt.time) -> int:
    return value.hour * 60 + value.minute


@attrs.frozen(kw_only=True)
class SendWindow:
    """Local hours (and weekdays, Monday = 0) in which sending is allowed; the rest is quiet.

    A window whose ``end`` is not after ``start`` runs over midnight (22:00–06:00).

    Examples:
        >>> w = SendWindow(start=dt.time(8), end=dt.time(21), weekdays=(0, 1, 2, 3, 4))
        >>> w.allows(dt.datetime(2024, 5, 6, 9, 30))   # a Monday, 09:30 local
        True
    """

    start: dt.time = dt.time(8)
    end: dt.time = dt.time(21)
    weekdays: tuple[int, ...] = attrs.field(default=(0, 1, 2, 3, 4, 5, 6), converter=_days)

    @weekdays.validator
    def _check_days(self, attribute: Any, value: tuple[int, ...]) -> None:
        if not value or any(d not in range(7) for d in value):
            raise InvalidInputError(
                f"SendWindow.weekdays: expected weekday numbers 0..6 (got {value!r}). Monday is 0."
            )

    def allows(self, local: dt.datetime) -> bool:
        """Whether a local wall-clock time lies in the window."""
        t = np.array([np.datetime64(local.replace(tzinfo=None), "us")])
        return bool(self._allowed(t)[0])

    def _allowed(self, local: npt.NDArray[np.datetime64]) -> npt.NDArray[np.bool_]:
        day = local.astype("datetime64[D]")
        minute = (local - day.astype("datetime64[us]")).astype(np.int64) // _US_PER_MIN
        weekday = (day.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
        s, e = _minutes(self.start), _minutes(self.end)
        in_hours = (minute >= s) & (minute < e) if e > s else (minute >= s) | (minute < e)
        # an overnight window belongs to the weekday on which it opened
        opened = np.where((e <= s) & (minute < e), (weekday + 6) % 7, weekday)
        out: npt.NDArray[np.bool_] = in_hours & np.isin(opened, self.weekdays)
        return out

    def next_opening(
        self, after: npt.NDArray[np.datetime64], time_zone: Any
    ) -> npt.NDArray[np.datetime64]:
        """Earliest UTC instant at or after each ``after`` that lies in the window locally."""
        after = np.asarray(after, dtype="datetime64[us]")
        local = local_times(after, time_zone)
        result = np.where(self._allowed(local), after, _NAT)
        todo = np.isnat(result)
        day: npt.NDArray[np.datetime64] = local.astype("datetime64[D]").astype("datetime64[us]")
        start = np.timedelta64(_minutes(self.start) * _US_PER_MIN, "us")
        offsets = utc_offsets(after, time_zone).astype("timedelta64[us]")
        for d in range(-1, 8):
            if not todo.any():
                break
            cand_local: npt.NDArray[np.datetime64] = (
                day + np.timedelta64(d * 24 * _US_PER_HOUR, "us") + start
            )
            ok = todo & (cand_local >= local) & self._allowed(cand_local)
            if ok.any():
                approx = cand_local[ok] - offsets[ok]
                tz = np.asarray(time_zone, dtype=str)
                tz_ok = tz if tz.ndim == 0 else tz[ok]
                exact = cand_local[ok] - utc_offsets(approx, tz_ok).astype("timedelta64[us]")
                result[ok] = np.maximum(exact, after[ok])
                todo &= ~ok
        return result


@attrs.frozen(kw_only=True, eq=False)
class EligibilityResult:
    """Per customer of the audience: eligible now, or the reason and when it lifts.

    ``reason`` is ``""`` for eligible customers; ``next_eligible_at`` is set (UTC) for deferred
    customers and NaT otherwise.

    Examples:
        >>> import numpy as np
        >>> r = EligibilityResult(customer_id=np.array(["a", "b"]),
        ...     reason=np.array(["", "bounced"]),
        ...     next_eligible_at=np.array(["NaT", "NaT"], dtype="datetime64[us]"))
        >>> r.eligible.tolist(), r.counts()
        ([True, False], {'eligible': 1, 'bounced': 1})
    """

    customer_id: npt.NDArray[np.str_] = attrs.field(converter=v.frozen)
    reason: npt.NDArray[np.str_] = attrs.field(converter=v.frozen)
    next_eligible_at: npt.NDArray[np.datetime64] = attrs.field(converter=v.frozen)

    @property
    def eligible(self) -> npt.NDArray[np.bool_]:
        """True for customers who may be contacted at the send time."""
        return v.frozen(self.reason == "")

    @property
    def deferred(self) -> npt.NDArray[np.bool_]:
        """True for customers excluded now but eligible at ``next_eligible_at``."""
        return v.frozen(~np.isnat(self.next_eligible_at))

    def counts(self) -> dict[str, int]:
        """Number of customers per reason (``"eligible"`` first, then reasons in check order)."""
        out = {"eligible": int((self.reason == "").sum())}
        for r in ExclusionReason:
            n = int((self.reason == r.value).sum())
            if n:
                out[r.value] = n
        return out

    def to_pandas(self) -> Any:
        """A DataFrame of the columns (needs pandas)."""
        import pandas as pd

        return pd.DataFrame(
            {
                "customer_id": self.customer_id,
                "reason": self.reason,
                "next_eligible_at": pd.to_datetime(self.next_eligible_at).tz_localize("UTC"),
            }
        )


def _send_time(send_at: Any) -> np.datetime64:
    if isinstance(send_at, np.datetime64):
        out: np.datetime64 = send_at.astype("datetime64[us]")
        return out
    return v.to_datetime64("send_at", send_at)


@attrs.frozen(kw_only=True)
class Eligibility:
    """The rules deciding who may receive a message on ``channel`` for ``purpose`` at a time.

    Checks, in order: consent granted at the send time (granted before and not revoked by it),
    active suppressions, cooldown after the last purchase, frequency caps over rolling windows
    of the contact log, and the send window in the customer's time zone. Under
    ``cap_policy="defer"`` a capped customer is deferred to the time the window frees a slot;
    under ``"drop"`` the customer is dropped.

    Examples:
        >>> import numpy as np
        >>> from crmkit.columns import ConsentColumns
        >>> consents = ConsentColumns.from_arrays(customer_id=["a", "b"], channel=["email"] * 2,
        ...     purpose=["marketing"] * 2, status=["granted", "revoked"],
        ...     at=np.array(["2024-01-01", "2024-01-01"], dtype="datetime64[us]"))
        >>> rules = Eligibility(channel="email")
        >>> res = rules.evaluate(["a", "b", "c"], send_at=np.datetime64("2024-03-01T10:00"),
        ...                      consents=consents)
        >>> res.reason.tolist()
        ['', 'no_consent', 'no_consent']
    """

    channel: str = attrs.field(converter=_channel)
    purpose: str = "marketing"
    caps: tuple[FrequencyCap, ...] = attrs.field(default=(), converter=_caps)
    cap_policy: Literal["defer", "drop"] = attrs.field(
        default="defer", validator=attrs.validators.in_(("defer", "drop"))
    )
    cooldown_hours: float = attrs.field(default=0.0, validator=attrs.validators.ge(0))
    send_window: SendWindow | None = None

    def evaluate(
        self,
        customer_id: Any,
        *,
        send_at: Any,
        consents: ConsentColumns,
        suppressions: SuppressionColumns | None = None,
        contacts: ContactColumns | None = None,
        orders: OrderColumns | None = None,
        time_zone: Any = "UTC",
    ) -> EligibilityResult:
        """Apply the rules to an audience at ``send_at``; ``time_zone`` is one name or aligned."""
        aud = Audience.of(customer_id)
        n = len(aud)
        t = _send_time(send_at)
        tz = np.asarray(time_zone, dtype=str)
        if tz.ndim == 1:
            v.same_length(customer_id=aud.customer_id, time_zone=tz)
        reason = np.full(n, "", dtype="<U16")
        nxt = np.full(n, _NAT)

        granted = consents.granted(
            aud.customer_id, channel=self.channel, purpose=self.purpose, at=t
        )
        reason[~granted] = ExclusionReason.NO_CONSENT.value

        if suppressions is not None and len(suppressions):
            self._suppress(aud, suppressions, t, reason)

        if self.cooldown_hours > 0 and orders is not None and len(orders):
            self._cooldown(aud, orders, t, reason, nxt)

        if self.caps:
            if contacts is None:
                raise InvalidInputError(
                    "contacts: frequency caps are set but no contact log was given. "
                    "Pass contacts=ContactColumns(...) (empty if nothing was sent yet)."
                )
            self._cap(aud, contacts, t, reason, nxt)

        deferred = ~np.isnat(nxt)
        if self.send_window is not None:
            open_now = self.send_window._allowed(local_times(np.full(n, t), tz))
            quiet = (reason == "") & ~open_now
            reason[quiet] = ExclusionReason.QUIET_HOURS.value
            base = np.where(deferred, nxt, t)
            need = quiet | deferred
            if need.any():
                tz_need = tz if tz.ndim == 0 else tz[need]
                nxt[need] = self.send_window.next_opening(base[need], tz_need)
        return EligibilityResult(customer_id=aud.customer_id, reason=reason, next_eligible_at=nxt)

    def _suppress(
        self,
        aud: Audience,
        sup: SuppressionColumns,
        t: np.datetime64,
        reason: npt.NDArray[np.str_],
    ) -> None:
        act = sup.active(t, self.channel)
        pos = aud.position(sup.customer_id[act])
        rank = np.searchsorted(_SUPPRESSION_ORDER, sup.reason[act], sorter=_SORTER)
        rank = _SORTER[rank]
        hit = pos >= 0
        best = np.full(len(aud), len(_SUPPRESSION_ORDER))
        np.minimum.at(best, pos[hit], rank[hit])
        apply = (best < len(_SUPPRESSION_ORDER)) & (reason == "")
        reason[apply] = np.asarray(_SUPPRESSION_ORDER)[best[apply]]

    def _cooldown(
        self,
        aud: Audience,
        orders: OrderColumns,
        t: np.datetime64,
        reason: npt.NDArray[np.str_],
        nxt: npt.NDArray[np.datetime64],
    ) -> None:
        buys = orders.purchases()
        sel = buys.placed_at <= t
        pos = aud.position(buys.customer_id[sel])
        hit = pos >= 0
        last = np.full(len(aud), np.iinfo(np.int64).min, dtype=np.int64)
        np.maximum.at(last, pos[hit], buys.placed_at[sel][hit].astype(np.int64))
        ends = last + int(self.cooldown_hours * _US_PER_HOUR)
        had = last > np.iinfo(np.int64).min
        cool = had & (ends > t.astype(np.int64)) & (reason == "")
        reason[cool] = ExclusionReason.COOLDOWN.value
        nxt[cool] = ends[cool].astype("datetime64[us]")

    def _cap(
        self,
        aud: Audience,
        contacts: ContactColumns,
        t: np.datetime64,
        reason: npt.NDArray[np.str_],
        nxt: npt.NDArray[np.datetime64],
    ) -> None:
        n = len(aud)
        capped = np.zeros(n, dtype=bool)
        frees = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
        for cap in self.caps:
            w = np.timedelta64(int(cap.window_hours * _US_PER_HOUR), "us")
            sel = (contacts.at > t - w) & (contacts.at <= t)
            if cap.channel is not None:
                sel &= contacts.channel == cap.channel
            if cap.campaign_id is not None:
                sel &= contacts.campaign_id == cap.campaign_id
            pos = aud.position(contacts.customer_id[sel])
            hit = pos >= 0
            pos, at = pos[hit], contacts.at[sel][hit].astype(np.int64)
            count = np.bincount(pos, minlength=n)
            over = count >= cap.max_contacts
            if not over.any():
                continue
            order = np.lexsort((at, pos))
            pos_s, at_s = pos[order], at[order]
            first = np.searchsorted(pos_s, np.arange(n))
            k = first + count - cap.max_contacts  # the oldest contact that must expire
            idx = np.flatnonzero(over)
            free = at_s[k[idx]] + int(w.astype(np.int64))
            capped[idx] = True
            frees[idx] = np.maximum(frees[idx], free)
        hit = capped & (reason == "")
        reason[hit] = ExclusionReason.FREQUENCY_CAP.value
        if self.cap_policy == "defer":
            later = np.maximum(frees[hit], nxt[hit].astype(np.int64))
            nxt[hit] = later.astype("datetime64[us]")
        # a customer in cooldown who is also capped stays deferred until both have lifted
        both = capped & (reason == ExclusionReason.COOLDOWN.value)
        nxt[both] = np.maximum(nxt[both].astype(np.int64), frees[both]).astype("datetime64[us]")


_SORTER = np.argsort(_SUPPRESSION_ORDER)
