"""Input records as one internal table, normalized once, and the identifier keys of every rule."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmkit import _validation as v
from crmkit.columns import SourceRecordColumns
from crmkit.errors import InvalidInputError
from crmkit.identity._normalize import (
    Normalized,
    normalize_address,
    normalize_birth_date,
    normalize_email,
    normalize_name,
    normalize_phone,
    normalize_postcode,
)
from crmkit.identity._policy import FIELDS, PLACEHOLDERS, IdentifierPolicy, StitchingPolicy
from crmkit.identity._text import as_text, map_unique
from crmkit.model import SourceRecord

__all__ = ["KEY_SEP", "Keys", "RecordTable", "compute_keys", "read_records"]

StrArray = npt.NDArray[np.str_]
KEY_SEP = "|"
_KNOWN = ("record_id", "source", "observed_at", *FIELDS)


@attrs.frozen(kw_only=True, eq=False)
class RecordTable:
    """Records as aligned columns: ids, sources, times (NaT allowed) and raw text fields."""

    record_id: StrArray
    source: StrArray
    observed_at: npt.NDArray[np.datetime64]
    text: Mapping[str, StrArray]

    def __len__(self) -> int:
        return int(self.record_id.size)

    def take(self, index: Any) -> RecordTable:
        return RecordTable(
            record_id=self.record_id[index],
            source=self.source[index],
            observed_at=self.observed_at[index],
            text={k: a[index] for k, a in self.text.items()},
        )

    @staticmethod
    def concat(a: RecordTable, b: RecordTable) -> RecordTable:
        names = sorted(set(a.text) | set(b.text))

        def col(t: RecordTable, k: str) -> StrArray:
            return t.text[k] if k in t.text else np.full(len(t), "", dtype="<U1")

        return RecordTable(
            record_id=np.concatenate([a.record_id, b.record_id]),
            source=np.concatenate([a.source, b.source]),
            observed_at=np.concatenate([a.observed_at, b.observed_at]),
            text={k: np.concatenate([col(a, k), col(b, k)]) for k in names},
        )


def _from_source_records(records: Sequence[SourceRecord], extra: Sequence[str]) -> RecordTable:
    bad = [i for i, r in enumerate(records) if not isinstance(r, SourceRecord)]
    if bad:
        raise InvalidInputError(
            f"records: {len(bad)} items are not SourceRecord values (first at index {bad[0]}, "
            f"type {type(records[bad[0]]).__name__}). Pass SourceRecord values or a mapping of "
            "column name to array."
        )
    cols = SourceRecordColumns.from_records(records)
    text = {k: cols.arrays()[k] for k in FIELDS}
    for kind in extra:
        vals = []
        for i, r in enumerate(records):
            found = [x.value for x in r.identifiers if x.kind == kind]
            if len(found) > 1:
                raise InvalidInputError(
                    f"records[{i}].identifiers: {len(found)} values of kind {kind!r} (values "
                    f"{found[:3]}). Give one value per kind and record."
                )
            vals.append(found[0] if found else "")
        text[kind] = np.array(vals, dtype=str)
    return RecordTable(
        record_id=cols.record_id, source=cols.source, observed_at=cols.observed_at, text=text
    )


def _times(values: Any, n: int) -> npt.NDArray[np.datetime64]:
    arr = v.as_1d("observed_at", values)
    if arr.dtype.kind == "M":
        return arr.astype("datetime64[us]")
    if arr.dtype == object:
        out = np.full(n, np.datetime64("NaT"), dtype="datetime64[us]")
        present = np.fromiter((x is not None for x in arr), bool, arr.size)
        if present.any():
            out[present] = v.as_datetime_array("observed_at", arr[present])
        return out
    if arr.dtype.kind == "U":
        present = arr != ""
        out = np.full(n, np.datetime64("NaT"), dtype="datetime64[us]")
        if present.any():
            out[present] = np.array([v.to_datetime64("observed_at", str(x)) for x in arr[present]])
        return out
    raise InvalidInputError(
        f"observed_at: expected timestamps (got dtype {arr.dtype}). Pass datetime64 values, "
        "timezone-aware datetimes or ISO strings with an offset."
    )


def _from_mapping(columns: Mapping[str, Any], extra: Sequence[str]) -> RecordTable:
    allowed = set(_KNOWN) | set(extra) | {"source_key"}
    unknown = sorted(set(columns) - allowed)
    if unknown:
        raise InvalidInputError(
            f"records: unknown columns {unknown} (known: {sorted(allowed)}). Rename them, or "
            "declare extra identifier columns in the policy."
        )
    if not columns:
        raise InvalidInputError("records: no columns. Pass at least record_id and one field.")
    text = {k: as_text(k, columns[k]) for k in columns if k not in ("observed_at",)}
    n = v.same_length(**dict(text.items()))
    if "record_id" in text:
        rid = text.pop("record_id")
    elif "source" in text and "source_key" in text:
        rid = np.char.add(np.char.add(text["source"], ":"), text["source_key"])
    else:
        rid = np.char.add("row:", np.arange(n).astype(str))
    text.pop("source_key", None)
    source = text.pop("source", np.full(n, "", dtype="<U1"))
    times = (
        _times(columns["observed_at"], n)
        if "observed_at" in columns
        else np.full(n, np.datetime64("NaT"), dtype="datetime64[us]")
    )
    v.same_length(record_id=rid, observed_at=times)
    for k in (*FIELDS, *extra):
        text.setdefault(k, np.full(n, "", dtype="<U1"))
    return RecordTable(record_id=rid, source=source, observed_at=times, text=text)


def read_records(records: Any, policy: StitchingPolicy) -> RecordTable:
    """SourceRecord values, SourceRecordColumns or a column mapping as one checked table."""
    extra = policy.extra_columns()
    if isinstance(records, RecordTable):
        table = records
    elif isinstance(records, SourceRecordColumns):
        arrays = records.arrays()
        table = _from_mapping({k: arrays[k] for k in _KNOWN}, extra)
    elif isinstance(records, Mapping):
        table = _from_mapping(records, extra)
    elif isinstance(records, Sequence) and not isinstance(records, str):
        table = _from_source_records(list(records), extra)
    else:
        raise InvalidInputError(
            f"records: expected SourceRecord values or a mapping of column name to array (got "
            f"{type(records).__name__})."
        )
    rid = table.record_id
    v.require(
        "record_id", np.char.strip(rid) == "", rid, "empty record ids", "Give every record an id."
    )
    order = np.argsort(rid, kind="stable")
    srt = rid[order]
    dup = np.zeros(rid.size, bool)
    dup[order[1:]] = srt[1:] == srt[:-1]
    v.require("record_id", dup, rid, "duplicate record ids", "Give every record a unique id.")
    return table


@attrs.frozen(kw_only=True, eq=False)
class Keys:
    """Per rule: the identifier key of every record (``""`` = none) and what was blocked."""

    key: Mapping[str, StrArray]
    blocked: Mapping[str, StrArray]  # the blocked value, "" otherwise
    fields: Mapping[str, Normalized]

    def take(self, index: Any) -> Keys:
        return Keys(
            key={k: a[index] for k, a in self.key.items()},
            blocked={k: a[index] for k, a in self.blocked.items()},
            fields={
                k: Normalized(
                    value=n.value[index],
                    valid=n.valid[index],
                    present=n.present[index],
                    note=n.note[index],
                )
                for k, n in self.fields.items()
            },
        )

    @staticmethod
    def concat(a: Keys, b: Keys) -> Keys:
        return Keys(
            key={k: np.concatenate([a.key[k], b.key[k]]) for k in a.key},
            blocked={k: np.concatenate([a.blocked[k], b.blocked[k]]) for k in a.blocked},
            fields={
                k: Normalized(
                    value=np.concatenate([a.fields[k].value, b.fields[k].value]),
                    valid=np.concatenate([a.fields[k].valid, b.fields[k].valid]),
                    present=np.concatenate([a.fields[k].present, b.fields[k].present]),
                    note=np.concatenate([a.fields[k].note, b.fields[k].note]),
                )
                for k in a.fields
            },
        )


def normalize_fields(table: RecordTable, policy: StitchingPolicy) -> dict[str, Normalized]:
    """Every standard field and extra identifier column of ``table``, normalized."""
    t = table.text
    country = np.char.upper(np.char.strip(t["country"]))
    out = {
        "email": normalize_email(t["email"], policy=policy.email),
        "phone": normalize_phone(t["phone"], default_region=policy.default_region, region=country),
        "first_name": normalize_name(t["first_name"], use_nicknames=True),
        "last_name": normalize_name(t["last_name"]),
        "birth_date": normalize_birth_date(t["birth_date"]),
        "street": normalize_address(t["street"]),
        "city": normalize_name(t["city"]),
        "postcode": normalize_postcode(t["postcode"], country=country),
    }
    ok = country != ""
    out["country"] = Normalized(value=country, valid=ok, present=ok, note=np.full(ok.size, ""))
    for kind in policy.extra_columns():
        raw = np.char.strip(t[kind])
        ok = raw != ""
        out[kind] = Normalized(value=raw, valid=ok, present=ok, note=np.full(ok.size, ""))
    return out


def _blocked_mask(keys: StrArray, p: IdentifierPolicy, placeholders: bool) -> npt.NDArray[np.bool_]:
    has = keys != ""
    mask = np.zeros(keys.size, bool)
    if placeholders:
        low = np.char.lower(keys)
        mask |= np.isin(low, sorted(PLACEHOLDERS))
        mask |= has & (np.char.strip(keys, "0-._+ |") == "")
    if p.blocked_values:
        mask |= np.isin(keys, sorted(p.blocked_values))
    for prefix in p.blocked_prefixes:
        mask |= np.char.startswith(keys, prefix)
    for suffix in p.blocked_suffixes:
        mask |= np.char.endswith(keys, suffix)
    if p.blocked_patterns:
        rx = re.compile("|".join(f"(?:{q})" for q in p.blocked_patterns))
        mask |= map_unique(keys, lambda s: bool(s) and rx.fullmatch(s) is not None, dtype=bool)
    out: npt.NDArray[np.bool_] = mask & has
    return out


def compute_keys(table: RecordTable, policy: StitchingPolicy) -> Keys:
    """The key of every rule for every record, with blocked values set aside."""
    fields = normalize_fields(table, policy)
    keys: dict[str, StrArray] = {}
    blocked: dict[str, StrArray] = {}
    n = len(table)
    for p in policy.ordered():
        if p.scored:  # its links come from a matcher, with scores
            keys[p.kind] = np.full(n, "", dtype="<U1")
            blocked[p.kind] = np.full(n, "", dtype="<U1")
            continue
        ok = np.ones(n, bool)
        key: StrArray | None = None
        for f in p.fields:
            ok &= fields[f].valid
            key = (
                fields[f].value
                if key is None
                else np.char.add(np.char.add(key, KEY_SEP), fields[f].value)
            )
        assert key is not None
        key = np.where(ok, key, "")
        bad = _blocked_mask(key, p, policy.block_placeholders)
        blocked[p.kind] = np.where(bad, key, "").astype(key.dtype if key.size else "<U1")
        keys[p.kind] = np.where(bad, "", key).astype(key.dtype if key.size else "<U1")
    return Keys(key=keys, blocked=blocked, fields=fields)
