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
from crmkit.identity._text import as_text, compact, hash_text
from crmkit.model import SourceRecord

__all__ = [
    "KEY_SEP",
    "Field",
    "Keys",
    "RecordTable",
    "compute_keys",
    "key_text",
    "keys_of_fields",
    "read_records",
]

StrArray = npt.NDArray[np.str_]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
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
        text[kind] = compact(np.array(vals, dtype=str))
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
    text = {k: compact(as_text(k, columns[k])) for k in columns if k not in ("observed_at",)}
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
class Field:
    """One normalized field as the graph keeps it: value, validity and presence (no notes)."""

    value: StrArray
    valid: BoolArray
    present: BoolArray

    def take(self, index: Any) -> Field:
        return Field(value=self.value[index], valid=self.valid[index], present=self.present[index])

    @staticmethod
    def concat(a: Field, b: Field) -> Field:
        return Field(
            value=np.concatenate([a.value, b.value]),
            valid=np.concatenate([a.valid, b.valid]),
            present=np.concatenate([a.present, b.present]),
        )


@attrs.frozen(kw_only=True, eq=False)
class Keys:
    """Per rule: an int64 code of every record's identifier key (-1: none) and whether a blocked
    value was set aside; per field: the normalized values (from which key texts are rebuilt).

    Codes are 63-bit hashes of the normalized key, so they agree between batches and graphs
    without a shared vocabulary; all grouping works on them.
    """

    code: Mapping[str, IntArray]
    blocked_mask: Mapping[str, BoolArray]
    fields: Mapping[str, Field]
    support: Mapping[str, IntArray]  # per rule with corroboration: code of those fields (-1: none)
    policy: StitchingPolicy

    @property
    def blocked(self) -> Mapping[str, StrArray]:
        """Per rule: the blocked key text where a value was blocked, ``""`` otherwise (rebuilt
        from the normalized fields on each access)."""
        out: dict[str, StrArray] = {}
        for kind, mask in self.blocked_mask.items():
            text = np.full(mask.size, "", dtype="<U1")
            if mask.any():
                sel = np.flatnonzero(mask)
                hit = key_text(self.fields, self.policy.get(kind), sel)
                text = text.astype(hit.dtype)
                text[sel] = hit
            out[kind] = text
        return out

    def take(self, index: Any) -> Keys:
        return Keys(
            support={k: a[index] for k, a in self.support.items()},
            code={k: a[index] for k, a in self.code.items()},
            blocked_mask={k: a[index] for k, a in self.blocked_mask.items()},
            policy=self.policy,
            fields={k: f.take(index) for k, f in self.fields.items()},
        )

    @staticmethod
    def concat(a: Keys, b: Keys) -> Keys:
        return Keys(
            support={k: np.concatenate([a.support[k], b.support[k]]) for k in a.support},
            code={k: np.concatenate([a.code[k], b.code[k]]) for k in a.code},
            blocked_mask={
                k: np.concatenate([a.blocked_mask[k], b.blocked_mask[k]]) for k in a.blocked_mask
            },
            policy=a.policy,
            fields={k: Field.concat(a.fields[k], b.fields[k]) for k in a.fields},
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


def _blocked_mask(keys: StrArray, p: IdentifierPolicy, placeholders: bool) -> BoolArray:
    """Which keys the policy blocks, checked once per distinct key in one pass of C-level string
    methods (prefixes and suffixes as tuples, patterns as one compiled regex)."""
    prefixes, suffixes = tuple(p.blocked_prefixes), tuple(p.blocked_suffixes)
    values = p.blocked_values
    rx = (
        re.compile("|".join(f"(?:{q})" for q in p.blocked_patterns)) if p.blocked_patterns else None
    )
    ph = PLACEHOLDERS if placeholders else frozenset()
    junk = "0-._+ |"

    def bad(s: str) -> bool:
        if not s:
            return False
        return (
            (placeholders and (s.lower() in ph or not s.strip(junk)))
            or s in values
            or (bool(prefixes) and s.startswith(prefixes))
            or (bool(suffixes) and s.endswith(suffixes))
            or (rx is not None and rx.fullmatch(s) is not None)
        )

    memo: dict[str, bool] = {}
    flags = [memo[s] if s in memo else memo.setdefault(s, bad(s)) for s in keys.tolist()]
    return np.array(flags, dtype=bool).reshape(keys.shape)


def key_text(
    fields: Mapping[str, Field], p: IdentifierPolicy, index: Any = slice(None)
) -> StrArray:
    """The normalized key text of rule ``p`` for the records at ``index`` (``""``: no key)."""
    ok: BoolArray | None = None
    key: StrArray | None = None
    for f in p.fields:
        fv = fields[f]
        val, good = fv.value[index], fv.valid[index]
        ok = good if ok is None else ok & good
        key = val if key is None else np.char.add(np.char.add(key, KEY_SEP), val)
    if key is None or ok is None:
        size = next(iter(fields.values())).value[index].size if fields else 0
        return np.full(size, "", dtype="<U1")
    out: StrArray = np.where(ok, key, "")
    return out if out.size else out.astype("<U1")


def _combine(
    hashes: Mapping[str, npt.NDArray[np.uint64]],
    fields: Mapping[str, Field],
    names: tuple[str, ...],
    n: int,
) -> tuple[IntArray, BoolArray]:
    """A 63-bit code of the values of ``names`` together, and whether all of them are valid."""
    ok = np.ones(n, bool)
    h = np.full(n, np.uint64(len(names)), dtype=np.uint64)
    for j, f in enumerate(names):
        ok &= fields[f].valid
        h = hashes[f] ^ ((h << np.uint64(7 + j)) | (h >> np.uint64(57 - j)))
        h = h * np.uint64(0x9E3779B97F4A7C15)
    return (h >> np.uint64(1)).astype(np.int64), ok


def compute_keys(table: RecordTable, policy: StitchingPolicy) -> Keys:
    """The key code of every rule for every record, with blocked values set aside."""
    norm = normalize_fields(table, policy)
    fields = {
        k: Field(value=compact(n.value), valid=n.valid, present=n.present) for k, n in norm.items()
    }
    return keys_of_fields(fields, policy, len(table))


def keys_of_fields(fields: Mapping[str, Field], policy: StitchingPolicy, n: int) -> Keys:
    """The keys of ``n`` records from their normalized fields (what ``compute_keys`` does after
    normalizing; a loaded graph starts here)."""
    codes: dict[str, IntArray] = {}
    blocked: dict[str, BoolArray] = {}
    support: dict[str, IntArray] = {}
    hashes = {k: hash_text(f.value) for k, f in fields.items()}
    for p in policy.ordered():
        if p.scored:  # its links come from a matcher, with scores
            codes[p.kind] = np.full(n, -1, np.int64)
            blocked[p.kind] = np.zeros(n, bool)
            continue
        code, ok = _combine(hashes, fields, p.fields, n)
        if p.corroborate:
            sup, sup_ok = _combine(hashes, fields, p.corroborate, n)
            support[p.kind] = np.where(sup_ok, sup, -1)
        bad = np.zeros(n, bool)
        explicit = (
            p.blocked_values or p.blocked_prefixes or p.blocked_suffixes or p.blocked_patterns
        )
        if ok.any() and (explicit or len(p.fields) == 1):  # placeholders: single fields only
            sel = np.flatnonzero(ok)
            bad[sel] = _blocked_mask(key_text(fields, p, sel), p, policy.block_placeholders)
        blocked[p.kind] = bad
        codes[p.kind] = np.where(ok & ~bad, code, -1)
    return Keys(
        code=codes, blocked_mask=blocked, fields=dict(fields), support=support, policy=policy
    )
