"""The in-memory store: the reference adapter, every Protocol in plain Python dictionaries.

Nothing persists after ``close()``. Use it in tests and notebooks, and read it as the executable
specification of what an adapter does.

Examples:
    >>> import datetime as dt
    >>> from crmkit.model import Customer
    >>> from crmkit.storage.memory import MemoryStore
    >>> with MemoryStore() as store:
    ...     store.customers.upsert([Customer(customer_id="c-1",
    ...                                      created_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))])
    ...     store.customers.get("c-1").customer_id
    1
    'c-1'
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

import attrs

from crmkit.columns import (
    ConsentColumns,
    ContactColumns,
    EventColumns,
    OrderColumns,
    OrderLineColumns,
    ReturnColumns,
    SourceRecordColumns,
)
from crmkit.errors import InvalidInputError, NotFoundError, StorageError
from crmkit.model import (
    Consent,
    Contact,
    Customer,
    Event,
    Identifier,
    Order,
    Product,
    Return,
    SourceRecord,
)
from crmkit.storage._batch import (
    check_key,
    check_limit,
    check_values,
    events_from_columns,
    last_wins,
    orders_from_columns,
    time_bounds,
)
from crmkit.storage._capabilities import Capabilities
from crmkit.storage._page import (
    ErasureReport,
    Page,
    consent_key,
    decode_cursor,
    encode_cursor,
    erasure_pseudonym,
    micros,
)
from crmkit.storage._spec import CollectionSpec

__all__ = ["MemoryStore"]

V = TypeVar("V")
_MISSING: Any = object()


class _Collection(Generic[V]):
    """A keyed collection held in a dict, with a per-customer index and a sorted-order cache."""

    def __init__(
        self,
        store: MemoryStore,
        name: str,
        cls: type[V],
        key: Callable[[V], str],
        time: Callable[[V], Any] | None = None,
        customer: Callable[[V], str | None] | None = None,
    ) -> None:
        self._store = store
        self._name = name
        self._cls = cls
        self._key = key
        self._time = time
        self._customer = customer
        self._rows: dict[str, V] = {}
        self._by_customer: dict[str, set[str]] = {}
        self._order: list[tuple[int, str]] | None = None

    # -- raw mutation, journaled for transactions -------------------------------------------
    def _put(self, key: str, value: V | None) -> None:
        old = self._rows.get(key, _MISSING)
        self._store._journal(self, key, old)
        if old is not _MISSING and self._customer is not None:
            owner = self._customer(old)
            if owner is not None:
                self._by_customer.get(owner, set()).discard(key)
        if value is None:
            self._rows.pop(key, None)
        else:
            self._rows[key] = value
            if self._customer is not None:
                owner = self._customer(value)
                if owner is not None:
                    self._by_customer.setdefault(owner, set()).add(key)
        self._order = None

    def _restore(self, key: str, old: Any) -> None:
        with self._store._lock:
            self._store._suspend_journal += 1
            try:
                self._put(key, None if old is _MISSING else old)
            finally:
                self._store._suspend_journal -= 1

    def _sort_key(self, value: V) -> tuple[int, str]:
        return (micros(self._time(value)) if self._time else 0, self._key(value))

    def _sorted(self) -> list[tuple[int, str]]:
        if self._order is None:
            self._order = sorted(self._sort_key(value) for value in self._rows.values())
        return self._order

    # -- the Protocol ------------------------------------------------------------------------
    def upsert(self, values: Iterable[V]) -> int:
        batch = check_values(f"{self._name}.upsert(values)", values, self._cls)
        with self._store.transaction():
            for key, value in last_wins(batch, self._key).items():
                self._put(key, value)
        return len(batch)

    def get(self, key: str) -> V:
        found = self.find(key)
        if found is None:
            raise NotFoundError(
                f"key: {key!r:.80} is not in {self._name}. Check the key, or use find()."
            )
        return found

    def find(self, key: str) -> V | None:
        check_key("key", key)
        with self._store._use():
            return self._rows.get(key)

    def get_many(self, keys: Iterable[str]) -> dict[str, V]:
        wanted = [check_key("keys", k) for k in keys]
        with self._store._use():
            return {k: self._rows[k] for k in wanted if k in self._rows}

    def count(self) -> int:
        with self._store._use():
            return len(self._rows)

    def delete(self, keys: Iterable[str]) -> int:
        wanted = list(dict.fromkeys(check_key("keys", k) for k in keys))
        with self._store.transaction():
            present = [k for k in wanted if k in self._rows]
            for k in present:
                self._put(k, None)
        return len(present)

    def scan(
        self,
        *,
        start: Any = None,
        end: Any = None,
        after: str | None = None,
        limit: int = 1000,
    ) -> Page[V]:
        check_limit(limit)
        timed = self._time is not None
        if not timed and (start is not None or end is not None):
            raise InvalidInputError(
                f"start/end: {self._name} has no time; scan it by key without start and end."
            )
        lo, hi = time_bounds(start, end)
        with self._store._use():
            order = self._sorted()
            import bisect

            i = bisect.bisect_left(order, (lo, ""))
            if after is not None:
                at, key = decode_cursor(after, timed=timed)
                i = max(i, bisect.bisect_right(order, (at or 0, key)))
            chosen = [k for t, k in order[i : i + limit + 1] if t < hi]
            items = tuple(self._rows[k] for k in chosen[:limit])
        more = len(chosen) > limit
        last = items[-1] if items else None
        cursor = None
        if more and last is not None:
            t, k = self._sort_key(last)
            cursor = encode_cursor(k, t if timed else None)
        return Page(items=items, next_cursor=cursor)

    def for_customer(self, customer_id: str) -> list[V]:
        check_key("customer_id", customer_id)
        with self._store._use():
            keys = self._by_customer.get(customer_id, set())
            return sorted((self._rows[k] for k in keys), key=self._sort_key)

    def _range(self, start: Any, end: Any) -> list[V]:
        lo, hi = time_bounds(start, end)
        with self._store._use():
            return [self._rows[k] for t, k in self._sorted() if lo <= t < hi]


class _Customers(_Collection[Customer]):
    pass


class _SourceRecords(_Collection[SourceRecord]):
    def columns(self, start: Any = None, end: Any = None) -> SourceRecordColumns:
        return SourceRecordColumns.from_records(self._range(start, end))


class _Orders(_Collection[Order]):
    def columns(self, start: Any = None, end: Any = None) -> OrderColumns:
        return OrderColumns.from_orders(self._range(start, end))

    def line_columns(self, start: Any = None, end: Any = None) -> OrderLineColumns:
        return OrderLineColumns.from_orders(self._range(start, end))

    def upsert_columns(self, orders: OrderColumns, lines: OrderLineColumns) -> int:
        return self.upsert(orders_from_columns(orders, lines))


class _Returns(_Collection[Return]):
    def for_order(self, order_id: str) -> list[Return]:
        check_key("order_id", order_id)
        with self._store._use():
            hits = [r for r in self._rows.values() if r.order_id == order_id]
        return sorted(hits, key=self._sort_key)

    def columns(self, start: Any = None, end: Any = None) -> ReturnColumns:
        return ReturnColumns.from_returns(self._range(start, end))


class _Events(_Collection[Event]):
    def columns(self, start: Any = None, end: Any = None) -> EventColumns:
        return EventColumns.from_events(self._range(start, end))

    def upsert_columns(self, events: EventColumns) -> int:
        return self.upsert(events_from_columns(events))


class _Consents(_Collection[Consent]):
    def columns(self, start: Any = None, end: Any = None) -> ConsentColumns:
        return ConsentColumns.from_consents(self._range(start, end))


class _Contacts(_Collection[Contact]):
    def columns(self, start: Any = None, end: Any = None) -> ContactColumns:
        return ContactColumns.from_contacts(self._range(start, end))


class _Documents(_Collection[V]):
    def __init__(self, store: MemoryStore, spec: CollectionSpec[V]) -> None:
        super().__init__(store, spec.name, spec.value_type, spec.key, spec.time, spec.customer)
        self._spec = spec

    @property
    def spec(self) -> CollectionSpec[V]:
        return self._spec

    def for_customer(self, customer_id: str) -> list[V]:
        if self._spec.customer is None:
            raise InvalidInputError(
                f"customer_id: collection {self._spec.name!r} has no customer in its spec."
            )
        return super().for_customer(customer_id)


class MemoryStore:
    """The in-memory reference store (``memory://``): every collection in Python dictionaries.

    Thread-safe (one lock; a transaction holds it until it ends); transactions keep an undo log,
    so a failed block or batch leaves the store as it was. Nothing persists.

    Examples:
        >>> store = MemoryStore()
        >>> store.capabilities.persistent, store.url
        (False, 'memory://')
        >>> store.close()
    """

    def __init__(self, url: str = "memory://") -> None:
        self._url = url
        self._lock = threading.RLock()
        self._undo: list[list[tuple[_Collection[Any], str, Any]]] = []
        self._suspend_journal = 0
        self._closed = False
        self._owner: int | None = None
        self.customers = _Customers(
            self, "customers", Customer, lambda c: c.customer_id, lambda c: c.created_at
        )
        self.source_records = _SourceRecords(
            self, "source_records", SourceRecord, lambda r: r.key, lambda r: r.observed_at
        )
        self.products = _Collection(self, "products", Product, lambda p: p.product_id)
        self.orders = _Orders(
            self, "orders", Order, lambda o: o.order_id, lambda o: o.placed_at, _customer
        )
        self.returns = _Returns(
            self, "returns", Return, lambda r: r.return_id, lambda r: r.at, _customer
        )
        self.events = _Events(
            self, "events", Event, lambda e: e.event_id, lambda e: e.at, _customer
        )
        self.consents = _Consents(self, "consents", Consent, consent_key, lambda c: c.at, _customer)
        self.contacts = _Contacts(
            self, "contacts", Contact, lambda k: k.contact_id, lambda k: k.at, _customer
        )
        self._documents: dict[str, _Documents[Any]] = {}

    @property
    def url(self) -> str:
        """``memory://``: each ``connect`` to it opens a new, empty store."""
        return self._url

    @property
    def capabilities(self) -> Capabilities:
        """Not persistent nor shared between processes; everything else."""
        return Capabilities(persistent=False, multi_process=False, integrity_check=False)

    def collection(self, spec: CollectionSpec[V]) -> _Documents[V]:
        """The module collection declared by ``spec`` (created on first use).

        Examples:
            >>> from crmkit.model import Product
            >>> spec = CollectionSpec(name="demo.items", value_type=Product,
            ...                       key=lambda p: p.product_id)
            >>> MemoryStore().collection(spec).count()
            0
        """
        with self._use():
            found = self._documents.get(spec.name)
            if found is None:
                found = self._documents[spec.name] = _Documents(self, spec)
            elif found.spec != spec:
                raise InvalidInputError(
                    f"spec: collection {spec.name!r} is already open with another spec. "
                    "Declare each collection once, at module level."
                )
            return found

    # -- transactions ------------------------------------------------------------------------
    @contextmanager
    def _use(self) -> Iterator[None]:
        with self._lock:
            if self._closed:
                raise StorageError("store: closed. Open it again with crmkit.connect(url).")
            yield

    def _journal(self, table: _Collection[Any], key: str, old: Any) -> None:
        if self._undo and not self._suspend_journal:
            self._undo[-1].append((table, key, old))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A block whose writes all happen or none do; nested blocks roll back on their own.

        Examples:
            >>> import datetime as dt
            >>> from crmkit.model import Product
            >>> store = MemoryStore()
            >>> try:
            ...     with store.transaction():
            ...         _ = store.products.upsert([Product(product_id="p", name="Tea")])
            ...         raise RuntimeError("boom")
            ... except RuntimeError:
            ...     pass
            >>> store.products.count()
            0
        """
        with self._use():
            self._undo.append([])
            try:
                yield
            except BaseException:
                for table, key, old in reversed(self._undo.pop()):
                    table._restore(key, old)
                raise
            done = self._undo.pop()
            if self._undo:
                self._undo[-1].extend(done)

    def erase(
        self,
        customer_id: str,
        *,
        source_record_keys: Iterable[str] = (),
        pseudonym: str | None = None,
    ) -> ErasureReport:
        """Remove a customer's personal data from every collection (see the storage guide).

        Examples:
            >>> import datetime as dt
            >>> from crmkit.model import Customer
            >>> store = MemoryStore()
            >>> _ = store.customers.upsert([Customer(customer_id="c-1",
            ...     created_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))])
            >>> store.erase("c-1").deleted["customers"]
            1
        """
        check_key("customer_id", customer_id)
        alias = pseudonym or erasure_pseudonym()
        keys = [check_key("source_record_keys", k) for k in source_record_keys]
        deleted: dict[str, int] = {}
        renamed: dict[str, int] = {}
        with self.transaction():
            profile = self.customers.find(customer_id)
            if profile is not None:
                keys += _linked_records(profile.identifiers)
            deleted["customers"] = self.customers.delete([customer_id])
            deleted["source_records"] = self.source_records.delete(keys)
            deleted["events"] = self.events.delete(
                [e.event_id for e in self.events.for_customer(customer_id)]
            )
            deleted["consents"] = self.consents.delete(
                [consent_key(c) for c in self.consents.for_customer(customer_id)]
            )
            for name, docs in sorted(self._documents.items()):
                if docs.spec.customer is not None:
                    deleted[name] = docs.delete(
                        [docs._key(x) for x in _Collection.for_customer(docs, customer_id)]
                    )
            renamed["orders"] = _rename(
                self.orders,
                customer_id,
                lambda o: attrs.evolve(o, customer_id=alias, attributes={}),
            )
            renamed["returns"] = _rename(
                self.returns,
                customer_id,
                lambda r: attrs.evolve(r, customer_id=alias, reason=None),
            )
            renamed["contacts"] = _rename(
                self.contacts, customer_id, lambda k: attrs.evolve(k, customer_id=alias)
            )
        return ErasureReport(
            customer_id=customer_id, pseudonym=alias, deleted=deleted, pseudonymized=renamed
        )

    def close(self) -> None:
        """Drop every collection; further use raises ``StorageError``."""
        with self._lock:
            self._closed = True

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _customer(value: Any) -> str | None:
    owner: str | None = value.customer_id
    return owner


def _linked_records(identifiers: Iterable[Identifier]) -> list[str]:
    return [i.value for i in identifiers if i.kind == "source_record"]


def _rename(table: _Collection[V], customer_id: str, change: Callable[[V], V]) -> int:
    hits = table.for_customer(customer_id)
    table.upsert([change(x) for x in hits])
    return len(hits)
