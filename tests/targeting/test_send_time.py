"""Send time: local hours from engagement events, empirical-Bayes smoothed to the population."""

from __future__ import annotations

import numpy as np

from crmkit.columns import EventColumns
from crmkit.targeting import best_send_times, local_times


def _simulate(n: int, events_per: int, seed: int) -> tuple[EventColumns, np.ndarray]:
    """Customers with a true favourite hour: 60% of their opens at it, the rest spread out."""
    rng = np.random.default_rng(seed)
    true = rng.choice([8, 12, 19, 21], n, p=[0.3, 0.2, 0.3, 0.2])
    k = rng.poisson(events_per, n)
    cust = np.repeat(np.arange(n), k)
    own = rng.random(cust.size) < 0.6
    hours = np.where(own, true[cust], rng.choice(np.arange(7, 23), cust.size))
    day = rng.integers(0, 60, cust.size)
    at = (
        np.datetime64("2024-01-01T00:00", "us")
        + (day * 24 + hours).astype("timedelta64[h]")
        + rng.integers(0, 3600, cust.size).astype("timedelta64[s]")
    )
    ev = EventColumns.from_arrays(
        event_id=np.arange(cust.size).astype(str),
        customer_id=np.char.add("c", cust.astype(str)),
        type=np.full(cust.size, "email_open"),
        at=at.astype("datetime64[us]"),
    )
    return ev, true


def test_empirical_bayes_predicts_held_out_hours_better_than_either_extreme() -> None:
    """Held-out log-likelihood: the estimated prior beats raw counts and the population profile."""
    ev, _ = _simulate(3000, 6, seed=0)
    ids = np.char.add("c", np.arange(3000).astype(str))
    rng = np.random.default_rng(5)
    train = rng.random(len(ev)) < 0.5
    fit_ev, test_ev = ev.take(train), ev.take(~train)
    test_hour = test_ev.at.astype("datetime64[h]").astype(np.int64) % 24
    test_row = np.searchsorted(ids, test_ev.customer_id, sorter=np.argsort(ids))
    order = np.argsort(ids)

    def loglik(prior: float | None) -> float:
        st = best_send_times(fit_ev, customer_id=ids, prior_strength=prior)
        share = st.hour_share[order][test_row, test_hour]
        return float(np.log(share).mean())

    eb = loglik(None)
    assert eb > loglik(0.05)  # next to raw counts: unseen hours get almost no probability
    assert eb > loglik(1e5)  # the population profile alone ignores each customer's habit


def test_many_events_recover_each_customers_own_hour() -> None:
    """With ~40 events each the customer's own hour wins for nearly everyone (> 95%)."""
    ev, true = _simulate(500, 40, seed=1)
    ids = np.char.add("c", np.arange(500).astype(str))
    assert (best_send_times(ev, customer_id=ids).hour == true).mean() > 0.95


def test_customers_without_events_get_the_population_best() -> None:
    """No events: the population's best hour."""
    ev, _ = _simulate(200, 5, seed=2)
    res = best_send_times(ev, customer_id=["nobody"])
    pop = np.bincount(local_times(ev.at, "UTC").astype("datetime64[h]").astype(int) % 24,
                      minlength=24)  # fmt: skip
    assert res.hour[0] == int(np.argmax(pop))
    assert res.events[0] == 0


def test_hours_are_local_to_the_customer() -> None:
    """An open at 16:00 UTC in July is 18:00 in Berlin and 12:00 in New York."""
    ev = EventColumns.from_arrays(
        event_id=["1", "2"], customer_id=["b", "n"], type=["email_click"] * 2,
        at=np.array(["2024-07-01T16:00"] * 2, dtype="datetime64[us]"),
    )  # fmt: skip
    res = best_send_times(
        ev, customer_id=["b", "n"], time_zone=["Europe/Berlin", "America/New_York"],
        prior_strength=1e-9,
    )  # fmt: skip
    assert res.hour.tolist() == [18, 12]
    assert res.weekday.tolist() == [0, 0]  # 2024-07-01 was a Monday
