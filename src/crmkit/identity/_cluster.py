"""Clustering under policies: links → connected components, then the policy-constrained entities.

Everything works on integer codes. Components of the link graph are found with
``scipy.sparse.csgraph``. A component that breaks no limit, size cap or human separation is an
entity as a whole (vectorized check). Only the rest, the would-be blobs, are resolved rule by rule
in priority order (human must-links first): each rule's links are tried together, and only where
their merge would break a policy are that rule's links in that group taken one at a time (higher
score, then rule, then the ranks of the two records), refusing every link that would break a rule.
The result depends only on the component's records, links and decisions, never on input order, so
resolving a component again, alone or with everything else, gives the same entities.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import attrs
import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from crmkit.identity._policy import StitchingPolicy

__all__ = ["Clustering", "EdgeSet", "cluster", "key_edges"]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
MUST_LINK = -1  # rule index of human must-links
_DAY_US = 86_400_000_000
_log = logging.getLogger("crmkit.identity")


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
            i = np.empty(0, np.int64)
            return EdgeSet(a=i, b=i, rule=i, score=np.empty(0), evidence=np.empty(0, "<U1"))
        return EdgeSet(
            a=np.concatenate([p.a for p in parts]),
            b=np.concatenate([p.b for p in parts]),
            rule=np.concatenate([p.rule for p in parts]),
            score=np.concatenate([p.score for p in parts]),
            evidence=np.concatenate([p.evidence for p in parts]),
        )


def key_edges(link_codes: Mapping[int, IntArray], rank: IntArray) -> EdgeSet:
    """Links among records sharing a code: each record to the lowest-ranked record of its value."""
    parts: list[EdgeSet] = []
    for r, codes in link_codes.items():
        idx = np.flatnonzero(codes >= 0)
        if idx.size < 2:
            continue
        order = idx[np.lexsort((rank[idx], codes[idx]))]
        g = codes[order]
        first = np.ones(order.size, bool)
        first[1:] = g[1:] != g[:-1]
        start = np.maximum.accumulate(np.where(first, np.arange(order.size), 0))
        member = ~first
        a, b = order[start][member], order[member]
        parts.append(
            EdgeSet(
                a=a,
                b=b,
                rule=np.full(a.size, r, np.int64),
                score=np.ones(a.size),
                evidence=np.full(a.size, "", "<U1"),
            )
        )
    return EdgeSet.concat(parts)


@attrs.frozen(kw_only=True, eq=False)
class Clustering:
    """Where every local record ends up, and which candidate links were taken or refused."""

    root: IntArray  # local index of the lowest-ranked record of the entity
    accepted: BoolArray
    refusal: npt.NDArray[np.str_]  # why a link was refused ("" if accepted)
    n_resolved: int  # records in components that needed rule-by-rule resolution
    n_greedy: int  # links taken one at a time


def components(n: int, a: IntArray, b: IntArray) -> IntArray:
    """Connected component labels of ``n`` nodes joined by the pairs (a, b)."""
    graph = coo_matrix((np.ones(a.size, np.int8), (a, b)), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    out: IntArray = np.asarray(comp, dtype=np.int64)
    return out


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


def _limit_broken(labels: IntArray, codes: IntArray, t: IntArray, limit: int, window_us: int | None,
                  size: int) -> BoolArray:  # fmt: skip
    """Per label: whether its distinct values exceed ``limit`` (within any window)."""
    out = np.zeros(size, bool)
    lab, first_t = _distinct_first_time(labels, codes, t)
    if lab.size <= limit:
        return out
    if window_us is None:
        out[np.flatnonzero(np.bincount(lab, minlength=size) > limit)] = True
        return out
    order = np.lexsort((first_t, lab))
    c, tt = lab[order], first_t[order]
    same = c[limit:] == c[:-limit]
    close = (tt[limit:] - tt[:-limit]) < window_us
    out[np.unique(c[limit:][same & close])] = True
    return out


def _violations(labels: IntArray, size: int, *, hard_only: bool, ctx: _Context) -> BoolArray:
    """Per label: whether the records carrying it together break a policy."""
    bad = np.zeros(size, bool)
    p = ctx.policy
    if not hard_only and p.max_entity_size is not None:
        bad |= np.bincount(labels, minlength=size) > p.max_entity_size
    for r, (lim, window) in ctx.limits.items():
        if hard_only and r not in ctx.immutable:
            continue
        bad |= _limit_broken(labels, ctx.codes[r], ctx.times_us, lim, window, size)
    for sep in ctx.separations:
        has = sep >= 0
        if has.sum() < 2:
            continue
        pairs = np.unique(np.stack([labels[has], sep[has]]), axis=1)
        bad |= np.bincount(pairs[0], minlength=size) > 1
    return bad


@attrs.frozen(kw_only=True, eq=False)
class _Context:
    policy: StitchingPolicy
    rules: Sequence[str]
    codes: Mapping[int, IntArray]  # identifier value codes per rule (for limits)
    times_us: IntArray
    separations: Sequence[IntArray]
    limits: Mapping[int, tuple[int, int | None]]
    immutable: frozenset[int]
    rank: IntArray


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
    limits: dict[int, tuple[int, int | None]] = {}
    for r, p in enumerate(ordered):
        lim = p.effective_limit
        if lim is not None:
            limits[r] = (lim, None if p.window_days is None else p.window_days * _DAY_US)
    ctx = _Context(
        policy=policy, rules=rules, codes=codes, times_us=times_us, separations=separations,
        limits=limits, immutable=frozenset(r for r, p in enumerate(ordered) if p.immutable),
        rank=rank,
    )  # fmt: skip
    comp = components(n, edges.a, edges.b)
    size = int(comp.max(initial=-1)) + 1
    dirty = _violations(comp, size, hard_only=False, ctx=ctx)
    root = comp.copy()
    accepted = np.ones(edges.a.size, bool)
    refusal: dict[int, str] = {}
    n_resolved = n_greedy = 0
    if dirty.any():
        in_dirty = dirty[comp]
        members = np.flatnonzero(in_dirty)
        sel = np.flatnonzero(in_dirty[edges.a])
        n_resolved = int(members.size)
        n_greedy = _by_rule(members, sel, edges, ctx, root, accepted, refusal)
        _log.debug("identity: %d records in %d components resolved rule by rule, %d links one "
                   "at a time", n_resolved, int(dirty.sum()), n_greedy)  # fmt: skip
    width = max((len(x) for x in refusal.values()), default=1)
    why = np.full(edges.a.size, "", dtype=f"<U{width}")
    if refusal:
        why[np.fromiter(refusal, np.int64)] = list(refusal.values())
    return Clustering(
        root=_min_rank_member(root, rank), accepted=accepted, refusal=why,
        n_resolved=n_resolved, n_greedy=n_greedy,
    )  # fmt: skip


def _by_rule(
    members: IntArray,
    sel: IntArray,
    edges: EdgeSet,
    ctx: _Context,
    root: IntArray,
    accepted: BoolArray,
    refusal: dict[int, str],
) -> int:
    """Resolve the records ``members`` (whole components) rule by rule; returns greedy links."""
    prio = np.array([ctx.policy.get(k).priority for k in ctx.rules], np.int64)
    er = edges.rule[sel]
    must = er == MUST_LINK
    level = np.where(must, np.iinfo(np.int64).min, prio[np.where(must, 0, er)])
    # fresh labels: every member alone (label = its own local index)
    label = np.arange(root.size, dtype=np.int64)
    n_greedy = 0
    for lv in np.unique(level).tolist():
        es = sel[level == lv]
        hard = bool(lv == np.iinfo(np.int64).min)
        la, lb = label[edges.a[es]], label[edges.b[es]]
        cross = la != lb
        es, la, lb = es[cross], la[cross], lb[cross]
        if es.size == 0:
            continue
        # tentative merge of every link of this level; labels become components over labels
        uniq, inv = np.unique(np.concatenate([la, lb]), return_inverse=True)
        inv = inv.reshape(-1)
        k = uniq.size
        tent = components(k, inv[: es.size], inv[es.size :])
        # per member: its tentative group (members whose label is not touched keep their own)
        pos = np.searchsorted(uniq, label[members])
        pos = np.minimum(pos, k - 1)
        touched = uniq[pos] == label[members]
        grp = np.where(touched, tent[pos], -1)
        tmembers = members[touched]
        g = grp[touched]
        bad_group = _violations_subset(tmembers, g, int(tent.max()) + 1, hard, ctx)
        good_edge = ~bad_group[tent[inv[: es.size]]]
        # accept every link of the good groups: relabel their members to the group's lowest label
        ok_members = tmembers[~bad_group[g]]
        if ok_members.size:
            gm = g[~bad_group[g]]
            best = np.full(int(tent.max()) + 1, np.iinfo(np.int64).max, np.int64)
            np.minimum.at(best, gm, label[ok_members])
            label[ok_members] = best[gm]
        del good_edge
        bad_edges = es[bad_group[tent[inv[: es.size]]]]
        if bad_edges.size:
            n_greedy += int(bad_edges.size)
            _greedy(bad_edges, edges, ctx, label, accepted, refusal, hard=hard)
    root[members] = root.size + label[members]  # apart from the component labels
    return n_greedy


def _violations_subset(records: IntArray, groups: IntArray, size: int, hard: bool,
                       ctx: _Context) -> BoolArray:  # fmt: skip
    sub = _Context(
        policy=ctx.policy, rules=ctx.rules,
        codes={r: c[records] for r, c in ctx.codes.items()}, times_us=ctx.times_us[records],
        separations=[s[records] for s in ctx.separations], limits=ctx.limits,
        immutable=ctx.immutable, rank=ctx.rank[records],
    )  # fmt: skip
    return _violations(groups, size, hard_only=hard, ctx=sub)


@attrs.define
class _State:
    size: int
    values: dict[int, dict[int, int]]  # rule -> value code -> first time
    labels: dict[int, int]  # separation -> label


def _merge_problem(x: _State, y: _State, *, hard_only: bool, ctx: _Context) -> str:
    for d, lab in y.labels.items():
        if x.labels.get(d, lab) != lab:
            return f"separated by a human decision (#{d})"
    for r, (lim, window) in ctx.limits.items():
        if hard_only and r not in ctx.immutable:
            continue
        merged = dict(x.values.get(r, {}))
        for code, t in y.values.get(r, {}).items():
            merged[code] = min(t, merged.get(code, t))
        if len(merged) <= lim:
            continue
        if window is None:
            return f"{ctx.rules[r]} limit {lim} would be exceeded ({len(merged)} values)"
        ts = sorted(merged.values())
        if any(ts[i + lim] - ts[i] < window for i in range(len(ts) - lim)):
            return f"{ctx.rules[r]} limit {lim} in {window // _DAY_US} days would be exceeded"
    cap = ctx.policy.max_entity_size
    if not hard_only and cap is not None and x.size + y.size > cap:
        return f"entity size {x.size + y.size} would exceed {cap}"
    return ""


def _greedy(
    sel: IntArray,
    edges: EdgeSet,
    ctx: _Context,
    label: IntArray,
    accepted: BoolArray,
    refusal: dict[int, str],
    *,
    hard: bool,
) -> None:
    """Take the links ``sel`` one at a time in a fixed order, refusing those that break a rule;
    ``label`` (current entity label per record) is updated in place."""
    rank = ctx.rank
    order = sel[np.lexsort((rank[edges.b[sel]], rank[edges.a[sel]], edges.rule[sel],
                            -edges.score[sel]))]  # fmt: skip
    labs = np.unique(np.concatenate([label[edges.a[sel]], label[edges.b[sel]]]))
    recs = np.flatnonzero(np.isin(label, labs))
    state: dict[int, _State] = {}
    for i in recs.tolist():
        lab = int(label[i])
        st = state.setdefault(lab, _State(size=0, values={}, labels={}))
        st.size += 1
        t = int(ctx.times_us[i])
        for r in ctx.limits:
            c = int(ctx.codes[r][i])
            if c >= 0:
                seen = st.values.setdefault(r, {})
                seen[c] = min(t, seen.get(c, t))
        for d, sep in enumerate(ctx.separations):
            if sep[i] >= 0:
                st.labels[d] = int(sep[i])
    parent = {lab: lab for lab in state}

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for e in order.tolist():
        x, y = find(int(label[edges.a[e]])), find(int(label[edges.b[e]]))
        if x == y:
            continue
        problem = _merge_problem(state[x], state[y], hard_only=hard, ctx=ctx)
        if problem:
            accepted[e] = False
            refusal[e] = problem
            continue
        if x > y:
            x, y = y, x
        parent[y] = x
        sx, sy = state[x], state.pop(y)
        sx.size += sy.size
        sx.labels.update(sy.labels)
        for r, seen in sy.values.items():
            mine = sx.values.setdefault(r, {})
            for code, first in seen.items():
                mine[code] = min(first, mine.get(code, first))
    final = np.array([find(int(lab)) for lab in labs.tolist()], np.int64)
    label[recs] = final[np.searchsorted(labs, label[recs])]
