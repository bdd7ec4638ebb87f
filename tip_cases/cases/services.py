"""Case services: opening, editing and closing cases, persons in cases, referrals, tasks, evidence, search.

Every function takes the acting user and `now`, raises CaseError on a refusal the user can read, writes
the case timeline and the audit trail, and leaves the single commit to the caller.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from notifications.services import publish
from screening.engine.index import CandidateIndex
from screening.engine.matching import DEFAULT, Document, Identity, name_feature, prepare
from screening.engine.normalize import name_tokens, ocr_key, parse_partial_date, phonetic_key
from screening.models import Crossing, Flag, Person, PersonAlias, PersonDocument
from tip_cases import audit
from tip_cases.access import can, scope_filter
from tip_cases.cases import htcds
from tip_cases.cases.models import (
    Case,
    CaseEvent,
    CaseLink,
    CaseNote,
    CasePerson,
    CaseReferenceCounter,
    CaseTask,
    CaseTeamMember,
    ClosureRequest,
    Consent,
    Evidence,
    FieldChange,
    PersonMatch,
    Referral,
    SupportPlan,
    TraffickingEvent,
)
from tip_cases.extensions import db
from tip_cases.models import User

log = logging.getLogger("tsela.cases")


class CaseError(ValueError):
    """A refusal the user can read; `field` names the form field at fault when there is one."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class ConflictError(CaseError):
    """Someone saved a newer version first; `changes` lists what they changed (FieldChange rows)."""

    def __init__(self, message: str, changes: list[FieldChange]):
        super().__init__(message)
        self.changes = changes


# --- workflow tables ------------------------------------------------------------------------------

# Closed statuses are reached only through an approved closure request (request_closure/decide_closure).
STATUS_TRANSITIONS: dict[str, set[str]] = {
    "Active": {"FollowUp"},
    "FollowUp": {"Active"},
    "Closed": {"Active"},  # reopening
    "ClosedReferred": {"Active"},
}
STAGE_TRANSITIONS: dict[str, set[str]] = {
    "identification": {"investigation", "closed"},
    "investigation": {"referred_for_prosecution", "identification", "closed"},
    "referred_for_prosecution": {"in_court", "investigation", "closed"},
    "in_court": {"closed", "referred_for_prosecution"},
    "closed": {"investigation"},
}
REFERRAL_TRANSITIONS: dict[str, set[str]] = {
    "sent": {"acknowledged", "accepted", "declined"},
    "acknowledged": {"accepted", "declined"},
    "accepted": {"completed"},
    "declined": set(),
    "completed": set(),
}
ACK_DEADLINE = timedelta(hours=48)
EDITABLE_CASE_FIELDS = ("title", "summary", "priority", "kind")
VICTIM_FIELDS = ("trafficking_status", "status_decided_by", "exploitation_types", "forced_labour_industry",
                 "sex_exploitation_type", "methods_of_control", "recruitment_method", "recruitment_place",
                 "exploitation_place", "relationship_to_trafficker", "age_when_trafficked")
PERPETRATOR_FIELDS = ("perpetrator_role", "role_details", "organisation")
PERSON_CONTEXT_FIELDS = (*VICTIM_FIELDS, *PERPETRATOR_FIELDS, "notes")
ALLOWED_EVIDENCE = {
    ".pdf": "application/pdf", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
    ".txt": "text/plain", ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".mp3": "audio/mpeg", ".mp4": "video/mp4",
}
# Magic numbers checked for the binary types, so a renamed executable is refused.
_MAGIC = {".pdf": [b"%PDF"], ".jpg": [b"\xff\xd8\xff"], ".jpeg": [b"\xff\xd8\xff"], ".png": [b"\x89PNG"],
          ".docx": [b"PK\x03\x04"]}
MAX_EVIDENCE_BYTES = 20 * 1024 * 1024


# --- helpers --------------------------------------------------------------------------------------

def _event(case: Case, actor, kind: str, summary: str, now: datetime, detail: dict | None = None) -> None:
    db.session.add(CaseEvent(case_id=case.id, actor_id=getattr(actor, "id", None), kind=kind,
                             summary=summary[:300], at=now, detail=detail))


def _audit(action: str, object_type: str, object_id: Any, /, **detail) -> None:
    audit.record(action, object_type, object_id, detail=detail or None)


def _value_text(v) -> str | None:
    if v is None or v == "" or v == []:
        return None
    if isinstance(v, list):
        return ", ".join(str(x) for x in v)
    return str(v)


def _check_choice(value, allowed, field_name: str, label: str) -> None:
    if value not in allowed:
        raise CaseError(f"{label}: {value!r} is not an allowed value.", field_name)


def _check_version(obj, object_type: str, expected: int | None) -> None:
    """Refuse a save based on an older version, listing what the newer saves changed."""
    if expected is None:
        return
    try:
        expected = int(expected)
        if not 0 <= expected <= 2**31 - 1:  # beyond the column's range: the database would overflow
            raise ValueError(expected)
    except (TypeError, ValueError):
        # A tampered or truncated form: a domain error naming the field, never a 500.
        raise CaseError("The form's record version is missing or invalid; reload the page and try again.",
                        "version") from None
    if expected == obj.version:
        return
    case_id = obj.id if object_type == "case" else obj.case_id
    changes = db.session.execute(
        select(FieldChange).where(FieldChange.case_id == case_id, FieldChange.object_type == object_type,
                                  FieldChange.object_id == obj.id, FieldChange.version > int(expected))
        .order_by(FieldChange.id)).scalars().all()
    raise ConflictError("This record was changed by someone else after you opened it. "
                        "Your changes were not saved; review theirs and try again.", changes)


def _record_changes(case: Case, obj, object_type: str, changes: dict[str, tuple], actor, now: datetime) -> None:
    version = obj.version + 1  # version_id_col bumps it once at the flush of this transaction
    for name, (old, new) in changes.items():
        db.session.add(FieldChange(case_id=case.id, object_type=object_type, object_id=obj.id, version=version,
                                   field=name, old_value=_value_text(old), new_value=_value_text(new),
                                   actor_id=getattr(actor, "id", None), at=now))


