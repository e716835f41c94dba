"""Domain values validate at construction, naming the field and the value."""

from __future__ import annotations

import datetime as dt
import pickle

import attrs
import pytest

from crmkit import errors
from crmkit.model import (
    Address,
    Channel,
    Consent,
    ConsentStatus,
    Contact,
    Customer,
    Event,
    EventType,
    Identifier,
    Money,
    Order,
    OrderLine,
    OrderStatus,
    Return,
    ReturnLine,
    SourceRecord,
    consent_granted,
)

T0 = dt.datetime(2024, 3, 1, 12, tzinfo=dt.UTC)


def eur(s: str) -> Money:
    return Money.of(s, "EUR")


def line(**kw: object) -> OrderLine:
    base: dict[str, object] = {"product_id": "p1", "quantity": 1, "unit_price": eur("10")}
    base.update(kw)
    return OrderLine(**base)  # type: ignore[arg-type]


def test_naive_datetimes_are_rejected_everywhere() -> None:
    """Every timestamp field refuses naive datetimes with a message naming the field."""
    naive = dt.datetime(2024, 1, 1)
    with pytest.raises(errors.InvalidInputError, match=r"SourceRecord\.observed_at: naive"):
        SourceRecord(source="web", source_key="k", observed_at=naive)
    with pytest.raises(errors.InvalidInputError, match=r"Order\.placed_at: naive"):
        Order(order_id="o", customer_id="c", placed_at=naive, currency="EUR", lines=[line()])
    with pytest.raises(errors.InvalidInputError, match=r"Event\.at: naive"):
        Event(event_id="e", type="page_view", at=naive, customer_id="c")


@pytest.mark.parametrize("bad", ["", " c1", "c1 ", 7, None])
def test_empty_padded_or_non_string_ids_are_rejected(bad: object) -> None:
    """Ids are non-empty trimmed strings."""
    with pytest.raises(errors.InvalidInputError, match=r"Customer\.customer_id"):
        Customer(customer_id=bad, created_at=T0)  # type: ignore[arg-type]


def test_negative_or_zero_quantities_are_rejected() -> None:
    """Order line quantities are whole numbers >= 1."""
    for q in (0, -2, 1.5, True):
        with pytest.raises(errors.InvalidInputError, match=r"OrderLine\.quantity"):
            line(quantity=q)


def test_negative_prices_and_oversized_discounts_are_rejected() -> None:
    """Prices are non-negative and a discount cannot exceed the line's gross."""
    with pytest.raises(errors.InvalidInputError, match="unit_price: negative"):
        line(unit_price=eur("-1"))
    with pytest.raises(errors.InvalidInputError, match="exceeds"):
        line(quantity=2, discount=eur("20.01"))


def test_order_total_is_lines_plus_shipping_plus_tax() -> None:
    """Totals are exact integer sums of the parts."""
    o = Order(
        order_id="o1",
        customer_id="c1",
        placed_at=T0,
        currency="EUR",
        lines=[
            line(quantity=3, discount=eur("1.5")),
            line(product_id="p2", unit_price=eur("0.99")),
        ],
        shipping=eur("4.90"),
        tax=eur("2.00"),
    )
    assert o.subtotal.amount_minor == 3000 - 150 + 99
    assert o.total.amount_minor == 2949 + 490 + 200
    assert o.status is OrderStatus.COMPLETED


def test_order_rejects_lines_in_another_currency_and_empty_orders() -> None:
    """An order is in one currency and has at least one line."""
    usd_line = OrderLine(product_id="p", quantity=1, unit_price=Money.of("1", "USD"))
    with pytest.raises(errors.CurrencyMismatchError, match=r"lines\[0\]"):
        Order(order_id="o", customer_id="c", placed_at=T0, currency="EUR", lines=[usd_line])
    with pytest.raises(errors.InvalidInputError, match="no lines"):
        Order(order_id="o", customer_id="c", placed_at=T0, currency="EUR", lines=[])


def test_event_needs_a_customer_or_anonymous_id_and_a_snake_case_type() -> None:
    """Events belong to someone and have a code-like type; enums are accepted as types."""
    with pytest.raises(errors.InvalidInputError, match="neither"):
        Event(event_id="e", type="page_view", at=T0)
    with pytest.raises(errors.InvalidInputError, match="snake_case"):
        Event(event_id="e", type="Page View", at=T0, customer_id="c")
    assert Event(event_id="e", type=EventType.SEARCH, at=T0, customer_id="c").type == "search"
    assert Event(event_id="e", type="wishlist_add", at=T0, anonymous_id="a").type == "wishlist_add"


