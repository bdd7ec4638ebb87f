"""Crossings, persons of interest, flags and the judgements officers make on them."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from screening.engine.memo import memo
from screening.engine.normalize import PartialDate
from tip_cases.access import ScopeRules, can, register_scope
from tip_cases.extensions import db, utcnow
from tip_cases.models import ApiClient

DIRECTIONS = ("entry", "exit")
DOB_PRECISIONS = ("day", "month", "year", "estimated")
CATEGORIES = ("missing_person", "presumed_victim", "victim", "suspect", "recruiter", "transporter",
              "exploiter", "smuggler", "other")
PROTECTIVE_CATEGORIES = ("missing_person", "presumed_victim", "victim")
ALERT_KINDS = ("protective", "suspect", "information")
PERSON_SOURCES = ("case", "family_report", "partner_notice", "national_list")
FLAG_STATUSES = ("new", "acknowledged", "escalated", "confirmed", "not_same_person")
OPEN_FLAG_STATUSES = ("new", "acknowledged", "escalated")
PRIORITIES = ("urgent", "high", "normal")


def dob_of(row) -> PartialDate | None:
    """The partial date of birth of anything carrying the four dob_* columns (a model or a selected row);
    None when unknown, or when the stored parts make no date."""
    if row.dob_year is None:
        return None
    return _partial_date(row.dob_year, row.dob_month, row.dob_day, row.dob_precision or "day")


@memo(maxsize=1 << 16)  # bounded by the calendar; attach reads thousands of rows a batch, few dates
def _partial_date(year: int, month: int | None, day: int | None, precision: str) -> PartialDate | None:
    try:
        return PartialDate(year, month, day, precision)
    except ValueError:
        return None


class _PartialDob:
    """Date-of-birth columns split by part, because many travellers know only the year."""

    dob_year: Mapped[int | None] = mapped_column(Integer)
    dob_month: Mapped[int | None] = mapped_column(Integer)
    dob_day: Mapped[int | None] = mapped_column(Integer)
    dob_precision: Mapped[str | None] = mapped_column(String(10))

    @property
    def dob(self) -> PartialDate | None:
        return dob_of(self)

    @dob.setter
    def dob(self, value: PartialDate | None) -> None:
        if value is None:
            self.dob_year = self.dob_month = self.dob_day = self.dob_precision = None
        else:
            self.dob_year, self.dob_month, self.dob_day = value.year, value.month, value.day
            self.dob_precision = value.precision

    @property
    def dob_text(self) -> str:
        d = self.dob
        return str(d) if d else ""


class Crossing(_PartialDob, db.Model):
    """One person passing one border post, as a border system, a file or an officer recorded it."""

    __tablename__ = "crossings"
    # On PostgreSQL the table is partitioned by month (screening.partitions): there the primary key is
    # (id, crossed_at), the unique key (source, external_id, crossed_at) (CrossingKey keeps one crossing
    # per external id), and the foreign keys to crossings.id below are checked by triggers. The mapper
    # keeps `id` as the identity.
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_crossings_post_crossed_at", "border_post_id", "crossed_at"),
        # Managers' statistics: index-only scans of a period grouped by post and direction, and of
        # the period's travellers (tip_cases.reports.stats).
        Index("ix_crossings_stats", "crossed_at", "border_post_id", "direction", "traveller_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(100))  # "api:<client>", "csv", "manual"
    external_id: Mapped[str] = mapped_column(String(100))
    border_post_id: Mapped[int] = mapped_column(ForeignKey("border_posts.id"))
    direction: Mapped[str] = mapped_column(String(5))
    crossed_at: Mapped[datetime] = mapped_column(index=True)
    surname: Mapped[str] = mapped_column(String(120), default="")
    given_names: Mapped[str] = mapped_column(String(160), default="")
    sex: Mapped[str | None] = mapped_column(String(1))
    nationality: Mapped[str | None] = mapped_column(String(3))
    document_type: Mapped[str | None] = mapped_column(String(20))
    document_number: Mapped[str | None] = mapped_column(String(40), index=True)
    document_country: Mapped[str | None] = mapped_column(String(3))
    address: Mapped[str | None] = mapped_column(String(300))
    purpose: Mapped[str | None] = mapped_column(String(120))
    vehicle_registration: Mapped[str | None] = mapped_column(String(20))
    travel_group: Mapped[str | None] = mapped_column(String(64))
    # A minor's accompanying adult, as MIDAS registers it: the relation (patterns.GUARDIAN_RELATIONS; None when
    # not recorded), the adult's document number (links to their crossing in the same group), and
    # whether a parental consent letter was seen.
    guardian_relation: Mapped[str | None] = mapped_column(String(20))
    guardian_document_number: Mapped[str | None] = mapped_column(String(40))
    consent_document: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    captured_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    api_client_id: Mapped[int | None] = mapped_column(ForeignKey("api_clients.id"))
    quality_issues: Mapped[list | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    traveller_id: Mapped[int | None] = mapped_column(ForeignKey("travellers.id"), index=True)
    # Set when retention removed the identifying fields (tip_cases.cases.retention); statistics fields stay.
    pseudonymised_at: Mapped[datetime | None] = mapped_column()

    border_post = relationship("BorderPost")
    captured_by = relationship("User")
    flags: Mapped[list[Flag]] = relationship(back_populates="crossing", order_by="Flag.score.desc()")

    @property
    def display_name(self) -> str:
        return " ".join(p for p in (self.surname, self.given_names) if p) or "(name not recorded)"


class CrossingKey(db.Model):
    """One row per sender's crossing, whatever its month: the key that makes (source, external_id) unique.

    Partitioned by month, PostgreSQL's unique key on crossings must include crossed_at; this plain table
    is what refuses a second crossing of the same external id (migration 0023_crossing_keys).
    store_crossings claims keys here before it stores; a trigger keys every other insert
    (screening.partitions.key_triggers). crossed_at locates the crossing's partition.
    """

    __tablename__ = "crossing_keys"

    source: Mapped[str] = mapped_column(String(100), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    crossing_id: Mapped[int] = mapped_column(autoincrement=False)
    crossed_at: Mapped[datetime] = mapped_column()


class Person(_PartialDob, db.Model):
    """A person of interest: a case party or an alert-list entry, screened while active and not expired."""

    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str | None] = mapped_column(String(40), unique=True)  # the source's own reference
    surname: Mapped[str] = mapped_column(String(120), default="")
    given_names: Mapped[str] = mapped_column(String(160), default="")
    sex: Mapped[str | None] = mapped_column(String(1))
    nationality: Mapped[str | None] = mapped_column(String(3))
    place_of_birth: Mapped[str | None] = mapped_column(String(120))
    category: Mapped[str] = mapped_column(String(20), default="other")
    alert_kind: Mapped[str] = mapped_column(String(12), default="information")
    discreet: Mapped[bool] = mapped_column(Boolean, default=False)
    screening_active: Mapped[bool] = mapped_column(Boolean, default=True)
    review_date: Mapped[date | None] = mapped_column(Date)
    alert_reason: Mapped[str] = mapped_column(Text, default="")
    officer_action: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(20), default="national_list")
    notes: Mapped[str | None] = mapped_column(Text)
    # Need to know (protective or discreet alerts): the roles, comma-separated, and the case whose team may
    # see the entry in full (empty roles: NEED_TO_KNOW_DEFAULT_ROLES); everyone else sees the alert,
    # the action and `contact`, whom to call.
    need_to_know_roles: Mapped[str | None] = mapped_column(String(120))
    need_to_know_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    contact: Mapped[str | None] = mapped_column(String(300))
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    aliases: Mapped[list[PersonAlias]] = relationship(
        back_populates="person", cascade="all, delete-orphan", order_by="PersonAlias.id")
    documents: Mapped[list[PersonDocument]] = relationship(
        back_populates="person", cascade="all, delete-orphan", order_by="PersonDocument.id")
    created_by = relationship("User", foreign_keys=[created_by_user_id])
    need_to_know_case = relationship("Case", foreign_keys=[need_to_know_case_id])

    __mapper_args__ = {"version_id_col": version}

    @property
    def display_name(self) -> str:
        return " ".join(p for p in (self.surname, self.given_names) if p) or f"Person {self.id}"

    def screening_expired(self, today: date) -> bool:
        return self.review_date is not None and self.review_date < today

    def is_screened(self, today: date) -> bool:
        return bool(self.screening_active) and not self.screening_expired(today)


class PersonAlias(db.Model):
    __tablename__ = "person_aliases"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    surname: Mapped[str] = mapped_column(String(120), default="")
    given_names: Mapped[str] = mapped_column(String(160), default="")

    person: Mapped[Person] = relationship(back_populates="aliases")


class PersonDocument(db.Model):
    __tablename__ = "person_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    type: Mapped[str | None] = mapped_column(String(20))
    number: Mapped[str] = mapped_column(String(40))
    country: Mapped[str | None] = mapped_column(String(3))

    person: Mapped[Person] = relationship(back_populates="documents")


class Flag(db.Model):
    """The machine's suspicion about one crossing; the officer's decision is stored beside it, not over it."""

    __tablename__ = "flags"
    __table_args__ = (
        UniqueConstraint("crossing_id", "person_id"),
        Index("ix_flags_post_status_created", "border_post_id", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), default="identity")  # identity | risk
    crossing_id: Mapped[int] = mapped_column(ForeignKey("crossings.id"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), index=True)
    rule: Mapped[str | None] = mapped_column(String(60))  # risk flags: the pattern that fired
    evidence: Mapped[dict | None] = mapped_column(JSON)  # risk flags: what the pattern saw
    border_post_id: Mapped[int] = mapped_column(ForeignKey("border_posts.id"))
    score: Mapped[float] = mapped_column(Float, default=0.0)
    features: Mapped[list | None] = mapped_column(JSON)  # [{name, score, verdict, explanation, ...}]
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    reason: Mapped[str] = mapped_column(Text, default="")
    action: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="new", index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column()
    acknowledged_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    escalated_to_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column()
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_note: Mapped[str | None] = mapped_column(Text)
    # Decided at a post node and at headquarters while apart, differently: both stay in the history and a
    # manager settles it (screening.postsync); cleared when a manager records the final decision.
    conflict_at: Mapped[datetime | None] = mapped_column(index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    crossing: Mapped[Crossing] = relationship(back_populates="flags")
    person: Mapped[Person | None] = relationship()
    border_post = relationship("BorderPost")
    acknowledged_by = relationship("User", foreign_keys=[acknowledged_by_user_id])
    decided_by = relationship("User", foreign_keys=[decided_by_user_id])
    escalated_to = relationship("User", foreign_keys=[escalated_to_user_id])
    events: Mapped[list[FlagEvent]] = relationship(back_populates="flag", order_by="FlagEvent.id")

    __mapper_args__ = {"version_id_col": version}

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_FLAG_STATUSES


class FlagEvent(db.Model):
    """History of a flag: who did what, when, and why."""

    __tablename__ = "flag_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    flag_id: Mapped[int] = mapped_column(ForeignKey("flags.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_label: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(20))  # raised, acknowledged, escalated, confirmed, not_same_person
    note: Mapped[str | None] = mapped_column(Text)

    flag: Mapped[Flag] = relationship(back_populates="events")
    user = relationship("User")


class MatchJudgement(db.Model):
    """"Not the same person": keyed by traveller fingerprints so later crossings of the traveller stay quiet."""

    __tablename__ = "match_judgements"
    __table_args__ = (UniqueConstraint("person_id", "identity_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    crossing_id: Mapped[int | None] = mapped_column(ForeignKey("crossings.id"), index=True)
    identity_key: Mapped[str] = mapped_column(String(64))  # hash of normalised names + date of birth
    document_key: Mapped[str | None] = mapped_column(String(64))  # hash of normalised document number
    verdict: Mapped[str] = mapped_column(String(20), default="different")
    reason: Mapped[str] = mapped_column(Text)
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScreeningState(db.Model):
    """A counter bumped whenever persons of interest change, so every worker knows to refresh its index."""

    __tablename__ = "screening_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    persons_generation: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# --- tracing: travellers and investigators' judgements on them ----------------------------------------

JUDGEMENT_VERDICTS = ("merge", "split")


class Traveller(_PartialDob, db.Model):
    """One person across crossings, as resolution grouped them; the summary columns serve lists and search.

    A traveller emptied by a merge or a re-resolution is kept with `merged_into_id`, so links and
    bookmarks to it still lead somewhere.
    """

    __tablename__ = "travellers"

    id: Mapped[int] = mapped_column(primary_key=True)
    surname: Mapped[str] = mapped_column(String(120), default="")
    given_names: Mapped[str] = mapped_column(String(160), default="")
    sex: Mapped[str | None] = mapped_column(String(1))
    nationality: Mapped[str | None] = mapped_column(String(3))
    crossing_count: Mapped[int] = mapped_column(Integer, default=0)
    first_crossed_at: Mapped[datetime | None] = mapped_column()
    last_crossed_at: Mapped[datetime | None] = mapped_column(index=True)
    last_direction: Mapped[str | None] = mapped_column(String(5))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("travellers.id"))
    # Set when new crossings arrive; the scheduler's pattern job evaluates the risk rules and clears it,
    # so a border system's batch is not slowed by rule queries.
    patterns_due: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def display_name(self) -> str:
        return " ".join(p for p in (self.surname, self.given_names) if p) or f"Traveller {self.id}"


class TravellerJudgement(db.Model):
    """An investigator's merge or split, with why; resolution always honours it afterwards."""

    __tablename__ = "traveller_judgements"

    id: Mapped[int] = mapped_column(primary_key=True)
    verdict: Mapped[str] = mapped_column(String(10))  # merge | split
    traveller_id: Mapped[int | None] = mapped_column(ForeignKey("travellers.id"), index=True)  # the result
    other_traveller_id: Mapped[int | None] = mapped_column(ForeignKey("travellers.id"))  # merged in / split off
    reason: Mapped[str] = mapped_column(Text)
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)

    crossings: Mapped[list[TravellerJudgementCrossing]] = relationship(
        back_populates="judgement", cascade="all, delete-orphan", order_by="TravellerJudgementCrossing.id")
    decided_by = relationship("User")