def allocate_reference(kind: str, now: datetime) -> str:
    """The next reference for this kind and year (TIP-2026-0042), unique under concurrent openings.

    The counter row is incremented with UPDATE ... RETURNING, whose row lock makes concurrent
    transactions wait for each other; the first case of a year inserts the row in a savepoint.
    """
    prefix, year = htcds.KIND_PREFIX[kind], now.year
    stmt = (update(CaseReferenceCounter)
            .where(CaseReferenceCounter.prefix == prefix, CaseReferenceCounter.year == year)
            .values(last=CaseReferenceCounter.last + 1).returning(CaseReferenceCounter.last))
    for _attempt in range(5):
        number = db.session.execute(stmt).scalar()
        if number is not None:
            return f"{prefix}-{year}-{number:04d}"
        try:
            with db.session.begin_nested():
                db.session.add(CaseReferenceCounter(prefix=prefix, year=year, last=1))
            return f"{prefix}-{year}-0001"
        except IntegrityError:
            continue  # another transaction created the row first: increment it instead
    raise CaseError("Could not allocate a case reference; please try again.")


# --- cases ----------------------------------------------------------------------------------------

@dataclass
class OpenedCase:
    case: Case
    matches: list[PersonMatch] = field(default_factory=list)


def _role_for_person(person: Person) -> str:
    return "victim" if person.category in ("missing_person", "presumed_victim", "victim") else "perpetrator"


def open_case(actor: User, *, kind: str, title: str, summary: str = "", priority: str = "normal",
              now: datetime, flag_id: int | None = None, team_ids: list[int] | None = None) -> OpenedCase:
    """Open a case; from a flag it also links the flag and its crossing and adds the flag's person."""
    _check_choice(kind, htcds.KINDS, "kind", "Kind")
    _check_choice(priority, htcds.PRIORITIES, "priority", "Priority")
    title = (title or "").strip()
    if not title:
        raise CaseError("A case needs a short title.", "title")
    flag = None
    if flag_id is not None:
        flag = db.session.get(Flag, flag_id)
        if flag is None:
            raise CaseError("That flag does not exist.", "flag")
        if not can(actor, "flag.view", flag):
            raise CaseError("You may not open a case from that flag.", "flag")
    case = Case(reference=allocate_reference(kind, now), kind=kind, title=title[:160], summary=summary or "",
                priority=priority, owner_id=actor.id, created_by_id=actor.id, opened_at=now, updated_at=now)
    db.session.add(case)
    db.session.flush()
    for uid in team_ids or []:
        if uid != actor.id and db.session.get(User, uid) is not None:
            db.session.add(CaseTeamMember(case_id=case.id, user_id=uid, added_at=now))
    _event(case, actor, "case.opened", f"Case {case.reference} opened ({kind})", now,
           {"flag_id": flag_id} if flag_id else None)
    _audit("case.create", "case", case.id, kind=kind, flag_id=flag_id)
    matches: list[PersonMatch] = []
    if flag is not None:
        matches = attach_flag(case, actor, flag, now=now, note=f"Opened from flag {flag.id}")
    publish("case.opened", ref=case.reference, subject_type="case", subject_id=case.id, priority=priority,
            kind=kind, data={"case_id": case.id, "reference": case.reference, "flag_id": flag_id}, now=now)
    log.info("case %s opened by user %s", case.id, actor.id)
    return OpenedCase(case, matches)


def attach_flag(case: Case, actor: User, flag: Flag, *, now: datetime, note: str = "") -> list[PersonMatch]:
    """Link a flag and its crossing to a case and add the flag's person (if not already in it)."""
    linked = db.session.execute(select(CaseLink.id).where(
        CaseLink.case_id == case.id, CaseLink.object_type == "flag", CaseLink.object_id == flag.id)).first()
    if linked:
        raise CaseError(f"Flag {flag.id} is already linked to case {case.reference}.", "flag")
    add_link(case, actor, "flag", flag.id, now=now, note=note or f"Flag {flag.id} attached")
    add_link(case, actor, "crossing", flag.crossing_id, now=now)
    if flag.person_id is None:
        return []
    person = db.session.get(Person, flag.person_id)
    if db.session.execute(select(CasePerson.id).where(CasePerson.case_id == case.id,
                                                      CasePerson.person_id == person.id)).first():
        return []
    cp = CasePerson(case_id=case.id, person_id=person.id, role=_role_for_person(person),
                    added_by_id=actor.id, added_at=now)
    db.session.add(cp)
    db.session.flush()
    _event(case, actor, "person.added", f"{cp.role.capitalize()} {person.display_name} added from the flag",
           now, {"case_person_id": cp.id})
    _audit("case.person_add", "person", person.id, case_id=case.id, role=cp.role)
    return find_person_matches(cp, actor, now=now)


def cases_for_flag(flag_id: int, actor) -> list[Case]:
    """Cases linked to a flag that this actor may open (others stay invisible here)."""
    rows = db.session.execute(select(Case).join(CaseLink, CaseLink.case_id == Case.id).where(
        CaseLink.object_type == "flag", CaseLink.object_id == flag_id).order_by(Case.id)).scalars().all()
    return [c for c in rows if can(actor, "case.view", c)]


def case_by_reference(reference: str) -> Case | None:
    return db.session.execute(select(Case).where(
        func.upper(Case.reference) == (reference or "").strip().upper())).scalar_one_or_none()


def update_case(case: Case, actor: User, data: dict, *, expected_version: int | None, now: datetime) -> dict:
    """Edit the free fields of a case; refused (ConflictError) if someone saved since `expected_version`."""
    _check_version(case, "case", expected_version)
    if "kind" in data:
        _check_choice(data["kind"], htcds.KINDS, "kind", "Kind")
    if "priority" in data:
        _check_choice(data["priority"], htcds.PRIORITIES, "priority", "Priority")
    # The JSON edit reaches here without a form: check types and the form's limits (title is String(160)).
    for name, limit in (("title", 160), ("summary", 5000)):
        if name in data and not isinstance(data[name], str):
            raise CaseError(f"{name.capitalize()} must be text.", name)
        if name in data and len(data[name]) > limit:
            raise CaseError(f"{name.capitalize()} is limited to {limit} characters.", name)
    if "title" in data and not data["title"].strip():
        raise CaseError("A case needs a short title.", "title")
    changes = {k: (getattr(case, k), data[k]) for k in EDITABLE_CASE_FIELDS
               if k in data and data[k] != getattr(case, k)}
    if not changes:
        return {}
    _record_changes(case, case, "case", changes, actor, now)
    for k, (_old, new) in changes.items():
        setattr(case, k, new)
    case.updated_at = now
    _event(case, actor, "case.edited", "Case details edited: " + ", ".join(changes), now, {"fields": list(changes)})
    _audit("case.edit", "case", case.id, fields=list(changes))
    return changes