def test_attributes_must_be_json_scalars_and_are_copied() -> None:
    """Free attributes hold JSON scalars only, and later changes to the caller's dict don't leak."""
    attrs_in: dict[str, object] = {"tier": "gold"}
    c = Customer(customer_id="c", created_at=T0, attributes=attrs_in)  # type: ignore[arg-type]
    attrs_in["tier"] = "bronze"
    assert c.attributes == {"tier": "gold"}
    with pytest.raises(errors.InvalidInputError, match="JSON scalar"):
        Customer(customer_id="c", created_at=T0, attributes={"x": [1, 2]})  # type: ignore[dict-item]
    with pytest.raises(errors.InvalidInputError, match="JSON-safe"):
        Customer(customer_id="c", created_at=T0, attributes={"x": float("nan")})


def test_values_are_frozen_and_evolve_revalidates() -> None:
    """Values cannot be mutated; attrs.evolve checks the new field."""
    r = SourceRecord(source="web", source_key="k1", observed_at=T0, email="a@b.org")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        r.email = "x"  # type: ignore[misc]
    with pytest.raises(errors.InvalidInputError, match="email: empty"):
        attrs.evolve(r, email="")
    assert r.key == "web:k1"


def test_country_codes_and_identifier_kinds_are_checked() -> None:
    """Countries are ISO alpha-2 upper case; identifier kinds are snake_case codes."""
    with pytest.raises(errors.InvalidInputError, match="alpha-2"):
        Address(country="Germany")
    with pytest.raises(errors.InvalidInputError, match="snake_case"):
        Identifier(kind="Loyalty Card", value="1")


def test_return_refund_is_non_negative() -> None:
    """A refund is an amount paid back, never negative."""
    with pytest.raises(errors.InvalidInputError, match="refund"):
        Return(return_id="r", order_id="o", customer_id="c", at=T0, refund=eur("-1"))
    r = Return(
        return_id="r",
        order_id="o",
        customer_id="c",
        at=T0,
        refund=eur("1"),
        lines=[ReturnLine(product_id="p", quantity=1)],
    )
    assert r.lines[0].quantity == 1


def test_consent_granted_at_t_semantics() -> None:
    """Granted at t: the latest event at or before t is an unexpired grant; revokes win ties."""
    day = lambda d: dt.datetime(2024, 1, d, tzinfo=dt.UTC)
    log = [
        Consent(
            customer_id="c",
            channel=Channel.EMAIL,
            purpose="marketing",
            status="granted",
            at=day(1),
            expires_at=day(20),
        ),
        Consent(
            customer_id="c", channel="email", purpose="marketing", status="revoked", at=day(10)
        ),
        Consent(
            customer_id="c", channel="email", purpose="marketing", status="granted", at=day(10)
        ),
        Consent(
            customer_id="c",
            channel="email",
            purpose="marketing",
            status="granted",
            at=day(15),
            expires_at=day(18),
        ),
        Consent(customer_id="c", channel="sms", purpose="marketing", status="granted", at=day(1)),
    ]
    at = lambda d: consent_granted(log, channel="email", purpose="marketing", at=day(d))
    assert [at(d) for d in (1, 5, 10, 12, 15, 17, 18, 25)] == [
        True,
        True,
        False,
        False,
        True,
        True,
        False,
        False,
    ]
    assert not consent_granted(log, channel="email", purpose="service", at=day(5))
    assert consent_granted(log, channel="sms", purpose="marketing", at=day(5))
    assert log[0].status is ConsentStatus.GRANTED


def test_contact_channel_and_outcome_are_enums() -> None:
    """Contacts convert channel and outcome strings to their enums, rejecting unknown ones."""
    k = Contact(
        contact_id="k", campaign_id="x", customer_id="c", channel="sms", at=T0, outcome="bounced"
    )
    assert k.channel is Channel.SMS and k.outcome.is_delivery_failure
    with pytest.raises(ValueError, match="fax"):
        Contact(contact_id="k", campaign_id="x", customer_id="c", channel="fax", at=T0)


@pytest.mark.parametrize(
    "cls",
    [getattr(errors, name) for name in errors.__all__ if isinstance(getattr(errors, name), type)],
)
def test_every_error_class_survives_pickling(cls: type[BaseException]) -> None:
    """Errors cross process boundaries (multiprocessing, Dask) intact."""
    exc = cls("field: something is wrong (evidence). Do this.")
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is cls and back.args == exc.args


def test_error_tree_inherits_the_matching_builtins() -> None:
    """Callers can catch crmkit errors by the builtin they expect."""
    assert issubclass(errors.InvalidInputError, ValueError)
    assert issubclass(errors.NotFoundError, LookupError)
    assert issubclass(errors.NotFoundError, errors.StorageError)
    assert issubclass(errors.ConvergenceError, errors.CrmkitError)
    assert all(
        issubclass(getattr(errors, n), errors.CrmkitError)
        for n in errors.__all__
        if not issubclass(getattr(errors, n), Warning)
    )
