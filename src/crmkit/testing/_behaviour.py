"""Kit checks on behaviour: idempotent upserts, atomic batches, ordering, pagination, erasure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import attrs
import pytest

from crmkit.columns import EventColumns, OrderColumns, OrderLineColumns
from crmkit.errors import InvalidInputError, NotFoundError, StorageError
from crmkit.model import (
    Consent,
    Contact,
    Customer,
    Event,
    Identifier,
    Money,
    Order,
    OrderLine,
    Product,
    Return,
    SourceRecord,
)
from crmkit.storage import (
    Capabilities,
    CollectionSpec,
    Store,
    SupportsEventIngest,
    SupportsIntegrityCheck,
    SupportsOrderIngest,
    orders_from_columns,
)
from crmkit.storage._page import micros
from crmkit.testing._base import KitBase, requires, scan_all, seq, utc

__all__ = ["BatchChecks", "ErasureChecks", "IngestChecks", "ScanChecks", "TransactionChecks"]

#: A module-level spec, as a module adding a collection declares it.
CONTACT_LOG = CollectionSpec(
    name="kit.contact_log",
    value_type=Contact,
    key=lambda k: k.contact_id,
    customer=lambda k: k.customer_id,
    time=lambda k: k.at,
)


def order(order_id: str, customer_id: str = "c-1", day: int = 1, **kw: Any) -> Order:
    """A one-line EUR order placed on ``day`` of January 2024."""
    return Order(
        order_id=order_id,
        customer_id=customer_id,
        placed_at=utc(2024, 1, day),
        currency="EUR",
        lines=seq(OrderLine(product_id="tea", quantity=2, unit_price=Money.of("4.50", "EUR"))),
        **kw,
    )


def eur(amount: str) -> Money:
    """Money in euros from a decimal string."""
    return Money.of(amount, "EUR")


def event(event_id: str, customer_id: str | None = "c-1", at: dt.datetime | None = None) -> Event:
    """A page view."""
    return Event(
        event_id=event_id,
        customer_id=customer_id,
        anonymous_id=None if customer_id else "anon",
        type="page_view",
        at=at or utc(2024, 1, 1),
    )


class BatchChecks(KitBase):
    """Upserts are idempotent by key, last-wins within a batch, and validated before writing.

    Examples:
        >>> "test_delete" in dir(BatchChecks)
        True
    """

    def test_upsert_twice_is_idempotent(self, store: Store) -> None:
        """Writing the same batch twice leaves one copy of each value."""
        batch = [order("o1"), order("o2")]
        store.orders.upsert(batch)
        store.orders.upsert(batch)
        assert store.orders.count() == 2
        assert store.orders.get_many(["o1", "o2"]) == {"o1": batch[0], "o2": batch[1]}

    def test_upsert_replaces_by_key(self, store: Store) -> None:
        """A value with an existing key replaces the stored one, lines included."""
        store.orders.upsert([order("o1", day=1)])
        newer = order("o1", day=2, status="cancelled")
        store.orders.upsert([newer])
        assert store.orders.get("o1") == newer
        assert store.orders.for_customer("c-1") == [newer]

    def test_last_value_in_a_batch_wins(self, store: Store) -> None:
        """Within one batch, the last value given for a key is the one kept."""
        store.orders.upsert([order("o1", day=1), order("o1", day=3)])
        assert store.orders.get("o1").placed_at == utc(2024, 1, 3)
        assert store.orders.count() == 1

    def test_missing_keys(self, store: Store) -> None:
        """``get`` raises NotFoundError, ``find`` returns None, ``get_many`` leaves them out."""
        store.orders.upsert([order("o1")])
        with pytest.raises(NotFoundError):
            store.orders.get("nope")
        assert store.orders.find("nope") is None
        assert list(store.orders.get_many(["nope", "o1"])) == ["o1"]

    def test_delete(self, store: Store) -> None:
        """``delete`` removes the given keys, ignores unknown ones and reports how many went."""
        store.products.upsert([Product(product_id=p, name=p) for p in "abc"])
        assert store.products.delete(["a", "c", "zz"]) == 2
        assert [p.product_id for p in scan_all(store.products.scan)] == ["b"]

    def test_wrong_value_type_writes_nothing(self, store: Store) -> None:
        """A batch with a value of the wrong type raises InvalidInputError and writes nothing."""
        with pytest.raises(InvalidInputError):
            store.orders.upsert([order("o1"), event("e1")])  # type: ignore[list-item]
        assert store.orders.count() == 0

    def test_exception_mid_batch_leaves_nothing(self, store: Store) -> None:
        """A batch whose iterable fails half-way leaves the store as it was."""

        def values() -> Iterator[Order]:
            yield order("o1")
            yield order("o2")
            raise RuntimeError("the source failed")

        store.orders.upsert([order("o0")])
        with pytest.raises(RuntimeError):
            store.orders.upsert(values())
        assert [o.order_id for o in scan_all(store.orders.scan)] == ["o0"]

    def test_large_batches(self, store: Store) -> None:
        """20,000 events and 5,000 three-line orders in one batch each: all there, in order."""
        t0 = utc(2024, 1, 1)
        events = [
            event(f"e{i:05d}", f"c{i % 97}", t0 + dt.timedelta(seconds=i // 3))
            for i in range(20_000)
        ]
        assert store.events.upsert(events) == 20_000
        assert store.events.count() == 20_000
        assert len(store.events.columns()) == 20_000
        line = OrderLine(product_id="p", quantity=1, unit_price=Money.of("1", "EUR"))
        orders = [
            Order(
                order_id=f"o{i:05d}",
                customer_id=f"c{i % 97}",
                placed_at=t0,
                currency="EUR",
                lines=seq(line, line, line),
            )
            for i in range(5_000)
        ]
        store.orders.upsert(orders)
        assert [o.order_id for o in scan_all(store.orders.scan, limit=999)] == [
            o.order_id for o in orders
        ]
        assert len(store.orders.line_columns()) == 15_000

    def test_closed_store_refuses_work(self, store: Store) -> None:
        """After ``close()`` (which may be called twice) every operation raises StorageError."""
        store.close()
        store.close()
        with pytest.raises(StorageError):
            store.orders.count()

    def test_capabilities_and_protocols(self, store: Store) -> None:
        """The store declares Capabilities, and implements the Supports* Protocols it declares."""
        caps = store.capabilities
        assert isinstance(caps, Capabilities)
        assert isinstance(store.orders, SupportsOrderIngest) == caps.columnar_ingest
        assert isinstance(store.events, SupportsEventIngest) == caps.columnar_ingest
        assert isinstance(store, SupportsIntegrityCheck) == caps.integrity_check
        assert isinstance(store.url, str)


class TransactionChecks(KitBase):
    """``with store.transaction():`` is atomic; nested blocks behave as documented.

    Examples:
        >>> "test_transaction_commits_everything" in dir(TransactionChecks)
        True
    """

    def test_transaction_commits_everything(self, store: Store) -> None:
        """Writes to several collections inside a block are all there after it."""
        with store.transaction():
            store.orders.upsert([order("o1")])
            store.events.upsert([event("e1")])
        assert store.orders.count() == 1
        assert store.events.count() == 1

    def test_failed_transaction_leaves_nothing(self, store: Store) -> None:
        """An exception inside a block undoes its inserts, replacements and deletes."""
        store.orders.upsert([order("o1", day=1), order("o2")])
        with pytest.raises(RuntimeError), store.transaction():  # noqa: PT012 - the block is the unit
            store.orders.upsert([order("o1", day=9), order("o3")])
            store.orders.delete(["o2"])
            store.events.upsert([event("e1")])
            raise RuntimeError("boom")
        assert store.orders.get("o1").placed_at == utc(2024, 1, 1)
        assert sorted(store.orders.get_many(["o1", "o2", "o3"])) == ["o1", "o2"]
        assert store.events.count() == 0

    def test_failure_propagating_through_nested_blocks_undoes_all(self, store: Store) -> None:
        """An exception that leaves the inner and the outer block undoes both."""
        with pytest.raises(RuntimeError), store.transaction():  # noqa: PT012 - the block is the unit
            store.orders.upsert([order("o1")])
            with store.transaction():
                store.orders.upsert([order("o2")])
                raise RuntimeError("boom")
        assert store.orders.count() == 0

    @requires("nested_transactions")
    def test_inner_failure_caught_keeps_outer_writes(self, store: Store) -> None:
        """An inner block that fails and is caught rolls back alone; the outer block commits."""
        with store.transaction():
            store.orders.upsert([order("o1")])
            with pytest.raises(RuntimeError), store.transaction():  # noqa: PT012 - the block is the unit
                store.orders.upsert([order("o2")])
                raise RuntimeError("inner")
            store.orders.upsert([order("o3")])
        assert sorted(store.orders.get_many(["o1", "o2", "o3"])) == ["o1", "o3"]

    def test_failed_erase_inside_a_transaction_is_undone(self, store: Store) -> None:
        """``erase`` inside a failing block leaves the customer's data in place."""
        store.customers.upsert([Customer(customer_id="c-1", created_at=utc(2024, 1, 1))])
        store.orders.upsert([order("o1")])
        with pytest.raises(RuntimeError), store.transaction():  # noqa: PT012 - the block is the unit
            store.erase("c-1")
            raise RuntimeError("boom")
        assert store.customers.find("c-1") is not None
        assert store.orders.get("o1").customer_id == "c-1"


