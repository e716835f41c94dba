"""Persisting an identity graph in a store: entities, links, decisions, the audit log, the policy.

A graph is kept under a name (``"default"``) in three module collections, so every store that
declares ``Capabilities.documents`` keeps it without adapter code of its own:

* ``identity.graphs``: one [`GraphState`][crmkit.identity.GraphState] per graph name: the
  stitching policy, the batch counter, the revision and how many audit rows are saved.
* ``identity.<name>.entities``: one [`EntityDocument`][crmkit.identity.EntityDocument] per entity,
  owned by the entity (``customer`` = the entity id), holding its records (raw fields, entity,
  component), the links and matcher links whose first record is one of them, the human decisions
  whose first record is one of them and the personal columns of the audit rows about them.
* ``identity.<name>.audit``: the append-only audit log's impersonal columns (seq, batch, action,
  rule) in one chunk per save.

The entity id is the customer id: ``store.erase(entity_id)`` deletes that entity's document, so
its records, links, decisions and the personal columns of its audit rows go, while the audit rows
themselves stay, pseudonymized (entity and records read ``"<erased>"``, reason and evidence
empty).
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
import re
import secrets
import weakref
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmkit.errors import ConflictError, InvalidInputError
from crmkit.identity._audit import AuditLog, Decision, DecisionKind
from crmkit.identity._graph import IdentityGraph, _Edges
from crmkit.identity._policy import StitchingPolicy
from crmkit.identity._records import Field, RecordTable, keys_of_fields
from crmkit.identity._text import hash_text
from crmkit.storage import CollectionSpec, DocumentCollection, Store, documents

__all__ = [
    "ERASED",
    "GRAPHS",
    "AuditChunk",
    "EntityDocument",
    "GraphState",
    "SaveReport",
    "audit_spec",
    "entity_spec",
    "load_graph",
    "save_graph",
]

_log = logging.getLogger("crmkit.identity")
IntArray = npt.NDArray[np.int64]
StrArray = npt.NDArray[np.str_]
U64 = npt.NDArray[np.uint64]

#: What an erased person's entity and record ids read as in the audit log after ``erase()``.
ERASED = "<erased>"
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_PAGE = 5000
_AUDIT_IDS = ("entity_id", "record_a", "record_b")
_NAT = np.iinfo(np.int64).min


@attrs.frozen(kw_only=True)
class GraphState:
    """What a store keeps about a saved graph as a whole (collection ``identity.graphs``).

    ``revision`` counts saves; ``token`` is drawn afresh by each save (a save compares it with
    the one it last wrote or read to notice another writer); ``audit_rows`` and
    ``audit_tail`` (a digest of the last saved row's impersonal columns) let a save check that the
    graph continues the saved one.

    Examples:
        >>> s = GraphState(name="default", policy=StitchingPolicy.default(), batch=3, revision=1)
        >>> s.audit_rows
        0
    """

    name: str
    policy: StitchingPolicy
    batch: int
    revision: int
    token: str = ""
    n_records: int = 0
    n_entities: int = 0
    audit_rows: int = 0
    audit_tail: str = ""


@attrs.frozen(kw_only=True)
class EntityDocument:
    """One entity of a saved graph, owned by the entity (its id is the customer id).

    ``body`` is a compact JSON object of columns (records, links, matcher links, decisions and
    the audit rows' personal columns): one parse per entity instead of one structuring step per
    value keeps loading a million records fast. ``digest`` is a hash of the content; a save
    rewrites only the entities whose digest changed. ``batch``: the graph's batch when written.

    Examples:
        >>> doc = EntityDocument(graph="default", entity_id="web:1", batch=1, digest="0", body="{}")
        >>> entity_spec("default").key(doc)
        'web:1'
    """

    graph: str
    entity_id: str
    batch: int
    digest: str
    body: str


@attrs.frozen(kw_only=True)
class AuditChunk:
    """The impersonal columns of the audit rows one save appended (``start`` = first seq).

    Examples:
        >>> AuditChunk(graph="default", start=0, batch=(1,), action=("merge",),
        ...            rule=("email",)).start
        0
    """

    graph: str
    start: int
    batch: tuple[int, ...] = attrs.field(converter=tuple)
    action: tuple[str, ...] = attrs.field(converter=tuple)
    rule: tuple[str, ...] = attrs.field(converter=tuple)


@attrs.frozen(kw_only=True)
class SaveReport:
    """What [`save_graph`][crmkit.identity.save_graph] wrote.

    Examples:
        >>> SaveReport(name="default", revision=2, entities_written=3).entities_written
        3
    """

    name: str
    revision: int
    entities_written: int = 0
    entities_deleted: int = 0
    audit_rows_written: int = 0


def _state_key(state: GraphState) -> str:
    return state.name


def _entity_key(doc: EntityDocument) -> str:
    return doc.entity_id


def _audit_key(chunk: AuditChunk) -> str:
    return f"{chunk.start:015d}"


#: The collection of graph states, one per graph name.
GRAPHS: CollectionSpec[GraphState] = CollectionSpec(
    name="identity.graphs", value_type=GraphState, key=_state_key
)
_SPECS: dict[str, tuple[CollectionSpec[EntityDocument], CollectionSpec[AuditChunk]]] = {}


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInputError(
            f"name: {name!r} is not a snake_case graph name. Use names like 'default' or 'eu_shop'."
        )
    return name


def _specs(name: str) -> tuple[CollectionSpec[EntityDocument], CollectionSpec[AuditChunk]]:
    found = _SPECS.get(_check_name(name))
    if found is None:
        found = _SPECS[name] = (
            CollectionSpec(
                name=f"identity.{name}.entities",
                value_type=EntityDocument,
                key=_entity_key,
                customer=_entity_key,
            ),
            CollectionSpec(name=f"identity.{name}.audit", value_type=AuditChunk, key=_audit_key),
        )
    return found


def entity_spec(name: str = "default") -> CollectionSpec[EntityDocument]:
    """The spec of the entity documents of graph ``name`` (``identity.<name>.entities``).

    Examples:
        >>> entity_spec().name
        'identity.default.entities'
    """
    return _specs(name)[0]


def audit_spec(name: str = "default") -> CollectionSpec[AuditChunk]:
    """The spec of the audit chunks of graph ``name`` (``identity.<name>.audit``).

    Examples:
        >>> audit_spec("eu").name
        'identity.eu.audit'
    """
    return _specs(name)[1]


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector: building millions of small lists and strings
    otherwise triggers collections that scan the whole heap again and again (4x slower)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _scan(docs: DocumentCollection[Any]) -> Iterator[Any]:
    cursor: str | None = None
    while True:
        page = docs.scan(after=cursor, limit=_PAGE)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


# ---------------------------------------------------------------------------------- digests
_K1 = np.uint64(0x9E3779B97F4A7C15)
_K2 = np.uint64(0xBF58476D1CE4E5B9)


def _mix(*cols: U64) -> U64:
    h = np.full(cols[0].shape, np.uint64(0x243F6A8885A308D3), np.uint64)
    for c in cols:
        h = (h * _K1) ^ c
        h = (h ^ (h >> np.uint64(29))) * _K2
    return h


def _u64(a: npt.NDArray[Any]) -> U64:
    if a.dtype.kind == "M":
        return a.astype("datetime64[us]").view(np.int64).view(np.uint64)
    if a.dtype.kind == "f":
        return a.astype(np.float64).view(np.uint64)
    return a.astype(np.int64).view(np.uint64)


def _hash_str(s: str) -> np.uint64:
    return np.uint64(int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "little"))


@attrs.frozen(kw_only=True, eq=False)
class _Layout:
    """Who owns what in a graph: each record, link, matcher link, audit row and decision is
    kept in the document of one entity (code into ``entities``; -1: kept nowhere)."""

    entities: StrArray
    record_owner: IntArray
    rep: StrArray  # the record id that labels each record's component
    edge_owner: IntArray
    scored_owner: IntArray
    audit_owner: IntArray
    decision_owner: IntArray
    digest: U64


def _layout(graph: IdentityGraph) -> _Layout:
    rid = graph.records.record_id
    entities, record_owner = np.unique(graph.entity_id, return_inverse=True)
    record_owner = record_owner.astype(np.int64).reshape(-1)
    rep = rid[graph.component] if rid.size else rid
    order = np.argsort(rid, kind="stable")
    srt = rid[order]

    def owner_of(ids: StrArray) -> IntArray:
        if srt.size == 0 or ids.size == 0:
            return np.full(ids.size, -1, np.int64)
        pos = np.minimum(np.searchsorted(srt, ids), srt.size - 1)
        hit = srt[pos] == ids
        return np.where(hit, record_owner[order[pos]], -1)

    e, s = graph.edges, graph.scored
    edge_owner = record_owner[e.a]
    scored_owner = record_owner[s.a]
    audit_owner = owner_of(graph.audit.record_a)
    decision_owner = np.full(len(graph.decisions), -1, np.int64)
    for i, d in enumerate(graph.decisions):
        found = owner_of(np.asarray(d.records, dtype=str))
        found = found[found >= 0]
        if found.size:
            decision_owner[i] = found[0]
    digest = np.zeros(entities.size, np.uint64)
    text = graph.records.text
    items = [
        hash_text(rid, 1),
        hash_text(graph.records.source, 2),
        _u64(graph.records.observed_at),
        hash_text(rep, 3),
        *(hash_text(text[k], 10 + j) for j, k in enumerate(sorted(text))),
    ]
    if rid.size:
        np.add.at(digest, record_owner, _mix(np.full(rid.size, np.uint64(1)), *items))
    if e.a.size:
        h = _mix(
            np.full(e.a.size, np.uint64(2)), hash_text(rid[e.a]), hash_text(rid[e.b], 1),
            hash_text(e.rule, 2), _u64(e.score), hash_text(e.evidence, 3), _u64(e.accepted),
            hash_text(e.refusal, 4),
        )  # fmt: skip
        np.add.at(digest, edge_owner, h)
    if s.a.size:
        h = _mix(
            np.full(s.a.size, np.uint64(3)), hash_text(rid[s.a]), hash_text(rid[s.b], 1),
            hash_text(s.rule, 2), _u64(s.score), hash_text(s.evidence, 3),
        )  # fmt: skip
        np.add.at(digest, scored_owner, h)
    mine = np.flatnonzero(audit_owner >= 0)
    if mine.size:  # a row changes only when erasure pseudonymizes the ids it names
        log = graph.audit
        h = _mix(
            np.full(mine.size, np.uint64(4)), _u64(log.seq[mine]),
            *(hash_text(getattr(log, k)[mine], j) for j, k in enumerate(_AUDIT_IDS)),
        )  # fmt: skip
        np.add.at(digest, audit_owner[mine], h)
    for i, d in enumerate(graph.decisions):
        if decision_owner[i] >= 0:
            one = np.array([_hash_str(json.dumps([i, *_decision_row(d)]))], np.uint64)
            np.add.at(digest, decision_owner[i : i + 1], one)
    return _Layout(
        entities=entities,
        record_owner=record_owner,
        rep=rep,
        edge_owner=edge_owner,
        scored_owner=scored_owner,
        audit_owner=audit_owner,
        decision_owner=decision_owner,
        digest=digest,
    )


def _decision_row(d: Decision) -> list[Any]:
    return [d.decision_id, d.kind.value, [list(g) for g in d.groups], d.reason, d.actor]


def _audit_tail(log: AuditLog, rows: int) -> str:
    if rows == 0:
        return ""
    i = rows - 1
    row = [int(log.seq[i]), int(log.batch[i]), str(log.action[i]), str(log.rule[i])]
    return hashlib.blake2b(json.dumps(row).encode(), digest_size=8).hexdigest()


# ---------------------------------------------------------------------------------- the cache
@attrs.frozen(kw_only=True, eq=False)
class _Saved:
    """What this process knows a store holds for a graph: the save's token, entity digests."""

    token: str
    entities: StrArray
    digest: U64


_KNOWN: weakref.WeakKeyDictionary[Any, dict[str, _Saved]] = weakref.WeakKeyDictionary()


def _remember(store: Store, name: str, saved: _Saved) -> None:
    with contextlib.suppress(TypeError):  # not weakly referable: no cache, scans instead
        _KNOWN.setdefault(store, {})[name] = saved


def _recall(store: Store, name: str) -> _Saved | None:
    try:
        return _KNOWN.get(store, {}).get(name)
    except TypeError:
        return None


def _stored(docs: DocumentCollection[EntityDocument], token: str) -> _Saved:
    ids, digests = [], []
    for doc in _scan(docs):
        ids.append(doc.entity_id)
        digests.append(int(doc.digest, 16))
    return _Saved(
        token=token,
        entities=np.array(ids, dtype=str).reshape(-1),
        digest=np.array(digests, dtype=np.uint64).reshape(-1),
    )


# ---------------------------------------------------------------------------------- saving
def save_graph(
    store: Store, graph: IdentityGraph, *, name: str = "default", replace: bool = False
) -> SaveReport:
    """Save ``graph`` in ``store`` under ``name``, writing only what changed since the last save.

    Entities whose records, links, decisions or audit rows changed are rewritten, entities that
    no longer exist (merged away) are deleted, and the audit rows appended since the last save are
    added; all in one transaction, so a failure leaves the store as it was. The graph must
    continue the saved one (be [`load_graph`][crmkit.identity.load_graph]'s result or a graph the
    last save came from, resolved further); otherwise ``ConflictError``, unless ``replace=True``
    (which drops the saved graph, audit log included, and saves this one in its place).

    Examples:
        >>> import crmkit
        >>> import crmkit.identity as ci
        >>> store = crmkit.connect("memory://")
        >>> res = ci.resolve({"record_id": ["a", "b"], "email": ["x@y.org", "X@y.org"]})
        >>> ci.save_graph(store, res.graph).entities_written
        1
        >>> ci.load_graph(store).entity_of(["a", "b"]).tolist()
        ['a', 'a']
    """
    with _no_gc():
        return _save_graph(store, graph, name, replace)


def _save_graph(store: Store, graph: IdentityGraph, name: str, replace: bool) -> SaveReport:
    if not isinstance(graph, IdentityGraph):
        raise InvalidInputError(
            f"graph: expected an IdentityGraph (got {type(graph).__name__}). Pass "
            "resolve(...).graph."
        )
    ent_spec, aud_spec = _specs(name)
    states = documents(store, GRAPHS)
    entities = documents(store, ent_spec)
    audit = documents(store, aud_spec)
    layout = _layout(graph)
    n_audit = len(graph.audit)
    with store.transaction():
        state: GraphState | None = states.find(name)
        if state is not None and replace:
            entities.delete([d.entity_id for d in _scan(entities)])
            audit.delete([_audit_key(c) for c in _scan(audit)])
            state = None
        if state is None:
            before = _Saved(token="", entities=np.empty(0, "<U1"), digest=np.empty(0, np.uint64))
            from_row = 0
        else:
            _check_continues(state, graph, name)
            known = _recall(store, name)
            before = (
                known
                if known is not None and known.token == state.token
                else _stored(entities, state.token)
            )
            from_row = state.audit_rows
        changed, gone = _changes(before, layout)
        written = entities.upsert(_documents(graph, layout, changed, name))
        deleted = entities.delete(gone.tolist())
        if n_audit > from_row:
            audit.upsert([_chunk(graph.audit, from_row, name)])
        revision = (state.revision if state is not None else 0) + 1
        token = secrets.token_hex(8)  # a rolled-back save's token is never found in the store
        states.upsert(
            [
                GraphState(
                    name=name,
                    policy=graph.policy,
                    batch=graph.batch,
                    revision=revision,
                    token=token,
                    n_records=len(graph),
                    n_entities=int(layout.entities.size),
                    audit_rows=n_audit,
                    audit_tail=_audit_tail(graph.audit, n_audit),
                )
            ]
        )
    _remember(store, name, _Saved(token=token, entities=layout.entities, digest=layout.digest))
    _log.info(
        "saved identity graph %r: %d entities written, %d deleted, %d audit rows",
        name, written, deleted, n_audit - from_row,
    )  # fmt: skip
    return SaveReport(
        name=name,
        revision=revision,
        entities_written=written,
        entities_deleted=deleted,
        audit_rows_written=n_audit - from_row,
    )


def _check_continues(state: GraphState, graph: IdentityGraph, name: str) -> None:
    rows = state.audit_rows
    if state.policy != graph.policy:
        raise ConflictError(
            f"graph: its stitching policy differs from the one graph {name!r} was saved with. "
            "Resolve against load_graph(store) or pass replace=True to start over."
        )
    if len(graph.audit) < rows or _audit_tail(graph.audit, rows) != state.audit_tail:
        raise ConflictError(
            f"graph: it does not continue the saved graph {name!r} (saved audit log: {rows} rows, "
            f"this graph's: {len(graph.audit)}, revision {state.revision}). Another save came "
            "first, or the graph was resolved from scratch: resolve against load_graph(store), "
            "or pass replace=True to replace the saved graph."
        )


def _changes(before: _Saved, layout: _Layout) -> tuple[IntArray, StrArray]:
    """Codes of the entities to write, and the ids of saved entities that are gone."""
    order = np.argsort(before.entities, kind="stable")
    srt = before.entities[order]
    cur = layout.entities
    if srt.size == 0:
        return np.arange(cur.size, dtype=np.int64), srt
    pos = np.minimum(np.searchsorted(srt, cur), srt.size - 1)
    same = (srt[pos] == cur) & (before.digest[order[pos]] == layout.digest)
    gone = srt[~np.isin(srt, cur)]
    return np.flatnonzero(~same).astype(np.int64), gone


def _groups(owner: IntArray, n: int) -> tuple[IntArray, IntArray]:
    """Positions sorted by owner, and where each owner's run starts (``n + 1`` bounds)."""
    keep = np.flatnonzero(owner >= 0)
    order = keep[np.argsort(owner[keep], kind="stable")]
    bounds = np.searchsorted(owner[order], np.arange(n + 1))
    return order.astype(np.int64), bounds.astype(np.int64)


def _documents(
    graph: IdentityGraph, layout: _Layout, changed: IntArray, name: str
) -> list[EntityDocument]:
    if changed.size == 0:
        return []
    n = layout.entities.size
    want = np.zeros(n, bool)
    want[changed] = True
    rid = graph.records.record_id
    r_order, r_bounds = _groups(np.where(want[layout.record_owner], layout.record_owner, -1), n)
    rec = graph.records
    t = rec.observed_at.astype("datetime64[us]").view(np.int64)[r_order]
    rec_cols: dict[str, list[Any]] = {
        "record_id": rid[r_order].tolist(),
        "source": rec.source[r_order].tolist(),
        "observed_at": [None if x == _NAT else x for x in t.tolist()],
        "component": layout.rep[r_order].tolist(),
    }
    text_cols = {k: rec.text[k][r_order].tolist() for k in sorted(rec.text)}
    fields = graph.keys.fields
    norm_cols = {k: fields[k].value[r_order].tolist() for k in sorted(fields)}
    flags = np.zeros(r_order.size, np.int64)
    for j, k in enumerate(sorted(fields)):
        f = fields[k]
        flags |= f.valid[r_order].astype(np.int64) << (2 * j)
        flags |= f.present[r_order].astype(np.int64) << (2 * j + 1)
    rec_cols["flags"] = flags.tolist()
    e = graph.edges
    e_order, e_bounds = _groups(np.where(want[layout.edge_owner], layout.edge_owner, -1), n)
    edge_cols = {
        "record_a": rid[e.a[e_order]].tolist(),
        "record_b": rid[e.b[e_order]].tolist(),
        "rule": e.rule[e_order].tolist(),
        "score": e.score[e_order].tolist(),
        "evidence": e.evidence[e_order].tolist(),
        "accepted": e.accepted[e_order].tolist(),
        "refusal": e.refusal[e_order].tolist(),
    }
    s = graph.scored
    s_order, s_bounds = _groups(np.where(want[layout.scored_owner], layout.scored_owner, -1), n)
    scored_cols = {
        "record_a": rid[s.a[s_order]].tolist(),
        "record_b": rid[s.b[s_order]].tolist(),
        "rule": s.rule[s_order].tolist(),
        "score": s.score[s_order].tolist(),
        "reason": s.evidence[s_order].tolist(),
    }
    log = graph.audit
    a_owner = layout.audit_owner
    a_order, a_bounds = _groups(np.where(a_owner >= 0, np.where(want[a_owner], a_owner, -1), -1), n)
    audit_cols = {
        "seq": log.seq[a_order].tolist(),
        **{
            k: getattr(log, k)[a_order].tolist()
            for k in ("entity_id", "record_a", "record_b", "reason", "evidence")
        },
    }
    decisions: dict[int, list[list[Any]]] = {}
    for i, d in enumerate(graph.decisions):
        o = int(layout.decision_owner[i])
        if o >= 0 and want[o]:
            decisions.setdefault(o, []).append([i, *_decision_row(d)])

    def part(cols: Mapping[str, list[Any]], lo: int, hi: int) -> dict[str, list[Any]]:
        return {k: c[lo:hi] for k, c in cols.items()}

    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
    out = []
    for code in changed.tolist():
        r0, r1 = int(r_bounds[code]), int(r_bounds[code + 1])
        body: dict[str, Any] = {
            "records": {
                **part(rec_cols, r0, r1),
                "text": part(text_cols, r0, r1),
                "normalized": part(norm_cols, r0, r1),
            }
        }
        e0, e1 = int(e_bounds[code]), int(e_bounds[code + 1])
        if e1 > e0:
            body["links"] = part(edge_cols, e0, e1)
        s0, s1 = int(s_bounds[code]), int(s_bounds[code + 1])
        if s1 > s0:
            body["matcher_links"] = part(scored_cols, s0, s1)
        a0, a1 = int(a_bounds[code]), int(a_bounds[code + 1])
        if a1 > a0:
            body["audit"] = part(audit_cols, a0, a1)
        if code in decisions:
            body["decisions"] = decisions[code]
        out.append(
            EntityDocument(
                graph=name,
                entity_id=str(layout.entities[code]),
                batch=graph.batch,
                digest=f"{int(layout.digest[code]):016x}",
                body=dumps(body),
            )
        )
    return out


def _chunk(log: AuditLog, start: int, name: str) -> AuditChunk:
    return AuditChunk(
        graph=name,
        start=start,
        batch=log.batch[start:].tolist(),
        action=log.action[start:].tolist(),
        rule=log.rule[start:].tolist(),
    )


# ---------------------------------------------------------------------------------- loading
def load_graph(store: Store, *, name: str = "default") -> IdentityGraph:
    """The graph saved in ``store`` under ``name`` (``NotFoundError`` if none was saved).

    The loaded graph equals the saved one: the same entity ids, links, matcher links, decisions,
    audit log, policy and batch counter; resolving new records against it equals resolving them
    against the graph that was saved. Records come back in record-id order. After
    ``store.erase(entity_id)`` the erased entity's records, links and decisions are gone, links
    and decisions of other entities drop the erased records, and its audit rows read
    ``"<erased>"``.

    Examples:
        >>> import crmkit
        >>> import crmkit.identity as ci
        >>> store = crmkit.connect("memory://")
        >>> g = ci.IdentityGraph.empty().add({"record_id": ["a", "b"],
        ...                                   "phone": ["030 1234567"] * 2})
        >>> _ = ci.save_graph(store, g.cannot_link("a", "b", reason="flatmates"))
        >>> loaded = ci.load_graph(store)
        >>> loaded.entity_of(["a", "b"]).tolist(), [d.kind.value for d in loaded.decisions]
        (['a', 'b'], ['cannot_link'])
    """
    with _no_gc():
        return _load_graph(store, name)


def _load_graph(store: Store, name: str) -> IdentityGraph:
    ent_spec, aud_spec = _specs(name)
    states = documents(store, GRAPHS)
    state: GraphState = states.get(name)
    docs = list(_scan(documents(store, ent_spec)))
    chunks = list(_scan(documents(store, aud_spec)))
    graph = _assemble(state, docs, chunks)
    # what the store holds, digests as written: a document that loading changed (an erased
    # record's id dropped from it) differs from the graph's and is rewritten by the next save
    _remember(
        store,
        name,
        _Saved(
            token=state.token,
            entities=_strs([d.entity_id for d in docs]),
            digest=np.array([int(d.digest, 16) for d in docs], np.uint64).reshape(-1),
        ),
    )
    return graph


def _strs(values: Sequence[Any]) -> StrArray:
    return np.array(values, dtype=str).reshape(-1) if len(values) else np.empty(0, "<U1")


def _assemble(
    state: GraphState, docs: Sequence[EntityDocument], chunks: Sequence[AuditChunk]
) -> IdentityGraph:
    bodies = [json.loads(d.body) for d in docs]
    empty = IdentityGraph.empty(state.policy)
    rec_parts: dict[str, list[Any]] = {
        k: [] for k in ("record_id", "source", "observed_at", "component", "entity", "flags")
    }
    text_names = sorted({k for b in bodies for k in b["records"]["text"]}) or sorted(
        empty.records.text
    )
    text_parts: dict[str, list[Any]] = {k: [] for k in text_names}
    field_names = sorted(empty.keys.fields)
    norm_parts: dict[str, list[Any]] = {k: [] for k in field_names}
    links: dict[str, list[Any]] = {}
    matcher: dict[str, list[Any]] = {}
    personal: dict[str, list[Any]] = {}
    decisions: list[list[Any]] = []
    for doc, body in zip(docs, bodies, strict=True):
        r = body["records"]
        for k in ("record_id", "source", "observed_at", "component", "flags"):
            rec_parts[k] += r[k]
        rec_parts["entity"] += [doc.entity_id] * len(r["record_id"])
        for k in text_names:
            text_parts[k] += r["text"][k]
        for k in field_names:
            norm_parts[k] += r["normalized"][k]
        for key, acc in (("links", links), ("matcher_links", matcher), ("audit", personal)):
            for k, col in body.get(key, {}).items():
                acc.setdefault(k, []).extend(col)
        decisions += body.get("decisions", [])
    rid = _strs(rec_parts["record_id"])
    order = np.argsort(rid, kind="stable")
    rid = rid[order]
    t = np.array(
        [_NAT if x is None else x for x in rec_parts["observed_at"]], dtype=np.int64
    ).reshape(-1)[order]
    table = RecordTable(
        record_id=rid,
        source=_strs(rec_parts["source"])[order],
        observed_at=t.view("datetime64[us]"),
        text={k: _strs(text_parts[k])[order] for k in text_names},
    )

    def index(ids: StrArray) -> IntArray:
        if rid.size == 0 or ids.size == 0:
            return np.full(ids.size, -1, np.int64)
        pos = np.minimum(np.searchsorted(rid, ids), rid.size - 1)
        return np.where(rid[pos] == ids, pos, -1).astype(np.int64)

    n = int(rid.size)
    rep = index(_strs(rec_parts["component"])[order])
    component = _labels(rep, _strs(rec_parts["component"])[order])
    return IdentityGraph(
        policy=state.policy,
        records=table,
        keys=keys_of_fields(_fields(norm_parts, rec_parts["flags"], order), state.policy, n),
        entity_id=_strs(rec_parts["entity"])[order],
        component=component,
        edges=_edges(links, index, scored=False),
        scored=_edges(matcher, index, scored=True),
        decisions=_decisions(decisions, set(rid.tolist())),
        audit=_audit(chunks, personal, rid),
        batch=state.batch,
    )


def _fields(norm: Mapping[str, list[Any]], flags: list[Any], order: IntArray) -> dict[str, Field]:
    bits = np.array(flags, dtype=np.int64).reshape(-1)[order]
    return {
        k: Field(
            value=_strs(norm[k])[order],
            valid=((bits >> (2 * j)) & 1).astype(bool),
            present=((bits >> (2 * j + 1)) & 1).astype(bool),
        )
        for j, k in enumerate(sorted(norm))
    }


def _labels(rep: IntArray, rep_ids: StrArray) -> IntArray:
    """Component labels: the index of the labelling record, or (when it was erased) the smallest
    index of the records that shared it."""
    n = rep.size
    out = rep.copy()
    lost = np.flatnonzero(rep < 0)
    if lost.size:
        _, first, inv = np.unique(rep_ids[lost], return_index=True, return_inverse=True)
        out[lost] = lost[first][inv.reshape(-1)]
    return out if n else np.empty(0, np.int64)


def _edges(cols: Mapping[str, list[Any]], index: Any, *, scored: bool) -> _Edges:
    if not cols or not cols.get("record_a"):
        return _Edges.empty()
    a, b = index(_strs(cols["record_a"])), index(_strs(cols["record_b"]))
    keep = (a >= 0) & (b >= 0)  # a link to an erased record goes with it
    n = int(keep.sum())
    score = np.array(cols["score"], dtype=np.float64).reshape(-1)[keep]
    if scored:
        return _Edges(
            a=a[keep], b=b[keep], rule=_strs(cols["rule"])[keep], score=score,
            evidence=_strs(cols["reason"])[keep], accepted=np.zeros(n, bool),
            refusal=np.full(n, ""),
        )  # fmt: skip
    return _Edges(
        a=a[keep], b=b[keep], rule=_strs(cols["rule"])[keep], score=score,
        evidence=_strs(cols["evidence"])[keep],
        accepted=np.array(cols["accepted"], dtype=bool).reshape(-1)[keep],
        refusal=_strs(cols["refusal"])[keep],
    )  # fmt: skip


def _decisions(rows: list[list[Any]], present: set[str]) -> tuple[Decision, ...]:
    out = []
    for _, decision_id, kind, groups, reason, actor in sorted(rows, key=lambda r: int(r[0])):
        kept = [[x for x in g if x in present] for g in groups]
        kind = DecisionKind(kind)
        if kind is DecisionKind.MUST_LINK:
            kept = kept if len(kept[0]) == 2 else []
        else:
            kept = [g for g in kept if g]
            kept = kept if len(kept) >= 2 else []
        if kept:  # a decision about an erased record alone goes with it
            out.append(
                Decision(
                    decision_id=decision_id, kind=kind, groups=kept, reason=reason, actor=actor
                )
            )
    return tuple(out)


def _audit(
    chunks: Sequence[AuditChunk], personal: Mapping[str, list[Any]], records: StrArray
) -> AuditLog:
    chunks = sorted(chunks, key=lambda c: c.start)
    n = sum(len(c.action) for c in chunks)
    if n == 0:
        return AuditLog.empty()
    starts = np.array([c.start for c in chunks], np.int64)
    sizes = np.array([len(c.action) for c in chunks], np.int64)
    expected = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    if not np.array_equal(starts, expected):
        raise InvalidInputError(
            f"store: the audit chunks of the saved graph do not follow each other (starts "
            f"{starts[:5].tolist()}, sizes {sizes[:5].tolist()}). The store was changed outside "
            "crmkit; restore it from a backup."
        )
    cols: dict[str, Any] = {
        "seq": np.arange(n, dtype=np.int64),
        "batch": np.array([x for c in chunks for x in c.batch], np.int64),
        "action": _strs([x for c in chunks for x in c.action]),
        "rule": _strs([x for c in chunks for x in c.rule]),
    }
    seq = np.array(personal.get("seq", []), np.int64).reshape(-1)
    for k in ("entity_id", "record_a", "record_b", "reason", "evidence"):
        gone = ERASED if k in ("entity_id", "record_a", "record_b") else ""
        vals = _strs(personal.get(k, []))
        col = np.full(n, gone, dtype=np.result_type(vals.dtype, np.dtype("<U8")))
        col[seq] = vals
        if k in _AUDIT_IDS:  # ids of records erased since the row was written
            col[(col != "") & ~np.isin(col, records)] = ERASED
        cols[k] = col
    for arr in cols.values():
        arr.flags.writeable = False
    return AuditLog(parts=(cols,))
