"""Normalizers per identifier type: arrays in, normalized values plus validity flags out.

Every normalizer takes an array-like of strings (``""`` or None for missing) and returns a
[`Normalized`][crmkit.identity.Normalized] column set: the normalized value (``""`` where missing or
invalid), whether it is valid, and a note per value saying why not or what looks suspicious.
Nothing is
silently rewritten beyond the documented rules: a likely provider typo is flagged, never corrected.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmkit import _validation as v
from crmkit.errors import InvalidInputError
from crmkit.identity._nicknames import nicknames
from crmkit.identity._text import as_text, map_unique, map_values, slice_text, strip_accents

__all__ = [
    "EmailPolicy",
    "Normalized",
    "normalize_address",
    "normalize_birth_date",
    "normalize_email",
    "normalize_name",
    "normalize_phone",
    "normalize_postcode",
]

StrArray = npt.NDArray[np.str_]


@attrs.frozen(kw_only=True, eq=False)
class Normalized:
    """Normalized values aligned with the input: ``value`` (``""`` if missing or invalid), ``valid``
    (a usable value), ``present`` (the input was not empty) and ``note`` (why invalid, or a flag
    such
    as a likely typo; ``""`` otherwise).

    Examples:
        >>> n = normalize_email(["Ann@Example.org", "", "nope"])
        >>> n.value.tolist(), n.valid.tolist(), n.note.tolist()
        (['ann@example.org', '', ''], [True, False, False], ['', '', 'no @'])
    """

    value: StrArray
    valid: npt.NDArray[np.bool_]
    present: npt.NDArray[np.bool_]
    note: StrArray

    def __attrs_post_init__(self) -> None:
        for name in ("value", "valid", "present", "note"):
            v.frozen(getattr(self, name))


def _empty() -> Normalized:
    e = np.empty(0, "<U1")
    return Normalized(value=e, valid=np.empty(0, bool), present=np.empty(0, bool), note=e.copy())


def _finish(value: StrArray, valid: Any, present: Any, note: StrArray) -> Normalized:
    valid = np.asarray(valid, dtype=bool) & np.asarray(present, dtype=bool)
    value = np.where(valid, value, "")
    if value.size == 0:
        value = value.astype("<U1")
    return Normalized(value=value, valid=valid, present=np.asarray(present, bool), note=note)


@attrs.frozen(kw_only=True)
class EmailPolicy:
    """Provider rules for email normalization (a policy, not a fact about every mail server).

    ``strip_plus_tags``: drop ``+tag`` from the local part (``ann+shop@`` → ``ann@``) for the
    domains in
    ``plus_tag_domains`` (all domains when it is None). ``dotless_domains``: domains whose local
    part
    ignores dots (Gmail). ``domain_aliases``: domains that are the same mailbox provider. ``typos``:
    likely misspelt domains, flagged in ``note`` (the value keeps the domain as typed).

    Examples:
        >>> normalize_email(["A.Nn+x@GoogleMail.com"], policy=EmailPolicy()).value.tolist()
        ['ann@gmail.com']
        >>> normalize_email(["a.nn+x@gmail.com"], policy=EmailPolicy.literal()).value.tolist()
        ['a.nn+x@gmail.com']
    """

    strip_plus_tags: bool = True
    plus_tag_domains: frozenset[str] | None = None
    dotless_domains: frozenset[str] = frozenset({"gmail.com"})
    domain_aliases: Mapping[str, str] = attrs.field(
        factory=lambda: {"googlemail.com": "gmail.com"}, hash=False
    )
    typos: Mapping[str, str] = attrs.field(
        factory=lambda: {
            "gmial.com": "gmail.com",
            "gmai.com": "gmail.com",
            "gmal.com": "gmail.com",
            "gnail.com": "gmail.com",
            "gmail.co": "gmail.com",
            "gmail.con": "gmail.com",
            "gamil.com": "gmail.com",
            "hotmial.com": "hotmail.com",
            "hotmal.com": "hotmail.com",
            "hotmail.co": "hotmail.com",
            "homail.com": "hotmail.com",
            "yaho.com": "yahoo.com",
            "yahooo.com": "yahoo.com",
            "yahoo.co": "yahoo.com",
            "outlok.com": "outlook.com",
            "outllok.com": "outlook.com",
            "icloud.co": "icloud.com",
            "iclod.com": "icloud.com",
            "gmx.dee": "gmx.de",
            "web.dee": "web.de",
        },
        hash=False,
    )

    @classmethod
    def literal(cls) -> EmailPolicy:
        """Only trim and lower-case: no provider rules at all."""
        return cls(strip_plus_tags=False, dotless_domains=frozenset(), domain_aliases={})


def normalize_email(values: Any, *, policy: EmailPolicy | None = None) -> Normalized:
    """Emails trimmed and lower-cased, with the provider rules of ``policy`` applied.

    Invalid: no single ``@``, an empty local part, a domain without a dot, whitespace inside.
    A domain in ``policy.typos`` is kept as typed and flagged ``"likely typo of <domain>"``.

    Examples:
        >>> n = normalize_email([" Ann.Lee+shop@gmail.com", "bob@gmial.com"])
        >>> n.value.tolist(), n.note.tolist()
        (['annlee@gmail.com', 'bob@gmial.com'], ['', 'likely typo of gmail.com'])
    """
    policy = policy or EmailPolicy()
    raw = as_text("email", values)
    if raw.size == 0:
        return _empty()
    plus_domains = None if policy.plus_tag_domains is None else set(policy.plus_tag_domains)
    aliases, typos, dotless = (
        dict(policy.domain_aliases),
        dict(policy.typos),
        policy.dotless_domains,
    )

    def one(text: str) -> tuple[str, str]:
        s = text.strip().lower()
        if not s:
            return "", ""
        at = s.rfind("@")
        local, domain = s[: max(at, 0)], s[at + 1 :]
        domain = aliases.get(domain, domain)
        if at < 0:
            return "", "no @"
        if s.count("@") > 1:
            return "", "more than one @"
        if at == 0:
            return "", "empty local part"
        if domain.find(".") < 1:
            return "", "domain without a dot"
        if domain.endswith(".") or ".." in domain:
            return "", "malformed domain"
        if " " in s:
            return "", "whitespace inside"
        if policy.strip_plus_tags:
            plus = local.find("+")
            if plus > 0 and (plus_domains is None or domain in plus_domains):
                local = local[:plus]
        if domain in dotless:
            local = local.replace(".", "")
        note = f"likely typo of {typos[domain]}" if domain in typos else ""
        return (f"{local}@{domain}" if local else ""), note

    value, note = map_values(raw, one)
    present = np.char.str_len(np.char.strip(raw)) > 0 if raw.dtype.kind == "U" else raw != ""
    return _finish(value, value != "", present, note)


@attrs.frozen(kw_only=True)
class _Region:
    code: str
    trunk: str
    lengths: tuple[int, ...]


_REGIONS: dict[str, _Region] = {
    r.split(":")[0]: _Region(
        code=r.split(":")[1],
        trunk=r.split(":")[2],
        lengths=tuple(int(x) for x in r.split(":")[3].split(",")),
    )
    for r in [
        "US:1:1:10",
        "CA:1:1:10",
        "GB:44:0:9,10",
        "IE:353:0:7,8,9",
        "DE:49:0:6,7,8,9,10,11,12,13",
        "AT:43:0:4,5,6,7,8,9,10,11,12,13",
        "CH:41:0:9",
        "FR:33:0:9",
        "BE:32:0:8,9",
        "NL:31:0:9",
        "LU:352::4,5,6,7,8,9,10,11",
        "ES:34::9",
        "PT:351::9",
        "IT:39::6,7,8,9,10,11",
        "DK:45::8",
        "NO:47::8",
        "SE:46:0:7,8,9",
        "FI:358:0:5,6,7,8,9,10,11,12",
        "PL:48::9",
        "CZ:420::9",
        "AU:61:0:9",
        "NZ:64:0:8,9,10",
    ]
}


def phone_regions() -> tuple[str, ...]:
    """The ISO country codes whose national phone formats the phone normalizer knows."""
    return tuple(sorted(_REGIONS))


def normalize_phone(values: Any, *, default_region: str = "DE", region: Any = None) -> Normalized:
    """Phone numbers as E.164 (``+4930123456``), with national numbers read in a region.

    ``region`` (optional, aligned ISO country codes, e.g. the record's country) overrides
    ``default_region`` per value. Numbers starting ``+`` or ``00`` are international. A national
    number loses its trunk prefix and must have a length the region allows; an international one
    must have 8-15 digits (and, for a known country code, a national length that fits). Anything
    else is invalid and says why in ``note``.

    Examples:
        >>> n = normalize_phone(["030 1234567", "+49 (30) 1234-567", "0049301234567", "12"])
        >>> n.value.tolist(), n.valid.tolist()
        (['+49301234567', '+49301234567', '+49301234567', ''], [True, True, True, False])
        >>> normalize_phone(["(415) 555-0100"], default_region="US").value.tolist()
        ['+14155550100']
    """
    if default_region not in _REGIONS:
        raise InvalidInputError(
            f"default_region: unknown region {default_region!r}. Use one of {phone_regions()}."
        )
    raw = as_text("phone", values)
    if raw.size == 0:
        return _empty()
    n = raw.size
    if region is None:
        regions = np.full(n, default_region, dtype="<U2")
    else:
        given = np.char.upper(np.char.strip(as_text("region", region)))
        v.same_length(phone=raw, region=given)
        regions = np.where(np.isin(given, list(_REGIONS)), given, default_region).astype("<U2")
    if (regions == regions[0]).all():
        prefix = f"{regions[0]}\x1f"
        value, note = map_values(raw, lambda text: _phone_one(prefix + text))
    else:
        keyed = np.char.add(np.char.add(regions, "\x1f"), raw)
        value, note = map_values(keyed, _phone_one)
    present = np.char.str_len(np.char.strip(raw)) > 0
    return _finish(value, value != "", present, note)


_NOT_DIGIT = re.compile(r"[^0-9]")
_CODE_LENGTHS: dict[str, frozenset[int]] = {}
for _r in _REGIONS.values():
    _CODE_LENGTHS[_r.code] = _CODE_LENGTHS.get(_r.code, frozenset()) | frozenset(_r.lengths)
_PHONE_PUNCT = "0123456789 +-()./"


def _phone_one(keyed: str) -> tuple[str, str]:
    """One ``region\x1fnumber`` as (E.164 or "", note)."""
    code, _, text = keyed.partition("\x1f")
    raw = text.strip()
    if not raw:
        return "", ""
    if raw.lower().strip(_PHONE_PUNCT):
        return "", "letters inside"
    digits = _NOT_DIGIT.sub("", raw)
    intl = raw.startswith("+")
    if not intl and digits.startswith("00"):
        digits, intl = digits.lstrip("0"), True
    ndig = len(digits)
    if intl:
        ok = 8 <= ndig <= 15 and not digits.startswith("0")
        for k in (1, 2, 3):  # country codes are prefix-free
            lengths = _CODE_LENGTHS.get(digits[:k])
            if lengths is not None:
                ok = ok and ndig - k in lengths
                break
        return ("+" + digits, "") if ok else ("", "not a valid number for its region")
    reg = _REGIONS[code]
    nat = digits
    if (
        reg.trunk
        and nat.startswith(reg.trunk)
        and (reg.trunk == "0" or len(nat) - len(reg.trunk) in reg.lengths)
    ):
        nat = nat.lstrip(reg.trunk)
    if len(nat) in reg.lengths:
        return "+" + reg.code + nat, ""
    return "", "not a valid number for its region"


_NAME_DROP = re.compile(r"[^a-z\s'-]")
_SPACES = re.compile(r"[\s'-]+")


def _clean_name(text: str) -> str:
    text = strip_accents(text).lower()
    text = _NAME_DROP.sub("", text)
    return _SPACES.sub(" ", text).strip()


def normalize_name(values: Any, *, use_nicknames: bool = False) -> Normalized:
    """Names lower-cased, without accents, punctuation or repeated spaces.

    With ``use_nicknames`` a first name that is a known nickname (``Bill``) becomes its canonical
    given name (``william``) from the package's nickname table, so first names compare as people.
    A name without letters is invalid.

    Examples:
        >>> normalize_name([" José-María ", "O'Brien"]).value.tolist()
        ['jose maria', 'o brien']
        >>> normalize_name(["Bill", "Liz"], use_nicknames=True).value.tolist()
        ['william', 'elizabeth']
    """
    raw = as_text("name", values)
    present = np.char.strip(raw) != ""
    table = nicknames()

    def clean(text: str) -> str:
        out = _clean_name(text)
        if use_nicknames and out:
            first, _, rest = out.partition(" ")
            first = table.get(first, first)
            out = f"{first} {rest}".strip()
        return out

    value = map_unique(raw, clean)
    valid = value != ""
    note = np.where(present & ~valid, "no letters", "").astype("<U10")
    return _finish(value, valid, present, note)


_STREET_WORDS = {
    "street": "st",
    "str": "st",
    "strasse": "st",
    "road": "rd",
    "avenue": "ave",
    "av": "ave",
    "boulevard": "blvd",
    "drive": "dr",
    "lane": "ln",
    "court": "ct",
    "place": "pl",
    "square": "sq",
    "terrace": "ter",
    "crescent": "cres",
    "close": "cl",
    "gardens": "gdns",
    "highway": "hwy",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "apartment": "unit",
    "apt": "unit",
    "flat": "unit",
    "suite": "unit",
    "ste": "unit",
    "no": "",
    "number": "",
}
_ADDR_DROP = re.compile(r"[^a-z0-9#\s]")
_HASH_UNIT = re.compile(r"#\s*")
_GLUED_STREET = re.compile(r"(\w)(strasse|str)\b")


def _clean_address(text: str) -> str:
    text = strip_accents(text).lower().replace("straße", "strasse")
    text = _ADDR_DROP.sub(" ", text.replace(".", " ").replace(",", " "))
    text = _GLUED_STREET.sub(r"\1 \2", text)
    text = _HASH_UNIT.sub(" unit ", text)
    words = [_STREET_WORDS.get(w, w) for w in text.split()]
    return " ".join(w for w in words if w)


def normalize_address(values: Any) -> Normalized:
    """Street lines lower-cased, without accents or punctuation, with common words abbreviated.

    Street types become their abbreviations (Street/Str./Straße → ``st``, Avenue → ``ave``, Road →
    ``rd``, ...), unit markers (Apartment, Apt, Flat, Suite, ``#``) become ``unit``, and glued
    German
    street names are split (``Hauptstraße`` → ``haupt st``). A line without letters or digits is
    invalid.

    Examples:
        >>> normalize_address(["12 High Street, Apt. 4", "12 high st #4"]).value.tolist()
        ['12 high st unit 4', '12 high st unit 4']
        >>> normalize_address(["Hauptstraße 5"]).value.tolist()
        ['haupt st 5']
    """
    raw = as_text("street", values)
    present = np.char.strip(raw) != ""
    value = map_unique(raw, _clean_address)
    valid = value != ""
    note = np.where(present & ~valid, "no letters or digits", "").astype("<U24")
    return _finish(value, valid, present, note)


_POSTCODE_PATTERNS: dict[str, re.Pattern[str]] = {
    "GB": re.compile(r"[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}"),
    "US": re.compile(r"[0-9]{5}([0-9]{4})?"),
    "DE": re.compile(r"[0-9]{5}"),
    "FR": re.compile(r"[0-9]{5}"),
    "ES": re.compile(r"[0-9]{5}"),
    "IT": re.compile(r"[0-9]{5}"),
    "NL": re.compile(r"[0-9]{4}[A-Z]{2}"),
    "AT": re.compile(r"[0-9]{4}"),
    "CH": re.compile(r"[0-9]{4}"),
    "BE": re.compile(r"[0-9]{4}"),
    "DK": re.compile(r"[0-9]{4}"),
}
_POSTCODE_ANY = re.compile(r"[A-Z0-9]{3,10}")


def normalize_postcode(values: Any, *, country: Any = None) -> Normalized:
    """Postcodes upper-cased without spaces or dashes, checked against the country's format.

    ``country`` (optional, aligned ISO codes) selects the format (GB, US, DE, FR, ES, IT, NL, AT,
    CH,
    BE, DK); other countries accept 3-10 letters or digits. A US ZIP+4 keeps its first five digits.

    Examples:
        >>> n = normalize_postcode(["ls1 1aa", "10115", "9021"], country=["GB", "DE", "DE"])
        >>> n.value.tolist(), n.valid.tolist()
        (['LS11AA', '10115', ''], [True, True, False])
    """
    raw = as_text("postcode", values)
    if raw.size == 0:
        return _empty()
    s = np.char.upper(np.char.strip(raw))
    s = np.char.replace(np.char.replace(s, " ", ""), "-", "")
    present = s != ""
    ctry = np.full(s.size, "", dtype="<U2")
    if country is not None:
        ctry = np.char.upper(np.char.strip(as_text("country", country))).astype("<U2")
        v.same_length(postcode=s, country=ctry)
    pair = np.char.add(np.char.add(ctry, "|"), s)

    def check(text: str) -> bool:
        code, _, pc = text.partition("|")
        return bool(_POSTCODE_PATTERNS.get(code, _POSTCODE_ANY).fullmatch(pc))

    valid = map_unique(pair, check, dtype=bool)
    zip4 = (ctry == "US") & (np.char.str_len(s) == 9)
    s = np.where(zip4, slice_text(s, np.zeros(s.size, np.int64), np.full(s.size, 5)), s)
    note = np.where(present & ~valid, "not a postcode of its country", "").astype("<U30")
    return _finish(s, valid, present, note)


def normalize_birth_date(
    values: Any,
    *,
    earliest: str = "1900-01-02",
    latest: str = "2100-01-01",
    placeholders: tuple[str, ...] = ("1970-01-01", "1901-01-01"),
) -> Normalized:
    """Birth dates as ISO ``YYYY-MM-DD``; unparsable, out-of-range and placeholder dates invalid.

    Dates before ``earliest`` (which catches the common 1900-01-01 filler) or after ``latest``, and
    the ``placeholders``, are invalid.

    Examples:
        >>> n = normalize_birth_date(["1984-02-29", "1985-02-29", "1900-01-01", ""])
        >>> n.value.tolist(), n.note.tolist()
        (['1984-02-29', '', '', ''], ['', 'not an ISO date', 'out of range', ''])
    """
    raw = np.char.strip(as_text("birth_date", values))
    present = raw != ""

    def parse(text: str) -> str:
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            return "!not an ISO date"
        iso = day.isoformat()
        if iso < earliest or iso > latest:
            return "!out of range"
        if iso in placeholders:
            return "!placeholder date"
        return iso

    out = map_unique(raw, parse)
    bad = np.char.startswith(out, "!")
    note = np.where(bad & present, np.char.lstrip(out, "!"), "").astype("<U20")
    return _finish(out, ~bad, present, note)
