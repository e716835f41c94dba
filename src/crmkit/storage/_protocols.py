"""The storage Protocols: one narrow Protocol per collection, optional ``Supports*`` Protocols.

An adapter implements these structurally (no base class to inherit). Every collection keeps
frozen values by key; upserts are idempotent by key; scans are ordered and paginated by keyset
cursors; timed collections scan by ``(time, key)`` and read a customer's values in that order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Protocol, Self, TypeVar, runtime_checkable

from crmkit.columns import (
    ConsentColumns,
    ContactColumns,
    EventColumns,
    OrderColumns,
    OrderLineColumns,
    ReturnColumns,
    SourceRecordColumns,
)
from crmkit.model import (
    Consent,
    Contact,
    Customer,
    Event,
    Order,
    Product,
    Return,
    SourceRecord,
)
from crmkit.storage._capabilities import Capabilities
from crmkit.storage._page import ErasureReport, Page
from crmkit.storage._spec import CollectionSpec

__all__ = [
    "ConsentCollection",
    "ContactCollection",
    "CustomerCollection",
    "CustomerTimeline",
    "DocumentCollection",
    "EventCollection",
    "KeyedCollection",
    "OrderCollection",
    "ProductCollection",
    "ReturnCollection",
    "SourceRecordCollection",
    "Store",
    "SupportsDocuments",
    "SupportsEventIngest",
    "SupportsIntegrityCheck",
    "SupportsOrderIngest",
    "TimedCollection",
]

V = TypeVar("V")
Time = dt.datetime


class KeyedCollection(Protocol[V]):
    """Protocol: frozen values kept by key, scanned in key order.

    ``upsert`` writes a batch atomically (all or nothing) and idempotently: writing a value again
    replaces the stored one with the same key; within one batch the last value for a key wins.

    Examples:
        >>> from crmkit.storage.memory import MemoryStore
        >>> products = MemoryStore().products
        >>> products.scan(limit=10).items
        ()
    """

    def upsert(self, values: Iterable[V]) -> int:
        """Write ``values`` (all or none); returns how many were given."""
        ...

    def get(self, key: str) -> V:
        """The value with ``key``; raises ``NotFoundError`` when there is none."""
        ...

    def find(self, key: str) -> V | None:
        """The value with ``key``, or ``None``."""
        ...

    def get_many(self, keys: Iterable[str]) -> dict[str, V]:
        """The values of those ``keys`` that exist, by key."""
        ...

    def count(self) -> int:
        """How many values the collection holds."""
        ...

    def delete(self, keys: Iterable[str]) -> int:
        """Delete the values with ``keys`` (missing keys are ignored); returns how many went."""
        ...

    def scan(self, *, after: str | None = None, limit: int = 1000) -> Page[V]:
        """Up to ``limit`` values in key order, starting after the cursor ``after``."""
        ...


class TimedCollection(Protocol[V]):
    """Protocol: a keyed collection of values with a time, scanned in ``(time, key)`` order.

    ``start``/``end`` select the half-open interval ``[start, end)``; timestamps are stored to the
    microsecond and come back as UTC datetimes equal to the ones written.

    Examples:
        >>> from crmkit.storage.memory import MemoryStore
        >>> import datetime as dt
        >>> MemoryStore().customers.scan(start=dt.datetime(2024, 1, 1, tzinfo=dt.UTC)).has_more
        False
    """

    def upsert(self, values: Iterable[V]) -> int:
        """Write ``values`` (all or none); returns how many were given."""
        ...

    def get(self, key: str) -> V:
        """The value with ``key``; raises ``NotFoundError`` when there is none."""
        ...

    def find(self, key: str) -> V | None:
        """The value with ``key``, or ``None``."""
        ...

    def get_many(self, keys: Iterable[str]) -> dict[str, V]:
        """The values of those ``keys`` that exist, by key."""
        ...

    def count(self) -> int:
        """How many values the collection holds."""
        ...

    def delete(self, keys: Iterable[str]) -> int:
        """Delete the values with ``keys`` (missing keys are ignored); returns how many went."""
        ...

    def scan(
        self,
        *,
        start: Time | None = None,
        end: Time | None = None,
        after: str | None = None,
        limit: int = 1000,
    ) -> Page[V]:
        """Up to ``limit`` values in ``[start, end)`` by ``(time, key)``, after ``after``."""
        ...


class CustomerTimeline(TimedCollection[V], Protocol[V]):
    """Protocol: a timed collection whose values belong to customers.

    Examples:
        >>> from crmkit.storage.memory import MemoryStore
        >>> MemoryStore().events.for_customer("c-1")
        []
    """

    def for_customer(self, customer_id: str) -> list[V]:
        """The customer's values in ``(time, key)`` order (empty for an unknown customer)."""
        ...


