"""Published experiments: Hillstrom's MineThatData e-mail test and the social-pressure mailing."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from crmkit.experiments import (
    TwoModelUplift,
    analyze_experiment,
    evaluate_uplift,
    qini_auc_score,
    sample_ratio_test,
)

pytestmark = pytest.mark.refdata

# Hillstrom (2008), "The MineThatData E-Mail Analytics And Data Mining Challenge": 64,000
# customers; visit / conversion / spend per customer by arm, published rounded as shown.
PUBLISHED_HILLSTROM = {
    "Mens E-Mail": (21_307, 0.183, 0.0125, 1.42),
    "Womens E-Mail": (21_387, 0.151, 0.0088, 1.08),
    "No E-Mail": (21_306, 0.106, 0.0057, 0.65),
}
# Gerber, Green & Larimer (2008), APSR 102(1), Table 2: households' members per arm and turnout.
PUBLISHED_GGL = {
    "Control": (191_243, 0.297),
    "Civic Duty": (38_218, 0.315),
    "Hawthorne": (38_204, 0.322),
    "Self": (38_218, 0.345),
    "Neighbors": (38_201, 0.378),
}


def test_hillstrom_arm_sizes_and_rates_match_the_published_figures(hillstrom):
    """Arm sizes are exact; rates agree with the published ones to their rounding (half a unit)."""
    res = analyze_experiment(
        hillstrom["segment"],
        control="No E-Mail",
        converted=hillstrom["visit"],
        value=hillstrom["spend"],
    )
    assert int(res.n.sum()) == 64_000
    conv = analyze_experiment(
        hillstrom["segment"], control="No E-Mail", converted=hillstrom["conversion"]
    )
    for i, arm in enumerate(res.arms):
        n, visit, conversion, spend = PUBLISHED_HILLSTROM[arm]
        assert res.n[i] == n
        assert res.conversion_rate[i] == pytest.approx(visit, abs=0.0005)
        assert conv.conversion_rate[i] == pytest.approx(conversion, abs=0.00005)
        assert res.mean_value[i] == pytest.approx(spend, abs=0.005)


def test_hillstrom_tests_agree_with_scipy(hillstrom):
    """z^2 equals scipy's uncorrected chi-square, Welch matches ttest_ind to 1e-10 relative."""
    seg, visit, spend = hillstrom["segment"], hillstrom["visit"], hillstrom["spend"]
    res = analyze_experiment(seg, control="No E-Mail", converted=visit, value=spend)
    ctl = seg == "No E-Mail"
    for comp in res.comparisons:
        arm = seg == comp.arm
        table = [
            [visit[arm].sum(), (1 - visit[arm]).sum()],
            [visit[ctl].sum(), (1 - visit[ctl]).sum()],
        ]
        chi2, p, _, _ = stats.chi2_contingency(table, correction=False)
        assert comp.conversion.z**2 == pytest.approx(chi2, rel=1e-10)
        assert comp.conversion.p_value == pytest.approx(p, rel=1e-8)
        ref = stats.ttest_ind(spend[arm], spend[ctl], equal_var=False)
        ci = ref.confidence_interval(0.95)
        assert comp.value.t == pytest.approx(ref.statistic, rel=1e-10)
        assert comp.value.p_value == pytest.approx(ref.pvalue, rel=1e-8)
        assert comp.value.df == pytest.approx(ref.df, rel=1e-10)
        assert (comp.value.ci_low, comp.value.ci_high) == pytest.approx(
            (ci.low, ci.high), rel=1e-10
        )
        # Both e-mails lift visits by 4.5 to 7.7 points: far beyond chance.
        assert comp.conversion_p_adjusted < 1e-40
        assert comp.bayes.probability_to_beat_control > 0.999999


def test_hillstrom_sample_ratio_matches_scipy_chisquare(hillstrom):
    """The planned 1/3 split holds (no mismatch); chi-square equals scipy.stats.chisquare."""
    _, counts = np.unique(hillstrom["segment"], return_counts=True)
    srm = sample_ratio_test(counts)
    ref = stats.chisquare(counts)
    assert srm.chi2 == pytest.approx(ref.statistic, rel=1e-12)
    assert srm.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    assert not srm.mismatch


def test_hillstrom_roi_follows_the_spend_difference(hillstrom):
    """ROI per arm is (spend lift x n x margin - cost) / cost with the observed means."""
    seg, spend = hillstrom["segment"], hillstrom["spend"]
    res = analyze_experiment(
        seg, control="No E-Mail", value=spend, cost_per_contact=0.10, margin=0.5
    )
    roi = res.comparison("Mens E-Mail").roi
    n = int((seg == "Mens E-Mail").sum())
    lift = spend[seg == "Mens E-Mail"].mean() - spend[seg == "No E-Mail"].mean()
    assert roi.roi == pytest.approx((lift * n * 0.5 - 0.1 * n) / (0.1 * n), rel=1e-12)
    assert "ROI" in res.summary()


def test_hillstrom_two_model_uplift_ranks_better_than_random(hillstrom):
    """A T-learner on five features, scored on held-out rows, has a positive Qini coefficient."""
    seg = hillstrom["segment"]
    keep = seg != "Mens E-Mail"
    x = np.column_stack(
        [
            np.log1p(hillstrom[c][keep]) if c in ("history", "recency") else hillstrom[c][keep]
            for c in ("recency", "history", "mens", "womens", "newbie")
        ]
    )
    y, t = hillstrom["visit"][keep], (seg[keep] == "Womens E-Mail").astype(int)
    train = np.arange(y.size) % 2 == 0
    fit = TwoModelUplift().fit(x[train], y[train], t[train])
    score = fit.predict(x[~train])
    q = qini_auc_score(y[~train], score, t[~train])
    ev = evaluate_uplift(y[~train], score, t[~train], n_resamples=50, rng=1)
    assert ev.qini_auc.estimate == pytest.approx(q, rel=1e-12)
    assert ev.qini_auc.low > 0


def test_social_pressure_multi_arm_matches_the_published_table(social_pressure):
    """Five arms: sizes exact, turnout within published rounding, all four letters significant."""
    res = analyze_experiment(
        social_pressure["arm"],
        control="Control",
        converted=social_pressure["voted"],
        correction="holm",
    )
    for i, arm in enumerate(res.arms):
        n, turnout = PUBLISHED_GGL[arm]
        assert res.n[i] == n
        assert res.conversion_rate[i] == pytest.approx(turnout, abs=0.0005)
    raw = np.array([c.conversion.p_value for c in res.comparisons])
    adjusted = np.array([c.conversion_p_adjusted for c in res.comparisons])
    order = np.argsort(raw)
    expected = np.maximum.accumulate(raw[order] * (4 - np.arange(4)))
    assert adjusted[order] == pytest.approx(np.minimum(expected, 1), rel=1e-12)
    assert (adjusted < 1e-10).all()
    best = max(res.comparisons, key=lambda c: c.conversion.difference)
    assert best.arm == "Neighbors"
    assert best.conversion.difference == pytest.approx(0.081, abs=0.001)
