"""Source records as channels write them: fields by channel, and the noise of real data entry."""

from __future__ import annotations

import enum

import attrs
import numpy as np
import numpy.typing as npt

from crmkit.datasets._config import ShopNoise
from crmkit.datasets._people import DE_SUFFIXES, GB_SUFFIXES, People, name_tables
from crmkit.datasets._strings import (
    build_by,
    double_letter,
    drop_letter,
    head,
    insert_char,
    join,
    number,
    random_letters,
    str_len,
    tail,
    transpose_letters,
)

__all__ = ["SOURCES", "RecordFields", "RecordNoise", "write_records"]

Str = npt.NDArray[np.str_]
Int = npt.NDArray[np.int64]
Flt = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]

#: Source names by source code.
SOURCES = ("web", "checkout", "loyalty", "support", "marketplace")
WEB, CHECKOUT, LOYALTY, SUPPORT, MARKETPLACE = range(5)

#: Share of web accounts that give a phone number and a postal address.
_WEB_PHONE = 0.5
_WEB_ADDRESS = 0.35
#: Phone formats: E.164, +cc spaced, national spaced, (0area), national compact, 00cc, dashed.
_PHONE_FORMAT_WEIGHTS = np.array([0.15, 0.2, 0.3, 0.1, 0.15, 0.05, 0.05])
_GMAIL_TAGS = np.array(["shop", "news", "orders", "promo", "deals", "2024"])


class RecordNoise(enum.IntFlag):
    """What was done to a source record, as bit flags in ``ShopTruth.record_noise``.

    Examples:
        >>> flags = RecordNoise.NICKNAME | RecordNoise.TYPO
        >>> RecordNoise.TYPO in flags, RecordNoise.OLD_ADDRESS in flags
        (True, False)
    """

    EMAIL_CASE = 1
    GMAIL_VARIANT = 2
    ALTERNATE_EMAIL = 4
    SHARED_EMAIL = 8
    SHARED_PHONE = 16
    NICKNAME = 32
    TYPO = 64
    NAME_CASE = 128
    OLD_ADDRESS = 256
    STREET_ABBREVIATION = 512
    POSTCODE_FORMAT = 1024
    DAY_MONTH_SWAP = 2048
    #: The record's person shares first and last name with another person.
    NAMESAKE = 4096
    #: The record's person lives in a household with another person.
    HOUSEHOLD = 8192


@attrs.frozen(kw_only=True)
class RecordFields:
    """The text columns of the records and the noise applied to each."""

    email: Str
    phone: Str
    first_name: Str
    last_name: Str
    birth_date: Str
    street: Str
    city: Str
    postcode: Str
    country: Str
    noise: npt.NDArray[np.uint16]


def _chance(rng: np.random.Generator, mask: Bool, rate: float) -> Bool:
    return mask & (rng.random(mask.size) < rate)


