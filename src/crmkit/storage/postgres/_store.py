"""The PostgreSQL store: one schema, a versioned layout, serialized write blocks, mapped errors."""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import errors as pgerr
from psycopg import sql

from crmkit.errors import (
    ConflictError,
    IntegrityError,
    InvalidInputError,
    SchemaError,
    StorageError,
)
from crmkit.storage._batch import check_key
from crmkit.storage._capabilities import Capabilities
from crmkit.storage._page import ErasureReport, erasure_pseudonym
from crmkit.storage._spec import CollectionSpec
from crmkit.storage.postgres._codecs import CODECS, s
from crmkit.storage.postgres._collections import (
    PostgresCollection,
    PostgresConsents,
    PostgresContacts,
    PostgresDocuments,
    PostgresEvents,
    PostgresOrders,
    PostgresReturns,
    PostgresSourceRecords,
)
from crmkit.storage.postgres._columnar import copy_binary
from crmkit.storage.postgres._schema import (
    INDEXES,
    MIGRATIONS,
    SCHEMA_VERSION,
    TABLES,
    VERSION_TABLE,
    indexed_columns,
    primary_key,
)

__all__ = ["PostgresStore"]

log = logging.getLogger("crmkit.storage")

V = TypeVar("V")

#: Batches of at most this many rows are written with one pipelined INSERT; larger ones by COPY.
SMALL_BATCH = 64

#: A columnar batch of at least this many rows into an empty table is copied straight in.
BULK_LOAD_ROWS = 50_000

#: ``maintenance_work_mem`` for the index builds after a bulk load (this transaction only).
BULK_INDEX_MEMORY = "256MB"

