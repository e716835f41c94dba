"""Column tables: validated once, aligned, read-only, equal whether built from values or arrays."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from crmkit.columns import (
    ConsentColumns,
    EventColumns,
    OrderColumns,
    OrderLineColumns,
    SourceRecordColumns,
)
from crmkit.errors import CurrencyMismatchError, InvalidInputError
from crmkit.model import Address, Consent, Event, Money, Order, OrderLine, SourceRecord

UTC = dt.UTC


def orders() -> list[Order]:
    eur = lambda s: Money.of(s, "EUR")
    return [
        Order(
            order_id="o1",
            customer_id="c1",
            placed_at=dt.datetime(2024, 1, 1, 9, tzinfo=UTC),
            currency="EUR",
            lines=[OrderLine(product_id="a", quantity=2, unit_price=eur("3"))],
        ),
        Order(
            order_id="o2",
            customer_id="c2",
            placed_at=dt.datetime(2024, 1, 2, 9, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            currency="EUR",
            status="cancelled",
            shipping=eur("1"),
            lines=[
                OrderLine(product_id="a", quantity=1, unit_price=eur("3"), category="tea"),
                OrderLine(product_id="b", quantity=1, unit_price=eur("5")),
            ],
        ),
    ]


def test_from_values_equals_from_arrays_and_converts_offsets_to_utc() -> None:
    """Values and plain arrays give the same table; a +02:00 time is stored as UTC."""
    oc = OrderColumns.from_orders(orders())
    arrays = OrderColumns.from_arrays(
        order_id=["o1", "o2"],
        customer_id=["c1", "c2"],
        placed_at=np.array(["2024-01-01T09:00", "2024-01-02T07:00"], dtype="datetime64[us]"),
        currency=["EUR", "EUR"],
        total_minor=[600, 900],
        shipping_minor=[0, 100],
        status=["completed", "cancelled"],
    )
    assert oc.equals(arrays)
    assert oc.purchases().order_id.tolist() == ["o1"]


def test_arrays_are_read_only_and_callers_arrays_are_not_frozen() -> None:
    """Tables never change under the caller, and never freeze the caller's arrays."""
    totals = np.array([1, 2], dtype=np.int64)
    oc = OrderColumns.from_arrays(
        order_id=["a", "b"],
        customer_id=["c", "c"],
        currency=["EUR", "EUR"],
        total_minor=totals,
        placed_at=np.array(["2024-01-01", "2024-01-02"], dtype="datetime64[us]"),
    )
    with pytest.raises(ValueError, match="read-only"):
        oc.total_minor[0] = 5
    totals[0] = 99
    assert oc.total_minor[0] == 1


def test_lines_flatten_in_order_with_totals() -> None:
    """Lines carry their order's keys and exact totals, in order and line order."""
    lc = OrderLineColumns.from_orders(orders())
    assert lc.order_id.tolist() == ["o1", "o2", "o2"]
    assert lc.line_no.tolist() == [0, 0, 1]
    assert lc.total_minor.tolist() == [600, 300, 500]
    assert lc.category.tolist() == ["", "tea", ""]


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("customer_id", ["c", ""], "empty ids"),
        ("customer_id", ["c", None], "missing ids"),
        ("total_minor", [1, 2.5], "non-integer"),
        ("currency", ["EUR", "EURO"], "unknown ISO 4217"),
        ("placed_at", np.array(["2024-01-01", "NaT"], dtype="datetime64[us]"), "NaT"),
        ("placed_at", [dt.datetime(2024, 1, 1, tzinfo=UTC), dt.datetime(2024, 1, 1)], "naive"),
        ("order_id", ["a"], "different lengths"),
    ],
)
def test_bad_columns_raise_naming_column_and_first_index(
    column: str, value: object, message: str
) -> None:
    """Validation names the column, the problem and the evidence."""
    cols: dict[str, object] = {
        "order_id": ["a", "b"],
        "customer_id": ["c", "c"],
        "currency": ["EUR", "EUR"],
        "total_minor": [1, 2],
        "placed_at": np.array(["2024-01-01", "2024-01-02"], dtype="datetime64[us]"),
    }
    cols[column] = value
    with pytest.raises(InvalidInputError, match=message) as info:
        OrderColumns.from_arrays(**cols)
    assert "OrderColumns" in str(info.value)


def test_missing_required_and_unknown_columns_are_errors() -> None:
    """from_arrays asks for required columns by name and rejects unknown ones."""
    with pytest.raises(InvalidInputError, match="required column missing"):
        OrderColumns.from_arrays(order_id=["a"])
    with pytest.raises(InvalidInputError, match="unknown columns"):
        OrderColumns.from_arrays(order_id=["a"], colour=["red"])


