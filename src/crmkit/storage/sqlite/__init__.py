"""The embedded default store: SQLite in WAL mode, one file, ``sqlite:///path``.

Examples:
    >>> import tempfile, pathlib, crmkit
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "shop.db"
    >>> with crmkit.connect(f"sqlite:///{path}") as store:
    ...     type(store).__name__, store.orders.count()
    ('SQLiteStore', 0)
"""

from crmkit.storage.sqlite._schema import MIGRATIONS, SCHEMA_VERSION, Migration
from crmkit.storage.sqlite._store import SQLiteStore

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Migration", "SQLiteStore"]
