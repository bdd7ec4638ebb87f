"""Case services: opening, editing and closing cases, HTCDS records, referrals, tasks, evidence, links.

Persons in a case live in `persons`, search in `search`, the shared errors and helpers in `workflow`.

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

from sqlalchemy import func, select

from notifications.services import publish
from screening.engine.phrases import say
from screening.models import Crossing, Flag, Person
from tip_cases.access import can, scope_filter
from tip_cases.cases import htcds
from tip_cases.cases.models import (
    Case,
    CaseLink,
    CaseNote,
    CasePerson,
    CaseTask,
    CaseTeamMember,
    ClosureRequest,
    Consent,
    Evidence,
    PersonMatch,
    Referral,
    SupportPlan,
    TraffickingEvent,
)
from tip_cases.cases.persons import find_person_matches
from tip_cases.cases.workflow import (
    _MAGIC,
    ACK_DEADLINE,
    ALLOWED_EVIDENCE,
    EDITABLE_CASE_FIELDS,
    MAX_EVIDENCE_BYTES,
    REFERRAL_TRANSITIONS,
    STAGE_TRANSITIONS,
    STATUS_TRANSITIONS,
    CaseError,
    _audit,
    _check_choice,
    _check_version,
    _event,
    _record_changes,
    allocate_reference,
)
from tip_cases.extensions import db
from tip_cases.models import User

log = logging.getLogger("tsela.cases")


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
        raise CaseError(say("A case needs a short title."), "title")
    flag = None
    if flag_id is not None:
        flag = db.session.get(Flag, flag_id)
        if flag is None:
            raise CaseError(say("That flag does not exist."), "flag")
        if not can(actor, "flag.view", flag):
            raise CaseError(say("You may not open a case from that flag."), "flag")
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
        raise CaseError(say("Flag {id} is already linked to case {reference}.", id=flag.id, reference=case.reference),
                        "flag")
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
            raise CaseError(say("{field} must be text.", field=name.capitalize()), name)
        if name in data and len(data[name]) > limit:
            raise CaseError(say("{field} is limited to {limit} characters.", field=name.capitalize(), limit=limit),
                            name)
    if "title" in data and not data["title"].strip():
        raise CaseError(say("A case needs a short title."), "title")
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
        raise CaseError(say("Closing a case needs a reason and a manager's approval: request closure instead."),
                        "status")
    if status not in STATUS_TRANSITIONS.get(case.status, set()):
        raise CaseError(say("A case cannot go from {current} to {status}.", current=case.status, status=status),
                        "status")
    if case.is_closed and not can(actor, "case.approve"):
        raise CaseError(say("Only a manager can reopen a closed case."), "status")
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
        raise CaseError(say("A case cannot go from stage {current} to {stage}.", current=htcds.STAGE_LABELS[case.stage],
                            stage=htcds.STAGE_LABELS[stage]), "stage")
    if stage == "closed" and not case.is_closed:
        raise CaseError(say("The stage becomes Closed when the case's closure is approved."), "stage")
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
        raise CaseError(say("Choose Closed or Closed (referred)."), "target_status")
    if case.is_closed:
        raise CaseError(say("The case is already closed."), "target_status")
    if not (reason or "").strip():
        raise CaseError(say("Give the reason for closing the case."), "reason")
    if pending_closure(case) is not None:
        raise CaseError(say("A closure request is already waiting for a manager."), "reason")
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
        raise CaseError(say("Only a manager can decide a closure request."))
    if req.decision != "pending":
        raise CaseError(say("This closure request has already been decided."))
    if not approve and not (comment or "").strip():
        raise CaseError(say("Say why the closure is rejected."), "comment")
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
            raise CaseError(say("Team members must be investigators or managers."), "team")
        case.team.append(CaseTeamMember(user_id=uid, added_at=now))
    if wanted != current:
        names = db.session.execute(select(User.username).where(User.id.in_(wanted))).scalars().all()
        _event(case, actor, "case.team", "Team set to: " + (", ".join(sorted(names)) or "owner only"), now,
               {"added": sorted(wanted - current), "removed": sorted(current - wanted)})
        _audit("case.team", "case", case.id, added=sorted(wanted - current), removed=sorted(current - wanted))


# --- HTCDS records: events, support plans, consent, notes -----------------------------------------

def _person_in_case(case: Case, case_person_id: int | None) -> CasePerson | None:
    if case_person_id in (None, "", 0):
        return None
    cp = db.session.get(CasePerson, int(case_person_id))
    if cp is None or cp.case_id != case.id:
        raise CaseError(say("That person is not in this case."), "case_person_id")
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
        raise CaseError(say("State the objectives of the support plan."), "objectives")
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
        raise CaseError(say("Choose whose consent this is."), "case_person_id")
    if not scopes:
        raise CaseError(say("Tick at least one thing consented to."), "scopes")
    for s in scopes:
        _check_choice(s, htcds.CONSENT_SCOPES, "scopes", "Consent")
    _check_choice(given_by, htcds.CONSENT_GIVERS, "given_by", "Given by")
    if "share_identifying" in scopes and not (share_with or "").strip():
        raise CaseError(say("Name the partners identifying data may be shared with."), "share_with")
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
        raise CaseError(say("This consent was already withdrawn."))
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
        raise CaseError(say("The note is empty."), "body")
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
        raise CaseError(say("Describe the task."), "title")
    assignee = None
    if assignee_id:
        assignee = db.session.get(User, int(assignee_id))
        if assignee is None or assignee.id not in case.team_user_ids:
            raise CaseError(say("Assign the task to someone on the case team."), "assignee_id")
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
        raise CaseError(say("This task is already done."))
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
        raise CaseError(say("Name the organisation referred to."), "organisation")
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
                raise CaseError(say("This victim has not consented to sharing identifying data: record their "
                                "consent first, or have a manager record an override with a reason."),
                                "includes_identifying_data")
            if not can(actor, "case.approve"):
                raise CaseError(say("Only a manager can override a missing consent."), "override_reason")
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
        raise CaseError(say("A referral cannot go from {current} to {status}.", current=ref.status, status=status),
                        "status")
    if status == "declined" and not (reason or "").strip():
        raise CaseError(say("Record the reason the partner declined."), "reason")
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
        raise CaseError(say("The file is larger than {megabytes} MB.", megabytes=max_bytes // (1024 * 1024)), "file")
    if not data:
        raise CaseError(say("The file is empty."), "file")
    if ext in _MAGIC and not any(data.startswith(m) for m in _MAGIC[ext]):
        raise CaseError(say("The file's content is not a real {ext} file.", ext=ext), "file")
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
        raise CaseError(say("No {object_type} {object_id}.", object_type=object_type, object_id=object_id), "object_id")
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
