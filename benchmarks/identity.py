"""Deterministic identity resolution on the synthetic shop: accuracy against its truth, and scale.

Accuracy: pairwise precision, recall and F1 of deterministic ``crmkit.identity.resolve``
(``linkage=False``: no Fellegi–Sunter links) against
``shop.truth.record_person`` under three policies: ``StitchingPolicy.default()``; the default
without corroboration (a shared email or phone links whatever the names say); and
``StitchingPolicy.permissive()`` (no blocked values, limits, corroboration or size cap: plain
transitive closure). The differences are what merge protection buys.

Records -> persons with linkage: deterministic, deterministic + Fellegi–Sunter (the default of
``resolve``) and Splink 5 on the same normalized columns, blocking and comparisons from its
library (``bash benchmarks/setup_peers.sh splink``); pairwise, B-cubed and exact-cluster F1, the
recall ceiling (pairwise and B-cubed) of any method that never merges on names alone, and where
recall is lost.

Scale: ``--scale`` source records of a larger shop resolved in a fresh process (wall and CPU
time, peak RSS of resolving, the 1-minute load average), without and with linkage, then about 1k
more records added incrementally (with linkage: scored with the fit of the first run; without:
checked against resolving everything at once). Targets: deterministic 1M records in <= 60 s; with
linkage 100k in <= 30 s and 1M in <= 5 min; <= 4 GB.

    python benchmarks/identity.py --customers 20000 --scale 100000 1000000
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

import crmkit.identity as ci
from crmkit.datasets import synthetic_shop
from crmkit.datasets._records import RecordNoise
from crmkit.identity.linkage._crm import crm_table

ROOT = Path(__file__).resolve().parents[1]

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


def bcubed(truth: npt.NDArray[Any], pred: npt.NDArray[Any]) -> tuple[float, float, float]:
    """B-cubed precision, recall and F1 (Bagga & Baldwin 1998): per record, the share of its
    predicted cluster that is its true cluster (precision) and the share of its true cluster that
    is in its predicted cluster (recall), averaged over records."""
    _, t = np.unique(truth, return_inverse=True)
    _, p = np.unique(pred, return_inverse=True)
    t, p = t.reshape(-1).astype(np.int64), p.reshape(-1).astype(np.int64)
    joint = t * (int(p.max()) + 1) + p
    _, j_inv, j_cnt = np.unique(joint, return_inverse=True, return_counts=True)
    both = j_cnt[j_inv.reshape(-1)].astype(float)
    precision = float((both / np.bincount(p)[p]).mean())
    recall = float((both / np.bincount(t)[t]).mean())
    return precision, recall, 2 * precision * recall / (precision + recall)


def exact_clusters(truth: npt.NDArray[Any], pred: npt.NDArray[Any]) -> tuple[float, float, float]:
    """Exact-cluster precision, recall and F1: a predicted cluster counts when it holds exactly
    the records of one true cluster (precision over predicted clusters, recall over true ones)."""
    _, t = np.unique(truth, return_inverse=True)
    _, p = np.unique(pred, return_inverse=True)
    t, p = t.reshape(-1).astype(np.int64), p.reshape(-1).astype(np.int64)
    joint = t * (int(p.max()) + 1) + p
    uj, j_cnt = np.unique(joint, return_counts=True)
    jt, jp = uj // (int(p.max()) + 1), uj % (int(p.max()) + 1)
    exact = int(((j_cnt == np.bincount(t)[jt]) & (j_cnt == np.bincount(p)[jp])).sum())
    precision, recall = exact / (int(p.max()) + 1), exact / (int(t.max()) + 1)
    return precision, recall, 2 * precision * recall / (precision + recall)


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


SPLINK_SHOP = textwrap.dedent(
    """
    import json, sys, time
    import pandas as pd
    t0 = time.perf_counter()
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on
    d = pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False).replace("", None)
    settings = SettingsCreator(
        unique_id_column_name="record_id",
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=[
            block_on("email"), block_on("phone"), block_on("last_name", "postcode"),
            block_on("first_name", "birth_date"), block_on("last_name", "birth_date")],
        comparisons=[
            cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("last_name").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("birth_date", input_is_string=True,
                                     datetime_format="%Y-%m-%d"),
            cl.EmailComparison("email"),
            cl.LevenshteinAtThresholds("phone", 1),
            cl.JaroWinklerAtThresholds("street", 0.9),
            cl.LevenshteinAtThresholds("postcode", 1).configure(term_frequency_adjustments=True),
            cl.ExactMatch("city").configure(term_frequency_adjustments=True),
        ],
        retain_intermediate_calculation_columns=False,
    )
    db = DuckDBAPI()
    linker = Linker(db.register(d), settings)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("email"), block_on("phone")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    for rule in (block_on("email"), block_on("phone"), block_on("last_name", "postcode")):
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True)
    pred = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        pred, threshold_match_probability=0.5).as_pandas_dataframe()
    wall = time.perf_counter() - t0
    print(json.dumps({"wall_s": wall, "record_id": clusters["record_id"].tolist(),
                      "cluster_id": clusters["cluster_id"].astype(str).tolist()}))
    """
)


def run_splink_shop(graph: ci.IdentityGraph) -> dict[str, Any]:
    """Splink 5 (DuckDB) on the same normalized columns crmkit's model sees (blocked values
    missing), the same blocking rules and comparisons from Splink's library; clusters by
    connected components at match probability 0.5 (Splink's clustering)."""
    py = ROOT / "benchmarks" / ".venv-splink" / "bin" / "python"
    if not py.exists():
        return {"skipped": "no benchmarks/.venv-splink (bash benchmarks/setup_peers.sh splink)"}
    table = crm_table(graph)
    names = ("email", "phone", "first_name", "last_name", "birth_date", "street", "city",
             "postcode")  # fmt: skip
    cols = {"record_id": table.record_id}
    cols.update({k: table.column(k).value_of(table.column(k).codes) for k in names})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "shop.csv"
        rows = np.stack([np.char.replace(c.astype(str), ",", " ") for c in cols.values()], 1)
        lines = [",".join(cols)] + [",".join(r) for r in rows.tolist()]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        out = subprocess.run([str(py), "-c", SPLINK_SHOP, str(path)], capture_output=True,
                             text=True, check=False)  # fmt: skip
    if out.returncode != 0:
        return {"skipped": f"splink failed: {out.stderr.strip()[-800:]}"}
    res = json.loads(out.stdout.strip().splitlines()[-1])
    rid, cid = np.array(res["record_id"], dtype=str), np.array(res["cluster_id"], dtype=str)
    order = np.argsort(rid)
    pos = order[np.searchsorted(rid[order], table.record_id)]
    return {"wall_s": res["wall_s"], "entity_id": cid[pos]}


#: The non-name fields the recall ceiling's oracle links on.
ORACLE_FIELDS = ("email", "phone", "birth_date", "postcode", "street", "city")


def ceiling_clusters(graph: ci.IdentityGraph, truth: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    """The clusters of an oracle that, using the truth, links two records of one person whenever
    they share an exact normalized non-name field (email, phone, birth date, postcode, street or
    city; blocked values never): the most that any clustering which never merges on names alone
    can reach without fuzzy evidence (its precision is 1)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    table = crm_table(graph)
    _, person = np.unique(truth, return_inverse=True)
    person = person.reshape(-1).astype(np.int64)
    n = person.size
    rows, cols, offset = [], [], 0
    for f in ORACLE_FIELDS:
        code = table.column(f).codes.astype(np.int64)
        ok = np.flatnonzero(code >= 0)
        _, inv = np.unique(person[ok] * (int(code.max()) + 1) + code[ok], return_inverse=True)
        rows.append(ok)
        cols.append(inv.reshape(-1) + offset)
        offset += int(inv.max(initial=-1)) + 1
    r, c = np.concatenate(rows), np.concatenate(cols)
    inc = coo_matrix((np.ones(r.size), (r, c)), shape=(n, max(offset, 1))).tocsr()
    _, label = connected_components(inc @ inc.T, directed=False)
    return np.asarray(label, dtype=np.int64)


def lost_by(
    truth: npt.NDArray[Any], pred: npt.NDArray[Any], kind: npt.NDArray[Any]
) -> list[tuple[str, int, int]]:
    """Per record kind: how many records sit outside the entity holding most of their person's
    records (the records whose links were lost), of how many."""
    _, t = np.unique(truth, return_inverse=True)
    _, p = np.unique(pred, return_inverse=True)
    t, p = t.reshape(-1).astype(np.int64), p.reshape(-1).astype(np.int64)
    width = int(p.max()) + 1
    uj, cnt = np.unique(t * width + p, return_counts=True)
    order = np.lexsort((-cnt, uj // width))
    first = np.ones(order.size, bool)
    first[1:] = (uj // width)[order][1:] != (uj // width)[order][:-1]
    major = np.full(int(t.max()) + 1, -1, np.int64)
    major[(uj // width)[order][first]] = (uj % width)[order][first]
    stray = p != major[t]
    return [(str(k), int((stray & (kind == k)).sum()), int((kind == k).sum()))
            for k in np.unique(kind)]  # fmt: skip


def linkage_accuracy(n_customers: int, seed: int, peers: bool) -> None:
    """Records -> persons on the synthetic shop: deterministic, deterministic + Fellegi–Sunter,
    and Splink on the same normalized data; pairwise, B-cubed and exact-cluster F1."""
    shop = synthetic_shop(n_customers, rng=seed)
    arrays = shop.records.arrays()
    names = ("record_id", "source", "observed_at", "email", "phone", "first_name", "last_name",
             "birth_date", "street", "city", "postcode", "country")  # fmt: skip
    records = {k: arrays[k] for k in names}
    truth = shop.truth.record_person
    print(f"\nrecords -> persons: {truth.size} records of {np.unique(truth).size} persons")
    print(f"{'method':<24} {'pairwise P/R/F1':>22} {'B-cubed P/R/F1':>22} "
          f"{'exact-cluster P/R/F1':>22} {'s':>6}")  # fmt: skip
    results: dict[str, npt.NDArray[Any]] = {}
    walls: dict[str, float] = {}
    graph = None
    for label, on in (("crmkit deterministic", False), ("crmkit det + FS", True)):
        t0 = time.perf_counter()
        res = ci.resolve(records, linkage=on)
        walls[label] = time.perf_counter() - t0
        results[label] = res.entity_id
        graph = res.graph
    assert graph is not None
    if peers:
        sp = run_splink_shop(graph)
        if "skipped" in sp:
            print(f"splink skipped: {sp['skipped']}")
        else:
            results["splink 5 (same data)"] = sp["entity_id"]
            walls["splink 5 (same data)"] = sp["wall_s"]
    for label, ent in results.items():
        cells = []
        for metric in (pairwise, bcubed, exact_clusters):
            p, r, f = metric(truth, ent)
            cells.append(f"{p:.4f}/{r:.4f}/{f:.4f}")
        print(f"{label:<24} {cells[0]:>22} {cells[1]:>22} {cells[2]:>22} "
              f"{walls[label]:6.1f}")  # fmt: skip
    if "splink 5 (same data)" in walls:
        ratio = walls["splink 5 (same data)"] / walls["crmkit det + FS"]
        print(f"ratio: splink / crmkit (det + FS, incl. normalization) wall time = {ratio:.2f}x")
    oracle = ceiling_clusters(graph, truth)
    pr, br = pairwise(truth, oracle)[1], bcubed(truth, oracle)[1]
    print(f"recall ceiling without name-only merges (oracle on {', '.join(ORACLE_FIELDS)}): "
          f"pairwise R {pr:.4f} / F1 {2 * pr / (1 + pr):.4f}, B-cubed R {br:.4f} / F1 "
          f"{2 * br / (1 + br):.4f} (at precision 1)")  # fmt: skip
    ent = results["crmkit det + FS"]
    print("records split from their person's main entity (det + FS), by source:")
    for k, lost, n in lost_by(truth, ent, records["source"]):
        print(f"  {k:<12} {lost:5d} of {n:6d} ({lost / max(n, 1):.3f})")
    print("... by noise kind (a record may have several):")
    noise = shop.truth.record_noise.astype(np.int64)
    for flag in RecordNoise:
        has = (noise & int(flag)) != 0
        _, lost, n = lost_by(truth, ent, has.astype(str))[-1] if has.any() else ("", 0, 0)
        print(f"  {flag.name:<20} {lost:5d} of {n:6d} ({lost / max(n, 1):.3f})")


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


def scale_run(n_records: int, seed: int, n_add: int, linkage: bool) -> dict[str, Any]:
    """One scale measurement (run in a fresh process so that its peak RSS is its own)."""
    records, truth = records_of(int(n_records / RECORDS_PER_CUSTOMER) + 1, seed)
    n = min(n_records, truth.size)
    records, truth = _take(records, slice(0, n)), truth[:n]
    first = _take(records, slice(0, n - n_add))
    gc.collect()
    base_rss = _status_gb("VmRSS")
    _reset_peak()  # so the peak below is that of resolving, not of drawing the shop
    load = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    res = ci.resolve(first, linkage=linkage)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = _status_gb("VmHWM")
    load = max(load, os.getloadavg()[0])
    p, r, f = pairwise(truth[: n - n_add], res.entity_id)
    t0 = time.perf_counter()
    if linkage:  # a small batch, scored with the fit of the first run (no retraining)
        inc_res = ci.resolve(_take(records, slice(n - n_add, n)), graph=res.graph,
                             linkage_fit=res.linkage_fit)  # fmt: skip
        graph = inc_res.graph
    else:
        graph = res.graph.add(_take(records, slice(n - n_add, n)))
    inc = time.perf_counter() - t0
    same: bool | None = None
    if not linkage:  # deterministic resolution is order-independent: compare with one batch
        batch = ci.resolve(records, linkage=False)
        same = bool((graph.entity_of(records["record_id"]) == batch.entity_id).all())
    return {"n": n - n_add, "wall": wall, "cpu": cpu, "base_gb": base_rss, "peak_gb": peak,
            "n_add": n_add, "inc": inc, "same": same, "precision": p, "recall": r,
            "f1": f, "load": load, "linkage": linkage}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--customers", type=int, default=20_000, help="shop size for accuracy")
    ap.add_argument("--scale", type=int, nargs="*", default=[100_000, 1_000_000],
                    help="records for the timing runs")  # fmt: skip
    ap.add_argument("--add", type=int, default=1_000, help="records added incrementally")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--skip-peers", action="store_true", help="do not run Splink")
    ap.add_argument("--skip-accuracy", action="store_true", help="only the scale runs")
    ap.add_argument("--linkage", choices=("off", "on", "both"), default="both",
                    help="scale runs without / with Fellegi-Sunter links")  # fmt: skip
    ap.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(scale_run(args.child, args.seed + 1, args.add, args.linkage == "on")))
        return
    if not args.skip_accuracy:
        accuracy(args.customers, args.seed)
        linkage_accuracy(args.customers, args.seed, not args.skip_peers)
    for n in args.scale:
        for mode in ("off", "on") if args.linkage == "both" else (args.linkage,):
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(n), "--seed", str(args.seed),
                 "--add", str(args.add), "--linkage", mode],
                check=True, capture_output=True, text=True,
            ).stdout  # fmt: skip
            m = json.loads(out.strip().splitlines()[-1])
            what = "deterministic + FS" if m["linkage"] else "deterministic"
            print(f"scale ({what}): {m['n']} records resolved in {m['wall']:.1f} s wall / "
                  f"{m['cpu']:.1f} s CPU; peak RSS while resolving {m['peak_gb']:.2f} GB, of "
                  f"which {m['base_gb']:.2f} GB held before (the records); 1-min load average "
                  f"{m['load']:.1f} on {os.cpu_count()} CPUs; precision {m['precision']:.4f} "
                  f"recall {m['recall']:.4f} F1 {m['f1']:.4f}")  # fmt: skip
            same = "" if m["same"] is None else f"; equal to resolving all at once: {m['same']}"
            print(f"incremental: {m['n_add']} records added to {m['n']} in {m['inc']:.2f} s"
                  f"{same}")  # fmt: skip


if __name__ == "__main__":
    main()
