"""Segmentation: RFM scores and segments, lifecycle stages, the condition language, clustering.

Example:
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
    "PYMC_MARKETING_SEGMENT_MAP",
    "RFM_PACKAGE_SEGMENT_MAP",
    "RFMRule",
    "RFMScoring",
    "RFMSegmentMap",
    "RFMSegments",
    "rfm_scores",
    "rfm_segments",
    "score_column",
]
