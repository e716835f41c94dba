"""``connect(url)``: built-in stores and third-party adapters found by entry point, lazily."""

from __future__ import annotations

import difflib
import importlib
import logging
import threading
from importlib import metadata
from typing import Any, Protocol

from crmkit.errors import InvalidInputError, PluginError
from crmkit.storage._protocols import Store

__all__ = ["ENTRY_POINT_GROUP", "StoreFactory", "available_stores", "connect", "register_store"]

log = logging.getLogger("crmkit.storage")

#: The entry-point group third-party adapters register their factories in, named by URL scheme.
ENTRY_POINT_GROUP = "crmkit.stores"

_BUILTIN = {
    "memory": "crmkit.storage.memory:MemoryStore",
    "sqlite": "crmkit.storage.sqlite:SQLiteStore",
}


class StoreFactory(Protocol):
    """Protocol: what a ``crmkit.stores`` entry point loads: a callable from URL to a store.

    Examples:
        >>> from crmkit.storage.memory import MemoryStore
        >>> factory: StoreFactory = lambda url, **options: MemoryStore(url)
        >>> factory("memory://").url
        'memory://'
    """

    def __call__(self, url: str, **options: Any) -> Store:
        """Open the store at ``url`` with adapter-specific keyword ``options``."""
        ...


_lock = threading.Lock()
_loaded: dict[str, StoreFactory] = {}
_registered: dict[str, StoreFactory] = {}


def register_store(scheme: str, factory: StoreFactory) -> None:
    """Make ``connect`` open ``scheme://...`` URLs with ``factory`` in this process.

    For adapters that are not installed as a distribution (tests, notebooks); installed adapters
    declare an entry point in the ``crmkit.stores`` group instead.

    Examples:
        >>> from crmkit.storage.memory import MemoryStore
        >>> register_store("scratch", lambda url, **options: MemoryStore(url))
        >>> connect("scratch://one").url
        'scratch://one'
    """
    if not isinstance(scheme, str) or not scheme or "://" in scheme:
        raise InvalidInputError(f"scheme: {scheme!r} is not a URL scheme such as 'postgresql'.")
    with _lock:
        _registered[scheme] = factory
        _loaded.pop(scheme, None)


def available_stores() -> list[str]:
    """The schemes ``connect`` knows: built-in, registered and installed (not loaded).

    Examples:
        >>> {"memory", "sqlite"} <= set(available_stores())
        True
    """
    names = set(_BUILTIN) | set(_registered)
    names |= {ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    return sorted(names)


def _factory(scheme: str) -> StoreFactory:
    with _lock:
        if scheme in _loaded:
            return _loaded[scheme]
        if scheme in _registered:
            return _registered[scheme]
    if scheme in _BUILTIN:
        module, _, attr = _BUILTIN[scheme].partition(":")
        factory: StoreFactory = getattr(importlib.import_module(module), attr)
    else:
        found = list(metadata.entry_points(group=ENTRY_POINT_GROUP, name=scheme))
        if not found:
            known = available_stores()
            close = difflib.get_close_matches(scheme, known, n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise PluginError(
                f"url: no store for scheme {scheme!r} (known: {', '.join(known)}).{hint} "
                f"Install the adapter that declares it in the {ENTRY_POINT_GROUP!r} entry points."
            )
        ep = found[0]
        dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist is not None else "an unknown one"
        try:
            factory = ep.load()
        except Exception as exc:
            raise PluginError(
                f"url: the store adapter for {scheme!r} ({ep.value}, from distribution {dist}) "
                f"failed to load: {type(exc).__name__}: {exc}. Reinstall or upgrade that "
                "distribution."
            ) from exc
        log.debug("loaded store adapter %s from %s", scheme, dist)
    with _lock:
        _loaded[scheme] = factory
    return factory


def connect(url: str, **options: Any) -> Store:
    """Open the store at ``url``: ``memory://``, ``sqlite:///path`` or an installed adapter's.

    The scheme picks the adapter: built-in ones first, then functions registered with
    [`register_store`][crmkit.storage.register_store], then entry points of the
    ``crmkit.stores`` group (loaded lazily, on first use of their scheme). ``options`` go to
    the adapter. An unknown scheme raises ``PluginError`` with close matches; an adapter that
    fails to load raises ``PluginError`` naming its distribution.

    Examples:
        >>> import crmkit
        >>> with crmkit.connect("memory://") as store:
        ...     store.orders.count()
        0
        >>> crmkit.connect("sqlit:///x.db")
        Traceback (most recent call last):
        ...
        crmkit.errors.PluginError: url: no store for scheme 'sqlit' ... Did you mean 'sqlite'? ...
    """
    if not isinstance(url, str) or "://" not in url:
        raise InvalidInputError(
            f"url: {url!r:.80} is not a store URL. Use 'memory://' or 'sqlite:///path/to.db'."
        )
    scheme = url.partition("://")[0].lower()
    return _factory(scheme)(url, **options)