class ScanChecks(KitBase):
    """Scans are ordered by (time, key), half-open in time and paginated by keyset cursors.

    Examples:
        >>> "test_pages_cover_every_value_once_in_order" in dir(ScanChecks)
        True
    """

    def _events(self, store: Store) -> list[Event]:
        t0 = utc(2024, 1, 1)
        events = [
            event(f"e{(i * 37) % 53:02d}", f"c{i % 3}", t0 + dt.timedelta(hours=i % 5))
            for i in range(53)
        ]
        store.events.upsert(events)
        return sorted(events, key=lambda e: (micros(e.at), e.event_id))

    def test_pages_cover_every_value_once_in_order(self, store: Store) -> None:
        """Pages of 7 concatenate to all values sorted by (time, key), ties included."""
        expected = self._events(store)
        pages = []
        cursor = None
        while True:
            page = store.events.scan(after=cursor, limit=7)
            assert len(page) <= 7
            pages.append(page)
            if not page.has_more:
                break
            cursor = page.next_cursor
        assert [e for p in pages for e in p] == expected
        assert len(pages) == 8

    def test_time_range_is_half_open(self, store: Store) -> None:
        """``start`` is included and ``end`` excluded, in scans, columns and any offset."""
        expected = self._events(store)
        start = dt.datetime(2024, 1, 1, 2, tzinfo=dt.timezone(dt.timedelta(hours=1)))  # 01:00 UTC
        end = utc(2024, 1, 1, 3)
        want = [e for e in expected if start <= e.at < end]
        assert scan_all(store.events.scan, start=start, end=end, limit=4) == want
        assert store.events.columns(start, end).event_id.tolist() == [e.event_id for e in want]

    def test_cursor_survives_writes(self, store: Store) -> None:
        """A cursor continues after its last value: earlier inserts are skipped, later ones seen."""
        expected = self._events(store)
        first = store.events.scan(limit=10)
        store.events.upsert(
            [event("zz-before", at=utc(2023, 1, 1)), event("zz-after", at=utc(2030, 1, 1))]
        )
        rest: list[Event] = []
        cursor = first.next_cursor
        while cursor is not None:
            page = store.events.scan(after=cursor, limit=10)
            rest.extend(page)
            cursor = page.next_cursor
        ids = [e.event_id for e in [*first, *rest]]
        assert ids == [e.event_id for e in expected] + ["zz-after"]

    def test_keyed_collections_scan_by_key(self, store: Store) -> None:
        """Products scan in key order, by pages."""
        store.products.upsert([Product(product_id=f"p{i:02d}", name="x") for i in (5, 1, 9, 3)])
        assert [p.product_id for p in scan_all(store.products.scan, limit=3)] == [
            "p01",
            "p03",
            "p05",
            "p09",
        ]

    def test_for_customer_is_in_time_order(self, store: Store) -> None:
        """A customer's orders, events, returns, consents and contacts come in (time, key) order."""
        store.orders.upsert(
            [
                order("b", day=2),
                order("a", day=2),
                order("c", day=1),
                order("x", customer_id="other"),
            ]
        )
        assert [o.order_id for o in store.orders.for_customer("c-1")] == ["c", "a", "b"]
        assert store.orders.for_customer("nobody") == []
        ret = Return(
            return_id="r",
            order_id="a",
            customer_id="c-1",
            at=utc(2024, 2, 1),
            refund=Money.of("1", "EUR"),
        )
        store.returns.upsert([ret])
        assert store.returns.for_customer("c-1") == [ret]
        assert store.returns.for_order("a") == [ret]

    def test_bad_scan_arguments_raise(self, store: Store) -> None:
        """Naive bounds, foreign cursors and non-positive limits raise InvalidInputError."""
        with pytest.raises(InvalidInputError):
            store.events.scan(start=dt.datetime(2024, 1, 1))
        with pytest.raises(InvalidInputError):
            store.events.scan(after="not a cursor")
        with pytest.raises(InvalidInputError):
            store.events.scan(limit=0)
        with pytest.raises(InvalidInputError):
            store.products.scan(start=utc(2024, 1, 1))  # type: ignore[call-arg]

    @requires("documents")
    def test_module_collections(self, store: Store) -> None:
        """A module's CollectionSpec collection keeps, scans and reads values per customer."""
        docs = store.collection(CONTACT_LOG)  # type: ignore[attr-defined]
        ks = [
            Contact(
                contact_id=f"k{i}",
                campaign_id="spring",
                customer_id=f"c{i % 2}",
                channel="email",
                at=utc(2024, 1, 1 + (i * 7) % 5),
            )
            for i in range(6)
        ]
        docs.upsert(ks)
        docs.upsert(ks)
        assert docs.count() == 6
        assert docs.get("k3") == ks[3]
        order_ = sorted(ks, key=lambda k: (k.at, k.contact_id))
        assert scan_all(docs.scan, limit=4) == order_
        assert docs.for_customer("c1") == [k for k in order_ if k.customer_id == "c1"]
        assert store.collection(CONTACT_LOG).count() == 6  # type: ignore[attr-defined]
        other = attrs.evolve(CONTACT_LOG, key=lambda k: k.campaign_id)
        with pytest.raises(InvalidInputError):
            store.collection(other)  # type: ignore[attr-defined]


