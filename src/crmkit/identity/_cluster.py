"""Clustering under policies: links → connected components, then the policy-constrained entities.

Components of the link graph are found with ``scipy.sparse.csgraph``. A component that breaks no
limit, size cap or human separation is an entity as a whole (vectorized check). Only the rest, the
would-be blobs, are built link by link in a fixed order (must-links, then by rule priority, higher
score, rule, and the ranks of the two records), refusing every link whose merge would break a rule.
The result depends only on the component's records, links and decisions, never on input order, so
resolving a component again, alone or with everything else, gives the same entities.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs
import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from crmkit.identity._policy import StitchingPolicy

__all__ = ["Clustering", "EdgeSet", "cluster", "key_edges"]

IntArray = npt.NDArray[np.int64]
MUST_LINK = -1  # rule index of human must-links


@attrs.frozen(kw_only=True, eq=False)
class EdgeSet:
    """Candidate links between local record indices, with rule index, score and evidence."""

    a: IntArray
    b: IntArray
    rule: IntArray
    score: npt.NDArray[np.float64]
    evidence: npt.NDArray[np.str_]

    @staticmethod
    def concat(parts: Sequence[EdgeSet]) -> EdgeSet:
        if not parts:
            return EdgeSet(
                a=np.empty(0, np.int64),
                b=np.empty(0, np.int64),
                rule=np.empty(0, np.int64),
                score=np.empty(0),
                evidence=np.empty(0, "<U1"),
            )
        return EdgeSet(
            a=np.concatenate([p.a for p in parts]),
            b=np.concatenate([p.b for p in parts]),
            rule=np.concatenate([p.rule for p in parts]),
            score=np.concatenate([p.score for p in parts]),
            evidence=np.concatenate([p.evidence for p in parts]),
        )


def _groups(keys: npt.NDArray[np.str_]) -> IntArray:
    """An integer code per distinct non-empty key (-1 for no key)."""
    codes = np.full(keys.size, -1, dtype=np.int64)
    has = keys != ""
    if has.any():
        _, inv = np.unique(keys[has], return_inverse=True)
        codes[has] = inv.reshape(-1)
    return codes


def key_edges(
    keys: Mapping[str, npt.NDArray[np.str_]], rules: Sequence[str], rank: IntArray
) -> tuple[EdgeSet, dict[int, IntArray]]:
    """Links among records sharing a key: each record to the lowest-ranked record of its value.

    Returns the edges and, per rule index, the value code of every record (for limits).
    """
    parts: list[EdgeSet] = []
    codes_by_rule: dict[int, IntArray] = {}
    for r, kind in enumerate(rules):
        codes = _groups(keys[kind])
        codes_by_rule[r] = codes
        idx = np.flatnonzero(codes >= 0)
        if idx.size < 2:
            continue
        order = idx[np.lexsort((rank[idx], codes[idx]))]
        g = codes[order]
        first = np.ones(order.size, bool)
        first[1:] = g[1:] != g[:-1]
        start = np.maximum.accumulate(np.where(first, np.arange(order.size), 0))
        anchor = order[start]
        member = ~first
        a, b = anchor[member], order[member]
        parts.append(
            EdgeSet(
                a=a,
                b=b,
                rule=np.full(a.size, r, np.int64),
                score=np.ones(a.size),
                evidence=keys[kind][b],
            )
        )
    return EdgeSet.concat(parts), codes_by_rule


@attrs.frozen(kw_only=True, eq=False)
class Clustering:
    """Where every local record ends up, and which candidate links were taken or refused."""

    root: IntArray  # local index of the lowest-ranked record of the entity
    component: IntArray  # local index of the lowest-ranked record of the link component
    accepted: npt.NDArray[np.bool_]
    refusal: npt.NDArray[np.str_]  # why a link was refused ("" if accepted)


def _min_rank_member(labels: IntArray, rank: IntArray) -> IntArray:
    """For each record, the local index of the lowest-ranked record with the same label."""
    n = labels.size
    if n == 0:
        return labels
    best = np.full(int(labels.max()) + 1, np.iinfo(np.int64).max, np.int64)
    np.minimum.at(best, labels, rank)
    by_rank = np.empty(int(rank.max()) + 1, np.int64)
    by_rank[rank] = np.arange(n)
    return by_rank[best[labels]]


def _window_broken(comp: IntArray, t: IntArray, limit: int, window_us: int | None) -> IntArray:
    """Labels whose distinct values (comp, t = first time) exceed ``limit`` (in any window)."""
    if comp.size == 0:
        return comp
    if window_us is None:
        counts = np.bincount(comp)
        return np.flatnonzero(counts > limit)
    order = np.lexsort((t, comp))
    c, tt = comp[order], t[order]
    if c.size <= limit:
        return np.empty(0, np.int64)
    same = c[limit:] == c[:-limit]
    close = (tt[limit:] - tt[:-limit]) < window_us
    return np.unique(c[limit:][same & close])


def _distinct_first_time(
    labels: IntArray, codes: IntArray, t: IntArray
) -> tuple[IntArray, IntArray]:
    has = codes >= 0
    lab, code, tt = labels[has], codes[has], t[has]
    if lab.size == 0:
        return lab, tt
    order = np.lexsort((tt, code, lab))
    lab, code, tt = lab[order], code[order], tt[order]
    first = np.ones(lab.size, bool)
    first[1:] = (lab[1:] != lab[:-1]) | (code[1:] != code[:-1])
    return lab[first], tt[first]


def cluster(
    n: int,
    edges: EdgeSet,
    *,
    rank: IntArray,
    times_us: IntArray,
    codes: Mapping[int, IntArray],
    separations: Sequence[IntArray],
    policy: StitchingPolicy,
    rules: Sequence[str],
) -> Clustering:
    """Entities of ``n`` local records under ``policy`` (see the module docstring)."""
    ordered = [policy.get(k) for k in rules]
    graph = coo_matrix((np.ones(edges.a.size, np.int8), (edges.a, edges.b)), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    comp = comp.astype(np.int64)
    dirty = np.zeros(int(comp.max(initial=-1)) + 1, bool)
    if policy.max_entity_size is not None:
        dirty |= np.bincount(comp, minlength=dirty.size) > policy.max_entity_size
    limits: dict[int, tuple[int, int | None]] = {}
    for r, p in enumerate(ordered):
        lim = p.effective_limit
        if lim is None:
            continue
        window = None if p.window_days is None else p.window_days * 86_400_000_000
        limits[r] = (lim, window)
        lab, first_t = _distinct_first_time(comp, codes[r], times_us)
        dirty[_window_broken(lab, first_t, lim, window)] = True
    for labels in separations:
        has = labels >= 0
        pairs = np.unique(np.stack([comp[has], labels[has]]), axis=1)
        dirty[np.flatnonzero(np.bincount(pairs[0], minlength=dirty.size) > 1)] = True
    root = comp.copy()
    accepted = np.ones(edges.a.size, bool)
    refusal = np.full(edges.a.size, "", dtype="<U80")
    if dirty.any():
        in_dirty = dirty[comp]
        sel = np.flatnonzero(in_dirty[edges.a])
        _greedy(
            np.flatnonzero(in_dirty),
            sel,
            edges,
            rank=rank,
            times_us=times_us,
            codes=codes,
            separations=separations,
            limits=limits,
            policy=policy,
            rules=rules,
            root=root,
            accepted=accepted,
            refusal=refusal,
        )
    return Clustering(
        root=_min_rank_member(root, rank),
        component=_min_rank_member(comp, rank),
        accepted=accepted,
        refusal=refusal,
    )


@attrs.define
class _State:
    size: int
    values: dict[int, dict[int, int]]  # rule -> value code -> first time
    labels: dict[int, int]  # separation -> label


def _merge_problem(
    x: _State,
    y: _State,
    *,
    hard_only: bool,
    limits: Mapping[int, tuple[int, int | None]],
    immutable: set[int],
    policy: StitchingPolicy,
    rules: Sequence[str],
) -> str:
    for d, label in y.labels.items():
        if x.labels.get(d, label) != label:
            return f"separated by a human decision (#{d})"
    for r, (lim, window) in limits.items():
        if hard_only and r not in immutable:
            continue
        merged = dict(x.values.get(r, {}))
        for code, t in y.values.get(r, {}).items():
            merged[code] = min(t, merged.get(code, t))
        if len(merged) <= lim:
            continue
        if window is None:
            return f"{rules[r]} limit {lim} would be exceeded ({len(merged)} values)"
        ts = sorted(merged.values())
        if any(ts[i + lim] - ts[i] < window for i in range(len(ts) - lim)):
            days = window // 86_400_000_000
            return f"{rules[r]} limit {lim} in {days} days would be exceeded"
    if (
        not hard_only
        and policy.max_entity_size is not None
        and x.size + y.size > policy.max_entity_size
    ):
        return f"entity size {x.size + y.size} would exceed {policy.max_entity_size}"
    return ""


def _greedy(
    members: IntArray,
    sel: IntArray,
    edges: EdgeSet,
    *,
    rank: IntArray,
    times_us: IntArray,
    codes: Mapping[int, IntArray],
    separations: Sequence[IntArray],
    limits: Mapping[int, tuple[int, int | None]],
    policy: StitchingPolicy,
    rules: Sequence[str],
    root: IntArray,
    accepted: npt.NDArray[np.bool_],
    refusal: npt.NDArray[np.str_],
) -> None:
    prio = np.array([policy.get(k).priority for k in rules] + [0], np.int64)
    immutable = {r for r, k in enumerate(rules) if policy.get(k).immutable}
    parent = {int(i): int(i) for i in members}
    state: dict[int, _State] = {}
    for i in members.tolist():
        vals = {r: {int(codes[r][i]): int(times_us[i])} for r in limits if codes[r][i] >= 0}
        labs = {d: int(lab[i]) for d, lab in enumerate(separations) if lab[i] >= 0}
        state[i] = _State(size=1, values=vals, labels=labs)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    er = edges.rule[sel]
    must = er == MUST_LINK
    key_prio = np.where(must, np.iinfo(np.int64).min, prio[np.where(must, -1, er)])
    order = sel[
        np.lexsort((rank[edges.b[sel]], rank[edges.a[sel]], er, -edges.score[sel], key_prio))
    ]
    for e in order.tolist():
        x, y = find(int(edges.a[e])), find(int(edges.b[e]))
        if x == y:
            continue
        problem = _merge_problem(
            state[x],
            state[y],
            hard_only=bool(edges.rule[e] == MUST_LINK),
            limits=limits,
            immutable=immutable,
            policy=policy,
            rules=rules,
        )
        if problem:
            accepted[e] = False
            refusal[e] = problem
            continue
        if rank[x] > rank[y]:
            x, y = y, x
        parent[y] = x
        sx, sy = state[x], state.pop(y)
        sx.size += sy.size
        sx.labels.update(sy.labels)
        for r, seen in sy.values.items():
            mine = sx.values.setdefault(r, {})
            for code, first in seen.items():
                mine[code] = min(first, mine.get(code, first))
    offset = int(root.max(initial=-1)) + 1  # keep apart from the component labels
    for i in members.tolist():
        root[i] = offset + find(i)
