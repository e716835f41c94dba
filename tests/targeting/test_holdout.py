"""Holdouts: deterministic salted-hash assignment, stratification and the sample-ratio check."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from crmkit.errors import InvalidInputError
from crmkit.targeting import assign_holdout, hash_unit

IDS = np.array([f"cust-{i:06d}" for i in range(50_000)])


def test_hash_is_uniform() -> None:
    """The hash is uniform on [0, 1): a 20-bin chi-square test does not reject at 0.1%."""
    u = hash_unit(IDS, salt="campaign-1")
    counts = np.bincount((u * 20).astype(int), minlength=20)
    assert stats.chisquare(counts).pvalue > 1e-3


def test_salts_give_independent_draws() -> None:
    """Different campaign salts give uncorrelated draws (|r| < 4 standard errors)."""
    a, b = hash_unit(IDS, salt="c1"), hash_unit(IDS, salt="c2")
    assert abs(np.corrcoef(a, b)[0, 1]) < 4 / np.sqrt(IDS.size)


def test_assignment_is_stable_across_runs_and_audience_changes() -> None:
    """A customer's group depends on id and salt only, not on order or the other members."""
    full = assign_holdout(IDS, salt="s")
    rng = np.random.default_rng(0)
    sub_idx = rng.choice(IDS.size, 5000, replace=False)
    sub = assign_holdout(IDS[sub_idx][::-1], salt="s")
    lookup = dict(zip(full.customer_id.tolist(), full.group.tolist(), strict=True))
    assert all(lookup[c] == g for c, g in zip(sub.customer_id, sub.group, strict=True))


def test_fractions_are_met_within_binomial_error() -> None:
    """Control share is within 4 binomial standard errors of the 10% asked for."""
    a = assign_holdout(IDS, salt="s", fractions={"treatment": 0.9, "control": 0.1})
    share = a.counts()["control"] / IDS.size
    assert abs(share - 0.1) < 4 * np.sqrt(0.1 * 0.9 / IDS.size)
    assert not a.check().mismatch


def test_stratified_assignment_splits_every_stratum_exactly() -> None:
    """With strata, each stratum's control count is round(fraction × size) within one."""
    rng = np.random.default_rng(1)
    strata = rng.choice(["gold", "silver", "bronze"], IDS.size, p=[0.05, 0.25, 0.7])
    a = assign_holdout(IDS, salt="s", fractions={"t": 0.8, "c": 0.2}, strata=strata)
    for s in ("gold", "silver", "bronze"):
        m = strata == s
        assert abs(int((a.group[m] == "c").sum()) - 0.2 * m.sum()) <= 1


def test_sample_ratio_check_flags_a_broken_split() -> None:
    """Counts as logged, 52/48 against an intended 50/50 of 10,000, are flagged; 50.3/49.7 not."""
    a = assign_holdout(IDS[:10_000], salt="s", fractions={"t": 0.5, "c": 0.5})
    assert a.check({"t": 5200, "c": 4800}).mismatch
    assert not a.check({"t": 5030, "c": 4970}).mismatch


def test_sample_ratio_check_false_alarm_rate_on_fresh_salts() -> None:
    """Over 200 campaigns' salts the check raises alarms at about its 0.1% rate (at most 2)."""
    ids = IDS[:10_000]
    alarms = sum(assign_holdout(ids, salt=f"campaign-{i}").check().mismatch for i in range(200))
    assert alarms <= 2  # expected 0.2; P(> 2) under Binomial(200, 0.001) is about 0.001


def test_fractions_must_sum_to_one() -> None:
    """Fractions that do not add up are an error naming the argument."""
    with pytest.raises(InvalidInputError, match="fractions"):
        assign_holdout(["a"], salt="s", fractions={"t": 0.5, "c": 0.2})
