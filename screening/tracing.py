"""Tracing services: attach crossings to travellers, merge and split them, re-resolve, raise risk flags.

The pure engines do the thinking (`screening.engine.resolve` groups crossings into travellers,
`screening.engine.patterns` finds trafficking indicators); this module keeps them and the database
in step. Long because resolution, the per-process index and the risk rules share that index's lock,
generation counter and session hooks; the traveller pages' queries are in `screening.journeys`, bulk
tracing in `screening.trace`.

Each process (web worker, CLI) holds one `TravellerIndex`, restored lazily from the stored
assignment (never in create_app, never re-resolved on start). A counter in `tracing_state` is bumped
in every transaction that moves crossings between travellers; a process whose index is not exactly one
step behind the counter it bumped reloads first. On PostgreSQL the bump is a row lock held until
commit, so two workers never attach against the same stale picture.

In the index a stored traveller's key is the negative of its id; a traveller the index founds for a
new crossing is keyed by that crossing's (positive) id until it is stored and re-keyed.
"""

from __future__ import annotations

import csv
import logging
import threading
import time
from array import array
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, event, func, or_, select, text, update
from sqlalchemy.orm import Session, joinedload

from notifications import services as notifications
from screening import online
from screening.counters import bump_counter, read_counter
from screening.engine import patterns
from screening.engine.normalize import shift
from screening.engine.phrases import Phrase, say
from screening.engine.resolve import JudgementConflict, Judgements, ResolveConfig, TravellerIndex
from screening.engine.resolve_batch import BatchStats, resolve_shards
from screening.models import (
    Crossing,
    Flag,
    FlagEvent,
    Person,
    RiskFindingRecord,
    TracingState,
    Traveller,
    TravellerJudgement,
    TravellerJudgementCrossing,
    TravellerSpelling,
    dob_of,
)
from screening.records import IDENTITY_COLUMNS, record_of, resolve_config
from tip_cases import audit
from tip_cases.extensions import db
from tip_cases.models import BorderPost, User

log = logging.getLogger("tsela.tracing")

SUSPECT_CATEGORIES = ("suspect", "recruiter", "transporter", "exploiter", "smuggler")


def N_(text: str) -> str:  # noqa: N802 - the gettext convention for "mark, translate when shown"
    """Marks a stored English text for `pybabel extract`; pages translate it when they show it."""
    return text


# Stored in English on the flag (its evidence label and action); pages say them in the reader's language.
RULE_LABELS = {
    "unaccompanied_minor": N_("Minor without a recorded parent or guardian"),
    "frequent_minor_companions": N_("Adult crossing with several different minors or young women"),
    "no_return": N_("Young person exited and has not returned"),
    "many_identities": N_("Several documents or name spellings in a short time"),
    "suspect_companion": N_("Crossing with a suspect person of interest"),
}
RULE_ACTIONS = {
    "unaccompanied_minor": N_("Ask who the child travels with and check consent; call the Child and Gender "
                              "Protection Unit (CGPU) if no parent or guardian can be confirmed."),
    "frequent_minor_companions": N_("Do not alert the traveller. Record every companion and the vehicle; "
                                    "inform the anti-TIP unit and refer to second line."),
    "no_return": N_("Inform the anti-TIP unit; check with the family and partner agencies across the border."),
    "many_identities": N_("Refer to second line: check each document against the traveller."),
    "suspect_companion": N_("Do not alert the suspect. Speak to the companion alone if it is safe; inform the "
                            "anti-TIP unit."),
}


class TracingError(ValueError):
    """A refusal a person can read; `field` names the input at fault."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


# --- configuration ---------------------------------------------------------------------------------


def online_attach() -> bool:
    """True (the default): attach through the database key table (screening.online), no per-process index.

    TRACING_ATTACH = "memory" keeps the earlier per-process TravellerIndex (for comparison benchmarks).
    """
    return current_app.config.get("TRACING_ATTACH", "database") != "memory"


def pattern_config() -> patterns.PatternConfig:
    """PatternConfig from TRACING_* keys (e.g. TRACING_NO_RETURN_DAYS=30); unset keys keep the defaults."""
    c = current_app.config
    values = {}
    for name, default in patterns.PatternConfig.__dataclass_fields__.items():
        key = f"TRACING_{name.upper()}"
        if key in c:
            kind = type(default.default)
            values[name] = kind(c[key]) if kind is not bool else bool(c[key])
    values.setdefault("timezone", c.get("TIMEZONE", "Africa/Maseru"))
    return patterns.PatternConfig(**values)


def enabled_rules() -> list[str]:
    rules = current_app.config.get("TRACING_RULES") or list(patterns.RULES)
    return [r for r in rules if r in patterns.RULES]


def evaluation_days() -> int:
    """How far back the pattern rules look (and how far back `screening patterns` reads)."""
    cfg = pattern_config()
    return int(current_app.config.get("TRACING_LOOKBACK_DAYS",
                                      max(cfg.repeat_window_days, cfg.identity_window_days, cfg.no_return_days)))


# --- records ---------------------------------------------------------------------------------------

# --- judgements ------------------------------------------------------------------------------------


_JUDGEMENTS = (select(TravellerJudgement.id, TravellerJudgement.verdict, TravellerJudgementCrossing.crossing_id,
                      TravellerJudgementCrossing.side)
               .join(TravellerJudgementCrossing, TravellerJudgementCrossing.judgement_id == TravellerJudgement.id)
               .order_by(TravellerJudgement.decided_at, TravellerJudgement.id))


def load_judgements(session: Session) -> Judgements:
    """Stored merges and splits as must/cannot-link pairs, replayed in the order they were made.

    A merge makes every crossing of both travellers one person; a later split cuts that group in two
    and says the two sides are different people.
    """
    rows = session.execute(_JUDGEMENTS).all()
    ordered: dict[int, tuple[str, dict[str, list]]] = {}
    for jid, verdict, cid, side in rows:
        ordered.setdefault(jid, (verdict, {"a": [], "b": []}))[1][side].append(cid)
    group_of: dict[int, int] = {}
    groups: dict[int, set] = {}
    cannot: set[frozenset] = set()
    next_group = 0
    for verdict, sides in ordered.values():
        if verdict == "merge":
            members = set(sides["a"]) | set(sides["b"])
            for g in {group_of[c] for c in members if c in group_of}:
                members |= groups.pop(g)
            next_group += 1
            groups[next_group] = members
            for c in members:
                group_of[c] = next_group
        else:
            moved, stay = set(sides["a"]), set(sides["b"])
            cannot.update(frozenset((a, b)) for a in moved for b in stay)
            for g in {group_of[c] for c in moved if c in group_of}:
                out = groups[g] & moved
                if out == groups[g]:
                    continue
                groups[g] -= out
                next_group += 1
                groups[next_group] = out
                for c in out:
                    group_of[c] = next_group
    must = set()
    for members in groups.values():
        first, *rest = sorted(members)
        must.update(frozenset((first, c)) for c in rest)
    return Judgements(must, cannot)


# --- the per-process index -------------------------------------------------------------------------


def read_generation(session: Session) -> int:
    return read_counter(session, TracingState.generation)


def bump_generation(session: Session) -> int:
    """Move the counter in the caller's transaction; returns the new value."""
    return bump_counter(session, TracingState.generation)


