"""Uplift models recover known effects; metrics keep their conventions, ties and resampling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmkit.errors import InvalidInputError
from crmkit.experiments import (
    CellUplift,
    ClassTransformationUplift,
    LogisticRegression,
    TwoModelUplift,
    auuc_score,
    evaluate_uplift,
    get_qini,
    perfect_qini_curve,
    qini_auc_score,
    qini_curve,
    qini_score,
    uplift_at_k,
    uplift_auc_score,
    uplift_by_percentile,
    uplift_curve,
)
from crmkit.experiments._causalml import _pandas_desc_order


def simulate(n: int, seed: int, treated_share: float = 0.5):
    """Outcome with a known uplift 0.15 * x1 on the probability scale (logit model per arm)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    t = (rng.random(n) < treated_share).astype(int)
    p0 = 1 / (1 + np.exp(-(-1.0 + 0.5 * x[:, 1])))
    p1 = 1 / (1 + np.exp(-(-1.0 + 0.5 * x[:, 1] + 0.8 * x[:, 0])))
    y = (rng.random(n) < np.where(t == 1, p1, p0)).astype(int)
    return x, y, t, p1 - p0


def test_logistic_regression_recovers_known_coefficients():
    """On 20,000 rows the fitted coefficients are within 4 standard errors (~0.1) of the truth."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(20_000, 2))
    y = (rng.random(20_000) < 1 / (1 + np.exp(-(0.3 + 1.0 * x[:, 0] - 0.7 * x[:, 1])))).astype(int)
    fit = LogisticRegression(l2=0.0).fit(x, y)
    assert fit.intercept == pytest.approx(0.3, abs=0.08)
    assert fit.coef == pytest.approx([1.0, -0.7], abs=0.1)


def test_weights_equal_duplicated_rows_and_l2_shrinks():
    """Weight 2 on a row equals the row twice; a large L2 penalty shrinks coefficients to zero."""
    x, y, _, _ = simulate(500, 4)
    w = np.where(np.arange(500) < 100, 2.0, 1.0)
    weighted = LogisticRegression(l2=0.5).fit(x, y, w)
    dup = LogisticRegression(l2=0.5).fit(np.vstack([x, x[:100]]), np.r_[y, y[:100]])
    assert weighted.coef == pytest.approx(dup.coef, abs=1e-6)
    assert np.abs(LogisticRegression(l2=1e6).fit(x, y).coef).max() < 1e-3


def test_two_model_and_class_transformation_recover_the_true_uplift():
    """On 40,000 rows with a 30% treated share both models track the true uplift (corr > 0.9)."""
    x, y, t, tau = simulate(40_000, 7, treated_share=0.3)
    two = TwoModelUplift(base=LogisticRegression(l2=0.0)).fit(x, y, t).predict(x)
    ct = ClassTransformationUplift(base=LogisticRegression(l2=0.0)).fit(x, y, t).predict(x)
    assert np.corrcoef(two, tau)[0, 1] > 0.95
    assert np.corrcoef(ct, tau)[0, 1] > 0.9
    # Reweighting makes the class transformation unbiased for the mean effect under any split.
    assert ct.mean() == pytest.approx(tau.mean(), abs=0.02)


def test_two_model_handles_several_treatments():
    """With arms 'a' and 'b' against 'ctl', each column estimates its own arm's effect."""
    rng = np.random.default_rng(9)
    n = 30_000
    x = rng.normal(size=(n, 1))
    arm = rng.choice(np.array(["ctl", "a", "b"]), n)
    logit = -1 + np.where(arm == "a", 0.5, 0.0) + np.where(arm == "b", -0.5, 0.0)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    fit = TwoModelUplift().fit(x, y, arm, control="ctl")
    assert fit.arms == ("ctl", "a", "b")
    both = fit.predict_all(x)
    truth_a = 1 / (1 + np.exp(0.5)) - 1 / (1 + np.exp(1))
    assert both[:, 0].mean() == pytest.approx(truth_a, abs=0.02)
    assert both[:, 1].mean() < 0
    assert fit.predict(x, arm="b") == pytest.approx(both[:, 1])
    with pytest.raises(InvalidInputError, match="arm"):
        fit.predict(x)
    with pytest.raises(InvalidInputError, match="several"):
        ClassTransformationUplift().fit(x, y, arm, control="ctl")


