"""Kit checks on values: round trips of every value type, hostile strings, time and money."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st

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
    Address,
    Consent,
    Contact,
    Customer,
    Event,
    Money,
    Order,
    OrderLine,
    Product,
    Return,
    SourceRecord,
)
from crmkit.storage import Store, consent_key
from crmkit.testing import strategies as cst
from crmkit.testing._base import KIT_SETTINGS, KitBase, columns_equal, scan_all, seq, utc

__all__ = ["ColumnChecks", "RoundTripChecks"]


def _check_round_trip(collection: Any, values: list[Any], key: Any) -> None:
    assert collection.upsert(values) == len(values)
    for value in values:
        got = collection.get(key(value))
        assert got == value, f"read back {got!r} for {value!r}"
        assert type(got) is type(value)
    assert collection.get_many([key(v) for v in values]) == {key(v): v for v in values}


class RoundTripChecks(KitBase):
    """Every value type written and read back equal, through ``get``, ``get_many`` and scans.

    Examples:
        >>> "test_consents_round_trip" in dir(RoundTripChecks)
        True
    """

    @KIT_SETTINGS
    @given(values=st.lists(cst.customers(), max_size=6, unique_by=lambda c: c.customer_id))
    def test_customers_round_trip(self, store: Store, values: list[Customer]) -> None:
        """Customer profiles come back equal, identifiers, tags and attributes included."""
        _check_round_trip(store.customers, values, lambda c: c.customer_id)

    @KIT_SETTINGS
    @given(values=st.lists(cst.source_records(), max_size=6, unique_by=lambda r: r.key))
    def test_source_records_round_trip(self, store: Store, values: list[SourceRecord]) -> None:
        """Source records come back equal under their ``source:source_key`` key."""
        _check_round_trip(store.source_records, values, lambda r: r.key)

    @KIT_SETTINGS
    @given(values=st.lists(cst.products(), max_size=6, unique_by=lambda p: p.product_id))
    def test_products_round_trip(self, store: Store, values: list[Product]) -> None:
        """Products come back equal."""
        _check_round_trip(store.products, values, lambda p: p.product_id)

    @KIT_SETTINGS
    @given(values=st.lists(cst.orders(), max_size=6, unique_by=lambda o: o.order_id))
    def test_orders_round_trip(self, store: Store, values: list[Order]) -> None:
        """Orders come back equal with every line, discount, shipping and tax (None stays None)."""
        _check_round_trip(store.orders, values, lambda o: o.order_id)

    @KIT_SETTINGS
    @given(values=st.lists(cst.returns(), max_size=6, unique_by=lambda r: r.return_id))
    def test_returns_round_trip(self, store: Store, values: list[Return]) -> None:
        """Returns come back equal."""
        _check_round_trip(store.returns, values, lambda r: r.return_id)

    @KIT_SETTINGS
    @given(values=st.lists(cst.events(), max_size=6, unique_by=lambda e: e.event_id))
    def test_events_round_trip(self, store: Store, values: list[Event]) -> None:
        """Events of customers and of anonymous visitors come back equal."""
        _check_round_trip(store.events, values, lambda e: e.event_id)

    @KIT_SETTINGS
    @given(values=st.lists(cst.consents(), max_size=6, unique_by=consent_key))
    def test_consents_round_trip(self, store: Store, values: list[Consent]) -> None:
        """Consent events come back equal under their ``consent_key``."""
        _check_round_trip(store.consents, values, consent_key)

    @KIT_SETTINGS
    @given(values=st.lists(cst.contacts(), max_size=6, unique_by=lambda k: k.contact_id))
    def test_contacts_round_trip(self, store: Store, values: list[Contact]) -> None:
        """Campaign contacts come back equal."""
        _check_round_trip(store.contacts, values, lambda k: k.contact_id)

    def test_times_are_lossless(self, store: Store) -> None:
        """Microseconds, odd offsets and the ends of the calendar come back as the same instant."""
        times = [
            dt.datetime(
                2024, 5, 5, 1, 2, 3, 999_999, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=45))
            ),
            dt.datetime(
                1969, 12, 31, 23, 59, 59, 1, tzinfo=dt.timezone(-dt.timedelta(hours=9, minutes=30))
            ),
            dt.datetime(1, 1, 1, tzinfo=dt.UTC),
            dt.datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=dt.UTC),
        ]
        events = [
            Event(event_id=f"t{i}", customer_id="c", type="page_view", at=t)
            for i, t in enumerate(times)
        ]
        store.events.upsert(events)
        for e in events:
            got = store.events.get(e.event_id)
            assert got.at == e.at
            assert got.at.utcoffset() is not None
        assert [e.event_id for e in scan_all(store.events.scan)] == ["t2", "t1", "t0", "t3"]

    def test_money_is_exact(self, store: Store) -> None:
        """Amounts up to ±9e18 minor units in 0-, 2-, 3- and 4-digit currencies come back exact."""
        prices = [
            Money(amount_minor=9_000_000_000_000_000_000, currency="EUR"),
            Money(amount_minor=-9_000_000_000_000_000_000, currency="JPY"),
            Money(amount_minor=1, currency="KWD"),
            Money(amount_minor=12345, currency="CLF"),
        ]
        products = [Product(product_id=f"p{i}", name="x", price=p) for i, p in enumerate(prices)]
        store.products.upsert(products)
        assert [store.products.get(p.product_id).price for p in products] == prices

    def test_hostile_strings_round_trip(self, store: Store) -> None:
        """Quotes, NUL, SQL fragments, separators and wide text survive as ids and as text."""
        for i, s in enumerate(cst.HOSTILE_STRINGS):
            customer = Customer(
                customer_id=s,
                created_at=utc(2024, 1, 1, 0, 0, i),
                first_name=s,
                tags=seq(s),
                attributes={s: s},
                address=Address(line1=s, city=s),
            )
            order = Order(
                order_id=s,
                customer_id=s,
                placed_at=utc(2024, 1, 2, 0, 0, i),
                currency="EUR",
                lines=seq(
                    OrderLine(
                        product_id=s,
                        quantity=1,
                        unit_price=Money(amount_minor=100, currency="EUR"),
                        category=s,
                    )
                ),
                attributes={"note": s},
            )
            event = Event(
                event_id=s, customer_id=s, type="search", at=order.placed_at, properties={"q": s}
            )
            store.customers.upsert([customer])
            store.orders.upsert([order])
            store.events.upsert([event])
            assert store.customers.get(s) == customer
            assert store.orders.get(s) == order
            assert store.orders.for_customer(s) == [order]
            assert store.events.for_customer(s) == [event]
        orders = scan_all(store.orders.scan)
        assert len(orders) == len(cst.HOSTILE_STRINGS)
        assert store.orders.columns().equals(OrderColumns.from_orders(orders))
        assert store.orders.line_columns().equals(OrderLineColumns.from_orders(orders))

    def test_very_long_values_round_trip(self, store: Store) -> None:
        """A 10,000-character id and a 1,000,000-character attribute come back whole."""
        long_id = "k" * 10_000
        customer = Customer(
            customer_id=long_id, created_at=utc(2024, 1, 1), attributes={"bio": "é" * 1_000_000}
        )
        store.customers.upsert([customer])
        assert store.customers.get(long_id) == customer

    def test_updated_fields_replace_old_ones(self, store: Store) -> None:
        """Upserting a changed value replaces every field, including ones set back to None."""
        c = Customer(customer_id="c", created_at=utc(2024, 1, 1), email="a@x.org", phone="1")
        store.customers.upsert([c])
        changed = attrs.evolve(c, email=None, phone="2")
        store.customers.upsert([changed])
        assert store.customers.get("c") == changed


class ColumnChecks(KitBase):
    """Columnar scans equal the columns built from the values a scan returns, in order.

    Examples:
        >>> "test_empty_store_scans_to_empty_columns" in dir(ColumnChecks)
        True
    """

    @KIT_SETTINGS
    @given(
        orders=st.lists(cst.orders(), max_size=8, unique_by=lambda o: o.order_id),
        bounds=st.tuples(cst.aware_datetimes(), cst.aware_datetimes()).map(sorted),
    )
    def test_order_columns_equal_value_reads(
        self, store: Store, orders: list[Order], bounds: list[dt.datetime]
    ) -> None:
        """``orders.columns`` and ``line_columns`` equal the columns of the scanned values."""
        store.orders.upsert(orders)
        start, end = bounds
        for lo, hi in ((None, None), (start, end)):
            values = scan_all(store.orders.scan, start=lo, end=hi, limit=3)
            assert store.orders.columns(lo, hi).equals(OrderColumns.from_orders(values))
            assert store.orders.line_columns(lo, hi).equals(OrderLineColumns.from_orders(values))

    @KIT_SETTINGS
    @given(
        events=st.lists(cst.events(), max_size=8, unique_by=lambda e: e.event_id),
        returns=st.lists(cst.returns(), max_size=5, unique_by=lambda r: r.return_id),
        consents=st.lists(cst.consents(), max_size=5, unique_by=consent_key),
        contacts=st.lists(cst.contacts(), max_size=5, unique_by=lambda k: k.contact_id),
        records=st.lists(cst.source_records(), max_size=5, unique_by=lambda r: r.key),
        start=cst.aware_datetimes(),
    )
    def test_other_columns_equal_value_reads(
        self,
        store: Store,
        events: list[Event],
        returns: list[Return],
        consents: list[Consent],
        contacts: list[Contact],
        records: list[SourceRecord],
        start: dt.datetime,
    ) -> None:
        """Events, returns, consents, contacts and source records scan to equal columns."""
        store.events.upsert(events)
        store.returns.upsert(returns)
        store.consents.upsert(consents)
        store.contacts.upsert(contacts)
        store.source_records.upsert(records)
        pairs: list[tuple[Any, Any]] = [
            (store.events, EventColumns.from_events),
            (store.returns, ReturnColumns.from_returns),
            (store.consents, ConsentColumns.from_consents),
            (store.contacts, ContactColumns.from_contacts),
            (store.source_records, SourceRecordColumns.from_records),
        ]
        for collection, build in pairs:
            for lo in (None, start):
                values = scan_all(collection.scan, start=lo, limit=2)
                assert columns_equal(collection.columns(lo), build(values)), type(
                    collection
                ).__name__

    def test_empty_store_scans_to_empty_columns(self, store: Store) -> None:
        """Every columnar scan of an empty store returns a table with no rows."""
        for table in (
            store.orders.columns(),
            store.orders.line_columns(),
            store.returns.columns(),
            store.events.columns(),
            store.consents.columns(),
            store.contacts.columns(),
            store.source_records.columns(),
        ):
            assert len(table) == 0
