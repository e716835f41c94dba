"""crmkit.clv vs lifetimes 0.11.3: fit time per model and the largest relative parameter gap.

    bash benchmarks/setup_peers.sh lifetimes
    python benchmarks/clv.py                    # CDNOW, 100k and 1M simulated customers
    python benchmarks/clv.py --sizes 100000     # quicker

    python benchmarks/clv.py --no-slow-peer     # skip lifetimes' Pareto/NBD at 1M (minutes)

Targets at 1M customers: BG/NBD >= 20x, Pareto/NBD >= 50x, Gamma-Gamma >= 10x faster than
lifetimes; summarizing 10M transactions <= 3 s. At 1M customers lifetimes is timed only for the
models the targets name. Simulated customers have ages of 30-365 days and purchase times rounded
to whole days, as a daily summary of real orders has.

crmkit and lifetimes are timed interleaved, model by model (crmkit: the median of three fits;
lifetimes: one fit in its own venv, timed inside the subprocess so start-up is excluded). The
machine's load average is printed at the start and the end: ratios are only comparable between
runs under similar load.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import refdata  # noqa: E402

from crmkit.clv import (  # noqa: E402
    BetaGeo,
    BetaGeoBetaBinom,
    BetaGeoBetaBinomFit,
    BetaGeoFit,
    GammaGamma,
    GammaGammaFit,
    ModifiedBetaGeo,
    ModifiedBetaGeoFit,
    ParetoNBD,
    ParetoNBDFit,
    simulate_beta_geo,
    simulate_gamma_gamma,
    summarize,
)

PEER = ROOT / "benchmarks" / ".venv-lifetimes" / "bin" / "python"
NAMES = {"gg": {"p": "p", "q": "q", "gamma": "v"}}

PEER_SCRIPT = r"""
import json, sys, time, warnings
import numpy as np
warnings.simplefilter("ignore")
from lifetimes import (BetaGeoFitter, ModifiedBetaGeoFitter, ParetoNBDFitter, GammaGammaFitter,
                       BetaGeoBetaBinomFitter)
d = np.load(sys.argv[1])
models = sys.argv[2].split(",")
out = {}
for m in models:
    t0 = time.perf_counter()
    if m == "bgbb":
        f = BetaGeoBetaBinomFitter().fit(d["x"], d["tx"], d["T"], weights=d["w"])
    elif m == "gg":
        keep = d["x"] > 0
        f = GammaGammaFitter().fit(d["x"][keep], d["m"][keep])
    else:
        cls = {"bg": BetaGeoFitter, "mbg": ModifiedBetaGeoFitter, "pareto": ParetoNBDFitter}[m]
        f = cls().fit(d["x"], d["tx"], d["T"])
    params = {k: float(v) for k, v in f.params_.items()}
    out[m] = {"seconds": time.perf_counter() - t0, "params": params}
