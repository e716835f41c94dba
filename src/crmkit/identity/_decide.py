"""Checks that keep human decisions consistent, and their translation into separations."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from crmkit.errors import InvalidInputError
from crmkit.identity._audit import Decision, DecisionConflictError, DecisionKind
from crmkit.identity._records import key_text

if TYPE_CHECKING:
    from crmkit.identity._graph import IdentityGraph

__all__ = ["check_decision", "separations_of"]


def _must_groups(decisions: tuple[Decision, ...]) -> dict[str, str]:
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for d in decisions:
        if d.kind is DecisionKind.MUST_LINK:
            a, b = d.groups[0]
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    return {x: find(x) for x in parent}


def check_decision(graph: IdentityGraph, decision: Decision) -> None:
    """Raise DecisionConflictError if ``decision`` contradicts earlier ones or merge protection."""
    recs = decision.records
    if len(set(recs)) != len(recs):
        raise InvalidInputError(
            f"decision.groups: a record appears twice ({recs}). Name each record once."
        )
    if (decision.kind is DecisionKind.MUST_LINK and len(decision.groups) != 1) or (
        decision.kind is DecisionKind.MUST_LINK and len(decision.groups[0]) != 2
    ):
        raise InvalidInputError("decision.groups: a must-link names one pair of records.")
    after = (*graph.decisions, decision)
    groups = _must_groups(after)
    for d in after:
        if d.kind is DecisionKind.MUST_LINK:
            continue
        label = {r: i for i, g in enumerate(d.groups) for r in g}
        seen: dict[str, tuple[int, str]] = {}
        for r, lab in label.items():
            g = groups.get(r)
            if g is None:
                continue
            if g in seen and seen[g][0] != lab:
                raise DecisionConflictError(
                    f"decision: {decision.decision_id} ({decision.kind.value}) conflicts with "
                    f"{d.decision_id if d is not decision else 'an earlier must-link'}: records "
                    f"{seen[g][1]!r} and {r!r} must be linked and kept apart at once. Revise the "
                    "decisions."
                )
            seen[g] = (lab, r)
    if decision.kind is DecisionKind.MUST_LINK:
        root = groups[recs[0]]
        members = sorted(r for r, g in groups.items() if g == root)
        idx = graph.index_of(members)
        for p in graph.policy.identifiers:
            if not p.immutable:
                continue
            codes = graph.keys.code[p.kind][idx]
            have = idx[codes >= 0]
            _, first = np.unique(codes[codes >= 0], return_index=True)
            vals = key_text(graph.keys.fields, p, np.sort(have[first]))
            if vals.size > 1:
                raise DecisionConflictError(
                    f"decision: must-link {recs[0]!r}–{recs[1]!r} would join {vals.size} "
                    f"different {p.kind} values ({', '.join(vals[:3].tolist())}), which merge "
                    "protection forbids. Correct the identifiers or drop the decision."
                )


def separations_of(
    decisions: tuple[Decision, ...], record_ids: npt.NDArray[np.str_]
) -> list[npt.NDArray[np.int64]]:
    """One label array per separating decision over ``record_ids`` (-1: not named by it)."""
    out: list[npt.NDArray[np.int64]] = []
    order = np.argsort(record_ids)
    srt = record_ids[order]
    for d in decisions:
        if d.kind is DecisionKind.MUST_LINK:
            continue
        labels = np.full(record_ids.size, -1, np.int64)
        for lab, group in enumerate(d.groups):
            ids = np.asarray(group, dtype=str)
            pos = np.minimum(np.searchsorted(srt, ids), max(srt.size - 1, 0))
            hit = srt.size > 0
            if hit:
                found = srt[pos] == ids
                labels[order[pos[found]]] = lab
        if (labels >= 0).sum() > 1:
            out.append(labels)
    return out