_SCHEMA = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def _lock_key(text: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``text``."""
    return int.from_bytes(
        hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True
    )


def _split_url(url: str, schema: str | None) -> tuple[str, str, str]:
    """``(url, conninfo, schema)``: crmkit's ``schema`` query parameter taken out of the URL."""
    if not isinstance(url, str):
        raise InvalidInputError(f"url: expected a string (got {type(url).__name__}).")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("postgresql", "postgres"):
        raise InvalidInputError(
            f"url: {url!r:.120} is not a PostgreSQL URL. Use "
            "'postgresql://user@host:5432/database?schema=crmkit'."
        )
    query = parse_qsl(parts.query, keep_blank_values=True)
    named = [v for k, v in query if k == "schema"]
    rest = [(k, v) for k, v in query if k != "schema"]
    chosen = schema if schema is not None else (named[-1] if named else "crmkit")
    if not isinstance(chosen, str) or not _SCHEMA.match(chosen):
        raise InvalidInputError(
            f"schema: {chosen!r:.80} is not a plain PostgreSQL identifier (letters, digits and "
            "'_', at most 63). Pick a name such as 'crmkit'."
        )
    conninfo = urlunsplit(parts._replace(query=urlencode(rest)))
    full = urlunsplit(parts._replace(query=urlencode([*rest, ("schema", chosen)])))
    return full, conninfo, chosen


class PostgresStore:
    """A store in one schema of a PostgreSQL database (``postgresql://...?schema=crmkit``).

    The URL is a libpq URL plus an optional ``schema`` parameter (default ``crmkit``); each
    schema is a separate store. On first connect the schema and its tables are created and
    migrations are applied (``migrate=False`` refuses a database that is not up to date instead;
    then call [`migrate`][crmkit.storage.postgres.PostgresStore.migrate]).

    Every outermost ``transaction()`` block (and so every upsert, delete and erase outside one)
    takes a transaction-scoped advisory lock of the schema: write blocks of all processes run
    one after another, so a read-modify-write inside a block never loses a concurrent write.
    Reads outside blocks run at once. Batches are written with ``COPY`` into a temporary table
    and one ``INSERT ... ON CONFLICT DO UPDATE`` (columnar batches as binary ``COPY``); columnar
    scans aggregate each column of a chunk into one value on the server.
    Driver errors are re-raised as ``StorageError`` subclasses ``from`` the cause.

    Args:
        url: ``postgresql://user:password@host:port/database?schema=name`` (any libpq URL
            parameter works, e.g. ``host=/var/run/postgresql`` for the Unix socket).
        schema: the schema to use (overrides the URL's ``schema``).
        migrate: create or upgrade the schema on connect (default) or refuse an old one.
        timeout: seconds to wait for another writer's lock before ``ConflictError``.
        connect_timeout: seconds to wait for the server.

    Examples:
        >>> from crmkit.storage.postgres._testing import server_url
        >>> url = server_url()  # a fresh schema of the test server
        >>> with PostgresStore(url) as store:
        ...     store.capabilities.multi_process, store.orders.count()
        ...     store.drop_schema()
        (True, 0)
    """

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        migrate: bool = True,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
    ) -> None:
        self._url, conninfo, self._schema = _split_url(url, schema)
        self._where = f"{urlsplit(conninfo).hostname or 'local socket'}/{self._schema}"
        self._lock = threading.RLock()
        self._depth = 0
        self._closed = True
        self._write_key = _lock_key(f"crmkit.write:{self._schema}")
        with self._errors():
            self._con = psycopg.connect(
                conninfo,
                autocommit=True,
                connect_timeout=max(1, round(connect_timeout)),
                client_encoding="utf8",
            )
        self._closed = False
        try:
            with self._errors():
                self._con.execute(
                    sql.SQL("SET search_path TO {}").format(sql.Identifier(self._schema))
                )
                self._con.execute(f"SET lock_timeout = {int(timeout * 1000)}")
                self._con.execute("SET client_min_messages = warning")
            if migrate:
                self.migrate()
            elif (found := self.schema_version()) != SCHEMA_VERSION:
                raise SchemaError(
                    f"{self._where}: schema version {found}, this crmkit needs "
                    f"{SCHEMA_VERSION}. Call store.migrate() or connect with migrate=True."
                )
        except BaseException:
            self.close()
            raise
        self.customers = PostgresCollection(self, CODECS["customers"])
        self.source_records = PostgresSourceRecords(self, CODECS["source_records"])
        self.products = PostgresCollection(self, CODECS["products"])
        self.orders = PostgresOrders(self, CODECS["orders"])
        self.returns = PostgresReturns(self, CODECS["returns"])
        self.events = PostgresEvents(self, CODECS["events"])
        self.consents = PostgresConsents(self, CODECS["consents"])
        self.contacts = PostgresContacts(self, CODECS["contacts"])
        self._documents: dict[str, PostgresDocuments[Any]] = {}

    @property
    def url(self) -> str:
        """The URL with the schema; ``connect(store.url)`` opens the same store again."""
        return self._url

    @property
    def schema(self) -> str:
        """The PostgreSQL schema holding the store's tables."""
        return self._schema

    @property
    def capabilities(self) -> Capabilities:
        """Persistent and shared by processes; no integrity check (PostgreSQL checks itself)."""
        return Capabilities(persistent=True, multi_process=True, integrity_check=False)

    def collection(self, spec: CollectionSpec[V]) -> PostgresDocuments[V]:
        """The module collection declared by ``spec``, kept as JSON documents.

        Examples:
            >>> from crmkit.model import Product
            >>> from crmkit.storage.postgres._testing import server_url
            >>> spec = CollectionSpec(name="demo.items", value_type=Product,
            ...                       key=lambda p: p.product_id)
            >>> with PostgresStore(server_url()) as store:
            ...     store.collection(spec).count()
            ...     store.drop_schema()
            0
        """
        with self._lock:
            found = self._documents.get(spec.name)
            if found is None:
                found = self._documents[spec.name] = PostgresDocuments(self, spec)
            elif found.spec != spec:
                raise InvalidInputError(
                    f"spec: collection {spec.name!r} is already open with another spec. "
                    "Declare each collection once, at module level."
                )
            return found

    # -- schema ------------------------------------------------------------------------------
    def schema_version(self) -> int:
        """The schema version recorded in the database (0 before the first migration).

        Examples:
            >>> from crmkit.storage.postgres import SCHEMA_VERSION
            >>> from crmkit.storage.postgres._testing import server_url
            >>> with PostgresStore(server_url()) as store:
            ...     store.schema_version() == SCHEMA_VERSION
            ...     store.drop_schema()
            True
        """
        rows = self._fetch("SELECT to_regclass('schema_version') IS NOT NULL")
        if not rows[0][0]:
            return 0
        return int(self._fetch("SELECT coalesce(max(version), 0) FROM schema_version")[0][0])

    def migrate(self) -> int:
        """Apply the migrations the schema lacks, in order, one transaction each; the version.

        Concurrent callers serialize on an advisory lock and re-read the version under it, so
        each migration runs once. A schema newer than this release raises ``SchemaError``.

        Examples:
            >>> from crmkit.storage.postgres._testing import server_url
            >>> url = server_url()
            >>> PostgresStore(url, migrate=False)
            Traceback (most recent call last):
            ...
            crmkit.errors.SchemaError: ...: schema version 0, this crmkit needs 1. Call ...
            >>> with PostgresStore(url) as store:  # migrates on connect
            ...     store.schema_version(), store.migrate()
            ...     store.drop_schema()
            (1, 1)
        """
        if self.schema_version() == SCHEMA_VERSION:
            return SCHEMA_VERSION
        key = _lock_key(f"crmkit.migrate:{self._schema}")
        ident = sql.Identifier(self._schema)
        for step in MIGRATIONS:
            with self._lock, self._plain_transaction() as con:
                con.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
                con.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(ident))
                con.execute(VERSION_TABLE)
                row = con.execute("SELECT coalesce(max(version), 0) FROM schema_version")
                current = int(row.fetchone()[0])  # type: ignore[index]
                if current > SCHEMA_VERSION:
                    raise SchemaError(
                        f"{self._where}: schema version {current} is newer than this crmkit's "
                        f"{SCHEMA_VERSION}. Upgrade crmkit to open it."
                    )
                if step.version > current:
                    for statement in step.statements:
                        con.execute(statement)
                    con.execute(
                        "INSERT INTO schema_version (version, applied_at, description) "
                        "VALUES (%s, %s, %s)",
                        (step.version, time.time_ns() // 1000, step.description),
                    )
                    log.info("%s: applied migration %d", self._where, step.version)
        return SCHEMA_VERSION

    def drop_schema(self) -> None:
        """Drop the store's schema with every table in it, then close the store.

        For tests and scratch stores; the data is gone for every process.

        Examples:
            >>> from crmkit.storage.postgres._testing import server_url
            >>> store = PostgresStore(server_url())
            >>> store.drop_schema()
            >>> store.orders.count()
            Traceback (most recent call last):
            ...
            crmkit.errors.StorageError: ...: store closed. ...
        """
        with self._lock, self._errors():
            con = self._open()
            con.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self._schema))
            )
        self.close()

    # -- driver access -----------------------------------------------------------------------
    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as exc:
            raise _mapped(self._where, exc) from exc
        except UnicodeEncodeError as exc:
            raise InvalidInputError(
                f"{self._where}: text that is not valid Unicode ({exc.reason}, e.g. a lone "
                "surrogate). Pass valid strings."
            ) from exc

    def _open(self) -> psycopg.Connection[Any]:
        if self._closed:
            raise StorageError(
                f"{self._where}: store closed. Open it again with crmkit.connect(url)."
            )
        return self._con

    @contextmanager
    def _plain_transaction(self) -> Iterator[psycopg.Connection[Any]]:
        con = self._open()
        with self._errors():
            con.execute("BEGIN")
        try:
            with self._errors():
                yield con
        except BaseException:
            with suppress(psycopg.Error):
                con.execute("ROLLBACK")
            raise
        with self._errors():
            con.execute("COMMIT")

    def _fetch(self, query: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock, self._errors():
            return self._open().execute(query, params).fetchall()

    def _execute(self, query: str, params: Sequence[Any] = ()) -> int:
        with self._lock, self._errors():
            return self._open().execute(query, params).rowcount

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        """Reads inside see one snapshot (a read-only repeatable-read block, unless in one)."""
        with self._lock:
            if self._depth:
                yield
                return
            with self._errors():
                self._open().execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                with self._errors():
                    self._con.execute("COMMIT")

    def _aggregate(self, query: str, params: Sequence[Any] = ()) -> tuple[Any, ...]:
        """The one row of an aggregating query, fetched in binary (bytea comes as bytes)."""
        with self._lock, self._errors():
            cur = self._open().cursor(binary=True)
            row = cur.execute(query, params).fetchone()
            return tuple(row) if row is not None else ()

    def _upsert(
        self,
        table: str,
        rows: Sequence[Sequence[Any]] = (),
        *,
        payload: Iterable[bytes] | None = None,
        count: int = 0,
        payload_columns: Sequence[str] = (),
    ) -> None:
        """Write rows (or a binary COPY payload of ``count`` rows), replacing rows with their keys.

        A small batch is one pipelined ``INSERT ... ON CONFLICT``. A larger one is copied into
        a temporary table and merged with one ``INSERT ... SELECT ... ON CONFLICT DO UPDATE``.
        A payload (binary COPY tuples of ``payload_columns``, without the stream's header and
        trailer) of at least ``BULK_LOAD_ROWS`` rows into an empty table (its keys are unique,
        checked before) is copied straight in, its secondary indexes rebuilt after the load.
        """
        columns = [name for name, _ in TABLES[table]]
        copied = ", ".join(payload_columns) if payload is not None else ", ".join(columns)
        keys = primary_key(table)
        names = ", ".join(columns)
        update = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in keys)
        conflict = f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {update}"
        with self.transaction(), self._errors():
            cur = self._open().cursor()
            if payload is None and len(rows) <= SMALL_BATCH:
                if rows:
                    marks = ", ".join(["%s"] * len(columns))
                    cur.executemany(
                        f"INSERT INTO {table} ({names}) VALUES ({marks}) {conflict}", rows
                    )
                return
            if payload is not None and count >= BULK_LOAD_ROWS:
                row = cur.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {table})").fetchone()
                if row is not None and row[0]:
                    self._bulk_load(cur, table, copied, payload)
                    return
            # A temporary table of this connection, created on first use (in this block: if
            # the block rolls back, so does the creation, and the next batch creates it again).
            stage = f"crmkit_stage_{table}"
            cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table})")
            if payload is not None:
                copy_binary(cur, stage, copied, payload)
            else:
                with cur.copy(f"COPY {stage} ({names}) FROM STDIN") as copy:
                    for r in rows:
                        copy.write_row(r)
            cur.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage} {conflict}")
            cur.execute(f"TRUNCATE {stage}")

    def _bulk_load(
        self, cur: psycopg.Cursor[Any], table: str, names: str, payload: Iterable[bytes]
    ) -> None:
        # Inside the write lock, so the table stays empty until the copy; an index is cheaper
        # to build once over sorted data than to grow row by row.
        for name, _ in INDEXES[table]:
            cur.execute(f"DROP INDEX {name}")
        copy_binary(cur, table, names, payload)
        cur.execute(f"SET LOCAL maintenance_work_mem = '{BULK_INDEX_MEMORY}'")
        for name, on in INDEXES[table]:
            cur.execute(f"CREATE INDEX {name} ON {on}")
        # Statistics of the indexed columns now, not when autovacuum comes by: without them the
        # planner sorts the table for every chunk of a scan instead of walking an index.
        cur.execute(f"ANALYZE {table} ({', '.join(indexed_columns(table))})")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A block whose writes all happen or none do; an inner block is a savepoint.

        The outermost block takes the schema's write lock (an advisory lock held until the
        block ends), so write blocks of all processes run one at a time; the thread holds the
        store until the block ends.

        Examples:
            >>> from crmkit.model import Product
            >>> from crmkit.storage.postgres._testing import server_url
            >>> store = PostgresStore(server_url())
            >>> with store.transaction():
            ...     _ = store.products.upsert([Product(product_id="p", name="Tea")])
            ...     try:
            ...         with store.transaction():
            ...             _ = store.products.upsert([Product(product_id="q", name="Jam")])
            ...             raise RuntimeError("inner block fails")
            ...     except RuntimeError:
            ...         pass
            >>> sorted(store.products.get_many(["p", "q"]))
            ['p']
            >>> store.drop_schema()
        """
        with self._lock:
            con = self._open()
            depth = self._depth
            with self._errors():
                if depth == 0:
                    con.execute("BEGIN")
                    try:
                        con.execute("SELECT pg_advisory_xact_lock(%s)", (self._write_key,))
                    except BaseException:
                        with suppress(psycopg.Error):
                            con.execute("ROLLBACK")
                        raise
                else:
                    con.execute(f"SAVEPOINT s{depth}")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                with suppress(psycopg.Error):
                    if depth == 0:
                        con.execute("ROLLBACK")
                    else:
                        con.execute(f"ROLLBACK TO SAVEPOINT s{depth}")
                        con.execute(f"RELEASE SAVEPOINT s{depth}")
                raise
            self._depth -= 1
            try:
                with self._errors():
                    con.execute("COMMIT" if depth == 0 else f"RELEASE SAVEPOINT s{depth}")
            except BaseException:
                if depth == 0:
                    with suppress(psycopg.Error):
                        con.execute("ROLLBACK")
                raise

    def erase(
        self,
        customer_id: str,
        *,
        source_record_keys: Iterable[str] = (),
        pseudonym: str | None = None,
    ) -> ErasureReport:
        """Remove a customer's personal data from every collection (see the storage guide).

        Examples:
            >>> import datetime as dt
            >>> from crmkit.model import Customer
            >>> from crmkit.storage.postgres._testing import server_url
            >>> store = PostgresStore(server_url())
            >>> _ = store.customers.upsert([Customer(customer_id="c-1",
            ...     created_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))])
            >>> store.erase("c-1").deleted["customers"]
            1
            >>> store.drop_schema()
        """
        check_key("customer_id", customer_id)
        alias = pseudonym or erasure_pseudonym()
        check_key("pseudonym", alias)
        keys = [check_key("source_record_keys", k) for k in source_record_keys]
        deleted: dict[str, int] = {}
        renamed: dict[str, int] = {}
        cid, new = s(customer_id), s(alias)
        with self.transaction():
            profile = self.customers.find(customer_id)
            if profile is not None:
                keys += [i.value for i in profile.identifiers if i.kind == "source_record"]
            deleted["customers"] = self.customers.delete([customer_id])
            deleted["source_records"] = self.source_records.delete(keys)
            for table in ("events", "consents"):
                deleted[table] = self._execute(
                    f"DELETE FROM {table} WHERE customer_id = %s", (cid,)
                )
            for name, n in self._fetch(
                "WITH gone AS (DELETE FROM documents WHERE customer_id = %s RETURNING collection) "
                "SELECT collection, count(*) FROM gone GROUP BY collection ORDER BY collection",
                (cid,),
            ):
                deleted[name] = int(n)
            renamed["orders"] = self._execute(
                "UPDATE orders SET customer_id = %s, attributes = '{}' WHERE customer_id = %s",
                (new, cid),
            )
            renamed["returns"] = self._execute(
                "UPDATE returns SET customer_id = %s, reason = NULL WHERE customer_id = %s",
                (new, cid),
            )
            renamed["contacts"] = self._execute(
                "UPDATE contacts SET customer_id = %s WHERE customer_id = %s", (new, cid)
            )
        return ErasureReport(
            customer_id=customer_id, pseudonym=alias, deleted=deleted, pseudonymized=renamed
        )

    def close(self) -> None:
        """Close the connection (an open block is rolled back by the server)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                with suppress(psycopg.Error):
                    self._con.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PostgresStore({self._url!r})"


