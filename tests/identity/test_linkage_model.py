"""Fellegi–Sunter: EM on simulated comparison vectors, term frequencies, explanations, JSON."""

from __future__ import annotations

import numpy as np
import pytest

import crmkit.identity.linkage as lk
from crmkit.errors import InvalidInputError
from crmkit.identity.linkage._em import em, patterns_of


def test_em_recovers_known_m_and_u_from_simulated_vectors() -> None:
    """EM without labels recovers m, u and the match share of a simulated 3-comparison mixture."""
    rng = np.random.default_rng(7)
    n, p = 200_000, 0.1
    m_true = [np.array([0.85, 0.1, 0.05]), np.array([0.9, 0.1]), np.array([0.7, 0.2, 0.1])]
    u_true = [np.array([0.02, 0.08, 0.9]), np.array([0.1, 0.9]), np.array([0.05, 0.15, 0.8])]
    match = rng.random(n) < p
    levels = np.empty((n, 3), np.int8)
    for c in range(3):
        k = m_true[c].size
        levels[match, c] = rng.choice(k, int(match.sum()), p=m_true[c])
        levels[~match, c] = rng.choice(k, int((~match).sum()), p=u_true[c])
    levels[rng.random(n) < 0.2, 2] = -1  # missing at random: must not bias the estimates
    res = em(
        patterns_of(levels),
        [3, 2, 3],
        m_start=[np.array([0.6, 0.3, 0.1]), np.array([0.6, 0.4]), np.array([0.6, 0.3, 0.1])],
        u_start=[np.full(3, 1 / 3), np.full(2, 0.5), np.full(3, 1 / 3)],
        p_start=0.3,
    )
    # 20,000 simulated matches: the standard error of an m near 0.1 is ~0.002, of p ~0.0007;
    # 0.01 (5 standard errors) leaves room for the mixture's identification noise
    assert res.converged
    assert abs(res.p - p) < 0.01
    for c in range(3):
        np.testing.assert_allclose(res.m[c], m_true[c], atol=0.01)
        np.testing.assert_allclose(res.u[c], u_true[c], atol=0.01)


def _population(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    common = np.array(["smith", "jones", "brown"])
    rare = np.char.add("zz", rng.integers(0, 5000, n).astype(str))
    surname = np.where(rng.random(n) < 0.5, common[rng.integers(0, 3, n)], rare)
    dob = np.char.add("19", rng.integers(100000, 999999, n).astype(str))
    return {"surname": surname, "dob": dob}


def test_tf_adjustment_ranks_rare_name_agreement_above_common() -> None:
    """With term frequencies, agreeing on a rare surname weighs more than on a common one."""
    recs = _population(2000, 1)
    t = lk.read_table(recs)
    model = lk.FellegiSunter(
        comparisons=[
            lk.NameComparison(column="surname", term_frequency=True),
            lk.DateComparison(column="dob"),
        ],
        blocking=lk.Blocking(rules=[lk.BlockingRule(columns="surname")]),
        u_pairs=50_000,
    )
    fit = model.fit(t, rng=0)
    sur = recs["surname"]
    common = np.flatnonzero(sur == "smith")[:2]
    rare_vals, counts = np.unique(sur[np.char.startswith(sur, "zz")], return_counts=True)
    rare = np.flatnonzero(sur == rare_vals[np.argmax(counts == 2)])[:2]
    s = fit.score(t, fit.compare(t, a=[common[0], rare[0]], b=[common[1], rare[1]]))
    assert (s.levels[:, 0] == 0).all()
    assert s.contributions[1, 0] > s.contributions[0, 0] + 5  # ~log2(share smith / share rare)
    assert s.tf_adjustment[0, 0] < 0 < s.tf_adjustment[1, 0]


def test_explanations_sum_to_the_match_weight() -> None:
    """Prior plus every contribution (term frequency included) is the match weight, per pair."""
    recs = _population(1500, 2)
    t = lk.read_table(recs)
    model = lk.FellegiSunter(
        comparisons=[
            lk.NameComparison(column="surname", term_frequency=True),
            lk.DateComparison(column="dob"),
        ],
        blocking=lk.Blocking(rules=[lk.BlockingRule(columns="surname")]),
        u_pairs=20_000,
    )
    fit = model.fit(t, rng=0)
    s = fit.score(t, model.candidates(t))
    np.testing.assert_allclose(s.prior + s.contributions.sum(axis=1), s.match_weight, atol=1e-9)
    w = s.waterfall(3)
    assert w.cumulative[-1] == pytest.approx(s.match_weight[3], abs=1e-9)
    p = 1 / (1 + 2.0 ** (-s.match_weight))
    np.testing.assert_allclose(s.match_probability, p, rtol=1e-12)


def test_missing_values_are_neutral() -> None:
    """A missing value contributes exactly 0 to the match weight."""
    fit = lk.FellegiSunterFit.from_parameters(
        comparisons=[lk.ExactMatch(column="email"), lk.ExactMatch(column="phone")],
        m=[[0.9, 0.1], [0.9, 0.1]],
        u=[[0.01, 0.99], [0.01, 0.99]],
        prior=0.001,
    )
    t = lk.read_table({"email": ["a@x", "a@x", "a@x"], "phone": ["1", "", "2"]})
    s = fit.score(t, fit.compare(t, a=[0, 0], b=[1, 2]))
    assert s.levels[0, 1] == -1
    assert s.contributions[0, 1] == 0.0
    assert s.contributions[1, 1] < 0


def test_model_round_trips_through_json() -> None:
    """A trained fit serializes to JSON and scores the same pairs identically after loading."""
    recs = _population(800, 3)
    t = lk.read_table(recs)
    model = lk.FellegiSunter(
        comparisons=[
            lk.NameComparison(column="surname", term_frequency=True),
            lk.DateComparison(column="dob"),
        ],
        blocking=lk.Blocking(rules=[lk.BlockingRule(columns="surname")]),
        u_pairs=10_000,
    )
    fit = model.fit(t, rng=0)
    back = lk.FellegiSunterFit.from_json(fit.to_json())
    cand = model.candidates(t)
    np.testing.assert_array_equal(back.score(t, cand).match_weight, fit.score(t, cand).match_weight)
    assert back.comparisons == fit.comparisons


def test_fit_rejects_probabilities_that_do_not_fit_the_levels() -> None:
    """A fit with the wrong number of level probabilities is refused, naming the comparison."""
    with pytest.raises(InvalidInputError, match="email"):
        lk.FellegiSunterFit.from_parameters(
            comparisons=[lk.ExactMatch(column="email")], m=[[1.0]], u=[[0.5, 0.5]], prior=0.1
        )


def test_calibration_picks_the_f1_best_threshold() -> None:
    """Labels move the threshold to the probability that maximises pairwise F1."""
    fit = lk.FellegiSunterFit.from_parameters(
        comparisons=[lk.StringComparison(column="name", thresholds=(0.85,))],
        m=[[0.6, 0.3, 0.1]],
        u=[[0.001, 0.01, 0.989]],
        prior=0.01,
    )
    t = lk.read_table({"name": ["anna", "anna", "annb", "zzzz"]})
    s = fit.score(t, fit.compare(t, a=[0, 0, 0], b=[1, 2, 3]))
    best = fit.calibrate(s, [0, 0], [1, 2])  # both similar names are true matches
    assert s.match_probability[2] < best.threshold <= s.match_probability[1]
