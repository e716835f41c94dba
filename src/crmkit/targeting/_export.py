"""Pseudonymous audience export: salted SHA-256 of normalized email and phone.

Normalization is ``crmkit.identity``'s: emails trimmed and lower-cased (by default literally,
without provider rules, which is what ad platforms hash), phones as E.164 read in a region.
"""

from __future__ import annotations

import hashlib
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmkit import _validation as v
from crmkit.errors import InvalidInputError
from crmkit.identity import EmailPolicy, normalize_email, normalize_phone

__all__ = ["PseudonymousAudience", "pseudonymous_audience"]


def _digest(values: npt.NDArray[np.str_], salt: str) -> npt.NDArray[np.str_]:
    out = [
        hashlib.sha256((salt + x).encode("utf-8")).hexdigest() if x else "" for x in values.tolist()
    ]
    return np.asarray(out, dtype="<U64")


@attrs.frozen(kw_only=True, eq=False)
class PseudonymousAudience:
    """Hashed keys per customer (``""`` where the identifier is missing or invalid).

    Examples:
        >>> a = pseudonymous_audience(["c1"], email=["A@x.org"], salt="s1")
        >>> len(a.email_sha256[0]), str(a.phone_sha256[0])
        (64, '')
    """

    customer_id: npt.NDArray[np.str_] = attrs.field(converter=v.frozen)
    email_sha256: npt.NDArray[np.str_] = attrs.field(converter=v.frozen)
    phone_sha256: npt.NDArray[np.str_] = attrs.field(converter=v.frozen)

    def rows(self) -> list[dict[str, str]]:
        """One dict per customer with at least one key, for a CSV or an API upload."""
        keep = (self.email_sha256 != "") | (self.phone_sha256 != "")
        return [
            {"customer_id": str(c), "email_sha256": str(e), "phone_sha256": str(p)}
            for c, e, p in zip(
                self.customer_id[keep].tolist(),
                self.email_sha256[keep].tolist(),
                self.phone_sha256[keep].tolist(),
                strict=True,
            )
        ]


def _text(name: str, values: Any, n: int) -> npt.NDArray[np.str_]:
    if values is None:
        return np.full(n, "", dtype="<U1")
    arr = v.as_1d(name, values)
    if arr.size != n:
        raise InvalidInputError(f"{name}: {arr.size} values for {n} customers. Pass aligned ones.")
    if arr.dtype == object:
        arr = np.array(["" if x is None else str(x) for x in arr.tolist()], dtype=str)
    return np.asarray(arr, dtype=str)


def pseudonymous_audience(
    customer_id: Any,
    *,
    salt: str,
    email: Any = None,
    phone: Any = None,
    default_region: str = "DE",
    region: Any = None,
    email_policy: EmailPolicy | None = None,
) -> PseudonymousAudience:
    """SHA-256 of ``salt`` + normalized email and phone for each customer.

    The salt keeps the keys from being joined with other exports. An ad platform that matches on
    plain SHA-256 of the normalized value (as the large ones do) needs ``salt=""``; the keys are
    then pseudonymous only toward parties that do not hold the email list. Missing values are
    ``""`` or None in the inputs; missing or invalid ones give ``""`` in the output.
    ``email_policy`` defaults to ``EmailPolicy.literal()`` (trim and lower-case only).

    Examples:
        >>> a = pseudonymous_audience(["c1", "c2"], email=[" Ann@X.org", None],
        ...     phone=[None, "0151 2345678"], salt="")
        >>> b = pseudonymous_audience(["c"], email=["ann@x.org"], salt="")
        >>> bool(a.email_sha256[0] == b.email_sha256[0]), len(str(a.phone_sha256[1]))
        (True, 64)
    """
    ids = v.as_str_array("customer_id", customer_id)
    n = ids.size
    emails = normalize_email(
        _text("email", email, n), policy=email_policy or EmailPolicy.literal()
    ).value
    phones = normalize_phone(
        _text("phone", phone, n),
        default_region=default_region,
        region=None if region is None else _text("region", region, n),
    ).value
    return PseudonymousAudience(
        customer_id=ids, email_sha256=_digest(emails, salt), phone_sha256=_digest(phones, salt)
    )
