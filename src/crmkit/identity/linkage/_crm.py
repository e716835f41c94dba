"""The CRM default: Fellegi–Sunter over the normalized standard fields of an identity graph.

A pair whose given names or birth dates disagree outright (both present, level "else") is never
linked, nor one whose given names are similar but not compatible (Olivia/Oliver, Laura/Clara: no
spelling, nickname, initial or abbreviation of each other, as corroboration of a shared inbox
decides): household members share surname, address and phone, and only those fields tell them
apart.

[`resolve`][crmkit.identity.resolve] runs it after the deterministic rules when the policy
declares the scored rule ``fellegi_sunter`` (the default policy does). Values a rule blocks (relay
and placeholder emails, fake phones) are treated as missing, so they are never evidence.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import numpy.typing as npt

from crmkit.errors import InvalidInputError
from crmkit.identity._corroborate import compatible_names
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
from crmkit.identity.linkage._model import FellegiSunter, FellegiSunterFit, compare_pairs
from crmkit.identity.linkage._scores import ScoredPairs

__all__ = ["MIN_RECORDS", "crm_model", "crm_table", "link_graph"]

_log = logging.getLogger("crmkit.identity")

#: Fewest records from which the default model is trained (EM needs enough candidate pairs);
#: smaller batches are linked only with a trained fit passed in (``resolve(linkage_fit=...)``).
MIN_RECORDS = 200

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

_FIELDS = ("email", "phone", "first_name", "last_name", "birth_date", "street", "city", "postcode")


def crm_model() -> FellegiSunter:
    """The default model for customer records: names (nicknames, swaps, initials; term-frequency
    adjusted), birth date, email, phone, street, postcode and city; blocking on email, phone,
    last name + postcode, first name + birth date, last name + birth date, and on name + address
    (last name + street, first name + last name + city, first name + street), so that records
    sharing only a name and an address with their person become candidates (they still link only
    with an agreeing street, postcode or other non-name evidence, and never across given names).

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
                BlockingRule(columns=("last_name", "street")),
                BlockingRule(columns=("first_name", "last_name", "city")),
                BlockingRule(columns=("first_name", "street")),
            )
        ),
        u_pairs=300_000,
        chunk_size=500_000,
    )


def _field(graph: IdentityGraph, f: str) -> npt.NDArray[np.str_]:
    value = graph.keys.fields[f].value
    blocked = graph.keys.blocked.get(f)
    if blocked is not None:
        value = np.where(blocked != "", "", value)
    out: npt.NDArray[np.str_] = np.asarray(value, dtype=str)
    return out


def crm_table(graph: IdentityGraph, rows: npt.NDArray[np.int64] | None = None) -> LinkageTable:
    """The graph's records (those at ``rows``, default all) as a linkage table of their
    normalized fields (blocked values missing)."""
    sel = slice(None) if rows is None else rows
    cols = {f: Encoded.of(_field(graph, f)[sel]) for f in _FIELDS}
    ids = graph.records.record_id[sel]
    return LinkageTable(record_id=ids, side=np.zeros(ids.size, np.int8), columns=cols)


def _near(graph: IdentityGraph, new: npt.NDArray[np.bool_], blocking: Blocking) -> IntArray:
    """Records that may share a blocking key with a new record (each column of some rule holds
    a value some new record has): every candidate pair of the new records lies among them."""
    values = {f: _field(graph, f) for f in blocking.columns()}
    near = new.copy()
    for rule in blocking.rules:
        other = rule.other or rule.columns
        for xs, ys in ((rule.columns, other), (other, rule.columns)):
            hit = np.ones(new.size, bool)
            for x, y in zip(xs, ys, strict=True):
                mine = values[x][new]
                hit &= np.isin(values[y], mine[mine != ""]) & (values[y] != "")
            near |= hit
            if rule.symmetric:
                break
    return np.flatnonzero(near).astype(np.int64)