class Tracer:
    """This process's TravellerIndex and the generation it reflects."""

    def __init__(self) -> None:
        self.index: TravellerIndex | None = None
        self.generation: int | None = None
        self.model = None  # the match model the index was built with
        self.lock = threading.RLock()

    def build(self, session: Session, config: ResolveConfig) -> TravellerIndex:
        # Pseudonymised crossings (retention) are forgotten: they keep their traveller, not their identity.
        rows = session.execute(select(*IDENTITY_COLUMNS).where(Crossing.traveller_id.is_not(None),
                                                                Crossing.pseudonymised_at.is_(None))
                               .execution_options(yield_per=20_000))
        self.index = TravellerIndex.restore(((record_of(r), -r.traveller_id) for r in rows), config,
                                            load_judgements(session))
        self.model = config.match.model
        log.info("traveller index restored: %d crossings, %d travellers", len(self.index),
                 self.index.traveller_count)
        return self.index

    def begin_change(self, session: Session) -> TravellerIndex:
        """Bump the counter (serialising writers) and return an index that reflects everything committed.

        Call with `self.lock` held; the change is undone in memory if the transaction rolls back.
        """
        generation = bump_generation(session)
        config = resolve_config()
        # A refit model (this process's or another's) rebuilds the index, so new crossings are
        # attached with the weights the stored travellers were resolved with.
        if self.index is None or self.generation != generation - 1 or self.model is not config.match.model:
            self.build(session, config)
        self.generation = generation
        session.info["tracing_tracer"] = self
        assert self.index is not None
        return self.index


def get_tracer() -> Tracer:
    app = current_app._get_current_object()
    tracer = app.extensions.get("tsela_tracer")
    if tracer is None:
        tracer = app.extensions.setdefault("tsela_tracer", Tracer())
    return tracer


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    session.info.pop("tracing_tracer", None)


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is None:
        tracer = session.info.pop("tracing_tracer", None)
        if tracer is not None:
            tracer.index, tracer.generation = None, None  # memory holds changes the database does not


# --- attach on arrival -----------------------------------------------------------------------------


def _store_new_travellers(session: Session, index: TravellerIndex, keys: Iterable[int], now: datetime) -> dict:
    """Give travellers the index founded (positive keys) a row and re-key them; {old key: traveller id}."""
    fresh = sorted({k for k in keys if k > 0})
    if not fresh:
        return {}
    rows = [Traveller(created_at=now, updated_at=now) for _ in fresh]
    session.add_all(rows)
    session.flush()
    out = {}
    for key, t in zip(fresh, rows, strict=True):
        index.rekey(key, -t.id)
        out[key] = t.id
    return out


def attach_pending(*, now: datetime, session: Session | None = None) -> set[int]:
    """Attach every stored crossing that has no traveller yet (this batch, and any left from before).

    Returns the traveller ids touched. Runs in the caller's transaction.
    """
    session = session or db.session()
    if online_attach():
        return _attach_pending_online(session, now)
    tracer = get_tracer()
    with tracer.lock:
        rows = session.execute(select(*IDENTITY_COLUMNS, Crossing.crossed_at)
                               .where(Crossing.traveller_id.is_(None), Crossing.pseudonymised_at.is_(None))
                               .order_by(Crossing.id)).all()
        if not rows:
            return set()
        index = tracer.begin_change(session)
        for r in rows:
            if r.id not in index._slot_of_crossing:  # else restored from a row another transaction assigned
                index.attach(record_of(r))
        # A later crossing of the batch may join two travellers, one founded earlier in the batch or a
        # stored one: each crossing's traveller is read after the whole batch, not as it was attached.
        joined = index.take_joined()
        keys = {r.id: index.key_of(r.id) for r in rows}
        new_ids = _store_new_travellers(session, index, [*keys.values(), *joined.values()], now)

        def tid(key: int) -> int:
            return new_ids[key] if key > 0 else -key

        assignment = {cid: tid(k) for cid, k in keys.items()}
        emptied = {-gone: tid(k) for gone, k in joined.items() if gone < 0}  # stored travellers merged

    for gone, survivor in emptied.items():
        online.merge_into(session, gone, survivor)
    at = {r.id: r.crossed_at for r in rows}
    online.set_travellers(session, [(cid, at[cid], t) for cid, t in assignment.items()])
    touched = set(assignment.values()) | set(emptied.values())
    refresh_summaries(session, touched | set(emptied), now)
    return touched


def _attach_pending_online(session: Session, now: datetime) -> set[int]:
    """attach_pending through the database (screening.online); rows another worker holds are its own."""

    # crossed_at too: the traveller_id update addresses each crossing by its primary key (id, crossed_at);
    # direction for the summaries (update_summaries).
    stmt = select(*IDENTITY_COLUMNS, Crossing.crossed_at, Crossing.direction).where(
        Crossing.traveller_id.is_(None), Crossing.pseudonymised_at.is_(None))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=Crossing, skip_locked=True)
    else:
        bump_generation(session)  # SQLite: take the single writer's lock before reading candidates
    rows = session.execute(stmt.order_by(Crossing.id)).all()
    if not rows:
        return set()
    assignment, emptied = online.attach_rows(session, rows, config=resolve_config(),
                                             judgements=load_judgements(session), now=now)
    touched = set(assignment.values()) | set(emptied.values())
    update_summaries(session, _arrivals(rows, assignment), now, full=set(emptied) | set(emptied.values()))
    return touched


def _arrivals(rows: list, assignment: dict[int, int]) -> list[tuple[int, int, datetime, str | None]]:
    """(traveller id, crossing id, crossed_at, direction) of newly attached crossings, for update_summaries."""
    return [(assignment[r.id], r.id, r.crossed_at, r.direction) for r in rows]


def attach_before_insert(session: Session) -> bool:
    """True when store_crossings attaches a batch before storing it (PostgreSQL, database attach).

    The crossings are then stored with their traveller id: no NULL traveller_id index entries, no
    UPDATE and no rollup update trigger per batch, and no pending-rows query planned over every month
    partition (docs/performance.md, session 7). SQLite stores, then attaches what is pending.
    """
    return online_attach() and session.get_bind().dialect.name == "postgresql"


@dataclass
class Attached:
    """What `attach_new` decided for crossings not yet stored; `on_arrival` finishes it once they are."""

    traveller_of: dict[int, int]  # crossing id -> traveller id
    touched: set[int]  # travellers given a crossing, or surviving an automatic merge
    emptied: set[int]  # travellers merged into another by a new crossing
    arrivals: list = field(default_factory=list)  # update_summaries' (traveller, crossing, crossed_at, direction)
    survivors: set[int] = field(default_factory=set)  # travellers an automatic merge gave another's crossings


def attach_new(session: Session, rows: list, *, now: datetime) -> Attached:
    """Place crossings that are about to be stored (store_crossings then stores them with their traveller).

    `rows` carry the crossings' ids (drawn from the sequence), identity columns, crossed_at and direction, in
    id order. Runs in the caller's transaction; pass the result to `on_arrival` once they are stored.
    """
    if not rows:
        return Attached({}, set(), set())
    assignment, emptied = online.attach_rows(session, rows, config=resolve_config(),
                                             judgements=load_judgements(session), now=now, stored=False)
    return Attached(assignment, set(assignment.values()) | set(emptied.values()), set(emptied),
                    _arrivals(rows, assignment), set(emptied.values()))


