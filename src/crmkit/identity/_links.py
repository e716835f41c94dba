"""Links between records as a column table: which rule joined two records, with what evidence."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmkit import _validation as v

__all__ = ["LinkTable"]


@attrs.frozen(kw_only=True, eq=False)
class LinkTable:
    """Links as aligned read-only columns.

    ``record_a``/``record_b`` (record ids), ``rule`` (the identifier kind, ``must_link`` for a human
    decision, or a scored rule), ``score`` (1.0 for deterministic rules), ``evidence`` (the shared
    normalized value, or the matcher's reason), ``accepted`` (the link joined the two records'
    entities) and ``refusal`` (why a policy refused it; ``""`` if accepted).

    Examples:
        >>> import crmkit.identity as ci
        >>> res = ci.resolve({"record_id": ["a", "b"], "email": ["X@y.org", "x@y.org"]})
        >>> lt = res.links
        >>> lt.record_a.tolist(), lt.rule.tolist(), lt.evidence.tolist()
        (['a'], ['email'], ['x@y.org'])
    """

    record_a: npt.NDArray[np.str_]
    record_b: npt.NDArray[np.str_]
    rule: npt.NDArray[np.str_]
    score: npt.NDArray[np.float64]
    evidence: npt.NDArray[np.str_]
    accepted: npt.NDArray[np.bool_]
    refusal: npt.NDArray[np.str_]

    def __attrs_post_init__(self) -> None:
        for f in attrs.fields(type(self)):
            v.frozen(getattr(self, f.name))

    def __len__(self) -> int:
        return int(self.record_a.size)

    def take(self, index: Any) -> LinkTable:
        """Rows at ``index`` (positions or a mask)."""
        return LinkTable(**{f.name: getattr(self, f.name)[index] for f in attrs.fields(type(self))})

    def involving(self, record_id: str) -> LinkTable:
        """The links that touch ``record_id``."""
        return self.take((self.record_a == record_id) | (self.record_b == record_id))
