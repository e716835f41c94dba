"""Opening a module's collection on any store that declares the ``documents`` capability."""

from __future__ import annotations

from typing import TypeVar

from crmkit.errors import CapabilityError
from crmkit.storage._protocols import DocumentCollection, Store
from crmkit.storage._spec import CollectionSpec

__all__ = ["documents"]

T = TypeVar("T")


def documents(store: Store, spec: CollectionSpec[T]) -> DocumentCollection[T]:
    """The store's collection for ``spec``; a store without module collections is refused.

    Modules (identity, segmentation, loyalty, targeting) open their collections through this one
    function, so every store that declares ``Capabilities.documents`` serves them all.

    Raises:
        CapabilityError: the store does not declare ``documents`` (or has no ``collection``).

    Examples:
        >>> from crmkit.storage import CollectionSpec
        >>> from crmkit.storage.memory import MemoryStore
        >>> from crmkit.model import Money
        >>> spec = CollectionSpec(name="demo.prices", value_type=Money, key=lambda m: m.currency)
        >>> documents(MemoryStore(), spec).count()
        0
    """
    opener = getattr(store, "collection", None)
    if opener is None or not store.capabilities.documents:
        raise CapabilityError(
            f"store: {type(store).__name__} does not declare the 'documents' capability, which "
            f"the collection {spec.name!r} needs. Use a store with module collections "
            "(memory, SQLite, PostgreSQL)."
        )
    docs: DocumentCollection[T] = opener(spec)
    return docs
