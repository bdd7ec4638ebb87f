"""Pure normalisation of names, dates and document numbers for screening.

Everything here is deterministic and free of I/O so that the matcher, the index and the ingest code
agree on one definition of "the same name" or "the same document number".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from itertools import groupby

from screening.engine.memo import memo

__all__ = [
    "PARTICLES",
    "PartialDate",
    "age_on",
    "canonical",
    "check_birth_date",
    "check_crossing_time",
    "find_nul",
    "parse_crossing_dob",
    "parse_timestamp",
    "shift",
    "to_utc",
    "fold",
    "loose",
    "name_tokens",
    "normalize_address",
    "normalize_document",
    "ocr_key",
    "ocr_key_of_normalized",
    "parse_partial_date",
    "phonetic_key",
]

# Letters that NFKD does not decompose into a base letter plus a combining mark.
_SPECIAL_LETTERS = str.maketrans({"ø": "o", "Ø": "o", "ł": "l", "Ł": "l", "đ": "d", "Đ": "d", "ı": "i",
                                  "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "þ": "th", "Þ": "th"})
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def fold(s: str | None) -> str:
    """Fold text so that spelling that differs only in accents, case or punctuation compares equal."""
    if not s:
        return ""
    if s.isascii():  # no accents or special letters to fold (most records): the same result, faster
        return _NON_ALNUM.sub(" ", s.lower()).strip()
    decomposed = unicodedata.normalize("NFKD", s.translate(_SPECIAL_LETTERS))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_ALNUM.sub(" ", stripped.casefold()).strip()


# Surname particles (Afrikaans, Dutch, French, Portuguese). They are dropped so that "van der Merwe",
# "Van Der Merwe" and "Merwe, van der" give the same tokens; officers often omit them.
PARTICLES = frozenset({"van", "der", "den", "de", "du", "le", "la", "von", "da", "dos", "das", "del", "ter"})
# Particles written glued to the surname ("Vandermerwe"). Only multi-word prefixes are stripped, so
# that given names such as "Vanessa" or "Deon" are untouched.
_GLUED_PREFIXES = ("vander", "vanden", "vande")


def name_tokens(s: str | None) -> list[str]:
    """Split a name into folded tokens; particles dropped, initials kept as one letter."""
    words = fold(s).split()
    tokens = [w for w in words if w not in PARTICLES]
    if not tokens:
        # A name made only of particles ("Le") is a real name: keep it rather than lose it.
        return words
    out = []
    for w in tokens:
        for prefix in _GLUED_PREFIXES:
            if w.startswith(prefix) and len(w) - len(prefix) >= 4:
                w = w[len(prefix):]
                break
        out.append(w)
    return out


# Spelling variants that mean the same name, applied in order to a folded token. Kept small and
# conservative: a rule here makes two names *equal* for comparison, so it must not merge different
# names (Thabo and Thabang stay different).
_CANONICAL_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # Sesotho: Lesotho orthography writes "oe" where South African orthography writes "we"
    # (Moshoeshoe / Moshweshwe, Mokoena / Mokwena).
    (re.compile(r"oe"), "we"),
    # Sesotho: Lesotho "li"/"lu" = South African "di"/"du" (Lineo / Dineo, Lipholo / Dipholo). Only at
    # the start of a name: inside a word the rule would turn a simple typo into two edits.
    (re.compile(r"^l(?=[iu])"), "d"),
    # Sesotho: Lesotho "ch" = South African "tjh" (Chabalala / Tjhabalala).
    (re.compile(r"tjh"), "ch"),
    # isiZulu / isiXhosa: click "nq" is often recorded as "nk" by non-speakers (Nqobile / Nkobile).
    (re.compile(r"^nq"), "nk"),
)


@memo(maxsize=200_000)
def canonical(token: str) -> str:
    """Rewrite a folded token to one spelling per Southern African orthographic variant."""
    for pattern, repl in _CANONICAL_RULES:
        token = pattern.sub(repl, token)
    return token


# Rewrites that are usually, not always, the same name (Afrikaans/English). Two tokens equal only
# after these count as a spelling variant: a strong partial agreement, never an exact one.
_LOOSE_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"ph"), "f"),  # Philip / Filip, Mpho / Mfo
    (re.compile(r"v"), "f"),  # Afrikaans v is voiced as f (Venter / Fenter)
    (re.compile(r"ie$"), "y"),  # Marie / Mary
    (re.compile(r"(?<=[a-z])y$"), "i"),
    (re.compile(r"(.)\1"), r"\1"),  # doubled letters (Phillip / Philip)
)


@memo(maxsize=200_000)
def loose(token: str) -> str:
    """Canonical token with the looser Afrikaans/English rewrites (ph/f, v/f, ie/y, double letters)."""
    t = canonical(token)
    for pattern, repl in _LOOSE_RULES:
        t = pattern.sub(repl, t)
    return t


# Looser rewrites used only for blocking (which candidates to look at), never for scoring: merging
# too much here only costs time, merging too much in canonical() costs false matches.
_DROP_AFTER_FIRST = str.maketrans("", "", "aeiouyw")


@memo(maxsize=200_000)
def phonetic_key(token: str) -> str:
    """Blocking key: canonical spelling, loose consonant merges, vowels dropped after the first letter.

    Plain string operations, not regular expressions: past the cache (typos make new tokens at every
    size) this runs once per token: 2.0 us a token against 3.3 with `re.sub` (a group template among them).
    """
    t = canonical(token)
    if len(t) <= 1:
        return t
    t = t.replace("ph", "f").replace("v", "f")  # ph = f (Philip / Filip); Afrikaans v = f (Venter / Fenter)
    if t.endswith("ie"):
        t = t[:-2] + "y"  # Afrikaans/English final ie = y (Marie / Mary)
    t = t.replace("ck", "k").replace("c", "k").replace("q", "k").replace("x", "k").replace("z", "s")
    t = t[0] + t[1:].translate(_DROP_AFTER_FIRST)
    return "".join([c for c, _ in groupby(t)])  # repeated letters once


PRECISIONS = ("day", "month", "year", "estimated")


@dataclass(frozen=True, slots=True)
class PartialDate:
    """A date of birth as precise as the source knew it (many travellers know only the year)."""

    year: int
    month: int | None = None
    day: int | None = None
    precision: str = "day"
    # Resolution hashes a million dates several times each (profiles are keyed on them); the generated
    # __hash__ built a tuple every time. Of ints only, so a pickled date keeps a valid hash in another
    # process (str and None hash differently in each).
    _hash: int = field(init=False, repr=False, compare=False, default=0)

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, not {self.precision!r}")
        expected = {"day": (True, True), "month": (True, False), "year": (False, False),
                    "estimated": (False, False)}[self.precision]
        if (self.month is not None, self.day is not None) != expected:
            raise ValueError(f"precision {self.precision!r} does not fit month={self.month} day={self.day}")
        date(self.year, self.month or 1, self.day or 1)  # raises ValueError on an impossible date
        object.__setattr__(self, "_hash", hash((self.year, self.month or 0, self.day or 0,
                                                PRECISIONS.index(self.precision))))

    def __hash__(self) -> int:
        return self._hash

    @classmethod
    def from_date(cls, d: date) -> PartialDate:
        return cls(d.year, d.month, d.day, "day")

    @property
    def is_placeholder(self) -> bool:
        """1 January is what registries write when only the year is known."""
        return self.precision == "day" and self.month == 1 and self.day == 1

    def __str__(self) -> str:
        if self.precision == "day":
            return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"
        if self.precision == "month":
            return f"{self.year:04d}-{self.month:02d}"
        return f"~{self.year:04d}" if self.precision == "estimated" else f"{self.year:04d}"


# ASCII digits only: Python's \d also matches full-width and other Unicode digits, which no border
# system writes on purpose and which would otherwise pass as a date.
_ISO_DAY = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$", re.ASCII)
_ISO_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$", re.ASCII)
_YEAR = re.compile(r"^(\d{4})$", re.ASCII)
_DMY = re.compile(r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$", re.ASCII)
_ESTIMATED = re.compile(r"^(?:~|c\.?\s*|ca\.?\s*|about\s+)(\d{4})$|^(\d{4})\s*[~?]$", re.IGNORECASE | re.ASCII)


def _ascii_digits_only(text: str) -> None:
    if any(ch.isdigit() and not ch.isascii() for ch in text):
        raise ValueError(f"{text!r} has non-ASCII digits (e.g. full-width); write the date with 0-9")


def parse_partial_date(s: str) -> PartialDate:
    """Parse YYYY-MM-DD, YYYY-MM, YYYY, DD/MM/YYYY or an estimated year (~YYYY, c. YYYY, YYYY?)."""
    text = (s or "").strip()
    _ascii_digits_only(text)
    try:
        if m := _ISO_DAY.match(text):
            return PartialDate(int(m[1]), int(m[2]), int(m[3]), "day")
        if m := _DMY.match(text):
            return PartialDate(int(m[3]), int(m[2]), int(m[1]), "day")
        if m := _ISO_MONTH.match(text):
            return PartialDate(int(m[1]), int(m[2]), None, "month")
        if m := _YEAR.match(text):
            return PartialDate(int(m[1]), None, None, "year")
        if m := _ESTIMATED.match(text):
            return PartialDate(int(m[1] or m[2]), None, None, "estimated")
    except ValueError as exc:
        raise ValueError(f"impossible date {text!r}: {exc}") from None
    raise ValueError(f"unrecognised date {text!r}: expected YYYY-MM-DD, YYYY-MM, YYYY or DD/MM/YYYY")


def parse_crossing_dob(s: str) -> tuple[PartialDate, str | None]:
    """A crossing's date of birth, kept as far as it is usable: (date, data-quality remark or None).

    A day that does not exist (29 February in a non-leap year, 31 April) is a common entry slip, and
    some documents carry one. Rejecting the crossing would lose a traveller who may be a person of
    interest, so the date is kept to the month (or the year when the month is impossible too) and the
    raw text goes into the remark. Text that is not a date at all still raises ValueError.
    """
    text = (s or "").strip()
    try:
        return parse_partial_date(text), None
    except ValueError:
        m = _ISO_DAY.match(text)
        d = _DMY.match(text)
        if m:
            year, month = int(m[1]), int(m[2])
        elif d:
            year, month = int(d[3]), int(d[2])
        else:
            raise
    if year < 1:
        raise ValueError(f"impossible date {text!r}: year 0")
    if 1 <= month <= 12:
        return (PartialDate(year, month, None, "month"),
                f"date of birth {text!r} is not a real date; screened on the year and month")
    return PartialDate(year, None, None, "year"), f"date of birth {text!r} is not a real date; screened on the year"


EARLIEST_DATE = date(1900, 1, 1)
EARLIEST_CROSSING = datetime(1900, 1, 1, tzinfo=UTC)
CROSSING_FUTURE_SLACK = timedelta(days=1)  # clocks and time zones; more is a typing or system error


def check_birth_date(dob: PartialDate, today: date) -> None:
    """ValueError when a date of birth is in the future or before 1900 (no traveller is that old)."""
    if dob.year < EARLIEST_DATE.year:
        raise ValueError(f"{dob} is before 1900")
    earliest_possible = date(dob.year, dob.month or 1, dob.day or 1)
    if earliest_possible > today:
        raise ValueError(f"{dob} is in the future")


_NUMBER = re.compile(r"^[+-]?\d+(?:\.\d*)?$", re.ASCII)


def to_utc(at: datetime) -> datetime:
    """An aware datetime in UTC; ValueError (not OverflowError) when UTC falls outside years 1-9999."""
    try:
        return at.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError(f"{at.isoformat()} is outside the years 1 to 9999 in UTC") from None


def parse_timestamp(text: str, *, default_tz: tzinfo | None = None) -> datetime:
    """ISO 8601 text to an aware UTC datetime; ValueError with a reason a sender can act on.

    Refuses what `datetime.fromisoformat` or a lax parser would take by accident: numbers (epoch
    seconds are ambiguous: seconds or milliseconds, which zone) and non-ASCII digits. Without an
    offset the time is in `default_tz`, or refused when there is none.
    """
    if not isinstance(text, str):
        raise ValueError("is not a text timestamp: send ISO 8601, e.g. 2026-03-01T08:15:00+02:00")
    text = text.strip()
    if _NUMBER.match(text):
        raise ValueError(f"{text!r} is a number, not a timestamp: send ISO 8601, e.g. 2026-03-01T08:15:00+02:00")
    if not text.isascii():
        raise ValueError(f"{text!r} has non-ASCII characters (e.g. full-width digits); write it with 0-9")
    try:
        at = datetime.fromisoformat(text)  # Python 3.11+: accepts "Z" and a space for "T"
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 timestamp") from None
    if at.tzinfo is None:
        if default_tz is None:
            raise ValueError(f"{text!r} has no offset: add one, e.g. +02:00 or Z")
        at = at.replace(tzinfo=default_tz)
    return to_utc(at)


def check_crossing_time(at: datetime, now: datetime) -> None:
    """ValueError when a crossing time is before 1900 or more than a day after `now`.

    A far-future crossing used to stay "latest" forever and broke every window computed around it.
    """
    if at < EARLIEST_CROSSING:
        raise ValueError(f"{at.isoformat()} is before 1900")
    if at > now + CROSSING_FUTURE_SLACK:
        raise ValueError(f"{at.isoformat()} is more than a day in the future")


_MIN_UTC = datetime.min.replace(tzinfo=UTC)
_MAX_UTC = datetime.max.replace(tzinfo=UTC)


def shift(at: datetime, delta: timedelta) -> datetime:
    """`at + delta`, clamped to the representable range instead of raising OverflowError.

    Rows stored before the date window was enforced may sit at 9999-12-31; a window around them must
    still compute (it only needs to be "as late as possible").
    """
    try:
        return at + delta
    except OverflowError:
        edge = _MAX_UTC if delta > timedelta(0) else _MIN_UTC
        return edge if at.tzinfo is not None else edge.replace(tzinfo=None)


def find_nul(values: dict[str, object]) -> list[str]:
    """Names of the text values holding a NUL character (PostgreSQL cannot store one in text)."""
    return [k for k, v in values.items() if isinstance(v, str) and "\x00" in v]


def age_on(dob: PartialDate, on: date) -> int:
    """Completed years on `on`, taking the latest birthday the known precision allows.

    Erring towards the younger age is deliberate: a traveller who may be a minor is treated as one.
    """
    if dob.precision == "day":
        month, day = dob.month, dob.day
    elif dob.precision == "month":
        month, day = dob.month, 31
    else:
        month, day = 12, 31
    age = on.year - dob.year - ((on.month, on.day) < (month, day))
    return max(age, 0)


_DOC_STRIP = re.compile(r"[\s\-<./]+")
_OCR_TABLE = str.maketrans("OILSBZG", "0115826")


def normalize_document(s: str | None) -> str:
    """Uppercase a document number and drop the separators people and MRZ filler add."""
    if not s:
        return ""
    return _DOC_STRIP.sub("", fold(s).upper() if not s.isascii() else s.upper())


def ocr_key(s: str | None) -> str:
    """Collapse letters that OCR and typing confuse with digits (O/0, I/1, L/1, S/5, B/8, Z/2, G/6)."""
    return normalize_document(s).translate(_OCR_TABLE)


def ocr_key_of_normalized(n: str) -> str:
    """`ocr_key(n)` for an `n` that `normalize_document` returned, without normalising it again: on
    ASCII the normalisation is idempotent (upper case, a character class stripped)."""
    return n.translate(_OCR_TABLE) if n.isascii() else ocr_key(n)


# Street-type and other address words as people abbreviate them, written one way for comparison.
_ADDRESS_WORDS = {
    "st": "street", "str": "street", "rd": "road", "ave": "avenue", "av": "avenue", "dr": "drive",
    "ln": "lane", "cres": "crescent", "cr": "crescent", "pl": "place", "ct": "court", "hwy": "highway",
    "blvd": "boulevard", "sq": "square", "ext": "extension", "vlg": "village", "po": "po", "pobox": "po box",
    "apt": "flat", "unit": "flat", "no": "", "nr": "", "number": "", "the": "",
}


@memo(maxsize=200_000)
def normalize_address(s: str | None) -> str:
    """Address tokens folded, abbreviations written out, in sorted order ("" when empty).

    "12 Main Rd, Maseru" and "maseru 12 main road" give the same string; token order carries no
    meaning in hand-written addresses, so it is dropped.
    """
    words = []
    for w in fold(s).split():
        w = _ADDRESS_WORDS.get(w, w)
        if w:
            words.extend(w.split())
    return " ".join(sorted(words))
