"""Segmentation: RFM scores and segments, lifecycle stages, the condition language, clustering.

Examples:
    >>> import numpy as np
    >>> from crmkit.segmentation import rfm_segments
    >>> t = np.array(["2024-01-01", "2024-02-01", "2024-02-20", "2024-03-01",
    ...               "2024-03-02", "2024-03-03", "2024-03-04"], "datetime64[us]")
    >>> res = rfm_segments(["a", "b", "c", "d", "e", "e", "e"], t, [10, 20, 30, 40, 50, 60, 70])
    >>> res.code.tolist()
    ['121', '222', '323', '424', '555']
    >>> res.segment.tolist()
    ['Lost', 'Hibernating', 'Need attention', 'Loyal', 'Champions']
"""

from crmkit.segmentation._clusters import (
    Clustering,
    SegmentProfiles,
    cluster_customers,
    segment_profiles,
)
from crmkit.segmentation._conditions import (
    And,
    Between,
    Compare,
    Condition,
    Contains,
    EventCount,
    Exists,
    In,
    InSegment,
    Missing,
    Not,
    Or,
    ScoreAtLeast,
    ScoringPlan,
    SegmentDefinition,
    StartsWith,
    Term,
    describe,
)
from crmkit.segmentation._evaluate import (
    Evaluation,
    Explanation,
    condition_from_json,
    condition_to_json,
    evaluate,
    score,
)
from crmkit.segmentation._lifecycle import (
    LIFECYCLE_STAGES,
    LifecycleRules,
    MembershipSnapshot,
    Transitions,
    lifecycle_from_p_alive,
    lifecycle_stages,
    period_status,
    transitions,
)
from crmkit.segmentation._presets import (
    PYMC_MARKETING_SEGMENT_MAP,
    RFM_PACKAGE_SEGMENT_MAP,
    RFMSegments,
    rfm_segments,
)
from crmkit.segmentation._rfm import (
    DEFAULT_SEGMENT_MAP,
    RFMRule,
    RFMScoring,
    RFMSegmentMap,
    rfm_scores,
    score_column,
)

__all__ = [
    "DEFAULT_SEGMENT_MAP",
    "LIFECYCLE_STAGES",
    "PYMC_MARKETING_SEGMENT_MAP",
    "RFM_PACKAGE_SEGMENT_MAP",
    "And",
    "Between",
    "Clustering",
    "Compare",
    "Condition",
    "Contains",
    "Evaluation",
    "EventCount",
    "Exists",
    "Explanation",
    "In",
    "InSegment",
    "LifecycleRules",
    "MembershipSnapshot",
    "Missing",
    "Not",
    "Or",
    "RFMRule",
    "RFMScoring",
    "RFMSegmentMap",
    "RFMSegments",
    "ScoreAtLeast",
    "ScoringPlan",
    "SegmentDefinition",
    "SegmentProfiles",
    "StartsWith",
    "Term",
    "Transitions",
    "cluster_customers",
    "condition_from_json",
    "condition_to_json",
    "describe",
    "evaluate",
    "lifecycle_from_p_alive",
    "lifecycle_stages",
    "period_status",
    "rfm_scores",
    "rfm_segments",
    "score",
    "score_column",
    "segment_profiles",
    "transitions",
]