def test_between_sort_take_concat() -> None:
    """Time filters are half-open [start, end); sort is stable; concat appends."""
    oc = OrderColumns.from_orders(orders())
    jan2 = dt.datetime(2024, 1, 2, tzinfo=UTC)
    assert oc.between(end=jan2).order_id.tolist() == ["o1"]
    assert oc.between(start=jan2).order_id.tolist() == ["o2"]
    assert OrderColumns.concat([oc, oc]).order_id.tolist() == ["o1", "o2", "o1", "o2"]
    assert oc.sort("customer_id").customer_id.tolist() == ["c1", "c2"]
    assert len(OrderColumns.empty()) == 0


def test_single_currency_refuses_mixed_tables() -> None:
    """Analytic code asks for one currency and gets an error naming the first change."""
    oc = OrderColumns.from_arrays(
        order_id=["a", "b"],
        customer_id=["c", "c"],
        currency=["EUR", "USD"],
        total_minor=[1, 2],
        placed_at=np.array(["2024-01-01", "2024-01-02"], dtype="datetime64[us]"),
    )
    with pytest.raises(CurrencyMismatchError, match="first change at index 1"):
        oc.single_currency()


def test_consent_columns_match_the_value_semantics() -> None:
    """The vectorized consent check agrees with consent_granted on the same log."""
    from crmkit.model import consent_granted

    day = lambda d: dt.datetime(2024, 1, d, tzinfo=UTC)
    log = [
        Consent(customer_id="a", channel="email", purpose="m", status="granted", at=day(1)),
        Consent(customer_id="a", channel="email", purpose="m", status="revoked", at=day(5)),
        Consent(customer_id="a", channel="email", purpose="m", status="granted", at=day(5)),
        Consent(
            customer_id="b",
            channel="email",
            purpose="m",
            status="granted",
            at=day(2),
            expires_at=day(4),
        ),
        Consent(customer_id="c", channel="sms", purpose="m", status="granted", at=day(1)),
    ]
    cc = ConsentColumns.from_consents(log)
    ids = ["a", "b", "c", "zz"]
    for d in range(1, 8):
        got = cc.granted(ids, channel="email", purpose="m", at=day(d)).tolist()
        want = [
            consent_granted(
                [c for c in log if c.customer_id == i], channel="email", purpose="m", at=day(d)
            )
            for i in ids
        ]
        assert got == want, d


def test_events_and_records_round_trip_through_columns() -> None:
    """Anonymous events keep an empty customer id; records come back as equal values."""
    t = dt.datetime(2024, 1, 1, tzinfo=UTC)
    ec = EventColumns.from_events(
        [
            Event(event_id="e1", type="page_view", at=t, anonymous_id="x"),
            Event(event_id="e2", type="search", at=t, customer_id="c"),
        ]
    )
    assert ec.customer_id.tolist() == ["", "c"] and ec.known().event_id.tolist() == ["e2"]
    recs = [
        SourceRecord(
            source="web",
            source_key="1",
            observed_at=t,
            email="ä@x.org",
            birth_date=dt.date(1990, 2, 3),
            address=Address(line1="1 Main St", city="Leeds", postcode="LS1"),
            country="GB",
        ),
        SourceRecord(source="support", source_key="9", observed_at=t, first_name="Ann"),
    ]
    rc = SourceRecordColumns.from_records(recs)
    assert rc.to_records() == recs
    with pytest.raises(InvalidInputError, match="source:source_key"):
        SourceRecordColumns.from_arrays(
            record_id=["x"],
            source=["web"],
            source_key=["1"],
            observed_at=np.array(["2024-01-01"], "datetime64[us]"),
        )


def test_from_frame_reads_pandas_columns_and_tz_aware_times() -> None:
    """A DataFrame with tz-aware times converts to UTC; extra frame columns are ignored."""
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(
        {
            "id": ["o1"],
            "customer_id": ["c1"],
            "currency": ["EUR"],
            "total_minor": [100],
            "placed_at": pd.to_datetime(["2024-01-01T10:00"]).tz_localize("Europe/Berlin"),
            "note": ["ignored"],
        }
    )
    oc = OrderColumns.from_frame(df, rename={"id": "order_id"})
    assert oc.placed_at[0] == np.datetime64("2024-01-01T09:00", "us")
    back = oc.to_pandas()
    assert str(back["placed_at"].dt.tz) == "UTC" and back["total_minor"].tolist() == [100]


def test_equals_treats_missing_times_as_equal() -> None:
    """A table with NaT expiry equals itself; a different expiry makes tables differ."""
    t = np.array(["2024-01-01"], dtype="datetime64[us]")
    a = ConsentColumns.from_arrays(
        customer_id=["a"], channel=["email"], purpose=["m"], status=["granted"], at=t
    )
    assert a.equals(a) and not a.equals(
        ConsentColumns.from_arrays(
            customer_id=["a"],
            channel=["email"],
            purpose=["m"],
            status=["granted"],
            at=t,
            expires_at=t,
        )
    )
