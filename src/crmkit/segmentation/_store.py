"""Segment definitions (versioned) and membership snapshots kept in a store's module collections.

Four collections, declared once here:

* ``segmentation.definitions``: the latest version of each definition, by name;
* ``segmentation.definition_versions``: every version, by ``(name, version)``;
* ``segmentation.snapshot_index``: per segment, the instants it was snapshotted (no customers);
* ``segmentation.members``: one document per customer of a snapshot, keyed by
  ``(segment, as_of, customer)``, timed at ``as_of`` and owned by the customer, so that
  ``store.erase(customer_id)`` deletes the customer from every snapshot.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

import attrs
import numpy as np

from crmkit.errors import InvalidInputError, NotFoundError
from crmkit.model._checks import aware, non_empty
from crmkit.segmentation._conditions import SegmentDefinition
from crmkit.segmentation._lifecycle import MembershipSnapshot, Transitions, transitions
from crmkit.storage import CollectionSpec, DocumentCollection, Store, documents
from crmkit.storage._keys import compound_key

__all__ = [
    "DEFINITIONS",
    "DEFINITION_VERSIONS",
    "SNAPSHOT_INDEX",
    "SNAPSHOT_MEMBERS",
    "SegmentVersion",
    "SnapshotIndex",
    "SnapshotInfo",
    "SnapshotMember",
    "definition_history",
    "delete_snapshot",
    "list_definitions",
    "load_definition",
    "load_snapshot",
    "save_definition",
    "save_snapshot",
    "snapshot_times",
    "snapshot_transitions",
]

log = logging.getLogger("crmkit.segmentation")

_PAGE = 5000
_US = dt.timedelta(microseconds=1)


def _version(inst: object, attr: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(f"{attr.name}: expected a version number >= 1 (got {value!r}).")


@attrs.frozen(kw_only=True)
class SegmentVersion:
    """One saved version of a segment definition.

    Examples:
        >>> import datetime as dt
        >>> from crmkit.segmentation import Exists
        >>> d = SegmentDefinition(name="has-email", condition=Exists(field="email"))
        >>> SegmentVersion(definition=d, version=1,
        ...                saved_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC)).version
        1
    """

    definition: SegmentDefinition
    version: int = attrs.field(validator=_version)
    saved_at: dt.datetime = attrs.field(validator=aware)


@attrs.frozen(kw_only=True)
class SnapshotInfo:
    """One snapshot of a segment: its instant, its size when saved, whether it has labels.

    Examples:
        >>> import datetime as dt
        >>> SnapshotInfo(as_of=dt.datetime(2024, 1, 1, tzinfo=dt.UTC), size=3).labelled
        False
    """

    as_of: dt.datetime = attrs.field(validator=aware)
    size: int
    labelled: bool = False


def _infos(values: Iterable[SnapshotInfo]) -> tuple[SnapshotInfo, ...]:
    return tuple(sorted(values, key=lambda i: i.as_of))


@attrs.frozen(kw_only=True)
class SnapshotIndex:
    """The snapshots kept for one segment, oldest first (no customer ids: not personal data).

    Examples:
        >>> SnapshotIndex(segment="rfm").snapshots
        ()
    """

    segment: str = attrs.field(validator=non_empty)
    snapshots: tuple[SnapshotInfo, ...] = attrs.field(default=(), converter=_infos)


@attrs.frozen(kw_only=True)
class SnapshotMember:
    """One customer of one snapshot, with its label (``""`` for a plain membership).

    Examples:
        >>> import datetime as dt
        >>> SnapshotMember(segment="rfm", as_of=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        ...                customer_id="c-1", label="Loyal").label
        'Loyal'
    """

    segment: str = attrs.field(validator=non_empty)
    as_of: dt.datetime = attrs.field(validator=aware)
    customer_id: str = attrs.field(validator=non_empty)
    label: str = ""


#: The latest version of each segment definition, by name.
DEFINITIONS: CollectionSpec[SegmentVersion] = CollectionSpec(
    name="segmentation.definitions",
    value_type=SegmentVersion,
    key=lambda s: s.definition.name,
)
#: Every version of every segment definition, by ``(name, version)``, in order of saving.
DEFINITION_VERSIONS: CollectionSpec[SegmentVersion] = CollectionSpec(
    name="segmentation.definition_versions",
    value_type=SegmentVersion,
    key=lambda s: compound_key(s.definition.name, f"{s.version:010d}"),
    time=lambda s: s.saved_at,
)
#: Per segment, the instants of its snapshots.
SNAPSHOT_INDEX: CollectionSpec[SnapshotIndex] = CollectionSpec(
    name="segmentation.snapshot_index",
    value_type=SnapshotIndex,
    key=lambda s: s.segment,
)
#: One document per customer of a snapshot, erased with the customer.
SNAPSHOT_MEMBERS: CollectionSpec[SnapshotMember] = CollectionSpec(
    name="segmentation.members",
    value_type=SnapshotMember,
    key=lambda m: compound_key(m.segment, m.as_of, m.customer_id),
    customer=lambda m: m.customer_id,
    time=lambda m: m.as_of,
)


def _aware(name: str, value: dt.datetime) -> dt.datetime:
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise InvalidInputError(f"{name}: expected a tz-aware datetime (got {value!r}).")
    return value.astimezone(dt.UTC)


def save_definition(store: Store, definition: SegmentDefinition, *, at: dt.datetime) -> int:
    """Save a definition as its name's next version; returns the version number.

    Saving a definition equal to the latest version writes nothing and returns that version.

    Examples:
        >>> import datetime as dt
        >>> from crmkit.storage.memory import MemoryStore
        >>> from crmkit.segmentation import Compare
        >>> store = MemoryStore()
        >>> t = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
        >>> vip = SegmentDefinition(name="vip", condition=Compare(field="n_orders", cmp="ge",
        ...                         value=10))
        >>> save_definition(store, vip, at=t), save_definition(store, vip, at=t)
        (1, 1)
        >>> save_definition(store, attrs.evolve(vip, description="10+ orders"), at=t)
        2
    """
    at = _aware("at", at)
    latest, history = documents(store, DEFINITIONS), documents(store, DEFINITION_VERSIONS)
    with store.transaction():
        current: SegmentVersion | None = latest.find(definition.name)
        if current is not None and current.definition == definition:
            return current.version
        saved = SegmentVersion(
            definition=definition,
            version=1 if current is None else current.version + 1,
            saved_at=at,
        )
        history.upsert([saved])
        latest.upsert([saved])
    log.info("segment %r saved as version %d", definition.name, saved.version)
    return saved.version


def load_definition(store: Store, name: str, *, version: int | None = None) -> SegmentVersion:
    """The latest (or the given) version of a definition; ``NotFoundError`` when there is none.

    Examples:
        >>> import datetime as dt
        >>> from crmkit.storage.memory import MemoryStore
        >>> from crmkit.segmentation import Exists
        >>> store = MemoryStore()
        >>> d = SegmentDefinition(name="reachable", condition=Exists(field="email"))
        >>> _ = save_definition(store, d, at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
        >>> load_definition(store, "reachable").definition == d
        True
    """
    if version is None:
        found: SegmentVersion | None = documents(store, DEFINITIONS).find(name)
    else:
        found = documents(store, DEFINITION_VERSIONS).find(compound_key(name, f"{version:010d}"))
    if found is None:
        raise NotFoundError(
            f"name: no segment definition {name!r}"
            + ("" if version is None else f" version {version}")
            + " in the store. Save it with save_definition() first."
        )
    return found


def definition_history(store: Store, name: str) -> list[SegmentVersion]:
    """Every saved version of a definition, oldest first (empty for an unknown name).

    Examples:
        >>> from crmkit.storage.memory import MemoryStore
        >>> definition_history(MemoryStore(), "vip")
        []
    """
    latest: SegmentVersion | None = documents(store, DEFINITIONS).find(name)
    if latest is None:
        return []
    keys = [compound_key(name, f"{k:010d}") for k in range(1, latest.version + 1)]
    found = documents(store, DEFINITION_VERSIONS).get_many(keys)
    return [found[k] for k in keys if k in found]


def list_definitions(store: Store) -> list[SegmentVersion]:
    """The latest version of every saved definition, by name.

    Examples:
        >>> from crmkit.storage.memory import MemoryStore
        >>> list_definitions(MemoryStore())
        []
    """
    return _scan(documents(store, DEFINITIONS))


def _scan(docs: DocumentCollection[Any], **bounds: Any) -> list[Any]:
    out: list[Any] = []
    cursor: str | None = None
    while True:
        page = docs.scan(after=cursor, limit=_PAGE, **bounds)
        out.extend(page.items)
        if page.next_cursor is None:
            return out
        cursor = page.next_cursor


def _members(store: Store, segment: str, as_of: dt.datetime) -> list[SnapshotMember]:
    members = _scan(documents(store, SNAPSHOT_MEMBERS), start=as_of, end=as_of + _US)
    return [m for m in members if m.segment == segment]


def save_snapshot(store: Store, snapshot: MembershipSnapshot) -> SnapshotInfo:
    """Keep a membership snapshot (replacing one of the same segment and instant), atomically.

    Each customer becomes one document owned by that customer, so erasure removes them.

    Examples:
        >>> import datetime as dt
        >>> from crmkit.storage.memory import MemoryStore
        >>> store = MemoryStore()
        >>> snap = MembershipSnapshot(segment="vip", as_of=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        ...                           customer_ids=("b", "a"))
        >>> save_snapshot(store, snap).size
        2
        >>> load_snapshot(store, "vip").customer_ids
        ('a', 'b')
    """
    as_of = _aware("snapshot.as_of", snapshot.as_of)
    ids = snapshot.customer_ids
    if len(set(ids)) != len(ids):
        srt = np.sort(np.asarray(ids, dtype=str))
        dup = srt[1:][srt[1:] == srt[:-1]]
        raise InvalidInputError(
            f"snapshot.customer_ids: {dup.size} duplicate ids (first {str(dup[0])!r}). "
            "A snapshot lists each customer once."
        )
    labels = snapshot.labels or ("",) * len(ids)
    members = [
        SnapshotMember(segment=snapshot.segment, as_of=as_of, customer_id=c, label=lab)
        for c, lab in zip(ids, labels, strict=True)
    ]
    info = SnapshotInfo(as_of=as_of, size=len(ids), labelled=bool(snapshot.labels))
    docs, index = documents(store, SNAPSHOT_MEMBERS), documents(store, SNAPSHOT_INDEX)
    with store.transaction():
        old = index.find(snapshot.segment) or SnapshotIndex(segment=snapshot.segment)
        if any(i.as_of == as_of for i in old.snapshots):
            keep = set(ids)
            gone = _members(store, snapshot.segment, as_of)
            docs.delete(SNAPSHOT_MEMBERS.key(m) for m in gone if m.customer_id not in keep)
        docs.upsert(members)
        infos = [i for i in old.snapshots if i.as_of != as_of]
        index.upsert([SnapshotIndex(segment=snapshot.segment, snapshots=(*infos, info))])
    return info


def snapshot_times(store: Store, segment: str) -> tuple[dt.datetime, ...]:
    """The instants (UTC) at which ``segment`` was snapshotted, oldest first.

    Examples:
        >>> from crmkit.storage.memory import MemoryStore
        >>> snapshot_times(MemoryStore(), "vip")
        ()
    """
    index: SnapshotIndex | None = documents(store, SNAPSHOT_INDEX).find(segment)
    return () if index is None else tuple(i.as_of for i in index.snapshots)


def _pick(store: Store, segment: str, as_of: dt.datetime | None) -> SnapshotInfo:
    index: SnapshotIndex | None = documents(store, SNAPSHOT_INDEX).find(segment)
    infos = () if index is None else index.snapshots
    if as_of is None and infos:
        return infos[-1]
    if as_of is not None:
        at = _aware("as_of", as_of)
        for info in infos:
            if info.as_of == at:
                return info
    raise NotFoundError(
        f"as_of: no snapshot of segment {segment!r}"
        + ("" if as_of is None else f" at {as_of.isoformat()}")
        + f" in the store ({len(infos)} kept). Use snapshot_times() to list them."
    )


def load_snapshot(
    store: Store, segment: str, as_of: dt.datetime | None = None
) -> MembershipSnapshot:
    """A kept snapshot (the latest when ``as_of`` is None), customers sorted by id.

    Customers erased since the snapshot was saved are no longer in it.

    Examples:
        >>> import datetime as dt
        >>> from crmkit.storage.memory import MemoryStore
        >>> store = MemoryStore()
        >>> t = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
        >>> _ = save_snapshot(store, MembershipSnapshot(segment="rfm", as_of=t,
        ...                   customer_ids=("a", "b"), labels=("Loyal", "New")))
        >>> load_snapshot(store, "rfm", t).labels
        ('Loyal', 'New')
    """
    info = _pick(store, segment, as_of)
    members = sorted(_members(store, segment, info.as_of), key=lambda m: m.customer_id)
    return MembershipSnapshot(
        segment=segment,
        as_of=info.as_of,
        customer_ids=tuple(m.customer_id for m in members),
        labels=tuple(m.label for m in members) if info.labelled else (),
    )


def delete_snapshot(store: Store, segment: str, as_of: dt.datetime) -> int:
    """Delete one snapshot (retention); returns how many member documents went.

    Examples:
        >>> import datetime as dt
        >>> from crmkit.storage.memory import MemoryStore
        >>> store = MemoryStore()
        >>> t = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
        >>> _ = save_snapshot(store, MembershipSnapshot(segment="s", as_of=t, customer_ids=("a",)))
        >>> delete_snapshot(store, "s", t), snapshot_times(store, "s")
        (1, ())
    """
    info = _pick(store, segment, as_of)
    index = documents(store, SNAPSHOT_INDEX)
    with store.transaction():
        gone = _members(store, segment, info.as_of)
        n = documents(store, SNAPSHOT_MEMBERS).delete(SNAPSHOT_MEMBERS.key(m) for m in gone)
        old: SnapshotIndex = index.get(segment)
        rest = tuple(i for i in old.snapshots if i.as_of != info.as_of)
        index.upsert([attrs.evolve(old, snapshots=rest)])
    return n


def _columns(snap: MembershipSnapshot) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    labels = snap.labels or (snap.segment,) * len(snap.customer_ids)
    return np.asarray(snap.customer_ids, dtype=str), np.asarray(labels, dtype=str)


def snapshot_transitions(
    store: Store,
    segment: str,
    before: dt.datetime | None = None,
    after: dt.datetime | None = None,
) -> Transitions:
    """Compare two kept snapshots of a segment: who moved from which label to which.

    By default the two latest snapshots. Unlabelled snapshots use the segment's name as the
    label, so ``count("", segment)`` is who joined and ``count(segment, "")`` who left.

    Examples:
        >>> import datetime as dt
        >>> from crmkit.storage.memory import MemoryStore
        >>> store = MemoryStore()
        >>> t0, t1 = (dt.datetime(2024, m, 1, tzinfo=dt.UTC) for m in (1, 2))
        >>> _ = save_snapshot(store, MembershipSnapshot(segment="rfm", as_of=t0,
        ...                   customer_ids=("a", "b"), labels=("Loyal", "Loyal")))
        >>> _ = save_snapshot(store, MembershipSnapshot(segment="rfm", as_of=t1,
        ...                   customer_ids=("a", "b"), labels=("Loyal", "At risk")))
        >>> snapshot_transitions(store, "rfm").who("Loyal", "At risk").tolist()
        ['b']
    """
    times = snapshot_times(store, segment)
    if before is None or after is None:
        if len(times) < 2:
            raise NotFoundError(
                f"segment: {len(times)} snapshot(s) of {segment!r} kept; comparing needs two. "
                "Save another snapshot or pass both instants."
            )
        before = times[-2] if before is None else before
        after = times[-1] if after is None else after
    a, b = load_snapshot(store, segment, before), load_snapshot(store, segment, after)
    return transitions(*_columns(a), *_columns(b))