print(json.dumps(out))
"""


def crmkit_fit(model: str, d: dict[str, np.ndarray]) -> tuple[float, dict[str, float], Any]:
    """Median wall time of three fits, the parameters and the fit."""
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        if model == "bgbb":
            fit: Any = BetaGeoBetaBinom().fit(
                frequency=d["x"], recency=d["tx"], T=d["T"], weights=d["w"]
            )
        elif model == "gg":
            fit = GammaGamma().fit(frequency=d["x"], monetary=d["m"])
        else:
            spec: Any = {"bg": BetaGeo(), "mbg": ModifiedBetaGeo(), "pareto": ParetoNBD()}[model]
            fit = spec.fit(frequency=d["x"], recency=d["tx"], T=d["T"])
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), fit.params, fit


FIT_CLASSES: dict[str, Any] = {
    "bg": BetaGeoFit,
    "mbg": ModifiedBetaGeoFit,
    "pareto": ParetoNBDFit,
    "gg": GammaGammaFit,
    "bgbb": BetaGeoBetaBinomFit,
}


def ll_gap(model: str, fit: Any, theirs: dict[str, float], d: dict[str, np.ndarray]) -> float:
    """crmkit's LL minus the LL at lifetimes' parameters (both evaluated by crmkit)."""
    names = {v: k for k, v in NAMES.get(model, {}).items()}
    other = FIT_CLASSES[model].from_params(**{names.get(k, k): v for k, v in theirs.items()})
    if model == "gg":
        keep = d["x"] > 0
        per = other.log_likelihood_per_customer(frequency=d["x"][keep], monetary=d["m"][keep])
        return float(fit.log_likelihood - per.sum())
    per = other.log_likelihood_per_customer(frequency=d["x"], recency=d["tx"], T=d["T"])
    return float(fit.log_likelihood - per @ d["w"])


def peer_fit(models: list[str], path: Path) -> dict[str, Any]:
    if not PEER.exists():
        return {}
    proc = subprocess.run(
        [str(PEER), "-c", PEER_SCRIPT, str(path), ",".join(models)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        print("lifetimes failed:", proc.stderr[-800:])
        return {}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def max_rel_gap(model: str, ours: dict[str, float], theirs: dict[str, float]) -> float:
    names = NAMES.get(model, {})
    gaps = [
        abs(v - theirs[names.get(k, k)]) / abs(v)
        for k, v in ours.items()
        if names.get(k, k) in theirs
    ]
    return max(gaps) if gaps else float("nan")


def simulated(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    ages = rng.integers(30, 366, n).astype(float)
    s = simulate_beta_geo(n, T=ages, r=0.3, alpha=20.0, a=0.8, b=2.5, rng=seed)
    tx = np.floor(s.recency)
    _x, m = simulate_gamma_gamma(frequency=s.frequency, p=6.0, q=3.8, gamma=15.0, rng=seed + 1)
    return {"x": s.frequency, "tx": tx, "T": s.T, "m": np.round(m, 2), "w": np.ones(n)}


def cdnow() -> dict[str, np.ndarray]:
    txt = refdata.text(refdata.LIFETIMES, "datasets/cdnow_customers_summary_with_transactions.csv")
    t = np.genfromtxt(io.StringIO(txt), delimiter=",", names=True)
    return {"x": t["x"], "tx": t["t_x"], "T": t["T"], "m": t["zbar"], "w": np.ones(t.size)}


def donations() -> dict[str, np.ndarray]:
    txt = refdata.text(refdata.LIFETIMES, "datasets/donations.csv")
    t = np.genfromtxt(io.StringIO(txt), delimiter=",", names=True)
    return {"x": t["frequency"], "tx": t["recency"], "T": t["periods"], "w": t["weights"]}


ROWS: list[str] = []
HEADER = (
    "| data | model | crmkit s | lifetimes s | ratio | max rel param gap | LL gain |\n"
    "|---|---|---|---|---|---|---|"
)


def run(label: str, d: dict[str, np.ndarray], models: list[str], peer_models: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.npz"
        np.savez(path, x=d["x"], tx=d["tx"], T=d["T"], w=d["w"], m=d.get("m", d["w"]))
        for m in models:
            secs, params, fit = crmkit_fit(m, d)
            row = f"| {label} | {m} | {secs:.3f} |"
            if m in peer_models:
                theirs = peer_fit([m], path).get(m)
                if theirs is not None:
                    ts = theirs["seconds"]
                    gap = max_rel_gap(m, params, theirs["params"])
                    dll = ll_gap(m, fit, theirs["params"], d)
                    row += f" {ts:.3f} | {ts / secs:.1f}x | {gap:.1e} | {dll:.3g} |"
                else:
                    row += " - | - | - | - |"
            else:
                row += " not run | - | - | - |"
            ROWS.append(row)
            print(row, flush=True)


def summarize_10m() -> None:
    rng = np.random.default_rng(0)
    n = 10_000_000
    ids = rng.integers(0, 1_000_000, n)
    start = np.datetime64("2023-01-01T00:00", "us").astype(np.int64)
    ts = (start + rng.integers(0, 365 * 86_400_000_000, n)).astype("datetime64[us]")
    amounts = rng.integers(100, 20_000, n)  # int64 minor units
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        s = summarize(ids, ts, amounts, observation_end=np.datetime64("2024-01-01"), period="D")
        times.append(time.perf_counter() - t0)
    print(
        f"summarize 10M transactions -> {len(s)} customers: median {np.median(times):.2f} s, "
        f"runs {', '.join(f'{t:.2f}' for t in times)} (target <= 3 s)",
        flush=True,
    )


def load() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--skip-cdnow", action="store_true", help="only the simulated sizes")
    ap.add_argument(
        "--no-slow-peer", action="store_true", help="skip lifetimes' Pareto/NBD at 1M customers"
    )
    args = ap.parse_args()
    if not PEER.exists():
        print("no lifetimes venv: run `bash benchmarks/setup_peers.sh lifetimes`; crmkit only.")
    print(f"start: {load()} on {os.cpu_count()} cores", flush=True)
    summarize_10m()
    print(HEADER, flush=True)
    five = ["bg", "mbg", "pareto", "gg"]
    if not args.skip_cdnow:
        run("CDNOW", cdnow(), five, five)
        run("donations", donations(), ["bgbb"], ["bgbb"])
    for n in (int(v) for v in args.sizes.split(",")):
        peers = five if n <= 100_000 else ["bg", "gg"] + ([] if args.no_slow_peer else ["pareto"])
        run(f"sim {n // 1000}k", simulated(n, 42), five, peers)
    print(f"end: {load()}")
    print(
        "\n".join(
            [
                "",
                "| data | model | crmkit s | lifetimes s | ratio | max rel param gap |",
                "|---|---|---|---|---|---|",
                *ROWS,
            ]
        )
    )


if __name__ == "__main__":
    main()