def test_cell_uplift_equals_rates_per_cell():
    """Per-cell uplift is the difference of plain means per cell, with the unpooled SE."""
    rng = np.random.default_rng(1)
    cells = rng.choice(np.array(["new", "loyal"]), 5000)
    t = rng.integers(0, 2, 5000)
    y = rng.integers(0, 2, 5000)
    fit = CellUplift().fit(cells, y, t)
    for c in ("new", "loyal"):
        m = cells == c
        a, b = y[m & (t == 0)], y[m & (t == 1)]
        i = fit.cells.index(c)
        assert fit.uplift[i, 0] == pytest.approx(b.mean() - a.mean())
        se = np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
        assert fit.se[i, 0] == pytest.approx(se)
    with pytest.raises(InvalidInputError, match="not seen"):
        fit.predict(["vip"])


def test_perfect_ranking_scores_one_and_reversal_scores_negative():
    """Ranking by the true per-row effect gives Qini AUC 1; the reverse ranking is negative."""
    y = np.array([1, 1, 0, 0, 0, 1, 0, 0])
    t = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    best = y * t - y * (1 - t)
    assert qini_auc_score(y, best, t) == pytest.approx(1.0)
    assert qini_auc_score(y, -best, t) < 0
    x, q = perfect_qini_curve(y, t)
    assert (x, q) == (pytest.approx(qini_curve(y, best, t)[0]), pytest.approx(q))


def test_curves_do_not_depend_on_the_order_inside_ties():
    """Permuting rows leaves scikit-uplift-convention curves and areas unchanged, ties included."""
    rng = np.random.default_rng(6)
    y, t = rng.integers(0, 2, 300), rng.integers(0, 2, 300)
    s = rng.integers(0, 5, 300).astype(float)
    p = rng.permutation(300)
    for fn in (qini_curve, uplift_curve):
        a, b = fn(y, s, t), fn(y[p], s[p], t[p])
        assert a[0] == pytest.approx(b[0]) and a[1] == pytest.approx(b[1], abs=1e-12)
    assert uplift_auc_score(y, s, t) == pytest.approx(uplift_auc_score(y[p], s[p], t[p]))
    assert qini_curve(y, s, t)[0].size == 6  # origin plus one point per distinct score


def test_uplift_at_k_cuts_ties_in_reversed_stable_order():
    """With all scores tied the top k are the last k rows (stable sort, reversed)."""
    y = np.array([1, 0, 0, 1, 1, 0])
    t = np.array([1, 0, 1, 0, 1, 0])
    s = np.zeros(6)
    # Top 3 = rows 5, 4, 3: treated row 4 (y=1); control rows 5 (0), 3 (1).
    assert uplift_at_k(y, s, t, "overall", 3) == pytest.approx(1.0 - 0.5)
    with pytest.raises(InvalidInputError, match="k"):
        uplift_at_k(y, s, t, "overall", 1.5)


def test_continuous_outcomes_are_scored():
    """Spend as the outcome: Qini uses sums of spend; the uplift AUC needs a binary outcome."""
    rng = np.random.default_rng(12)
    t = rng.integers(0, 2, 2000)
    s = rng.random(2000)
    spend = rng.gamma(2.0, 10.0, 2000) * (1 + t * s)
    assert qini_auc_score(spend, s, t) > 0
    ev = evaluate_uplift(spend, s, t, n_resamples=30, rng=0)
    assert ev.uplift_auc is None
    assert ev.qini_auc.estimate == pytest.approx(qini_auc_score(spend, s, t))
    with pytest.raises(InvalidInputError, match="y_true"):
        uplift_auc_score(spend, s, t)


def test_bootstrap_replicate_equals_the_metric_on_the_resampled_rows():
    """The weighted fast path gives exactly the metric of explicitly resampled data."""
    _, y, t, tau = simulate(3000, 21)
    s = np.round(tau + 0.05 * np.random.default_rng(0).normal(size=3000), 2)
    ev = evaluate_uplift(y, s, t, n_resamples=2, rng=5)
    assert ev.qini_auc.estimate == pytest.approx(qini_auc_score(y, s, t), rel=1e-12)
    assert ev.uplift_auc is not None
    assert ev.uplift_auc.estimate == pytest.approx(uplift_auc_score(y, s, t), rel=1e-12)
    assert ev.uplift_at_k.estimate == pytest.approx(uplift_at_k(y, s, t, "overall", 0.3))
    # Both replicates rebuilt by hand as explicit resamples: the same multinomial draw of the
    # count of each (tied-score run, outcome, treatment) cell, each count a copy of such a row.
    order = np.argsort(s, kind="mergesort")[::-1]
    ss = s[order]
    ends = np.r_[np.flatnonzero(np.diff(ss)), ss.size - 1]
    key = np.searchsorted(ends, np.arange(3000)) * 4 + 2 * y[order] + t[order]
    counts = np.bincount(key, minlength=4 * ends.size)
    representative = np.zeros(counts.size, dtype=np.intp)
    representative[key] = order  # any row of the cell stands for all of them
    gen = np.random.default_rng(5)
    q_draws, u_draws = [], []
    for _ in range(2):
        rows = np.repeat(representative, gen.multinomial(3000, counts / 3000))
        q_draws.append(qini_auc_score(y[rows], s[rows], t[rows]))
        u_draws.append(uplift_auc_score(y[rows], s[rows], t[rows]))
    assert ev.qini_auc.low == pytest.approx(np.quantile(q_draws, 0.025), rel=1e-10)
    assert ev.qini_auc.high == pytest.approx(np.quantile(q_draws, 0.975), rel=1e-10)
    assert ev.uplift_auc.low == pytest.approx(np.quantile(u_draws, 0.025), rel=1e-10)
    assert evaluate_uplift(y, s, t, n_resamples=2, rng=5).qini_auc == ev.qini_auc