def link_graph(
    graph: IdentityGraph,
    new: npt.NDArray[np.bool_],
    *,
    model: FellegiSunter | None = None,
    fit: FellegiSunterFit | None = None,
    rng: int = 0,
) -> tuple[IdentityGraph, FellegiSunterFit | None]:
    """``graph`` with the scored links of the records flagged ``new`` (against all records)
    added under the rule ``fellegi_sunter``, and the fit that scored them.

    With a trained ``fit`` (e.g. from an earlier, larger run) the pairs are scored with it and
    nothing is trained, whatever the number of records. Without one the model is trained on the
    candidate pairs of the new records, which needs at least ``MIN_RECORDS`` records in the graph
    (EM without labels needs enough pairs); below that the graph is returned unchanged (and the
    fit is None). Candidate pairs are streamed in chunks: memory holds one chunk, the distinct
    comparison vectors and the links. Only links between two different entities are added (a
    pair the deterministic rules already joined gains nothing from a scored link).
    """
    if not new.any():
        return graph, fit
    if fit is None and len(graph) < MIN_RECORDS:
        _log.info(
            "linkage skipped: %d records (fewer than %d) and no trained fit given",
            len(graph),
            MIN_RECORDS,
        )
        return graph, None
    spec = model or crm_model()
    if fit is not None and new.mean() < 0.2:
        # scoring only (the fit carries u and the term frequencies): the records that may pair
        # with a new one are enough, so a small batch costs little against a large graph
        rows = _near(graph, new, spec.blocking)
        table, new = crm_table(graph, rows), new[rows]
    else:
        rows = np.arange(len(graph), dtype=np.int64)
        table = crm_table(graph)
    if fit is None:
        pats, n_cand = spec.patterns(table, among=new)
        if n_cand == 0:
            return graph, None
        fit = spec.fit(table, patterns=(pats, n_cand), rng=rng)
    _check_fit(fit)
    entity = np.unique(graph.entity_id[rows], return_inverse=True)[1].reshape(-1)
    a, b, prob, weight = _links(entity, table, spec, fit, new)
    # the linkage table (columns, per-value features) is no longer needed: freed before the graph
    # re-resolves around the links, which is where memory peaks at 1M records
    del table
    if a.size == 0:
        return graph, fit
    ids = graph.records.record_id
    reason = np.char.add("match weight ", np.round(weight, 2).astype(str))
    graph = graph.add_links(ids[rows[a]], ids[rows[b]], rule=RULE, score=prob, reason=reason)
    return graph, fit


def _links(
    entity: npt.NDArray[np.intp],
    table: LinkageTable,
    spec: FellegiSunter,
    fit: FellegiSunterFit,
    new: npt.NDArray[np.bool_],
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], FloatArray, FloatArray]:
    """The scored pairs that may join two entities: positions ``a``, ``b`` in ``table``, match
    probability and weight. Scored chunk by chunk; of each chunk only these four compact arrays
    of its links are kept (not the levels, contributions or record ids of every scored pair)."""
    guard = [k for k, c in enumerate(fit.comparisons) if c.column in ("first_name", "birth_date")]
    last = [len(fit.comparisons[k].level_names()) - 1 for k in guard]
    given = next((k for k, c in enumerate(fit.comparisons) if c.column == "first_name"), None)
    parts: list[tuple[Any, ...]] = []
    for ca, cb in spec.blocking.pairs(table, chunk_size=spec.chunk_size, among=new):
        cand = compare_pairs(fit.comparisons, table, ca, cb)
        scored = fit.score(table, cand, min_probability=fit.threshold)
        ok, _ = scored_links(scored, fit.threshold)
        # households share surname, address and phone: a given name or birth date that
        # disagrees outright (level "else", both present), or a given name that is only similar
        # (Olivia/Oliver), marks another person, whatever the other evidence
        for k, lv in zip(guard, last, strict=True):
            ok &= scored.levels[:, k] != lv
        if given is not None:
            ok &= ~_other_given_name(table, fit, given, scored, ok)
        # a pair already in one entity changes nothing: only links that may join entities go
        # to the graph (at 1M records most scored pairs repeat a deterministic link)
        ok &= entity[scored.a] != entity[scored.b]
        parts.append((scored.a[ok].astype(np.int32), scored.b[ok].astype(np.int32),
                      scored.match_probability[ok], scored.match_weight[ok]))  # fmt: skip
        del scored, cand
    if not parts:
        e, f = np.empty(0, np.int32), np.empty(0)
        return e, e, f, f
    a, b, prob, weight = (np.concatenate([p[i] for p in parts]) for i in range(4))
    return a, b, prob, weight


def _other_given_name(
    table: LinkageTable,
    fit: FellegiSunterFit,
    k: int,
    scored: ScoredPairs,
    sel: npt.NDArray[np.bool_],
) -> npt.NDArray[np.bool_]:
    """Pairs (of those ``sel``) whose given names are both present and not compatible (no
    spelling, nickname, initial or abbreviation of each other: Olivia/Oliver, Laura/Clara), as
    corroboration decides for a shared inbox; first and last name swapped is left to the score."""
    col = table.column(fit.comparisons[k].column)
    names = fit.comparisons[k].level_names()
    ca, cb = col.codes[scored.a], col.codes[scored.b]
    check = sel & (ca >= 0) & (cb >= 0) & (ca != cb)
    if "swapped" in names:
        check &= scored.levels[:, k] != names.index("swapped")
    out = np.zeros(sel.size, bool)
    at = np.flatnonzero(check)
    if at.size:
        pairs, inv = np.unique(np.stack([ca[at], cb[at]]), axis=1, return_inverse=True)
        ok = compatible_names(col.values[pairs[0]], col.values[pairs[1]])
        out[at] = ~ok[inv.reshape(-1)]
    return out


def _check_fit(fit: FellegiSunterFit) -> None:
    missing = sorted({c for comp in fit.comparisons for c in comp.columns()} - set(_FIELDS))
    if missing:
        raise InvalidInputError(
            f"linkage_fit: compares columns {missing} that identity records do not have (they "
            f"have {list(_FIELDS)}). Train the fit on crm_model() or on these columns."
        )
