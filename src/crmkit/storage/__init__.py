"""Storage: the Protocols a store implements, its capabilities, and ``connect(url)``.

crmkit ships two adapters: [`MemoryStore`][crmkit.storage.memory.MemoryStore] (``memory://``,
the reference) and [`SQLiteStore`][crmkit.storage.sqlite.SQLiteStore] (``sqlite:///path``, the
embedded default). Other adapters are found through the ``crmkit.stores`` entry-point group and
loaded by name on first use. Adapters are checked with the conformance kit in
[`crmkit.testing`][crmkit.testing].

Examples:
    >>> import datetime as dt
    >>> import crmkit
    >>> from crmkit.model import Money, Order, OrderLine
    >>> order = Order(order_id="o-1", customer_id="c-1", currency="EUR",
    ...               placed_at=dt.datetime(2024, 3, 1, 12, tzinfo=dt.UTC),
    ...               lines=[OrderLine(product_id="tea", quantity=2,
    ...                                unit_price=Money.of("4.50", "EUR"))])
    >>> with crmkit.connect("memory://") as store:
    ...     store.orders.upsert([order])
    ...     store.orders.for_customer("c-1") == [order]
    ...     store.orders.columns().total_minor.tolist()
    1
    True
    [900]
"""

from crmkit.storage._batch import orders_from_columns
from crmkit.storage._capabilities import Capabilities
from crmkit.storage._connect import (
    ENTRY_POINT_GROUP,
    StoreFactory,
    available_stores,
    connect,
    register_store,
)
from crmkit.storage._documents import documents
from crmkit.storage._page import ErasureReport, Page, consent_key, erasure_pseudonym
from crmkit.storage._protocols import (
    ConsentCollection,
    ContactCollection,
    CustomerCollection,
    CustomerTimeline,
    DocumentCollection,
    EventCollection,
    KeyedCollection,
    OrderCollection,
    ProductCollection,
    ReturnCollection,
    SourceRecordCollection,
    Store,
    SupportsDocuments,
    SupportsEventIngest,
    SupportsIntegrityCheck,
    SupportsOrderIngest,
    TimedCollection,
)
from crmkit.storage._spec import CollectionSpec

__all__ = [
    "ENTRY_POINT_GROUP",
    "Capabilities",
    "CollectionSpec",
    "ConsentCollection",
    "ContactCollection",
    "CustomerCollection",
    "CustomerTimeline",
    "DocumentCollection",
    "ErasureReport",
    "EventCollection",
    "KeyedCollection",
    "OrderCollection",
    "Page",
    "ProductCollection",
    "ReturnCollection",
    "SourceRecordCollection",
    "Store",
    "StoreFactory",
    "SupportsDocuments",
    "SupportsEventIngest",
    "SupportsIntegrityCheck",
    "SupportsOrderIngest",
    "TimedCollection",
    "available_stores",
    "connect",
    "consent_key",
    "documents",
    "erasure_pseudonym",
    "orders_from_columns",
    "register_store",
]