def change_status(case: Case, actor: User, status: str, *, now: datetime, expected_version: int | None = None,
                  comment: str = "") -> None:
    _check_version(case, "case", expected_version)
    _check_choice(status, htcds.CASE_STATUSES, "status", "Status")
    if status in htcds.CLOSED_STATUSES:
        raise CaseError("Closing a case needs a reason and a manager's approval: request closure instead.", "status")
    if status not in STATUS_TRANSITIONS.get(case.status, set()):
        raise CaseError(f"A case cannot go from {case.status} to {status}.", "status")
    if case.is_closed and not can(actor, "case.approve"):
        raise CaseError("Only a manager can reopen a closed case.", "status")
    old = case.status
    _record_changes(case, case, "case", {"status": (old, status)}, actor, now)
    case.status = status
    if case.is_closed is False and old in htcds.CLOSED_STATUSES:
        case.closed_at = None
        if case.stage == "closed":
            _record_changes(case, case, "case", {"stage": ("closed", "investigation")}, actor, now)
            case.stage = "investigation"
    case.updated_at = now
    _event(case, actor, "case.status_changed", f"Status {old} → {status}" + (f": {comment}" if comment else ""),
           now, {"from": old, "to": status})
    _audit("case.status", "case", case.id, old=old, new=status)
    publish("case.status_changed", ref=case.reference, subject_type="case", subject_id=case.id, kind=case.kind,
            priority=case.priority, data={"case_id": case.id, "from": old, "to": status}, now=now)


def change_stage(case: Case, actor: User, stage: str, *, now: datetime, expected_version: int | None = None) -> None:
    _check_version(case, "case", expected_version)
    _check_choice(stage, htcds.STAGES, "stage", "Stage")
    if stage not in STAGE_TRANSITIONS.get(case.stage, set()):
        raise CaseError(f"A case cannot go from stage {htcds.STAGE_LABELS[case.stage]} to "
                        f"{htcds.STAGE_LABELS[stage]}.", "stage")
    if stage == "closed" and not case.is_closed:
        raise CaseError("The stage becomes Closed when the case's closure is approved.", "stage")
    old = case.stage
    _record_changes(case, case, "case", {"stage": (old, stage)}, actor, now)
    case.stage = stage
    case.updated_at = now
    _event(case, actor, "case.stage_changed", f"Stage {htcds.STAGE_LABELS[old]} → {htcds.STAGE_LABELS[stage]}",
           now, {"from": old, "to": stage})
    _audit("case.stage", "case", case.id, old=old, new=stage)


def pending_closure(case: Case) -> ClosureRequest | None:
    return db.session.execute(select(ClosureRequest).where(
        ClosureRequest.case_id == case.id, ClosureRequest.decision == "pending")).scalars().first()


def request_closure(case: Case, actor: User, *, target_status: str, reason: str, now: datetime) -> ClosureRequest:
    if target_status not in htcds.CLOSED_STATUSES:
        raise CaseError("Choose Closed or Closed (referred).", "target_status")
    if case.is_closed:
        raise CaseError("The case is already closed.", "target_status")
    if not (reason or "").strip():
        raise CaseError("Give the reason for closing the case.", "reason")
    if pending_closure(case) is not None:
        raise CaseError("A closure request is already waiting for a manager.", "reason")
    req = ClosureRequest(case_id=case.id, target_status=target_status, reason=reason.strip(),
                         requested_by_id=actor.id, requested_at=now)
    db.session.add(req)
    db.session.flush()
    _event(case, actor, "closure.requested", f"Closure requested ({target_status}): {reason.strip()}", now,
           {"request_id": req.id})
    _audit("case.closure_request", "case", case.id, request_id=req.id)
    publish("case.closure_requested", ref=case.reference, subject_type="case", subject_id=case.id,
            kind=case.kind, priority=case.priority, data={"case_id": case.id, "request_id": req.id}, now=now)
    return req


def decide_closure(req: ClosureRequest, actor: User, *, approve: bool, comment: str, now: datetime) -> None:
    """A manager approves (the case closes with the requested reason) or rejects with a comment."""
    if not can(actor, "case.approve"):
        raise CaseError("Only a manager can decide a closure request.")
    if req.decision != "pending":
        raise CaseError("This closure request has already been decided.")
    if not approve and not (comment or "").strip():
        raise CaseError("Say why the closure is rejected.", "comment")
    case = req.case
    req.decision = "approved" if approve else "rejected"
    req.decided_by_id, req.decided_at, req.comment = actor.id, now, (comment or "").strip() or None
    if approve:
        old_status, old_stage = case.status, case.stage
        changes = {"status": (old_status, req.target_status), "closure_reason": (case.closure_reason, req.reason)}
        if old_stage != "closed":
            changes["stage"] = (old_stage, "closed")
        _record_changes(case, case, "case", changes, actor, now)
        case.status, case.stage, case.closure_reason, case.closed_at = req.target_status, "closed", req.reason, now
        case.updated_at = now
        _event(case, actor, "closure.approved", f"Closure approved: status {old_status} → {req.target_status}"
               + (f" ({req.comment})" if req.comment else ""), now, {"request_id": req.id})
        publish("case.status_changed", ref=case.reference, subject_type="case", subject_id=case.id,
                kind=case.kind, priority=case.priority,
                data={"case_id": case.id, "from": old_status, "to": req.target_status}, now=now)
    else:
        _event(case, actor, "closure.rejected", f"Closure rejected: {req.comment}", now, {"request_id": req.id})
    _audit("case.approve", "case", case.id, request_id=req.id, decision=req.decision)


def set_team(case: Case, actor: User, user_ids: list[int], *, now: datetime) -> None:
    wanted = {u for u in user_ids if u != case.owner_id}
    current = {m.user_id for m in case.team}
    for m in list(case.team):
        if m.user_id not in wanted:
            case.team.remove(m)
    for uid in wanted - current:
        user = db.session.get(User, uid)
        if user is None or user.role not in ("investigator", "manager"):
            raise CaseError("Team members must be investigators or managers.", "team")
        case.team.append(CaseTeamMember(user_id=uid, added_at=now))
    if wanted != current:
        names = db.session.execute(select(User.username).where(User.id.in_(wanted))).scalars().all()
        _event(case, actor, "case.team", "Team set to: " + (", ".join(sorted(names)) or "owner only"), now,
               {"added": sorted(wanted - current), "removed": sorted(current - wanted)})
        _audit("case.team", "case", case.id, added=sorted(wanted - current), removed=sorted(current - wanted))


# --- persons in a case ----------------------------------------------------------------------------

def _identity(person: Person, key) -> Identity:
    return Identity(id=key, surname=person.surname or "", given_names=person.given_names or "",
                    aliases=[(a.surname, a.given_names) for a in person.aliases], dob=person.dob,
                    sex=person.sex, nationality=person.nationality,
                    documents=[Document(d.type, d.number, d.country) for d in person.documents])


