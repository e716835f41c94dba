"""The PostgreSQL adapter: the full conformance kit against a real server, and what is its own.

The server comes from ``CRMKIT_TEST_POSTGRES_URL`` (``.ci/run`` exports it). Without it these
tests skip, except in CI, where they fail. Every test works in a fresh schema, dropped after.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator

import attrs
import psycopg
import pytest

import crmkit
from crmkit.errors import InvalidInputError, SchemaError, StorageError
from crmkit.model import Money, Product
from crmkit.storage import Store
from crmkit.storage.postgres import MIGRATIONS, SCHEMA_VERSION, PostgresStore
from crmkit.storage.postgres._schema import TABLES
from crmkit.storage.postgres._testing import drop_schema, server_url
from crmkit.storage.postgres._text import stuff, unstuff
from crmkit.testing import StoreConformance
from crmkit.testing import strategies as cst
from crmkit.testing._base import seq
from crmkit.testing._behaviour import order


def _raw(url: str, query: str) -> list[tuple[object, ...]]:
    conninfo, _, params = url.partition("?")
    schema = params.rpartition("schema=")[2]
    with psycopg.connect(conninfo, autocommit=True) as con:
        con.execute(f'SET search_path TO "{schema}"')
        cur = con.execute(query)
        return cur.fetchall() if cur.description else []


@pytest.fixture
def url() -> Iterator[str]:
    """The test server's URL with a fresh schema, dropped after the test."""
    fresh = server_url("crmkit_test")
    yield fresh
    drop_schema(fresh)


@pytest.fixture(scope="class")
def kit_url() -> Iterator[str]:
    """A schema migrated once for the kit's checks, dropped after them."""
    fresh = server_url("crmkit_kit")
    PostgresStore(fresh).close()
    yield fresh
    drop_schema(fresh)


class TestPostgresStore(StoreConformance):
    """The PostgreSQL adapter passes every check of the kit, multi-process ones included."""

    @pytest.fixture
    def store(self, kit_url: str) -> Iterator[Store]:
        """The kit's schema emptied, opened through crmkit.connect (the entry point)."""
        _raw(kit_url, f"TRUNCATE {', '.join(TABLES)}")
        with crmkit.connect(kit_url) as store:
            yield store


def test_connect_finds_the_adapter_by_entry_point(url: str) -> None:
    """crmkit.connect('postgresql://...') opens a PostgresStore whose URL reopens the schema."""
    with crmkit.connect(url) as store:
        assert isinstance(store, PostgresStore)
        assert store.url == url
        store.products.upsert([Product(product_id="p", name="Tea")])
    with crmkit.connect(url) as again:
        assert again.products.get("p").name == "Tea"


def test_new_schema_records_every_migration(url: str) -> None:
    """A new schema holds every migration in order, and reopening does not migrate again."""
    PostgresStore(url).close()
    with PostgresStore(url) as store:
        assert store.schema_version() == SCHEMA_VERSION
    versions = [r[0] for r in _raw(url, "SELECT version FROM schema_version ORDER BY version")]
    assert versions == [m.version for m in MIGRATIONS]


def test_migrate_false_refuses_an_unmigrated_schema(url: str) -> None:
    """migrate=False raises SchemaError on a schema that lacks migrations; migrate() fixes it."""
    with pytest.raises(SchemaError, match="migrate"):
        PostgresStore(url, migrate=False)
    PostgresStore(url).close()
    with PostgresStore(url, migrate=False) as store:
        assert store.migrate() == SCHEMA_VERSION


def test_newer_schema_is_refused(url: str) -> None:
    """A schema written by a newer crmkit raises SchemaError instead of being misread."""
    PostgresStore(url).close()
    _raw(url, f"INSERT INTO schema_version VALUES ({SCHEMA_VERSION + 1}, 0, 'future') RETURNING 1")
    with pytest.raises(SchemaError, match="newer"):
        PostgresStore(url)


def test_money_and_time_are_integers_in_the_table(url: str) -> None:
    """Orders keep minor units and UTC microseconds as bigint, lines as arrays."""
    with PostgresStore(url) as store:
        store.orders.upsert([order("o1")])
    row = _raw(url, "SELECT total_minor, placed_at, line_products, line_quantities FROM orders")
    assert row == [(900, 1_704_067_200_000_000, ["tea"], [2])]