def _emails(
    people: People, person: Int, source: Int, noise: ShopNoise, rng: np.random.Generator
) -> tuple[Str, Int]:
    n = person.size
    flags = np.zeros(n, dtype=np.int64)
    has = np.isin(source, [WEB, CHECKOUT, SUPPORT])
    email = np.where(has, people.email[person], "")
    alt = _chance(rng, has & (people.alt_email[person] != ""), noise.alternate_email_use)
    email[alt] = people.alt_email[person[alt]]
    flags[alt] |= RecordNoise.ALTERNATE_EMAIL
    hh = people.household[person]
    joiner = (hh >= 0) & (hh != person)
    shared = _chance(rng, has & joiner, noise.shared_email)
    email[shared] = people.email[hh[shared]]
    flags[shared] |= RecordNoise.SHARED_EMAIL
    gmail = has & (
        np.char.endswith(email, "@gmail.com") | np.char.endswith(email, "@googlemail.com")
    )
    idx = np.flatnonzero(_chance(rng, gmail, noise.gmail_variant))
    if idx.size:
        e = email[idx]
        at = np.char.find(e, "@").astype(np.int64)
        local, domain = head(e, at), tail(e, at)
        dotted = np.char.find(local, ".") >= 0
        kind = np.where(rng.random(idx.size) < 0.5, 0, np.where(dotted, 1, 2))
        kind = np.where((kind == 2) & (at < 2), 0, kind)
        tag = _GMAIL_TAGS[rng.integers(0, _GMAIL_TAGS.size, idx.size)]
        pos = 1 + np.floor(rng.random(idx.size) * np.maximum(at - 1, 1)).astype(np.int64)
        local = build_by(
            kind,
            [
                lambda i: join(local[i], "+", tag[i]),
                lambda i: np.char.replace(local[i], ".", ""),
                lambda i: insert_char(local[i], pos[i], "."),
            ],
        )
        email[idx] = join(local, domain)
        flags[idx] |= RecordNoise.GMAIL_VARIANT
    idx = np.flatnonzero(_chance(rng, has, noise.email_case))
    if idx.size:
        kind = rng.integers(0, 3, idx.size)
        e = email[idx]
        email[idx] = build_by(
            kind,
            [
                lambda i: np.char.upper(e[i]),
                lambda i: np.char.capitalize(e[i]),
                lambda i: np.char.title(e[i]),
            ],
        )
        flags[idx] |= RecordNoise.EMAIL_CASE
    relay = np.flatnonzero(source == MARKETPLACE)
    if relay.size:
        email[relay] = join(random_letters(rng, relay.size, 12), "@marketplace.example")
    return email, flags


def _phones(
    people: People, person: Int, source: Int, noise: ShopNoise, rng: np.random.Generator
) -> tuple[Str, Int]:
    n = person.size
    flags = np.zeros(n, dtype=np.int64)
    has = np.isin(source, [CHECKOUT, LOYALTY]) | ((source == WEB) & (rng.random(n) < _WEB_PHONE))
    hh = people.household[person]
    joiner = (hh >= 0) & (hh != person)
    shared = _chance(rng, has & joiner, noise.shared_phone)
    flags[shared] |= RecordNoise.SHARED_PHONE
    owner = np.where(shared, hh, person)
    idx = np.flatnonzero(has)
    who = owner[idx]
    cc, area = people.phone_cc[who], people.phone_area[who]
    s1, s2 = people.phone_sub1[who], people.phone_sub2[who]
    cdf = np.cumsum(_PHONE_FORMAT_WEIGHTS) / _PHONE_FORMAT_WEIGHTS.sum()
    fmt = np.searchsorted(cdf, rng.random(idx.size), side="right")
    text = build_by(
        fmt,
        [
            lambda i: join("+", cc[i], area[i], s1[i], s2[i]),
            lambda i: join("+", cc[i], " ", area[i], " ", s1[i], " ", s2[i]),
            lambda i: join("0", area[i], " ", s1[i], " ", s2[i]),
            lambda i: join("(0", area[i], ") ", s1[i], " ", s2[i]),
            lambda i: join("0", area[i], s1[i], s2[i]),
            lambda i: join("00", cc[i], " ", area[i], " ", s1[i], s2[i]),
            lambda i: join("0", area[i], "-", s1[i], s2[i]),
        ],
    )
    phone = np.full(n, "", dtype=text.dtype if text.size else "U1")
    phone[idx] = text
    return phone, flags


def _typo(values: Str, rng: np.random.Generator) -> Str:
    length = str_len(values)
    kind = rng.integers(0, 3, values.size)
    u = rng.random(values.size)
    out = build_by(
        kind,
        [
            lambda i: transpose_letters(
                values[i], np.floor(u[i] * (length[i] - 1)).astype(np.int64)
            ),
            lambda i: drop_letter(values[i], 1 + np.floor(u[i] * (length[i] - 1)).astype(np.int64)),
            lambda i: double_letter(values[i], np.floor(u[i] * length[i]).astype(np.int64)),
        ],
    )
    same = np.flatnonzero(out == values)  # swapped two equal letters: double one instead
    if same.size:
        out = out.astype(f"U{values.dtype.itemsize // 4 + 1}")
        out[same] = double_letter(values[same], np.floor(u[same] * length[same]).astype(np.int64))
    return out


