"""The points ledger as pure functions: (account, operation) -> (new account, entries).

Nothing here does I/O. A store persists an outcome by appending its entries and replacing the
account's lots in one transaction; because applying an operation whose key the account has
already seen returns the account unchanged and no entries, a retried write changes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence

import attrs

from crmkit.errors import InvalidInputError
from crmkit.loyalty._clock import ProgramClock
from crmkit.loyalty._expiry import ExpiryRule
from crmkit.loyalty._values import (
    Adjust,
    Balance,
    Burn,
    BurnOrder,
    Earn,
    EntryKind,
    Expire,
    LedgerEntry,
    Operation,
    PointsLot,
    Revoke,
    Transfer,
)
from crmkit.model._checks import non_empty

__all__ = [
    "InsufficientPointsError",
    "LedgerOutcome",
    "LedgerPolicy",
    "MemberAccount",
    "TransferOutcome",
    "apply",
    "apply_transfer",
    "balance_at",
    "check_account",
]

log = logging.getLogger("crmkit.loyalty")

_NEVER = dt.datetime.max.replace(tzinfo=dt.UTC)


class InsufficientPointsError(InvalidInputError):
    """A burn, transfer or negative adjustment asks for more points than are usable.

    Examples:
        >>> issubclass(InsufficientPointsError, ValueError)
        True
    """


@attrs.frozen(kw_only=True)
class LedgerPolicy:
    """How a program's ledger behaves: calendar, expiry, burn order, pending period, overdraft.

    ``pending_days`` locks earned points for that many days (returns window) unless an earn
    gives its own ``available_from``. ``allow_negative`` lets burns and revocations drive the
    balance below zero (carried by a deficit lot that later earnings settle first); otherwise a
    burn beyond the usable balance is refused and a revocation takes what is there.

    Examples:
        >>> policy = LedgerPolicy(clock=ProgramClock(timezone="Europe/Paris"),
        ...                       expiry=ExpiryRule(mode="end_of_year", offset=1),
        ...                       burn_order="soonest_expiring", pending_days=14)
        >>> policy.burn_order.value
        'soonest_expiring'
    """

    clock: ProgramClock = attrs.field(factory=ProgramClock)
    expiry: ExpiryRule = attrs.field(factory=ExpiryRule)
    burn_order: BurnOrder = attrs.field(default=BurnOrder.OLDEST_FIRST, converter=BurnOrder)
    pending_days: int = 0
    allow_negative: bool = False

    def __attrs_post_init__(self) -> None:
        if isinstance(self.pending_days, bool) or self.pending_days < 0:
            raise InvalidInputError(
                f"LedgerPolicy.pending_days: expected a whole number >= 0 "
                f"(got {self.pending_days!r})."
            )


def _lots(values: Iterable[PointsLot]) -> tuple[PointsLot, ...]:
    return tuple(values)


def _keys(values: Iterable[str]) -> frozenset[str]:
    return frozenset(values)


@attrs.frozen(kw_only=True)
class MemberAccount:
    """One member's lots, the keys of the operations already applied, and the time of the last.

    Examples:
        >>> import datetime as dt
        >>> acct = MemberAccount.open("m-1")
        >>> out = apply(acct, Earn(key="e1", member_id="m-1", points=100,
        ...             at=dt.datetime(2024, 1, 10, tzinfo=dt.UTC)), LedgerPolicy())
        >>> out.account.balance, len(out.entries)
        (100, 1)
    """

    member_id: str = attrs.field(validator=non_empty)
    lots: tuple[PointsLot, ...] = attrs.field(default=(), converter=_lots)
    keys: frozenset[str] = attrs.field(default=frozenset(), converter=_keys)
    last_at: dt.datetime | None = None

    @classmethod
    def open(cls, member_id: str) -> MemberAccount:
        """An empty account."""
        return cls(member_id=member_id)

    @property
    def balance(self) -> int:
        """Σ remaining over all lots (pending included, negative when in deficit)."""
        return sum(lot.remaining for lot in self.lots)

    def balance_at(self, at: dt.datetime) -> Balance:
        """Usable and pending points at ``at`` (lots past their expiry count for nothing)."""
        available = pending = 0
        for lot in self.lots:
            if not lot.live_at(at):
                continue
            if lot.available_from <= at:
                available += lot.remaining
            else:
                pending += lot.remaining
        return Balance(available=available, pending=pending)


@attrs.frozen(kw_only=True)
class LedgerOutcome:
    """The new account, the entries to append, and what could not be collected.

    ``shortfall`` is the number of points a revocation could not take back because the balance
    may not go negative; ``replayed`` is True when the key was seen before (nothing changed).

    Examples:
        >>> LedgerOutcome(account=MemberAccount.open("m"), entries=()).replayed
        False
    """

    account: MemberAccount
    entries: tuple[LedgerEntry, ...]
    shortfall: int = 0
    replayed: bool = False


@attrs.frozen(kw_only=True)
class TransferOutcome:
    """Both accounts after a transfer and the entries to append (one transaction).

    Examples:
        >>> TransferOutcome(source=MemberAccount.open("a"), target=MemberAccount.open("b"),
        ...                 entries=()).replayed
        False
    """

    source: MemberAccount
    target: MemberAccount
    entries: tuple[LedgerEntry, ...]
    replayed: bool = False


class _Book:
    """Mutable scratch state for one operation; becomes an account at the end."""

    def __init__(self, account: MemberAccount, key: str) -> None:
        self.member_id = account.member_id
        self.lots = {lot.lot_id: lot for lot in account.lots}
        self.key = key
        self.entries: list[LedgerEntry] = []

    def post(
        self,
        lot: PointsLot,
        points: int,
        kind: EntryKind,
        at: dt.datetime,
        *,
        reason: str | None = None,
        counterparty: str | None = None,
        key: str | None = None,
        entry_id: str | None = None,
    ) -> None:
        lot = attrs.evolve(lot, remaining=lot.remaining + points)
        self.lots[lot.lot_id] = lot
        k = key or self.key
        self.entries.append(
            LedgerEntry(
                entry_id=entry_id or f"{k}/{len(self.entries)}",
                key=k,
                member_id=self.member_id,
                kind=kind,
                points=points,
                at=at,
                lot_id=lot.lot_id,
                reason=reason,
                order_id=lot.order_id,
                counterparty=counterparty,
            )
        )

    def expire_through(self, at: dt.datetime) -> None:
        due = sorted(
            (lot for lot in self.lots.values() if lot.remaining > 0 and not lot.live_at(at)),
            key=lambda lot: (lot.expires_at, lot.lot_id),
        )
        for lot in due:
            assert lot.expires_at is not None  # live_at is False only with an expiry
            eid = f"{lot.lot_id}/expire"
            self.post(lot, -lot.remaining, EntryKind.EXPIRE, lot.expires_at, key=eid, entry_id=eid)

    def usable(self, at: dt.datetime, order: BurnOrder) -> list[PointsLot]:
        lots = [
            lot
            for lot in self.lots.values()
            if lot.remaining > 0 and lot.usable_at(at) and not lot.is_deficit
        ]
        if order is BurnOrder.OLDEST_FIRST:
            lots.sort(key=lambda lot: (lot.earned_at, lot.lot_id))
        else:
            lots.sort(key=lambda lot: (lot.expires_at or _NEVER, lot.earned_at, lot.lot_id))
        return lots

    def usable_balance(self, at: dt.datetime) -> int:
        return sum(
            lot.remaining for lot in self.lots.values() if lot.usable_at(at) or lot.is_deficit
        )

    def take(
        self,
        points: int,
        at: dt.datetime,
        order: BurnOrder,
        kind: EntryKind,
        *,
        reason: str | None = None,
        counterparty: str | None = None,
    ) -> tuple[int, list[tuple[PointsLot, int]]]:
        """Consume up to ``points`` from usable lots; returns (points left over, pieces)."""
        pieces: list[tuple[PointsLot, int]] = []
        for lot in self.usable(at, order):
            if points == 0:
                break
            n = min(points, lot.remaining)
            pieces.append((lot, n))
            self.post(lot, -n, kind, at, reason=reason, counterparty=counterparty)
            points -= n
        return points, pieces

    def deficit_lot(self, at: dt.datetime) -> PointsLot:
        lot_id = f"{self.member_id}/deficit"
        lot = self.lots.get(lot_id)
        if lot is None:
            lot = PointsLot(
                lot_id=lot_id,
                member_id=self.member_id,
                amount=0,
                remaining=0,
                earned_at=at,
                available_from=at,
            )
            self.lots[lot_id] = lot
        return lot

    def overdraw(self, points: int, at: dt.datetime, kind: EntryKind, reason: str | None) -> None:
        self.post(self.deficit_lot(at), -points, kind, at, reason=reason)

    def credit(
        self,
        lot: PointsLot,
        kind: EntryKind,
        at: dt.datetime,
        *,
        reason: str | None = None,
        counterparty: str | None = None,
    ) -> None:
        """Add a new lot with an entry for its amount, then settle any deficit from it."""
        if lot.lot_id in self.lots:
            raise InvalidInputError(
                f"key: lot {lot.lot_id!r} already exists for member {self.member_id!r}. "
                "Use a fresh idempotency key for a new credit."
            )
        self.lots[lot.lot_id] = attrs.evolve(lot, remaining=0)
        self.post(
            self.lots[lot.lot_id], lot.amount, kind, at, reason=reason, counterparty=counterparty
        )
        deficit = self.lots.get(f"{self.member_id}/deficit")
        if deficit is not None and deficit.remaining < 0:
            n = min(lot.amount, -deficit.remaining)
            self.post(self.lots[lot.lot_id], -n, EntryKind.SETTLE, at)
            self.post(deficit, n, EntryKind.SETTLE, at)

    def account(self, prior: MemberAccount, at: dt.datetime) -> MemberAccount:
        lots = tuple(sorted(self.lots.values(), key=lambda lot: (lot.earned_at, lot.lot_id)))
        return MemberAccount(
            member_id=prior.member_id,
            lots=lots,
            keys=prior.keys | {self.key},
            last_at=at,
        )


def _check(account: MemberAccount, op: Operation | Transfer, member_id: str) -> None:
    if account.member_id != member_id:
        raise InvalidInputError(
            f"{type(op).__name__}.member_id: {member_id!r} does not own the account of "
            f"{account.member_id!r}. Apply an operation to its member's account."
        )
    if account.last_at is not None and op.at < account.last_at:
        raise InvalidInputError(
            f"{type(op).__name__}.at: {op.at.isoformat()} is before the account's last "
            f"operation ({account.last_at.isoformat()}, key {op.key!r}). Apply operations in "
            "time order; the ledger is a journal."
        )


def apply(account: MemberAccount, op: Operation, policy: LedgerPolicy) -> LedgerOutcome:
    """Apply one operation to one member's account: a pure function.

    Lots past their expiry are expired first (entries dated at each lot's expiry), then the
    operation runs. A key the account has seen returns it unchanged with ``replayed=True``.
    Transfers touch two accounts: use [`apply_transfer`][crmkit.loyalty.apply_transfer].

    Examples:
        >>> import datetime as dt
        >>> t = dt.datetime(2024, 1, 10, tzinfo=dt.UTC)
        >>> policy = LedgerPolicy()
        >>> a = apply(MemberAccount.open("m"), Earn(key="e1", member_id="m", at=t, points=100),
        ...           policy).account
        >>> out = apply(a, Burn(key="b1", member_id="m", at=t, points=30), policy)
        >>> out.account.balance, apply(out.account, Burn(key="b1", member_id="m", at=t,
        ...                                                points=30), policy).replayed
        (70, True)
    """
    if isinstance(op, Transfer):
        raise InvalidInputError(
            f"op: a Transfer ({op.key!r}) moves points between two accounts. "
            "Use apply_transfer(source, target, op, policy)."
        )
    if op.key in account.keys:
        return LedgerOutcome(account=account, entries=(), replayed=True)
    _check(account, op, op.member_id)
    book = _Book(account, op.key)
    book.expire_through(op.at)
    shortfall = 0
    if isinstance(op, Earn):
        book.credit(_new_lot(op, policy), EntryKind.EARN, op.at, reason=op.reason)
    elif isinstance(op, Burn):
        _debit(book, op.points, op.at, policy, EntryKind.BURN, op.reason, op.key)
    elif isinstance(op, Adjust):
        if op.points > 0:
            expires = op.expires_at or policy.expiry.expires_at(op.at, policy.clock)
            lot = PointsLot(
                lot_id=op.key,
                member_id=op.member_id,
                amount=op.points,
                remaining=op.points,
                earned_at=op.at,
                available_from=op.at,
                expires_at=expires,
            )
            book.credit(lot, EntryKind.ADJUST, op.at, reason=op.reason)
        else:
            _debit(book, -op.points, op.at, policy, EntryKind.ADJUST, op.reason, op.key)
    elif isinstance(op, Revoke):
        shortfall = _revoke(book, op, policy)
    else:
        assert isinstance(op, Expire)
    return LedgerOutcome(
        account=book.account(account, op.at), entries=tuple(book.entries), shortfall=shortfall
    )


def _new_lot(op: Earn, policy: LedgerPolicy) -> PointsLot:
    available = op.available_from or op.at + dt.timedelta(days=policy.pending_days)
    if op.never_expires:
        expires = None
    else:
        expires = op.expires_at or policy.expiry.expires_at(op.at, policy.clock)
    return PointsLot(
        lot_id=op.key,
        member_id=op.member_id,
        amount=op.points,
        remaining=op.points,
        earned_at=op.at,
        available_from=max(available, op.at),
        expires_at=expires,
        order_id=op.order_id,
        basis_minor=op.basis_minor,
    )


def _debit(
    book: _Book,
    points: int,
    at: dt.datetime,
    policy: LedgerPolicy,
    kind: EntryKind,
    reason: str | None,
    key: str,
) -> None:
    usable = book.usable_balance(at)
    if points > usable and not policy.allow_negative:
        raise InsufficientPointsError(
            f"points: {points} requested but {max(usable, 0)} usable for member "
            f"{book.member_id!r} at {at.isoformat()} (key {key!r}). Burn at most the usable "
            "balance, or let the program allow a negative balance."
        )
    left, _ = book.take(points, at, policy.burn_order, kind, reason=reason)
    if left:
        book.overdraw(left, at, kind, reason)


def _revoke(book: _Book, op: Revoke, policy: LedgerPolicy) -> int:
    lots = [
        lot
        for lot in book.lots.values()
        if lot.order_id == op.order_id and lot.basis_minor > 0 and lot.amount > 0
    ]
    if not lots:
        raise InvalidInputError(
            f"Revoke.order_id: no points were earned on order {op.order_id!r} by member "
            f"{op.member_id!r}. Apply the order's earn before its return."
        )
    shortfall = 0
    reason = f"return of order {op.order_id}"
    for lot in sorted(lots, key=lambda x: x.lot_id):
        refunded = min(lot.basis_minor, lot.refunded_minor + op.refund_minor)
        target = lot.amount * refunded // lot.basis_minor
        due = target - lot.revoked
        book.lots[lot.lot_id] = lot = attrs.evolve(lot, refunded_minor=refunded, revoked=target)
        own = min(due, max(lot.remaining, 0))
        if own:
            book.post(lot, -own, EntryKind.REVOKE, op.at, reason=reason)
        rest = due - own
        if rest:
            rest, _ = book.take(rest, op.at, policy.burn_order, EntryKind.REVOKE, reason=reason)
        if rest and policy.allow_negative:
            book.overdraw(rest, op.at, EntryKind.REVOKE, reason)
        elif rest:
            shortfall += rest
    if shortfall:
        log.info("revocation %s: %d points already spent, not collected", op.key, shortfall)
    return shortfall


def apply_transfer(
    source: MemberAccount, target: MemberAccount, op: Transfer, policy: LedgerPolicy
) -> TransferOutcome:
    """Move usable points between two accounts; every piece keeps its lot's dates.

    The source gives from its lots in the program's burn order; the target receives one new
    lot per piece (``"<key>/<source lot>"``) with the same ``earned_at``, ``available_from``
    and ``expires_at``. Never overdraws.

    Examples:
        >>> import datetime as dt
        >>> t = dt.datetime(2024, 1, 10, tzinfo=dt.UTC)
        >>> policy = LedgerPolicy(expiry=ExpiryRule(mode="after_days", days=90))
        >>> a = apply(MemberAccount.open("a"), Earn(key="e1", member_id="a", at=t, points=100),
        ...           policy).account
        >>> out = apply_transfer(a, MemberAccount.open("b"), Transfer(key="t1", member_id="a",
        ...                      to_member_id="b", at=t, points=40), policy)
        >>> out.source.balance, out.target.balance
        (60, 40)
        >>> out.target.lots[0].expires_at == a.lots[0].expires_at
        True
    """
    if op.key in source.keys and op.key in target.keys:
        return TransferOutcome(source=source, target=target, entries=(), replayed=True)
    if op.key in source.keys or op.key in target.keys:
        raise InvalidInputError(
            f"Transfer.key: {op.key!r} was applied to only one of the two accounts. "
            "Persist both sides of a transfer in one transaction."
        )
    _check(source, op, op.member_id)
    _check(target, op, op.to_member_id)
    out = _Book(source, op.key)
    out.expire_through(op.at)
    usable = out.usable_balance(op.at)
    if op.points > usable:
        raise InsufficientPointsError(
            f"Transfer.points: {op.points} requested but {max(usable, 0)} usable for member "
            f"{op.member_id!r} at {op.at.isoformat()}. Transfer at most the usable balance."
        )
    _, pieces = out.take(
        op.points,
        op.at,
        policy.burn_order,
        EntryKind.TRANSFER_OUT,
        counterparty=op.to_member_id,
    )
    into = _Book(target, op.key)
    into.expire_through(op.at)
    for lot, n in pieces:
        new = PointsLot(
            lot_id=f"{op.key}/{lot.lot_id}",
            member_id=op.to_member_id,
            amount=n,
            remaining=n,
            earned_at=lot.earned_at,
            available_from=lot.available_from,
            expires_at=lot.expires_at,
        )
        into.credit(new, EntryKind.TRANSFER_IN, op.at, counterparty=op.member_id)
    entries = [*out.entries]
    entries.extend(
        attrs.evolve(e, entry_id=f"{e.key}/in/{i}") if e.key == op.key else e
        for i, e in enumerate(into.entries)
    )
    return TransferOutcome(
        source=out.account(source, op.at),
        target=into.account(target, op.at),
        entries=tuple(entries),
    )


def balance_at(
    lots: Iterable[PointsLot], entries: Iterable[LedgerEntry], at: dt.datetime
) -> Balance:
    """A member's balance as of any past instant, replayed from the append-only entries.

    A lot's remaining at ``at`` is the sum of its entries dated ``<= at``; lots past their
    expiry at ``at`` count for nothing even if their expiry entry is written later.

    Examples:
        >>> import datetime as dt
        >>> t = dt.datetime(2024, 1, 10, tzinfo=dt.UTC)
        >>> policy = LedgerPolicy()
        >>> a = apply(MemberAccount.open("m"), Earn(key="e1", member_id="m", at=t, points=100),
        ...           policy)
        >>> b = apply(a.account, Burn(key="b1", member_id="m", points=60,
        ...           at=t + dt.timedelta(days=5)), policy)
        >>> entries = a.entries + b.entries
        >>> balance_at(b.account.lots, entries, t + dt.timedelta(days=1)).available
        100
    """
    by_lot = {lot.lot_id: lot for lot in lots}
    available = pending = 0
    for e in entries:
        if e.at > at:
            continue
        lot = by_lot.get(e.lot_id)
        if lot is None:
            raise InvalidInputError(
                f"entries: entry {e.entry_id!r} refers to lot {e.lot_id!r}, which is not among "
                "the lots given. Pass the member's lots and entries together."
            )
        if not lot.live_at(at):
            continue
        if lot.available_from <= at:
            available += e.points
        else:
            pending += e.points
    return Balance(available=available, pending=pending)


def check_account(
    account: MemberAccount, entries: Sequence[LedgerEntry], policy: LedgerPolicy
) -> None:
    """Raise if the account and its entries disagree: the ledger's invariants.

    * every lot's ``remaining`` equals the sum of its entries, and lies in ``[0, amount]``;
    * the balance equals Σ remaining of live lots plus the deficit, and is never negative
      unless the program allows it;
    * entry ids are unique.

    Examples:
        >>> check_account(MemberAccount.open("m"), [], LedgerPolicy())
    """
    sums: dict[str, int] = {}
    seen: set[str] = set()
    for e in entries:
        if e.entry_id in seen:
            raise InvalidInputError(f"entries: duplicate entry id {e.entry_id!r}.")
        seen.add(e.entry_id)
        sums[e.lot_id] = sums.get(e.lot_id, 0) + e.points
    for lot in account.lots:
        if sums.get(lot.lot_id, 0) != lot.remaining:
            raise InvalidInputError(
                f"lots: lot {lot.lot_id!r} holds {lot.remaining} but its entries sum to "
                f"{sums.get(lot.lot_id, 0)}. The ledger is inconsistent."
            )
    held = {lot.lot_id for lot in account.lots}
    stray = {k: s for k, s in sums.items() if k not in held and s != 0}
    if stray:
        raise InvalidInputError(f"entries: lots missing from the account hold points ({stray}).")
    if account.balance != sum(sums.values()):
        raise InvalidInputError("balance: Σ entries differs from Σ remaining of the lots.")
    if account.balance < 0 and not policy.allow_negative:
        raise InvalidInputError(
            f"balance: {account.balance} < 0 for member {account.member_id!r}, and the program "
            "does not allow a negative balance."
        )