class CustomerCollection(TimedCollection[Customer], Protocol):
    """Protocol: customer profiles by ``customer_id``, scanned by ``(created_at, customer_id)``.

    Examples:
        >>> from crmkit.storage.memory import MemoryStore
        >>> MemoryStore().customers.find("c-1") is None
        True
    """


class SourceRecordCollection(TimedCollection[SourceRecord], Protocol):
    """Protocol: source records by ``record.key``, scanned by ``(observed_at, key)``.

    Examples:
        >>> from crmkit.storage.memory import MemoryStore
        >>> len(MemoryStore().source_records.columns())
        0
    """

    def columns(self, start: Time | None = None, end: Time | None = None) -> SourceRecordColumns:
        """Records with ``observed_at`` in ``[start, end)`` as columns, in scan order."""
        ...


class ProductCollection(KeyedCollection[Product], Protocol):
    """Protocol: the catalog, products by ``product_id``.

    Examples:
        >>> from crmkit.storage.memory import MemoryStore
        >>> from crmkit.model import Product
        >>> store = MemoryStore()
        >>> store.products.upsert([Product(product_id="tea", name="Tea")])
        1
        >>> store.products.get("tea").name
        'Tea'
    """


class OrderCollection(CustomerTimeline[Order], Protocol):
    """Protocol: orders (with their lines) by ``order_id``, scanned by ``(placed_at, order_id)``.

    Examples:
        >>> from crmkit.storage.memory import MemoryStore
        >>> MemoryStore().orders.line_columns().quantity.dtype
        dtype('int64')
    """

    def columns(self, start: Time | None = None, end: Time | None = None) -> OrderColumns:
        """Orders placed in ``[start, end)`` as columns, in scan order."""
        ...

    def line_columns(self, start: Time | None = None, end: Time | None = None) -> OrderLineColumns:
        """Lines of the orders placed in ``[start, end)``, by ``(placed_at, order_id, line_no)``."""
        ...


class ReturnCollection(CustomerTimeline[Return], Protocol):
    """Protocol: returns and refunds by ``return_id``, scanned by ``(at, return_id)``.

    Examples:
        >>> from crmkit.storage.memory import MemoryStore
        >>> MemoryStore().returns.for_order("o-1")
        []
    """

    def for_order(self, order_id: str) -> list[Return]:
        """Returns against one order, in ``(at, return_id)`` order."""
        ...

    def columns(self, start: Time | None = None, end: Time | None = None) -> ReturnColumns:
        """Returns in ``[start, end)`` as columns, in scan order."""
        ...


class EventCollection(CustomerTimeline[Event], Protocol):
    """Protocol: behavioural events by ``event_id``, scanned by ``(at, event_id)``.

    Examples:
        >>> from crmkit.storage.memory import MemoryStore
        >>> MemoryStore().events.columns().at.dtype
        dtype('<M8[us]')
    """

    def columns(self, start: Time | None = None, end: Time | None = None) -> EventColumns:
        """Events in ``[start, end)`` as columns, in scan order."""
        ...


class ConsentCollection(CustomerTimeline[Consent], Protocol):
    """Protocol: consent events by [`consent_key`][crmkit.storage.consent_key], by ``(at, key)``.

    Examples:
        >>> from crmkit.storage.memory import MemoryStore
        >>> MemoryStore().consents.count()
        0
    """

    def columns(self, start: Time | None = None, end: Time | None = None) -> ConsentColumns:
        """Consent events in ``[start, end)`` as columns, in scan order."""
        ...


class ContactCollection(CustomerTimeline[Contact], Protocol):
    """Protocol: campaign contacts by ``contact_id``, scanned by ``(at, contact_id)``.

    Examples:
        >>> from crmkit.storage.memory import MemoryStore
        >>> len(MemoryStore().contacts.columns())
        0
    """

    def columns(self, start: Time | None = None, end: Time | None = None) -> ContactColumns:
        """Contacts in ``[start, end)`` as columns, in scan order."""
        ...


class DocumentCollection(Protocol[V]):
    """Protocol: a collection that a module declares with a ``CollectionSpec``.

    Scans run by ``(time, key)`` when the spec has a ``time``, else by key (then ``start`` and
    ``end`` must be ``None``); ``for_customer`` needs a spec with ``customer``.

    Examples:
        >>> from crmkit.storage.memory import MemoryStore
        >>> from crmkit.model import Product
        >>> from crmkit.storage import CollectionSpec
        >>> spec = CollectionSpec(name="demo.picks", value_type=Product, key=lambda p: p.product_id)
        >>> MemoryStore().collection(spec).spec.name
        'demo.picks'
    """

    @property
    def spec(self) -> CollectionSpec[V]:
        """The spec the collection was opened with."""
        ...

    def upsert(self, values: Iterable[V]) -> int:
        """Write ``values`` (all or none); returns how many were given."""
        ...

    def get(self, key: str) -> V:
        """The value with ``key``; raises ``NotFoundError`` when there is none."""
        ...

    def find(self, key: str) -> V | None:
        """The value with ``key``, or ``None``."""
        ...

    def get_many(self, keys: Iterable[str]) -> dict[str, V]:
        """The values of those ``keys`` that exist, by key."""
        ...

    def count(self) -> int:
        """How many values the collection holds."""
        ...

    def delete(self, keys: Iterable[str]) -> int:
        """Delete the values with ``keys``; returns how many went."""
        ...

    def scan(
        self,
        *,
        start: Time | None = None,
        end: Time | None = None,
        after: str | None = None,
        limit: int = 1000,
    ) -> Page[V]:
        """Up to ``limit`` values in scan order after the cursor ``after``."""
        ...

    def for_customer(self, customer_id: str) -> list[V]:
        """The customer's values in scan order."""
        ...


