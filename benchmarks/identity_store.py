"""Saving and loading the identity graph of a synthetic shop in SQLite (and the memory store).

Measures, for ``--records`` source records resolved deterministically: the first save (every
entity written), a load from a new connection, an incremental save after about 1k more records
were resolved against the loaded graph (only the touched entities written), and the file size.
The yardstick is ``pickle`` of the same graph to a file (highest protocol): no store, no
erasure, no incremental writes, the cheapest way Python has to keep the value.

    python benchmarks/identity_store.py --records 1000000
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import crmkit.identity as ci
from crmkit.datasets import synthetic_shop
from crmkit.storage.memory import MemoryStore
from crmkit.storage.sqlite import SQLiteStore

sys.path.insert(0, str(Path(__file__).resolve().parent))
from identity import RECORDS_PER_CUSTOMER  # the benchmark next to this one

NAMES = ("record_id", "source", "observed_at", "email", "phone", "first_name", "last_name",
         "birth_date", "street", "city", "postcode", "country")  # fmt: skip


def clock(label: str, fn: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    took = time.perf_counter() - start
    print(f"  {label:<46} {took:8.2f} s")
    return out, took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--memory", action="store_true", help="also time the memory store")
    args = parser.parse_args()
    shop = synthetic_shop(int(args.records / RECORDS_PER_CUSTOMER), rng=args.seed)
    arrays = shop.records.arrays()
    cols = {k: arrays[k] for k in NAMES}
    n = cols["record_id"].size
    rng = np.random.default_rng(args.seed)
    late = np.zeros(n, bool)
    late[rng.choice(n, size=min(1000, n // 10), replace=False)] = True
    first = {k: v[~late] for k, v in cols.items()}
    later = {k: v[late] for k, v in cols.items()}
    print(f"{n} source records; {int(late.sum())} held back for the incremental save")
    graph, _ = clock("resolve (deterministic)", lambda: ci.resolve(first, linkage=False).graph)
    print(f"  -> {graph.entities().size} entities, {len(graph.links())} links, "
          f"{len(graph.audit)} audit rows")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "identity.db"
        with SQLiteStore(path) as store:
            report, t_save = clock("SQLite: first save", lambda: ci.save_graph(store, graph))
        print(f"  -> {report.entities_written} entity documents, "
              f"{os.path.getsize(path) / 2**20:.0f} MiB")  # fmt: skip
        with SQLiteStore(path) as store:
            loaded, t_load = clock("SQLite: load (new connection)", lambda: ci.load_graph(store))
            more, _ = clock(
                "resolve the held-back records on the loaded graph",
                lambda: ci.resolve(later, graph=loaded, linkage=False).graph,
            )
            report, t_inc = clock("SQLite: incremental save", lambda: ci.save_graph(store, more))
            print(f"  -> {report.entities_written} written, {report.entities_deleted} deleted, "
                  f"{report.audit_rows_written} audit rows")  # fmt: skip
        pk = Path(tmp) / "identity.pickle"

        def dump() -> None:
            with pk.open("wb") as f:
                pickle.dump(graph, f, protocol=pickle.HIGHEST_PROTOCOL)

        def read() -> Any:
            with pk.open("rb") as f:
                return pickle.load(f)

        _, p_save = clock("pickle: dump to a file", dump)
        _, p_load = clock("pickle: load", read)
        print(f"  -> {os.path.getsize(pk) / 2**20:.0f} MiB")
    if args.memory:
        with MemoryStore() as mem:
            clock("memory store: first save", lambda: ci.save_graph(mem, graph))
            clock("memory store: load", lambda: ci.load_graph(mem))
    print(
        f"ratios crmkit SQLite / pickle: save {t_save / p_save:.1f}x, "
        f"load {t_load / p_load:.1f}x; incremental / first save {t_inc / t_save:.3f}"
    )


if __name__ == "__main__":
    main()
