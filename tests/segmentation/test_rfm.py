"""RFM scoring contract and the two presets' conventions on small hand-computed examples."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from crmkit.errors import InvalidInputError
from crmkit.segmentation import (
    DEFAULT_SEGMENT_MAP,
    PYMC_MARKETING_SEGMENT_MAP,
    RFM_PACKAGE_SEGMENT_MAP,
    RFMScoring,
    RFMSegmentMap,
    rfm_scores,
    rfm_segments,
    score_column,
)

DAY0 = np.datetime64("2024-01-01", "us")


def days(*d: float) -> np.ndarray:
    return DAY0 + (np.asarray(d) * 86_400_000_000).astype("timedelta64[us]")


def test_ntile_sizes_differ_by_at_most_one_larger_first() -> None:
    """NTILE over 7 distinct values in 5 bins gives sizes 2, 2, 1, 1, 1 in value order."""
    s = score_column([70, 10, 60, 20, 50, 30, 40], RFMScoring(ties="first"))
    assert s.tolist() == [5, 1, 4, 1, 3, 2, 2]


def test_average_ties_share_a_score_and_ignore_input_order() -> None:
    """With ties='average' equal values share a score and a permutation permutes the scores."""
    x = np.array([5, 1, 1, 1, 2, 9, 9, 3, 1, 7])
    s = score_column(x, RFMScoring())
    for value in np.unique(x):
        assert np.unique(s[x == value]).size == 1
    perm = np.random.default_rng(0).permutation(x.size)
    assert np.array_equal(score_column(x[perm], RFMScoring()), s[perm])


def test_first_ties_follow_input_order() -> None:
    """With ties='first' the earlier of two equal values gets the lower score at a border."""
    assert score_column([1, 1], RFMScoring(bins=2, ties="first")).tolist() == [1, 2]


def test_quantile_and_fixed_binning() -> None:
    """Quantile bins are right-closed at interpolated edges; fixed cuts put equality low."""
    q = score_column([1, 2, 3, 4, 5], RFMScoring(bins=4, binning="quantile"))
    assert q.tolist() == [1, 1, 2, 3, 4]
    fixed = RFMScoring(
        bins=3,
        binning="fixed",
        monetary_cuts=(10, 100),
        recency_cuts=(30, 90),
        frequency_cuts=(1, 3),
    )
    r, f, m = rfm_scores([10, 30, 200], [1, 2, 5], [10, 11, 1000], scoring=fixed)
    assert r.tolist() == [3, 3, 1]
    assert f.tolist() == [1, 2, 3]
    assert m.tolist() == [1, 2, 3]


def test_default_map_partitions_every_score() -> None:
    """crmkit's default map names every one of the 125 codes (no fallback needed)."""
    r, f, m = (np.array(c) for c in zip(*itertools.product(range(1, 6), repeat=3), strict=True))
    seg = DEFAULT_SEGMENT_MAP.assign(r, f, m)
    assert "Other" not in set(seg.tolist())
    assert set(seg.tolist()) == set(DEFAULT_SEGMENT_MAP.segments) - {"Other"}


def test_rfm_package_rule_chain_order() -> None:
    """The rfm chain is first-match: 553 is Loyal Accounts, 515 Promising, 511 Low Spenders."""
    got = RFM_PACKAGE_SEGMENT_MAP.assign([5, 5, 5, 5, 3, 1], [5, 1, 1, 4, 1, 5], [3, 5, 1, 5, 4, 2])
    assert got.tolist() == [
        "Loyal Accounts",
        "Promising",
        "New Active Accounts",
        "Champions",
        "Need Attention",
        "Lost",
    ]
    r, f, m = (np.array(c) for c in zip(*itertools.product(range(1, 6), repeat=3), strict=True))
    assert "Unclassified" not in set(RFM_PACKAGE_SEGMENT_MAP.assign(r, f, m).tolist())


def test_rfm_preset_rank_quintiles_with_six_customers() -> None:
    """rfm preset: 6 distinct values -> ranks 1..6 cut at 1,2,3,4,5,6 give bins 1,1,2,3,4,5."""
    ids = ["a", "b", "c", "d", "e", "f"]
    res = rfm_segments(ids, days(0, 1, 2, 3, 4, 5), [10, 20, 30, 40, 50, 60], preset="rfm")
    assert res.m_score.tolist() == [1, 1, 2, 3, 4, 5]
    # Recency reversed: f (0 days) and e (1 day) share the top bin, a (5 days) scores 1.
    assert res.recency_days.tolist() == [5, 4, 3, 2, 1, 0]
    assert res.r_score.tolist() == [1, 2, 3, 4, 5, 5]


