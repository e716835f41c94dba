"""The CRM default: Fellegi–Sunter over the normalized standard fields of an identity graph.

A pair whose given names or birth dates disagree outright (both present, level "else") is never
linked: household members share surname, address and phone, and only those fields tell them apart.

[`resolve`][crmkit.identity.resolve] runs it after the deterministic rules when the policy
declares the scored rule ``fellegi_sunter`` (the default policy does). Values a rule blocks (relay
and placeholder emails, fake phones) are treated as missing, so they are never evidence.
"""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt

from crmkit.identity._graph import IdentityGraph
from crmkit.identity.linkage._blocking import Blocking, BlockingRule
from crmkit.identity.linkage._columns import Encoded, LinkageTable
from crmkit.identity.linkage._comparisons import (
    DateComparison,
    EmailComparison,
    ExactMatch,
    NameComparison,
    PostcodeComparison,
    StringComparison,
)
from crmkit.identity.linkage._link import RULE, scored_links
from crmkit.identity.linkage._model import FellegiSunter

__all__ = ["MIN_RECORDS", "crm_model", "crm_table", "link_graph"]

_log = logging.getLogger("crmkit.identity")

#: Fewest records from which the default model is trained (EM needs enough candidate pairs).
MIN_RECORDS = 200

_FIELDS = ("email", "phone", "first_name", "last_name", "birth_date", "street", "city", "postcode")


def crm_model() -> FellegiSunter:
    """The default model for customer records: names (nicknames, swaps, initials; term-frequency
    adjusted), birth date, email, phone, street, postcode and city; blocking on email, phone,
    last name + postcode, first name + birth date and last name + birth date.

    Examples:
        >>> [c.name for c in crm_model().comparisons][:3]
        ['first_name', 'last_name', 'birth_date']
    """
    return FellegiSunter(
        comparisons=(
            NameComparison(column="first_name", swap_with="last_name", term_frequency=True),
            NameComparison(column="last_name", swap_with="first_name", term_frequency=True),
            DateComparison(column="birth_date"),
            EmailComparison(column="email"),
            StringComparison(column="phone", metric="damerau_levenshtein", thresholds=(1,)),
            StringComparison(column="street", metric="jaro_winkler", thresholds=(0.9,)),
            PostcodeComparison(column="postcode", term_frequency=True),
            ExactMatch(column="city", term_frequency=True, corroborates=False),
        ),
        blocking=Blocking(
            rules=(
                BlockingRule(columns="email"),
                BlockingRule(columns="phone"),
                BlockingRule(columns=("last_name", "postcode")),
                BlockingRule(columns=("first_name", "birth_date")),
                BlockingRule(columns=("last_name", "birth_date")),
            )
        ),
        u_pairs=300_000,
    )


def crm_table(graph: IdentityGraph) -> LinkageTable:
    """The graph's records as a linkage table of their normalized fields (blocked values
    missing)."""
    cols = {}
    for f in _FIELDS:
        value = graph.keys.fields[f].value
        blocked = graph.keys.blocked.get(f)
        if blocked is not None:
            value = np.where(blocked != "", "", value)
        cols[f] = Encoded.of(np.asarray(value, dtype=str))
    n = len(graph)
    return LinkageTable(record_id=graph.records.record_id, side=np.zeros(n, np.int8), columns=cols)


def link_graph(
    graph: IdentityGraph,
    new: npt.NDArray[np.bool_],
    *,
    model: FellegiSunter | None = None,
    rng: int = 0,
) -> IdentityGraph:
    """``graph`` with the scored links of the records flagged ``new`` (against all records)
    added under the rule ``fellegi_sunter``; unchanged below ``MIN_RECORDS`` records."""
    if len(graph) < MIN_RECORDS or not new.any():
        _log.info("linkage skipped: %d records (fewer than %d)", len(graph), MIN_RECORDS)
        return graph
    spec = model or crm_model()
    table = crm_table(graph)
    cand = spec.candidates(table, among=new)
    if len(cand) == 0:
        return graph
    fit = spec.fit(table, candidates=cand, rng=rng)
    scored = fit.score(table, cand, min_probability=0.5)
    ok, _ = scored_links(scored, 0.5)
    # households share surname, address and phone: a given name or birth date that disagrees
    # outright (level "else", both present) marks another person, whatever the other evidence
    for k, comp in enumerate(spec.comparisons):
        if comp.column in ("first_name", "birth_date"):
            ok &= scored.levels[:, k] != len(comp.level_names()) - 1
    if not ok.any():
        return graph
    ids = table.record_id
    reason = np.char.add("match weight ", np.round(scored.match_weight[ok], 2).astype(str))
    return graph.add_links(ids[scored.a[ok]], ids[scored.b[ok]], rule=RULE,
                           score=scored.match_probability[ok], reason=reason)  # fmt: skip
