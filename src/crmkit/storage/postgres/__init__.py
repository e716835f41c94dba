"""The PostgreSQL store (``postgresql://...``), installed with ``pip install "crmkit[postgres]"``.

crmkit's core never imports this package: ``crmkit.connect("postgresql://...")`` finds it
through the ``postgresql`` entry point of the ``crmkit.stores`` group, as any third-party
adapter would be found. It needs psycopg 3.

Examples:
    >>> import crmkit
    >>> from crmkit.storage.postgres._testing import server_url
    >>> with crmkit.connect(server_url()) as store:
    ...     type(store).__name__, store.orders.count()
    ...     store.drop_schema()
    ('PostgresStore', 0)
"""

from crmkit.storage.postgres._schema import MIGRATIONS, SCHEMA_VERSION, Migration
from crmkit.storage.postgres._store import PostgresStore

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Migration", "PostgresStore"]