def _names(
    people: People, person: Int, noise: ShopNoise, rng: np.random.Generator
) -> tuple[Str, Str, Int]:
    t = name_tables()
    n = person.size
    flags = np.zeros(n, dtype=np.int64)
    first = people.first[person]
    last = people.last[person]
    fi = people.first_idx[person]
    nick = np.flatnonzero(_chance(rng, t.nick_count[fi] > 0, noise.nickname))
    if nick.size:
        choice = t.nick_start[fi[nick]] + np.floor(
            rng.random(nick.size) * t.nick_count[fi[nick]]
        ).astype(np.int64)
        first = first.astype(f"U{max(first.dtype.itemsize // 4, t.nick.dtype.itemsize // 4)}")
        first[nick] = t.nick[choice]
        flags[nick] |= RecordNoise.NICKNAME
    typo = np.flatnonzero(rng.random(n) < noise.typo)
    on_first = rng.random(typo.size) < 0.5
    for part, sel in ((0, typo[on_first]), (1, typo[~on_first])):
        values = first if part == 0 else last
        sel = sel[str_len(values[sel]) >= 3]
        if sel.size:
            edited = _typo(values[sel], rng)
            values = values.astype(
                f"U{max(values.dtype.itemsize // 4, edited.dtype.itemsize // 4)}"
            )
            values[sel] = edited
            flags[sel] |= RecordNoise.TYPO
        if part == 0:
            first = values
        else:
            last = values
    case = np.flatnonzero(rng.random(n) < noise.name_case)
    if case.size:
        upper = rng.random(case.size) < 0.5
        first[case] = np.where(upper, np.char.upper(first[case]), np.char.lower(first[case]))
        last[case] = np.where(upper, np.char.upper(last[case]), np.char.lower(last[case]))
        flags[case] |= RecordNoise.NAME_CASE
    return first, last, flags


def _birth_dates(
    people: People, person: Int, source: Int, noise: ShopNoise, rng: np.random.Generator
) -> tuple[Str, Int]:
    n = person.size
    flags = np.zeros(n, dtype=np.int64)
    asks = np.isin(source, [WEB, LOYALTY])
    given = _chance(rng, asks, 1.0 - noise.birth_date_missing)
    birth = people.birth[person]
    months = birth.astype("datetime64[M]")
    day = (birth - months).astype(np.int64) + 1
    month = months.astype(np.int64) % 12 + 1
    swap = _chance(rng, given & (day <= 12) & (day != month), noise.day_month_swap)
    years = months.astype("datetime64[Y]")
    swapped = (years.astype("datetime64[M]") + (day - 1).astype("timedelta64[M]")).astype(
        "datetime64[D]"
    ) + (month - 1).astype("timedelta64[D]")
    birth = np.where(swap, swapped, birth)
    flags[swap] |= RecordNoise.DAY_MONTH_SWAP
    text = np.where(given, birth.astype("U10"), "")
    return text, flags


