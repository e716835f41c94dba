"""Deterministic identity resolution: accuracy against a known truth, and scale.

Prints pairwise precision, recall and F1 of ``crmkit.identity.resolve`` with the default policy and
with ``StitchingPolicy.permissive()`` (no blocked values, limits or merge protection), then the time
and peak memory of resolving ``--scale`` records (target: 1M records in <= 60 s and <= 4 GB).

The records come from a small generator in this file (people seen through web signups, guest
checkouts with +tag emails, loyalty cards with phones, support tickets with typos and marketplace
orders behind relay addresses; families share phones and addresses; placeholder emails are common).

    python benchmarks/identity.py --n-people 20000 --scale 1000000
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

import crmkit.identity as ci

FIRST = np.array(["Anna", "Ben", "Clara", "David", "Emma", "Felix", "Greta", "Hans", "Ida", "Jonas",
                  "Katrin", "Lukas", "Marie", "Noah", "Olga", "Paul", "Robert", "Sophie", "Tom",
                  "William", "Elizabeth", "Michael", "Susan", "Peter"])  # fmt: skip
NICK = {"Robert": "Bob", "William": "Bill", "Elizabeth": "Liz", "Michael": "Mike",
        "Susan": "Sue", "Peter": "Pete", "Thomas": "Tom"}  # fmt: skip
LAST = np.array([f"Name{i}" for i in range(3000)])
DOMAINS = np.array(["gmail.com", "web.de", "gmx.de", "outlook.com", "yahoo.com", "t-online.de"])
SOURCES = np.array(["web", "checkout", "loyalty", "support", "market"])


def generate(n_people: int, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Records and the true person of each (vectorized)."""
    rng = np.random.default_rng(seed)
    first = FIRST[rng.integers(0, FIRST.size, n_people)]
    last = LAST[rng.integers(0, LAST.size, n_people)]
    family = rng.integers(0, max(n_people // 3, 1), n_people)  # about three people per household
    local = np.char.add(np.char.add(np.char.lower(first), "."), np.char.lower(last))
    local = np.char.add(local, rng.integers(0, 10_000, n_people).astype(str))
    domain = DOMAINS[rng.integers(0, DOMAINS.size, n_people)]
    email = np.char.add(np.char.add(local, "@"), domain)
    own_phone = np.char.add("0171", rng.integers(1_000_000, 9_999_999, n_people).astype(str))
    home_phone = np.char.add("030", (family * 7919 % 9_000_000 + 1_000_000).astype(str))
    street = np.char.add(np.char.add((family % 200 + 1).astype(str), " "),
                         np.char.add(LAST[family % LAST.size], "straße"))  # fmt: skip
    postcode = (10000 + family % 89999).astype(str)
    year = rng.integers(1940, 2005, n_people)
    dob = np.array([f"{y}-{m:02d}-{d:02d}" for y, m, d in
                    zip(year, rng.integers(1, 13, n_people), rng.integers(1, 29, n_people),
                        strict=True)])  # fmt: skip
    per = rng.integers(1, 6, n_people)
    person = np.repeat(np.arange(n_people), per)
    n = person.size
    src = SOURCES[rng.integers(0, SOURCES.size, n)]
    u = rng.random((n, 6))
    e = email[person]
    e = np.where((src == "checkout") & (u[:, 0] < 0.5),
                 np.char.replace(e, "@", "+shop@"), e)  # fmt: skip
    e = np.where(u[:, 1] < 0.2, np.char.upper(e), e)
    e = np.where((src == "support") & (u[:, 2] < 0.2), np.char.replace(e, "gmail", "gmial"), e)
    relay = np.char.add(np.char.add("m", rng.integers(0, n, n).astype(str)),
                        "@marketplace.amazon.de")  # fmt: skip
    e = np.where(src == "market", relay, e)
    e = np.where(u[:, 3] < 0.03, "test@test.com", e)
    e = np.where(u[:, 3] > 0.92, "", e)
    phone = np.where(u[:, 4] < 0.35, home_phone[person], own_phone[person])
    phone = np.where(u[:, 4] > 0.7, "", phone)
    phone = np.where(
        (phone != "") & (u[:, 5] < 0.5), np.char.add("+49 ", np.char.lstrip(phone, "0")), phone
    )
    fn = first[person]
    nick = np.array([NICK.get(x, x) for x in FIRST])
    fn = np.where(u[:, 5] > 0.8, nick[np.searchsorted(FIRST, fn, sorter=np.argsort(FIRST))
                                     .clip(0, FIRST.size - 1)], fn)  # fmt: skip
    fn = np.where(np.isin(fn, FIRST), fn, first[person])
    records = {
        "record_id": np.char.add(np.char.add(src, ":"), np.arange(n).astype(str)),
        "source": src,
        "email": e,
        "phone": phone,
        "first_name": fn,
        "last_name": last[person],
        "birth_date": np.where(u[:, 2] > 0.5, dob[person], ""),
        "street": np.where(u[:, 0] > 0.4, street[person], ""),
        "postcode": np.where(u[:, 0] > 0.4, postcode[person], ""),
        "country": np.full(n, "DE"),
        "customer_id": np.where(src == "web", np.char.add("C", person.astype(str)), ""),
        "observed_at": np.datetime64("2023-01-01", "us")
        + rng.integers(0, 700, n) * np.timedelta64(1, "D"),
    }
    return records, person


def pairwise(truth: np.ndarray, pred: np.ndarray) -> tuple[float, float, float]:
    """Pairwise precision, recall and F1 of a clustering against the truth (by pair counts)."""

    def pairs(labels: np.ndarray) -> int:
        c = np.unique(labels, return_counts=True)[1].astype(np.int64)
        return int((c * (c - 1) // 2).sum())

    _, p_codes = np.unique(pred, return_inverse=True)
    joint = truth.astype(np.int64) * (int(p_codes.max()) + 1) + p_codes.reshape(-1)
    tp = pairs(joint)
    predicted, actual = pairs(pred), pairs(truth)
    precision = tp / predicted if predicted else 1.0
    recall = tp / actual if actual else 1.0
    return precision, recall, 2 * precision * recall / (precision + recall)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n-people", type=int, default=20_000)
    ap.add_argument("--scale", type=int, default=1_000_000, help="records for the timing run")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    records, truth = generate(args.n_people, args.seed)
    print(f"accuracy on {truth.size} records of {args.n_people} people (pairwise)")
    print(f"{'policy':<12} {'precision':>9} {'recall':>7} {'F1':>6} {'entities':>9} {'s':>6}")
    for name, policy in [("default", ci.StitchingPolicy.default()),
                         ("permissive", ci.StitchingPolicy.permissive())]:  # fmt: skip
        t0 = time.perf_counter()
        res = ci.resolve(records, policy=policy)
        dt = time.perf_counter() - t0
        p, r, f = pairwise(truth, res.entity_id)
        print(f"{name:<12} {p:9.4f} {r:7.4f} {f:6.4f} {res.n_entities:9d} {dt:6.1f}")

    if args.scale:
        people = max(args.scale // 3, 1)
        big, truth = generate(people, args.seed + 1)
        n = min(args.scale, truth.size)
        big = {k: a[:n] for k, a in big.items()}
        t0 = time.perf_counter()
        res = ci.resolve(big)
        dt = time.perf_counter() - t0
        peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
        p, r, f = pairwise(truth[:n], res.entity_id)
        print(f"scale: {n} records resolved in {dt:.1f} s (target <= 60 s); peak RSS "
              f"{peak_gb:.2f} GB (target <= 4 GB); F1 {f:.4f}")  # fmt: skip
        t0 = time.perf_counter()
        extra, _ = generate(300, args.seed + 2)
        extra["record_id"] = np.char.add("new-", extra["record_id"])
        res.graph.add(extra)
        print(f"incremental: {extra['record_id'].size} records added to {n} in "
              f"{time.perf_counter() - t0:.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
