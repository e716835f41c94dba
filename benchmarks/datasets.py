"""crmkit.datasets: time and peak memory of synthetic_shop, and its BG/NBD draw vs lifetimes 0.11.3.

    bash benchmarks/setup_peers.sh lifetimes
    python benchmarks/datasets.py                       # shops of 100k and 1M persons
    python benchmarks/datasets.py --sizes 100000        # quicker

Targets: a 1M-person shop in under ~60 s of CPU on 2 cores, and a peak resident memory close to
what the shop itself keeps ("kept GB": the arrays of its tables and truth; text columns are
fixed-width numpy strings, 4 bytes per character of a column's longest value). Each shop is
built in a fresh subprocess so its peak resident memory is its own. The peer comparison draws
the same BG/NBD process (per-person λ, p, repeat purchases in a window of T days) with crmkit's
vectorized sampler and with lifetimes' ``beta_geometric_nbd_model`` (a loop per customer).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crmkit.datasets import BetaGeoParams, GammaGammaParams  # noqa: E402
from crmkit.datasets._process import draw_purchases  # noqa: E402

PEER = ROOT / "benchmarks" / ".venv-lifetimes" / "bin" / "python"
PARAMS = BetaGeoParams()
WINDOW_DAYS = 730.0

SHOP_SCRIPT = r"""
import json, resource, sys, time
import attrs
from crmkit.datasets import synthetic_shop
n = int(sys.argv[1])
c0, t0 = time.process_time(), time.perf_counter()
shop = synthetic_shop(n, rng=1)
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
tables = sum(
    a.nbytes
    for name in ("records", "orders", "order_lines", "returns", "events", "consents")
    for a in getattr(shop, name).arrays().values()
)
truth = sum(
    getattr(shop.truth, f.name).nbytes
    for f in attrs.fields(type(shop.truth))
    if hasattr(getattr(shop.truth, f.name), "nbytes")
)
out = {"wall": wall, "cpu": cpu, "rss": rss, "tables": tables + truth, "counts": shop.counts()}
print(json.dumps(out))
"""

PEER_SCRIPT = r"""
import json, sys, time, warnings
import numpy as np
warnings.simplefilter("ignore")
from lifetimes.generate_data import beta_geometric_nbd_model
n, r, alpha, a, b, window = int(sys.argv[1]), *map(float, sys.argv[2:7])
T = np.random.default_rng(0).random(n) * window
np.random.seed(0)
t0 = time.perf_counter()
df = beta_geometric_nbd_model(T, r, alpha, a, b, size=n)
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "mean_frequency": float(df["frequency"].mean())}))
"""


def shop_run(n: int) -> dict[str, Any]:
    """Build one shop of ``n`` persons in a subprocess; wall, CPU, peak RSS and counts."""
    out = subprocess.run(
        [sys.executable, "-c", SHOP_SCRIPT, str(n)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def crmkit_bgnbd(n: int) -> tuple[float, float]:
    """Seconds and mean repeat purchases for crmkit's BG/NBD draw of ``n`` persons."""
    rng = np.random.default_rng(0)
    acquired = rng.random(n) * WINDOW_DAYS
    t0 = time.perf_counter()
    draws = draw_purchases(acquired, WINDOW_DAYS, PARAMS, GammaGammaParams(), rng)
    return time.perf_counter() - t0, float(draws.n_repeat.mean())


def peer_bgnbd(n: int) -> tuple[float, float] | None:
    """Seconds and mean frequency for lifetimes' generator, or None without its venv."""
    if not PEER.exists():
        return None
    p = PARAMS
    args = [str(n), str(p.r), str(p.alpha), str(p.a), str(p.b), str(WINDOW_DAYS)]
    out = subprocess.run(
        [str(PEER), "-c", PEER_SCRIPT, *args], check=True, capture_output=True, text=True
    )
    res = json.loads(out.stdout)
    return float(res["seconds"]), float(res["mean_frequency"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--peer-sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()

    print("synthetic_shop (fresh process per size, seed 1)")
    print(
        f"{'persons':>10} {'wall s':>8} {'CPU s':>8} {'peak GB':>8} {'kept GB':>8}"
        f" {'orders':>10} {'events':>11}"
    )
    for n in args.sizes:
        r = shop_run(n)
        counts = r["counts"]
        print(
            f"{n:>10} {r['wall']:>8.1f} {r['cpu']:>8.1f} {r['rss'] / 1e9:>8.2f}"
            f" {r['tables'] / 1e9:>8.2f} {counts['orders']:>10} {counts['events']:>11}"
        )

    print("\nBG/NBD draw: crmkit vs lifetimes.generate_data.beta_geometric_nbd_model")
    print(f"{'persons':>10} {'crmkit s':>9} {'lifetimes s':>12} {'ratio':>8} {'mean x (c/l)':>16}")
    if not PEER.exists():
        print("  (no lifetimes venv: run bash benchmarks/setup_peers.sh lifetimes)")
    for n in args.peer_sizes:
        ours, our_mean = crmkit_bgnbd(n)
        peer = peer_bgnbd(n)
        if peer is None:
            print(f"{n:>10} {ours:>9.3f} {'-':>12} {'-':>8} {our_mean:>8.3f}")
            continue
        theirs, their_mean = peer
        print(
            f"{n:>10} {ours:>9.3f} {theirs:>12.2f} {theirs / ours:>7.0f}x"
            f" {our_mean:>7.3f}/{their_mean:<7.3f}"
        )


if __name__ == "__main__":
    main()
