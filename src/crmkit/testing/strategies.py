"""Hypothesis strategies for every value type of ``crmkit.model`` (needs ``crmkit[test]``).

Every strategy draws valid values only: aware datetimes with odd offsets and microseconds,
money in every minor-unit size, ids with quotes, NUL characters, SQL fragments and non-Latin
text. Adapter authors use the same strategies as crmkit's own tests.

Examples:
    >>> from hypothesis import given, settings
    >>> from crmkit.testing import strategies as cst
    >>> @settings(max_examples=5)
    ... @given(cst.orders())
    ... def check(order):
    ...     assert order.total.amount_minor >= 0
    >>> check()
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from hypothesis import strategies as st

from crmkit.model import (
    MINOR_UNITS,
    Address,
    Channel,
    Consent,
    ConsentStatus,
    Contact,
    ContactOutcome,
    Customer,
    Event,
    EventType,
    Identifier,
    Money,
    Order,
    OrderLine,
    OrderStatus,
    Product,
    Return,
    ReturnLine,
    SourceRecord,
)

__all__ = [
    "HOSTILE_STRINGS",
    "addresses",
    "aware_datetimes",
    "channels",
    "consents",
    "contacts",
    "currencies",
    "customers",
    "dates",
    "events",
    "identifiers",
    "ids",
    "money",
    "order_lines",
    "orders",
    "products",
    "return_lines",
    "returns",
    "scalars",
    "snake_codes",
    "source_records",
    "texts",
]

#: Strings that break naive adapters: quotes, escapes, NUL, SQL and JSON fragments, wide text.
HOSTILE_STRINGS: tuple[str, ...] = (
    "O'Brien",
    'say "hi"',
    "back\\slash",
    "nul\x00inside",
    "\x00lead",
    "Robert'); DROP TABLE customers;--",
    "' OR '1'='1",
    "%_wild*",
    "NULL",
    "null",
    '{"json": [1]}',
    "Zoë Ærøskøbing",
    "Ĳsselmeer ß",
    "東京都 渋谷区",
    "مرحبا",
    "\u202eright-to-left",
    "emoji 😀🏳️‍🌈",
    "tab\tnew\nline",
    "unit\x1fand\x1erecord",
    "x" * 5000,
)

_CHARS = st.characters(exclude_categories=["Cs"])


def texts(*, max_size: int = 24) -> st.SearchStrategy[str]:
    """Non-empty, trimmed text from the whole of Unicode (NUL included) and hostile samples.

    Examples:
        >>> from hypothesis import find
        >>> find(texts(), lambda s: "'" in s).count("'") >= 1
        True
    """
    drawn = st.text(_CHARS, min_size=1, max_size=max_size).map(str.strip).filter(bool)
    return st.one_of(drawn, st.sampled_from(HOSTILE_STRINGS))


def ids() -> st.SearchStrategy[str]:
    """Ids: mostly plain (``c-17``), sometimes hostile text (never ending in NUL).

    numpy's fixed-width strings drop trailing NUL characters, so an id ending in NUL could not
    survive a column table; ids with NUL inside are drawn.

    Examples:
        >>> from hypothesis import find
        >>> find(ids(), lambda s: s.startswith("id-"))
        'id-0'
    """
    plain = st.integers(0, 10**6).map(lambda i: f"id-{i}")
    return st.one_of(plain, texts(max_size=12).filter(lambda s: not s.endswith("\x00")))


def snake_codes() -> st.SearchStrategy[str]:
    """Lower snake_case codes such as ``web`` or ``loyalty_card``.

    Examples:
        >>> from hypothesis import find
        >>> find(snake_codes(), lambda s: True)
        'a'
    """
    return st.from_regex(r"\A[a-z][a-z0-9_]{0,11}\Z")


def aware_datetimes(
    *, min_year: int = 1950, max_year: int = 2150
) -> st.SearchStrategy[dt.datetime]:
    """Timezone-aware datetimes with microseconds and fixed offsets from −14:00 to +14:00.

    Examples:
        >>> from hypothesis import find
        >>> find(aware_datetimes(), lambda d: True).tzinfo is not None
        True
    """
    offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))
    return st.builds(
        lambda naive, tz: naive.replace(tzinfo=tz),
        st.datetimes(dt.datetime(min_year, 1, 2), dt.datetime(max_year, 12, 30)),
        st.one_of(st.just(dt.UTC), offsets),
    )


def dates() -> st.SearchStrategy[dt.date]:
    """Calendar dates (birth dates) from 1900 to 2030.

    Examples:
        >>> from hypothesis import find
        >>> find(dates(), lambda d: d.month == 2).month
        2
    """
    return st.dates(dt.date(1900, 1, 1), dt.date(2030, 12, 31))


def currencies() -> st.SearchStrategy[str]:
    """ISO 4217 codes, each minor-unit size well represented (EUR, JPY, KWD, CLF...).

    Examples:
        >>> from hypothesis import find
        >>> find(currencies(), lambda c: True) in MINOR_UNITS
        True
    """
    common = st.sampled_from(["EUR", "USD", "JPY", "KWD", "CLF"])
    return st.one_of(common, st.sampled_from(sorted(MINOR_UNITS)))


def money(
    currency: str | None = None, *, min_minor: int = -(10**15), max_minor: int = 10**15
) -> st.SearchStrategy[Money]:
    """Money in ``currency`` (or any), amounts within ``[min_minor, max_minor]`` minor units.

    Examples:
        >>> from hypothesis import find
        >>> find(money("JPY", min_minor=0), lambda m: m.amount_minor > 5).amount_minor
        6
    """
    code = st.just(currency) if currency is not None else currencies()
    return st.builds(
        lambda a, c: Money(amount_minor=a, currency=c), st.integers(min_minor, max_minor), code
    )


def scalars() -> st.SearchStrategy[str | int | float | bool | None]:
    """JSON-safe scalars for ``attributes`` and ``properties``.

    Examples:
        >>> from hypothesis import find
        >>> find(scalars(), lambda x: isinstance(x, bool))
        False
    """
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**63), 2**63 - 1),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(_CHARS, max_size=30),
    )


def _attributes() -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(texts(max_size=10), scalars(), max_size=4)


def _optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


def channels() -> st.SearchStrategy[Channel]:
    """Contact channels.

    Examples:
        >>> from hypothesis import find
        >>> find(channels(), lambda c: True) in Channel
        True
    """
    return st.sampled_from(Channel)


def addresses() -> st.SearchStrategy[Address]:
    """Postal addresses with any subset of fields.

    Examples:
        >>> from hypothesis import find
        >>> find(addresses(), lambda a: a.city is not None).city is not None
        True
    """
    return st.builds(
        Address,
        line1=_optional(texts()),
        line2=_optional(texts()),
        city=_optional(texts()),
        postcode=_optional(texts(max_size=8)),
        region=_optional(texts()),
        country=_optional(st.from_regex(r"\A[A-Z]{2}\Z")),
    )


def identifiers() -> st.SearchStrategy[Identifier]:
    """Typed identifiers (email, phone, loyalty card...).

    Examples:
        >>> from hypothesis import find
        >>> find(identifiers(), lambda i: True).kind
        'a'
    """
    return st.builds(Identifier, kind=snake_codes(), value=texts())


def source_records() -> st.SearchStrategy[SourceRecord]:
    """Source records with every field optional but the key and time.

    Examples:
        >>> from hypothesis import find
        >>> ":" in find(source_records(), lambda r: True).key
        True
    """
    return st.builds(
        SourceRecord,
        source=snake_codes(),
        source_key=ids(),
        observed_at=aware_datetimes(),
        email=_optional(texts()),
        phone=_optional(texts(max_size=16)),
        first_name=_optional(texts()),
        last_name=_optional(texts()),
        birth_date=_optional(dates()),
        address=_optional(addresses()),
        country=_optional(st.from_regex(r"\A[A-Z]{2}\Z")),
        identifiers=st.lists(identifiers(), max_size=3).map(tuple),
        attributes=_attributes(),
    )


def customers() -> st.SearchStrategy[Customer]:
    """Customer profiles.

    Examples:
        >>> from hypothesis import find
        >>> find(customers(), lambda c: bool(c.tags)).tags != frozenset()
        True
    """
    return st.builds(
        Customer,
        customer_id=ids(),
        created_at=aware_datetimes(),
        identifiers=st.lists(identifiers(), max_size=3).map(tuple),
        first_name=_optional(texts()),
        last_name=_optional(texts()),
        email=_optional(texts()),
        phone=_optional(texts(max_size=16)),
        address=_optional(addresses()),
        birth_date=_optional(dates()),
        time_zone=_optional(st.sampled_from(["Europe/Berlin", "America/New_York", "UTC"])),
        tags=st.frozensets(texts(max_size=8), max_size=3),
        attributes=_attributes(),
    )


def consents(customer_id: str | None = None) -> st.SearchStrategy[Consent]:
    """Consent events, of one customer if ``customer_id`` is given.

    Examples:
        >>> from hypothesis import find
        >>> find(consents("c-1"), lambda c: True).customer_id
        'c-1'
    """
    return st.builds(
        Consent,
        customer_id=st.just(customer_id) if customer_id else ids(),
        channel=channels(),
        purpose=snake_codes(),
        status=st.sampled_from(ConsentStatus),
        at=aware_datetimes(),
        source=_optional(texts()),
        expires_at=_optional(aware_datetimes()),
    )


def products() -> st.SearchStrategy[Product]:
    """Catalog products.

    Examples:
        >>> from hypothesis import find
        >>> find(products(), lambda p: p.price is not None).price.amount_minor >= 0
        True
    """
    return st.builds(
        Product,
        product_id=ids(),
        name=texts(),
        category=_optional(texts(max_size=10)),
        price=_optional(money(min_minor=0, max_minor=10**9)),
        attributes=_attributes(),
    )


@st.composite
def order_lines(draw: st.DrawFn, currency: str | None = None) -> OrderLine:
    """Order lines in ``currency`` (or any), discounts within the line's gross.

    Examples:
        >>> from hypothesis import find
        >>> find(order_lines("EUR"), lambda x: x.discount is not None).total.currency
        'EUR'
    """
    cur = currency or draw(currencies())
    quantity = draw(st.integers(1, 1000))
    unit = draw(st.integers(0, 10**9))
    discount = draw(_optional(st.integers(0, quantity * unit)))
    return OrderLine(
        product_id=draw(ids()),
        quantity=quantity,
        unit_price=Money(amount_minor=unit, currency=cur),
        discount=None if discount is None else Money(amount_minor=discount, currency=cur),
        category=draw(_optional(texts(max_size=10))),
    )


@st.composite
def orders(draw: st.DrawFn, customer_id: str | None = None, *, max_lines: int = 4) -> Order:
    """Orders with 1..``max_lines`` lines in one currency, of one customer if given.

    Examples:
        >>> from hypothesis import find
        >>> len(find(orders(), lambda o: len(o.lines) > 1).lines)
        2
    """
    cur = draw(currencies())
    extra = money(cur, min_minor=0, max_minor=10**6)
    lines: list[OrderLine] = draw(st.lists(order_lines(cur), min_size=1, max_size=max_lines))
    return Order(
        order_id=draw(ids()),
        customer_id=customer_id or draw(ids()),
        placed_at=draw(aware_datetimes()),
        currency=cur,
        lines=cast(Any, lines),  # converter=tuple types as an unbound Iterable
        status=draw(st.sampled_from(OrderStatus)),
        channel=draw(snake_codes()),
        shipping=draw(_optional(extra)),
        tax=draw(_optional(extra)),
        attributes=draw(_attributes()),
    )


def return_lines() -> st.SearchStrategy[ReturnLine]:
    """Returned units of a product.

    Examples:
        >>> from hypothesis import find
        >>> find(return_lines(), lambda x: True).quantity
        1
    """
    return st.builds(ReturnLine, product_id=ids(), quantity=st.integers(1, 100))


def returns(customer_id: str | None = None) -> st.SearchStrategy[Return]:
    """Returns and refunds, of one customer if given.

    Examples:
        >>> from hypothesis import find
        >>> find(returns("c-9"), lambda r: True).customer_id
        'c-9'
    """
    return st.builds(
        Return,
        return_id=ids(),
        order_id=ids(),
        customer_id=st.just(customer_id) if customer_id else ids(),
        at=aware_datetimes(),
        refund=money(min_minor=0, max_minor=10**9),
        lines=st.lists(return_lines(), max_size=3).map(tuple),
        reason=_optional(texts()),
    )


def events(customer_id: str | None = None) -> st.SearchStrategy[Event]:
    """Events of known customers or anonymous visitors (at least one id set).

    Examples:
        >>> from hypothesis import find
        >>> find(events(), lambda e: e.customer_id is None).anonymous_id is not None
        True
    """
    known = st.just(customer_id) if customer_id else ids()
    pair = st.one_of(
        st.tuples(known, _optional(ids())),
        st.tuples(st.none(), ids()) if customer_id is None else st.tuples(known, st.none()),
    )
    return st.builds(
        lambda p, **kw: Event(customer_id=p[0], anonymous_id=p[1], **kw),
        pair,
        event_id=ids(),
        type=st.one_of(st.sampled_from([t.value for t in EventType]), snake_codes()),
        at=aware_datetimes(),
        properties=_attributes(),
    )


def contacts(customer_id: str | None = None) -> st.SearchStrategy[Contact]:
    """Campaign contacts, of one customer if given.

    Examples:
        >>> from hypothesis import find
        >>> find(contacts(), lambda k: True).outcome in ContactOutcome
        True
    """
    return st.builds(
        Contact,
        contact_id=ids(),
        campaign_id=ids(),
        customer_id=st.just(customer_id) if customer_id else ids(),
        channel=channels(),
        at=aware_datetimes(),
        outcome=st.sampled_from(ContactOutcome),
        variant=_optional(texts(max_size=8)),
    )
