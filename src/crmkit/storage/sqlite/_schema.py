"""The SQLite schema as an ordered list of migrations, recorded in the ``schema_version`` table."""

from __future__ import annotations

import sqlite3
import time

import attrs

from crmkit.errors import SchemaError

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Migration", "migrate", "schema_version"]


@attrs.frozen(kw_only=True)
class Migration:
    """One step of the schema: a version, what it does, and its statements (run in one transaction).

    Examples:
        >>> MIGRATIONS[0].version
        1
    """

    version: int
    description: str
    statements: tuple[str, ...]


#: The secondary indexes of schema version 1 (frozen: migration 1 creates exactly these).
_V1_INDEXES: dict[str, tuple[tuple[str, str], ...]] = {
    "customers": (("customers_by_time", "customers(created_at, customer_id)"),),
    "source_records": (("source_records_by_time", "source_records(observed_at, record_key)"),),
    "orders": (
        ("orders_by_time", "orders(placed_at, order_id)"),
        ("orders_by_customer", "orders(customer_id, placed_at, order_id)"),
    ),
    "returns": (
        ("returns_by_time", "returns(at, return_id)"),
        ("returns_by_customer", "returns(customer_id, at, return_id)"),
        ("returns_by_order", "returns(order_id, at, return_id)"),
    ),
    "events": (
        ("events_by_time", "events(at, event_id)"),
        ("events_by_customer", "events(customer_id, at, event_id)"),
    ),
    "consents": (
        ("consents_by_time", "consents(at, consent_key)"),
        ("consents_by_customer", "consents(customer_id, at, consent_key)"),
    ),
    "contacts": (
        ("contacts_by_time", "contacts(at, contact_id)"),
        ("contacts_by_customer", "contacts(customer_id, at, contact_id)"),
    ),
    "documents": (
        ("documents_by_time", "documents(collection, at, key)"),
        ("documents_by_customer", "documents(customer_id, collection, at, key)"),
    ),
}


#: Indexes added by later migrations, by table.
_LATER_INDEXES: dict[str, tuple[tuple[str, str], ...]] = {
    "orders": (("orders_by_line_block", "orders(line_block) WHERE line_block IS NOT NULL"),),
}

#: Secondary indexes by table; a bulk load into an empty table drops and rebuilds them.
INDEXES: dict[str, tuple[tuple[str, str], ...]] = {
    t: _V1_INDEXES.get(t, ()) + _LATER_INDEXES.get(t, ()) for t in {**_V1_INDEXES, **_LATER_INDEXES}
}


def index_sql(table: str, indexes: dict[str, tuple[tuple[str, str], ...]] = INDEXES) -> list[str]:
    """The CREATE INDEX statements of a table."""
    return [f"CREATE INDEX IF NOT EXISTS {name} ON {on}" for name, on in indexes.get(table, ())]


_V1_TABLES = (
    """CREATE TABLE customers (
        customer_id TEXT PRIMARY KEY NOT NULL,
        created_at INTEGER NOT NULL,
        body TEXT NOT NULL)""",
    """CREATE TABLE source_records (
        record_key TEXT PRIMARY KEY NOT NULL,
        observed_at INTEGER NOT NULL,
        body TEXT NOT NULL)""",
    """CREATE TABLE products (
        product_id TEXT PRIMARY KEY NOT NULL,
        body TEXT NOT NULL)""",
    """CREATE TABLE orders (
        order_id TEXT PRIMARY KEY NOT NULL,
        customer_id TEXT NOT NULL,
        placed_at INTEGER NOT NULL,
        currency TEXT NOT NULL,
        total_minor INTEGER NOT NULL,
        shipping_minor INTEGER,
        tax_minor INTEGER,
        status TEXT NOT NULL,
        channel TEXT NOT NULL,
        attributes TEXT NOT NULL,
        n_lines INTEGER NOT NULL,
        line_products TEXT NOT NULL,
        line_quantities TEXT NOT NULL,
        line_unit_prices TEXT NOT NULL,
        line_discounts TEXT NOT NULL,
        line_categories TEXT NOT NULL)""",
    """CREATE TABLE returns (
        return_id TEXT PRIMARY KEY NOT NULL,
        order_id TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        at INTEGER NOT NULL,
        refund_minor INTEGER NOT NULL,
        currency TEXT NOT NULL,
        reason TEXT,
        lines TEXT NOT NULL)""",
    """CREATE TABLE events (
        event_id TEXT PRIMARY KEY NOT NULL,
        customer_id TEXT,
        anonymous_id TEXT,
        type TEXT NOT NULL,
        at INTEGER NOT NULL,
        properties TEXT NOT NULL)""",
    """CREATE TABLE consents (
        consent_key TEXT PRIMARY KEY NOT NULL,
        customer_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        purpose TEXT NOT NULL,
        status TEXT NOT NULL,
        at INTEGER NOT NULL,
        source TEXT,
        expires_at INTEGER)""",
    """CREATE TABLE contacts (
        contact_id TEXT PRIMARY KEY NOT NULL,
        campaign_id TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        at INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        variant TEXT)""",
    """CREATE TABLE documents (
        collection TEXT NOT NULL,
        key TEXT NOT NULL,
        customer_id TEXT,
        at INTEGER,
        body TEXT NOT NULL,
        PRIMARY KEY (collection, key)) WITHOUT ROWID""",
)