def attach_stranded(*, now: datetime, session: Session | None = None) -> set[int]:
    """The scheduler's sweep: attach crossings stored without a traveller (by a bulk load, an import made
    with attach off, an older version), so none stays unattached; returns the travellers touched.

    Where store_crossings attaches before storing, the API path never runs the pending-rows query;
    this job is then what finds the rest, within one job interval.
    """
    session = session or db.session()
    touched = attach_pending(now=now, session=session)
    if touched:
        session.execute(update(Traveller).where(Traveller.id.in_(touched)).values(patterns_due=True))
    return touched


def _most_used(counts: Counter):
    """The most counted value; a tie goes to the value counted first (callers count in crossing-id order, so
    the value of the earliest crossing): deterministic, and the same for crossings and for spellings."""
    return max(counts.items(), key=lambda kv: kv[1])[0] if counts else None


def _identity_summary(rows: Iterable, weight: Callable[[Any], int]) -> dict:
    """Most used name, date of birth, sex and nationality of rows in crossing-id order, each weighing weight(row)."""
    name: Counter = Counter()
    dob: Counter = Counter()
    sex: Counter = Counter()
    nat: Counter = Counter()
    for r in rows:
        n = weight(r)
        name[(r.surname or "", r.given_names or "")] += n
        if r.dob_year is not None:
            dob[(r.dob_year, r.dob_month, r.dob_day, r.dob_precision)] += n
        if r.sex:
            sex[r.sex] += n
        if r.nationality:
            nat[r.nationality] += n
    surname, given = _most_used(name)
    y, m, d, p = _most_used(dob) or (None, None, None, None)
    return {"surname": surname, "given_names": given, "sex": _most_used(sex), "nationality": _most_used(nat),
            "dob_year": y, "dob_month": m, "dob_day": d, "dob_precision": p}


def _utc(at: datetime) -> datetime:
    """Comparable instants: SQLite returns naive (UTC) datetimes, new crossings carry aware ones."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def refresh_summaries(session: Session, traveller_ids: Iterable[int], now: datetime,
                      due: Iterable[int] = ()) -> None:
    """Recompute list columns from all the travellers' crossings: most used spelling and date of birth, counts,
    first/last crossing; the travellers in `due` are also marked for the risk rules (patterns_due).

    Reads every crossing of each traveller (its cost grows with history): attach uses update_summaries,
    which agrees with this (ties go to the earliest crossing id in both)."""
    ids = sorted(set(traveller_ids))
    updates = []
    for start in range(0, len(ids), 900):
        chunk = ids[start:start + 900]
        per: dict[int, list] = defaultdict(list)
        for r in session.execute(select(Crossing.traveller_id, Crossing.id, Crossing.surname, Crossing.given_names,
                                        Crossing.sex, Crossing.nationality, Crossing.dob_year, Crossing.dob_month,
                                        Crossing.dob_day, Crossing.dob_precision, Crossing.crossed_at,
                                        Crossing.direction).where(online.in_ids(session, Crossing.traveller_id,
                                                                                chunk))):
            per[r.traveller_id].append(r)
        for tid in chunk:
            rows = sorted(per.get(tid, []), key=lambda r: r.id)
            if not rows:
                updates.append({"id": tid, "crossing_count": 0, "updated_at": now})
                continue
            last = max(rows, key=lambda r: _utc(r.crossed_at))  # a tie: the lowest id
            updates.append({"id": tid, **_identity_summary(rows, lambda _r: 1), "crossing_count": len(rows),
                            "first_crossed_at": min(rows, key=lambda r: _utc(r.crossed_at)).crossed_at,
                            "last_crossed_at": last.crossed_at, "last_direction": last.direction, "updated_at": now})
    _write_summaries(session, updates, due)


def _write_summaries(session: Session, updates: list[dict], due: Iterable[int]) -> None:
    due = set(due)
    for u in updates:
        if u["id"] in due:
            u["patterns_due"] = True
    online.update_rows(session, Traveller.__table__, updates)


_SPELLING_SUMMARY = (TravellerSpelling.traveller_id, TravellerSpelling.crossing_id, TravellerSpelling.crossing_count,
                     TravellerSpelling.surname, TravellerSpelling.given_names, TravellerSpelling.sex,
                     TravellerSpelling.nationality, TravellerSpelling.dob_year, TravellerSpelling.dob_month,
                     TravellerSpelling.dob_day, TravellerSpelling.dob_precision)


@online.per_dialect
def _summary_reads(dialect: str):
    """update_summaries' two reads: the travellers (locked) and their spelling counts."""
    return (select(Traveller.id, Traveller.crossing_count, Traveller.first_crossed_at, Traveller.last_crossed_at,
                   Traveller.last_direction).where(online.ids_param(dialect, Traveller.id))
            .order_by(Traveller.id).with_for_update(key_share=True),
            select(*_SPELLING_SUMMARY).where(online.ids_param(dialect, TravellerSpelling.traveller_id)))


def update_summaries(session: Session, arrivals: list[tuple[int, int, datetime, str | None]], now: datetime, *,
                     full: Iterable[int] = (), due: Iterable[int] = ()) -> None:
    """The attach path's refresh_summaries, with the same result, in a cost independent of history.

    `arrivals`: (traveller id, crossing id, crossed_at, direction) of the crossings just attached (their
    spellings already counted by online.attach_rows). Identity columns come from the travellers' spelling
    counts, count and first/last crossing from the traveller row and the new crossings: two index lookups per
    traveller, not a read of every crossing in every month partition. The traveller rows are locked first, so
    a concurrent attach to the same traveller reads the spellings after this one commits; FOR NO KEY UPDATE
    (key_share), the lock an UPDATE of non-key columns takes, so that the foreign-key checks of the risk job's
    findings (FOR KEY SHARE on travellers) do not wait on it, nor it on them (a deadlock seen at 20M).

    refresh_summaries instead for travellers in `full` (automatic merges) and for any whose spelling counts do
    not add up to its crossings (pseudonymised crossings have no spelling; a summary never computed) or whose
    last crossing ties with a new one in time but not in direction (the lowest id wins; the row keeps no id).
    """
    new: dict[int, list] = defaultdict(list)
    for tid, cid, at, direction in arrivals:
        new[tid].append((cid, at, direction))
    full = set(full)
    ids = sorted(set(new) - full)
    updates = []
    locked, spelt = _summary_reads(online.dialect_of(session))
    for start in range(0, len(ids), 900):
        chunk = ids[start:start + 900]
        travellers = {r.id: r for r in session.execute(locked, {"ids": chunk})}
        spellings: dict[int, list] = defaultdict(list)
        for r in session.execute(spelt, {"ids": chunk}):
            spellings[r.traveller_id].append(r)
        for tid in chunk:
            t, mine = travellers[tid], new[tid]
            rows = sorted(spellings.get(tid, []), key=lambda r: r.crossing_id)
            count = (t.crossing_count or 0) + len(mine)
            latest = max(mine, key=lambda m: (_utc(m[1]), -m[0]))  # a tie: the lowest id
            first = min(mine, key=lambda m: _utc(m[1]))[1]
            if t.last_crossed_at is None or not t.crossing_count or _utc(latest[1]) > _utc(t.last_crossed_at):
                last = (latest[1], latest[2])
            elif _utc(latest[1]) < _utc(t.last_crossed_at) or all(
                    m[2] == t.last_direction for m in mine if _utc(m[1]) == _utc(t.last_crossed_at)):
                last = (t.last_crossed_at, t.last_direction)  # a tie in time and direction: either is the answer
            else:
                last = None
            if last is None or sum(r.crossing_count for r in rows) != count:
                full.add(tid)
                continue
            if t.crossing_count and t.first_crossed_at is not None and _utc(t.first_crossed_at) <= _utc(first):
                first = t.first_crossed_at
            updates.append({"id": tid, **_identity_summary(rows, lambda r: r.crossing_count), "crossing_count": count,
                            "first_crossed_at": first, "last_crossed_at": last[0], "last_direction": last[1],
                            "updated_at": now})
    due = set(due)
    _write_summaries(session, updates, due)
    refresh_summaries(session, full, now, due & full)


