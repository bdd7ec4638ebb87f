"""Pure parser for ICAO Doc 9303 machine-readable zones: TD1 (3x30), TD2 (2x36), TD3 (2x44).

A bad check digit is reported in `check_digit_errors` and never silently accepted: the officer sees
which field failed (a misread, or a forged zone). Malformed input (wrong lengths, characters outside
A-Z 0-9 <) goes to `errors` and leaves the fields that could not be read as None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from screening.engine.normalize import PartialDate
from screening.engine.phrases import say

__all__ = ["MrzResult", "check_digit", "parse_mrz", "parse_yymmdd"]

_WEIGHTS = (7, 3, 1)
_VALID = re.compile(r"^[A-Z0-9<]+$")


def check_digit(data: str) -> int:
    """ICAO 9303 check digit: weights 7-3-1, digits as is, A=10..Z=35, filler '<' = 0."""
    total = 0
    for i, ch in enumerate(data):
        if ch.isdigit():
            v = int(ch)
        elif "A" <= ch <= "Z":
            v = ord(ch) - 55
        else:
            v = 0
        total += v * _WEIGHTS[i % 3]
    return total % 10


def parse_yymmdd(s: str, *, today: date | None = None, kind: str = "birth") -> PartialDate:
    """Read an MRZ date; the century makes a birth date not in the future (expiry: within 50 years)."""
    if not re.fullmatch(r"\d{6}", s):
        raise ValueError(f"MRZ date {s!r} is not six digits YYMMDD")
    today = today or date.today()
    yy, mm, dd = int(s[:2]), int(s[2:4]), int(s[4:])
    if kind == "birth":
        year = 2000 + yy
        if (year, mm, dd) > (today.year, today.month, today.day):
            year -= 100
    else:
        year = 2000 + yy if 2000 + yy <= today.year + 50 else 1900 + yy
    try:
        return PartialDate(year, mm, dd, "day")
    except ValueError:
        raise ValueError(f"MRZ date {s!r} is not a real date") from None


@dataclass
class MrzResult:
    format: str | None = None  # "TD1" | "TD2" | "TD3"
    document_type: str | None = None
    issuing_country: str | None = None
    surname: str | None = None
    given_names: str | None = None
    document_number: str | None = None
    nationality: str | None = None
    date_of_birth: PartialDate | None = None
    sex: str | None = None  # "M" | "F" | "X" ("<" in the zone means unspecified)
    expiry_date: PartialDate | None = None
    optional_data: str | None = None
    check_digit_errors: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors and not self.check_digit_errors


def _clean(text: str) -> list[str]:
    return [re.sub(r"\s+", "", line).upper() for line in text.strip().splitlines() if line.strip()]


def _names(field_: str) -> tuple[str, str]:
    surname, _, given = field_.partition("<<")
    return surname.replace("<", " ").strip(), re.sub(r"<+", " ", given).strip()


def _check(result: MrzResult, name: str, data: str, digit: str, optional: bool = False) -> None:
    if optional and digit == "<" and set(data) <= {"<"}:
        return  # an empty optional field may carry a filler instead of a check digit
    if not digit.isdigit() or int(digit) != check_digit(data):
        result.check_digit_errors.append(f"{name}: check digit {digit!r} does not match the data")


def _date(result: MrzResult, name: str, s: str, kind: str, today: date | None) -> PartialDate | None:
    try:
        return parse_yymmdd(s, today=today, kind=kind)
    except ValueError as exc:
        result.errors.append(f"{name}: {exc}")
        return None


def _common(result: MrzResult, doc: str, doc_cd: str, dob: str, dob_cd: str, sex: str, exp: str, exp_cd: str,
            nationality: str, today: date | None) -> None:
    result.document_number = doc.replace("<", "")
    _check(result, "document_number", doc, doc_cd)
    result.date_of_birth = _date(result, "date_of_birth", dob, "birth", today)
    _check(result, "date_of_birth", dob, dob_cd)
    result.sex = {"M": "M", "F": "F", "<": "X", "X": "X"}.get(sex)
    if result.sex is None:
        result.errors.append(say("sex: {sex} is not M, F or <", sex=repr(sex)))
    result.expiry_date = _date(result, "expiry_date", exp, "expiry", today)
    _check(result, "expiry_date", exp, exp_cd)
    result.nationality = nationality.replace("<", "") or None


def parse_mrz(text: str, *, today: date | None = None) -> MrzResult:
    """Parse a TD1, TD2 or TD3 zone (surrounding whitespace and lowercase tolerated)."""
    lines = _clean(text or "")
    result = MrzResult()
    shape = tuple(len(line) for line in lines)
    formats = {(30, 30, 30): "TD1", (36, 36): "TD2", (44, 44): "TD3"}
    if shape not in formats:
        # Said with `say`: the capture page shows it in the officer's language.
        result.errors.append(say("expected 3 lines of 30 (TD1), 2 of 36 (TD2) or 2 of 44 (TD3) characters, "
                                 "got {count} line(s) of {lengths} characters",
                                 count=len(lines), lengths=", ".join(map(str, shape)) or "0"))
        return result
    bad = [i + 1 for i, line in enumerate(lines) if not _VALID.match(line)]
    if bad:
        lines_text = ", ".join(map(str, bad))
        result.errors.append(say("line(s) {lines} contain characters other than A-Z, 0-9 and <", lines=lines_text))
        return result
    result.format = formats[shape]
    if result.format == "TD1":
        l1, l2, l3 = lines
        result.document_type = l1[0:2].replace("<", "")
        result.issuing_country = l1[2:5].replace("<", "")
        doc, doc_cd, opt1 = l1[5:14], l1[14], l1[15:30]
        if doc_cd == "<" and opt1.strip("<"):
            # Document numbers longer than 9: the rest and its check digit continue in optional data.
            ext = opt1.rstrip("<")
            doc, doc_cd, opt1 = doc + ext[:-1], ext[-1], ""
        _common(result, doc, doc_cd, l2[0:6], l2[6], l2[7], l2[8:14], l2[14], l2[15:18], today)
        opt2 = l2[18:29]
        result.optional_data = (opt1 + opt2).replace("<", " ").strip() or None
        _check(result, "composite", l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29], l2[29])
        result.surname, result.given_names = _names(l3)
    elif result.format == "TD2":
        l1, l2 = lines
        result.document_type = l1[0:2].replace("<", "")
        result.issuing_country = l1[2:5].replace("<", "")
        result.surname, result.given_names = _names(l1[5:36])
        _common(result, l2[0:9], l2[9], l2[13:19], l2[19], l2[20], l2[21:27], l2[27], l2[10:13], today)
        result.optional_data = l2[28:35].replace("<", " ").strip() or None
        _check(result, "composite", l2[0:10] + l2[13:20] + l2[21:35], l2[35])
    else:
        l1, l2 = lines
        result.document_type = l1[0:2].replace("<", "")
        result.issuing_country = l1[2:5].replace("<", "")
        result.surname, result.given_names = _names(l1[5:44])
        _common(result, l2[0:9], l2[9], l2[13:19], l2[19], l2[20], l2[21:27], l2[27], l2[10:13], today)
        result.optional_data = l2[28:42].replace("<", " ").strip() or None
        _check(result, "optional_data", l2[28:42], l2[42], optional=True)
        _check(result, "composite", l2[0:10] + l2[13:20] + l2[21:43], l2[43])
    return result
