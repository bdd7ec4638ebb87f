"""Pure parsing of crossing and tracing files into dataclasses, one row at a time.

A row never stops a file: a bad row becomes a `RowError` naming the line, the field and the reason,
and the caller (the import service) counts it in its summary. Nothing here touches the database;
border posts are returned raw because only the app knows its post table.

Accepted values:
- direction: "entry", "in", "arrival", "E" -> entry; "exit", "out", "departure", "X" -> exit
  (case-insensitive). "E" is entry, as on IOM MIDAS exports; exit is "X" so the two never collide.
- crossed_at: ISO 8601 ("2025-03-01T08:15:00+02:00", "...Z", "2025-03-01 08:15"). A timestamp without
  an offset is Africa/Maseru local time (UTC+2, no daylight saving); all results are aware UTC. It must
  lie between 1900 and one day after now; numbers (epoch seconds) and non-ASCII digits are refused.
- date_of_birth: not in the future nor before 1900. A day that does not exist (29 February in a
  non-leap year) keeps the row: the date is kept to the month, with a data-quality remark.
- no value may hold a NUL character: it is refused with the field named, never stripped, because a
  NUL in an id or a name means a corrupt export, and a silently altered id breaks idempotency.
- sex: M/F/X or male/female; empty, "U" or "unknown" -> None.
- nationality and document_country: ISO 3166-1 alpha-3, plus the ICAO codes for stateless persons
  and refugees (XXA, XXB, XXC, XXX).
- optional columns for a minor's accompanying adult (MIDAS registers them): `guardian_relation`
  (parent, mother, father -> parent; legal_guardian, guardian -> legal_guardian; relative; none;
  empty or "unknown" -> not recorded), `guardian_document_number` (the adult's document, which links
  the adult's crossing), `consent_document` (yes/no, 1/0, true/false: parental consent letter seen),
  and `travel_group` (any id shared by people crossing together).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import IO, Any
from zoneinfo import ZoneInfo

from screening.engine.matching import Document, Identity
from screening.engine.normalize import (
    PartialDate,
    check_birth_date,
    check_crossing_time,
    normalize_document,
    parse_crossing_dob,
    parse_partial_date,
    parse_timestamp,
)
from screening.engine.patterns import GUARDIAN_RELATIONS

__all__ = [
    "CROSSING_COLUMNS",
    "ISO_ALPHA3",
    "PERSON_COLUMNS",
    "CrossingIn",
    "PersonIn",
    "RowError",
    "parse_crossing_row",
    "parse_person_row",
    "parse_persons_csv",
    "read_crossings_csv",
]

MASERU = ZoneInfo("Africa/Maseru")

CROSSING_COLUMNS = ("external_id", "surname", "given_names", "sex", "date_of_birth", "nationality",
                    "document_type", "document_number", "document_country", "direction", "border_post",
                    "crossed_at", "address")
PERSON_COLUMNS = ("ref", "surname", "given_names", "sex", "date_of_birth", "nationality", "document_number",
                  "address")

ISO_ALPHA3 = frozenset("""
AFG ALA ALB DZA ASM AND AGO AIA ATA ATG ARG ARM ABW AUS AUT AZE BHS BHR BGD BRB BLR BEL BLZ BEN BMU BTN BOL
BES BIH BWA BVT BRA IOT BRN BGR BFA BDI CPV KHM CMR CAN CYM CAF TCD CHL CHN CXR CCK COL COM COG COD COK CRI
CIV HRV CUB CUW CYP CZE DNK DJI DMA DOM ECU EGY SLV GNQ ERI EST SWZ ETH FLK FRO FJI FIN FRA GUF PYF ATF GAB
GMB GEO DEU GHA GIB GRC GRL GRD GLP GUM GTM GGY GIN GNB GUY HTI HMD VAT HND HKG HUN ISL IND IDN IRN IRQ IRL
IMN ISR ITA JAM JPN JEY JOR KAZ KEN KIR PRK KOR KWT KGZ LAO LVA LBN LSO LBR LBY LIE LTU LUX MAC MDG MWI MYS
MDV MLI MLT MHL MTQ MRT MUS MYT MEX FSM MDA MCO MNG MNE MSR MAR MOZ MMR NAM NRU NPL NLD NCL NZL NIC NER NGA
NIU NFK MKD MNP NOR OMN PAK PLW PSE PAN PNG PRY PER PHL PCN POL PRT PRI QAT REU ROU RUS RWA BLM SHN KNA LCA
MAF SPM VCT WSM SMR STP SAU SEN SRB SYC SLE SGP SXM SVK SVN SLB SOM ZAF SGS SSD ESP LKA SDN SUR SJM SWE CHE
SYR TWN TJK TZA THA TLS TGO TKL TON TTO TUN TUR TKM TCA TUV UGA UKR ARE GBR USA UMI URY UZB VUT VEN VNM VGB
VIR WLF ESH YEM ZMB ZWE
""".split())
ICAO_SPECIAL = frozenset({"XXA", "XXB", "XXC", "XXX"})

_DIRECTIONS = {"entry": "entry", "in": "entry", "arrival": "entry", "e": "entry",
               "exit": "exit", "out": "exit", "departure": "exit", "x": "exit"}
_RELATIONS = {"parent": "parent", "mother": "parent", "father": "parent", "legal guardian": "legal_guardian",
              "guardian": "legal_guardian", "relative": "relative", "none": "none", "": None, "unknown": None}
_YES_NO = {"yes": True, "y": True, "1": True, "true": True, "no": False, "n": False, "0": False, "false": False,
           "": False}
_SEXES = {"m": "M", "male": "M", "f": "F", "female": "F", "x": "X", "": None, "u": None, "unknown": None}


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    problems: tuple[tuple[str, str], ...]  # (field, reason); field "row" for the row as a whole

    @property
    def message(self) -> str:
        return f"line {self.line}: " + "; ".join(f"{f}: {r}" for f, r in self.problems)


@dataclass(frozen=True, slots=True)
class CrossingIn:
    line: int
    external_id: str
    surname: str
    given_names: str
    sex: str | None
    date_of_birth: PartialDate | None
    nationality: str | None
    document_type: str | None
    document_number: str  # normalised (uppercase, no separators); "" when absent
    document_country: str | None
    direction: str  # "entry" | "exit"
    border_post: str  # raw code or name; the app resolves it
    crossed_at: datetime  # aware, UTC
    address: str
    warnings: tuple[str, ...] = ()  # data-quality remarks that do not reject the row
    travel_group: str = ""
    guardian_relation: str | None = None  # one of GUARDIAN_RELATIONS; None when not recorded
    guardian_document_number: str = ""  # normalised like document_number
    consent_document: bool = False

    def to_identity(self, id: Any = None) -> Identity:  # noqa: A002
        """The traveller as an Identity to screen (id defaults to the external id)."""
        documents = []
        if self.document_number:
            documents.append(Document(self.document_type, self.document_number, self.document_country))
        return Identity(id=self.external_id if id is None else id, surname=self.surname,
                        given_names=self.given_names, dob=self.date_of_birth, sex=self.sex,
                        nationality=self.nationality, documents=documents, address=self.address)


@dataclass(frozen=True, slots=True)
class PersonIn:
    line: int
    ref: str
    surname: str
    given_names: str
    sex: str | None
    date_of_birth: PartialDate | None
    nationality: str | None
    document_number: str
    address: str
    warnings: tuple[str, ...] = field(default=())


class _Row:
    """Collects field problems so that one pass reports all of a row's errors, not just the first."""

    def __init__(self, row: dict[str, Any]):
        self.row = {(k or "").strip().lower(): ("" if v is None else str(v)).strip() for k, v in row.items()}
        self.problems: list[tuple[str, str]] = []
        self.warnings: list[str] = []
        for name, value in self.row.items():
            if "\x00" in value:
                self.fail(name, "contains a NUL character (a corrupt export?)")
                self.row[name] = ""  # judged once, here; later checks see an empty value

    def get(self, name: str) -> str:
        return self.row.get(name, "")

    def fail(self, name: str, reason: str) -> None:
        self.problems.append((name, reason))

    def sex(self) -> str | None:
        raw = self.get("sex")
        if raw.lower() not in _SEXES:
            self.fail("sex", f"{raw!r} is not M, F, X or empty")
            return None
        return _SEXES[raw.lower()]

    def date_of_birth(self, today: date, *, lenient: bool = False) -> PartialDate | None:
        """The date of birth; with `lenient`, an impossible day keeps the month and becomes a warning."""
        raw = self.get("date_of_birth")
        if not raw:
            return None
        try:
            if lenient:
                dob, remark = parse_crossing_dob(raw)
                if remark:
                    self.warnings.append(remark)
            else:
                dob = parse_partial_date(raw)
            check_birth_date(dob, today)
            return dob
        except ValueError as exc:
            self.fail("date_of_birth", str(exc))
            return None

    def country(self, name: str) -> str | None:
        raw = self.get(name).upper()
        if not raw:
            return None
        if raw not in ISO_ALPHA3 and raw not in ICAO_SPECIAL:
            self.fail(name, f"{raw!r} is not an ISO 3166-1 alpha-3 country code")
            return None
        return raw

    def names_or_document(self, document_number: str) -> tuple[str, str]:
        surname, given = self.get("surname"), self.get("given_names")
        if not surname and not given:
            if document_number:
                self.warnings.append("no name recorded; screened on the document only")
            else:
                self.fail("surname", "a name or a document number is required")
        elif not surname:
            self.warnings.append("surname missing")
        return surname, given