def test_rfm_preset_ties_by_string_id_and_dedup() -> None:
    """rfm preset: ties rank by id as a string (10 before 2); identical rows count once."""
    res = rfm_segments(
        [2, 10, 3, 4, 5, 2], days(0, 0, 0, 0, 0, 0), [7, 7, 1, 2, 3, 7], preset="rfm"
    )
    assert res.customer_id.tolist() == ["10", "2", "3", "4", "5"]
    assert res.frequency.tolist() == [1, 1, 1, 1, 1]  # the repeated (2, day 0, 7) row is dropped
    # monetary 7, 7, 1, 2, 3: ranks by (value, id string): 10 -> 4, 2 -> 5.
    assert res.m_score.tolist() == [4, 5, 1, 2, 3]


def test_rfm_preset_recency_is_floored_days() -> None:
    """rfm preset: recency counts whole days (floor) back from the latest transaction."""
    t = np.array(
        ["2024-01-01T23:00", "2024-01-03T01:00", "2024-01-03T02:00", "2024-01-02", "2024-01-01"],
        "datetime64[us]",
    )
    res = rfm_segments(["a", "b", "c", "d", "e"], t, [1, 2, 3, 4, 5], preset="rfm")
    assert res.recency_days.tolist() == [1.0, 0.0, 0.0, 1.0, 2.0]


def test_pymc_preset_quartiles_days_and_fallback() -> None:
    """pymc preset: day-level frequency and mean spend, quartile bins, merged bins on ties."""
    ids = ["a", "a", "a", "a", "b", "b", "c", "d", "e", "f"]
    t = days(0, 0, 2, 4, 1, 4, 2, 3, 4, 4)
    res = rfm_segments(ids, t, [10, 30, 20, 50, 5, 7, 6, 7, 8, 9], preset="pymc-marketing")
    # a bought twice on day 0: one purchase day worth 40, so 3 days and (40 + 20 + 50) / 3.
    assert res.frequency.tolist() == [3, 2, 1, 1, 1, 1]
    assert res.monetary.tolist() == [110 / 3, 6.0, 6.0, 7.0, 8.0, 9.0]
    # Monetary edges 6, 6.25, 7.5, 8.75, 36.67: right-closed quartiles.
    assert res.m_score.tolist() == [4, 1, 1, 2, 3, 4]
    # Frequency edges 1, 1, 1, 1.75, 3 merge to 2 bins labelled 1, 2.
    assert res.f_score.tolist() == [2, 2, 1, 1, 1, 1]
    # Recency 0, 0, 2, 1, 0, 0: edges 0, 0, 0, 0.75, 2 -> 2 bins, reversed labels 2 / 1.
    assert res.recency_days.tolist() == [0.0, 0.0, 2.0, 1.0, 0.0, 0.0]
    assert res.r_score.tolist() == [2, 2, 1, 1, 2, 2]
    assert res.segment.tolist()[2] == "Inactive Customer"  # code 111


def test_pymc_preset_fails_like_pymc_when_edges_collapse() -> None:
    """pymc preset: a column with a single distinct quartile edge is an error, as in pymc."""
    with pytest.raises(InvalidInputError, match="quartiles"):
        rfm_segments(["a", "b", "c"], days(0, 0, 0), [1, 2, 3], preset="pymc-marketing")


def test_score_lists_later_segment_wins_and_unlisted_is_other() -> None:
    """A code listed under two segments goes to the later one; unlisted codes are Other."""
    m = RFMSegmentMap.from_score_lists({"A": ["111"], "B": ["111", "222"]})
    assert m.assign([1, 2, 3], [1, 2, 3], [1, 2, 3]).tolist() == ["B", "B", "Other"]
    assert PYMC_MARKETING_SEGMENT_MAP.assign([4], [4], [4]).tolist() == ["Premium Customer"]
    assert PYMC_MARKETING_SEGMENT_MAP.assign([1], [4], [1]).tolist() == ["Other"]


def test_rejects_future_rows_and_unknown_preset() -> None:
    """Transactions after as_of and unknown presets are errors."""
    with pytest.raises(InvalidInputError, match="after as_of"):
        rfm_segments(["a"], days(5), [1], as_of=DAY0)
    with pytest.raises(InvalidInputError, match="preset"):
        rfm_segments(["a"], days(0), [1], preset="excel")  # type: ignore[arg-type]
