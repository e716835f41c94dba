"""What is particular to the SQLite adapter: schema versions, layout, errors, URLs."""

from __future__ import annotations

import pickle
import sqlite3
from pathlib import Path

import attrs
import pytest

from crmkit.errors import InvalidInputError, SchemaError, StorageError
from crmkit.model import Money, Product
from crmkit.storage.sqlite import MIGRATIONS, SCHEMA_VERSION, SQLiteStore
from crmkit.testing._base import seq
from crmkit.testing._behaviour import order


def test_new_file_gets_wal_and_the_current_schema(tmp_path: Path) -> None:
    """A new file is in WAL mode, records every migration in order, and has per-customer indexes."""
    with SQLiteStore(tmp_path / "s.db") as store:
        assert store.schema_version() == SCHEMA_VERSION
    con = sqlite3.connect(tmp_path / "s.db")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    versions = [r[0] for r in con.execute("SELECT version FROM schema_version ORDER BY version")]
    assert versions == [m.version for m in MIGRATIONS]
    indexes = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"orders_by_customer", "events_by_customer", "consents_by_customer"} <= indexes
    con.close()


def test_reopening_does_not_migrate_again(tmp_path: Path) -> None:
    """Opening an up-to-date file twice leaves one row per migration."""
    SQLiteStore(tmp_path / "s.db").close()
    SQLiteStore(tmp_path / "s.db").close()
    con = sqlite3.connect(tmp_path / "s.db")
    assert con.execute("SELECT count(*) FROM schema_version").fetchone()[0] == len(MIGRATIONS)
    con.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    """A file written by a newer crmkit raises SchemaError instead of being misread."""
    SQLiteStore(tmp_path / "s.db").close()
    con = sqlite3.connect(tmp_path / "s.db")
    con.execute("INSERT INTO schema_version VALUES (?, 0, 'future')", (SCHEMA_VERSION + 1,))
    con.commit()
    con.close()
    with pytest.raises(SchemaError, match="newer"):
        SQLiteStore(tmp_path / "s.db")


def test_money_and_time_are_integers_in_the_file(tmp_path: Path) -> None:
    """Orders keep minor units and UTC microseconds as SQLite integers."""
    with SQLiteStore(tmp_path / "s.db") as store:
        store.orders.upsert([order("o1")])
    con = sqlite3.connect(tmp_path / "s.db")
    row = con.execute("SELECT typeof(total_minor), total_minor, placed_at FROM orders").fetchone()
    assert row == ("integer", 900, 1_704_067_200_000_000)
    con.close()


def test_driver_errors_become_storage_errors(tmp_path: Path) -> None:
    """A file that is not a database raises a StorageError subclass chained to the driver error."""
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StorageError) as info:
        SQLiteStore(path)
    assert isinstance(info.value.__cause__, sqlite3.DatabaseError)
    assert pickle.loads(pickle.dumps(info.value)).args == info.value.args


def test_integers_beyond_64_bits_are_rejected_whole(tmp_path: Path) -> None:
    """An amount SQLite cannot hold raises InvalidInputError and the batch writes nothing."""
    big = Money(amount_minor=2**70, currency="EUR")
    huge = order("o2")
    huge = attrs.evolve(huge, lines=seq(attrs.evolve(huge.lines[0], unit_price=big)))
    with SQLiteStore(tmp_path / "s.db") as store:
        with pytest.raises(InvalidInputError, match="64 bits"):
            store.orders.upsert([order("o1"), huge])
        assert store.orders.count() == 0


def test_url_forms(tmp_path: Path) -> None:
    """sqlite:////absolute and plain paths open the same file; other URLs are rejected."""
    path = tmp_path / "u.db"
    with SQLiteStore(f"sqlite:///{path}") as a:
        a.products.upsert([Product(product_id="p", name="x")])
    with SQLiteStore(path) as b:
        assert b.products.count() == 1
        assert b.url == f"sqlite:///{path}"
    with pytest.raises(InvalidInputError):
        SQLiteStore("postgresql://x/y")
