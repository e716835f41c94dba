"""The typed capabilities object a store declares, read by callers and by the conformance kit."""

from __future__ import annotations

import attrs

__all__ = ["Capabilities"]


@attrs.frozen(kw_only=True)
class Capabilities:
    """What a store can do beyond the core Protocols; each flag gates checks of the kit.

    Every store implements the core collection Protocols, ``transaction()`` and ``erase()``.
    The flags say which optional guarantees hold:

    Attributes:
        persistent: data survives ``close()`` and a new ``connect()`` to the same URL.
        nested_transactions: an inner ``transaction()`` block rolls back on its own (a savepoint)
            while the outer block continues; without it, nesting still works but an inner failure
            that is caught leaves the outer block's writes in place only up to the failure.
        thread_safe: one store object may be used from several threads at once.
        multi_process: several processes may open the same URL and write at once without lost
            writes (the kit checks this with two writer processes).
        columnar_ingest: ``orders`` and ``events`` implement the ``SupportsOrderIngest`` /
            ``SupportsEventIngest`` Protocols (``upsert_columns``).
        integrity_check: the store implements ``SupportsIntegrityCheck`` (``check_integrity()``).
        documents: ``store.collection(spec)`` returns keyed-value collections for modules that
            add their own collections (identity graph, loyalty ledger, segments...).

    Examples:
        >>> caps = Capabilities(persistent=True, multi_process=True)
        >>> caps.persistent, caps.thread_safe
        (True, True)
        >>> caps.has("multi_process")
        True
    """

    persistent: bool = False
    nested_transactions: bool = True
    thread_safe: bool = True
    multi_process: bool = False
    columnar_ingest: bool = True
    integrity_check: bool = False
    documents: bool = True

    def has(self, *names: str) -> bool:
        """Whether every named capability is declared (unknown names raise ``AttributeError``).

        Examples:
            >>> Capabilities().has("persistent", "documents")
            False
        """
        fields = attrs.fields_dict(Capabilities)
        for name in names:
            if name not in fields:
                raise AttributeError(f"capability: unknown name {name!r}. Known: {sorted(fields)}.")
        return all(getattr(self, name) for name in names)
