"""Experiments: A/B/n analysis, uplift models and uplift metrics in named conventions.

* A/B/n analysis: two-proportion tests, Welch's t, CUPED, Bayesian beta-binomial comparison,
  sample-ratio mismatch, multiple-comparison corrections, power and sample size, ROI per arm
  ([`analyze_experiment`][crmkit.experiments.analyze_experiment]).
* Uplift models without scikit-learn: two-model (T-learner) and class transformation over an
  L2/weighted logistic regression on scipy, and the empirical uplift per cell.
* Uplift evaluation: scikit-uplift 0.5.1's functions (``qini_auc_score``, ``uplift_auc_score``,
  ``uplift_at_k``, ``qini_curve``, ``uplift_curve``, ...) and causalml 0.18's (``qini_score``,
  ``auuc_score``, ``get_qini``, ...), each reproducing that library's numbers, plus
  [`evaluate_uplift`][crmkit.experiments.evaluate_uplift] with bootstrap intervals.

Examples:
    >>> from crmkit.experiments import two_proportion_test, qini_auc_score
    >>> round(two_proportion_test(100, 1000, 130, 1000).difference, 2)
    0.03
    >>> qini_auc_score([1, 0, 1, 0], [0.9, 0.5, 0.3, 0.1], [1, 0, 0, 1])
    0.8333333333333334
"""

from __future__ import annotations

from crmkit.experiments._analysis import (
    ArmComparison,
    ArmROI,
    ExperimentAnalysis,
    analyze_experiment,
)
from crmkit.experiments._causalml import (
    ModelCurves,
    ModelScores,
    auuc_score,
    get_cumgain,
    get_cumlift,
    get_qini,
    qini_score,
)
from crmkit.experiments._compare import (
    BetaBinomialComparison,
    CupedAdjustment,
    MeanTest,
    ProportionTest,
    SampleRatioTest,
    adjust_pvalues,
    cuped,
    probability_to_beat_control,
    sample_ratio_test,
    two_proportion_test,
    welch_test,
)
from crmkit.experiments._evaluation import Interval, UpliftEvaluation, evaluate_uplift
from crmkit.experiments._logistic import LogisticFit, LogisticRegression
from crmkit.experiments._plots import plot_curve
from crmkit.experiments._power import (
    power_two_means,
    power_two_proportions,
    sample_size_two_means,
    sample_size_two_proportions,
)
from crmkit.experiments._sklift import (
    PercentileTable,
    perfect_qini_curve,
    perfect_uplift_curve,
    qini_auc_score,
    qini_curve,
    response_rate_by_percentile,
    uplift_at_k,
    uplift_auc_score,
    uplift_by_percentile,
    uplift_curve,
    weighted_average_uplift,
)
from crmkit.experiments._uplift_models import (
    CellUplift,
    CellUpliftFit,
    ClassTransformationFit,
    ClassTransformationUplift,
    TwoModelFit,
    TwoModelUplift,
)

__all__ = [
    "ArmComparison",
    "ArmROI",
    "BetaBinomialComparison",
    "CellUplift",
    "CellUpliftFit",
    "ClassTransformationFit",
    "ClassTransformationUplift",
    "CupedAdjustment",
    "ExperimentAnalysis",
    "Interval",
    "LogisticFit",
    "LogisticRegression",
    "MeanTest",
    "ModelCurves",
    "ModelScores",
    "PercentileTable",
    "ProportionTest",
    "SampleRatioTest",
    "TwoModelFit",
    "TwoModelUplift",
    "UpliftEvaluation",
    "adjust_pvalues",
    "analyze_experiment",
    "auuc_score",
    "cuped",
    "evaluate_uplift",
    "get_cumgain",
    "get_cumlift",
    "get_qini",
    "perfect_qini_curve",
    "perfect_uplift_curve",
    "plot_curve",
    "power_two_means",
    "power_two_proportions",
    "probability_to_beat_control",
    "qini_auc_score",
    "qini_curve",
    "qini_score",
    "response_rate_by_percentile",
    "sample_ratio_test",
    "sample_size_two_means",
    "sample_size_two_proportions",
    "two_proportion_test",
    "uplift_at_k",
    "uplift_auc_score",
    "uplift_by_percentile",
    "uplift_curve",
    "weighted_average_uplift",
    "welch_test",
]
