"""The PostgreSQL schema as ordered migrations, recorded in the ``schema_version`` table.

Every table lives in the store's own schema (``crmkit`` unless the URL names another). Keys and
other strings are ``text COLLATE "C"`` (code-point order), times ``bigint`` microseconds since
1970-01-01 UTC, money ``bigint`` minor units, free-form values ``json``.
"""

from __future__ import annotations

import attrs

__all__ = ["INDEXES", "MIGRATIONS", "SCHEMA_VERSION", "TABLES", "Migration", "indexed_columns"]


@attrs.frozen(kw_only=True)
class Migration:
    """One step of the schema: a version, what it does, its statements (one transaction).

    Examples:
        >>> MIGRATIONS[0].version, MIGRATIONS[0].statements[0].split("(")[0]
        (1, 'CREATE TABLE customers ')
    """

    version: int
    description: str
    statements: tuple[str, ...]


_T = 'text COLLATE "C"'

#: Column definitions of each table (the primary key is the first column, or as stated).
TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "customers": (
        ("customer_id", f"{_T} PRIMARY KEY"),
        ("created_at", "bigint NOT NULL"),
        ("body", "json NOT NULL"),
    ),
    "source_records": (
        ("record_key", f"{_T} PRIMARY KEY"),
        ("observed_at", "bigint NOT NULL"),
        ("body", "json NOT NULL"),
    ),
    "products": (("product_id", f"{_T} PRIMARY KEY"), ("body", "json NOT NULL")),
    "orders": (
        ("order_id", f"{_T} PRIMARY KEY"),
        ("customer_id", f"{_T} NOT NULL"),
        ("placed_at", "bigint NOT NULL"),
        ("currency", f"{_T} NOT NULL"),
        ("total_minor", "bigint NOT NULL"),
        ("shipping_minor", "bigint"),
        ("tax_minor", "bigint"),
        ("status", f"{_T} NOT NULL"),
        ("channel", f"{_T} NOT NULL"),
        ("attributes", "json NOT NULL"),
        ("n_lines", "integer NOT NULL"),
        ("line_products", 'text[] COLLATE "C" NOT NULL'),
        ("line_quantities", "bigint[] NOT NULL"),
        ("line_unit_prices", "bigint[] NOT NULL"),
        ("line_discounts", "bigint[] NOT NULL"),
        ("line_categories", 'text[] COLLATE "C" NOT NULL'),
    ),
    "returns": (
        ("return_id", f"{_T} PRIMARY KEY"),
        ("order_id", f"{_T} NOT NULL"),
        ("customer_id", f"{_T} NOT NULL"),
        ("at", "bigint NOT NULL"),
        ("refund_minor", "bigint NOT NULL"),
        ("currency", f"{_T} NOT NULL"),
        ("reason", _T),
        ("lines", "json NOT NULL"),
    ),
    "events": (
        ("event_id", f"{_T} PRIMARY KEY"),
        ("customer_id", _T),
        ("anonymous_id", _T),
        ("type", f"{_T} NOT NULL"),
        ("at", "bigint NOT NULL"),
        ("properties", "json NOT NULL"),
    ),
    "consents": (
        ("consent_key", f"{_T} PRIMARY KEY"),
        ("customer_id", f"{_T} NOT NULL"),
        ("channel", f"{_T} NOT NULL"),
        ("purpose", f"{_T} NOT NULL"),
        ("status", f"{_T} NOT NULL"),
        ("at", "bigint NOT NULL"),
        ("source", _T),
        ("expires_at", "bigint"),
    ),
    "contacts": (
        ("contact_id", f"{_T} PRIMARY KEY"),
        ("campaign_id", f"{_T} NOT NULL"),
        ("customer_id", f"{_T} NOT NULL"),
        ("channel", f"{_T} NOT NULL"),
        ("at", "bigint NOT NULL"),
        ("outcome", f"{_T} NOT NULL"),
        ("variant", _T),
    ),
    "documents": (
        ("collection", f"{_T} NOT NULL"),
        ("key", f"{_T} NOT NULL"),
        ("customer_id", _T),
        ("at", "bigint"),
        ("body", "json NOT NULL"),
    ),
}

#: Primary keys that are not the first column alone.
PRIMARY_KEYS: dict[str, tuple[str, ...]] = {"documents": ("collection", "key")}

#: Secondary indexes by table.
INDEXES: dict[str, tuple[tuple[str, str], ...]] = {
    "customers": (("customers_by_time", "customers (created_at, customer_id)"),),
    "source_records": (("source_records_by_time", "source_records (observed_at, record_key)"),),
    "orders": (
        ("orders_by_time", "orders (placed_at, order_id)"),
        ("orders_by_customer", "orders (customer_id, placed_at, order_id)"),
    ),
    "returns": (
        ("returns_by_time", "returns (at, return_id)"),
        ("returns_by_customer", "returns (customer_id, at, return_id)"),
        ("returns_by_order", "returns (order_id, at, return_id)"),
    ),
    "events": (
        ("events_by_time", "events (at, event_id)"),
        ("events_by_customer", "events (customer_id, at, event_id)"),
    ),
    "consents": (
        ("consents_by_time", "consents (at, consent_key)"),
        ("consents_by_customer", "consents (customer_id, at, consent_key)"),
    ),
    "contacts": (
        ("contacts_by_time", "contacts (at, contact_id)"),
        ("contacts_by_customer", "contacts (customer_id, at, contact_id)"),
    ),
    "documents": (
        ("documents_by_time", "documents (collection, at, key)"),
        ("documents_by_customer", "documents (customer_id, collection, at, key)"),
    ),
}


def primary_key(table: str) -> tuple[str, ...]:
    """The primary-key columns of a table."""
    return PRIMARY_KEYS.get(table, (TABLES[table][0][0],))


def indexed_columns(table: str) -> tuple[str, ...]:
    """The columns a secondary index of ``table`` starts with or holds, each once.

    Examples:
        >>> indexed_columns("orders")
        ('placed_at', 'order_id', 'customer_id')
    """
    found = (c.strip() for _, on in INDEXES[table] for c in on.partition("(")[2][:-1].split(","))
    return tuple(dict.fromkeys(found))


def _create(table: str) -> str:
    columns = [f"{name} {kind}" for name, kind in TABLES[table]]
    if table in PRIMARY_KEYS:
        columns.append(f"PRIMARY KEY ({', '.join(PRIMARY_KEYS[table])})")
    return f"CREATE TABLE {table} ({', '.join(columns)})"


_V1 = tuple(_create(t) for t in TABLES) + tuple(
    f"CREATE INDEX {name} ON {on}" for table in INDEXES for name, on in INDEXES[table]
)

#: The migrations, in order. Append new ones; never edit a released one.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        version=1,
        description="collections of the foundation: customers to contacts, and documents",
        statements=_V1,
    ),
)

#: The schema version this release writes.
SCHEMA_VERSION = MIGRATIONS[-1].version

#: The table that records applied migrations.
VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, "
    "applied_at bigint NOT NULL, description text NOT NULL)"
)
