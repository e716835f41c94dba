"""The stored form of an identity graph: its documents, their collections, shared helpers."""

from __future__ import annotations

import contextlib
import gc
import hashlib
import logging
import re
import weakref
from collections.abc import Iterator
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmkit.errors import InvalidInputError
from crmkit.identity._policy import StitchingPolicy
from crmkit.storage import CollectionSpec, DocumentCollection, Store

__all__ = [
    "ERASED",
    "GRAPHS",
    "AuditChunk",
    "EntityDocument",
    "GraphState",
    "SaveReport",
    "audit_spec",
    "entity_spec",
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
