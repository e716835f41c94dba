"""The SQLite store: one file, WAL, a versioned schema, serialized writers, mapped errors."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import unquote

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
from crmkit.storage.sqlite import _bulk, _cache
from crmkit.storage.sqlite._codecs import CODECS
from crmkit.storage.sqlite._collections import (
    SQLiteCollection,
    SQLiteConsents,
    SQLiteContacts,
    SQLiteDocuments,
    SQLiteEvents,
    SQLiteReturns,
    SQLiteSourceRecords,
)
from crmkit.storage.sqlite._orders import SQLiteOrders
from crmkit.storage.sqlite._schema import INDEXES, index_sql, migrate

__all__ = ["SQLiteStore"]

log = logging.getLogger("crmkit.storage")

V = TypeVar("V")
R = TypeVar("R")

#: A bulk load of at least this many rows into an empty table rebuilds its indexes afterwards.
BULK_REINDEX_ROWS = 50_000


def _path_of(url_or_path: str | os.PathLike[str]) -> str:
    text = os.fspath(url_or_path)
    if "://" not in text:
        return text
    scheme, _, rest = text.partition("://")
    if scheme.lower() != "sqlite" or not rest.startswith("/") or rest == "/":
        raise InvalidInputError(
            f"url: {text!r} is not an SQLite URL. Use 'sqlite:///relative/path.db' or "
            "'sqlite:////absolute/path.db'."
        )
    return unquote(rest[1:].partition("?")[0])


class SQLiteStore:
    """The embedded default store (``sqlite:///path``): one SQLite file in WAL mode.

    Writers take the database lock up front (``BEGIN IMMEDIATE``) and wait up to ``timeout``
    seconds for another writer, so processes writing at once lose nothing. Money is stored as
    integer minor units and times as integer microseconds since the epoch (UTC), so both come back
    exactly. Driver errors are re-raised as ``StorageError`` subclasses ``from`` the cause.

    Args:
        url: ``sqlite:///relative.db``, ``sqlite:////absolute.db`` or a plain path.
        timeout: seconds to wait for another process's write lock before ``ConflictError``.
        synchronous: SQLite's ``synchronous`` pragma: ``"NORMAL"`` (default; survives a crashed
            process, may lose the last commits on power loss) or ``"FULL"``.

    Examples:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "shop.db"
        >>> with SQLiteStore(f"sqlite:///{path}") as store:
        ...     store.capabilities.multi_process
        True
    """

    def __init__(
        self,
        url: str | os.PathLike[str],
        *,
        timeout: float = 30.0,
        synchronous: str = "NORMAL",
    ) -> None:
        path = _path_of(url)
        if synchronous not in ("NORMAL", "FULL"):
            raise InvalidInputError(
                f"synchronous: {synchronous!r} is not 'NORMAL' or 'FULL'. Pick one of them."
            )
        self._path = path
        self._url = os.fspath(url) if "://" in os.fspath(url) else f"sqlite:///{path}"
        self._lock = threading.RLock()
        self._depth = 0
        self._closed = False
        self._restart_wal = False
        with self._errors():
            self._con = sqlite3.connect(
                path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
            self._busy_ms = int(timeout * 1000)
            self._con.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
            mode = self._con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StorageError(f"{path}: cannot switch to WAL (journal mode {mode}).")
            self._con.execute(f"PRAGMA synchronous = {synchronous}")
            self._con.execute("PRAGMA foreign_keys = ON")
            # Scans of millions of rows: a larger page cache, memory-mapped reads, sorts in RAM.
            self._con.execute("PRAGMA cache_size = -131072")
            self._con.execute("PRAGMA mmap_size = 1073741824")
            self._con.execute("PRAGMA temp_store = MEMORY")
            migrate(self._con, path)
        self.customers = SQLiteCollection(self, CODECS["customers"])
        self.source_records = SQLiteSourceRecords(self, CODECS["source_records"])
        self.products = SQLiteCollection(self, CODECS["products"])
        self.orders = SQLiteOrders(self, CODECS["orders"])
        self.returns = SQLiteReturns(self, CODECS["returns"])
        self.events = SQLiteEvents(self, CODECS["events"])
        self.consents = SQLiteConsents(self, CODECS["consents"])
        self.contacts = SQLiteContacts(self, CODECS["contacts"])
        self._documents: dict[str, SQLiteDocuments[Any]] = {}

    @property
    def url(self) -> str:
        """The URL of the file; ``connect(store.url)`` opens it again."""
        return self._url

    @property
    def path(self) -> str:
        """The database file."""
        return self._path

    @property
    def capabilities(self) -> Capabilities:
        """Persistent, shared by processes, integrity-checked; everything else too."""
        return Capabilities(persistent=True, multi_process=True, integrity_check=True)

    def collection(self, spec: CollectionSpec[V]) -> SQLiteDocuments[V]:
        """The module collection declared by ``spec``, kept as JSON documents.

        Examples:
            >>> import tempfile, pathlib
            >>> from crmkit.model import Product
            >>> spec = CollectionSpec(name="demo.items", value_type=Product,
            ...                       key=lambda p: p.product_id)
            >>> store = SQLiteStore(pathlib.Path(tempfile.mkdtemp()) / "s.db")
            >>> store.collection(spec).count()
            0
            >>> store.close()
        """
        with self._lock:
            found = self._documents.get(spec.name)
            if found is None:
                found = self._documents[spec.name] = SQLiteDocuments(self, spec)
            elif found.spec != spec:
                raise InvalidInputError(
                    f"spec: collection {spec.name!r} is already open with another spec. "
                    "Declare each collection once, at module level."
                )
            return found

    # -- driver access -----------------------------------------------------------------------
    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise _mapped(self._path, exc) from exc
        except OverflowError as exc:
            raise InvalidInputError(
                f"{self._path}: an integer does not fit SQLite's 64 bits ({exc}). "
                "Keep amounts and counts within ±9.2e18."
            ) from exc
        except UnicodeEncodeError as exc:
            raise InvalidInputError(
                f"{self._path}: text that is not valid Unicode ({exc.reason}, e.g. a lone "
                "surrogate). Pass valid strings."
            ) from exc

    def _con_open(self) -> sqlite3.Connection:
        if self._closed:
            raise StorageError(
                f"{self._path}: store closed. Open it again with crmkit.connect(url)."
            )
        return self._con

    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock, self._errors():
            return self._con_open().execute(sql, params).fetchall()

    def _concat(
        self,
        table: str,
        columns: Sequence[tuple[str, bool]],
        where: str,
        order: str,
        params: Sequence[Any],
    ) -> _bulk.Concatenated:
        with self._lock, self._errors():
            return _bulk.concat_scan(self._con_open(), table, columns, where, order, params)

    def _run(self, work: Callable[[sqlite3.Connection], R]) -> R:
        """``work(connection)`` under the store's lock, driver errors mapped."""
        with self._lock, self._errors():
            return work(self._con_open())

    def _executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        with self._lock, self._errors():
            con = self._con_open()
            before = con.total_changes
            con.executemany(sql, rows)
            return con.total_changes - before

    def _bulk_insert(
        self, table: str, rows: _bulk.BulkRows, inserted: Callable[[], object] | None = None
    ) -> bool:
        # Inside a transaction. Indexes of an empty table are cheaper to build after the load.
        # Returns whether the table was empty before. ``inserted`` is called once the rows are
        # in, before the indexes are rebuilt (SQLite holds no GIL meanwhile: start threads then).
        with self._lock, self._errors():
            con = self._con_open()
            empty = con.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is None
            rebuild = empty and rows.n >= BULK_REINDEX_ROWS
            self._restart_wal |= rows.n >= BULK_REINDEX_ROWS
            if rebuild:
                for name, _ in INDEXES[table]:
                    con.execute(f"DROP INDEX IF EXISTS {name}")
            rows.execute(con)
            if inserted is not None:
                inserted()
            if rebuild:
                for statement in index_sql(table):
                    con.execute(statement)
            return empty

    # -- columnar scan cache (see _cache) -------------------------------------------------------
    def _touch(self, table: str) -> None:
        """Mark the cached columns of ``table`` stale; call inside the writing transaction."""
        with self._lock, self._errors():
            _cache.bump(self._con_open(), table)

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction (one consistent view) unless a transaction is already open."""
        with self._lock, self._errors():
            con = self._con_open()
            if con.in_transaction:
                yield con
                return
            con.execute("BEGIN")
            try:
                yield con
            finally:
                if _in_transaction(con):
                    con.execute("COMMIT")

    def _cache_load(
        self, con: sqlite3.Connection, table: str, entries: Sequence[str], lo: int, hi: int
    ) -> tuple[int, dict[str, dict[str, _cache.Array] | None]]:
        """Inside ``_snapshot``: the version of ``table`` and its current entries in [lo, hi)."""
        with self._errors():
            at = _cache.version(con, table)
            return at, {e: _cache.load(con, e, at, lo, hi) for e in entries}

    def _cache_store(
        self,
        table: str,
        at: int | None,
        entries: Mapping[
            str, tuple[Mapping[str, _cache.Array], Sequence[_cache.Segment]] | _cache.Encoded
        ],
    ) -> None:
        """Keep columns built at version ``at`` of ``table``, if no write happened since.

        ``at=None`` means the current version; only inside the writing transaction.

        Inside a write transaction they are written with it (and undone with it). Otherwise a
        short write transaction stores them; when another writer holds the lock, or the file is
        read-only, the cache is simply not kept: it is an optimization, never required.
        """
        if not entries:
            return
        with self._lock:
            con = self._con_open()
            if self._depth > 0:
                with self._errors():
                    now = _cache.version(con, table)
                    if at is None or now == at:
                        for entry, got in entries.items():
                            _cache.store(con, entry, now, _encoded(got))
                return
            try:
                con.execute("PRAGMA busy_timeout = 0")
                try:
                    con.execute("BEGIN IMMEDIATE")
                finally:
                    con.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
                try:
                    if _cache.version(con, table) == at:
                        for entry, got in entries.items():
                            _cache.store(con, entry, at, _encoded(got))
                    con.execute("COMMIT")
                except BaseException:
                    if con.in_transaction:
                        con.execute("ROLLBACK")
                    raise
            except sqlite3.OperationalError as exc:  # locked by another writer, read-only, full
                log.debug("%s: column cache of %s not stored (%s)", self._path, table, exc)
            except sqlite3.Error as exc:
                raise _mapped(self._path, exc) from exc

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A block whose writes all happen or none do; an inner block is a savepoint.

        The outermost block takes the write lock at once (``BEGIN IMMEDIATE``), so a block never
        fails half-way for a concurrent writer; the thread holds the store until the block ends.

        Examples:
            >>> import tempfile, pathlib
            >>> from crmkit.model import Product
            >>> store = SQLiteStore(pathlib.Path(tempfile.mkdtemp()) / "t.db")
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
            >>> store.close()
        """
        with self._lock:
            con = self._con_open()
            depth = self._depth
            with self._errors():
                con.execute("BEGIN IMMEDIATE" if depth == 0 else f"SAVEPOINT s{depth}")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                with self._errors():
                    if depth == 0:
                        self._restart_wal = False
                        if con.in_transaction:
                            con.execute("ROLLBACK")
                    else:
                        con.execute(f"ROLLBACK TO s{depth}")
                        con.execute(f"RELEASE s{depth}")
                raise
            self._depth -= 1
            try:
                with self._errors():
                    con.execute("COMMIT" if depth == 0 else f"RELEASE s{depth}")
            except BaseException:
                if depth == 0 and con.in_transaction:
                    con.execute("ROLLBACK")
                raise
            finally:
                if depth == 0 and self._restart_wal:
                    self._restart_wal = False
                    self._truncate_wal()

    def _truncate_wal(self) -> None:
        """After a large batch: empty the WAL, so reads map the file instead of copying pages.

        SQLite reads a page from the WAL while the WAL holds it, even once checkpointed, and
        WAL pages are copied with read() rather than memory-mapped. Skipped at once (no
        waiting) while another connection reads or writes.
        """
        con = self._con
        try:
            con.execute("PRAGMA busy_timeout = 0")
            try:
                con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            finally:
                con.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
        except sqlite3.OperationalError as exc:
            log.debug("%s: WAL not truncated (%s)", self._path, exc)

    def erase(
        self,
        customer_id: str,
        *,
        source_record_keys: Iterable[str] = (),
        pseudonym: str | None = None,
    ) -> ErasureReport:
        """Remove a customer's personal data from every collection (see the storage guide).

        Examples:
            >>> import datetime as dt, tempfile, pathlib
            >>> from crmkit.model import Customer
            >>> store = SQLiteStore(pathlib.Path(tempfile.mkdtemp()) / "e.db")
            >>> _ = store.customers.upsert([Customer(customer_id="c-1",
            ...     created_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))])
            >>> store.erase("c-1").deleted["customers"]
            1
            >>> store.close()
        """
        check_key("customer_id", customer_id)
        alias = pseudonym or erasure_pseudonym()
        check_key("pseudonym", alias)
        keys = [check_key("source_record_keys", k) for k in source_record_keys]
        deleted: dict[str, int] = {}
        renamed: dict[str, int] = {}
        with self.transaction(), self._errors():
            con = self._con_open()
            profile = self.customers.find(customer_id)
            if profile is not None:
                keys += [i.value for i in profile.identifiers if i.kind == "source_record"]
            deleted["customers"] = self.customers.delete([customer_id])
            deleted["source_records"] = self.source_records.delete(keys)
            for table in ("events", "consents"):
                deleted[table] = con.execute(
                    f"DELETE FROM {table} WHERE customer_id = ?", (customer_id,)
                ).rowcount
            deleted.update(
                con.execute(
                    "SELECT collection, count(*) FROM documents WHERE customer_id = ? "
                    "GROUP BY collection ORDER BY collection",
                    (customer_id,),
                ).fetchall()
            )
            con.execute("DELETE FROM documents WHERE customer_id = ?", (customer_id,))
            renamed["orders"] = con.execute(
                "UPDATE orders SET customer_id = ?, attributes = '{}' WHERE customer_id = ?",
                (alias, customer_id),
            ).rowcount
            renamed["returns"] = con.execute(
                "UPDATE returns SET customer_id = ?, reason = NULL WHERE customer_id = ?",
                (alias, customer_id),
            ).rowcount
            renamed["contacts"] = con.execute(
                "UPDATE contacts SET customer_id = ? WHERE customer_id = ?",
                (alias, customer_id),
            ).rowcount
            if renamed["orders"]:
                _cache.bump(con, "orders")
            if deleted["events"]:
                _cache.bump(con, "events")
        return ErasureReport(
            customer_id=customer_id, pseudonym=alias, deleted=deleted, pseudonymized=renamed
        )

    def check_integrity(self) -> None:
        """Run ``PRAGMA integrity_check``; raise ``IntegrityError`` listing the first problems.

        Examples:
            >>> import tempfile, pathlib
            >>> store = SQLiteStore(pathlib.Path(tempfile.mkdtemp()) / "i.db")
            >>> store.check_integrity()
            >>> store.close()
        """
        rows = self._fetch("PRAGMA integrity_check")
        problems = [str(r[0]) for r in rows]
        if problems != ["ok"]:
            raise IntegrityError(
                f"{self._path}: integrity check failed ({len(problems)} problems, first: "
                f"{problems[0]!r}). Restore the file from a backup."
            )

    def schema_version(self) -> int:
        """The schema version of the file.

        Examples:
            >>> import tempfile, pathlib
            >>> from crmkit.storage.sqlite import SCHEMA_VERSION
            >>> store = SQLiteStore(pathlib.Path(tempfile.mkdtemp()) / "v.db")
            >>> store.schema_version() == SCHEMA_VERSION
            True
            >>> store.close()
        """
        return int(self._fetch("SELECT max(version) FROM schema_version")[0][0])

    def close(self) -> None:
        """Close the connection (a checkpoint folds the WAL back into the file)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                with self._errors():
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
        return f"SQLiteStore({self._url!r})"


def _encoded(
    got: tuple[Mapping[str, _cache.Array], Sequence[_cache.Segment]] | _cache.Encoded,
) -> _cache.Encoded:
    return got if isinstance(got, _cache.Encoded) else _cache.encoded(*got)


def _in_transaction(con: sqlite3.Connection) -> bool:
    return con.in_transaction


def _mapped(path: str, exc: sqlite3.Error) -> StorageError:
    text = str(exc)
    low = text.lower()
    if isinstance(exc, sqlite3.IntegrityError):
        return ConflictError(f"{path}: constraint failed ({text}). Check the keys written.")
    if "locked" in low or "busy" in low:
        return ConflictError(
            f"{path}: the database stayed locked by another writer ({text}). Retry, or raise "
            "the timeout."
        )
    if "no such table" in low or "no such column" in low:
        return SchemaError(f"{path}: schema mismatch ({text}). Was the file made by crmkit?")
    if "malformed" in low or "not a database" in low or "corrupt" in low:
        return IntegrityError(f"{path}: damaged database ({text}). Restore it from a backup.")
    return StorageError(f"{path}: SQLite failed ({type(exc).__name__}: {text}).")
