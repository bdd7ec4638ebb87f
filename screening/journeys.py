"""The traveller pages' data: a traveller's journey and companions, their flags and judgements, and the
traveller search. Read-only queries; resolution and the risk rules are in screening.tracing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from screening.engine.normalize import age_on, ocr_key
from screening.engine.patterns import document_label
from screening.models import (
    Crossing,
    Flag,
    RiskFindingRecord,
    Traveller,
    TravellerJudgement,
    dob_of,
)
from screening.tracing import (
    _neighbours,
    _risk_flagged,
    _suspect_travellers,
    pattern_config,
)
from tip_cases.extensions import db

# --- the traveller's journey -----------------------------------------------------------------------


@dataclass
class Trip:
    exited: Crossing
    entered: Crossing | None
    days: float | None  # None while open
    open_days: float | None = None


@dataclass
class Companion:
    traveller: Traveller
    recorded: int = 0  # same group or vehicle
    nearby: int = 0  # same post and direction within the window
    last_at: datetime | None = None
    age: int | None = None
    flagged: bool = False

    @property
    def occasions(self) -> int:
        return max(self.recorded, self.nearby)

    @property
    def minor(self) -> bool:
        return self.age is not None and self.age < 18


@dataclass
class TravellerDocument:
    """One document the traveller crossed with; OCR misreads of its number count as the same document."""

    type: str | None
    number: str
    country: str | None
    first: datetime
    last: datetime
    count: int = 1

    @property
    def kind(self) -> str:
        return document_label(self.type)


@dataclass
class Journey:
    crossings: list[Crossing]
    trips: list[Trip]
    open_trip: Trip | None
    documents: list[TravellerDocument]
    names: list[tuple[str, int]]
    companions: list[Companion] = field(default_factory=list)


def journey(traveller: Traveller, *, now: datetime, session: Session | None = None) -> Journey:
    """Timeline, trips abroad (exit then entry), documents and spellings used, companions."""
    session = session or db.session()
    crossings = crossings_of(traveller, session)
    trips: list[Trip] = []
    open_trip = None
    pending: Crossing | None = None
    for c in crossings:
        if c.direction == "exit":
            if pending is not None:
                trips.append(Trip(pending, None, None))  # exited twice: the return was not recorded
            pending = c
        elif pending is not None:
            trips.append(Trip(pending, c, (c.crossed_at - pending.crossed_at).total_seconds() / 86400))
            pending = None
    if pending is not None:
        open_trip = Trip(pending, None, None, (now - pending.crossed_at).total_seconds() / 86400)
    names = Counter(" ".join(x for x in (c.surname, c.given_names) if x) or "(no name)" for c in crossings)
    return Journey(crossings, trips, open_trip, documents_of(crossings), names.most_common(),
                   companions_of(traveller, crossings, session=session))


def crossings_of(traveller: Traveller, session: Session) -> list[Crossing]:
    """Every crossing of the traveller in time order, with its flags and post (loaded with the crossings,
    one query each, not one per crossing: a decade's traveller has hundreds).

    Not bounded by the traveller's first and last crossing: the statement is prepared once per connection
    and its generic plan reused, where a bound makes PostgreSQL plan it anew for each traveller, which
    cost more than the partitions it left out (docs/performance.md, session 11).
    """
    return list(session.execute(select(Crossing).where(Crossing.traveller_id == traveller.id)
                                .options(selectinload(Crossing.flags), selectinload(Crossing.border_post))
                                .order_by(Crossing.crossed_at, Crossing.id)).scalars())


def documents_of(crossings: Iterable[Crossing]) -> list[TravellerDocument]:
    """Every document in these crossings (in time order), keyed by type and OCR-normalised number."""
    docs: dict[tuple[str, str], TravellerDocument] = {}
    for c in sorted(crossings, key=lambda c: (c.crossed_at, c.id)):
        if not c.document_number or not ocr_key(c.document_number):
            continue
        key = ((c.document_type or "").upper()[:1], ocr_key(c.document_number))
        d = docs.get(key)
        if d is None:
            docs[key] = TravellerDocument(c.document_type, c.document_number, c.document_country, c.crossed_at,
                                          c.crossed_at)
        else:
            d.count += 1
            d.last = c.crossed_at
            d.country = d.country or c.document_country
    return list(docs.values())


def companions_of(traveller: Traveller, crossings: list[Crossing], *, session: Session) -> list[Companion]:
    """Who crosses with this traveller: recorded in the same group or vehicle, or inferred (same post,
    same direction, within minutes, at least `companion_min_times` times)."""
    cfg = pattern_config()
    window = timedelta(minutes=cfg.together_minutes)
    own = crossings  # the journey's own crossings, loaded once (they carry every fact the windows need)
    if not own:
        return []
    stats: dict[int, Companion] = {}
    ages: dict[int, int | None] = {}
    counted: set[tuple[int, int, str]] = set()
    for o in _neighbours(session, own, cfg.together_minutes):
        if o.traveller_id == traveller.id:
            continue
        for c in own:
            same_group = c.travel_group and o.travel_group == c.travel_group
            same_vehicle = (c.vehicle_registration and o.vehicle_registration
                            and ocr_key(c.vehicle_registration) == ocr_key(o.vehicle_registration)
                            and c.border_post_id == o.border_post_id and c.direction == o.direction
                            and abs(o.crossed_at - c.crossed_at) <= window)
            near = (c.border_post_id == o.border_post_id and c.direction == o.direction
                    and abs(o.crossed_at - c.crossed_at) <= window)
            if not (same_group or same_vehicle or near):
                continue
            comp = stats.setdefault(o.traveller_id, Companion(traveller=None))  # type: ignore[arg-type]
            if (same_group or same_vehicle) and (c.id, o.traveller_id, "r") not in counted:
                counted.add((c.id, o.traveller_id, "r"))
                comp.recorded += 1
            if near and (c.id, o.traveller_id, "n") not in counted:
                counted.add((c.id, o.traveller_id, "n"))
                comp.nearby += 1
            if comp.last_at is None or o.crossed_at > comp.last_at:
                comp.last_at = o.crossed_at
                dob = dob_of(o)
                ages[o.traveller_id] = age_on(dob, o.crossed_at.date()) if dob else None
    keep = {tid: c for tid, c in stats.items() if c.recorded or c.nearby >= cfg.companion_min_times}
    if not keep:
        return []
    travellers = {t.id: t for t in session.execute(select(Traveller).where(Traveller.id.in_(list(keep)))).scalars()}
    flagged = _risk_flagged(session, keep) | _suspect_travellers(session, set(keep))
    out = []
    for tid, comp in keep.items():
        comp.traveller = travellers[tid]
        comp.age = ages.get(tid)
        comp.flagged = tid in flagged
        out.append(comp)
    out.sort(key=lambda c: (-c.occasions, c.traveller.id))
    return out


def flags_of(traveller: Traveller, session: Session | None = None, journey: Journey | None = None) -> list[Flag]:
    """Flags on the traveller's crossings and risk flags about them, newest first.

    Given the traveller's journey, its crossings' flags are already loaded: only the risk flags are read
    (a statement over every month partition less on the traveller page).
    """
    session = session or db.session()
    risk = select(RiskFindingRecord.flag_id).where(RiskFindingRecord.traveller_id == traveller.id)
    if journey is None:
        on_crossings = select(Crossing.id).where(Crossing.traveller_id == traveller.id)
        return list(session.execute(select(Flag).where(or_(Flag.crossing_id.in_(on_crossings), Flag.id.in_(risk)))
                                    .order_by(Flag.created_at.desc(), Flag.id.desc())).scalars())
    found = {f.id: f for c in journey.crossings for f in c.flags}
    found.update((f.id, f) for f in session.execute(select(Flag).where(Flag.id.in_(risk))).scalars())
    return sorted(found.values(), key=lambda f: (f.created_at, f.id), reverse=True)


def judgements_of(traveller: Traveller, session: Session | None = None) -> list[TravellerJudgement]:
    session = session or db.session()
    return list(session.execute(select(TravellerJudgement).where(or_(
        TravellerJudgement.traveller_id == traveller.id, TravellerJudgement.other_traveller_id == traveller.id))
        .order_by(TravellerJudgement.decided_at.desc())).scalars())


def search_travellers(q: str, *, risk_only: bool = False):
    """A select of current travellers, by any recorded spelling or document number."""
    stmt = select(Traveller).where(Traveller.merged_into_id.is_(None), Traveller.crossing_count > 0)
    q = (q or "").strip()
    if q:
        if q.isascii() and q.isdigit() and len(q) < 9:
            stmt = stmt.where(Traveller.id == int(q))
        else:
            like = f"%{q}%"
            doc = f"%{q.replace(' ', '').upper()}%"
            ids = select(Crossing.traveller_id).where(or_(
                Crossing.surname.ilike(like), Crossing.given_names.ilike(like),
                (Crossing.surname + " " + Crossing.given_names).ilike(like), Crossing.document_number.ilike(doc)))
            stmt = stmt.where(Traveller.id.in_(ids))
    if risk_only:
        stmt = stmt.where(Traveller.id.in_(select(RiskFindingRecord.traveller_id)))
    return stmt.order_by(Traveller.last_crossed_at.desc(), Traveller.id.desc())


def risk_count_by_traveller(ids: Iterable[int], session: Session | None = None) -> dict[int, int]:
    session = session or db.session()
    ids = list(ids)
    if not ids:
        return {}
    return dict(session.execute(select(RiskFindingRecord.traveller_id, func.count()).join(
        Flag, Flag.id == RiskFindingRecord.flag_id).where(RiskFindingRecord.traveller_id.in_(ids),
                                                          Flag.status.in_(("new", "acknowledged", "escalated")))
        .group_by(RiskFindingRecord.traveller_id)).all())