class TravellerJudgementCrossing(db.Model):
    """The crossings a judgement is about, by side: merged "a"+"b" are one person; split "a" vs "b" are two."""

    __tablename__ = "traveller_judgement_crossings"

    id: Mapped[int] = mapped_column(primary_key=True)
    judgement_id: Mapped[int] = mapped_column(ForeignKey("traveller_judgements.id", ondelete="CASCADE"), index=True)
    crossing_id: Mapped[int] = mapped_column(ForeignKey("crossings.id"), index=True)
    side: Mapped[str] = mapped_column(String(1))

    judgement: Mapped[TravellerJudgement] = relationship(back_populates="crossings")


class RiskFindingRecord(db.Model):
    """Which risk flag stands for which finding, so the same finding is never raised twice."""

    __tablename__ = "risk_findings"

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_key: Mapped[str] = mapped_column(String(120), unique=True)  # rule:traveller[:anchor]
    rule: Mapped[str] = mapped_column(String(60))
    traveller_id: Mapped[int | None] = mapped_column(ForeignKey("travellers.id"), index=True)
    flag_id: Mapped[int] = mapped_column(ForeignKey("flags.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    flag: Mapped[Flag] = relationship()
    traveller: Mapped[Traveller | None] = relationship()


class TracingState(db.Model):
    """A counter bumped whenever crossings move between travellers, so every worker knows to reload its index."""

    __tablename__ = "tracing_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TravellerKey(db.Model):
    """A blocking key of a traveller (screening.engine.blocking): online attach finds candidates here.

    One row per (key, traveller), kept in step by screening.online when crossings attach, travellers
    merge or split and on re-resolution; no process holds all travellers in memory.
    """

    __tablename__ = "traveller_keys"

    key: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    traveller_id: Mapped[int] = mapped_column(ForeignKey("travellers.id"), primary_key=True, autoincrement=False,
                                              index=True)


class TravellerSpelling(_PartialDob, db.Model):
    """One distinct spelling of a traveller's identity, with the first crossing that has it: online attach
    reads a candidate's profiles here, by traveller id, instead of grouping all its crossings in every
    month partition (issue 10; the cost no longer grows with history).

    `spelling` is a 63-bit hash of the identity columns (screening.online.spelling_of), so one traveller has
    one row per spelling; a crossing an investigator judged has a row of its own, `spelling` = -its id, as the
    engine keeps judged crossings apart. Pseudonymised crossings have none. Kept in step with traveller_keys
    by screening.online; a derived table: `flask screening rebuild-keys` recomputes it from the crossings.
    """

    __tablename__ = "traveller_spellings"

    traveller_id: Mapped[int] = mapped_column(ForeignKey("travellers.id"), primary_key=True, autoincrement=False)
    spelling: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    # No foreign key: crossings are partitioned on PostgreSQL; crossed_at locates the crossing's partition.
    crossing_id: Mapped[int] = mapped_column()
    crossed_at: Mapped[datetime] = mapped_column()
    # How many of the traveller's crossings have this spelling (1 for a judged crossing): attach computes the
    # traveller's list columns from these counts, not from all its crossings (issue 10, session 9c).
    crossing_count: Mapped[int] = mapped_column(Integer, default=1)
    surname: Mapped[str] = mapped_column(String(120), default="")
    given_names: Mapped[str] = mapped_column(String(160), default="")
    sex: Mapped[str | None] = mapped_column(String(1))
    nationality: Mapped[str | None] = mapped_column(String(3))
    document_type: Mapped[str | None] = mapped_column(String(20))
    document_number: Mapped[str | None] = mapped_column(String(40))
    document_country: Mapped[str | None] = mapped_column(String(3))
    address: Mapped[str | None] = mapped_column(String(300))


class NameTokenCount(db.Model):
    """How many traveller profiles carry each name token: the name-frequency table of resolution, stored.

    Rows whose token starts with "#" hold the table's totals (NameFrequencies.total, sum_counts,
    sum_squares); name tokens never start with "#".
    """

    __tablename__ = "name_token_counts"

    token: Mapped[str] = mapped_column(String(120), primary_key=True)
    n: Mapped[int] = mapped_column(sa.BigInteger, default=0)


# --- the fitted match model ----------------------------------------------------------------------------

class MatchModelRecord(db.Model):
    """A Fellegi-Sunter model (the engine's MatchModel as JSON), fitted on this unit's crossings.

    Rows are kept, never overwritten, so the weights behind an old flag can be read again; the newest
    active row is the one screening and resolution use (`screening.match_models.active_model`).
    """

    __tablename__ = "match_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    fitted_at: Mapped[datetime | None] = mapped_column()
    pairs: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(String(20), default="fitted")  # fitted | default
    model_json: Mapped[dict] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=false(), index=True)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    created_by = relationship("User")


# --- access scopes ------------------------------------------------------------------------------------

def _post_clause(model):
    return lambda actor: model.border_post_id == getattr(actor, "border_post_id", None)


def _crossing_own(actor):
    if isinstance(actor, ApiClient):
        return Crossing.api_client_id == actor.id
    return Crossing.captured_by_user_id == actor.id


def _crossing_owner(c: Crossing):
    return ("api", c.api_client_id) if c.api_client_id is not None else ("user", c.captured_by_user_id)


register_scope(Crossing, ScopeRules(post=_post_clause(Crossing), post_of=lambda c: c.border_post_id,
                                    own=_crossing_own, owner_of=_crossing_owner))
register_scope(Flag, ScopeRules(post=_post_clause(Flag), post_of=lambda f: f.border_post_id))


# --- need to know on protective and discreet alerts --------------------------------------------------

NEED_TO_KNOW_DEFAULT_ROLES = ("investigator", "manager")  # when a restricted alert names no role
NEED_TO_KNOW_ROLE_CHOICES = ("border_officer", "investigator", "manager", "admin", "system")
_TEAM = sa.table("case_team_members", sa.column("case_id"), sa.column("user_id"))
_CASES = sa.table("cases", sa.column("id"), sa.column("owner_id"))


def team_case_ids(user_id: int):
    """Cases whose team includes the user: the owner and the members (as tip_cases.cases defines a team)."""
    return sa.union(select(_TEAM.c.case_id).where(_TEAM.c.user_id == user_id),
                    select(_CASES.c.id).where(_CASES.c.owner_id == user_id))


def is_restricted(person: Person) -> bool:
    """Protective or discreet entries (a missing child, a presumed victim) are need to know."""
    return person.alert_kind == "protective" or bool(person.discreet)


def named_roles(person: Person) -> tuple[str, ...]:
    roles = tuple(r.strip() for r in (person.need_to_know_roles or "").split(",") if r.strip())
    return roles or NEED_TO_KNOW_DEFAULT_ROLES


def _named_has(person: Person, actor) -> bool:
    if not is_restricted(person) or getattr(actor, "role", None) in named_roles(person):
        return True
    if person.need_to_know_case_id is None or isinstance(actor, ApiClient):
        return False
    return person.need_to_know_case_id in set(db.session.scalars(team_case_ids(actor.id)))


def _named_clause(actor):
    role = getattr(actor, "role", "") or ""
    roles = func.coalesce(Person.need_to_know_roles, "")
    named = (literal(",") + roles + literal(",")).like(f"%,{role},%")
    if role in NEED_TO_KNOW_DEFAULT_ROLES:
        named = or_(named, roles == "")
    clause = or_(sa.and_(Person.alert_kind != "protective", Person.discreet == false()), named)
    if not isinstance(actor, ApiClient) and getattr(actor, "id", None) is not None:
        clause = or_(clause, Person.need_to_know_case_id.in_(team_case_ids(actor.id)))
    return clause


register_scope(Person, ScopeRules(named=_named_clause, named_has=_named_has))


def sees_in_full(actor, person: Person | None) -> bool:
    """Whether `actor` may see this person of interest's identity and reason (the policy's poi.view_protected)."""
    return person is None or can(actor, "poi.view_protected", person)