def _mapped(where: str, exc: psycopg.Error) -> StorageError | InvalidInputError:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(
        exc,
        pgerr.SerializationFailure
        | pgerr.DeadlockDetected
        | pgerr.LockNotAvailable
        | pgerr.QueryCanceled,
    ):
        return ConflictError(
            f"{where}: another writer held the store too long or conflicted ({text}). Retry, "
            "or raise the timeout."
        )
    if isinstance(exc, psycopg.IntegrityError):
        return ConflictError(f"{where}: constraint failed ({text}). Check the keys written.")
    if isinstance(exc, pgerr.UndefinedTable | pgerr.UndefinedColumn | pgerr.InvalidSchemaName):
        return SchemaError(f"{where}: schema mismatch ({text}). Was it made by crmkit?")
    if isinstance(exc, pgerr.DataCorrupted | pgerr.IndexCorrupted):
        return IntegrityError(f"{where}: damaged data ({text}). Restore from a backup.")
    if isinstance(exc, psycopg.DataError):
        return InvalidInputError(
            f"{where}: a value PostgreSQL cannot hold ({text}). Keep amounts and counts "
            "within ±9.2e18 and text valid."
        )
    if isinstance(exc, psycopg.OperationalError):
        return StorageError(f"{where}: cannot use the server ({text}). Check it runs and the URL.")
    return StorageError(f"{where}: PostgreSQL failed ({type(exc).__name__}: {text}).")
