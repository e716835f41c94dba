"""Pages of an ordered scan, keyset cursors, keys of values without an id, erasure reports."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from typing import Generic, TypeVar

import attrs

from crmkit.errors import InvalidInputError
from crmkit.model import Consent

__all__ = [
    "ErasureReport",
    "Page",
    "consent_key",
    "decode_cursor",
    "encode_cursor",
    "erasure_pseudonym",
    "micros",
]

T = TypeVar("T")

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def micros(when: dt.datetime) -> int:
    """Microseconds since 1970-01-01 UTC of an aware datetime: how stores keep time, losslessly.

    Examples:
        >>> micros(dt.datetime(1970, 1, 1, 0, 0, 1, 5, tzinfo=dt.UTC))
        1000005
    """
    if when.tzinfo is None or when.utcoffset() is None:
        raise InvalidInputError(
            f"time: naive datetime ({when.isoformat()}). Attach a time zone, e.g. tzinfo=UTC."
        )
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> dt.datetime:
    """The aware UTC datetime of a count of microseconds since the epoch (inverse of ``micros``)."""
    return _EPOCH + dt.timedelta(microseconds=value)


@attrs.frozen(kw_only=True)
class Page(Generic[T]):
    """One page of an ordered scan and the cursor to the next page (``None`` after the last).

    Pass ``next_cursor`` back as ``after=`` to continue; cursors are opaque strings that stay
    valid across writes (keyset pagination: a page starts strictly after the last item seen).

    Examples:
        >>> page = Page(items=(1, 2), next_cursor="c")
        >>> list(page), len(page), page.has_more
        ([1, 2], 2, True)
    """

    items: tuple[T, ...]
    next_cursor: str | None = None

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def has_more(self) -> bool:
        """Whether a next page may hold more items."""
        return self.next_cursor is not None


def encode_cursor(key: str, at: int | None = None) -> str:
    """An opaque keyset cursor for the item with ``key`` (and time ``at`` in microseconds).

    Examples:
        >>> decode_cursor(encode_cursor("o 1", 42))
        (42, 'o 1')
    """
    return key if at is None else f"{at} {key}"


def decode_cursor(cursor: str, *, timed: bool = True) -> tuple[int | None, str]:
    """``(at, key)`` of a cursor made by ``encode_cursor``; bad cursors raise InvalidInputError.

    Examples:
        >>> decode_cursor("k-1", timed=False)
        (None, 'k-1')
    """
    if not timed:
        return None, cursor
    head, sep, key = cursor.partition(" ")
    try:
        at = int(head)
    except ValueError:
        at = None
    if not sep or at is None:
        raise InvalidInputError(
            f"after: {cursor!r:.80} is not a cursor of this scan. Pass a page's next_cursor."
        )
    return at, key


def consent_key(consent: Consent) -> str:
    """The key of a consent event: customer, channel, purpose, status and instant (UTC µs).

    Consents have no id of their own; writing the same event twice keeps one copy, and a later
    change of ``source`` or ``expires_at`` updates it.

    Examples:
        >>> c = Consent(customer_id="c-1", channel="email", purpose="marketing",
        ...             status="granted", at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
        >>> consent_key(c)
        'c-1|email|marketing|granted|1704067200000000'
    """
    return (
        f"{consent.customer_id}|{consent.channel.value}|{consent.purpose}|"
        f"{consent.status.value}|{micros(consent.at)}"
    )


def erasure_pseudonym() -> str:
    """A fresh random pseudonym that replaces an erased customer's id where records are kept.

    Random, not a hash of the id: a hash of a guessable id can be reversed by trying ids.

    Examples:
        >>> p = erasure_pseudonym()
        >>> p.startswith("erased-"), len(p)
        (True, 39)
    """
    return "erased-" + secrets.token_hex(16)


@attrs.frozen(kw_only=True)
class ErasureReport:
    """What ``erase(customer_id)`` did, per collection: rows deleted and rows pseudonymized.

    Examples:
        >>> r = ErasureReport(customer_id="c-1", pseudonym="erased-x",
        ...                   deleted={"customers": 1}, pseudonymized={"orders": 3})
        >>> r.total
        4
    """

    customer_id: str
    pseudonym: str
    deleted: dict[str, int] = attrs.field(factory=dict)
    pseudonymized: dict[str, int] = attrs.field(factory=dict)

    @property
    def total(self) -> int:
        """Rows touched in all collections."""
        return sum(self.deleted.values()) + sum(self.pseudonymized.values())