def _addresses(
    people: People,
    person: Int,
    source: Int,
    day: Flt,
    noise: ShopNoise,
    rng: np.random.Generator,
) -> tuple[Str, Str, Str, Str, Int]:
    t = name_tables()
    n = person.size
    flags = np.zeros(n, dtype=np.int64)
    has = np.isin(source, [CHECKOUT, MARKETPLACE]) | (
        (source == WEB) & (rng.random(n) < _WEB_ADDRESS)
    )
    old = has & (people.moved_day[person] > day)  # NaN (not moved) compares False
    flags[old] |= RecordNoise.OLD_ADDRESS
    idx = np.flatnonzero(has)
    p, o = person[idx], old[idx]
    cur, prev = people.address, people.old_address
    city = np.where(o, prev.city[p], cur.city[p])
    base = np.where(o, prev.street[p], cur.street[p])
    suffix = np.where(o, prev.suffix[p], cur.suffix[p])
    house = number(np.where(o, prev.number[p], cur.number[p]))
    postcode = np.where(o, prev.postcode[p], cur.postcode[p])
    de = t.city_country[city] == "DE"
    abbreviated = rng.random(idx.size) < noise.street_abbreviation
    flags[idx[abbreviated]] |= RecordNoise.STREET_ABBREVIATION
    gb_suffix = np.array([s[0] for s in GB_SUFFIXES] + [s[1] for s in GB_SUFFIXES])
    de_suffix = np.array([s[0] for s in DE_SUFFIXES] + [s[1] for s in DE_SUFFIXES])
    shift = np.where(abbreviated, len(GB_SUFFIXES), 0)
    shift_de = np.where(abbreviated, len(DE_SUFFIXES), 0)
    street = build_by(
        de.astype(np.int64),
        [
            lambda i: join(house[i], " ", base[i], " ", gb_suffix[suffix[i] + shift[i]]),
            lambda i: join(base[i], de_suffix[suffix[i] + shift_de[i]], " ", house[i]),
        ],
    )
    fmt = rng.random(idx.size) < noise.postcode_format
    flags[idx[fmt]] |= RecordNoise.POSTCODE_FORMAT
    kind = np.where(~fmt, 0, np.where(de, 3, np.where(rng.random(idx.size) < 0.5, 1, 2)))
    postcode = build_by(
        kind,
        [
            lambda i: postcode[i],
            lambda i: np.char.replace(postcode[i], " ", ""),
            lambda i: np.char.lower(postcode[i]),
            lambda i: join("D-", postcode[i]),
        ],
    )
    out_street = np.full(n, "", dtype=street.dtype)
    out_street[idx] = street
    out_city = np.full(n, "", dtype=t.city.dtype)
    out_city[idx] = t.city[city]
    out_post = np.full(n, "", dtype=postcode.dtype)
    out_post[idx] = postcode
    gives_country = source != SUPPORT
    country_now = np.where(
        people.moved_day[person] > day, people.old_country[person], people.country[person]
    )
    country = np.where(gives_country, country_now, "")
    return out_street, out_city, out_post, country, flags


def write_records(
    people: People,
    person: Int,
    source: Int,
    day: Flt,
    noise: ShopNoise,
    rng: np.random.Generator,
) -> RecordFields:
    """The fields of records of ``person`` written through ``source`` on ``day``, with noise.

    Which fields a record has depends on its channel: web accounts give e-mail and name, often a
    phone, sometimes an address and a birth date; guest checkouts give e-mail, phone, name and a
    full address; loyalty cards give phone, name and maybe a birth date; support tickets give name
    and e-mail only; marketplace records give a relay e-mail, name and shipping address, no phone.
    """
    email, f1 = _emails(people, person, source, noise, rng)
    phone, f2 = _phones(people, person, source, noise, rng)
    first, last, f3 = _names(people, person, noise, rng)
    birth, f4 = _birth_dates(people, person, source, noise, rng)
    street, city, postcode, country, f5 = _addresses(people, person, source, day, noise, rng)
    flags = f1 | f2 | f3 | f4 | f5
    flags[people.namesake_of[person] >= 0] |= RecordNoise.NAMESAKE
    is_source = np.zeros(people.first.size, dtype=bool)
    is_source[people.namesake_of[people.namesake_of >= 0]] = True
    flags[is_source[person]] |= RecordNoise.NAMESAKE
    flags[people.household[person] >= 0] |= RecordNoise.HOUSEHOLD
    return RecordFields(
        email=email,
        phone=phone,
        first_name=first,
        last_name=last,
        birth_date=birth,
        street=street,
        city=city,
        postcode=postcode,
        country=country,
        noise=flags.astype(np.uint16),
    )