# --- investigators' judgements ---------------------------------------------------------------------


def _member_ids(session: Session, traveller_id: int) -> list[int]:
    return list(session.execute(select(Crossing.id).where(Crossing.traveller_id == traveller_id)
                                .order_by(Crossing.crossed_at, Crossing.id)).scalars())


def _judgement(session: Session, verdict: str, traveller_id: int, other_id: int, reason: str, actor,
               now: datetime, a: Sequence[int], b: Sequence[int]) -> TravellerJudgement:
    j = TravellerJudgement(verdict=verdict, traveller_id=traveller_id, other_traveller_id=other_id, reason=reason,
                           decided_by_user_id=actor.id if isinstance(actor, User) else None, decided_at=now)
    j.crossings = ([TravellerJudgementCrossing(crossing_id=c, side="a") for c in a]
                   + [TravellerJudgementCrossing(crossing_id=c, side="b") for c in b])
    session.add(j)
    session.flush()
    return j


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise TracingError(say("say why: the reason is kept with the judgement"), "reason")
    return reason


def merge_travellers(traveller: Traveller, other: Traveller, *, reason: str, actor, now: datetime,
                     session: Session | None = None) -> Traveller:
    """One person from two: every crossing of both is judged the same person from now on."""
    session = session or db.session()
    reason = _reason(reason)
    if other.id == traveller.id:
        raise TracingError(say("choose another traveller to merge with"), "other_id")
    if other.merged_into_id is not None or not other.crossing_count:
        raise TracingError(say("traveller {id} was merged into another; use that one", id=other.id), "other_id")
    if online_attach():
        kept = _merge_online(session, traveller, other)
    else:
        tracer = get_tracer()
        with tracer.lock:
            index = tracer.begin_change(session)
            try:
                kept = -index.merge(-traveller.id, -other.id)
            except JudgementConflict as exc:
                raise TracingError(say("an investigator judged some of these crossings to be different people; "
                                   "they cannot be merged"), "other_id") from exc
    survivor, gone = (traveller, other) if kept == traveller.id else (other, traveller)
    a, b = _member_ids(session, survivor.id), _member_ids(session, gone.id)
    session.execute(update(Crossing).where(Crossing.traveller_id == gone.id).values(traveller_id=survivor.id)
                    .execution_options(synchronize_session=False))
    session.execute(update(RiskFindingRecord).where(RiskFindingRecord.traveller_id == gone.id)
                    .values(traveller_id=survivor.id).execution_options(synchronize_session=False))
    gone.merged_into_id = survivor.id
    j = _judgement(session, "merge", survivor.id, gone.id, reason, actor, now, a, b)
    if online_attach():  # every crossing of the two is judged now: each becomes a candidate profile of its own
        online.refresh_keys(session, (survivor.id, gone.id), resolve_config())
    refresh_summaries(session, (survivor.id, gone.id), now)
    audit.record("traveller.merge", "traveller", survivor.id, detail={"merged": gone.id, "judgement_id": j.id})
    session.expire_all()
    return session.get(Traveller, survivor.id)


def _merge_online(session: Session, traveller: Traveller, other: Traveller) -> int:
    """Refuse a merge an earlier split forbids; returns the id kept (the traveller with more crossings)."""

    online.lock_travellers(session, (traveller.id, other.id))
    a, b = set(_member_ids(session, traveller.id)), set(_member_ids(session, other.id))
    for pair in load_judgements(session).cannot_link:
        x, y = tuple(pair)
        if (x in a and y in b) or (x in b and y in a):
            raise TracingError(say("an investigator judged some of these crossings to be different people; "
                               "they cannot be merged"), "other_id")
    return other.id if len(b) > len(a) else traveller.id


def split_traveller(traveller: Traveller, crossing_ids: Iterable[int], *, reason: str, actor, now: datetime,
                    session: Session | None = None) -> Traveller:
    """The chosen crossings become a traveller of their own, judged a different person for good."""
    session = session or db.session()
    reason = _reason(reason)
    members = _member_ids(session, traveller.id)
    moved = sorted(set(crossing_ids))
    if not moved or not set(moved) < set(members):
        raise TracingError(say("choose some, but not all, of this traveller's crossings"), "crossings")
    stay = [c for c in members if c not in set(moved)]
    new = Traveller(created_at=now, updated_at=now)
    session.add(new)
    session.flush()
    if online_attach():
        online.lock_travellers(session, (traveller.id,))
    else:
        tracer = get_tracer()
        with tracer.lock:
            index = tracer.begin_change(session)
            index.split(-traveller.id, moved, new_key=-new.id)
    session.execute(update(Crossing).where(Crossing.id.in_(moved)).values(traveller_id=new.id)
                    .execution_options(synchronize_session=False))
    j = _judgement(session, "split", traveller.id, new.id, reason, actor, now, moved, stay)
    if online_attach():  # after the judgement: its crossings are read as profiles of their own
        online.refresh_keys(session, (traveller.id, new.id), resolve_config())
    refresh_summaries(session, (traveller.id, new.id), now)
    audit.record("traveller.split", "traveller", traveller.id,
                 detail={"new_traveller": new.id, "crossings": moved, "judgement_id": j.id})
    session.expire_all()
    return session.get(Traveller, new.id)


# --- re-resolution ---------------------------------------------------------------------------------


@dataclass
class ResolveSummary:
    crossings: int = 0
    travellers_before: int = 0
    travellers_after: int = 0
    crossings_moved: int = 0
    travellers_created: int = 0
    travellers_emptied: int = 0
    batch: BatchStats | None = None  # out of core only
    component_cap: int | None = None
    processes: int = 1
    travellers_changed: int = 0  # gained or lost a crossing (their keys refreshed, their rules run)
    keys_refreshed: int | None = None  # travellers whose keys were refreshed; None: the table was rebuilt
    seconds: dict[str, float] = field(default_factory=dict)  # by stage, for the operator's log

    def lines(self) -> list[str]:
        out = [f"crossings: {self.crossings}", f"travellers before: {self.travellers_before}",
               f"travellers after: {self.travellers_after}", f"crossings moved: {self.crossings_moved}",
               f"travellers created: {self.travellers_created}", f"travellers emptied: {self.travellers_emptied}",
               f"travellers changed: {self.travellers_changed}"]
        if "traveller keys" in self.seconds:
            out.append("traveller keys: rebuilt from every crossing" if self.keys_refreshed is None
                       else f"traveller keys: refreshed for {self.keys_refreshed} travellers")
        if self.batch is not None:
            b = self.batch
            cap = f"cap {self.component_cap}" if self.component_cap else "no cap"
            out.append(f"components over the cap: {b.over_cap_components} ({cap}); largest component "
                       f"{b.largest_component} crossings, largest piece resolved {b.largest_piece}; crossings cut "
                       f"by tier {b.tier_crossings}, last-resort pieces {b.last_resort_pieces}; "
                       f"{b.shards} shards over {self.processes} process{'es' if self.processes > 1 else ''}")
        if self.seconds:
            out.append("seconds by stage: " + ", ".join(f"{k} {v:.1f}" for k, v in self.seconds.items()))
        return out


