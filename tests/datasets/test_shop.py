"""The synthetic shop's tables: determinism, validity, relations between tables, the truth."""

from __future__ import annotations

import datetime as dt
import re

import attrs
import numpy as np
import pytest

import crmkit.datasets
from crmkit.columns import Columns, OrderColumns, OrderLineColumns, SourceRecordColumns
from crmkit.datasets import ShopBehaviour, SyntheticShop, synthetic_shop
from crmkit.errors import InvalidInputError

TABLES = ("records", "orders", "order_lines", "returns", "events", "consents")


def same(a: Columns, b: Columns) -> bool:
    """Bit-identical tables (``Columns.equals`` treats NaT as unequal to itself)."""
    x, y = a.arrays(), b.arrays()
    return x.keys() == y.keys() and all(
        x[k].dtype == y[k].dtype and x[k].tobytes() == y[k].tobytes() for k in x
    )


def test_all_is_sorted_and_exported() -> None:
    """crmkit.datasets exports exactly its sorted __all__."""
    names = crmkit.datasets.__all__
    assert names == sorted(names)
    assert all(hasattr(crmkit.datasets, n) for n in names)


def test_same_seed_gives_bit_identical_tables() -> None:
    """Same n and seed → every table and every truth array equal, bit for bit."""
    a, b = synthetic_shop(300, rng=5), synthetic_shop(300, rng=5)
    for name in TABLES:
        assert same(getattr(a, name), getattr(b, name)), name
    for f in attrs.fields(type(a.truth)):
        x, y = getattr(a.truth, f.name), getattr(b.truth, f.name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype, f.name
            assert x.tobytes() == y.tobytes(), f.name
        else:
            assert x == y, f.name
    assert np.array_equal(a.products.price_minor, b.products.price_minor)


def test_different_seed_gives_different_shop() -> None:
    """A different seed draws a different shop."""
    a, b = synthetic_shop(300, rng=5), synthetic_shop(300, rng=6)
    assert not a.orders.equals(b.orders)


def test_every_table_validates_again(small_shop: SyntheticShop) -> None:
    """Rebuilding each table from its arrays passes the column tables' validation."""
    for name in TABLES:
        table = getattr(small_shop, name)
        again = type(table).from_arrays(**table.arrays())
        assert same(again, table), name
        assert all(not a.flags.writeable for a in table.arrays().values()), name


def test_ids_have_their_documented_shape(small_shop: SyntheticShop) -> None:
    """Record keys are a source prefix plus digits; order, event and person ids likewise."""
    prefix = {"web": "w", "checkout": "g", "loyalty": "lc", "support": "t", "marketplace": "mb"}
    for src, key in zip(small_shop.records.source, small_shop.records.source_key, strict=True):
        assert re.fullmatch(prefix[str(src)] + r"\d+", str(key))
    assert all(re.fullmatch(r"o\d+", x) for x in small_shop.orders.order_id.tolist())
    assert all(re.fullmatch(r"e\d+", x) for x in small_shop.events.event_id.tolist())
    assert all(re.fullmatch(r"p\d+", x) for x in small_shop.truth.person_id.tolist())
    assert len(set(small_shop.records.record_id.tolist())) == len(small_shop.records)


def test_orders_are_keyed_to_records_that_place_orders(small_shop: SyntheticShop) -> None:
    """Every order's customer_id is a web, checkout, loyalty or marketplace record id."""
    rec = small_shop.records
    source_of = dict(zip(rec.record_id.tolist(), rec.source.tolist(), strict=True))
    sources = {source_of[c] for c in small_shop.orders.customer_id.tolist()}
    assert sources == {"web", "checkout", "loyalty", "marketplace"}


def test_order_totals_are_lines_plus_shipping_and_tax(small_shop: SyntheticShop) -> None:
    """order total = Σ line totals + shipping + tax, exactly, in int64 minor units."""
    o, li = small_shop.orders, small_shop.order_lines
    pos = np.searchsorted(o.order_id, li.order_id)
    assert np.array_equal(o.order_id[pos], li.order_id)
    sums = np.bincount(pos, weights=li.total_minor, minlength=len(o)).astype(np.int64)
    assert np.array_equal(sums + o.shipping_minor + o.tax_minor, o.total_minor)
    assert o.total_minor.dtype == np.int64
    assert np.array_equal(li.total_minor, li.quantity * li.unit_price_minor - li.discount_minor)
    assert (li.discount_minor >= 0).all()
    assert (li.quantity >= 1).all()
    assert np.array_equal(li.customer_id, o.customer_id[pos])
    assert np.array_equal(li.placed_at, o.placed_at[pos])


def test_lines_use_catalog_products_and_prices(small_shop: SyntheticShop) -> None:
    """Each line's product, unit price and category come from the catalog."""
    cat, li = small_shop.products, small_shop.order_lines
    idx = {p: i for i, p in enumerate(cat.product_id.tolist())}
    pos = np.array([idx[p] for p in li.product_id.tolist()])
    assert np.array_equal(cat.price_minor[pos], li.unit_price_minor)
    assert np.array_equal(cat.category[pos], li.category)


def test_domain_values_round_trip_to_columns(small_shop: SyntheticShop) -> None:
    """order_values / record_values build valid domain values that give back the same columns."""
    orders = small_shop.order_values(40)
    assert len(orders) == 40
    assert OrderColumns.from_orders(orders).equals(small_shop.orders.take(np.arange(40)))
    lines = OrderLineColumns.from_orders(orders)
    assert lines.equals(small_shop.order_lines.take(np.arange(len(lines))))
    records = small_shop.record_values(60)
    assert SourceRecordColumns.from_records(records).equals(small_shop.records.take(np.arange(60)))
    assert len(small_shop.product_values()) == len(small_shop.products)
    with pytest.raises(InvalidInputError, match="limit"):
        small_shop.order_values(-1)


def test_cancelled_orders_and_statuses(big_shop: SyntheticShop) -> None:
    """Some orders are cancelled; only the known statuses occur; purchases exclude cancels."""
    status = big_shop.orders.status
    assert set(status.tolist()) <= {"completed", "shipped", "paid", "cancelled"}
    share = (status == "cancelled").mean()
    assert 0.01 < share < 0.05  # configured 3% of purchases get a cancelled attempt
    assert len(big_shop.orders.purchases()) == len(big_shop.orders) - (status == "cancelled").sum()


def test_returns_refund_at_most_the_order_total(big_shop: SyntheticShop) -> None:
    """Returns point at non-cancelled orders of the same customer, refunds ≤ totals, after sale."""
    o, r = big_shop.orders, big_shop.returns
    assert len(r) > 0
    pos = np.searchsorted(o.order_id, r.order_id)
    assert np.array_equal(o.order_id[pos], r.order_id)
    assert (r.refund_minor <= o.total_minor[pos]).all()
    assert (r.refund_minor > 0).all()
    assert np.array_equal(r.customer_id, o.customer_id[pos])
    assert (o.status[pos] != "cancelled").all()
    assert (r.at > o.placed_at[pos]).all()


def test_everything_happens_inside_the_window(small_shop: SyntheticShop) -> None:
    """Records, orders, returns, events and consents all lie in [start, end)."""
    start = np.datetime64(small_shop.truth.start.replace(tzinfo=None), "us")
    end = np.datetime64(small_shop.truth.end.replace(tzinfo=None), "us")
    for name in TABLES:
        table = getattr(small_shop, name)
        t = getattr(table, table.time_column)
        assert ((t >= start) & (t < end)).all(), name


def test_events_keys_and_abandoned_carts(big_shop: SyntheticShop) -> None:
    """Known events name web records; carts without any order within a day exist and match truth."""
    ev, rec = big_shop.events, big_shop.records
    known = ev.customer_id[ev.customer_id != ""]
    web = set(rec.record_id[rec.source == "web"].tolist())
    assert set(known.tolist()) <= web
    assert ((ev.customer_id != "") | (ev.anonymous_id != "")).all()
    expected = {"page_view", "search", "product_view", "add_to_cart", "remove_from_cart"}
    expected |= {"checkout_started", "email_open", "email_click"}
    assert set(ev.type.tolist()) == expected
    # abandoned: an add_to_cart with no order (any status) by the same person within 24 hours
    person_orders = big_shop.truth.order_person
    key_o = np.sort(person_orders * 10**15 + big_shop.orders.placed_at.astype(np.int64))
    carts = ev.type == "add_to_cart"
    key_c = big_shop.truth.event_person[carts] * 10**15 + ev.at[carts].astype(np.int64)
    nxt = np.searchsorted(key_o, key_c)
    gap = np.append(key_o, np.iinfo(np.int64).max)[nxt] - key_c
    abandoned = int((gap >= 86_400 * 10**6).sum())
    assert abandoned == big_shop.truth.abandoned_carts > 0


def test_consents_are_granted_denied_and_revoked(big_shop: SyntheticShop) -> None:
    """Consents cover email, sms and push with grants, denials and later revocations."""
    c = big_shop.consents
    assert set(c.channel.tolist()) == {"email", "sms", "push"}
    assert set(c.status.tolist()) == {"granted", "denied", "revoked"}
    assert set(c.customer_id.tolist()) <= set(big_shop.records.record_id.tolist())
    revoked = c.take(c.status == "revoked")
    granted = c.take(c.status == "granted")
    keys = zip(granted.customer_id.tolist(), granted.channel.tolist(), strict=True)
    g_at = dict(zip(keys, granted.at, strict=True))
    for cid, ch, at in zip(revoked.customer_id, revoked.channel, revoked.at, strict=True):
        assert g_at[(cid, ch)] < at
    # e-mail opens only while the e-mail grant holds
    ev = big_shop.events
    opens = ev.take(ev.type == "email_open")
    ok = c.granted(opens.customer_id, channel="email", purpose="marketing", at=opens.at[0])
    assert ok[0]


def test_truth_rekeys_tables_to_persons(big_shop: SyntheticShop) -> None:
    """by-person tables use person ids; purchases per person = 1 + repeats; first at acquisition."""
    t = big_shop.truth
    by = big_shop.orders_by_person()
    assert np.array_equal(by.customer_id, t.person_id[t.order_person])
    assert np.array_equal(big_shop.person_of(big_shop.orders.customer_id), by.customer_id)
    buys = by.purchases()
    person = t.order_person[big_shop.orders.status != "cancelled"]
    counts = np.bincount(person, minlength=t.n_persons)
    assert np.array_equal(counts, t.n_repeat + 1)
    first = np.full(t.n_persons, np.iinfo(np.int64).max)
    np.minimum.at(first, person, buys.placed_at.astype(np.int64))
    assert np.array_equal(first, t.acquired_at.astype(np.int64))
    for table in (
        big_shop.order_lines_by_person(),
        big_shop.returns_by_person(),
        big_shop.events_by_person(),
        big_shop.consents_by_person(),
    ):
        assert set(table.customer_id.tolist()) <= set(t.person_id.tolist())


def test_person_of_rejects_unknown_ids(small_shop: SyntheticShop) -> None:
    """person_of names unknown record ids instead of guessing."""
    with pytest.raises(InvalidInputError, match="record_ids"):
        small_shop.person_of(["web:nope"])


def test_counts_describe_the_shop(small_shop: SyntheticShop) -> None:
    """counts() reports every table's size and the per-source record counts."""
    c = small_shop.counts()
    assert c["orders"] == len(small_shop.orders)
    assert sum(c["records_by_source"].values()) == len(small_shop.records)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_customers": 0}, "n_customers"),
        ({"n_customers": 10, "currency": "XYZ"}, "currency"),
        ({"n_customers": 10, "start": dt.datetime(2024, 1, 1)}, "start"),
        (
            {
                "n_customers": 10,
                "start": dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
                "end": dt.datetime(2023, 1, 1, tzinfo=dt.UTC),
            },
            "end",
        ),
        ({"n_customers": 10, "n_products": 0}, "n_products"),
    ],
)
def test_bad_arguments_raise(kwargs: dict[str, object], match: str) -> None:
    """Bad sizes, currencies and windows raise InvalidInputError naming the argument."""
    with pytest.raises(InvalidInputError, match=match):
        synthetic_shop(**kwargs)  # type: ignore[arg-type]


def test_other_currency_uses_its_minor_units() -> None:
    """A JPY shop (no minor units) keeps totals exact in whole yen."""
    shop = synthetic_shop(200, rng=3, currency="JPY")
    assert shop.orders.single_currency() == "JPY"
    assert (shop.products.price_minor >= 1).all()


@pytest.mark.parametrize("n", [1, 2, 7])
@pytest.mark.parametrize(
    "behaviour",
    [
        ShopBehaviour(web_account=0, loyalty_card=0, marketplace=0, support_tickets=0),
        ShopBehaviour(web_account=1, loyalty_card=1, marketplace=1, guest_checkout=0),
    ],
)
def test_tiny_shops_and_extreme_channel_mixes(n: int, behaviour: ShopBehaviour) -> None:
    """Shops of a handful of persons, with no or every channel, build and keep their relations."""
    shop = synthetic_shop(n, rng=3, behaviour=behaviour)
    assert shop.truth.n_persons == n
    assert set(shop.orders.customer_id.tolist()) <= set(shop.records.record_id.tolist())
    assert len(shop.order_values()) == len(shop.orders)
    assert len(shop.record_values()) == len(shop.records)
