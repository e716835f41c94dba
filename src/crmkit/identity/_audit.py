"""Human decisions and the append-only audit log of the identity graph."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmkit import _validation as v
from crmkit.errors import InvalidInputError

__all__ = [
    "AuditAction",
    "AuditLog",
    "Decision",
    "DecisionConflictError",
    "DecisionKind",
    "UnknownRecordError",
]


class DecisionConflictError(InvalidInputError):
    """A human decision contradicts an earlier one or merge protection; nothing was changed.

    Examples:
        >>> issubclass(DecisionConflictError, ValueError)
        True
    """


class UnknownRecordError(InvalidInputError, LookupError):
    """A record or entity id is not in the identity graph; nothing was changed.

    Examples:
        >>> issubclass(UnknownRecordError, LookupError)
        True
    """


class DecisionKind(enum.StrEnum):
    """What a human decided about records.

    Examples:
        >>> DecisionKind("split") is DecisionKind.SPLIT
        True
    """

    MUST_LINK = "must_link"
    CANNOT_LINK = "cannot_link"
    SPLIT = "split"


def _groups(groups: Iterable[Iterable[str]]) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(g) for g in groups)


@attrs.frozen(kw_only=True)
class Decision:
    """A human decision, kept and re-applied on every later resolution.

    ``groups``: for a must-link one group of two records; for a cannot-link two groups of one; for
    a split the groups the entity's records were divided into (no two groups merge again).

    Examples:
        >>> d = Decision(decision_id="decision-1", kind="cannot_link",
        ...              groups=(("web:1",), ("pos:7",)), reason="different people, same phone")
        >>> d.records
        ('web:1', 'pos:7')
    """

    decision_id: str
    kind: DecisionKind = attrs.field(converter=DecisionKind)
    groups: tuple[tuple[str, ...], ...] = attrs.field(converter=_groups)
    reason: str = ""
    actor: str = ""

    @property
    def records(self) -> tuple[str, ...]:
        """Every record the decision names, group by group."""
        return tuple(r for g in self.groups for r in g)


class AuditAction(enum.StrEnum):
    """The kinds of entries in the audit log.

    Examples:
        >>> AuditAction("limit").value
        'limit'
    """

    MERGE = "merge"
    SPLIT = "split"
    BLOCKED = "blocked"
    LIMIT = "limit"
    DECISION = "decision"


_COLUMNS = ("action", "entity_id", "record_a", "record_b", "rule", "reason", "evidence")


@attrs.frozen(kw_only=True, eq=False)
class AuditLog:
    """The append-only audit log as aligned read-only columns.

    One row per event: ``seq`` (position in the log), ``batch`` (the graph operation that wrote it),
    ``action`` (an [`AuditAction`][crmkit.identity.AuditAction] value), ``entity_id`` (the entity it
    concerns after the operation), ``record_a``/``record_b`` (the records of a link, or the record
    of a blocked value), ``rule``, ``reason`` and ``evidence`` (the identifier value, the score, the
    decision id).

    Examples:
        >>> log = AuditLog.empty().append(0, action=["decision"], entity_id=["web:1"],
        ...     record_a=["web:1"], record_b=["pos:7"], rule=["cannot_link"],
        ...     reason=["family phone"], evidence=["decision-1"])
        >>> len(log), log.action.tolist()
        (1, ['decision'])
    """

    parts: tuple[Mapping[str, np.ndarray[Any, Any]], ...] = ()

    def _col(self, name: str) -> np.ndarray[Any, Any]:
        if not self.parts:
            return v.frozen(np.empty(0, np.int64 if name in ("seq", "batch") else "<U1"))
        if len(self.parts) == 1:
            return self.parts[0][name]
        return v.frozen(np.concatenate([p[name] for p in self.parts]))

    @property
    def seq(self) -> npt.NDArray[np.int64]:
        """Position of each row in the log."""
        return self._col("seq")

    @property
    def batch(self) -> npt.NDArray[np.int64]:
        """The graph operation that wrote each row."""
        return self._col("batch")

    @property
    def action(self) -> npt.NDArray[np.str_]:
        """An AuditAction value per row."""
        return self._col("action")

    @property
    def entity_id(self) -> npt.NDArray[np.str_]:
        """The entity a row concerns after its operation."""
        return self._col("entity_id")

    @property
    def record_a(self) -> npt.NDArray[np.str_]:
        """The first record of a link, or the record of a blocked value."""
        return self._col("record_a")

    @property
    def record_b(self) -> npt.NDArray[np.str_]:
        """The second record of a link (``""`` if none)."""
        return self._col("record_b")

    @property
    def rule(self) -> npt.NDArray[np.str_]:
        """The rule or decision kind."""
        return self._col("rule")

    @property
    def reason(self) -> npt.NDArray[np.str_]:
        """Why the event happened."""
        return self._col("reason")

    @property
    def evidence(self) -> npt.NDArray[np.str_]:
        """The identifier value, score or decision id behind the event."""
        return self._col("evidence")

    @classmethod
    def empty(cls) -> AuditLog:
        """A log with no rows."""
        return cls()

    def __len__(self) -> int:
        return sum(int(p["seq"].size) for p in self.parts)

    def append(self, batch: int, **columns: Sequence[str] | npt.NDArray[np.str_]) -> AuditLog:
        """A new log with the rows of ``columns`` appended (this one is unchanged; the rows are
        stored as a new chunk, so appending costs the new rows only)."""
        cols = {k: np.asarray(columns[k], dtype=str) for k in _COLUMNS}
        n = v.same_length(**cols)
        if n == 0:
            return self
        start = len(self)
        part: dict[str, np.ndarray[Any, Any]] = {
            "seq": np.arange(start, start + n, dtype=np.int64),
            "batch": np.full(n, batch, np.int64),
            **{k: (c if c.size else c.astype("<U1")) for k, c in cols.items()},
        }
        for arr in part.values():
            v.frozen(arr)
        return AuditLog(parts=(*self.parts, part))

    def where(self, **equal: str) -> AuditLog:
        """Rows whose columns equal the given values, e.g. ``where(action="limit")``."""
        for k in equal:
            if k not in _COLUMNS:
                raise InvalidInputError(f"{k}: not an audit column. Use one of {list(_COLUMNS)}.")
        out = []
        for p in self.parts:
            mask = np.ones(p["seq"].size, bool)
            for k, val in equal.items():
                mask &= p[k] == val
            if mask.any():
                out.append({k: v.frozen(a[mask]) for k, a in p.items()})
        return AuditLog(parts=tuple(out))

    def rows(self) -> list[dict[str, Any]]:
        """The rows as dictionaries (for display; the columns are the efficient form)."""
        return list(self._iter_rows())

    def _iter_rows(self) -> Iterator[dict[str, Any]]:
        for i in range(len(self)):
            row: dict[str, Any] = {"seq": int(self.seq[i]), "batch": int(self.batch[i])}
            row.update({k: str(getattr(self, k)[i]) for k in _COLUMNS})
            yield row
