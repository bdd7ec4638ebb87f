"""Case management models: cases on HTCDS v2.0 field names, their persons, timeline, work items and evidence.

Cases and persons in a case carry a `version` column (SQLAlchemy's version_id_col): an UPDATE that
does not find the version it read fails, so two investigators saving at once never lose an edit.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint, or_, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tip_cases.access import ScopeRules, register_scope
from tip_cases.extensions import db, utcnow


class CaseReferenceCounter(db.Model):
    """The last number handed out per prefix and year; incremented under a row lock."""

    __tablename__ = "case_reference_counters"

    prefix: Mapped[str] = mapped_column(String(8), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Case(db.Model):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[str] = mapped_column(String(12))  # trafficking / smuggling / both
    status: Mapped[str] = mapped_column(String(16), default="Active", index=True)  # cas_Status
    stage: Mapped[str] = mapped_column(String(32), default="identification", index=True)
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    title: Mapped[str] = mapped_column(String(160))
    summary: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)  # cas_CaseOwner
    opened_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    closed_at: Mapped[datetime | None] = mapped_column()
    closure_reason: Mapped[str | None] = mapped_column(Text)  # cas_ReasonForCaseClosure
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    owner: Mapped["User"] = relationship(foreign_keys=[owner_id])  # noqa: F821, UP037
    team: Mapped[list[CaseTeamMember]] = relationship(back_populates="case", cascade="all, delete-orphan")
    persons: Mapped[list[CasePerson]] = relationship(back_populates="case", cascade="all, delete-orphan",
                                                     order_by="CasePerson.id")
    events: Mapped[list[CaseEvent]] = relationship(back_populates="case", cascade="all, delete-orphan",
                                                   order_by=lambda: [CaseEvent.at.desc(), CaseEvent.id.desc()])

    def __repr__(self) -> str:
        return f"<Case {self.id} {self.reference}>"

    @property
    def team_user_ids(self) -> set[int]:
        return {self.owner_id, *(m.user_id for m in self.team)}

    @property
    def is_closed(self) -> bool:
        return self.status in ("Closed", "ClosedReferred")


class CaseTeamMember(db.Model):
    __tablename__ = "case_team_members"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)

    case: Mapped[Case] = relationship(back_populates="team")
    user: Mapped["User"] = relationship()  # noqa: F821, UP037


def _team_clause(user):
    """Cases the user owns or is a team member of."""
    member = select(CaseTeamMember.case_id).where(CaseTeamMember.user_id == user.id)
    return or_(Case.owner_id == user.id, Case.id.in_(member))


register_scope(Case, ScopeRules(team=_team_clause,
                                team_has=lambda case, user: getattr(user, "id", None) in case.team_user_ids))


class CasePerson(db.Model):
    """A person (screening.models.Person: names, aliases, documents, DOB) in one case, with role and HTCDS context."""

    __tablename__ = "case_persons"
    __table_args__ = (UniqueConstraint("case_id", "person_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))  # victim / perpetrator / witness / guardian / companion
    # vic_ context
    trafficking_status: Mapped[str | None] = mapped_column(String(32))
    status_decided_by: Mapped[str | None] = mapped_column(String(40))
    exploitation_types: Mapped[list | None] = mapped_column(JSON)
    forced_labour_industry: Mapped[str | None] = mapped_column(String(1))  # ISIC v4 section
    sex_exploitation_type: Mapped[str | None] = mapped_column(String(32))
    methods_of_control: Mapped[list | None] = mapped_column(JSON)
    recruitment_method: Mapped[str | None] = mapped_column(String(40))
    recruitment_place: Mapped[str | None] = mapped_column(String(160))
    exploitation_place: Mapped[str | None] = mapped_column(String(160))
    relationship_to_trafficker: Mapped[str | None] = mapped_column(String(16))
    age_when_trafficked: Mapped[int | None] = mapped_column(Integer)
    # per_ context
    perpetrator_role: Mapped[str | None] = mapped_column(String(32))
    role_details: Mapped[str | None] = mapped_column(Text)
    organisation: Mapped[str | None] = mapped_column(String(160))
    notes: Mapped[str | None] = mapped_column(Text)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    case: Mapped[Case] = relationship(back_populates="persons")
    person: Mapped["Person"] = relationship()  # noqa: F821, UP037


register_scope(CasePerson, ScopeRules(
    team=lambda user: CasePerson.case_id.in_(select(Case.id).where(_team_clause(user))),
    team_has=lambda cp, user: getattr(user, "id", None) in cp.case.team_user_ids))


class PersonMatch(db.Model):
    """"Also in case X": a person added to one case matched a person in another case or an alert list."""

    __tablename__ = "case_person_matches"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_person_id: Mapped[int] = mapped_column(ForeignKey("case_persons.id", ondelete="CASCADE"), index=True)
    other_case_person_id: Mapped[int | None] = mapped_column(ForeignKey("case_persons.id", ondelete="CASCADE"),
                                                             index=True)
    other_person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))  # alert-list person
    score: Mapped[float] = mapped_column(db.Float)
    explanations: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    seen_at: Mapped[datetime | None] = mapped_column()

    case_person: Mapped[CasePerson] = relationship(foreign_keys=[case_person_id])
    other: Mapped[CasePerson | None] = relationship(foreign_keys=[other_case_person_id])


class CaseEvent(db.Model):
    """The case timeline: one row per change, written by the services, never by hand."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(String(300))
    detail: Mapped[dict | None] = mapped_column(JSON)

    case: Mapped[Case] = relationship(back_populates="events")
    actor: Mapped["User | None"] = relationship()  # noqa: F821, UP037