_V2_COLUMN_CACHE = (
    """CREATE TABLE collection_versions (
        collection TEXT PRIMARY KEY NOT NULL,
        version INTEGER NOT NULL) WITHOUT ROWID""",
    "INSERT INTO collection_versions (collection, version) VALUES ('orders', 0), ('events', 0)",
    """CREATE TABLE column_cache (
        entry TEXT NOT NULL,
        segment INTEGER NOT NULL,
        part TEXT NOT NULL,
        chunk INTEGER NOT NULL,
        version INTEGER NOT NULL,
        lo INTEGER NOT NULL,
        hi INTEGER NOT NULL,
        encoding TEXT NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (entry, segment, part, chunk))""",
    """CREATE TABLE line_blocks (
        block_id INTEGER PRIMARY KEY,
        n_lines INTEGER NOT NULL,
        dtypes TEXT NOT NULL,
        product_id BLOB NOT NULL,
        quantity BLOB NOT NULL,
        unit_price_minor BLOB NOT NULL,
        discount_minor BLOB NOT NULL,
        category BLOB NOT NULL)""",
    "ALTER TABLE orders ADD COLUMN line_block INTEGER",
    "ALTER TABLE orders ADD COLUMN line_offset INTEGER",
    *index_sql("orders", _LATER_INDEXES),
)

#: The migrations, in order. Append new ones; never edit a released one.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        version=1,
        description="collections of the foundation: customers to contacts, and documents",
        statements=_V1_TABLES + tuple(s for t in _V1_INDEXES for s in index_sql(t, _V1_INDEXES)),
    ),
    Migration(
        version=2,
        description="columnar scan cache tied to collection versions; line blocks of bulk orders",
        statements=_V2_COLUMN_CACHE,
    ),
)

#: The schema version this release writes.
SCHEMA_VERSION = MIGRATIONS[-1].version


def schema_version(con: sqlite3.Connection) -> int:
    """The version recorded in the database (0 for a new file)."""
    row = con.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if row is None:
        return 0
    found = con.execute("SELECT max(version) FROM schema_version").fetchone()[0]
    return int(found or 0)


def migrate(con: sqlite3.Connection, path: str) -> int:
    """Bring the database up to ``SCHEMA_VERSION``, one migration per transaction.

    Concurrent openers serialize on ``BEGIN IMMEDIATE`` and re-read the version inside it, so a
    migration runs once. A database newer than this release raises ``SchemaError``.
    """
    if schema_version(con) == SCHEMA_VERSION:
        return SCHEMA_VERSION
    for step in MIGRATIONS:
        con.execute("BEGIN IMMEDIATE")
        try:
            con.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY NOT NULL, "
                "applied_at INTEGER NOT NULL, description TEXT NOT NULL)"
            )
            current = schema_version(con)
            if current > SCHEMA_VERSION:
                raise SchemaError(
                    f"{path}: schema version {current} is newer than this crmkit's "
                    f"{SCHEMA_VERSION}. Upgrade crmkit to open it."
                )
            if step.version > current:
                for statement in step.statements:
                    con.execute(statement)
                con.execute(
                    "INSERT INTO schema_version (version, applied_at, description) "
                    "VALUES (?, ?, ?)",
                    (step.version, time.time_ns() // 1000, step.description),
                )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return SCHEMA_VERSION