def parse_crossing_row(row: dict[str, Any], line: int, now: datetime | None = None) -> CrossingIn | RowError:
    """Validate one crossings CSV row (extra columns ignored); `now` bounds crossed_at (default: the clock)."""
    now = now or datetime.now(UTC)
    r = _Row(row)
    external_id = r.get("external_id")
    if not external_id:
        r.fail("external_id", "is required (it makes re-imports idempotent)")
    document_number = normalize_document(r.get("document_number"))
    surname, given = r.names_or_document(document_number)
    sex = r.sex()
    dob = r.date_of_birth(now.date(), lenient=True)
    nationality = r.country("nationality")
    document_country = r.country("document_country")
    raw_direction = r.get("direction")
    direction = _DIRECTIONS.get(raw_direction.lower())
    if direction is None:
        r.fail("direction", f"{raw_direction!r} is not entry/in/E or exit/out/X")
    border_post = r.get("border_post")
    if not border_post:
        r.fail("border_post", "is required")
    crossed_at = None
    raw_at = r.get("crossed_at")
    if not raw_at:
        r.fail("crossed_at", "is required")
    else:
        try:
            crossed_at = parse_timestamp(raw_at, default_tz=MASERU)
            check_crossing_time(crossed_at, now)
        except ValueError as exc:
            crossed_at = None
            r.fail("crossed_at", str(exc))
    raw_relation = r.get("guardian_relation")
    relation = _RELATIONS.get(" ".join(raw_relation.lower().replace("_", " ").replace("-", " ").split()), "?")
    if relation == "?":
        r.fail("guardian_relation", f"{raw_relation!r} is not one of {', '.join(GUARDIAN_RELATIONS)} or empty")
    raw_consent = r.get("consent_document")
    consent = _YES_NO.get(raw_consent.lower())
    if consent is None:
        r.fail("consent_document", f"{raw_consent!r} is not yes/no")
    if len(r.get("travel_group")) > 64:
        r.fail("travel_group", "is longer than 64 characters")
    if r.problems:
        return RowError(line, tuple(r.problems))
    assert direction is not None and crossed_at is not None
    return CrossingIn(
        line=line, external_id=external_id, surname=surname, given_names=given, sex=sex,
        date_of_birth=dob, nationality=nationality, document_type=r.get("document_type").upper() or None,
        document_number=document_number, document_country=document_country, direction=direction,
        border_post=border_post, crossed_at=crossed_at, address=r.get("address"),
        warnings=tuple(r.warnings), travel_group=r.get("travel_group"), guardian_relation=relation,
        guardian_document_number=normalize_document(r.get("guardian_document_number")),
        consent_document=bool(consent),
    )