def _clean_context(role: str, data: dict) -> dict:
    """Validate HTCDS picklists; fields that do not belong to the role are dropped."""
    out: dict[str, Any] = {}
    pick = {"trafficking_status": htcds.TRAFFICKING_STATUSES, "status_decided_by": htcds.DECISION_ORGS,
            "forced_labour_industry": list(htcds.ISIC_SECTIONS), "sex_exploitation_type": htcds.SEX_EXPLOITATION_TYPES,
            "recruitment_method": htcds.RECRUITMENT_METHODS, "relationship_to_trafficker": htcds.RELATIONSHIPS,
            "perpetrator_role": htcds.PERPETRATOR_ROLES}
    multi = {"exploitation_types": htcds.EXPLOITATION_TYPES, "methods_of_control": htcds.METHODS_OF_CONTROL}
    fields = {"victim": VICTIM_FIELDS, "perpetrator": PERPETRATOR_FIELDS}.get(role, ())
    for k in (*fields, "notes"):
        if k not in data:
            continue
        v = data[k]
        if v in ("", None):
            out[k] = [] if k in multi else None
        elif k in pick:
            _check_choice(v, pick[k], k, k.replace("_", " ").capitalize())
            out[k] = v
        elif k in multi:
            for item in v:
                _check_choice(item, multi[k], k, k.replace("_", " ").capitalize())
            out[k] = list(v)
        elif k == "age_when_trafficked":
            try:
                age = int(v)
            except (TypeError, ValueError):
                raise CaseError("Age when trafficked must be a whole number of years.", k) from None
            if not 0 <= age <= 120:
                raise CaseError("Age when trafficked must be between 0 and 120.", k)
            out[k] = age
        else:
            out[k] = str(v).strip()
    if role == "victim" and out.get("trafficking_status") and not out.get("status_decided_by") \
            and "status_decided_by" in data:
        raise CaseError("Say which organisation decided the trafficking status.", "status_decided_by")
    return out


def add_person(case: Case, actor: User, *, role: str, surname: str, given_names: str = "",
               date_of_birth: str = "", sex: str | None = None, nationality: str | None = None,
               aliases: list[tuple[str, str]] | None = None, documents: list[tuple[str, str, str]] | None = None,
               context: dict | None = None, person_id: int | None = None, screen_at_borders: bool = False,
               now: datetime) -> tuple[CasePerson, list[PersonMatch]]:
    """Add a person (new, or an existing person record) to the case, then match them against other cases."""
    _check_choice(role, htcds.PERSON_ROLES, "role", "Role")
    context = _clean_context(role, context or {})
    if person_id is not None:
        person = db.session.get(Person, person_id)
        if person is None:
            raise CaseError("That person record does not exist.", "person_id")
    else:
        if not (surname or "").strip() and not (given_names or "").strip():
            raise CaseError("Give at least a surname or given names.", "surname")
        dob = None
        if (date_of_birth or "").strip():
            try:
                dob = parse_partial_date(date_of_birth)
            except ValueError as exc:
                raise CaseError(f"Date of birth: {exc}", "date_of_birth") from None
        sex = (sex or "").strip().upper()[:1] or None
        if sex not in (None, "M", "F", "X"):
            raise CaseError("Sex must be M, F or X.", "sex")
        from screening import services as screening

        category = {"victim": "victim", "perpetrator": "suspect"}.get(role, "other")
        alert_kind = {"victim": "protective", "perpetrator": "suspect"}.get(role, "information")
        action = ("Protective: do not alert companions; call the case owner" if role == "victim"
                  else "Hold for questioning; call the case owner")
        data = screening.PersonData(
            surname=surname or "", given_names=given_names or "", sex=sex, dob=dob,
            nationality=(nationality or "").strip().upper() or None, category=category, alert_kind=alert_kind,
            discreet=role == "victim", screening_active=bool(screen_at_borders), source="case",
            alert_reason=f"Party to case {case.reference}", officer_action=action if screen_at_borders else "",
            aliases=[(a or "", b or "") for a, b in aliases or []],
            documents=[((t or None), n, (c or "").strip().upper() or None) for t, n, c in documents or []
                       if (n or "").strip()])
        try:
            person = screening.create_person(data, actor=actor, now=now)
        except screening.ScreeningError as exc:
            raise CaseError(str(exc), getattr(exc, "field", None)) from None
    if db.session.execute(select(CasePerson.id).where(CasePerson.case_id == case.id,
                                                      CasePerson.person_id == person.id,
                                                      CasePerson.role == role)).first():
        raise CaseError("This person is already in the case with that role.", "role")
    cp = CasePerson(case_id=case.id, person_id=person.id, role=role, added_by_id=actor.id, added_at=now, **context)
    db.session.add(cp)
    db.session.flush()
    _event(case, actor, "person.added", f"{role.capitalize()} {person.display_name} added", now,
           {"case_person_id": cp.id, "person_id": person.id})
    _audit("case.person_add", "person", person.id, case_id=case.id, case_person_id=cp.id, role=role)
    matches = find_person_matches(cp, actor, now=now)
    return cp, matches


def update_person_context(cp: CasePerson, actor: User, data: dict, *, expected_version: int | None,
                          now: datetime) -> dict:
    """Edit the HTCDS context of a person in a case; refused if someone saved a newer version."""
    _check_version(cp, "case_person", expected_version)
    clean = _clean_context(cp.role, data)
    changes = {k: (getattr(cp, k), v) for k, v in clean.items() if (getattr(cp, k) or None) != (v or None)}
    if not changes:
        return {}
    _record_changes(cp.case, cp, "case_person", changes, actor, now)
    for k, (_o, v) in changes.items():
        setattr(cp, k, v)
    _event(cp.case, actor, "person.edited", f"{cp.role.capitalize()} {cp.person.display_name}: "
           + ", ".join(k.replace("_", " ") for k in changes) + " changed", now, {"case_person_id": cp.id})
    _audit("case.person_edit", "person", cp.person_id, case_id=cp.case_id, fields=list(changes))
    return changes


def _blocking_keys(names: list[tuple[str, str]], documents: list[str]) -> set[str]:
    keys = {"n:" + phonetic_key(t) for sur, given in names for t in name_tokens(f"{sur} {given}") if len(t) > 1}
    return keys | {"d:" + ocr_key(d) for d in documents if len(ocr_key(d)) >= DEFAULT.min_document_length}


