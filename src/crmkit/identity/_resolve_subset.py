"""Resolving one set of whole link components of a graph again, and auditing what changed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
import numpy as np
import numpy.typing as npt

from crmkit.identity._audit import DecisionKind
from crmkit.identity._cluster import MUST_LINK, EdgeSet, cluster, components, key_edges
from crmkit.identity._corroborate import corroborated
from crmkit.identity._decide import separations_of
from crmkit.identity._records import key_text

if TYPE_CHECKING:
    from crmkit.identity._audit import AuditLog
    from crmkit.identity._graph import IdentityGraph, _Edges

__all__ = ["edge_evidence", "resolve_subset"]

IntArray = npt.NDArray[np.int64]


def _times_us(t: npt.NDArray[np.datetime64]) -> IntArray:
    out = t.astype("datetime64[us]").astype(np.int64)
    return np.where(np.isnat(t), 0, out)


def resolve_subset(graph: IdentityGraph, idx: IntArray, *, changed: IntArray) -> IdentityGraph:
    """``graph`` with the records at ``idx`` (whole components) resolved from scratch."""
    from crmkit.identity._graph import _Edges, _put

    policy = graph.policy
    idx = np.unique(idx)
    m = idx.size
    rid = graph.records.record_id[idx]
    rank = np.empty(m, np.int64)
    rank[np.argsort(rid, kind="stable")] = np.arange(m)
    times = _times_us(graph.records.observed_at[idx])
    ordered = policy.ordered()
    rules = [p.kind for p in ordered]
    codes = {r: graph.keys.code[k][idx] for r, k in enumerate(rules)}
    fields = graph.keys.fields
    link = {
        r: corroborated(codes[r], graph.keys.support[k][idx],
                        {f: fields[f].value[idx] for f in policy.get(k).corroborate})
        if k in graph.keys.support
        else codes[r]
        for r, k in enumerate(rules)
    }  # fmt: skip
    edges = key_edges(link, rank)
    # the unit of re-resolution: records sharing any value, whatever corroboration decides
    guarded = key_edges({r: codes[r] for r, k in enumerate(rules) if k in graph.keys.support}, rank)
    parts = [edges]
    # scored links from matchers
    sc = graph.scored
    mine = np.isin(sc.a, idx)
    sa, sb = np.searchsorted(idx, sc.a[mine]), np.searchsorted(idx, sc.b[mine])
    srule, sscore, sreason = sc.rule[mine], sc.score[mine], sc.evidence[mine]
    rule_index = {k: r for r, k in enumerate(rules)}
    min_score = np.array([policy.get(k).min_score for k in rules] + [0.0])
    sr = np.array([rule_index[str(k)] for k in srule], dtype=np.int64)
    strong = sscore >= min_score[sr] if sr.size else np.zeros(0, bool)
    parts.append(EdgeSet(a=sa[strong], b=sb[strong], rule=sr[strong], score=sscore[strong],
                         evidence=sreason[strong]))  # fmt: skip
    # human must-links
    ml_a, ml_b, ml_id = [], [], []
    local = {r: i for i, r in enumerate(rid.tolist())} if graph.decisions else {}
    for d in graph.decisions:
        if d.kind is DecisionKind.MUST_LINK:
            a, b = d.groups[0]
            if a in local and b in local:
                ml_a.append(local[a])
                ml_b.append(local[b])
                ml_id.append(f"{d.decision_id}: {d.reason}")
    parts.append(EdgeSet(a=np.array(ml_a, np.int64), b=np.array(ml_b, np.int64),
                         rule=np.full(len(ml_a), MUST_LINK, np.int64), score=np.ones(len(ml_a)),
                         evidence=np.array(ml_id, dtype=str).reshape(-1)))  # fmt: skip
    all_edges = EdgeSet.concat([p for p in parts if p.a.size] or [edges])
    cl = cluster(
        m,
        all_edges,
        rank=rank,
        times_us=times,
        codes=codes,
        separations=separations_of(graph.decisions, rid),
        policy=policy,
        rules=rules,
    )
    comp = components(
        m, np.concatenate([all_edges.a, guarded.a]), np.concatenate([all_edges.b, guarded.b])
    )
    names = np.array([*rules, "must_link"], dtype=str)
    new_eid = rid[cl.root]
    ea, eb = all_edges.a, all_edges.b
    new_edges = _Edges(
        a=idx[ea], b=idx[eb], rule=names[all_edges.rule], score=all_edges.score,
        evidence=all_edges.evidence, accepted=cl.accepted, refusal=cl.refusal,
    )  # fmt: skip
    weak = _Edges(
        a=idx[sa[~strong]], b=idx[sb[~strong]], rule=srule[~strong], score=sscore[~strong],
        evidence=sreason[~strong], accepted=np.zeros(int((~strong).sum()), bool),
        refusal=np.full(int((~strong).sum()), "score below the rule's min_score"),
    )  # fmt: skip
    old_edges = graph.edges
    in_subset = np.isin(old_edges.a, idx)
    before = old_edges.keep(in_subset)
    kept = old_edges.keep(~in_subset)
    audit = _audit(graph, idx, rid, new_eid, new_edges, before, changed)
    min_rank = np.full(m, np.iinfo(np.int64).max, np.int64)
    np.minimum.at(min_rank, comp, rank)
    by_rank = np.empty(m, np.int64)
    by_rank[rank] = np.arange(m)
    return attrs.evolve(
        graph,
        entity_id=_put(graph.entity_id, idx, new_eid),
        component=_put(graph.component, idx, idx[by_rank[min_rank[comp]]]),
        edges=kept.plus(new_edges).plus(weak),
        audit=audit,
    )


def _audit(
    graph: IdentityGraph,
    idx: IntArray,
    rid: npt.NDArray[np.str_],
    new_eid: npt.NDArray[np.str_],
    edges: _Edges,
    before: _Edges,
    changed: IntArray,
) -> AuditLog:
    all_rid = graph.records.record_id
    eid_all = graph.entity_id
    old_eid = eid_all[idx]
    piece = np.where(old_eid != "", old_eid, rid)
    pos_a, pos_b = np.searchsorted(idx, edges.a), np.searchsorted(idx, edges.b)
    log = graph.audit
    batch = graph.batch
    merge = edges.accepted & (piece[pos_a] != piece[pos_b])
    log = log.append(
        batch,
        action=np.full(int(merge.sum()), "merge"),
        entity_id=new_eid[pos_a[merge]],
        record_a=all_rid[edges.a[merge]],
        record_b=all_rid[edges.b[merge]],
        rule=edges.rule[merge],
        reason=np.char.add("linked by ", edges.rule[merge]),
        evidence=edge_evidence(graph, edges.keep(merge)),
    )
    old = old_eid != ""
    if old.any():
        pairs = np.unique(np.stack([old_eid[old], new_eid[old]]), axis=1)
        olds, counts = np.unique(pairs[0], return_counts=True)
        split_old = olds[counts > 1]
        sel = np.isin(pairs[0], split_old)
        log = log.append(
            batch,
            action=np.full(int(sel.sum()), "split"),
            entity_id=pairs[1][sel],
            record_a=pairs[0][sel],
            record_b=np.full(int(sel.sum()), ""),
            rule=np.full(int(sel.sum()), ""),
            reason=np.char.add("split from ", pairs[0][sel]),
            evidence=np.full(int(sel.sum()), ""),
        )
    refused = ~edges.accepted
    if refused.any():
        ref = np.flatnonzero(refused)
        prev = np.flatnonzero(~before.accepted)
        kinds = np.unique(np.concatenate([edges.rule[ref], before.rule[prev]]))
        n_all = np.int64(all_rid.size)

        def sig(e: _Edges, sel: IntArray) -> IntArray:
            r = np.searchsorted(kinds, e.rule[sel]).astype(np.int64)
            out: IntArray = (e.a[sel] * n_all + e.b[sel]) * np.int64(kinds.size) + r
            return out

        new_ref = np.zeros(refused.size, bool)
        new_ref[ref] = ~np.isin(sig(edges, ref), sig(before, prev))
        log = log.append(
            batch,
            action=np.full(int(new_ref.sum()), "limit"),
            entity_id=new_eid[pos_a[new_ref]],
            record_a=all_rid[edges.a[new_ref]],
            record_b=all_rid[edges.b[new_ref]],
            rule=edges.rule[new_ref],
            reason=edges.refusal[new_ref],
            evidence=edge_evidence(graph, edges.keep(new_ref)),
        )
    if changed.size:
        ch_local = np.searchsorted(idx, changed)
        for kind, blocked in graph.keys.blocked_mask.items():
            hit = blocked[changed]
            if not hit.any():
                continue
            at = changed[hit]
            log = log.append(
                batch,
                action=np.full(at.size, "blocked"),
                entity_id=new_eid[ch_local[hit]],
                record_a=all_rid[at],
                record_b=np.full(at.size, ""),
                rule=np.full(at.size, kind),
                reason=np.full(at.size, "blocked value never links"),
                evidence=key_text(graph.keys.fields, graph.policy.get(kind), at),
            )
    return log


def edge_evidence(graph: IdentityGraph, edges: _Edges) -> npt.NDArray[np.str_]:
    """The evidence of each link: the shared normalized key for key rules (rebuilt from the
    normalized fields), the matcher's reason or the decision for the others."""
    out = edges.evidence
    if out.size == 0:
        return out.astype("<U1")
    parts: list[tuple[IntArray, npt.NDArray[np.str_]]] = []
    for p in graph.policy.identifiers:
        if p.scored:
            continue
        sel = np.flatnonzero(edges.rule == p.kind)
        if sel.size:
            parts.append((sel, key_text(graph.keys.fields, p, edges.b[sel])))
    if not parts:
        return out
    width = max([out.dtype.itemsize // 4] + [t.dtype.itemsize // 4 for _, t in parts])
    out = out.astype(f"<U{max(width, 1)}")
    for sel, text in parts:
        out[sel] = text
    return out
