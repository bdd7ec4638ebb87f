"""Query services for the managers' dashboard and statistics: every figure is aggregated in SQL.

Queries are written once for SQLite and PostgreSQL; the few dialect differences (local day, parts
of a date, percentiles) sit in small helpers below. Local dates use the unit's time zone (Africa/
Maseru, UTC+2 all year), so "crossings on 3 March" means the Maseru day, not the UTC one.

Case figures come from tip_cases.cases.models.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Date, Integer, and_, case, cast, func, literal, literal_column, or_, select

from screening.engine.phrases import say, translate
from screening.models import FLAG_STATUSES, Crossing, Flag, Person, Traveller
from tip_cases.cases import htcds
from tip_cases.cases import models as _case_models
from tip_cases.extensions import db
from tip_cases.models import BorderPost, User
from tip_cases.reports.models import (
    StatCrossingsDaily,
    StatCrossingsPeople,
    StatFlagsDaily,
    StatRollupState,
    StatTravellerDays,
)

AGE_BANDS = [("0-11", 0, 11), ("12-17", 12, 17), ("18-24", 18, 24), ("25-34", 25, 34), ("35-49", 35, 49),
             ("50+", 50, None)]
AGE_BAND_LABELS = [b[0] for b in AGE_BANDS] + [say("unknown")]
SEXES = [("F", say("Female")), ("M", say("Male")), ("X", say("Other / unknown"))]
DIRECTIONS = ["entry", "exit"]
PERIODS = ("day", "month", "year")
# The crossings-by-period table's title and row header, one sentence per period (translators see whole
# sentences, never "Crossings by {period}" with an English word inside).
PERIOD_HEADINGS = {"day": (say("Crossings by day and direction"), say("Day")),
                   "month": (say("Crossings by month and direction"), say("Month")),
                   "year": (say("Crossings by year and direction"), say("Year"))}


def case_models():
    """The case models module (callers still check for None: the reports predate the cases package)."""
    return _case_models


# --- dialect helpers ----------------------------------------------------------------------------------

def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _tz() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("TIMEZONE", "Africa/Maseru"))


def _offset_minutes() -> int:
    # Maseru has had no daylight saving time since 1944, so today's fixed offset is exact for every
    # date we report on. A fixed offset also keeps PostgreSQL fast: timezone('Africa/Maseru', ts)
    # costs ~1 us a row (1.3 s over a million crossings) against ~0.4 us for UTC plus an interval.
    return int(datetime.now(_tz()).utcoffset().total_seconds() // 60)


def _sqlite_offset() -> str:
    return f"{_offset_minutes():+d} minutes"


def _pg_local(col):
    """Local wall-clock time of an aware column, as a PostgreSQL timestamp without time zone."""
    return func.timezone("UTC", col) + literal_column(f"interval '{_offset_minutes():d} minutes'")


def local_day(col):
    """The local calendar day of an aware timestamp column, as a date (PG) or 'YYYY-MM-DD' (SQLite)."""
    if _dialect() == "postgresql":
        return cast(_pg_local(col), Date)
    return func.date(col, _sqlite_offset())


def local_period(col, period: str):
    """'YYYY-MM-DD', 'YYYY-MM' or 'YYYY' of the local time of col."""
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}")
    if _dialect() == "postgresql":
        fmt = {"day": "YYYY-MM-DD", "month": "YYYY-MM", "year": "YYYY"}[period]
        return func.to_char(_pg_local(col), fmt)
    fmt = {"day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}[period]
    return func.strftime(fmt, col, _sqlite_offset())


def _local_part(col, part: str):
    if _dialect() == "postgresql":
        return cast(func.extract(part, _pg_local(col)), Integer)
    fmt = {"year": "%Y", "month": "%m", "day": "%d"}[part]
    return cast(func.strftime(fmt, col, _sqlite_offset()), Integer)


def _local_ymd(col):
    """The local date of col as the integer YYYYMMDD: one formatting call a row, and comparable."""
    if _dialect() == "postgresql":
        return cast(func.to_char(_pg_local(col), "YYYYMMDD"), Integer)
    return cast(func.strftime("%Y%m%d", col, _sqlite_offset()), Integer)


def age_at(col, dob_year, dob_month, dob_day):
    """Whole years between a split date of birth and a timestamp, in portable SQL.

    (YYYYMMDD at col - YYYYMMDD of birth) // 10000 is the exact age in years and costs one date
    formatting per row instead of three extractions. A missing month or day counts as 1 January,
    so year-only births give the oldest possible age (they fall in the same band except within the
    birth year's boundary days).
    """
    born = dob_year * 10000 + func.coalesce(dob_month, 1) * 100 + func.coalesce(dob_day, 1)
    return (_local_ymd(col) - born) // 10000


def age_band(age):
    """CASE expression mapping an age to the reporting bands; NULL age -> 'unknown'."""
    whens = [(age.is_(None), literal("unknown"))]
    for label, _low, high in AGE_BANDS:
        if high is not None:
            whens.append((age <= high, literal(label)))
    return case(*whens, else_=literal("50+"))


def band_of(age: int | None) -> str:
    """The reporting band of an age in years, as age_band() does in SQL."""
    if age is None:
        return "unknown"
    return next((label for label, _low, high in AGE_BANDS if high is not None and age <= high), "50+")


def sex_code(col):
    return case((col.in_(["F", "M"]), col), else_=literal("X"))


def percentile(values: list[float], p: float) -> float | None:
    """Linear interpolation between closest ranks, the same definition as PostgreSQL percentile_cont."""
    if not values:
        return None
    values = sorted(values)
    pos = p * (len(values) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


# --- rollups --------------------------------------------------------------------------------------

def _use_rollups(live: bool | None) -> bool:
    """Read the rollups unless told not to, or unless they were built for another UTC offset."""
    if live:
        return False
    state = db.session.get(StatRollupState, 1)
    return state is not None and state.offset_minutes == _offset_minutes()


def _rollup_firsts(f: Filters):
    """(tid, first_at) of every traveller who crossed in the filters, one row each, from the distinct-person
    rollup: the traveller's first row in the period is the one pointing before it (or nowhere), so this is a
    filtered range of the daily table, not a GROUP BY over every traveller-day of the period.

    first_at is the traveller's first crossing that day at that post; their first in the period may be earlier
    the same day at another post, but on the same local date, and the age is taken on the local date.
    """
    days = StatTravellerDays
    where = [days.day >= f.start, days.day <= f.end]
    if f.post_id:
        where += [days.border_post_id == f.post_id, or_(days.prev_post_day.is_(None), days.prev_post_day < f.start)]
    else:
        where.append(or_(days.prev_day.is_(None), days.prev_day < f.start))
    return select(days.traveller_id.label("tid"), days.first_at.label("first_at")).where(*where).subquery()


def _per_day(col, rollup, since: datetime, now: datetime, first: date, last: date,
             live: bool | None) -> dict[str, int]:
    """Rows per local day between two instants: whole days from the rollup, the two partial edge days live."""
    day = local_day(col)
    if not _use_rollups(live) or first >= last:
        return {str(d): int(n) for d, n in db.session.execute(
            select(day, func.count()).where(col >= since, col <= now).group_by(day)).all()}
    tz = _tz()
    after_first = datetime.combine(first + timedelta(days=1), time.min, tz).astimezone(UTC)
    start_last = datetime.combine(last, time.min, tz).astimezone(UTC)
    out = {str(d): int(n) for d, n in db.session.execute(
        select(day, func.count()).where(or_(and_(col >= since, col < after_first),
                                            and_(col >= start_last, col <= now))).group_by(day)).all()}
    for d, n in db.session.execute(select(rollup.day, func.sum(rollup.n))
                                   .where(rollup.day > first, rollup.day < last).group_by(rollup.day)).all():
        if n:
            out[str(d)] = int(n)
    return out


# --- tables ---------------------------------------------------------------------------------------

@dataclass
class Table:
    """A statistics table: rows x columns of counts, with the labels a reader sees."""

    key: str
    title: str
    row_header: str
    rows: list[str]
    cols: list[str]
    cells: list[list[int]]
    note: str = ""
    row_keys: list[str] = field(default_factory=list)

    def translated(self, gettext: Callable[[str], str]) -> Table:
        """The same table with its words in the reader's language, for pages and the PDF.

        The words are English `say()` phrases so that CSV exports, which use the table as it is, keep
        English column names: a CSV's header is an interface other systems read, never translated.
        Row labels that are data (post names, nationality codes, HTCDS codes) pass through unchanged.
        """
        def tr(text):
            return translate(text, gettext)
        return replace(self, title=tr(self.title), row_header=tr(self.row_header),
                       rows=[tr(r) for r in self.rows], cols=[tr(c) for c in self.cols], note=tr(self.note))

    @property
    def row_totals(self) -> list[int]:
        return [sum(r) for r in self.cells]

    @property
    def col_totals(self) -> list[int]:
        return [sum(self.cells[i][j] for i in range(len(self.rows))) for j in range(len(self.cols))]

    @property
    def total(self) -> int:
        return sum(self.row_totals)

    @property
    def one_column(self) -> bool:
        return len(self.cols) == 1


def _pivot(pairs, row_order: list[str], col_order: list[str]) -> list[list[int]]:
    grid = {(str(r), str(c)): int(n) for r, c, n in pairs}
    return [[grid.get((r, c), 0) for c in col_order] for r in row_order]


@dataclass
class Filters:
    """Statistics filters: a local date range (inclusive) and optionally one border post."""

    start: date
    end: date
    post_id: int | None = None
    period: str = "month"

    def bounds(self) -> tuple[datetime, datetime]:
        """The UTC instants of local midnight at the start and the day after the end."""
        tz = _tz()
        lo = datetime.combine(self.start, time.min, tz).astimezone(UTC)
        hi = datetime.combine(self.end + timedelta(days=1), time.min, tz).astimezone(UTC)
        return lo, hi

    def as_dict(self) -> dict:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "post": self.post_id,
                "period": self.period}


def _crossing_where(f: Filters):
    lo, hi = f.bounds()
    clauses = [Crossing.crossed_at >= lo, Crossing.crossed_at < hi]
    if f.post_id:
        clauses.append(Crossing.border_post_id == f.post_id)
    return and_(*clauses)


def posts() -> list[BorderPost]:
    return list(db.session.execute(select(BorderPost).order_by(BorderPost.name)).scalars())


def crossings_tables(f: Filters, live: bool | None = None) -> list[Table]:
    """Crossings by post and direction, and by period and direction, from one grouped scan.

    The scan groups by local day (cheap: UTC plus the fixed offset, cast to a date) and Python rolls
    the few thousand groups up to posts and to months or years; ix_crossings_stats covers it.
    """
    if _use_rollups(live):
        r = StatCrossingsDaily
        where = [r.day >= f.start, r.day <= f.end, r.n != 0] + ([r.border_post_id == f.post_id] if f.post_id else [])
        rows = db.session.execute(select(r.day, r.border_post_id, r.direction, func.sum(r.n)).where(*where)
                                  .group_by(r.day, r.border_post_id, r.direction)).all()
    else:
        day = local_day(Crossing.crossed_at)
        rows = db.session.execute(
            select(day, Crossing.border_post_id, Crossing.direction, func.count())
            .where(_crossing_where(f)).group_by(day, Crossing.border_post_id, Crossing.direction)).all()
    cut = {"day": 10, "month": 7, "year": 4}[f.period]
    by_post: dict[tuple[int, str], int] = defaultdict(int)
    by_period: dict[tuple[str, str], int] = defaultdict(int)
    for d, pid, direction, n in rows:
        by_post[(pid, direction)] += int(n)
        by_period[(str(d)[:cut], direction)] += int(n)
    names = {p.id: p.name for p in posts()}
    used = sorted({pid for pid, _d in by_post}, key=lambda pid: names.get(pid, ""))
    post_rows = [names.get(pid, str(pid)) for pid in used]
    labels = sorted({label for label, _d in by_period})
    return [
        Table("crossings_post_direction", say("Crossings by border post and direction"), say("Border post"),
              post_rows, [say("Entry"), say("Exit")],
              _pivot([(names.get(p, str(p)), d, n) for (p, d), n in by_post.items()], post_rows, DIRECTIONS)),
        Table("crossings_period", *PERIOD_HEADINGS.get(f.period, (say("Crossings by period and direction"),
                                                                 f.period.capitalize())), labels,
              [say("Entry"), say("Exit")], _pivot([(p, d, n) for (p, d), n in by_period.items()], labels, DIRECTIONS)),
    ]


def _person_groups(f: Filters, live: bool | None = None) -> dict[tuple[str, str, str], int]:
    """Persons who crossed in the period, counted once each, by (age band, sex, nationality).

    A traveller (crossings grouped by identity resolution) counts once, with the sex, nationality
    and date of birth of the traveller's summary and the age at their first crossing in the period.
    A crossing not yet resolved to a traveller counts as a person of its own.
    """
    where = _crossing_where(f)
    rollups = _use_rollups(live)
    if rollups:
        firsts = _rollup_firsts(f)
    else:
        firsts = (select(Crossing.traveller_id.label("tid"), func.min(Crossing.crossed_at).label("first_at"))
                  .where(where, Crossing.traveller_id.isnot(None)).group_by(Crossing.traveller_id).subquery())
    def person_cells(src, at):
        # The raw age, not its band: grouping by it evaluates the age once a row (a CASE of bands
        # would repeat it per branch) and leaves ~100 groups that Python maps to bands.
        age = case((src.dob_year.is_(None), None), else_=age_at(at, src.dob_year, src.dob_month, src.dob_day))
        return age, sex_code(src.sex), func.coalesce(src.nationality, literal("unknown"))

    resolved = person_cells(Traveller, firsts.c.first_at)
    unresolved = person_cells(Crossing, Crossing.crossed_at)
    groups: dict[tuple[str, str, str], int] = defaultdict(int)
    for age, s, n_, count in db.session.execute(
            select(*resolved, func.count()).select_from(firsts).join(Traveller, Traveller.id == firsts.c.tid)
            .group_by(*resolved)).all():
        groups[(band_of(age), str(s), str(n_))] += int(count)
    if rollups:
        p = StatCrossingsPeople
        clauses = [p.unresolved == 1, p.day >= f.start, p.day <= f.end] + (
            [p.border_post_id == f.post_id] if f.post_id else [])
        for band, s, n_, count in db.session.execute(
                select(p.age_band, p.sex, p.nationality, func.sum(p.n)).where(*clauses)
                .group_by(p.age_band, p.sex, p.nationality)).all():
            groups[(str(band), str(s), str(n_))] += int(count)
    else:
        for age, s, n_, count in db.session.execute(
                select(*unresolved, func.count()).where(where, Crossing.traveller_id.is_(None))
                .group_by(*unresolved)).all():
            groups[(band_of(age), str(s), str(n_))] += int(count)
    return {k: v for k, v in groups.items() if v}


def travellers_tables(f: Filters, live: bool | None = None) -> list[Table]:
    """Persons crossing by age band and sex, and by nationality: each person once in the period."""
    groups = _person_groups(f, live)
    sex_age: dict[tuple[str, str], int] = defaultdict(int)
    nats: dict[str, int] = defaultdict(int)
    for (b, s, n_), count in groups.items():
        sex_age[(b, s)] += count
        nats[n_] += count
    by_nat = sorted(nats.items(), key=lambda kv: (-kv[1], kv[0]))
    note = (say("Persons, not crossings: a traveller who crossed several times in the period counts once; "
            "a crossing not yet linked to a traveller counts as one person."))
    return [
        Table("travellers_sex_age", say("Travellers crossing, by age band at first crossing and sex"),
              say("Age band"),
              AGE_BAND_LABELS, [label for _c, label in SEXES],
              _pivot([(b, s, n) for (b, s), n in sex_age.items()], AGE_BAND_LABELS, [c for c, _l in SEXES]),
              note=note),
        Table("travellers_nationality", say("Travellers crossing, by nationality"), say("Nationality (ISO 3166)"),
              [k for k, _n in by_nat], [say("Travellers")], [[n] for _k, n in by_nat], note=note),
    ]


# --- victims and suspects (case data) ------------------------------------------------------------

def _victim_rows(f: Filters):
    """Victims in cases opened in the period: one row per (case, person) with sex, age and nationality."""
    cm = case_models()

    lo, hi = f.bounds()
    age = case((Person.dob_year.is_(None), None),
               else_=age_at(cm.Case.opened_at, Person.dob_year, Person.dob_month, Person.dob_day))
    age = case((cm.CasePerson.age_when_trafficked.isnot(None), cm.CasePerson.age_when_trafficked), else_=age)
    where = and_(cm.CasePerson.role == "victim",
                 or_(cm.CasePerson.trafficking_status.is_(None),
                     cm.CasePerson.trafficking_status != "NotAVictimOfTrafficking"),
                 cm.Case.opened_at >= lo, cm.Case.opened_at < hi)
    return cm, Person, age, where


def victims_tables(f: Filters) -> list[Table]:
    cm = case_models()
    if cm is None:
        return []
    cm, Person, age, where = _victim_rows(f)
    base = select().select_from(cm.CasePerson).join(cm.Case, cm.Case.id == cm.CasePerson.case_id) \
        .join(Person, Person.id == cm.CasePerson.person_id).where(where)
    band, sex = age_band(age), sex_code(Person.sex)
    sex_age = db.session.execute(base.add_columns(band, sex, func.count()).group_by(band, sex)).all()
    nat = func.coalesce(Person.nationality, literal("unknown"))
    by_nat = db.session.execute(base.add_columns(nat, func.count()).group_by(nat)
                                .order_by(func.count().desc(), nat)).all()
    # Exploitation types are a JSON list per victim: SQL groups the distinct lists, Python splits
    # them (a handful of combinations), and a victim with two types counts under each.
    types_text = cast(cm.CasePerson.exploitation_types, db.Text)
    combos = db.session.execute(base.add_columns(types_text, func.count()).group_by(types_text)).all()
    import json

    counts: dict[str, int] = defaultdict(int)
    for text_value, n in combos:
        values = json.loads(text_value) if text_value and text_value != "null" else []
        for v in (values or ["NotRecorded"]):
            counts[v] += int(n)
    order = [t for t in htcds.EXPLOITATION_TYPES if t in counts] + sorted(
        t for t in counts if t not in htcds.EXPLOITATION_TYPES)
    note = say("Victims in cases opened in the period (possible and actual victims); "
               "the post filter does not apply.")
    return [
        Table("victims_exploitation", say("Victims by type of exploitation"), say("Type of exploitation (HTCDS)"),
              order, [say("Victims")], [[counts[t]] for t in order],
              note=note + say(" A victim with several types counts under each.")),
        Table("victims_sex_age", say("Victims by age band and sex"), say("Age band"), AGE_BAND_LABELS,
              [label for _c, label in SEXES], _pivot(sex_age, AGE_BAND_LABELS, [c for c, _l in SEXES]),
              note=note + say(" Age when trafficked where recorded, else age when the case was opened.")),
        Table("victims_nationality", say("Victims by nationality"), say("Nationality (ISO 3166)"),
              [str(r[0]) for r in by_nat], [say("Victims")], [[int(r[1])] for r in by_nat], note=note),
    ]


def suspects_by_role(f: Filters) -> Table | None:
    cm = case_models()
    if cm is None:
        return None
    lo, hi = f.bounds()
    role = func.coalesce(cm.CasePerson.perpetrator_role, literal("NotRecorded"))
    rows = db.session.execute(
        select(role, func.count()).select_from(cm.CasePerson).join(cm.Case, cm.Case.id == cm.CasePerson.case_id)
        .where(cm.CasePerson.role == "perpetrator", cm.Case.opened_at >= lo, cm.Case.opened_at < hi)
        .group_by(role).order_by(func.count().desc(), role)).all()
    return Table("suspects_role", say("Suspects by role in the process"), say("Role in process (HTCDS)"),
                 [str(r[0]) for r in rows], [say("Suspects")], [[int(r[1])] for r in rows],
                 note=say("Perpetrators in cases opened in the period; the post filter does not apply."))


def statistics(f: Filters, live: bool | None = None) -> list[Table]:
    """Every statistics table for the filters, in page order.

    Crossing and person figures come from the rollups (live=None, when usable) or from crossings
    (live=True); both give the same figures. Case figures are always live: the case tables are small.
    """
    tables = crossings_tables(f, live) + travellers_tables(f, live)
    tables += victims_tables(f)
    suspects = suspects_by_role(f)
    if suspects is not None:
        tables.append(suspects)
    return tables


def table(f: Filters, key: str, live: bool | None = None) -> Table | None:
    return next((t for t in statistics(f, live) if t.key == key), None)


# --- dashboard -----------------------------------------------------------------------------------

@dataclass
class Dashboard:
    now: datetime
    days: int
    posts: dict[int, str]
    flags_by_post_state: list[tuple[str, list[int]]]
    flag_states: list[str]
    ack_times: list[tuple[str, int, float | None, float | None]]
    per_day: list[tuple[str, int, int]]
    cases_available: bool = False
    cases_by_kind: list[tuple[str, int]] = field(default_factory=list)
    cases_by_status: list[tuple[str, int]] = field(default_factory=list)
    cases_by_stage: list[tuple[str, int]] = field(default_factory=list)
    workload: list[tuple[str, int, int, int]] = field(default_factory=list)
    overdue_tasks: list[tuple] = field(default_factory=list)
    overdue_tasks_count: int = 0
    overdue_referrals: list[tuple] = field(default_factory=list)
    overdue_referrals_count: int = 0
    awaiting_approval: list[tuple] = field(default_factory=list)

    @property
    def open_cases(self) -> int:
        return sum(n for _k, n in self.cases_by_status)


def dashboard(now: datetime, days: int = 30, live: bool | None = None) -> Dashboard:
    """Everything the managers' dashboard shows, as of `now`, for flags and crossings of the last `days` days."""
    since = now - timedelta(days=days)
    names = {p.id: p.name for p in posts()}

    # Flags per post by state (flags raised in the window).
    rows = db.session.execute(
        select(Flag.border_post_id, Flag.status, func.count()).where(Flag.created_at >= since)
        .group_by(Flag.border_post_id, Flag.status)).all()
    by_post: dict[int, dict[str, int]] = defaultdict(dict)
    for pid, status, n in rows:
        by_post[pid][status] = int(n)
    flags_by_post_state = sorted(((names.get(pid, str(pid)), [counts.get(s, 0) for s in FLAG_STATUSES])
                                  for pid, counts in by_post.items()), key=lambda r: r[0])

    # Time from flag to acknowledgement, median and 90th percentile per post, in minutes.
    responded = func.coalesce(Flag.acknowledged_at, Flag.decided_at)
    window = and_(Flag.created_at >= since, responded.isnot(None))
    ack_times: list[tuple[str, int, float | None, float | None]] = []
    if _dialect() == "postgresql":
        minutes = func.extract("epoch", responded - Flag.created_at) / 60.0
        for pid, n, p50, p90 in db.session.execute(
                select(Flag.border_post_id, func.count(),
                       func.percentile_cont(0.5).within_group(minutes),
                       func.percentile_cont(0.9).within_group(minutes))
                .where(window).group_by(Flag.border_post_id)).all():
            ack_times.append((names.get(pid, str(pid)), int(n), float(p50), float(p90)))
    else:
        values: dict[int, list[float]] = defaultdict(list)
        for pid, created, answered in db.session.execute(
                select(Flag.border_post_id, Flag.created_at, responded).where(window)).all():
            answered = datetime.fromisoformat(answered) if isinstance(answered, str) else answered
            if answered.tzinfo is None:
                answered = answered.replace(tzinfo=UTC)
            values[pid].append((answered - created).total_seconds() / 60.0)
        for pid, v in values.items():
            ack_times.append((names.get(pid, str(pid)), len(v), percentile(v, 0.5), percentile(v, 0.9)))
    ack_times.sort(key=lambda r: r[0])

    # Crossings and flags per local day.
    tz = _tz()
    first, last = since.astimezone(tz).date(), now.astimezone(tz).date()
    crossings = _per_day(Crossing.crossed_at, StatCrossingsDaily, since, now, first, last, live)
    flags = _per_day(Flag.created_at, StatFlagsDaily, since, now, first, last, live)
    per_day = [((first + timedelta(days=i)).isoformat(),
                crossings.get((first + timedelta(days=i)).isoformat(), 0),
                flags.get((first + timedelta(days=i)).isoformat(), 0))
               for i in range((last - first).days + 1)]

    dash = Dashboard(now=now, days=days, posts=names, flags_by_post_state=flags_by_post_state,
                     flag_states=list(FLAG_STATUSES), ack_times=ack_times, per_day=per_day)
    cm = case_models()
    if cm is not None:
        _case_sections(dash, cm, now)
    return dash


def _case_sections(dash: Dashboard, cm, now: datetime) -> None:
    Case = cm.Case
    open_ = Case.status.notin_(["Closed", "ClosedReferred"])
    for attr, col in (("cases_by_kind", Case.kind), ("cases_by_status", Case.status), ("cases_by_stage", Case.stage)):
        setattr(dash, attr, [(str(k), int(n)) for k, n in db.session.execute(
            select(col, func.count()).where(open_).group_by(col).order_by(col)).all()])

    today = now.astimezone(_tz()).date()
    task_open = cm.CaseTask.completed_at.is_(None)
    task_overdue = and_(task_open, cm.CaseTask.due_on < today)
    cases_per_owner = dict(db.session.execute(
        select(Case.owner_id, func.count()).where(open_).group_by(Case.owner_id)).all())
    tasks_per_user = {uid: (int(n), int(o or 0)) for uid, n, o in db.session.execute(
        select(cm.CaseTask.assignee_id, func.count(), func.sum(case((cm.CaseTask.due_on < today, 1), else_=0)))
        .where(task_open, cm.CaseTask.assignee_id.isnot(None)).group_by(cm.CaseTask.assignee_id)).all()}
    user_ids = set(cases_per_owner) | set(tasks_per_user)
    users = {u.id: u.display_name for u in db.session.execute(
        select(User).where(User.id.in_(user_ids))).scalars()} if user_ids else {}
    dash.workload = sorted(((users.get(uid, f"user {uid}"), int(cases_per_owner.get(uid, 0)),
                             tasks_per_user.get(uid, (0, 0))[0], tasks_per_user.get(uid, (0, 0))[1])
                            for uid in user_ids), key=lambda r: (-r[1], r[0]))

    dash.overdue_tasks_count = db.session.execute(select(func.count()).select_from(cm.CaseTask)
                                                  .where(task_overdue)).scalar_one()
    dash.overdue_tasks = [(cid, ref, title, due, users.get(aid, "") if aid else "")
                          for cid, ref, title, due, aid in db.session.execute(
        select(Case.id, Case.reference, cm.CaseTask.title, cm.CaseTask.due_on, cm.CaseTask.assignee_id)
        .join(Case, Case.id == cm.CaseTask.case_id).where(task_overdue)
        .order_by(cm.CaseTask.due_on, cm.CaseTask.id).limit(10)).all()]

    ref_overdue = and_(cm.Referral.acknowledged_at.is_(None), cm.Referral.status == "sent",
                       cm.Referral.ack_due_at < now)
    dash.overdue_referrals_count = db.session.execute(select(func.count()).select_from(cm.Referral)
                                                      .where(ref_overdue)).scalar_one()
    dash.overdue_referrals = db.session.execute(
        select(Case.id, Case.reference, cm.Referral.organisation, cm.Referral.ack_due_at)
        .join(Case, Case.id == cm.Referral.case_id).where(ref_overdue)
        .order_by(cm.Referral.ack_due_at).limit(10)).all()
    dash.awaiting_approval = db.session.execute(
        select(Case.id, Case.reference, cm.ClosureRequest.target_status, cm.ClosureRequest.requested_at)
        .join(Case, Case.id == cm.ClosureRequest.case_id).where(cm.ClosureRequest.decision == "pending")
        .order_by(cm.ClosureRequest.requested_at)).all()
    dash.cases_available = True
