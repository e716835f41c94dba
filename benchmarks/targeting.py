"""Targeting benchmark: budget selection (exact vs greedy, 1M customers), eligibility and holdout
throughput, next-best product against popularity.

No peer named in the targeting issue solves the same problem (Mautic caps contacts but has no
value model; scikit-uplift and causalml score uplift but select nobody under a budget;
pymc-marketing allocates budget to channels, not customers), so the reference for selection is
the exact optimum from ``scipy.optimize.milp`` (HiGHS) and the reference for next-best product is
the popularity baseline. Targets: greedy selection of 1M customers within 1 s; greedy within 1%
of the MILP optimum; co-purchase hit rate above popularity.

    python benchmarks/targeting.py            # everything
    python benchmarks/targeting.py --quick    # smaller sizes
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests import refdata

from crmkit.columns import ConsentColumns, ContactColumns
from crmkit.targeting import (
    Eligibility,
    FrequencyCap,
    assign_holdout,
    evaluate_next_best,
    select_offers,
)


def _timed(fn: Any, *args: Any, **kw: Any) -> tuple[Any, float, float]:
    w, c = time.perf_counter(), time.process_time()
    out = fn(*args, **kw)
    return out, time.perf_counter() - w, time.process_time() - c


def _instance(n: int, k: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    return {
        "value": rng.gamma(1.0, 5.0, (n, k)) - 1.0,
        "cost": rng.uniform(0.5, 3.0, (n, k)),
        "segment": rng.integers(0, 4, n),
        "option_channel": ["email", "sms", "push"][:k],
    }


def bench_selection(quick: bool) -> None:
    print("== budget selection: exact (scipy.optimize.milp) vs greedy (Lagrangian pricing)")
    print(f"{'customers':>10} {'offers':>6} {'milp obj':>12} {'greedy obj':>12} {'ratio':>8} "
          f"{'proven gap':>10} {'milp s':>8} {'greedy s':>9} {'speed-up':>8}")  # fmt: skip
    cases = [(2_000, 1), (10_000, 1), (30_000, 1), (2_000, 2), (10_000, 2)]
    for n, k in cases[:2] + cases[3:4] if quick else cases:
        inst = _instance(n, k, seed=n + k)
        kw: dict[str, Any] = {
            "cost": inst["cost"], "option_channel": inst["option_channel"],
            "segment": inst["segment"], "budget": 0.4 * n, "segment_max": {"0": n // 8},
        }  # fmt: skip
        if k > 1:
            kw["channel_capacity"] = {"sms": n // 10}
        exact, we, _ = _timed(select_offers, inst["value"], method="exact", time_limit_s=300, **kw)
        greedy, wg, _ = _timed(select_offers, inst["value"], method="greedy", **kw)
        print(f"{n:>10,} {k:>6} {exact.objective:>12.2f} {greedy.objective:>12.2f} "
              f"{greedy.objective / exact.objective:>8.5f} {greedy.gap:>10.2e} {we:>8.2f} "
              f"{wg:>9.3f} {we / wg:>7.0f}x  "
              f"(milp {exact.status}, gap {exact.gap:.1e})")  # fmt: skip
    n = 200_000 if quick else 1_000_000
    print(
        f"-- greedy at {n:,} customers (wall s / CPU s; the CPU time is what a quiet machine shows)"
    )
    for k in (1, 3):
        inst = _instance(n, k, seed=7)
        big: dict[str, Any] = {
            "cost": inst["cost"], "option_channel": inst["option_channel"],
            "segment": inst["segment"], "budget": 0.4 * n, "segment_max": {"0": n // 8},
        }  # fmt: skip
        if k > 1:
            big["channel_capacity"] = {"sms": n // 10, "push": n // 5}
        best = (np.inf, np.inf)
        for _ in range(3):
            sel, w, c = _timed(select_offers, inst["value"], method="greedy", **big)
            best = (w, c) if c < best[1] else best
        print(f"   offers={k}: selected {int(sel.selected.sum()):,}, proven gap {sel.gap:.2e}, "
              f"wall {best[0]:.3f} s, CPU {best[1]:.3f} s")  # fmt: skip


def bench_eligibility(quick: bool) -> None:
    n = 200_000 if quick else 1_000_000
    rng = np.random.default_rng(3)
    ids = np.char.add("c", np.arange(n).astype(str))
    t0 = np.datetime64("2024-06-01T10:00", "us")
    consents = ConsentColumns.from_arrays(
        customer_id=ids, channel=np.full(n, "email"), purpose=np.full(n, "marketing"),
        status=rng.choice(["granted", "revoked"], n, p=[0.8, 0.2]),
        at=t0 - rng.integers(1, 10**6, n).astype("timedelta64[s]"),
    )  # fmt: skip
    m = 3 * n
    contacts = ContactColumns.from_arrays(
        contact_id=np.arange(m).astype(str), campaign_id=np.full(m, "x"),
        customer_id=ids[rng.integers(0, n, m)], channel=np.full(m, "email"),
        at=t0 - rng.integers(1, 30 * 86400, m).astype("timedelta64[s]"),
    )  # fmt: skip
    rules = Eligibility(channel="email", caps=[FrequencyCap(max_contacts=2, window_hours=168)])
    res, w, c = _timed(rules.evaluate, ids, send_at=t0, consents=consents, contacts=contacts)
    print(f"== eligibility: {n:,} customers, {m:,} contacts: wall {w:.2f} s, CPU {c:.2f} s; "
          f"{res.counts()}")  # fmt: skip
    hold, w, c = _timed(assign_holdout, ids, salt="bench")
    print(f"== holdout: {n:,} customers: wall {w:.2f} s, CPU {c:.2f} s; {hold.counts()}, "
          f"sample-ratio p = {hold.check().p_value:.3f}")  # fmt: skip


def bench_next_best() -> None:
    print("== next-best product: hit rate on held-out purchases, co-purchase vs popularity")
    text = refdata.text(refdata.LIFETIMES, "CDNOW_master.txt")
    rows = np.array([line.split() for line in text.strip().splitlines()[1:]])
    cust, n, usd = rows[:, 0], rows[:, 2].astype(int), rows[:, 3].astype(float)
    keep = (n > 0) & (usd > 0)
    band = np.digitize(usd / np.maximum(n, 1), [10, 12, 14, 16]).astype(str)
    item = np.char.add(np.char.add(np.minimum(n, 6).astype(str), "cd|band"), band)
    at = np.array([f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in rows[:, 1]], dtype="datetime64[us]")
    for k in (1, 5):
        ev = evaluate_next_best(cust[keep], item[keep], at[keep],
                                split_at=np.datetime64("1997-10-01"), k=k)  # fmt: skip
        print(f"   CDNOW_master (items = quantity x price-per-CD band), k={k}: "
              f"{ev.hit_rate:.4f} vs {ev.baseline_hit_rate:.4f} ({ev.lift:.2f}x, "
              f"{ev.customers:,} customers)")  # fmt: skip
    try:
        from crmkit.datasets import synthetic_shop  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        print("   synthetic shop: crmkit.datasets not installed yet; skipped")
        return
    shop = synthetic_shop(20_000, rng=3)
    lines = shop.order_lines_by_person()
    t = lines.placed_at
    split = t.min() + (t.max() - t.min()) * 3 // 4
    for k in (1, 5):
        ev = evaluate_next_best(lines.customer_id, lines.product_id, t, split_at=split, k=k)
        print(f"   synthetic shop (20,000 persons), k={k}: {ev.hit_rate:.4f} vs "
              f"{ev.baseline_hit_rate:.4f} ({ev.lift:.2f}x, "
              f"{ev.customers:,} customers)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    bench_selection(args.quick)
    bench_eligibility(args.quick)
    bench_next_best()


if __name__ == "__main__":
    main()
