"""Targeting: who may be contacted, who is held out, who is worth the budget, and with what.

Audience = segment ∩ eligibility (consent at send time, suppression, cooldown, frequency caps,
send windows in the customer's time zone) → deterministic holdout → expected incremental value →
budget selection under channel and segment limits → the contact list, with a reason for every
exclusion. Triggers, send-time optimization, next-best product and a pseudonymous export for ad
platforms complete the area. Every function takes plain arrays or column tables; any score array
(CLV, P(alive), uplift) works.

Examples:
    >>> import numpy as np
    >>> from crmkit.targeting import assign_holdout, expected_incremental_value, select_offers
    >>> ids = np.array([f"c{i}" for i in range(6)])
    >>> value = expected_incremental_value([0.1, 0.2, 0.05, 0.3, 0.0, 0.15],
    ...                                    [100.0] * 6, contact_cost=1.0)
    >>> treat = assign_holdout(ids, salt="demo", fractions={"treatment": 0.5, "control": 0.5})
    >>> mask = treat.group == "treatment"
    >>> sel = select_offers(value[mask], cost=1.0, budget=2.0, customer_id=ids[mask])
    >>> int(sel.selected.sum()) <= 2
    True
"""

from crmkit.targeting._eligibility import (
    Eligibility,
    EligibilityResult,
    ExclusionReason,
    FrequencyCap,
    SendWindow,
    SuppressionColumns,
    SuppressionReason,
    suppressions_from_contacts,
)
from crmkit.targeting._export import PseudonymousAudience, pseudonymous_audience
from crmkit.targeting._holdout import HoldoutAssignment, assign_holdout, hash_unit
from crmkit.targeting._keys import Audience
from crmkit.targeting._recommend import (
    CoPurchase,
    CoPurchaseFit,
    NextBestEvaluation,
    Recommendations,
    evaluate_next_best,
    hit_rate,
    popular_items,
)
from crmkit.targeting._selection import Selection, select_offers
from crmkit.targeting._send_time import SendTimes, best_send_times
from crmkit.targeting._store import (
    AUDIENCE_MEMBERS,
    AUDIENCES,
    HOLDOUT_MEMBERS,
    HOLDOUTS,
    AudienceMember,
    AudienceRecord,
    HoldoutMember,
    HoldoutRecord,
    StoredAudience,
    contact_log_start,
    eligibility_from_store,
    load_audience,
    load_holdout,
    log_contacts,
    save_audience,
    save_holdout,
)
from crmkit.targeting._timezones import local_times, utc_offsets
from crmkit.targeting._triggers import (
    Triggers,
    abandoned_browse,
    abandoned_cart,
    anniversary,
    points_expiring,
    replenishment,
    tier_near_miss,
    win_back,
)
from crmkit.targeting._value import expected_incremental_value

__all__ = [
    "AUDIENCES",
    "AUDIENCE_MEMBERS",
    "HOLDOUTS",
    "HOLDOUT_MEMBERS",
    "Audience",
    "AudienceMember",
    "AudienceRecord",
    "CoPurchase",
    "CoPurchaseFit",
    "Eligibility",
    "EligibilityResult",
    "ExclusionReason",
    "FrequencyCap",
    "HoldoutAssignment",
    "HoldoutMember",
    "HoldoutRecord",
    "NextBestEvaluation",
    "PseudonymousAudience",
    "Recommendations",
    "Selection",
    "SendTimes",
    "SendWindow",
    "StoredAudience",
    "SuppressionColumns",
    "SuppressionReason",
    "Triggers",
    "abandoned_browse",
    "abandoned_cart",
    "anniversary",
    "assign_holdout",
    "best_send_times",
    "contact_log_start",
    "eligibility_from_store",
    "evaluate_next_best",
    "expected_incremental_value",
    "hash_unit",
    "hit_rate",
    "load_audience",
    "load_holdout",
    "local_times",
    "log_contacts",
    "points_expiring",
    "popular_items",
    "pseudonymous_audience",
    "replenishment",
    "save_audience",
    "save_holdout",
    "select_offers",
    "suppressions_from_contacts",
    "tier_near_miss",
    "utc_offsets",
    "win_back",
]