def _match_pool(cp: CasePerson) -> tuple[list[CasePerson], list[Person]]:
    """Persons in other cases and active alert-list persons sharing a name key or a document with `cp`.

    A cheap pass over plain columns (no ORM objects) keeps matching fast as the number of cases grows;
    the matcher's own index (which blocks on the same keys) then scores the few that remain.
    """
    me = cp.person
    probe_keys = _blocking_keys([(me.surname, me.given_names), *((a.surname, a.given_names) for a in me.aliases)],
                                [d.number for d in me.documents])
    in_other_cases = select(CasePerson.person_id).where(CasePerson.case_id != cp.case_id)
    alert_ids = select(Person.id).where(Person.screening_active.is_(True), Person.id != me.id,
                                        ~Person.id.in_(select(CasePerson.person_id)))
    pool = in_other_cases.union(alert_ids).subquery()
    names: dict[int, list[tuple[str, str]]] = {}
    docs: dict[int, list[str]] = {}
    for pid, sur, given in db.session.execute(select(Person.id, Person.surname, Person.given_names)
                                              .where(Person.id.in_(select(pool)))):
        names.setdefault(pid, []).append((sur or "", given or ""))
    for pid, sur, given in db.session.execute(select(PersonAlias.person_id, PersonAlias.surname,
                                                     PersonAlias.given_names)
                                              .where(PersonAlias.person_id.in_(select(pool)))):
        names.setdefault(pid, []).append((sur or "", given or ""))
    for pid, number in db.session.execute(select(PersonDocument.person_id, PersonDocument.number)
                                          .where(PersonDocument.person_id.in_(select(pool)))):
        docs.setdefault(pid, []).append(number)
    blocked = {pid for pid in names.keys() | docs.keys()
               if pid == me.id or _blocking_keys(names.get(pid, []), docs.get(pid, [])) & probe_keys}
    if not blocked:
        return [], []
    others = db.session.execute(
        select(CasePerson).where(CasePerson.case_id != cp.case_id, CasePerson.person_id.in_(blocked))
        .options(selectinload(CasePerson.person).selectinload(Person.aliases),
                 selectinload(CasePerson.person).selectinload(Person.documents))).scalars().all()
    alerts = db.session.execute(
        select(Person).where(Person.id.in_(blocked), Person.id.in_(alert_ids))
        .options(selectinload(Person.aliases), selectinload(Person.documents))).scalars().all()
    return others, alerts


def find_person_matches(cp: CasePerson, actor, *, now: datetime, threshold: float | None = None) -> list[PersonMatch]:
    """Match a person in a case against persons in every other case and active alert-list persons.

    Each hit is stored ("also in case X"), written on the other case's timeline (reference only) and
    published so the other case's owner is told.
    """
    threshold = DEFAULT.flag_threshold if threshold is None else threshold
    others, alerts = _match_pool(cp)
    probe = _identity(cp.person, ("probe", cp.id))
    index = CandidateIndex.build([_identity(o.person, ("cp", o.id)) for o in others]
                                 + [_identity(p, ("poi", p.id)) for p in alerts])
    hits: dict[tuple, tuple[float, list[str]]] = {}
    for key, result in index.screen(probe, threshold=threshold, limit=50):
        hits[key] = (result.score, result.explanations[:4])
    for o in others:  # the very same person record in another case is a certain match
        if o.person_id == cp.person_id:
            hits[("cp", o.id)] = (1.0, ["Same person record"])
    by_id = {o.id: o for o in others}
    out = []
    for (kind, ident), (score, explanations) in sorted(hits.items(), key=lambda h: -h[1][0]):
        m = PersonMatch(case_person_id=cp.id, score=round(score, 4), explanations=explanations, created_at=now)
        if kind == "cp":
            m.other_case_person_id = ident
            other = by_id[ident]
            other_case = other.case
            _event(other_case, actor, "person.match",
                   f"A person added to case {cp.case.reference} may be {other.role} "
                   f"{other.person.display_name} of this case (score {score:.2f})", now,
                   {"case_person_id": other.id, "from_case_id": cp.case_id})
            publish("case.person_match", ref=other_case.reference, subject_type="case", subject_id=other_case.id,
                    kind=other_case.kind, priority="high",
                    data={"case_id": other_case.id, "owner_id": other_case.owner_id,
                          "matched_case_id": cp.case_id, "case_person_id": other.id, "score": round(score, 4)},
                    now=now)
        else:
            m.other_person_id = ident
        db.session.add(m)
        out.append(m)
    if out:
        _audit("case.person_match", "case_person", cp.id, matches=len(out))
    return out


def matches_for_case(case: Case) -> list[PersonMatch]:
    """Every "also in" match touching this case, from either side."""
    ids = select(CasePerson.id).where(CasePerson.case_id == case.id)
    return db.session.execute(select(PersonMatch).where(
        or_(PersonMatch.case_person_id.in_(ids), PersonMatch.other_case_person_id.in_(ids)))
        .order_by(PersonMatch.score.desc())).scalars().all()


# --- HTCDS records: events, support plans, consent, notes -----------------------------------------

def _person_in_case(case: Case, case_person_id: int | None) -> CasePerson | None:
    if case_person_id in (None, "", 0):
        return None
    cp = db.session.get(CasePerson, int(case_person_id))
    if cp is None or cp.case_id != case.id:
        raise CaseError("That person is not in this case.", "case_person_id")
    return cp


def add_trafficking_event(case: Case, actor: User, *, type: str, event_date: date | None, place: str,  # noqa: A002
                          country: str = "", description: str = "", case_person_id: int | None = None,
                          now: datetime) -> TraffickingEvent:
    _check_choice(type, htcds.HTE_TYPES, "type", "Type")
    cp = _person_in_case(case, case_person_id)
    ev = TraffickingEvent(case_id=case.id, case_person_id=cp.id if cp else None, type=type, event_date=event_date,
                          place=(place or "").strip() or None, country=(country or "").strip().upper()[:2] or None,
                          description=(description or "").strip() or None, created_by_id=actor.id, created_at=now)
    db.session.add(ev)
    db.session.flush()
    _event(case, actor, "hte.added", f"{type} event recorded"
           + (f" at {ev.place}" if ev.place else "") + (f" on {event_date.isoformat()}" if event_date else ""),
           now, {"hte_id": ev.id})
    _audit("case.hte_add", "case", case.id, hte_id=ev.id)
    return ev


def add_support_plan(case: Case, actor: User, *, type: str, objectives: str, action_plan: str = "",  # noqa: A002
                     planned_end: date | None = None, case_person_id: int | None = None,
                     now: datetime) -> SupportPlan:
    _check_choice(type, htcds.SUPPORT_TYPES, "type", "Support type")
    if not (objectives or "").strip():
        raise CaseError("State the objectives of the support plan.", "objectives")
    cp = _person_in_case(case, case_person_id)
    plan = SupportPlan(case_id=case.id, case_person_id=cp.id if cp else None, type=type,
                       objectives=objectives.strip(), action_plan=(action_plan or "").strip() or None,
                       planned_end=planned_end, created_by_id=actor.id, created_at=now)
    db.session.add(plan)
    db.session.flush()
    _event(case, actor, "support.added", f"Support plan ({type}) added", now, {"support_plan_id": plan.id})
    _audit("case.support_add", "case", case.id, support_plan_id=plan.id)
    return plan