class FieldChange(db.Model):
    """Field change history of cases and persons in cases: old value, new value, who, when."""

    __tablename__ = "case_field_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    object_type: Mapped[str] = mapped_column(String(20))  # case / case_person
    object_id: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)  # the version this change produced
    field: Mapped[str] = mapped_column(String(40))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    actor: Mapped["User | None"] = relationship()  # noqa: F821, UP037


class ClosureRequest(db.Model):
    """Closing a case needs a reason and a manager's decision."""

    __tablename__ = "case_closure_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    target_status: Mapped[str] = mapped_column(String(16))  # Closed / ClosedReferred
    reason: Mapped[str] = mapped_column(Text)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decision: Mapped[str] = mapped_column(String(10), default="pending", index=True)  # pending/approved/rejected
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column()
    comment: Mapped[str | None] = mapped_column(Text)

    case: Mapped[Case] = relationship()
    requested_by: Mapped["User"] = relationship(foreign_keys=[requested_by_id])  # noqa: F821, UP037
    decided_by: Mapped["User | None"] = relationship(foreign_keys=[decided_by_id])  # noqa: F821, UP037


class TraffickingEvent(db.Model):
    """HTCDS historic trafficking event (hte_): recruitment, transit or exploitation."""

    __tablename__ = "case_trafficking_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    case_person_id: Mapped[int | None] = mapped_column(ForeignKey("case_persons.id", ondelete="SET NULL"))
    type: Mapped[str] = mapped_column(String(16))  # hte_Type
    event_date: Mapped[date | None] = mapped_column(Date)  # hte_Date
    place: Mapped[str | None] = mapped_column(String(160))
    country: Mapped[str | None] = mapped_column(String(2))  # ISO 3166-1 alpha-2
    description: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SupportPlan(db.Model):
    """HTCDS support plan (spl_) for a victim."""

    __tablename__ = "case_support_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    case_person_id: Mapped[int | None] = mapped_column(ForeignKey("case_persons.id", ondelete="SET NULL"))
    type: Mapped[str] = mapped_column(String(40))  # spl_Type
    objectives: Mapped[str] = mapped_column(Text, default="")
    action_plan: Mapped[str | None] = mapped_column(Text)
    planned_end: Mapped[date | None] = mapped_column(Date)
    actual_end: Mapped[date | None] = mapped_column(Date)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Consent(db.Model):
    """HTCDS consent (con_) as a structured record: what, sharing with whom, given by whom, when, withdrawal."""

    __tablename__ = "case_consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    case_person_id: Mapped[int] = mapped_column(ForeignKey("case_persons.id", ondelete="CASCADE"), index=True)
    scopes: Mapped[list] = mapped_column(JSON, default=list)  # keys of htcds.CONSENT_SCOPES
    share_with: Mapped[str | None] = mapped_column(Text)  # partners identifying data may go to
    retention: Mapped[str | None] = mapped_column(String(160))  # how long data is kept, as explained
    informed_of_withdrawal: Mapped[bool] = mapped_column(Boolean, default=False)
    given_by: Mapped[str] = mapped_column(String(16), default="self")  # self / parent / guardian / other
    given_by_name: Mapped[str | None] = mapped_column(String(120))
    given_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    withdrawn_at: Mapped[datetime | None] = mapped_column()
    withdrawn_recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    withdrawal_note: Mapped[str | None] = mapped_column(Text)

    case_person: Mapped[CasePerson] = relationship()

    @property
    def active(self) -> bool:
        return self.withdrawn_at is None


