"""Why two records are, or are not, one entity."""

from __future__ import annotations

from collections import deque

import attrs
import numpy as np

from crmkit.identity._audit import Decision
from crmkit.identity._graph import IdentityGraph
from crmkit.identity._records import key_text

__all__ = ["Explanation", "LinkStep", "explain"]


@attrs.frozen(kw_only=True)
class LinkStep:
    """One accepted link on the path between two records.

    Examples:
        >>> LinkStep(record_a="a", record_b="b", rule="email", evidence="ann@x.org", score=1.0).rule
        'email'
    """

    record_a: str
    record_b: str
    rule: str
    evidence: str
    score: float


@attrs.frozen(kw_only=True)
class Explanation:
    """The answer of [`explain`][crmkit.identity.explain].

    ``path``: the accepted links joining the two records (empty when apart). ``shared``: the
    identifiers (rule, normalized value) the two records have in common. ``blocked``: identifiers
    they share that policy blocks. ``refused``: links between their entities that a limit,
    merge protection or a human separation refused, with the reason. ``decisions``: the human
    decisions naming either record.

    Examples:
        >>> import crmkit.identity as ci
        >>> res = ci.resolve({"record_id": ["a", "b", "c"],
        ...     "email": ["ann@x.org", "ann@x.org", "noreply@shop.de"],
        ...     "phone": ["", "030 1234567", "030 1234567"]})
        >>> print(ci.explain(res.graph, "a", "c").text())
        a and c are one entity (a): a –email (ann@x.org)→ b –phone (+49301234567)→ c
    """

    record_a: str
    record_b: str
    entity_a: str
    entity_b: str
    path: tuple[LinkStep, ...]
    shared: tuple[tuple[str, str], ...]
    blocked: tuple[tuple[str, str], ...]
    refused: tuple[tuple[LinkStep, str], ...]
    decisions: tuple[Decision, ...]

    @property
    def same_entity(self) -> bool:
        """Whether the two records are in one entity."""
        return self.entity_a == self.entity_b

    def text(self) -> str:
        """The explanation as one human-readable paragraph."""
        a, b = self.record_a, self.record_b
        if self.same_entity:
            hops = [a]
            cur = a
            for s in self.path:
                nxt = s.record_b if s.record_a == cur else s.record_a
                hops.append(f"–{s.rule} ({s.evidence})→ {nxt}")
                cur = nxt
            return f"{a} and {b} are one entity ({self.entity_a}): " + " ".join(hops)
        parts = [f"{a} ({self.entity_a}) and {b} ({self.entity_b}) are different entities"]
        if self.shared:
            parts.append("they share " + ", ".join(f"{r} {x}" for r, x in self.shared))
        if self.blocked:
            parts.append("blocked values: " + ", ".join(f"{r} {x}" for r, x in self.blocked))
        parts.extend(
            f"link {s.record_a}–{s.record_b} by {s.rule} refused: {why}" for s, why in self.refused
        )
        parts.extend(f"{d.decision_id} ({d.kind.value}): {d.reason}" for d in self.decisions)
        if len(parts) == 1:
            parts.append("no identifier links them")
        return "; ".join(parts)


def _step(graph: IdentityGraph, i: int) -> LinkStep:
    from crmkit.identity._resolve_subset import edge_evidence

    e = graph.edges
    rid = graph.records.record_id
    return LinkStep(
        record_a=str(rid[e.a[i]]),
        record_b=str(rid[e.b[i]]),
        rule=str(e.rule[i]),
        evidence=str(edge_evidence(graph, e.keep(np.arange(e.a.size) == i))[0]),
        score=float(e.score[i]),
    )


def explain(graph: IdentityGraph, record_a: str, record_b: str) -> Explanation:
    """Why ``record_a`` and ``record_b`` are, or are not, in one entity of ``graph``.

    Examples:
        >>> import crmkit.identity as ci
        >>> g = ci.resolve({"record_id": ["a", "b"], "email": ["ann@x.org", "ann@x.org"]}).graph
        >>> g = g.cannot_link("a", "b", reason="two people share the inbox")
        >>> ex = ci.explain(g, "a", "b")
        >>> step, why = ex.refused[0]
        >>> ex.same_entity, ex.shared, why
        (False, (('email', 'ann@x.org'),), 'separated by a human decision (#0)')
    """
    ia, ib = (int(x) for x in graph.index_of([record_a, record_b]))
    ea, eb = str(graph.entity_id[ia]), str(graph.entity_id[ib])
    e = graph.edges
    path: list[LinkStep] = []
    if ea == eb:
        sel = np.flatnonzero(e.accepted & (graph.entity_id[e.a] == ea))
        adj: dict[int, list[tuple[int, int]]] = {}
        for k in sel.tolist():
            x, y = int(e.a[k]), int(e.b[k])
            adj.setdefault(x, []).append((y, k))
            adj.setdefault(y, []).append((x, k))
        prev: dict[int, tuple[int, int]] = {ia: (ia, -1)}
        queue = deque([ia])
        while queue:
            x = queue.popleft()
            for y, k in sorted(adj.get(x, [])):
                if y not in prev:
                    prev[y] = (x, k)
                    queue.append(y)
        cur = ib
        while cur != ia and cur in prev:
            x, k = prev[cur]
            path.append(_step(graph, k))
            cur = x
        path.reverse()
    shared, blocked = [], []
    both = np.array([ia, ib], np.int64)
    for p in graph.policy.ordered():
        if p.scored:
            continue
        ka, kb = graph.keys.code[p.kind][both]
        ba, bb = graph.keys.blocked_mask[p.kind][both]
        if not ((ka >= 0 and ka == kb) or (ba and bb)):
            continue
        ta, tb = key_text(graph.keys.fields, p, both).tolist()
        if ka >= 0 and ka == kb:
            shared.append((p.kind, ta))
        elif ba and bb and ta == tb:
            blocked.append((p.kind, ta))
    refused: list[tuple[LinkStep, str]] = []
    if ea != eb:
        ents = {ea, eb}
        sel = np.flatnonzero(~e.accepted)
        for k in sel.tolist():
            pair = {str(graph.entity_id[e.a[k]]), str(graph.entity_id[e.b[k]])}
            if pair == ents:
                refused.append((_step(graph, k), str(e.refusal[k])))
    decisions = tuple(d for d in graph.decisions if record_a in d.records or record_b in d.records)
    return Explanation(
        record_a=record_a,
        record_b=record_b,
        entity_a=ea,
        entity_b=eb,
        path=tuple(path),
        shared=tuple(shared),
        blocked=tuple(blocked),
        refused=tuple(refused),
        decisions=decisions,
    )
