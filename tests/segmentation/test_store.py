"""Segment definitions and membership snapshots in a store: versions, latest, transitions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import attrs
import numpy as np
import pytest

import crmkit.segmentation as S
from crmkit.errors import CapabilityError, InvalidInputError, NotFoundError
from crmkit.serialization import dumps, loads, make_converter
from crmkit.storage import Capabilities, Store
from crmkit.storage.memory import MemoryStore
from crmkit.storage.sqlite import SQLiteStore

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh memory or SQLite store."""
    s: Store = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "s.db")
    with s:
        yield s


def vip(threshold: int = 10) -> S.SegmentDefinition:
    """A nested rule: orders and recency, or a scoring plan."""
    return S.SegmentDefinition(
        name="vip",
        condition=S.Or(
            any=(
                S.And(
                    all=(
                        S.Compare(field="n_orders", cmp="ge", value=threshold),
                        S.Compare(field="last_order", cmp="ge", days_ago=90.0),
                    )
                ),
                S.EventCount(event_type="review", at_least=2, within_days=30),
                S.Not(condition=S.Missing(field="email")),
            )
        ),
        description="frequent buyers",
    )


def test_stored_values_round_trip_through_the_converter() -> None:
    """SegmentVersion, SnapshotIndex and SnapshotMember survive make_converter's JSON."""
    conv = make_converter()
    values: list[object] = [
        S.SegmentVersion(definition=vip(), version=3, saved_at=T0),
        S.SnapshotIndex(segment="rfm", snapshots=[S.SnapshotInfo(as_of=T0, size=2)]),
        S.SnapshotMember(segment="rfm", as_of=T0, customer_id="c/1", label="Lost"),
    ]
    for value in values:
        assert loads(dumps(value, converter=conv), type(value), converter=conv) == value


def test_definitions_are_versioned(store: Store) -> None:
    """Each change is a new version; the latest is read by default, older ones by number."""
    assert S.save_definition(store, vip(10), at=T0) == 1
    assert S.save_definition(store, vip(12), at=T0 + dt.timedelta(days=1)) == 2
    assert S.save_definition(store, vip(12), at=T0 + dt.timedelta(days=2)) == 2
    assert S.load_definition(store, "vip").definition == vip(12)
    assert S.load_definition(store, "vip", version=1).definition == vip(10)
    history = S.definition_history(store, "vip")
    assert [(h.version, h.saved_at) for h in history] == [(1, T0), (2, T0 + dt.timedelta(days=1))]
    assert [d.definition.name for d in S.list_definitions(store)] == ["vip"]
    with pytest.raises(NotFoundError):
        S.load_definition(store, "vip", version=3)
    with pytest.raises(NotFoundError):
        S.load_definition(store, "nope")


def test_rfm_snapshots_compare_like_the_pure_transitions(store: Store) -> None:
    """Two RFM snapshots of 2,000 customers, stored and read back, give the same transitions
    as comparing the in-memory results."""
    rng = np.random.default_rng(11)
    n = 2000
    ids = np.array([f"c{i:05d}" for i in range(n)])

    def segments(end: str) -> S.RFMSegments:
        k = 8000
        t = np.datetime64("2023-01-01") + rng.integers(0, 365, k).astype("timedelta64[D]")
        keep = t < np.datetime64(end)
        return S.rfm_segments(
            ids[rng.integers(0, n, k)][keep],
            t[keep].astype("datetime64[us]"),
            rng.gamma(2.0, 30.0, k)[keep],
            as_of=np.datetime64(end),
        )

    first, second = segments("2023-07-01"), segments("2024-01-01")
    t0, t1 = T0 - dt.timedelta(days=184), T0
    for res, at in ((first, t0), (second, t1)):
        snap = S.MembershipSnapshot(
            segment="rfm",
            as_of=at,
            customer_ids=tuple(res.customer_id.tolist()),
            labels=tuple(res.segment.tolist()),
        )
        assert S.save_snapshot(store, snap).size == len(res.customer_id)
    assert S.snapshot_times(store, "rfm") == (t0, t1)
    stored = S.snapshot_transitions(store, "rfm")
    pure = S.transitions(first.customer_id, first.segment, second.customer_id, second.segment)
    assert stored.customer_id.tolist() == pure.customer_id.tolist()
    assert stored.before.tolist() == pure.before.tolist()
    assert stored.after.tolist() == pure.after.tolist()
    assert stored.count("Champions", "At risk") == pure.count("Champions", "At risk")
    back = S.load_snapshot(store, "rfm", t0)
    assert back.customer_ids == tuple(sorted(first.customer_id.tolist()))


