"""Case search: by reference, status, kind, owner, dates and a fuzzy person name."""


from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import url_for
from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import selectinload

from screening.engine.matching import DEFAULT, Identity, name_feature, prepare
from screening.engine.normalize import name_tokens, phonetic_key
from screening.engine.phrases import say
from screening.models import Person, PersonAlias, PersonDocument
from screening.search import CANDIDATES, Hit, Query, document_reason, document_variants, name_candidates, name_match
from tip_cases.access import can, scope_filter
from tip_cases.cases.models import (
    Case,
    CasePerson,
    CaseTask,
    ClosureRequest,
)
from tip_cases.extensions import db
from tip_cases.models import User

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


# --- the one search box (screening.search, through screening.signals.search) -----------------------------

_ROLE_IN_CASE = {"victim": say("A victim in this case"), "perpetrator": say("A perpetrator in this case"),
                 "witness": say("A witness in this case"), "guardian": say("A guardian in this case"),
                 "companion": say("A companion in this case")}


def _case_hit(case: Case, reasons: list, score: float) -> Hit:
    return Hit("case", case.id, f"{case.reference} · {case.title}",
               url_for("cases.detail", case_id=case.id), reasons, score, case.status)


def search_hits(q: Query, *, actor) -> list[Hit]:
    """Cases the actor may view (their team's, or all for a manager) found by reference, a party's
    document number or a party's name; a case outside the actor's scope is never fetched."""
    if not can(actor, "case.view"):
        return []
    scope = scope_filter(actor, "case.view", Case)
    if q.kind == "reference":
        case = db.session.execute(select(Case).where(scope, Case.reference == q.value)).scalar_one_or_none()
        return [_case_hit(case, [say("Reference matches")], 1.0)] if case else []
    party = select(Case, CasePerson.role, Person).join(CasePerson, CasePerson.case_id == Case.id) \
        .join(Person, Person.id == CasePerson.person_id).where(scope)
    hits: dict[int, Hit] = {}
    if q.kind == "document":
        rows = db.session.execute(party.add_columns(PersonDocument.type, PersonDocument.country).join(
            PersonDocument, PersonDocument.person_id == Person.id)
            .where(PersonDocument.number.in_(document_variants(q))).limit(CANDIDATES)).all()
        for case, role, _person, kind, country in rows:
            reason = _ROLE_IN_CASE.get(role, say("A person in this case")) + ": " + document_reason(kind, country)
            hits.setdefault(case.id, _case_hit(case, [reason], 1.0))
        return list(hits.values())
    alias_ids = select(PersonAlias.person_id).where(
        name_candidates(q, PersonAlias.surname, PersonAlias.given_names)).limit(CANDIDATES)
    rows = db.session.execute(party.options(selectinload(Person.aliases)).where(
        or_(name_candidates(q, Person.surname, Person.given_names), Person.id.in_(alias_ids)))
        .limit(CANDIDATES)).all()
    for case, role, person in rows:
        found = name_match(q, person.surname, person.given_names,
                           [(a.surname, a.given_names) for a in person.aliases])
        if not found:
            continue
        reason = _ROLE_IN_CASE.get(role, say("A person in this case")) + ": " + found[1]
        if case.id not in hits or hits[case.id].score < found[0]:
            hits[case.id] = _case_hit(case, [reason], found[0])
    return list(hits.values())
