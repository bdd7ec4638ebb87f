"""Screening services: store crossings, screen them, raise and review flags, manage persons of interest.

Services take the acting user (or API client) and `now`, raise `ScreeningError` with a field name,
and leave the single commit to the caller.

Long because storing a crossing, screening it and raising its flags are one path, sharing the
session hooks that keep the in-memory index in step; finding a person among the crossings is in
`screening.trace`, the traveller pages' queries in `screening.journeys`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import event, func, insert, select, tuple_
from sqlalchemy.orm import Session

from notifications import services as notifications
from screening import online, tracing
from screening.engine.ingest import ICAO_SPECIAL, ISO_ALPHA3, CrossingIn, RowError, read_crossings_csv
from screening.engine.matching import Document, Identity, MatchResult
from screening.engine.normalize import PartialDate, canonical, name_tokens, normalize_document, ocr_key
from screening.engine.phrases import say
from screening.models import (
    FLAG_STATUSES,
    NEED_TO_KNOW_ROLE_CHOICES,
    PROTECTIVE_CATEGORIES,
    Crossing,
    CrossingKey,
    Flag,
    FlagEvent,
    MatchJudgement,
    Person,
    PersonAlias,
    PersonDocument,
    is_restricted,
    sees_in_full,
    team_case_ids,
)
from screening.screener import alert_info, bump_generation, get_screener, person_identity
from tip_cases import audit
from tip_cases.access import scope_for
from tip_cases.extensions import db
from tip_cases.models import ApiClient, BorderPost, User
from tip_cases.posts import load_directory

log = logging.getLogger("tsela.screening")


class ScreeningError(ValueError):
    """A refusal a person can read; `field` names the input at fault when there is one."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class StaleRecord(ScreeningError):
    """Someone else saved the record since this form was opened."""


# --- crossings ---------------------------------------------------------------------------------------

@dataclass
class NewCrossing:
    """A validated crossing from any channel (API, CSV, form), with its post already resolved."""

    external_id: str
    border_post_id: int
    direction: str
    crossed_at: datetime
    surname: str = ""
    given_names: str = ""
    sex: str | None = None
    dob: PartialDate | None = None
    nationality: str | None = None
    document_type: str | None = None
    document_number: str | None = None
    document_country: str | None = None
    address: str | None = None
    purpose: str | None = None
    vehicle_registration: str | None = None
    travel_group: str | None = None
    guardian_relation: str | None = None  # a minor's accompanying adult: patterns.GUARDIAN_RELATIONS
    guardian_document_number: str | None = None  # that adult's document, to find their crossing
    consent_document: bool = False  # parental consent letter seen
    quality_issues: list[str] = field(default_factory=list)

    def identity(self, id: Any) -> Identity:  # noqa: A002
        docs = [Document(self.document_type, self.document_number, self.document_country)] \
            if self.document_number else []
        return Identity(id=id, surname=self.surname, given_names=self.given_names, dob=self.dob, sex=self.sex,
                        nationality=self.nationality, documents=docs)


@dataclass
class ItemResult:
    status: str  # accepted | duplicate | rejected
    external_id: str | None = None
    crossing_id: int | None = None
    flags: list[Flag] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (field, reason)
    line: int | None = None
    post_flags: list[Any] = field(default_factory=list)  # on a post node: screening.postsync_models.PostFlag


def quality_issues(c: NewCrossing) -> list[str]:
    """Data-quality remarks recorded on the crossing; none of them stops it being stored and screened."""
    issues = list(c.quality_issues)
    if not c.surname and not c.given_names:
        issues.append("no name recorded")
    elif not c.surname:
        issues.append("surname missing")
    elif not c.given_names:
        issues.append("given names missing")
    if not c.document_number:
        issues.append("no document number")
    if c.dob is None:
        issues.append("no date of birth")
    elif c.dob.precision != "day":
        issues.append(f"date of birth known only to the {c.dob.precision}")
    elif c.dob.is_placeholder:
        issues.append("date of birth is 1 January (often a placeholder)")
    for name in ("nationality", "document_country"):
        code = getattr(c, name)
        if code and code not in ISO_ALPHA3 and code not in ICAO_SPECIAL:
            issues.append(f"{name} {code!r} is not an ISO 3166-1 alpha-3 code")
    if not c.sex:
        issues.append("sex not recorded")
    seen: set[str] = set()
    return [i for i in issues if not (i in seen or seen.add(i))]