class ErasureChecks(KitBase):
    """``erase(customer_id)`` removes personal data everywhere and keeps accounting records.

    Examples:
        >>> "test_erase_removes_personal_data" in dir(ErasureChecks)
        True
    """

    def _shop(self, store: Store) -> None:
        t = utc(2024, 3, 1)
        for cid in ("c-1", "c-2"):
            store.customers.upsert(
                [
                    Customer(
                        customer_id=cid,
                        created_at=t,
                        email=f"{cid}@x.org",
                        identifiers=seq(Identifier(kind="source_record", value=f"web:{cid}")),
                    )
                ]
            )
            store.source_records.upsert(
                [
                    SourceRecord(source="web", source_key=cid, observed_at=t, email=f"{cid}@x.org"),
                    SourceRecord(source="shop", source_key=cid, observed_at=t, phone="555"),
                ]
            )
            store.orders.upsert([order(f"o-{cid}", cid, attributes={"gift_note": "for Ann"})])
            store.returns.upsert(
                [
                    Return(
                        return_id=f"r-{cid}",
                        order_id=f"o-{cid}",
                        customer_id=cid,
                        at=t,
                        refund=Money.of("1", "EUR"),
                        reason="my address: 1 High St",
                    )
                ]
            )
            store.events.upsert([event(f"e-{cid}", cid)])
            store.consents.upsert(
                [Consent(customer_id=cid, channel="email", purpose="news", status="granted", at=t)]
            )
            store.contacts.upsert(
                [
                    Contact(
                        contact_id=f"k-{cid}",
                        campaign_id="x",
                        customer_id=cid,
                        channel="email",
                        at=t,
                    )
                ]
            )
            if store.capabilities.documents:
                store.collection(CONTACT_LOG).upsert(  # type: ignore[attr-defined]
                    [
                        Contact(
                            contact_id=f"d-{cid}",
                            campaign_id="x",
                            customer_id=cid,
                            channel="sms",
                            at=t,
                        )
                    ]
                )

    def test_erase_removes_personal_data(self, store: Store) -> None:
        """Profile, linked records, events, consents and module documents of the customer go."""
        self._shop(store)
        report = store.erase("c-1", source_record_keys=["shop:c-1"])
        assert store.customers.find("c-1") is None
        assert store.source_records.get_many(["web:c-1", "shop:c-1"]) == {}
        assert store.events.for_customer("c-1") == []
        assert store.consents.for_customer("c-1") == []
        assert report.deleted["customers"] == 1
        assert report.deleted["source_records"] == 2
        assert report.deleted["events"] == 1
        assert report.deleted["consents"] == 1
        if store.capabilities.documents:
            assert store.collection(CONTACT_LOG).for_customer("c-1") == []  # type: ignore[attr-defined]
            assert report.deleted[CONTACT_LOG.name] == 1

    def test_erase_pseudonymizes_accounting_records(self, store: Store) -> None:
        """Orders, returns and contacts stay under a pseudonym, without free text."""
        self._shop(store)
        before = store.orders.get("o-c-1")
        report = store.erase("c-1", pseudonym="erased-test")
        assert report.pseudonym == "erased-test"
        assert store.orders.for_customer("c-1") == []
        assert store.orders.get("o-c-1") == attrs.evolve(
            before, customer_id="erased-test", attributes={}
        )
        assert store.returns.get("r-c-1").customer_id == "erased-test"
        assert store.returns.get("r-c-1").reason is None
        assert store.contacts.get("k-c-1").customer_id == "erased-test"
        assert report.pseudonymized == {"orders": 1, "returns": 1, "contacts": 1}
        assert store.orders.columns().customer_id.tolist().count("c-1") == 0

    def test_erase_leaves_other_customers_alone(self, store: Store) -> None:
        """Another customer's data is untouched, and fresh pseudonyms differ per erase."""
        self._shop(store)
        before = {
            "orders": store.orders.for_customer("c-2"),
            "events": store.events.for_customer("c-2"),
            "consents": store.consents.for_customer("c-2"),
        }
        first = store.erase("c-1")
        assert store.customers.find("c-2") is not None
        assert store.source_records.find("web:c-2") is not None
        assert before == {
            "orders": store.orders.for_customer("c-2"),
            "events": store.events.for_customer("c-2"),
            "consents": store.consents.for_customer("c-2"),
        }
        second = store.erase("c-2")
        assert first.pseudonym != second.pseudonym

    def test_erasing_an_unknown_customer_touches_nothing(self, store: Store) -> None:
        """Erasing a customer the store does not know reports zero rows."""
        self._shop(store)
        assert store.erase("nobody").total == 0
        assert store.orders.count() == 2


