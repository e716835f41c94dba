"""The values of the points ledger: lots, entries, operations and balances."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import attrs

from crmkit.errors import InvalidInputError
from crmkit.model._checks import aware, non_empty, optional_aware, optional_text

__all__ = [
    "Adjust",
    "Balance",
    "Burn",
    "BurnOrder",
    "Earn",
    "EntryKind",
    "Expire",
    "LedgerEntry",
    "Operation",
    "PointsLot",
    "Revoke",
    "Transfer",
]


def _int(inst: Any, attr: Any, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(
            f"{type(inst).__name__}.{attr.name}: expected a whole number of points "
            f"(got {type(value).__name__} {value!r})."
        )


def _positive(inst: Any, attr: Any, value: Any) -> None:
    _int(inst, attr, value)
    if value < 1:
        raise InvalidInputError(
            f"{type(inst).__name__}.{attr.name}: expected a positive number of points "
            f"(got {value}). Pass a whole number >= 1."
        )


def _non_negative(inst: Any, attr: Any, value: Any) -> None:
    _int(inst, attr, value)
    if value < 0:
        raise InvalidInputError(
            f"{type(inst).__name__}.{attr.name}: expected a whole number >= 0 (got {value})."
        )


class EntryKind(enum.StrEnum):
    """What a ledger entry records.

    Examples:
        >>> EntryKind("transfer_in").value
        'transfer_in'
    """

    EARN = "earn"
    BURN = "burn"
    EXPIRE = "expire"
    REVOKE = "revoke"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"
    ADJUST = "adjust"
    SETTLE = "settle"


class BurnOrder(enum.StrEnum):
    """Which lots a burn consumes first.

    ``oldest_first``: by earning time. ``soonest_expiring``: by expiry, lots that never expire
    last; ties by earning time, then lot id.

    Examples:
        >>> BurnOrder("soonest_expiring") is BurnOrder.SOONEST_EXPIRING
        True
    """

    OLDEST_FIRST = "oldest_first"
    SOONEST_EXPIRING = "soonest_expiring"


@attrs.frozen(kw_only=True)
class PointsLot:
    """Points earned together: how many, how many remain, and when they are usable.

    A lot is usable at ``t`` when ``available_from <= t`` (pending or locked points before) and
    ``t < expires_at`` (``None``: never expires). ``basis_minor`` is the order amount the points
    were earned on; ``refunded_minor`` and ``revoked`` track proportional revocation on returns.
    The one *deficit* lot of a member (``amount == 0``) carries a negative balance when the
    program allows one.

    Examples:
        >>> import datetime as dt
        >>> t = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
        >>> lot = PointsLot(lot_id="o-1", member_id="m-1", amount=120, remaining=120,
        ...                 earned_at=t, available_from=t + dt.timedelta(days=14))
        >>> lot.usable_at(t), lot.usable_at(t + dt.timedelta(days=14))
        (False, True)
    """

    lot_id: str = attrs.field(validator=non_empty)
    member_id: str = attrs.field(validator=non_empty)
    amount: int = attrs.field(validator=_non_negative)
    remaining: int = attrs.field(validator=_int)
    earned_at: dt.datetime = attrs.field(validator=aware)
    available_from: dt.datetime = attrs.field(validator=aware)
    expires_at: dt.datetime | None = attrs.field(default=None, validator=optional_aware)
    order_id: str | None = attrs.field(default=None, validator=optional_text)
    basis_minor: int = attrs.field(default=0, validator=_non_negative)
    refunded_minor: int = attrs.field(default=0, validator=_non_negative)
    revoked: int = attrs.field(default=0, validator=_non_negative)

    def __attrs_post_init__(self) -> None:
        if self.amount > 0 and not 0 <= self.remaining <= self.amount:
            raise InvalidInputError(
                f"PointsLot.remaining: {self.remaining} outside [0, {self.amount}] for lot "
                f"{self.lot_id!r}. A lot never holds more than it earned, nor less than zero."
            )
        if self.amount == 0 and self.remaining > 0:
            raise InvalidInputError(
                f"PointsLot.remaining: {self.remaining} > 0 on the deficit lot {self.lot_id!r}."
            )

    @property
    def is_deficit(self) -> bool:
        """True for the lot that carries a negative balance."""
        return self.amount == 0

    def live_at(self, at: dt.datetime) -> bool:
        """Not yet expired at ``at``."""
        return self.expires_at is None or at < self.expires_at

    def usable_at(self, at: dt.datetime) -> bool:
        """Available (no longer pending) and not expired at ``at``."""
        return self.available_from <= at and self.live_at(at)


@attrs.frozen(kw_only=True)
class LedgerEntry:
    """One append-only line of the ledger: a signed change of one lot.

    ``key`` is the idempotency key of the operation that wrote it; ``entry_id`` is unique.

    Examples:
        >>> import datetime as dt
        >>> LedgerEntry(entry_id="b-1/0", key="b-1", member_id="m-1", kind="burn", points=-50,
        ...             at=dt.datetime(2024, 5, 2, tzinfo=dt.UTC), lot_id="o-1").points
        -50
    """

    entry_id: str = attrs.field(validator=non_empty)
    key: str = attrs.field(validator=non_empty)
    member_id: str = attrs.field(validator=non_empty)
    kind: EntryKind = attrs.field(converter=EntryKind)
    points: int = attrs.field(validator=_int)
    at: dt.datetime = attrs.field(validator=aware)
    lot_id: str = attrs.field(validator=non_empty)
    reason: str | None = attrs.field(default=None, validator=optional_text)
    order_id: str | None = attrs.field(default=None, validator=optional_text)
    counterparty: str | None = attrs.field(default=None, validator=optional_text)


@attrs.frozen(kw_only=True)
class Balance:
    """A member's points at one instant: usable, pending (not yet available), and their sum.

    Examples:
        >>> Balance(available=80, pending=20).total
        100
    """

    available: int
    pending: int

    @property
    def total(self) -> int:
        """Available + pending."""
        return self.available + self.pending


@attrs.frozen(kw_only=True)
class _Op:
    key: str = attrs.field(validator=non_empty)
    member_id: str = attrs.field(validator=non_empty)
    at: dt.datetime = attrs.field(validator=aware)


@attrs.frozen(kw_only=True)
class Earn(_Op):
    """Credit ``points`` as a new lot (lot id = ``key``).

    ``available_from`` defaults to ``at`` plus the program's pending period; ``expires_at``
    defaults to the program's expiry rule. ``basis_minor`` is the order amount the points were
    earned on (needed to revoke them in proportion on a return).

    Examples:
        >>> import datetime as dt
        >>> Earn(key="earn:o-1", member_id="m-1", at=dt.datetime(2024, 5, 1, tzinfo=dt.UTC),
        ...      points=120, order_id="o-1", basis_minor=12000).points
        120
    """

    points: int = attrs.field(validator=_positive)
    available_from: dt.datetime | None = attrs.field(default=None, validator=optional_aware)
    expires_at: dt.datetime | None = attrs.field(default=None, validator=optional_aware)
    never_expires: bool = False
    order_id: str | None = attrs.field(default=None, validator=optional_text)
    basis_minor: int = attrs.field(default=0, validator=_non_negative)
    reason: str | None = attrs.field(default=None, validator=optional_text)


@attrs.frozen(kw_only=True)
class Burn(_Op):
    """Spend ``points`` from usable lots in the program's burn order.

    Examples:
        >>> import datetime as dt
        >>> Burn(key="burn:r-9", member_id="m-1", at=dt.datetime(2024, 5, 3, tzinfo=dt.UTC),
        ...      points=50, reason="reward r-9").reason
        'reward r-9'
    """

    points: int = attrs.field(validator=_positive)
    reason: str | None = attrs.field(default=None, validator=optional_text)


@attrs.frozen(kw_only=True)
class Revoke(_Op):
    """Take back points earned on ``order_id`` in proportion to ``refund_minor`` of its basis.

    Cumulative refunds are tracked on the lot, so partial returns add up exactly: once the
    whole basis is refunded, exactly the lot's amount has been revoked.

    Examples:
        >>> import datetime as dt
        >>> Revoke(key="ret:r-1", member_id="m-1", at=dt.datetime(2024, 5, 9, tzinfo=dt.UTC),
        ...        order_id="o-1", refund_minor=6000).refund_minor
        6000
    """

    order_id: str = attrs.field(validator=non_empty)
    refund_minor: int = attrs.field(validator=_positive)


@attrs.frozen(kw_only=True)
class Transfer(_Op):
    """Move usable points from ``member_id`` to ``to_member_id``; each piece keeps its expiry.

    Examples:
        >>> import datetime as dt
        >>> Transfer(key="gift:1", member_id="m-1", to_member_id="m-2", points=30,
        ...          at=dt.datetime(2024, 6, 1, tzinfo=dt.UTC)).to_member_id
        'm-2'
    """

    to_member_id: str = attrs.field(validator=non_empty)
    points: int = attrs.field(validator=_positive)

    def __attrs_post_init__(self) -> None:
        if self.to_member_id == self.member_id:
            raise InvalidInputError(
                f"Transfer.to_member_id: same as member_id ({self.member_id!r}). "
                "A transfer needs two different members."
            )


@attrs.frozen(kw_only=True)
class Adjust(_Op):
    """A manual correction with a mandatory reason: a positive one credits a new lot.

    Examples:
        >>> import datetime as dt
        >>> Adjust(key="adj:42", member_id="m-1", at=dt.datetime(2024, 6, 1, tzinfo=dt.UTC),
        ...        points=-10, reason="duplicate review bonus").points
        -10
    """

    points: int = attrs.field(validator=_int)
    reason: str = attrs.field(validator=non_empty)
    expires_at: dt.datetime | None = attrs.field(default=None, validator=optional_aware)

    def __attrs_post_init__(self) -> None:
        if self.points == 0:
            raise InvalidInputError(
                "Adjust.points: 0 changes nothing. Pass a positive or a negative correction."
            )


@attrs.frozen(kw_only=True)
class Expire(_Op):
    """Write expiry entries for every lot that expired up to ``at``.

    Every operation expires lots first, so this is only needed to book expiry for members with
    no other activity (a nightly job).

    Examples:
        >>> import datetime as dt
        >>> Expire(key="expire:2024-06-30", member_id="m-1",
        ...        at=dt.datetime(2024, 6, 30, tzinfo=dt.UTC)).key
        'expire:2024-06-30'
    """


#: Any ledger operation.
Operation = Earn | Burn | Revoke | Transfer | Adjust | Expire