def test_nul_is_stuffed_and_order_preserving() -> None:
    """Stuffing removes NUL, round-trips, and keeps code-point order (checked on all pairs)."""
    words = ["", "\x00", "\x00\x00", "\x00\x02", "\x01", "\x01\x00", "\x02", "a", "a\x00", "ab"]
    for w in words:
        assert "\x00" not in stuff(w)
        assert unstuff(stuff(w)) == w
    assert sorted(words, key=lambda w: stuff(w).encode()) == sorted(words)


def test_nul_in_ids_is_stored_without_nul(url: str) -> None:
    """An id with NUL comes back whole and the server holds the stuffed form."""
    with PostgresStore(url) as store:
        store.products.upsert([Product(product_id="a\x00b", name="x\x00y")])
        assert store.products.get("a\x00b").name == "x\x00y"
    assert _raw(url, "SELECT product_id FROM products") == [("a\x01\x01b",)]


def test_hostile_strings_are_data(url: str) -> None:
    """SQL fragments as ids and as text leave every table in place."""
    with PostgresStore(url) as store:
        store.products.upsert([Product(product_id=h, name=h) for h in cst.HOSTILE_STRINGS])
        assert store.products.count() == len(cst.HOSTILE_STRINGS)
        assert store.products.delete(["Robert'); DROP TABLE customers;--"]) == 1
        assert store.customers.count() == 0


def test_driver_errors_become_storage_errors() -> None:
    """An unreachable server raises a StorageError chained to the driver's error, picklable."""
    with pytest.raises(StorageError) as info:
        PostgresStore("postgresql://nobody@127.0.0.1:1/none", connect_timeout=1)
    assert isinstance(info.value.__cause__, psycopg.Error)
    assert pickle.loads(pickle.dumps(info.value)).args == info.value.args


def test_integers_beyond_64_bits_are_rejected_whole(url: str) -> None:
    """An amount bigint cannot hold raises InvalidInputError and the batch writes nothing."""
    big = Money(amount_minor=2**70, currency="EUR")
    huge = order("o2")
    huge = attrs.evolve(huge, lines=seq(attrs.evolve(huge.lines[0], unit_price=big)))
    with PostgresStore(url) as store:
        with pytest.raises(InvalidInputError, match=r"9\.2e18"):
            store.orders.upsert([order("o1"), huge])
        assert store.orders.count() == 0


def test_store_usable_after_a_failed_write_in_a_block(url: str) -> None:
    """A write the server rejects in a block rolls back alone (a savepoint); the block goes on."""
    big = Money(amount_minor=2**70, currency="EUR")
    huge = order("o2")
    huge = attrs.evolve(huge, lines=seq(attrs.evolve(huge.lines[0], unit_price=big)))
    with PostgresStore(url) as store:
        with store.transaction():
            store.products.upsert([Product(product_id="a", name="x")])
            with pytest.raises(InvalidInputError):
                store.orders.upsert([huge])
            store.products.upsert([Product(product_id="b", name="x")])
        assert sorted(store.products.get_many(["a", "b"])) == ["a", "b"]
        assert store.orders.count() == 0


def test_large_value_batches_go_through_copy(url: str) -> None:
    """A batch above the pipelined-insert size is staged by COPY and upserted set-based."""
    products = [Product(product_id=f"p{i:04d}", name=f"n{i}") for i in range(500)]
    with PostgresStore(url) as store:
        store.products.upsert(products)
        store.products.upsert([attrs.evolve(p, name="again") for p in products])
        assert store.products.count() == 500
        assert {
            p.name for p in store.products.get_many([p.product_id for p in products]).values()
        } == {"again"}


def test_url_forms_and_schema_names() -> None:
    """Other schemes and unsafe schema names are rejected before connecting."""
    with pytest.raises(InvalidInputError, match="PostgreSQL URL"):
        PostgresStore("sqlite:///x.db")
    with pytest.raises(InvalidInputError, match="schema"):
        PostgresStore('postgresql://u@h/db?schema=x";drop')