def record_consent(case: Case, actor: User, *, case_person_id: int, scopes: list[str], share_with: str = "",
                   retention: str = "", informed_of_withdrawal: bool = False, given_by: str = "self",
                   given_by_name: str = "", given_at: datetime | None = None, now: datetime) -> Consent:
    cp = _person_in_case(case, case_person_id)
    if cp is None:
        raise CaseError("Choose whose consent this is.", "case_person_id")
    if not scopes:
        raise CaseError("Tick at least one thing consented to.", "scopes")
    for s in scopes:
        _check_choice(s, htcds.CONSENT_SCOPES, "scopes", "Consent")
    _check_choice(given_by, htcds.CONSENT_GIVERS, "given_by", "Given by")
    if "share_identifying" in scopes and not (share_with or "").strip():
        raise CaseError("Name the partners identifying data may be shared with.", "share_with")
    consent = Consent(case_id=case.id, case_person_id=cp.id, scopes=list(scopes),
                      share_with=(share_with or "").strip() or None, retention=(retention or "").strip() or None,
                      informed_of_withdrawal=bool(informed_of_withdrawal), given_by=given_by,
                      given_by_name=(given_by_name or "").strip() or None, given_at=given_at or now,
                      recorded_by_id=actor.id)
    db.session.add(consent)
    db.session.flush()
    _event(case, actor, "consent.recorded", f"Consent recorded for {cp.person.display_name}: "
           + ", ".join(scopes), now, {"consent_id": consent.id, "case_person_id": cp.id})
    _audit("case.consent", "person", cp.person_id, case_id=case.id, consent_id=consent.id, scopes=list(scopes))
    return consent


def withdraw_consent(consent: Consent, actor: User, *, note: str, now: datetime) -> None:
    if consent.withdrawn_at is not None:
        raise CaseError("This consent was already withdrawn.")
    consent.withdrawn_at, consent.withdrawn_recorded_by_id = now, actor.id
    consent.withdrawal_note = (note or "").strip() or None
    case = db.session.get(Case, consent.case_id)
    _event(case, actor, "consent.withdrawn", f"Consent withdrawn by {consent.case_person.person.display_name}", now,
           {"consent_id": consent.id})
    _audit("case.consent_withdraw", "person", consent.case_person.person_id, case_id=case.id, consent_id=consent.id)


def active_consent(cp: CasePerson, scope: str) -> Consent | None:
    """The latest unwithdrawn consent of this person covering `scope`."""
    consents = db.session.execute(select(Consent).where(
        Consent.case_person_id == cp.id, Consent.withdrawn_at.is_(None)).order_by(Consent.id.desc())).scalars()
    return next((c for c in consents if scope in (c.scopes or [])), None)


def add_note(case: Case, actor: User, *, body: str, now: datetime) -> CaseNote:
    if not (body or "").strip():
        raise CaseError("The note is empty.", "body")
    note = CaseNote(case_id=case.id, author_id=actor.id, at=now, body=body.strip())
    db.session.add(note)
    db.session.flush()
    _event(case, actor, "note.added", "Note added", now, {"note_id": note.id})
    _audit("case.note", "case", case.id, note_id=note.id)
    return note


# --- tasks ----------------------------------------------------------------------------------------

def add_task(case: Case, actor: User, *, title: str, assignee_id: int | None, due_on: date | None,
             now: datetime) -> CaseTask:
    if not (title or "").strip():
        raise CaseError("Describe the task.", "title")
    assignee = None
    if assignee_id:
        assignee = db.session.get(User, int(assignee_id))
        if assignee is None or assignee.id not in case.team_user_ids:
            raise CaseError("Assign the task to someone on the case team.", "assignee_id")
    task = CaseTask(case_id=case.id, title=title.strip()[:200], assignee_id=assignee.id if assignee else None,
                    due_on=due_on, created_by_id=actor.id, created_at=now)
    db.session.add(task)
    db.session.flush()
    _event(case, actor, "task.added", f"Task “{task.title}” assigned to "
           f"{assignee.display_name if assignee else 'nobody'}" + (f", due {due_on.isoformat()}" if due_on else ""),
           now, {"task_id": task.id, "assignee_id": task.assignee_id})
    _audit("case.task_add", "case", case.id, task_id=task.id, assignee_id=task.assignee_id)
    return task


def complete_task(task: CaseTask, actor: User, *, now: datetime) -> None:
    if task.completed_at is not None:
        raise CaseError("This task is already done.")
    task.completed_at, task.completed_by_id = now, actor.id
    _event(task.case, actor, "task.completed", f"Task “{task.title}” completed", now, {"task_id": task.id})
    _audit("case.task_complete", "case", task.case_id, task_id=task.id)


def overdue_tasks(now: datetime) -> list[CaseTask]:
    """Open tasks past their due date (in Africa/Maseru days), for the notifications scheduler."""
    from zoneinfo import ZoneInfo

    today = now.astimezone(ZoneInfo("Africa/Maseru")).date()
    return db.session.execute(select(CaseTask).join(Case).where(
        CaseTask.completed_at.is_(None), CaseTask.due_on < today, Case.status.in_(("Active", "FollowUp")))
        .order_by(CaseTask.due_on, CaseTask.id)).scalars().all()


# --- referrals ------------------------------------------------------------------------------------