def test_grouped_bootstrap_agrees_with_the_exact_one():
    """Merging 20,000 distinct scores into 500 groups moves the 90% bounds by < 10% of the width."""
    _, y, t, tau = simulate(20_000, 8)
    s = tau + 0.05 * np.random.default_rng(1).normal(size=20_000)
    exact = evaluate_uplift(y, s, t, n_resamples=300, rng=3, level=0.9, resolution=20_000)
    grouped = evaluate_uplift(y, s, t, n_resamples=300, rng=3, level=0.9, resolution=500)
    assert grouped.qini_auc.estimate == exact.qini_auc.estimate
    width = exact.qini_auc.high - exact.qini_auc.low
    assert grouped.qini_auc.low == pytest.approx(exact.qini_auc.low, abs=0.1 * width)
    assert grouped.qini_auc.high == pytest.approx(exact.qini_auc.high, abs=0.1 * width)


def test_percentile_table_matches_manual_bins():
    """Bins follow np.array_split of the descending order; uplift is the rate difference."""
    rng = np.random.default_rng(3)
    y, t, s = rng.integers(0, 2, 103), rng.integers(0, 2, 103), rng.random(103)
    tab = uplift_by_percentile(y, s, t, bins=10)
    order = np.argsort(s, kind="mergesort")[::-1]
    for i, (yy, tt) in enumerate(
        zip(np.array_split(y[order], 10), np.array_split(t[order], 10), strict=True)
    ):
        assert tab.uplift[i] == pytest.approx(yy[tt == 1].mean() - yy[tt == 0].mean())
    assert tab.percentile[0] == "0-10"
    assert list(tab.to_pandas().index)[-1] == "90-100"


def test_causalml_order_is_pandas_sort_values():
    """Tied scores are ordered exactly as pandas' sort_values(ascending=False) orders them."""
    rng = np.random.default_rng(4)
    for values in (rng.integers(0, 4, 500), np.round(rng.random(500), 1)):
        ref = pd.DataFrame({"m": values}).sort_values("m", ascending=False).index.to_numpy()
        assert (_pandas_desc_order(values) == ref).all()


def test_causalml_scores_by_hand():
    """Two rows ranked right: gain [0, 0.5, 2] / 2 -> AUUC mean 0.5; Qini above its line."""
    df = {"y": [1, 0], "w": [1, 0], "m": [1.0, 0.0]}
    assert auuc_score(df)["m"] == pytest.approx((0 + 0.25 + 1) / 3)
    assert auuc_score(df, normalize=False)["m"] == pytest.approx((0 + 0.5 + 2) / 3)
    assert get_qini(df)["m"].tolist() == [0.0, 0.5, 1.0]  # row 1 interpolated
    assert qini_score(df, normalize=False)["m"] == pytest.approx((1.5 - 1.5) / 3)
    frame = pd.DataFrame(
        {
            "y": [1, 0, 1, 0, 1, 0],
            "w": [1, 0, 0, 1, 1, 0],
            "a": [0.9, 0.5, 0.3, 0.1, 0.7, 0.2],
            "b": [0, 1, 0, 1, 0, 1],
        }
    )
    assert qini_score(frame).names == ("a", "b")
    ci = qini_score(frame, return_ci=True, n_bootstrap=20, random_state=0)
    assert ci.ci_lower is not None and ci.p_value is not None


def test_plot_draws_the_curve_and_the_random_line():
    """With matplotlib installed, plot() returns axes holding the curve and the random line."""
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    ev = evaluate_uplift(
        [1, 0, 1, 0] * 25, np.linspace(1, 0, 100), [1, 0, 0, 1] * 25, n_resamples=5, rng=0
    )
    ax = ev.plot()
    lines = ax.get_lines()
    assert len(lines) == 2
    assert lines[0].get_ydata() == pytest.approx(ev.qini)
    assert ax.get_xlabel() == "customers targeted"
    plt.close("all")
