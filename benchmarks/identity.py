"""Deterministic identity resolution on the synthetic shop: accuracy against its truth, and scale.

Accuracy: pairwise precision, recall and F1 of deterministic ``crmkit.identity.resolve``
(``linkage=False``: no Fellegi–Sunter links) against
``shop.truth.record_person`` under three policies: ``StitchingPolicy.default()``; the default
without corroboration (a shared email or phone links whatever the names say); and
``StitchingPolicy.permissive()`` (no blocked values, limits, corroboration or size cap: plain
transitive closure). The differences are what merge protection buys.

Scale: ``--scale`` source records of a larger shop resolved in a fresh process (wall and CPU
time, peak RSS of that process, which also holds the records), then about 1k more records added
incrementally, checked against resolving everything at once. Targets: 1M records in <= 60 s and
<= 4 GB; an incremental add of ~1k records in well under 2 s.

    python benchmarks/identity.py --customers 20000 --scale 1000000
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

import crmkit.identity as ci
from crmkit.datasets import synthetic_shop

RECORDS_PER_CUSTOMER = 2.1  # a little under what the synthetic shop draws (about 2.2)


def pairwise(truth: npt.NDArray[Any], pred: npt.NDArray[Any]) -> tuple[float, float, float]:
    """Pairwise precision, recall and F1 of a clustering against the truth (by pair counts)."""

    def pairs(labels: npt.NDArray[Any]) -> int:
        c = np.unique(labels, return_counts=True)[1].astype(np.int64)
        return int((c * (c - 1) // 2).sum())

    _, t_codes = np.unique(truth, return_inverse=True)
    _, p_codes = np.unique(pred, return_inverse=True)
    joint = t_codes.reshape(-1).astype(np.int64) * (int(p_codes.max()) + 1) + p_codes.reshape(-1)
    tp = pairs(joint)
    predicted, actual = pairs(pred), pairs(truth)
    precision = tp / predicted if predicted else 1.0
    recall = tp / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


Columns = dict[str, npt.NDArray[Any]]


def records_of(n_customers: int, seed: int) -> tuple[Columns, npt.NDArray[Any]]:
    """The shop's source records as columns, and the true person of each."""
    shop = synthetic_shop(n_customers, rng=seed)
    arrays = shop.records.arrays()
    names = ("record_id", "source", "observed_at", "email", "phone", "first_name", "last_name",
             "birth_date", "street", "city", "postcode", "country")  # fmt: skip
    cols = {k: arrays[k] for k in names}
    return cols, shop.truth.record_person


def uncorroborated() -> ci.StitchingPolicy:
    """The default policy with corroboration switched off."""
    base = ci.StitchingPolicy.default()
    return base.with_identifiers([attrs.evolve(p, corroborate=()) for p in base.identifiers])


def accuracy(n_customers: int, seed: int) -> None:
    records, truth = records_of(n_customers, seed)
    print(f"accuracy on {truth.size} records of {np.unique(truth).size} persons (pairwise)")
    print(f"{'policy':<16} {'precision':>9} {'recall':>7} {'F1':>6} {'entities':>9} {'s':>6}")
    policies = [
        ("default", ci.StitchingPolicy.default()),
        ("no corroborate", uncorroborated()),
        ("permissive", ci.StitchingPolicy.permissive()),
    ]
    for name, policy in policies:
        t0 = time.perf_counter()
        res = ci.resolve(records, policy=policy, linkage=False)
        dt = time.perf_counter() - t0
        p, r, f = pairwise(truth, res.entity_id)
        print(f"{name:<16} {p:9.4f} {r:7.4f} {f:6.4f} {res.n_entities:9d} {dt:6.1f}")


def _take(cols: dict[str, npt.NDArray[Any]], sl: slice) -> dict[str, npt.NDArray[Any]]:
    return {k: a[sl] for k, a in cols.items()}


def _status_gb(field: str) -> float:
    """A memory figure of this process from /proc (Linux), in GB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024**2
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _reset_peak() -> None:
    """Reset the peak resident set size of this process (Linux clear_refs)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def scale_run(n_records: int, seed: int, n_add: int) -> dict[str, float]:
    """One scale measurement (run in a fresh process so that its peak RSS is its own)."""
    records, truth = records_of(int(n_records / RECORDS_PER_CUSTOMER) + 1, seed)
    n = min(n_records, truth.size)
    records, truth = _take(records, slice(0, n)), truth[:n]
    first = _take(records, slice(0, n - n_add))
    gc.collect()
    base_rss = _status_gb("VmRSS")
    _reset_peak()  # so the peak below is that of resolving, not of drawing the shop
    t0, c0 = time.perf_counter(), time.process_time()
    res = ci.resolve(first, linkage=False)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = _status_gb("VmHWM")
    t0 = time.perf_counter()
    graph = res.graph.add(_take(records, slice(n - n_add, n)))
    inc = time.perf_counter() - t0
    batch = ci.resolve(records, linkage=False)
    same = bool((graph.entity_of(records["record_id"]) == batch.entity_id).all())
    p, r, f = pairwise(truth, batch.entity_id)
    return {"n": n - n_add, "wall": wall, "cpu": cpu, "base_gb": base_rss, "peak_gb": peak,
            "n_add": n_add, "inc": inc, "same": same, "precision": p, "recall": r,
            "f1": f}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--customers", type=int, default=20_000, help="shop size for accuracy")
    ap.add_argument("--scale", type=int, nargs="*", default=[200_000, 1_000_000],
                    help="records for the timing runs")  # fmt: skip
    ap.add_argument("--add", type=int, default=1_000, help="records added incrementally")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(scale_run(args.child, args.seed + 1, args.add)))
        return
    accuracy(args.customers, args.seed)
    for n in args.scale:
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(n), "--seed", str(args.seed),
             "--add", str(args.add)],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        m = json.loads(out.strip().splitlines()[-1])
        print(f"scale: {m['n']} records resolved in {m['wall']:.1f} s wall / {m['cpu']:.1f} s CPU "
              f"(target <= 60 s); peak RSS while resolving {m['peak_gb']:.2f} GB, of which "
              f"{m['base_gb']:.2f} GB held before (the records); target <= 4 GB; "
              f"precision {m['precision']:.4f} recall {m['recall']:.4f} "
              f"F1 {m['f1']:.4f}")  # fmt: skip
        print(f"incremental: {m['n_add']} records added to {m['n']} in {m['inc']:.2f} s; "
              f"equal to resolving all at once: {m['same']}")  # fmt: skip


if __name__ == "__main__":
    main()