def _actor_fields(actor) -> dict[str, Any]:
    if isinstance(actor, ApiClient):
        return {"captured_by_user_id": None, "api_client_id": actor.id}
    if isinstance(actor, User):
        return {"captured_by_user_id": actor.id, "api_client_id": None}
    return {"captured_by_user_id": None, "api_client_id": None}


def store_crossings(items: Sequence[NewCrossing], *, source: str, actor, now: datetime,
                    session: Session | None = None) -> list[ItemResult]:
    """Insert new crossings in bulk, skip ones already stored under (source, external_id), screen the new ones.

    Duplicates are found first in crossing_keys (one plain table, whatever the crossings' months); on
    PostgreSQL the batch then claims its keys there and stores only the crossings it won, so a concurrent
    sender of the same external id, even with another crossed_at, waits and is told "duplicate" (SQLite's
    unique key on crossings does the same). One audit row per batch naming the crossing ids.
    """
    session = session or db.session()
    results: list[ItemResult] = [ItemResult("accepted", it.external_id) for it in items]
    ext_ids = list(dict.fromkeys(it.external_id for it in items))
    existing = _stored_keys(session, source, ext_ids)
    rows: list[dict[str, Any]] = []
    row_of: dict[str, int] = {}
    who = _actor_fields(actor)
    for i, it in enumerate(items):
        if it.external_id in existing:
            results[i].status, results[i].crossing_id = "duplicate", existing[it.external_id]
            continue
        if it.external_id in row_of:
            results[i].status = "duplicate"  # repeated within this batch; the id is filled in below
            continue
        row_of[it.external_id] = i
        dob = it.dob
        rows.append({
            "source": source, "external_id": it.external_id, "border_post_id": it.border_post_id,
            "direction": it.direction, "crossed_at": it.crossed_at, "surname": it.surname or "",
            "given_names": it.given_names or "", "sex": it.sex,
            "dob_year": dob.year if dob else None, "dob_month": dob.month if dob else None,
            "dob_day": dob.day if dob else None, "dob_precision": dob.precision if dob else None,
            "nationality": it.nationality, "document_type": it.document_type,
            "document_number": it.document_number or None, "document_country": it.document_country,
            "address": it.address or None, "purpose": it.purpose or None,
            "vehicle_registration": it.vehicle_registration or None, "travel_group": it.travel_group or None,
            "guardian_relation": it.guardian_relation or None,
            "guardian_document_number": normalize_document(it.guardian_document_number) or None,
            "consent_document": bool(it.consent_document),
            "quality_issues": quality_issues(it) or None, "created_at": now, **who,
        })
    inserted: dict[str, int] = {}
    attached: tracing.Attached | None = None
    if rows:
        if session.get_bind().dialect.name == "postgresql":
            # Attach before storing (not on a post node, which does not trace): the COPY then writes each
            # crossing with its traveller id, instead of NULL and an UPDATE of every row afterwards.
            before = current_app.config.get("TSELA_ROLE") != "post" and tracing.attach_before_insert(session)
            inserted, attached = _claim_and_copy(session, rows, now=now, attach=before)
        else:
            table = Crossing.__table__
            stmt = _insert_ignoring_conflicts(session).returning(table.c.id, table.c.external_id)
            inserted = {ext: cid for cid, ext in session.execute(stmt, rows).all()}
    lost = [r["external_id"] for r in rows if r["external_id"] not in inserted]
    if lost:  # a concurrent writer stored them first
        existing.update(_stored_keys(session, source, lost))
    new: list[tuple[int, NewCrossing]] = []
    for i, it in enumerate(items):
        r = results[i]
        if r.status == "accepted" and it.external_id in inserted:
            r.crossing_id = inserted[it.external_id]
            new.append((i, it))
        elif r.status in ("accepted", "duplicate"):
            r.status = "duplicate"
            r.crossing_id = existing.get(it.external_id) or inserted.get(it.external_id)
    if new:
        audit.record("crossing.create", "crossing", results[new[0][0]].crossing_id,
                     detail={"source": source, "count": len(new),
                             "ids": [results[i].crossing_id for i, _ in new]})
        if current_app.config.get("TSELA_ROLE") == "post":
            _store_at_post(results, new, source=source, now=now, session=session)
            return results
        flags = screen_new([(results[i].crossing_id, it) for i, it in new], now=now, session=session)
        # Tracing after screening, so a suspect found just now counts as one for the risk rules. Risk
        # flags go to the post's queue, not into these results, which report identity matches.

        tracing.on_arrival([results[i].crossing_id for i, _ in new], now=now, session=session, attached=attached)
        for i, _ in new:
            results[i].flags = flags.get(results[i].crossing_id, [])
    return results