class CaseNote(db.Model):
    """HTCDS case comment (cco_)."""

    __tablename__ = "case_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    body: Mapped[str] = mapped_column(Text)

    author: Mapped["User | None"] = relationship()  # noqa: F821, UP037


class CaseTask(db.Model):
    __tablename__ = "case_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    due_on: Mapped[date | None] = mapped_column(Date, index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column()
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    case: Mapped[Case] = relationship()
    assignee: Mapped["User | None"] = relationship(foreign_keys=[assignee_id])  # noqa: F821, UP037


class Evidence(db.Model):
    """An evidence file: stored outside the web root under a random name, served only as an attachment."""

    __tablename__ = "case_evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    original_name: Mapped[str] = mapped_column(String(200))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(String(300))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    case: Mapped[Case] = relationship()


register_scope(Evidence, ScopeRules(
    team=lambda user: Evidence.case_id.in_(select(Case.id).where(_team_clause(user))),
    team_has=lambda ev, user: getattr(user, "id", None) in ev.case.team_user_ids))


class CaseLink(db.Model):
    """A link to a crossing, flag or traveller; generic so cases do not depend on those tables' migrations."""

    __tablename__ = "case_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    object_type: Mapped[str] = mapped_column(String(16))  # crossing / flag / traveller
    object_id: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("case_id", "object_type", "object_id"),
                      db.Index("ix_case_links_object", "object_type", "object_id"))


class Referral(db.Model):
    """An outgoing referral (HTCDS cas_ReferredOrganisation, reason, date, details) and its follow-up."""

    __tablename__ = "case_referrals"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    case_person_id: Mapped[int | None] = mapped_column(ForeignKey("case_persons.id", ondelete="SET NULL"))
    agency_id: Mapped[int | None] = mapped_column(Integer)  # partner_agencies.id; resolved by notifications
    organisation: Mapped[str] = mapped_column(String(160))
    organisation_type: Mapped[str | None] = mapped_column(String(40))  # org_Type
    primary_case_worker: Mapped[str | None] = mapped_column(String(120))
    reason: Mapped[str] = mapped_column(String(40))
    details: Mapped[str | None] = mapped_column(Text)
    referred_on: Mapped[date] = mapped_column(Date)
    includes_identifying_data: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("case_consents.id"))
    override_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    override_reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="sent", index=True)
    ack_due_at: Mapped[datetime] = mapped_column()
    acknowledged_at: Mapped[datetime | None] = mapped_column()
    responded_at: Mapped[datetime | None] = mapped_column()
    decline_reason: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    case: Mapped[Case] = relationship()
    case_person: Mapped[CasePerson | None] = relationship()