class IngestChecks(KitBase):
    """The columnar bulk path writes what the value path writes, validated the same way.

    Examples:
        >>> "test_order_columns_ingest_like_values" in dir(IngestChecks)
        True
    """

    def _batch(self) -> tuple[OrderColumns, OrderLineColumns, list[Order]]:
        orders = [
            Order(
                order_id=f"o{i}",
                customer_id=f"c{i % 3}",
                placed_at=utc(2024, 1, 1 + i),
                currency="EUR",
                shipping=eur("4.90") if i % 2 else None,
                lines=seq(
                    *(
                        OrderLine(
                            product_id=f"p{j}",
                            quantity=j + 1,
                            unit_price=eur("2.50"),
                            discount=eur("0.50") if j else None,
                            category="tea" if j % 2 else None,
                        )
                        for j in range(1 + i % 3)
                    )
                ),
            )
            for i in range(7)
        ]
        return OrderColumns.from_orders(orders), OrderLineColumns.from_orders(orders), orders

    @requires("columnar_ingest")
    def test_order_columns_ingest_like_values(self, store: Store) -> None:
        """``upsert_columns`` stores orders equal to the values the columns were built from."""
        oc, lc, orders = self._batch()
        assert store.orders.upsert_columns(oc, lc) == 7  # type: ignore[attr-defined]
        assert [store.orders.get(o.order_id) for o in orders] == orders
        assert store.orders.columns().equals(oc)
        assert store.orders.line_columns().equals(lc)
        assert orders_from_columns(oc, lc) == orders

    @requires("columnar_ingest")
    def test_order_columns_in_any_line_order(self, store: Store) -> None:
        """Lines may come in any order; they are grouped by order and line number."""
        oc, lc, orders = self._batch()
        store.orders.upsert_columns(oc, lc.take(list(range(len(lc)))[::-1]))  # type: ignore[attr-defined]
        assert [store.orders.get(o.order_id) for o in orders] == orders

    @requires("columnar_ingest")
    def test_inconsistent_columns_write_nothing(self, store: Store) -> None:
        """Wrong totals or lines of unknown orders raise InvalidInputError and write nothing."""
        oc, lc, _ = self._batch()
        arrays = oc.arrays()
        bad = OrderColumns.from_arrays(**{**arrays, "total_minor": arrays["total_minor"] + 1})
        with pytest.raises(InvalidInputError, match="total_minor"):
            store.orders.upsert_columns(bad, lc)  # type: ignore[attr-defined]
        with pytest.raises(InvalidInputError, match="order"):
            store.orders.upsert_columns(oc.take([0]), lc)  # type: ignore[attr-defined]
        assert store.orders.count() == 0

    @requires("columnar_ingest")
    def test_event_columns_ingest_like_values(self, store: Store) -> None:
        """``events.upsert_columns`` stores events equal to those the columns came from."""
        events = [
            event(f"e{i}", None if i % 3 == 0 else f"c{i}", utc(2024, 1, 1, i)) for i in range(9)
        ]
        ec = EventColumns.from_events(events)
        assert store.events.upsert_columns(ec) == 9  # type: ignore[attr-defined]
        assert [store.events.get(e.event_id) for e in events] == events
        assert store.events.columns().equals(ec)