def make_referral(case: Case, actor: User, *, organisation: str, organisation_type: str | None, reason: str,
                  details: str = "", referred_on: date, case_person_id: int | None = None,
                  includes_identifying_data: bool = False, agency_id: int | None = None,
                  primary_case_worker: str = "", override_reason: str = "",
                  ack_within: timedelta = ACK_DEADLINE, now: datetime) -> Referral:
    """Refer the case (or one person in it) to a partner; a victim's identifying data needs consent or an override."""
    if not (organisation or "").strip():
        raise CaseError("Name the organisation referred to.", "organisation")
    if organisation_type:
        _check_choice(organisation_type, htcds.ORG_TYPES, "organisation_type", "Organisation type")
    _check_choice(reason, htcds.REFERRAL_REASONS, "reason", "Reason")
    cp = _person_in_case(case, case_person_id)
    consent = None
    override_by = None
    if includes_identifying_data and cp is not None and cp.role == "victim":
        consent = active_consent(cp, "share_identifying")
        if consent is None:
            if not (override_reason or "").strip():
                raise CaseError("This victim has not consented to sharing identifying data: record their "
                                "consent first, or have a manager record an override with a reason.",
                                "includes_identifying_data")
            if not can(actor, "case.approve"):
                raise CaseError("Only a manager can override a missing consent.", "override_reason")
            override_by = actor.id
    ref = Referral(case_id=case.id, case_person_id=cp.id if cp else None, agency_id=agency_id,
                   organisation=organisation.strip()[:160], organisation_type=organisation_type or None,
                   primary_case_worker=(primary_case_worker or "").strip() or None, reason=reason,
                   details=(details or "").strip() or None, referred_on=referred_on,
                   includes_identifying_data=bool(includes_identifying_data),
                   consent_id=consent.id if consent else None, override_by_id=override_by,
                   override_reason=(override_reason or "").strip() or None if override_by else None,
                   status="sent", ack_due_at=now + ack_within, created_by_id=actor.id, created_at=now)
    db.session.add(ref)
    db.session.flush()
    who = f" ({cp.role} {cp.person.display_name})" if cp else ""
    basis = " with consent" if consent else (" under a manager's override" if override_by else "")
    _event(case, actor, "referral.made", f"Referred to {ref.organisation}{who}{basis}; acknowledgement due "
           f"{ref.ack_due_at:%Y-%m-%d %H:%M} UTC", now, {"referral_id": ref.id})
    _audit("case.referral", "case", case.id, referral_id=ref.id, case_person_id=ref.case_person_id,
           identifying=ref.includes_identifying_data, consent_id=ref.consent_id, override=bool(override_by))
    # Field names follow notifications.rules: identifying fields leave only where the agency's profile
    # allows them and `consent` (or `consent_override`) is set.
    data = {"case_id": case.id, "referral_id": ref.id, "agency_id": agency_id, "organisation": ref.organisation,
            "reason": reason, "status": ref.status, "due": ref.ack_due_at.isoformat(),
            "consent": ref.consent_id is not None, "consent_override": ref.override_by_id}
    if ref.includes_identifying_data and cp is not None:
        person = cp.person
        data.update(person_name=person.display_name, date_of_birth=person.dob_text or None, sex=person.sex,
                    nationality=person.nationality,
                    document_number=person.documents[0].number if person.documents else None)
    publish("referral.made", ref=case.reference, subject_type="referral", subject_id=ref.id, kind=case.kind,
            priority=case.priority, data=data, now=now)
    return ref


def update_referral(ref: Referral, actor: User, *, status: str, reason: str = "", now: datetime) -> None:
    _check_choice(status, htcds.REFERRAL_STATUSES, "status", "Referral status")
    if status not in REFERRAL_TRANSITIONS[ref.status]:
        raise CaseError(f"A referral cannot go from {ref.status} to {status}.", "status")
    if status == "declined" and not (reason or "").strip():
        raise CaseError("Record the reason the partner declined.", "reason")
    old = ref.status
    ref.status = status
    if ref.acknowledged_at is None:
        ref.acknowledged_at = now  # any answer from the partner acknowledges the referral
    if status in ("accepted", "declined", "completed"):
        ref.responded_at = now
    if status == "declined":
        ref.decline_reason = reason.strip()
    _event(ref.case, actor, "referral.status", f"Referral to {ref.organisation}: {old} → {status}"
           + (f" ({reason.strip()})" if status == "declined" else ""), now, {"referral_id": ref.id})
    _audit("case.referral_status", "case", ref.case_id, referral_id=ref.id, old=old, new=status)


def acknowledge_referral(referral_id: int, *, by: str, now: datetime) -> bool:
    """A partner acknowledged the referral (signed link or partner API); False if unknown or already done."""
    ref = db.session.get(Referral, referral_id)
    if ref is None or ref.acknowledged_at is not None:
        return False
    ref.acknowledged_at = now
    if ref.status == "sent":
        ref.status = "acknowledged"
    _event(ref.case, None, "referral.status", f"Referral to {ref.organisation} acknowledged by the partner ({by})",
           now, {"referral_id": ref.id})
    _audit("case.referral_ack", "case", ref.case_id, referral_id=ref.id)
    return True


def idle_cases(now: datetime, days: int) -> list[Case]:
    """Open cases with no activity for `days` days, for the notifications scheduler."""
    return db.session.execute(select(Case).where(Case.status.in_(("Active", "FollowUp")),
                                                  Case.updated_at < now - timedelta(days=days))
                              .order_by(Case.id).limit(500)).scalars().all()


def unacknowledged_referrals(now: datetime) -> list[Referral]:
    """Referrals still 'sent' past their acknowledgement deadline, for the notifications scheduler."""
    return db.session.execute(select(Referral).where(Referral.status == "sent", Referral.ack_due_at < now)
                              .order_by(Referral.ack_due_at)).scalars().all()


# --- evidence -------------------------------------------------------------------------------------

def evidence_dir(app) -> Path:
    path = Path(app.config.get("EVIDENCE_DIR") or Path(app.instance_path) / "evidence")
    path.mkdir(parents=True, exist_ok=True)
    return path


def store_evidence(case: Case, actor: User, *, filename: str, stream, directory: Path, description: str = "",
                   now: datetime, max_bytes: int = MAX_EVIDENCE_BYTES) -> Evidence:
    """Check the type (extension and magic number) and size, then store under a random name."""
    name = Path(filename or "").name.strip()
    ext = Path(name).suffix.lower()
    if not name or ext not in ALLOWED_EVIDENCE:
        raise CaseError("Allowed file types: " + ", ".join(sorted(ALLOWED_EVIDENCE)) + ".", "file")
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise CaseError(f"The file is larger than {max_bytes // (1024 * 1024)} MB.", "file")
    if not data:
        raise CaseError("The file is empty.", "file")
    if ext in _MAGIC and not any(data.startswith(m) for m in _MAGIC[ext]):
        raise CaseError(f"The file's content is not a real {ext} file.", "file")
    stored = secrets.token_hex(16)
    (directory / stored).write_bytes(data)
    ev = Evidence(case_id=case.id, original_name=name[:200], stored_name=stored, content_type=ALLOWED_EVIDENCE[ext],
                  size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                  description=(description or "").strip()[:300] or None, uploaded_by_id=actor.id, uploaded_at=now)
    db.session.add(ev)
    db.session.flush()
    _event(case, actor, "evidence.added", f"Evidence file added ({ev.content_type}, {ev.size} bytes)", now,
           {"evidence_id": ev.id})
    _audit("case.evidence_add", "evidence", ev.id, case_id=case.id, sha256=ev.sha256)
    return ev