def _stored_keys(session: Session, source: str, ext_ids: list[str]) -> dict[str, int]:
    """{external id: crossing id} of those already stored under `source` (crossing_keys' primary key)."""
    found: dict[str, int] = {}
    for start in range(0, len(ext_ids), 900):  # one array on PostgreSQL (in_ids): a short text, prepared once
        found.update(session.execute(
            select(CrossingKey.external_id, CrossingKey.crossing_id).where(
                CrossingKey.source == source,
                online.in_ids(session, CrossingKey.external_id, ext_ids[start:start + 900]))).all())
    return found


def _store_at_post(results: list[ItemResult], new: list[tuple[int, NewCrossing]], *, source: str, now: datetime,
                   session: Session) -> None:
    """On a post node, screening.postsync screens against the local watchlist and queues crossings and flags
    for headquarters in this transaction; it is wired as an app hook because it imports this module."""
    hook = current_app.extensions.get("tsela_post_capture")
    if hook is None:
        raise RuntimeError("post node without its capture hook (screening.handlers.register wires it)")
    hook(results, new, source=source, now=now, session=session)


_COPY_COLUMNS = ("id", "source", "external_id", "border_post_id", "direction", "crossed_at", "surname",
                 "given_names", "sex", "dob_year", "dob_month", "dob_day", "dob_precision", "nationality",
                 "document_type", "document_number", "document_country", "address", "purpose",
                 "vehicle_registration", "travel_group", "guardian_relation", "guardian_document_number",
                 "consent_document", "quality_issues", "created_at", "captured_by_user_id", "api_client_id",
                 "traveller_id")


_CLAIM_COLUMNS = ("source", "external_id", "crossing_id", "crossed_at")


def _claim_and_copy(session: Session, rows: list[dict[str, Any]], *, now: datetime,
                    attach: bool) -> tuple[dict[str, int], tracing.Attached | None]:
    """PostgreSQL: ids from the sequence, the keys claimed, the won rows attached (if `attach`) and stored by
    COPY with their traveller id; ({external id: id}, what attach decided).

    The claim is one INSERT ... ON CONFLICT DO NOTHING RETURNING on crossing_keys' primary key: a key held
    by an uncommitted batch makes this one wait for it, then report the crossing as a duplicate (or win it,
    if that batch rolled back). Keys are claimed in sorted order, so two batches never wait on each other in
    a cycle. COPY is ~10x faster than a 1,000-row INSERT; the key trigger on crossings finds the claims.
    """
    import json

    ids = online.next_ids(session, "crossings", len(rows))
    for cid, row in zip(ids, rows, strict=True):
        row["id"] = cid
    claim = online.unnest_insert(CrossingKey.__table__, _CLAIM_COLUMNS,
                                 "ON CONFLICT (source, external_id) DO NOTHING RETURNING external_id")
    in_order = sorted(rows, key=lambda r: r["external_id"])
    won = set(session.execute(claim, {
        "source": [r["source"] for r in in_order], "external_id": [r["external_id"] for r in in_order],
        "crossing_id": [r["id"] for r in in_order], "crossed_at": [r["crossed_at"] for r in in_order]}).scalars())
    stored = [row for row in rows if row["external_id"] in won]
    attached = None
    if attach:
        in_order = sorted(stored, key=lambda r: r["id"])
        attached = tracing.attach_new(session, [SimpleNamespace(**row) for row in in_order], now=now)
    for row in stored:
        row["traveller_id"] = attached.traveller_of[row["id"]] if attached else None
    cursor = session.connection().connection.driver_connection.cursor()
    with cursor.copy(f"COPY crossings ({', '.join(_COPY_COLUMNS)}) FROM STDIN") as copy:
        for row in stored:
            qi = row["quality_issues"]
            copy.write_row([(json.dumps(qi) if qi is not None else None) if c == "quality_issues" else row[c]
                            for c in _COPY_COLUMNS])
    return {row["external_id"]: row["id"] for row in stored}, attached


