"""Pseudonymous audience export: salted SHA-256 of normalized email and phone.

The normalization here is the minimum an ad-platform match needs (trim and lowercase email;
digits-only phone in E.164 with a default country code). ``crmkit.identity`` owns the full
normalizers; this module will use them once they are shared.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmkit import _validation as v
from crmkit.errors import InvalidInputError

__all__ = ["PseudonymousAudience", "normalize_email", "normalize_phone", "pseudonymous_audience"]

_NON_DIGIT = re.compile(r"\D")


def normalize_email(email: str) -> str:
    """Trimmed, lowercased email; ``""`` if it has no ``@`` between non-empty parts.

    Example:
        >>> normalize_email("  Ann.Lee@Example.COM ")
        'ann.lee@example.com'
    """
    e = email.strip().lower()
    local, at, domain = e.rpartition("@")
    return e if at and local and domain else ""


def normalize_phone(phone: str, *, default_country_code: str) -> str:
    """Phone number in E.164 (``+`` and digits); ``""`` if too short or too long to be one.

    A number starting with ``+`` or ``00`` keeps its country code; otherwise a leading trunk
    ``0`` is dropped and ``default_country_code`` (digits, e.g. ``"49"``) is put in front.

    Example:
        >>> normalize_phone("030 1234-5678", default_country_code="49")
        '+493012345678'
        >>> normalize_phone("+1 (415) 555-0100", default_country_code="49")
        '+14155550100'
    """
    p = phone.strip()
    intl = p.startswith("+")
    digits = _NON_DIGIT.sub("", p)
    if not intl and digits.startswith("00"):
        digits, intl = digits[2:], True
    if not intl:
        digits = default_country_code + digits.lstrip("0") if digits else ""
    return "+" + digits if 8 <= len(digits) <= 15 else ""


def _digest(values: list[str], salt: str) -> npt.NDArray[np.str_]:
    out = [hashlib.sha256((salt + x).encode("utf-8")).hexdigest() if x else "" for x in values]
    return np.asarray(out, dtype="<U64")


@attrs.frozen(kw_only=True, eq=False)
class PseudonymousAudience:
    """Hashed keys per customer (``""`` where the identifier is missing or invalid).

    Example:
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
                self.customer_id[keep],
                self.email_sha256[keep],
                self.phone_sha256[keep],
                strict=True,
            )
        ]


def pseudonymous_audience(
    customer_id: Any,
    *,
    salt: str,
    email: Any = None,
    phone: Any = None,
    default_country_code: str = "",
) -> PseudonymousAudience:
    """SHA-256 of ``salt`` + normalized email and phone for each customer.

    The salt keeps the keys from being joined with other exports; an ad platform that matches on
    plain SHA-256 of the normalized value (as the large ones do) needs ``salt=""``, which makes
    the keys pseudonymous only toward parties without the email list. Missing values are ``""``
    or None in the inputs and ``""`` in the output.

    Example:
        >>> a = pseudonymous_audience(["c1", "c2"], email=[" Ann@X.org", None],
        ...     phone=[None, "0151 234567"], default_country_code="49", salt="")
        >>> b = pseudonymous_audience(["c"], email=["ann@x.org"], salt="")
        >>> bool(a.email_sha256[0] == b.email_sha256[0]), str(a.phone_sha256[1])[:8]
        (True, '...')
    """
    ids = v.as_str_array("customer_id", customer_id)
    n = ids.size
    if phone is not None and not default_country_code.isdigit():
        raise InvalidInputError(
            f"default_country_code: expected digits such as '49' (got {default_country_code!r})."
        )

    def text(name: str, values: Any) -> list[str]:
        if values is None:
            return [""] * n
        arr = v.as_1d(name, values)
        if arr.size != n:
            raise InvalidInputError(f"{name}: {arr.size} values for {n} customers.")
        return ["" if x is None else str(x) for x in arr.tolist()]

    emails = [normalize_email(e) for e in text("email", email)]
    phones = [
        normalize_phone(p, default_country_code=default_country_code) if p else ""
        for p in text("phone", phone)
    ]
    return PseudonymousAudience(
        customer_id=ids, email_sha256=_digest(emails, salt), phone_sha256=_digest(phones, salt)
    )