def resolve_all(*, now: datetime, session: Session | None = None, out_of_core: bool = False,
                workdir: str | None = None, processes: int | None = None) -> ResolveSummary:
    """Resolve every crossing again (new thresholds, a large import), honouring every stored judgement.

    Existing traveller ids are kept where most of a traveller's crossings stay together, so pages,
    case links and flags keep pointing at the same person. `out_of_core` resolves the same partition
    in bounded memory (`screening.engine.resolve_batch`, DuckDB files under `workdir`), over `processes`
    worker processes (default `TRACING_RESOLVE_PROCESSES`).
    """
    session = session or db.session()
    tracer = get_tracer()
    cfg = resolve_config()
    if out_of_core:
        with tracer.lock:
            summary = _resolve_all_out_of_core(session, tracer, cfg, now, workdir,
                                               processes or current_app.config["TRACING_RESOLVE_PROCESSES"])
        audit.record("traveller.resolve", "traveller", None, detail={
            "crossings": summary.crossings, "before": summary.travellers_before,
            "after": summary.travellers_after, "moved": summary.crossings_moved, "out_of_core": True,
            "components_cut": summary.batch.over_cap_components if summary.batch else 0})
        return summary
    with tracer.lock:
        started = time.perf_counter()
        bump_generation(session)
        rows = session.execute(select(*IDENTITY_COLUMNS).where(Crossing.pseudonymised_at.is_(None))
                               .order_by(Crossing.id)
                               .execution_options(yield_per=20_000)).all()
        old_of = {r.id: r.traveller_id for r in rows}
        summary = ResolveSummary(crossings=len(rows),
                                 travellers_before=len({t for t in old_of.values() if t is not None}))
        index = TravellerIndex.build((record_of(r) for r in rows), cfg, load_judgements(session))
        del rows
        clusters: dict[Any, list[int]] = defaultdict(list)
        for cid, key in index.assignment().items():
            clusters[key].append(cid)
        used: set[int] = set()
        mapping, rows_new = _traveller_ids(session, clusters, old_of.get, used, now)
        summary.travellers_created = len(rows_new)
        moves = []
        for key, cids in clusters.items():
            tid = mapping[key]
            moves.extend({"id": c, "traveller_id": tid} for c in cids if old_of[c] != tid)
        for start in range(0, len(moves), 5000):
            session.execute(update(Crossing), moves[start:start + 5000])
        summary.crossings_moved = len(moves)
        for key in list(clusters):
            index.rekey(key, -mapping[key])
        summary.travellers_after = len(clusters)
        # Travellers left empty point at where most of their crossings went.
        went: dict[int, Counter] = defaultdict(Counter)
        for m in moves:
            if old_of[m["id"]] is not None:
                went[old_of[m["id"]]][m["traveller_id"]] += 1
        emptied = [t for t in went if t not in used]
        for tid in emptied:
            session.execute(update(Traveller).where(Traveller.id == tid)
                            .values(merged_into_id=went[tid].most_common(1)[0][0]))
        summary.travellers_emptied = len(emptied)
        touched = set(went) | {m["traveller_id"] for m in moves}
        refresh_summaries(session, touched, now, due=touched)
        summary.travellers_changed = len(touched)
        summary.seconds["resolve and write"] = time.perf_counter() - started
        if online_attach():
            del index
            tracer.index, tracer.generation = None, None
            _refresh_keys(session, cfg, summary, touched)
        else:
            tracer.index = index
            tracer.model = cfg.match.model
            tracer.generation = read_generation(session)
            session.info["tracing_tracer"] = tracer
    audit.record("traveller.resolve", "traveller", None, detail={
        "crossings": summary.crossings, "before": summary.travellers_before, "after": summary.travellers_after,
        "moved": summary.crossings_moved})
    return summary


def _resolve_all_out_of_core(session: Session, tracer: Tracer, cfg: ResolveConfig, now: datetime,
                             workdir: str | None, processes: int = 1) -> ResolveSummary:
    """`resolve_all` one shard of whole travellers at a time: memory bounded by the largest shard.

    Crossings are streamed into DuckDB (the stored old traveller of each kept in an array indexed by
    crossing id, 8 bytes a crossing). Each shard's clusters take old traveller ids as `resolve_all`
    does, most crossings first; an old traveller whose crossings now fall in two shards goes to the
    first shard's cluster that claims it (the in-memory path would give it to the larger cluster).
    """
    bump_generation(session)
    old = array("q")
    summary = ResolveSummary()

    def records():
        rows = session.execute(select(*IDENTITY_COLUMNS).where(Crossing.pseudonymised_at.is_(None))
                               .order_by(Crossing.id).execution_options(yield_per=20_000))
        for r in rows:
            if r.id >= len(old):
                old.extend([-1] * max(r.id + 1 - len(old), len(old)))
            old[r.id] = -1 if r.traveller_id is None else r.traveller_id
            summary.crossings += 1
            yield record_of(r)

    summary.travellers_before = session.execute(
        select(func.count(func.distinct(Crossing.traveller_id))).where(Crossing.pseudonymised_at.is_(None))
    ).scalar_one()
    used: set[int] = set()
    went: dict[int, Counter] = defaultdict(Counter)
    summary.batch = BatchStats()
    summary.component_cap = current_app.config["TRACING_COMPONENT_CAP"] or None
    summary.processes = processes
    started = time.perf_counter()
    for shard in resolve_shards(records(), cfg, load_judgements(session), workdir=workdir,
                                component_cap=summary.component_cap, stats=summary.batch,
                                processes=processes):
        clusters: dict[Any, list[int]] = defaultdict(list)
        for cid, key in shard:
            clusters[key].append(cid)
        del shard
        mapping, rows_new = _traveller_ids(session, clusters, lambda c: old[c] if old[c] >= 0 else None, used, now)
        summary.travellers_created += len(rows_new)
        summary.travellers_after += len(clusters)
        moves = [{"id": c, "traveller_id": mapping[key]} for key, cids in clusters.items() for c in cids
                 if old[c] != mapping[key]]
        for start in range(0, len(moves), 5000):
            session.execute(update(Crossing), moves[start:start + 5000])
        summary.crossings_moved += len(moves)
        touched = {m["traveller_id"] for m in moves}
        for m in moves:
            if old[m["id"]] >= 0:
                went[old[m["id"]]][m["traveller_id"]] += 1
                touched.add(old[m["id"]])
        refresh_summaries(session, touched, now, due=touched)  # due: the command's rules read them back
        summary.travellers_changed += len(touched)  # one split over two shards counts twice: a bound
        for t in rows_new:
            session.expunge(t)
    # Travellers left empty point at where most of their crossings went.
    emptied = [t for t in went if t not in used]
    for tid in emptied:
        session.execute(update(Traveller).where(Traveller.id == tid)
                        .values(merged_into_id=went[tid].most_common(1)[0][0]))
    summary.travellers_emptied = len(emptied)
    summary.seconds["resolve and write"] = time.perf_counter() - started
    # Every process restores its index (or reads the key table) from what was just written.
    tracer.index, tracer.generation = None, None
    if online_attach():
        _refresh_keys(session, cfg, summary, None)
    return summary