@runtime_checkable
class SupportsOrderIngest(Protocol):
    """Protocol: columnar bulk ingest of orders with their lines (``Capabilities.columnar_ingest``).

    Building a million ``Order`` objects costs more than writing them; this path takes the
    columns directly. Rows are validated once, vectorized, exactly as the values would be.

    Examples:
        >>> from crmkit.storage.memory import MemoryStore
        >>> isinstance(MemoryStore().orders, SupportsOrderIngest)
        True
    """

    def upsert_columns(self, orders: OrderColumns, lines: OrderLineColumns) -> int:
        """Write orders and their lines (all or none), replacing orders with the same id."""
        ...


@runtime_checkable
class SupportsEventIngest(Protocol):
    """Protocol: columnar bulk ingest of events (``Capabilities.columnar_ingest``).

    Examples:
        >>> from crmkit.storage.memory import MemoryStore
        >>> isinstance(MemoryStore().events, SupportsEventIngest)
        True
    """

    def upsert_columns(self, events: EventColumns) -> int:
        """Write events (all or none), replacing events with the same id; properties are empty."""
        ...


@runtime_checkable
class SupportsIntegrityCheck(Protocol):
    """Protocol: a store that can check its own files (``Capabilities.integrity_check``).

    Examples:
        >>> from crmkit.storage.memory import MemoryStore
        >>> isinstance(MemoryStore(), SupportsIntegrityCheck)
        False
    """

    def check_integrity(self) -> None:
        """Raise ``IntegrityError`` when the store's contents are damaged."""
        ...


@runtime_checkable
class SupportsDocuments(Protocol):
    """Protocol: a store that opens module collections from specs (``Capabilities.documents``).

    Examples:
        >>> from crmkit.storage.memory import MemoryStore
        >>> isinstance(MemoryStore(), SupportsDocuments)
        True
    """

    def collection(self, spec: CollectionSpec[V]) -> DocumentCollection[V]:
        """The collection declared by ``spec`` (created on first use)."""
        ...


class Store(Protocol):
    """Protocol: a store of a shop's collections, with atomic transactions and erasure.

    Use it as a context manager to close it. ``transaction()`` makes every write inside the block
    atomic; blocks nest (with ``nested_transactions`` an inner block is a savepoint that rolls
    back alone). ``erase(customer_id)`` removes the customer's personal data from every
    collection (see the storage guide for what is deleted and what is pseudonymized).

    Examples:
        >>> from crmkit.storage.memory import MemoryStore
        >>> store: Store = MemoryStore()
        >>> store.capabilities.persistent, store.orders.count()
        (False, 0)
    """

    @property
    def url(self) -> str:
        """The URL the store was opened with (``connect(store.url)`` opens it again)."""
        ...

    @property
    def capabilities(self) -> Capabilities:
        """What the store declares beyond the core Protocols."""
        ...

    @property
    def customers(self) -> CustomerCollection:
        """Customer profiles."""
        ...

    @property
    def source_records(self) -> SourceRecordCollection:
        """Customers as each channel saw them."""
        ...

    @property
    def products(self) -> ProductCollection:
        """The catalog."""
        ...

    @property
    def orders(self) -> OrderCollection:
        """Orders with their lines."""
        ...

    @property
    def returns(self) -> ReturnCollection:
        """Returns and refunds."""
        ...

    @property
    def events(self) -> EventCollection:
        """Behavioural events."""
        ...

    @property
    def consents(self) -> ConsentCollection:
        """Consent events."""
        ...

    @property
    def contacts(self) -> ContactCollection:
        """Campaign contacts."""
        ...

    def transaction(self) -> AbstractContextManager[None]:
        """A block whose writes all happen or none do."""
        ...

    def erase(
        self,
        customer_id: str,
        *,
        source_record_keys: Iterable[str] = (),
        pseudonym: str | None = None,
    ) -> ErasureReport:
        """Remove the customer's personal data from every collection, atomically."""
        ...

    def close(self) -> None:
        """Release the store's resources; further use raises ``StorageError``."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