def test_unlabelled_snapshots_report_joiners_and_leavers(store: Store) -> None:
    """Without labels the segment's name is the label: '' → name joined, name → '' left."""
    a = S.MembershipSnapshot(segment="vip", as_of=T0, customer_ids=("a", "b", "c"))
    b = attrs.evolve(a, as_of=T0 + dt.timedelta(days=7), customer_ids=("b", "c", "d"))
    S.save_snapshot(store, a)
    S.save_snapshot(store, b)
    tr = S.snapshot_transitions(store, "vip", before=a.as_of, after=b.as_of)
    assert tr.who("vip", "").tolist() == ["a"]
    assert tr.who("", "vip").tolist() == ["d"]
    assert S.load_snapshot(store, "vip").labels == ()


def test_snapshot_replacement_and_deletion(store: Store) -> None:
    """Saving the same instant again replaces it whole; deleting removes it and its members."""
    t = dt.datetime(2024, 3, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    S.save_snapshot(store, S.MembershipSnapshot(segment="s", as_of=t, customer_ids=("a", "b")))
    S.save_snapshot(store, S.MembershipSnapshot(segment="s", as_of=t, customer_ids=("b", "c")))
    got = S.load_snapshot(store, "s", t.astimezone(dt.UTC))
    assert got.customer_ids == ("b", "c")
    assert got.as_of == t
    assert S.delete_snapshot(store, "s", t) == 2
    assert S.snapshot_times(store, "s") == ()
    with pytest.raises(NotFoundError):
        S.load_snapshot(store, "s")
    with pytest.raises(NotFoundError, match="two"):
        S.snapshot_transitions(store, "s")


def test_failed_save_leaves_the_previous_snapshot(store: Store) -> None:
    """A snapshot save inside a failing transaction leaves the old snapshot and index."""
    S.save_snapshot(store, S.MembershipSnapshot(segment="s", as_of=T0, customer_ids=("a",)))
    with pytest.raises(RuntimeError), store.transaction():  # noqa: PT012 - the block is the unit
        S.save_snapshot(store, S.MembershipSnapshot(segment="s", as_of=T0, customer_ids=("z",)))
        S.save_snapshot(
            store, S.MembershipSnapshot(segment="s", as_of=T0 + dt.timedelta(1), customer_ids=())
        )
        raise RuntimeError("the job was cancelled")
    assert S.snapshot_times(store, "s") == (T0,)
    assert S.load_snapshot(store, "s").customer_ids == ("a",)


def test_bad_snapshots_and_stores_are_refused() -> None:
    """Duplicate ids raise InvalidInputError; a store without documents is refused."""
    with MemoryStore() as store:
        dup = S.MembershipSnapshot(segment="s", as_of=T0, customer_ids=("a", "b", "a"))
        with pytest.raises(InvalidInputError, match="duplicate"):
            S.save_snapshot(store, dup)
        assert S.snapshot_times(store, "s") == ()

    class NoDocuments(MemoryStore):
        @property
        def capabilities(self) -> Capabilities:
            return Capabilities(documents=False)

    with NoDocuments() as store, pytest.raises(CapabilityError, match="documents"):
        S.save_definition(store, vip(), at=T0)


def test_erase_removes_the_customer_from_every_snapshot(store: Store) -> None:
    """After erase, the customer is in no snapshot; sizes recorded at save time stay."""
    for k in range(3):
        S.save_snapshot(
            store,
            S.MembershipSnapshot(
                segment="rfm",
                as_of=T0 + dt.timedelta(days=k),
                customer_ids=("a", "b"),
                labels=("Loyal", "Lost"),
            ),
        )
    report = store.erase("a")
    assert report.deleted[S.SNAPSHOT_MEMBERS.name] == 3
    for t in S.snapshot_times(store, "rfm"):
        snap = S.load_snapshot(store, "rfm", t)
        assert snap.customer_ids == ("b",)
        assert snap.labels == ("Lost",)


def test_an_empty_snapshot_compares_to_a_full_one(store: Store) -> None:
    """A segment that was empty at its first snapshot: everyone in the second one joined."""
    S.save_snapshot(store, S.MembershipSnapshot(segment="new", as_of=T0, customer_ids=()))
    later = T0 + dt.timedelta(days=1)
    S.save_snapshot(
        store, S.MembershipSnapshot(segment="new", as_of=later, customer_ids=("b", "a"))
    )
    assert S.load_snapshot(store, "new", T0).customer_ids == ()
    assert S.snapshot_transitions(store, "new").who("", "new").tolist() == ["a", "b"]