# --- links ----------------------------------------------------------------------------------------

LINK_TYPES = ("crossing", "flag", "traveller")


def add_link(case: Case, actor: User, object_type: str, object_id: int, *, now: datetime, note: str = "") -> CaseLink:
    _check_choice(object_type, LINK_TYPES, "object_type", "Link type")
    model = {"crossing": Crossing, "flag": Flag}.get(object_type)
    if model is not None and db.session.get(model, object_id) is None:
        raise CaseError(f"No {object_type} {object_id}.", "object_id")
    existing = db.session.execute(select(CaseLink).where(CaseLink.case_id == case.id, CaseLink.object_type ==
                                                         object_type, CaseLink.object_id == object_id)).scalar()
    if existing:
        return existing
    link = CaseLink(case_id=case.id, object_type=object_type, object_id=object_id, note=note or None,
                    created_by_id=actor.id, created_at=now)
    db.session.add(link)
    db.session.flush()
    _event(case, actor, "link.added", f"Linked {object_type} {object_id}", now, {"link_id": link.id})
    _audit("case.link", "case", case.id, object_type=object_type, object_id=object_id)
    return link


def flag_prefill(flag_id: int) -> dict | None:
    """What "open a case from this flag" fills in: title, kind and the flag's person."""
    flag = db.session.get(Flag, flag_id)
    if flag is None:
        return None
    person = flag.person
    kind = "trafficking"
    if person is not None and person.category == "smuggler":
        kind = "smuggling"
    return {"flag": flag, "person": person, "crossing": flag.crossing, "kind": kind,
            "title": f"Flag {flag.id} at {flag.border_post.name if flag.border_post else 'border'}"}


def flags_without_case(actor, limit: int = 10) -> list[Flag]:
    """Confirmed or escalated flags no case links to yet: where "open a case from this flag" starts."""
    linked = select(CaseLink.object_id).where(CaseLink.object_type == "flag")
    return db.session.execute(select(Flag).where(Flag.status.in_(("confirmed", "escalated")), ~Flag.id.in_(linked),
                                                 scope_filter(actor, "flag.view", Flag))
                              .order_by(Flag.created_at.desc()).limit(limit)).scalars().all()


# --- search ---------------------------------------------------------------------------------------

@dataclass
class SearchFilters:
    q: str = ""  # reference or person name
    status: str = ""
    stage: str = ""
    kind: str = ""
    owner_id: int | None = None
    opened_from: date | None = None
    opened_to: date | None = None
    saved: str = ""  # mine / overdue / awaiting


def _name_hits(q: str, threshold: float = 0.6) -> dict[int, float]:
    """Case ids whose persons' names (or aliases) fuzzily match the query, with the best name score.

    Blocks first on the phonetic key of any name token (as the screening index does), so only
    persons sharing a key are scored by the matcher's name feature.
    """
    tokens = q.split()
    keys = {phonetic_key(t) for t in name_tokens(q) if len(t) > 1}
    if not tokens or not keys:
        return {}
    names: dict[int, list[tuple[str, str]]] = {}
    rows = db.session.execute(select(Person.id, Person.surname, Person.given_names)
                              .where(Person.id.in_(select(CasePerson.person_id)))).all()
    alias_rows = db.session.execute(select(PersonAlias.person_id, PersonAlias.surname, PersonAlias.given_names)
                                    .where(PersonAlias.person_id.in_(select(CasePerson.person_id)))).all()
    for pid, sur, given in [*rows, *alias_rows]:
        names.setdefault(pid, []).append((sur or "", given or ""))
    blocked = [pid for pid, variants in names.items()
               if any(phonetic_key(t) in keys for sur, given in variants for t in name_tokens(f"{sur} {given}"))]
    if not blocked:
        return {}
    probes = [prepare(Identity(id=0, surname="", given_names=q)),
              prepare(Identity(id=0, surname=tokens[-1], given_names=" ".join(tokens[:-1]))),
              prepare(Identity(id=0, surname=tokens[0], given_names=" ".join(tokens[1:])))]
    best_by_person: dict[int, float] = {}
    for pid in blocked:
        first, *aliases = names[pid]
        cand = prepare(Identity(id=pid, surname=first[0], given_names=first[1], aliases=aliases))
        best = max((name_feature(p, cand, DEFAULT).score or 0.0) for p in probes)
        if best >= threshold:
            best_by_person[pid] = best
    out: dict[int, float] = {}
    for case_id, pid in db.session.execute(select(CasePerson.case_id, CasePerson.person_id)
                                           .where(CasePerson.person_id.in_(best_by_person))):
        out[case_id] = max(out.get(case_id, 0.0), best_by_person[pid])
    return out


def search_cases(actor: User, f: SearchFilters, *, now: datetime):
    """A select() of cases matching the filters; every role with case.search sees every case's existence."""
    stmt = select(Case)
    conds = []
    name_scores: dict[int, float] = {}
    q = (f.q or "").strip()
    if q:
        ref_cond = func.upper(Case.reference).like(f"%{q.upper()}%")
        name_scores = _name_hits(q)
        conds.append(or_(ref_cond, Case.id.in_(name_scores)) if name_scores else ref_cond)
    if f.status:
        conds.append(Case.status == f.status)
    if f.stage:
        conds.append(Case.stage == f.stage)
    if f.kind:
        conds.append(Case.kind == f.kind)
    if f.owner_id:
        conds.append(Case.owner_id == f.owner_id)
    if f.opened_from:
        conds.append(Case.opened_at >= datetime.combine(f.opened_from, datetime.min.time(), tzinfo=now.tzinfo))
    if f.opened_to:
        conds.append(Case.opened_at < datetime.combine(f.opened_to + timedelta(days=1), datetime.min.time(),
                                                       tzinfo=now.tzinfo))
    if f.saved == "mine":
        conds.append(scope_filter(actor, "case.edit", Case) if actor.role == "investigator"
                     else Case.owner_id == actor.id)
    elif f.saved == "overdue":
        from zoneinfo import ZoneInfo

        today = now.astimezone(ZoneInfo("Africa/Maseru")).date()
        conds.append(exists().where(and_(CaseTask.case_id == Case.id, CaseTask.completed_at.is_(None),
                                         CaseTask.due_on < today)))
    elif f.saved == "awaiting":
        conds.append(exists().where(and_(ClosureRequest.case_id == Case.id, ClosureRequest.decision == "pending")))
    if conds:
        stmt = stmt.where(and_(*conds))
    return stmt.order_by(Case.opened_at.desc(), Case.id.desc()), name_scores
