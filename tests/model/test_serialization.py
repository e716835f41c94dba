"""The converter: JSON-safe round trips, strict structuring, every bad field reported by path."""

from __future__ import annotations

import datetime as dt

import cattrs
import pytest

from crmkit.errors import InvalidInputError
from crmkit.model import Customer, Identifier, Money, Order, SourceRecord
from crmkit.serialization import dump, dumps, load, loads, make_converter


def test_converters_are_independent_of_the_global_one() -> None:
    """make_converter returns a new converter and leaves cattrs.global_converter alone."""
    a, b = make_converter(), make_converter()
    assert a is not b and a is not cattrs.global_converter


def test_round_trip_keeps_offsets_dates_sets_and_scalars() -> None:
    """Aware datetimes keep their offset; tags come out sorted; scalars keep their JSON types."""
    tz = dt.timezone(dt.timedelta(hours=-5))
    c = Customer(
        customer_id="c",
        created_at=dt.datetime(2024, 1, 1, 8, 30, 0, 123456, tzinfo=tz),
        identifiers=[Identifier(kind="email", value="a@b.org")],
        tags={"vip", "b2b"},
        birth_date=dt.date(1980, 12, 31),
        attributes={"n": 3, "f": 0.5, "ok": True},
    )
    text = dumps(c)
    assert '"2024-01-01T08:30:00.123456-05:00"' in text and '["b2b", "vip"]' in text
    back = loads(text, Customer)
    assert back == c and back.attributes == c.attributes
    assert type(back.attributes["n"]) is int and type(back.attributes["ok"]) is bool


def test_import_reports_every_bad_field_with_its_path() -> None:
    """A bulk import with several problems names each one with a $.path."""
    data = [
        {
            "order_id": "o1",
            "customer_id": "c",
            "currency": "EUR",
            "placed_at": "2024-01-01T00:00:00",
            "lines": [
                {
                    "product_id": "p",
                    "quantity": "2",
                    "unit_price": {"amount_minor": 1, "currency": "EUR"},
                }
            ],
        },
        {
            "order_id": "o2",
            "customer_id": "c",
            "currency": "EUR",
            "placed_at": "2024-01-01T00:00:00+00:00",
            "lines": [
                {
                    "product_id": "p",
                    "quantity": 1,
                    "unit_price": {"amount_minor": 1.5, "currency": "EUR"},
                }
            ],
        },
    ]
    with pytest.raises(InvalidInputError) as info:
        load(data, list[Order])
    msg = str(info.value)
    assert "3 invalid field(s)" in msg
    assert "$[0].placed_at: naive timestamp" in msg
    assert "$[0].lines[0].quantity: expected int (got str '2')" in msg
    assert "$[1].lines[0].unit_price.amount_minor: expected int (got float 1.5)" in msg


def test_unknown_keys_and_missing_fields_are_errors() -> None:
    """Extra keys are refused and missing required fields are named."""
    with pytest.raises(InvalidInputError, match="colour"):
        load({"amount_minor": 1, "currency": "EUR", "colour": "red"}, Money)
    with pytest.raises(InvalidInputError, match=r"\$\.source_key: required field missing"):
        load({"source": "web", "observed_at": "2024-01-01T00:00:00Z"}, SourceRecord)


def test_invalid_json_text_is_an_input_error() -> None:
    """loads wraps JSON syntax errors."""
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        loads("{", Money)
    assert dump(Money.of("1", "EUR")) == {"amount_minor": 100, "currency": "EUR"}
