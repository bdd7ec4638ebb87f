"""Persons in a case: adding them with their HTCDS context, and matching them against other cases' persons
and the persons of interest (screening's engine scores the pairs)."""


from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from notifications.services import publish
from screening import services as screening
from screening.engine.index import CandidateIndex
from screening.engine.matching import DEFAULT, Document, Identity
from screening.engine.normalize import name_tokens, ocr_key, parse_partial_date, phonetic_key
from screening.engine.phrases import say
from screening.match_models import match_config
from screening.models import Person, PersonAlias, PersonDocument
from tip_cases.cases import htcds
from tip_cases.cases.models import (
    Case,
    CasePerson,
    PersonMatch,
)
from tip_cases.cases.workflow import (
    PERPETRATOR_FIELDS,
    VICTIM_FIELDS,
    CaseError,
    _audit,
    _check_choice,
    _check_version,
    _event,
    _record_changes,
)
from tip_cases.extensions import db
from tip_cases.models import User

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
                raise CaseError(say("Age when trafficked must be a whole number of years."), k) from None
            if not 0 <= age <= 120:
                raise CaseError(say("Age when trafficked must be between 0 and 120."), k)
            out[k] = age
        else:
            out[k] = str(v).strip()
    if role == "victim" and out.get("trafficking_status") and not out.get("status_decided_by") \
            and "status_decided_by" in data:
        raise CaseError(say("Say which organisation decided the trafficking status."), "status_decided_by")
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
            raise CaseError(say("That person record does not exist."), "person_id")
    else:
        if not (surname or "").strip() and not (given_names or "").strip():
            raise CaseError(say("Give at least a surname or given names."), "surname")
        dob = None
        if (date_of_birth or "").strip():
            try:
                dob = parse_partial_date(date_of_birth)
            except ValueError as exc:
                raise CaseError(say("Date of birth: {problem}", problem=str(exc)), "date_of_birth") from None
        sex = (sex or "").strip().upper()[:1] or None
        if sex not in (None, "M", "F", "X"):
            raise CaseError(say("Sex must be M, F or X."), "sex")
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
            raise CaseError(exc.args[0], getattr(exc, "field", None)) from None  # keeps the Phrase
    if db.session.execute(select(CasePerson.id).where(CasePerson.case_id == case.id,
                                                      CasePerson.person_id == person.id,
                                                      CasePerson.role == role)).first():
        raise CaseError(say("This person is already in the case with that role."), "role")
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
                                 + [_identity(p, ("poi", p.id)) for p in alerts], match_config())
    hits: dict[tuple, tuple[float, list[str]]] = {}
    for key, result in index.screen(probe, threshold=threshold, limit=50):
        # The pair's own probability: one person's records in several cases are not rival answers,
        # so the share among the persons found (the screening score) does not apply here.
        pair = result.alone()
        hits[key] = (pair.score, pair.explanations[:4])
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