def parse_person_row(row: dict[str, Any], line: int) -> PersonIn | RowError:
    """Validate one row of a tracing file (a person to look for among crossings)."""
    r = _Row(row)
    ref = r.get("ref")
    if not ref:
        r.fail("ref", "is required")
    document_number = normalize_document(r.get("document_number"))
    surname, given = r.names_or_document(document_number)
    sex, dob, nationality = r.sex(), r.date_of_birth(datetime.now(UTC).date()), r.country("nationality")
    if r.problems:
        return RowError(line, tuple(r.problems))
    return PersonIn(line=line, ref=ref, surname=surname, given_names=given, sex=sex, date_of_birth=dob,
                    nationality=nationality, document_number=document_number, address=r.get("address"),
                    warnings=tuple(r.warnings))


def _rows(text_stream: IO[str] | Iterable[str]) -> Iterator[tuple[int, dict[str, str] | None, str | None]]:
    """(line, row or None, error) from a CSV stream; tolerant of a BOM and of header case/whitespace."""
    reader = csv.reader(text_stream)
    header: list[str] | None = None
    for record in reader:
        line = reader.line_num
        if header is None:
            if not any(cell.strip() for cell in record):
                continue
            header = [cell.replace("\ufeff", "").strip().lower() for cell in record]
            continue
        if not any(cell.strip() for cell in record):
            continue  # blank lines are not rows
        if len(record) != len(header):
            yield line, None, f"expected {len(header)} columns, found {len(record)}"
            continue
        yield line, dict(zip(header, record, strict=True)), None


def _read(text_stream, parse, required) -> Iterator[Any]:
    header_checked = False
    for line, row, error in _rows(text_stream):
        if not header_checked:
            header_checked = True
            columns = set(row) if row is not None else set()
            missing = [c for c in required if c not in columns] if row is not None else []
            if missing:
                yield RowError(1, (("header", f"missing column(s): {', '.join(missing)}"),))
                return
        if row is None:
            yield RowError(line, (("row", error or "malformed row"),))
        else:
            yield parse(row, line)


_REQUIRED_CROSSING = ("external_id", "direction", "border_post", "crossed_at")


def read_crossings_csv(text_stream: IO[str] | Iterable[str], now: datetime | None = None
                       ) -> Iterator[CrossingIn | RowError]:
    """Parse a crossings CSV row by row; malformed rows become RowErrors and never stop the file."""
    now = now or datetime.now(UTC)
    return _read(text_stream, lambda row, line: parse_crossing_row(row, line, now), _REQUIRED_CROSSING)


def parse_persons_csv(text_stream: IO[str] | Iterable[str]) -> Iterator[PersonIn | RowError]:
    """Parse a tracing CSV (ref, surname, given_names, sex, date_of_birth, nationality, ...)."""
    return _read(text_stream, parse_person_row, ("ref",))