def _refresh_keys(session: Session, cfg: ResolveConfig, summary: ResolveSummary,
                  touched: set[int] | None) -> None:
    """The key table after a re-resolution, timed for the command's log: only the travellers it changed
    (None: those marked due, which it marked), unless they are most of them or the table is empty.

    A nightly re-resolution moves a few crossings in a thousand; rebuilding every traveller's keys for
    them cost more than the resolution itself at 5M (docs/performance.md, session 19).
    """
    started = time.perf_counter()
    whole = (summary.travellers_changed * 2 > summary.travellers_after
             or not online.has_keys(session))
    if whole:
        online.rebuild_keys(session, cfg)
    else:
        if touched is None:
            touched = set(session.execute(select(Traveller.id).where(Traveller.patterns_due.is_(True))).scalars())
        online.refresh_keys(session, touched, cfg)
    summary.keys_refreshed = None if whole else len(touched)
    summary.seconds["traveller keys"] = time.perf_counter() - started


def _traveller_ids(session: Session, clusters: dict[Any, list[int]], old_of: Callable[[int], int | None],
                   used: set[int], now: datetime) -> tuple[dict[Any, int], list[Traveller]]:
    """Each cluster keeps the stored traveller most of its crossings had (largest cluster first, each id
    once, `used` across calls), so pages, case links and flags keep pointing at the same person; the
    rest get new travellers. Returns cluster key -> traveller id, and the new Traveller rows."""
    mapping: dict[Any, int] = {}
    for key, cids in sorted(clusters.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        for tid, _n in Counter(t for t in map(old_of, cids) if t is not None).most_common():
            if tid not in used:
                mapping[key] = tid
                used.add(tid)
                break
    fresh = [k for k in clusters if k not in mapping]
    rows_new = [Traveller(created_at=now, updated_at=now) for _ in fresh]
    session.add_all(rows_new)
    session.flush()
    mapping.update({k: t.id for k, t in zip(fresh, rows_new, strict=True)})
    return mapping, rows_new


def write_assignment(out, session: Session | None = None) -> int:
    """external_id,traveller_id for every crossing; returns the number of rows."""
    session = session or db.session()
    writer = csv.writer(out)
    writer.writerow(["external_id", "traveller_id"])
    n = 0
    for ext, tid in session.execute(select(Crossing.external_id, Crossing.traveller_id).order_by(Crossing.id)
                                    .execution_options(yield_per=20_000)):
        writer.writerow([ext, "" if tid is None else tid])
        n += 1
    return n


# --- facts for the pattern rules -------------------------------------------------------------------

_FACT_COLUMNS = (Crossing.id, Crossing.traveller_id, Crossing.border_post_id, Crossing.direction,
                 Crossing.crossed_at, Crossing.travel_group, Crossing.vehicle_registration, Crossing.dob_year,
                 Crossing.dob_month, Crossing.dob_day, Crossing.dob_precision, Crossing.sex, Crossing.surname,
                 Crossing.given_names, Crossing.document_number, Crossing.guardian_relation,
                 Crossing.guardian_document_number, Crossing.consent_document, Crossing.document_type,
                 Crossing.document_country)


def _fact(r, posts: dict[int, str]) -> patterns.CrossingFact:
    return patterns.CrossingFact(
        crossing_id=r.id, traveller=r.traveller_id, post=posts.get(r.border_post_id, str(r.border_post_id)),
        direction=r.direction, at=r.crossed_at, group=r.travel_group, vehicle=r.vehicle_registration,
        dob=dob_of(r), sex=r.sex, surname=r.surname or "", given_names=r.given_names or "",
        document=r.document_number or "", guardian_relation=r.guardian_relation,
        guardian_document=r.guardian_document_number or "", consent=bool(r.consent_document),
        document_type=r.document_type, document_country=r.document_country)


def _rows_of(session: Session, traveller_ids: Iterable[int], since: datetime | None,
             seen: dict[int, Any]) -> list:
    """These travellers' crossings, each held once in `seen` (by id) whatever query read it first."""
    ids = sorted(set(traveller_ids))
    out = []
    for start in range(0, len(ids), 900):
        stmt = select(*_FACT_COLUMNS).where(Crossing.traveller_id.in_(ids[start:start + 900]))
        if since is not None:
            stmt = stmt.where(Crossing.crossed_at >= since)
        out.extend(seen.setdefault(r.id, r) for r in session.execute(stmt))
    return out


def _unseen(result, seen: dict[int, Any]) -> list:
    """Rows not met before. Windows of neighbouring crossings overlap, and in dense traffic each row comes back
    once per window that holds it: keeping only the first copy is what bounds a chunk's memory."""
    out = []
    for r in result:
        if r.id not in seen:
            seen[r.id] = r
            out.append(r)
    return out


_WINDOWS = 150  # windows per neighbour query


def _neighbours(session: Session, rows: list, minutes: float, seen: dict[int, Any] | None = None) -> list:
    """Crossings at the same post, in the same direction, within `minutes`, or in the same travel group,
    not already in `seen` (they join it)."""
    seen = {} if seen is None else seen
    window = timedelta(minutes=minutes)
    out = []
    pg = online._is_pg(session)
    for start in range(0, len(rows), _WINDOWS):
        chunk = rows[start:start + _WINDOWS]
        groups = sorted({r.travel_group for r in chunk if r.travel_group})
        if pg:
            out.extend(_unseen(session.execute(_WINDOWS_PG, {
                "posts": [r.border_post_id for r in chunk], "dirs": [r.direction for r in chunk],
                "lo": [shift(r.crossed_at, -window) for r in chunk],
                "hi": [shift(r.crossed_at, window) for r in chunk]}), seen))
            if groups:
                out.extend(_unseen(session.execute(select(*_FACT_COLUMNS).where(
                    Crossing.traveller_id.is_not(None), Crossing.travel_group.in_(groups))), seen))
            continue
        # Padded to a whole batch (a repeated window changes nothing): every statement then has one shape, so
        # the engine's compiled-statement cache keeps one entry instead of one per remainder, ~1 MiB each,
        # which grew the scheduler by ~2 MiB per nightly chunk.
        chunk = chunk + chunk[-1:] * (_WINDOWS - len(chunk))
        near = [and_(Crossing.border_post_id == r.border_post_id, Crossing.direction == r.direction,
                     Crossing.crossed_at >= shift(r.crossed_at, -window),
                     Crossing.crossed_at <= shift(r.crossed_at, window))
                for r in chunk]
        if groups:
            near.append(Crossing.travel_group.in_(groups))
        out.extend(_unseen(session.execute(select(*_FACT_COLUMNS)
                                           .where(Crossing.traveller_id.is_not(None), or_(*near))), seen))
    return out


# PostgreSQL: the windows as arrays, each looked up on its own (a lateral subquery, fenced by OFFSET 0 so
# that it stays a nested loop): each window's partition is chosen at run time, where an OR of 150 windows
# was planned against every month partition (at 10 years, 126 partitions: ~350 ms planning and ~450 ms
# running per statement; this way ~30 ms and a few ms). One statement shape whatever the chunk's size.
# The column names are the model's; every value is a bound parameter.
_WINDOWS_PG = text(
    "SELECT x.* FROM unnest(CAST(:posts AS integer[]), CAST(:dirs AS varchar[]), CAST(:lo AS timestamptz[]), "  # noqa: S608
    "CAST(:hi AS timestamptz[])) AS w(post, dir, lo, hi) CROSS JOIN LATERAL (SELECT "
    + ", ".join(f"c.{col.key}" for col in _FACT_COLUMNS)
    + " FROM crossings AS c WHERE c.border_post_id = w.post AND c.direction = w.dir AND c.crossed_at >= w.lo "
    "AND c.crossed_at <= w.hi AND c.traveller_id IS NOT NULL OFFSET 0) AS x").columns(*_FACT_COLUMNS)


def neighbourhood(session: Session, traveller_ids: Iterable[int], since: datetime | None,
                  minutes: float) -> tuple[list, set[int]]:
    """Crossings the rules need to judge these travellers: theirs, their companions', and those around both."""
    t0 = set(traveller_ids)
    seen: dict[int, Any] = {}
    own = _rows_of(session, t0, since, seen)
    near = _neighbours(session, own, minutes, seen)
    t1 = {r.traveller_id for r in near} - t0
    theirs = _rows_of(session, t1, since, seen)
    _neighbours(session, theirs, minutes, seen)
    return list(seen.values()), t0 | t1


def _suspect_travellers(session: Session, traveller_ids: set[int] | None) -> set[int]:
    """Travellers with an identity flag on a suspect (not dismissed as another person), among `traveller_ids`.

    The flags first (a small table): where there are none, no statement touches crossings, which PostgreSQL
    would plan over every month partition; then their crossings by id, as one array (one statement text,
    prepared once per connection; SQLite's are chunked as elsewhere)."""
    crossing_ids = list(session.execute(
        select(Flag.crossing_id).join(Person, Person.id == Flag.person_id)
        .where(Flag.kind == "identity", Flag.status != "not_same_person", Person.category.in_(SUSPECT_CATEGORIES),
               Flag.crossing_id.is_not(None))).scalars())
    if not crossing_ids or traveller_ids is not None and not traveller_ids:
        return set()
    found: set[int] = set()
    ids = sorted(set(crossing_ids))
    for start in range(0, len(ids), 900):
        found.update(session.execute(select(Crossing.traveller_id).where(
            online.in_ids(session, Crossing.id, ids[start:start + 900]), Crossing.traveller_id.is_not(None)))
            .scalars())
    return found if traveller_ids is None else found & traveller_ids


def _risk_flagged(session: Session, traveller_ids: Iterable[int]) -> set[int]:
    ids = sorted(set(traveller_ids))
    out: set[int] = set()
    for start in range(0, len(ids), 900):
        stmt = (select(RiskFindingRecord.traveller_id).join(Flag, Flag.id == RiskFindingRecord.flag_id)
                .where(Flag.status != "not_same_person", RiskFindingRecord.traveller_id.in_(ids[start:start + 900])))
        out.update(session.execute(stmt).scalars())
    return out


def evaluate_patterns(*, now: datetime, traveller_ids: Iterable[int] | None = None,
                      session: Session | None = None, chunk: int | None = None) -> list[Flag]:
    """Run the risk rules for these travellers (every recently seen traveller when None); raise new findings.

    The nightly run over every recent traveller takes them `chunk` at a time (TRACING_PATTERN_CHUNK),
    each with its neighbourhood, so the scheduler holds one chunk's crossings, never the whole look-back
    window's: at national traffic that window is millions of crossings.
    """
    session = session or db.session()
    if traveller_ids is not None:
        since = now - timedelta(days=evaluation_days())
        return _evaluate(session, set(traveller_ids), since, now, subjects_only=False)
    return [flag for flags in evaluate_recent(now=now, session=session, chunk=chunk) for flag in flags]


def evaluate_recent(*, now: datetime, session: Session | None = None, chunk: int | None = None) -> Iterator[list[Flag]]:
    """The flags raised for each chunk of recently seen travellers, chunk by chunk.

    The caller commits after each chunk (screening.handlers.nightly_rules), so neither the crossings read
    nor the flags raised pile up in the session. A first run over a history's backlog still peaks higher
    where traffic is dense around a chunk (docs/performance.md, session 6).
    """
    session = session or db.session()
    since = now - timedelta(days=evaluation_days())
    slices = Slices(chunk or current_app.config["TRACING_PATTERN_CHUNK"], pattern_rows())
    last = 0
    while True:
        # Keyset over travellers.last_crossed_at (kept by refresh_summaries on every attach, merge, split
        # and resolution): the index answers it without reading the window's crossings.
        ids = list(session.execute(select(Traveller.id).where(Traveller.last_crossed_at >= since, Traveller.id > last)
                                   .order_by(Traveller.id).limit(slices.size)).scalars())
        if not ids:
            return
        read: list[int] = []
        yield _evaluate(session, set(ids), since, now, subjects_only=True, read=read)
        slices.observe(len(ids), read[0] if read else 0)
        last = ids[-1]


def pattern_rows() -> int:
    return current_app.config["TRACING_PATTERN_ROWS"]


class Slices:
    """How many travellers the rules take at once: as many as read about `rows` crossings, at most `cap`.

    A traveller's neighbourhood grows with the history around them (a decade's traveller has ~40 crossings
    and their companions theirs), so a fixed count of travellers lets the scheduler's memory grow with
    history; sizing each slice by what the last one read keeps it flat (docs/performance.md, session 11).
    """

    def __init__(self, cap: int, rows: int) -> None:
        self.cap, self.rows = max(cap, 1), max(rows, 1)
        self.size = max(1, self.cap // 10)  # a first slice small enough for the densest history; it grows

    def observe(self, travellers: int, read: int) -> None:
        """Size the next slice from this one: `read` crossings for `travellers` travellers (growing at most
        fourfold a step, so one sparse slice does not send the next into a dense stretch at full size)."""
        per = read / max(travellers, 1)
        fits = int(self.rows / per) if per else self.cap
        self.size = max(1, min(self.cap, 4 * self.size, fits))


def _evaluate(session: Session, ids: set[int], since: datetime, now: datetime, *, subjects_only: bool,
              read: list[int] | None = None) -> list[Flag]:
    """The rules over these travellers' neighbourhood; findings about their companions too unless subjects_only
    (a nightly chunk: each companion is the subject of its own chunk, and judged there). `read` receives
    how many crossings the neighbourhood held (Slices sizes the next chunk by it)."""
    if not ids:
        return []
    cfg = pattern_config()
    posts = dict(session.execute(select(BorderPost.id, BorderPost.code)).all())
    rows, scope = neighbourhood(session, ids, since, cfg.together_minutes)
    if read is not None:
        read.append(len(rows))
    if not rows:
        return []
    facts = [_fact(r, posts) for r in rows]
    in_facts = {f.traveller for f in facts}
    findings = patterns.evaluate(facts, now=now, config=cfg, rules=enabled_rules(),
                                 suspects=_suspect_travellers(session, in_facts),
                                 flagged=_risk_flagged(session, in_facts))
    keep = ids if subjects_only else scope
    findings = [f for f in findings if f.travellers[0] in keep]
    by_id = {f.crossing_id: f for f in facts}
    return raise_risk_flags(findings, by_id, now=now, session=session)


def finding_key(f: patterns.RiskFinding) -> str:
    """What makes two findings the same: per crossing for minors and no-return, per pair for suspects."""
    t = f.travellers[0]
    if f.rule in ("unaccompanied_minor", "no_return"):
        return f"{f.rule}:{t}:{f.crossings[0]}"
    if f.rule == "suspect_companion":
        return f"{f.rule}:{t}:{f.travellers[1]}"
    return f"{f.rule}:{t}"


def _priority(f: patterns.RiskFinding) -> str:
    if f.severity == "high" and f.rule in ("unaccompanied_minor", "frequent_minor_companions", "suspect_companion"):
        return "urgent" if f.rule != "suspect_companion" else "high"
    return "high" if f.severity == "high" else "normal"


def _said(sentence: str) -> list | None:
    """A sentence's templates and values, so the page can say it in the reader's language ("sentences" keeps
    the English for exports and older readers); None for a sentence that is plain text."""
    return sentence.to_json() if isinstance(sentence, Phrase) else None


def raise_risk_flags(findings: list[patterns.RiskFinding], facts: dict[Any, patterns.CrossingFact], *,
                     now: datetime, session: Session) -> list[Flag]:
    """One risk flag per finding, routed to the post of the traveller's latest crossing in the evidence.

    A finding already flagged is not raised again; while its flag is open, new evidence is added to it.
    """
    if not findings:
        return []
    keyed = {finding_key(f): f for f in findings}
    # With their flags in the same query: a slice meets many findings raised already (its companions'),
    # and reading each one's flag on its own was a query per finding.
    existing = {r.finding_key: r for r in session.execute(
        select(RiskFindingRecord).options(joinedload(RiskFindingRecord.flag))
        .where(RiskFindingRecord.finding_key.in_(list(keyed)))).scalars()}
    posts = dict(session.execute(select(BorderPost.id, BorderPost.code)).all())
    post_ids = {code: pid for pid, code in posts.items()}
    new: list[tuple[str, patterns.RiskFinding, Flag]] = []
    for key, f in keyed.items():
        evidence = {"rule": f.rule, "label": RULE_LABELS.get(f.rule, f.rule), "severity": f.severity,
                    "sentences": list(f.evidence), "says": [_said(s) for s in f.evidence],
                    "travellers": list(f.travellers), "crossings": list(f.crossings)}
        record = existing.get(key)
        if record is not None:
            flag = record.flag
            if flag.is_open and set(f.crossings) - set((flag.evidence or {}).get("crossings", [])):
                flag.evidence = evidence
                flag.reason = " ".join(f.evidence)
                session.add(FlagEvent(flag_id=flag.id, at=now, actor_label="tracing", action="evidence_added",
                                      note=f"{len(f.crossings)} crossings in the evidence"))
            continue
        own = [facts[c] for c in f.crossings if c in facts and facts[c].traveller == f.travellers[0]]
        anchor = max(own, key=lambda c: c.at) if own else facts[f.crossings[0]]
        flag = Flag(kind="risk", crossing_id=anchor.crossing_id, person_id=None, rule=f.rule, evidence=evidence,
                    border_post_id=post_ids.get(anchor.post) or int(anchor.post), score=0.0, features=None,
                    priority=_priority(f), reason=" ".join(f.evidence), action=RULE_ACTIONS.get(f.rule, ""),
                    status="new", created_at=now)
        session.add(flag)
        new.append((key, f, flag))
    # One flush gives every new flag its id (a backlog raises thousands at once: a flush and a publication
    # each were most of the rules' time, docs/performance.md, session 21).
    session.flush()
    for key, f, flag in new:
        session.add(RiskFindingRecord(finding_key=key, rule=f.rule, traveller_id=f.travellers[0], flag_id=flag.id,
                                      created_at=now, updated_at=now))
        session.add(FlagEvent(flag_id=flag.id, at=now, actor_label="tracing", action="raised", note=f.rule))
    notifications.publish_many([
        {"event": "risk.found", "ref": f"flag:{flag.id}", "subject_type": "flag", "subject_id": flag.id,
         "post_code": posts.get(flag.border_post_id), "priority": flag.priority, "kind": "risk",
         "data": {"flag_id": flag.id, "rule": f.rule, "severity": f.severity, "traveller_id": f.travellers[0],
                  "travellers": list(f.travellers), "crossing_ids": list(f.crossings)}}
        for _, f, flag in new], now=now)
    for _, f, flag in new:
        log.info("risk flag %s raised: rule %s traveller %s", flag.id, f.rule, f.travellers[0])
    session.flush()
    return [flag for _, _, flag in new]


def on_arrival(crossing_ids: Sequence[int], *, now: datetime, session: Session | None = None,
               attached: Attached | None = None) -> list[Flag]:
    """What store_crossings calls: attach the new crossings, then run the rules around their travellers.

    `attached`: what `attach_new` decided before they were stored; only the summaries are left to do.
    """
    session = session or db.session()
    if not crossing_ids:
        return []
    now_rules = current_app.config.get("TRACING_EVALUATE_ON_ARRIVAL", False)
    if attached is not None:
        touched = attached.touched
        # The summaries' UPDATE also marks the travellers for the patterns job: one statement, not two.
        update_summaries(session, attached.arrivals, now, full=attached.emptied | attached.survivors,
                         due=() if now_rules else touched)
    else:
        touched = attach_pending(now=now, session=session)
        if touched and not now_rules:
            session.execute(update(Traveller).where(Traveller.id.in_(touched)).values(patterns_due=True))
    if now_rules:
        return evaluate_patterns(now=now, traveller_ids=touched, session=session)
    return []


_DUE_SLICE = 100  # travellers judged at once by the patterns-due job


def evaluate_due(*, now: datetime, limit: int = 500, session: Session | None = None,
                 commit: Callable[[], None] | None = None) -> int:
    """The scheduler's job: run the risk rules for travellers with new crossings; returns flags raised.

    Risk rules look at weeks of crossings around each traveller, too slow for a border system's
    batch; identity flags stay immediate, risk flags follow within one job interval.
    """
    session = session or db.session()
    ids = list(session.execute(select(Traveller.id).where(Traveller.patterns_due.is_(True))
                               .order_by(Traveller.id).limit(limit)).scalars())
    if not ids:
        return 0
    # Judged in slices: each traveller's neighbourhood takes in its companions' crossings too, and 500 at
    # once read 66,584 crossings (+118 MiB in the scheduler) at a year of 1M crossings; a slice's rows are
    # freed before the next is read (docs/performance.md, session 7), and each slice is sized by what the
    # last one read, so a decade's denser neighbourhoods do not grow the scheduler (session 11).
    raised = 0
    slices = Slices(_DUE_SLICE, pattern_rows())
    since = now - timedelta(days=evaluation_days())
    start = 0
    while start < len(ids):
        part = ids[start:start + slices.size]
        read: list[int] = []
        raised += len(_evaluate(session, set(part), since, now, subjects_only=False, read=read))
        slices.observe(len(part), read[0] if read else 0)
        start += len(part)
        # Each slice done on its own: its travellers locked in id order (as attach locks them) and cleared,
        # then committed where the caller says so, so an attach never waits on the whole job's locks.
        session.execute(select(Traveller.id).where(online.in_ids(session, Traveller.id, part))
                        .order_by(Traveller.id).with_for_update(key_share=True)).all()
        session.execute(update(Traveller).where(online.in_ids(session, Traveller.id, part)).values(patterns_due=False))
        if commit is not None:
            commit()
    return raised
