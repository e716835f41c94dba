"""Kit checks on sharing: threads, processes and reopening a persistent store."""

from __future__ import annotations

import multiprocessing
import threading

import attrs

from crmkit.model import Product
from crmkit.storage import Store, connect
from crmkit.testing._base import KitBase, requires

__all__ = ["ConcurrencyChecks", "increment"]

_INCREMENTS = 40


def increment(store: Store, times: int, product_id: str = "counter") -> None:
    """Read-modify-write a counter ``times`` times, each in its own transaction."""
    for _ in range(times):
        with store.transaction():
            found = store.products.get(product_id)
            n = found.attributes["n"]
            assert isinstance(n, int)
            store.products.upsert([attrs.evolve(found, attributes={"n": n + 1})])


def _writer_process(url: str, tag: str, times: int) -> None:
    store = connect(url)
    try:
        increment(store, times)
        store.products.upsert([Product(product_id=f"{tag}-{i}", name=tag) for i in range(times)])
    finally:
        store.close()


class ConcurrencyChecks(KitBase):
    """Writers at once lose nothing: threads sharing a store, processes sharing a URL.

    Examples:
        >>> "test_processes_write_without_lost_writes" in dir(ConcurrencyChecks)
        True
    """

    @requires("thread_safe")
    def test_threads_write_without_lost_writes(self, store: Store) -> None:
        """Four threads incrementing one counter in transactions end at 4 × the increments."""
        store.products.upsert([Product(product_id="counter", name="n", attributes={"n": 0})])
        threads = [threading.Thread(target=increment, args=(store, _INCREMENTS)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert store.products.get("counter").attributes["n"] == 4 * _INCREMENTS

    @requires("multi_process")
    def test_processes_write_without_lost_writes(self, store: Store) -> None:
        """Two processes incrementing one counter and adding rows at once lose no write."""
        store.products.upsert([Product(product_id="counter", name="n", attributes={"n": 0})])
        ctx = multiprocessing.get_context("spawn")
        procs = [
            ctx.Process(target=_writer_process, args=(store.url, tag, _INCREMENTS))
            for tag in ("a", "b")
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=120)
        assert [p.exitcode for p in procs] == [0, 0]
        assert store.products.get("counter").attributes["n"] == 2 * _INCREMENTS
        assert store.products.count() == 1 + 2 * _INCREMENTS

    @requires("persistent")
    def test_reopened_store_holds_the_data(self, store: Store) -> None:
        """Values written, then the store closed and opened again by URL, are all there."""
        product = Product(product_id="p", name="Tea", attributes={"x": 1.5})
        store.products.upsert([product])
        store.close()
        with connect(store.url) as again:
            assert again.products.get("p") == product
