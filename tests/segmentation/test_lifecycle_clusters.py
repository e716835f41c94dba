"""Lifecycle stages, period status, transitions, clustering with k selection and profiles."""

from __future__ import annotations

import numpy as np
import pytest

from crmkit.errors import InvalidInputError
from crmkit.features import order_features
from crmkit.segmentation import (
    LifecycleRules,
    cluster_customers,
    lifecycle_from_p_alive,
    lifecycle_stages,
    segment_profiles,
    transitions,
)

DAY0 = np.datetime64("2024-01-01", "us")


def _at(*d: int) -> np.ndarray:
    return DAY0 + (np.asarray(d) * 86_400_000_000).astype("timedelta64[us]")


def test_stages_follow_each_customers_own_cadence() -> None:
    """Weekly and monthly buyers are judged by their own cadence; a return after a lapse
    reactivates."""
    ids = ["weekly"] * 4 + ["monthly"] * 4 + ["late_weekly"] * 4 + ["new"] + ["back"] * 4
    t = _at(70, 77, 84, 91, 0, 30, 60, 90, 0, 7, 14, 21, 95, 0, 10, 20, 95)
    f = order_features(ids, t, np.ones(len(ids), dtype=np.int64), as_of=_at(100)[0])
    stage = dict(zip(f.customer_id.tolist(), lifecycle_stages(f).tolist(), strict=True))
    # weekly: 9 days since a 7-day cadence (x1.29) -> active; monthly: 10 of 30 -> active;
    # late_weekly: 79 days of a 7-day cadence -> churned; back: 75-day gap after a 10-day cadence.
    assert stage == {
        "weekly": "active",
        "monthly": "active",
        "late_weekly": "churned",
        "new": "new",
        "back": "reactivated",
    }
    strict = lifecycle_stages(f, rules=LifecycleRules(at_risk_after=1.2))
    assert strict[f.index_of(["weekly"])[0]] == "at-risk"


def test_p_alive_stages_and_validation() -> None:
    """P(alive) thresholds give the stage; probabilities outside [0, 1] are errors."""
    got = lifecycle_from_p_alive(
        [0.95, 0.5, 0.2, 0.05, 0.9, 0.5], [4, 4, 4, 4, 1, 0], [300, 300, 300, 300, 5, np.nan]
    )
    assert got.tolist() == ["active", "at-risk", "lapsed", "churned", "new", ""]
    with pytest.raises(InvalidInputError, match="above 1"):
        lifecycle_from_p_alive([1.5], [1], [1])


def test_transitions_between_snapshots() -> None:
    """Moves between two snapshots are counted, listed, and absences show as ''."""
    tr = transitions(
        ["a", "b", "c"], ["Loyal", "Loyal", "New"], ["b", "c", "d"], ["At risk", "Loyal", "New"]
    )
    assert tr.who("Loyal", "At risk").tolist() == ["b"]
    assert tr.count("Loyal", "") == 1
    assert tr.count("", "New") == 1
    labels, counts = tr.matrix()
    assert counts.sum() == 4
    assert labels.tolist() == ["", "At risk", "Loyal", "New"]


def test_kmeans_recovers_three_blobs_and_reports_k() -> None:
    """On three separated blobs both silhouette and elbow choose k=3 and recover the groups."""
    rng = np.random.default_rng(0)
    centers = np.array([[0, 0], [8, 0], [0, 8]], dtype=float)
    truth = np.repeat(np.arange(3), 200)
    x = centers[truth] + rng.normal(0, 1, (600, 2))
    table = {"recency": x[:, 0] * 10 + 50, "spend": x[:, 1] * 1000 + 5000}
    for selection in ("silhouette", "elbow"):
        res = cluster_customers(table, k_range=(2, 6), selection=selection, rng=1)
        assert res.k == 3
        assert set(res.scores) == {2, 3, 4, 5, 6}
        # Each true blob maps to one label (a permutation), up to a handful of overlaps.
        agree = sum(np.bincount(res.labels[truth == j]).max() for j in range(3))
        assert agree >= 594  # blobs 8 sd apart: overlap probability per point ~ 1e-4
        assert res.centers.shape == (3, 2)


def test_profiles_sizes_shares_and_medians() -> None:
    """Profiles give size, revenue share and the grouped median of each numeric column."""
    rng = np.random.default_rng(2)
    lab = rng.choice(np.array(["A", "B", "C"]), 500)
    spend = rng.gamma(2, 100, 500)
    p = segment_profiles(lab, {"monetary_minor": spend, "n": rng.integers(0, 9, 500)})
    for i, s in enumerate(p.segments):
        assert p.size[i] == (lab == s).sum()
        assert p.medians["monetary_minor"][i] == np.median(spend[lab == s])
    assert p.revenue_share.sum() == pytest.approx(1.0)


def test_constant_columns_cannot_be_standardized() -> None:
    """Clustering on a constant column is an error naming it."""
    with pytest.raises(InvalidInputError, match="constant"):
        cluster_customers({"a": [1.0, 1.0, 1.0], "b": [1.0, 2.0, 3.0]}, k=2, rng=0)