def _insert_ignoring_conflicts(session: Session):
    """A Core INSERT on the table (the ORM's per-object bookkeeping costs more than the insert itself);
    PostgreSQL stores through _claim_and_copy instead."""
    table = Crossing.__table__
    if session.get_bind().dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing(index_elements=["source", "external_id"])
    return insert(table)


# --- screening ---------------------------------------------------------------------------------------

SUSPECT_CATEGORIES = ("suspect", "recruiter", "transporter", "exploiter", "smuggler")


def flag_priority(category: str, score: float, threshold: float) -> str:
    """Protective alerts first (a missing child at the counter cannot wait), then suspects; weak scores drop a level."""
    levels = ["urgent", "high", "normal"]
    if category in PROTECTIVE_CATEGORIES:
        level = 0
    elif category in SUSPECT_CATEGORIES:
        level = 1
    else:
        level = 2
    if score < threshold + 0.10 and level < 2:
        level += 1
    return levels[level]


def _fingerprint(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def identity_key(surname: str, given_names: str, dob: PartialDate | None) -> str | None:
    """A traveller's names (canonical, order-free) and date of birth, hashed; None without a name."""
    tokens = sorted(canonical(t) for t in name_tokens(f"{surname} {given_names}"))
    if not tokens:
        return None
    return _fingerprint("id", " ".join(tokens), str(dob) if dob else "")


def document_key(number: str | None) -> str | None:
    key = ocr_key(number)
    return _fingerprint("doc", key) if len(key) >= 5 else None


def threshold() -> float:
    return float(current_app.config.get("SCREENING_FLAG_THRESHOLD", 0.80))


def screen_new(crossings: Iterable[tuple[int, NewCrossing]], *, now: datetime,
               session: Session | None = None) -> dict[int, list[Flag]]:
    """Screen freshly stored crossings against persons of interest and raise their flags."""
    session = session or db.session()
    screener = get_screener()
    index = screener.current(session, now.date())
    floor = threshold()
    hits: list[tuple[int, NewCrossing, int, MatchResult]] = []
    for cid, c in crossings:
        for pid, result in index.screen(c.identity(cid), floor):
            hits.append((cid, c, pid, result))
    return _raise_flags(hits, screener.alerts, now=now, session=session) if hits else {}


def screen_crossing(crossing: Crossing, now: datetime, session: Session | None = None) -> list[Flag]:
    """Screen one stored crossing (again); existing flags and judged pairs are not raised twice."""
    session = session or db.session()
    c = crossing_as_new(crossing)
    return screen_new([(crossing.id, c)], now=now, session=session).get(crossing.id, [])


def crossing_as_new(crossing: Crossing) -> NewCrossing:
    return NewCrossing(
        external_id=crossing.external_id, border_post_id=crossing.border_post_id, direction=crossing.direction,
        crossed_at=crossing.crossed_at, surname=crossing.surname, given_names=crossing.given_names,
        sex=crossing.sex, dob=crossing.dob, nationality=crossing.nationality,
        document_type=crossing.document_type, document_number=crossing.document_number,
        document_country=crossing.document_country)


def _raise_flags(hits, alerts, *, now: datetime, session: Session) -> dict[int, list[Flag]]:
    today = now.date()
    floor = threshold()
    person_ids = {pid for _, _, pid, _ in hits}
    judged: set[tuple[int, str]] = set()
    for pid, ik, dk in session.execute(select(MatchJudgement.person_id, MatchJudgement.identity_key,
                                              MatchJudgement.document_key)
                                       .where(MatchJudgement.person_id.in_(person_ids))):
        judged.add((pid, ik))
        if dk:
            judged.add((pid, dk))
    pairs = [(cid, pid) for cid, _, pid, _ in hits]
    already = set(session.execute(select(Flag.crossing_id, Flag.person_id)
                                  .where(tuple_(Flag.crossing_id, Flag.person_id).in_(pairs))).all()) \
        if pairs else set()
    posts = dict(session.execute(select(BorderPost.id, BorderPost.code)).all())
    out: dict[int, list[Flag]] = {}
    for cid, c, pid, result in hits:
        info = alerts.get(pid)
        if info is None or (info.review_date is not None and info.review_date < today):
            continue  # expired since the index was built: no longer screened
        if (cid, pid) in already:
            continue
        keys = {identity_key(c.surname, c.given_names, c.dob), document_key(c.document_number)} - {None}
        if any((pid, k) in judged for k in keys):
            continue
        # The score stored and shown is shared among the persons of interest the crossing fits
        # (`share_among`); the threshold and the priority's margin are on the pair's own probability.
        flag = Flag(kind="identity", crossing_id=cid, person_id=pid, border_post_id=c.border_post_id,
                    score=round(result.score, 4), features=[f.to_dict() for f in result.features],
                    priority=flag_priority(info.category, result.alone().score, floor),
                    reason=info.reason, action=info.action, status="new", created_at=now)
        session.add(flag)
        already.add((cid, pid))
        out.setdefault(cid, []).append(flag)
    if not out:
        return out
    session.flush()
    raised = [(cid, flag, alerts[flag.person_id]) for cid, flags in out.items() for flag in flags]
    for _, flag, _ in raised:
        session.add(FlagEvent(flag_id=flag.id, at=now, actor_label="screening", action="raised",
                              note=f"score {flag.score:.2f}"))
    notifications.publish_many([
        {"event": "flag.raised", "ref": f"flag:{flag.id}", "subject_type": "flag", "subject_id": flag.id,
         "post_code": posts.get(flag.border_post_id), "priority": flag.priority, "kind": info.alert_kind,
         "data": {"flag_id": flag.id, "crossing_id": cid, "person_id": flag.person_id,
                  "score": flag.score, "category": info.category, "discreet": info.discreet,
                  # The action and whom to call reach partners (if their profile takes them), never
                  # the alert's reason or the person's identity: a protective alert is need to know.
                  "expected_action": expected_action(info.action, info.contact)}}
        for cid, flag, info in raised], now=now)
    for cid, flag, _ in raised:
        log.info("flag %s raised: crossing %s person %s score %.2f", flag.id, cid, flag.person_id, flag.score)
    return out


def record_need_to_know(actor, persons: Iterable[Person | None], via: str) -> dict[int, bool]:
    """Audit each protective or discreet entry shown: in full (poi.view_protected) or limited (poi.view_limited).

    Returns person id -> shown in full, for every person given (unrestricted ones are always in full)."""
    shown: dict[int, bool] = {}
    for person in persons:
        if person is None or person.id in shown:
            continue
        shown[person.id] = full = sees_in_full(actor, person)
        if is_restricted(person):
            audit.record("poi.view_protected" if full else "poi.view_limited", "person", person.id,
                         detail={"via": via})
    return shown


def expected_action(action: str, contact: str) -> str | None:
    """The officer action with whom to call, as partners and people the alert does not name get it."""
    text = " ".join(x for x in ((action or "").strip(), f"Whom to call: {contact.strip()}." if contact else "") if x)
    return text or None


# --- CSV import --------------------------------------------------------------------------------------

@dataclass
class ImportSummary:
    inserted: int = 0
    duplicates: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    flags: int = 0

    def lines(self) -> list[str]:
        out = [f"inserted: {self.inserted}", f"duplicates: {self.duplicates}",
               f"rejected: {len(self.rejected)}", f"flags raised: {self.flags}"]
        out += [f"  line {line}: {reason}" for line, reason in self.rejected]
        return out


def from_parsed(row: CrossingIn, post_id: int) -> NewCrossing:
    return NewCrossing(
        external_id=row.external_id, border_post_id=post_id, direction=row.direction, crossed_at=row.crossed_at,
        surname=row.surname, given_names=row.given_names, sex=row.sex, dob=row.date_of_birth,
        nationality=row.nationality, document_type=row.document_type, document_number=row.document_number or None,
        document_country=row.document_country, address=row.address or None, travel_group=row.travel_group or None,
        guardian_relation=row.guardian_relation, guardian_document_number=row.guardian_document_number or None,
        consent_document=row.consent_document, quality_issues=list(row.warnings))


def import_csv(stream, *, actor, now: datetime, source: str = "csv", batch_size: int = 1000,
               session: Session | None = None) -> ImportSummary:
    """Import a crossings CSV: bad rows are reported by line, good rows stored; re-importing adds nothing.

    Commits after each batch, so a large file keeps what it stored if a later batch fails.
    """
    session = session or db.session()
    posts = load_directory(session)
    summary = ImportSummary()
    batch: list[tuple[int, NewCrossing]] = []

    def flush_batch() -> None:
        if not batch:
            return
        results = store_crossings([c for _, c in batch], source=source, actor=actor, now=now, session=session)
        for r in results:
            if r.status == "accepted":
                summary.inserted += 1
                summary.flags += len(r.flags)
            else:
                summary.duplicates += 1
        session.commit()
        batch.clear()

    for row in read_crossings_csv(stream, now):
        if isinstance(row, RowError):
            summary.rejected.append((row.line, "; ".join(f"{f}: {r}" for f, r in row.problems)))
            continue
        found = posts.resolve(row.border_post)
        if not found.ok:
            summary.rejected.append((row.line, f"border_post: {posts.explain(row.border_post, found)}"))
            continue
        batch.append((row.line, from_parsed(row, found.post.id)))
        if len(batch) >= batch_size:
            flush_batch()
    flush_batch()
    summary.rejected.sort()
    return summary


# --- flag review -------------------------------------------------------------------------------------

DECISIONS = {
    "acknowledge": "acknowledged",
    "escalate": "escalated",
    "confirm": "confirmed",
    "not_same_person": "not_same_person",
}
_ALLOWED_FROM = {
    "acknowledged": ("new",),
    "escalated": ("new", "acknowledged"),
    "confirmed": ("new", "acknowledged", "escalated"),
    "not_same_person": ("new", "acknowledged", "escalated"),
}
assert set(_ALLOWED_FROM) <= set(FLAG_STATUSES)


def actor_label(actor, officer: str | None = None) -> str:
    if isinstance(actor, ApiClient):
        label = f"api:{actor.name}"
        return (f"{label} ({officer})" if officer else label)[:80]
    return (getattr(actor, "username", None) or "system")[:80]


def review_flag(flag: Flag, decision: str, *, actor, now: datetime, reason: str = "",
                officer: str | None = None, escalate_to: User | None = None,
                session: Session | None = None) -> Flag:
    """Record an officer's decision on a flag, with who and why; "not the same person" silences the pair."""
    session = session or db.session()
    reason = (reason or "").strip()
    status = DECISIONS.get(decision)
    if status is None:
        raise ScreeningError(say("unknown decision {decision}", decision=repr(decision)), "decision")
    if flag.status not in _ALLOWED_FROM[status]:
        raise ScreeningError(say("this flag is already {status}", status=flag.status.replace("_", " ")), "decision")
    if decision != "acknowledge" and not reason:
        raise ScreeningError(say("say why: the reason is kept with the decision"), "reason")
    if escalate_to is not None and escalate_to.role not in ("investigator", "manager"):
        raise ScreeningError(say("escalate to an investigator or a manager"), "escalate_to")
    user_id = actor.id if isinstance(actor, User) else None
    label = actor_label(actor, officer)
    flag.status = status
    if decision == "acknowledge":
        flag.acknowledged_at, flag.acknowledged_by_user_id = now, user_id
    elif decision == "escalate":
        flag.escalated_to_user_id = escalate_to.id if escalate_to else None
        flag.acknowledged_at = flag.acknowledged_at or now
        flag.acknowledged_by_user_id = flag.acknowledged_by_user_id or user_id
    else:
        flag.decided_at, flag.decided_by_user_id = now, user_id
        flag.decision_note = f"{reason} ({label})" if user_id is None else reason
    session.add(FlagEvent(flag_id=flag.id, at=now, user_id=user_id, actor_label=label, action=status,
                          note=reason or None))
    if decision == "not_same_person" and flag.person_id is not None:
        crossing = flag.crossing
        ik = identity_key(crossing.surname, crossing.given_names, crossing.dob) or f"crossing:{crossing.id}"
        exists = session.execute(select(MatchJudgement.id).where(
            MatchJudgement.person_id == flag.person_id, MatchJudgement.identity_key == ik)).scalar()
        if exists is None:
            session.add(MatchJudgement(person_id=flag.person_id, crossing_id=crossing.id, identity_key=ik,
                                       document_key=document_key(crossing.document_number), verdict="different",
                                       reason=reason, decided_by_user_id=user_id, decided_at=now))
    audit.record(f"flag.{status}", "flag", flag.id, detail={"crossing_id": flag.crossing_id,
                                                          "person_id": flag.person_id})
    if decision in ("confirm", "escalate", "not_same_person"):
        post = session.get(BorderPost, flag.border_post_id)
        person = flag.person
        notifications.publish(
            f"flag.{status}", ref=f"flag:{flag.id}", subject_type="flag", subject_id=flag.id,
            post_code=post.code if post else None, priority=flag.priority,
            kind=person.alert_kind if person else flag.kind,
            data={"flag_id": flag.id, "crossing_id": flag.crossing_id, "person_id": flag.person_id,
                  "decided_by": label, "escalated_to": flag.escalated_to_user_id},
            now=now)
    return flag


# --- persons of interest -----------------------------------------------------------------------------

@dataclass
class PersonData:
    surname: str = ""
    given_names: str = ""
    sex: str | None = None
    dob: PartialDate | None = None
    nationality: str | None = None
    place_of_birth: str | None = None
    category: str = "other"
    alert_kind: str = "information"
    discreet: bool = False
    screening_active: bool = True
    review_date: date | None = None
    alert_reason: str = ""
    officer_action: str = ""
    source: str = "national_list"
    reference: str | None = None
    notes: str | None = None
    # Need to know (protective or discreet alerts): roles that see the entry in full (empty: the default
    # roles), a case reference whose team also does, and whom everyone else must call.
    need_to_know_roles: list[str] = field(default_factory=list)
    need_to_know_case: str | None = None
    contact: str | None = None
    aliases: list[tuple[str, str]] = field(default_factory=list)
    documents: list[tuple[str | None, str, str | None]] = field(default_factory=list)  # type, number, country


_PENDING_INDEX = "screening_index_changes"
_PENDING_GENERATION = "screening_index_generation"


def _queue_index_change(session: Session, person: Person, screened: bool) -> None:
    """Bump the shared counter now; patch this process's index only once the transaction commits."""
    session.info[_PENDING_GENERATION] = bump_generation(session)
    entry = (person.id, person_identity(person), alert_info(person)) if screened else (person.id, None, None)
    session.info.setdefault(_PENDING_INDEX, []).append(entry)


@event.listens_for(Session, "after_commit")
def _apply_index_changes(session: Session) -> None:
    changes = session.info.pop(_PENDING_INDEX, None)
    generation = session.info.pop(_PENDING_GENERATION, None)
    if not changes or generation is None:
        return
    try:
        screener = get_screener()
    except RuntimeError:  # no app context: nothing in memory to patch
        return
    screener.apply(changes, generation)


@event.listens_for(Session, "after_soft_rollback")
def _drop_index_changes(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_PENDING_INDEX, None)
        session.info.pop(_PENDING_GENERATION, None)


def _validate_person(data: PersonData) -> None:
    if not (data.surname.strip() or data.given_names.strip()) and not data.documents:
        raise ScreeningError(say("give a name or a document number"), "surname")
    if data.nationality and data.nationality not in ISO_ALPHA3 and data.nationality not in ICAO_SPECIAL:
        raise ScreeningError(say("{nationality} is not an ISO 3166-1 alpha-3 code", nationality=repr(data.nationality)),
                             "nationality")
    if data.screening_active and not data.officer_action.strip():
        raise ScreeningError(say("say what the officer must do when this person is found"), "officer_action")


_CASES = sa.table("cases", sa.column("id"), sa.column("reference"))


def _named_case_id(reference: str | None, actor) -> int | None:
    """The case an alert names by reference; only a case the actor can see (no oracle for the others)."""
    reference = (reference or "").strip()
    if not reference:
        return None
    stmt = select(_CASES.c.id).where(func.upper(_CASES.c.reference) == reference.upper())
    if isinstance(actor, User) and scope_for(actor.role, "case.view") != "all":
        stmt = stmt.where(_CASES.c.id.in_(team_case_ids(actor.id)))
    case_id = db.session.scalar(stmt)
    if case_id is None:
        raise ScreeningError(f"no case you can see has the reference {reference!r}", "need_to_know_case")
    return case_id


def _apply_need_to_know(person: Person, data: PersonData, actor) -> None:
    unknown = [r for r in data.need_to_know_roles if r not in NEED_TO_KNOW_ROLE_CHOICES]
    if unknown:
        raise ScreeningError(f"unknown role {unknown[0]!r}", "need_to_know_roles")
    person.need_to_know_roles = ",".join(r for r in NEED_TO_KNOW_ROLE_CHOICES if r in data.need_to_know_roles) \
        or None
    person.need_to_know_case_id = _named_case_id(data.need_to_know_case, actor)
    person.contact = (data.contact or "").strip() or None
    if isinstance(actor, User) and not sees_in_full(actor, person):
        # Saving would hide the entry from the person saving it: name their role or a case they are on.
        raise ScreeningError("you would no longer see this entry in full: name your role or a case you are on",
                             "need_to_know_roles")


def _apply_person(person: Person, data: PersonData, actor) -> None:
    for name in ("surname", "given_names", "sex", "nationality", "place_of_birth", "category", "alert_kind",
                 "discreet", "screening_active", "review_date", "alert_reason", "officer_action", "source",
                 "reference", "notes"):
        value = getattr(data, name)
        setattr(person, name, value.strip() if isinstance(value, str) else value)
    person.reference = person.reference or None
    person.dob = data.dob
    person.updated_by_user_id = getattr(actor, "id", None) if isinstance(actor, User) else None
    wanted_aliases = [(s.strip(), g.strip()) for s, g in data.aliases if (s or "").strip() or (g or "").strip()]
    current = [(a.surname, a.given_names) for a in person.aliases]
    if current != wanted_aliases:
        person.aliases = [PersonAlias(surname=s, given_names=g) for s, g in wanted_aliases]
    wanted_docs = [((t or None), normalize_document(n), (c or None)) for t, n, c in data.documents
                   if normalize_document(n)]
    current_docs = [(d.type, d.number, d.country) for d in person.documents]
    if current_docs != wanted_docs:
        person.documents = [PersonDocument(type=t, number=n, country=c) for t, n, c in wanted_docs]
    _apply_need_to_know(person, data, actor)


def create_person(data: PersonData, *, actor, now: datetime, session: Session | None = None) -> Person:
    session = session or db.session()
    _validate_person(data)
    person = Person(created_at=now, updated_at=now, created_by_user_id=getattr(actor, "id", None))
    _apply_person(person, data, actor)
    session.add(person)
    session.flush()
    audit.record("poi.create", "person", person.id)
    _queue_index_change(session, person, person.is_screened(now.date()))
    return person


def update_person(person: Person, data: PersonData, *, expected_version: int, actor, now: datetime,
                  session: Session | None = None) -> Person:
    """Save an edit made on a form opened at `expected_version`; a stale form is refused, not merged."""
    session = session or db.session()
    if person.version != expected_version:
        raise StaleRecord(say("someone else changed this person since you opened the form; "
                          "reload it, check their changes and apply yours again"), "version")
    _validate_person(data)
    _apply_person(person, data, actor)
    person.updated_at = now
    session.flush()
    audit.record("poi.update", "person", person.id)
    _queue_index_change(session, person, person.is_screened(now.date()))
    return person


# --- warm-up -----------------------------------------------------------------------------------------

def warm_up(*, today: date) -> tuple[int, int]:
    """Build this process's screening and traveller indexes now, so the first batch does not wait.

    Called by the gunicorn worker hook (scripts/gunicorn_conf.py) in a background thread; returns the
    number of persons of interest and of crossings indexed.
    """
    session = db.session()
    persons = len(get_screener().current(session, today))
    if tracing.online_attach():  # traveller candidates are read from the database: nothing to load
        session.rollback()
        return persons, 0
    tracer = tracing.get_tracer()
    with tracer.lock:
        if tracer.index is None:
            tracer.build(session, tracing.resolve_config())
            tracer.generation = tracing.read_generation(session)
        crossings = len(tracer.index)
    session.rollback()
    return persons, crossings
