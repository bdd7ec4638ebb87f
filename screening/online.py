"""Online attach through the database: no process holds a copy of all travellers.

A new crossing's blocking keys (screening.engine.blocking, the keys batch resolution blocks on) are
looked up in `traveller_keys`; the candidate travellers' distinct profiles are read from `crossings`
(a bounded query), restored into a small `TravellerIndex`, and the crossing is placed by that index's
own `attach`, so scoring, thresholds, ambiguity and judgements are exactly the engine's. The name-frequency
table the scores are adjusted by is stored too (`name_token_counts`), read only for the tokens compared.

Memory per attach is proportional to the candidates (at most `ResolveConfig.max_candidates` travellers),
not to history; nothing is kept between attaches.

Concurrency: two workers attaching crossings of the same person must not found two travellers. Each
transaction takes, before reading candidates, a PostgreSQL transaction-level advisory lock on every
slot its crossings' probe keys map to (`blocking.lock_slots`, in one sorted order). A crossing's probe
keys include every key it is stored under, so two crossings that could find each other share a slot
and the second waits for the first to commit. On SQLite the transaction starts with a write (the
tracing generation), and SQLite has a single writer: the same serialisation.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from screening.engine.blocking import lock_slots, probe_keys, store_keys
from screening.engine.matching import NameFrequencies, Prepared, prepare
from screening.engine.resolve import Judgements, ResolveConfig, TravellerIndex, TravellerRecord
from screening.models import (
    Crossing,
    NameTokenCount,
    RiskFindingRecord,
    Traveller,
    TravellerJudgementCrossing,
    TravellerKey,
)

log = logging.getLogger("tsela.tracing")

LOCK_NAMESPACE = 0x7453  # first half of the two-int advisory lock: Tsela's traveller keys
LOCK_SLOTS = 1024  # locks per transaction at most (PostgreSQL's lock table is shared and finite)
CANDIDATE_ROWS = 2000  # key rows read per route at most: the bound of one candidate query
_TOTALS = ("#total", "#sum_counts", "#sum_squares")


def _is_pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _insert(session: Session, table):
    """INSERT ... ON CONFLICT DO NOTHING on either database."""
    if _is_pg(session):
        from sqlalchemy.dialects.postgresql import insert as pg_insert
        return pg_insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert
    return sqlite_insert(table).on_conflict_do_nothing()


# --- locks -----------------------------------------------------------------------------------------


def lock_keys(session: Session, keys: Iterable[int]) -> int:
    """Take the advisory locks guarding these keys until the transaction ends; returns how many."""
    slots = lock_slots(list(keys), LOCK_SLOTS)
    if slots and _is_pg(session):
        # unnest keeps the array's (sorted) order: every transaction locks in the same order.
        session.execute(text("SELECT count(pg_advisory_xact_lock(:ns, s)) FROM unnest(CAST(:slots AS integer[])) s"),
                        {"ns": LOCK_NAMESPACE, "slots": slots})
    return len(slots)


# --- the stored name-frequency table ---------------------------------------------------------------


class StoredFrequencies:
    """The name-frequency table as stored, plus this transaction's changes, flushed once in token order."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.delta: dict[str, int] = defaultdict(int)
        self.cache: dict[str, int] = {}
        rows = dict(session.execute(select(NameTokenCount.token, NameTokenCount.n)
                                    .where(NameTokenCount.token.in_(_TOTALS))).all())
        self.total, self.sum_counts, self.sum_squares = (int(rows.get(k, 0)) for k in _TOTALS)

    def fill(self, target: NameFrequencies, tokens: set[str]) -> None:
        """Make `target` the stored table, for the tokens that will be compared."""
        missing = [t for t in tokens if t not in self.cache]
        if missing:
            found = dict(self.session.execute(select(NameTokenCount.token, NameTokenCount.n)
                                              .where(NameTokenCount.token.in_(missing))).all())
            for t in missing:
                self.cache[t] = int(found.get(t, 0))
        target.counts = {t: self.cache[t] + self.delta.get(t, 0) for t in tokens}
        target.total, target.sum_counts, target.sum_squares = self.total, self.sum_counts, self.sum_squares

    def add(self, p: Prepared) -> None:
        for t in NameFrequencies.tokens_of(p):
            n = self.cache.get(t, 0) + self.delta[t]
            self.delta[t] += 1
            self.sum_counts += 1
            self.sum_squares += 2 * n + 1
        self.total += 1

    def flush(self) -> None:
        if not self.delta and not self.total:
            return
        changes = sorted(self.delta.items())
        stmt = _insert(self.session, NameTokenCount.__table__)
        self.session.execute(stmt, [{"token": t, "n": 0} for t, _ in changes]
                             + [{"token": k, "n": 0} for k in _TOTALS])
        for t, d in changes:
            self.session.execute(update(NameTokenCount).where(NameTokenCount.token == t)
                                 .values(n=NameTokenCount.n + d))
        # Totals last (every transaction locks tokens, then totals, in one order): the increments
        # of concurrent transactions add up; a reader sees the committed totals.
        added = sum(self.delta.values())
        for k, v in zip(_TOTALS, (self._added_profiles, added, self._added_squares), strict=True):
            if v:
                self.session.execute(update(NameTokenCount).where(NameTokenCount.token == k)
                                     .values(n=NameTokenCount.n + v))
        self.delta.clear()

    def start(self) -> None:
        self._base = (self.total, self.sum_counts, self.sum_squares)

    @property
    def _added_profiles(self) -> int:
        return self.total - self._base[0]

    @property
    def _added_squares(self) -> int:
        return self.sum_squares - self._base[2]


# --- candidates ------------------------------------------------------------------------------------

_IDENTITY = (Crossing.surname, Crossing.given_names, Crossing.sex, Crossing.nationality, Crossing.dob_year,
             Crossing.dob_month, Crossing.dob_day, Crossing.dob_precision, Crossing.document_type,
             Crossing.document_number, Crossing.document_country, Crossing.traveller_id)


def candidate_travellers(session: Session, routes: list[list[int]], cap: int) -> list[int]:
    """Travellers filed under the keys, documents route first, in key order, at most `cap`."""
    out: dict[int, None] = {}
    for keys in routes:
        if not keys or len(out) >= cap:
            continue
        rows = session.execute(select(TravellerKey.key, TravellerKey.traveller_id)
                               .where(TravellerKey.key.in_(keys)).limit(CANDIDATE_ROWS)).all()
        pos = {k: i for i, k in enumerate(keys)}
        for _k, tid in sorted(rows, key=lambda r: (pos[r.key], r.traveller_id)):
            out.setdefault(tid, None)
            if len(out) >= cap:
                break
    return list(out)


def candidate_records(session: Session, traveller_ids: list[int]) -> list[tuple[TravellerRecord, int]]:
    """(record, -traveller id) of each distinct identity of these travellers, and of each judged crossing.

    One row per spelling rather than per crossing: a commuter's thousand identical crossings are one
    profile to the index (and to this query's result).
    """
    from screening.tracing import record_of

    if not traveller_ids:
        return []
    judged = select(TravellerJudgementCrossing.crossing_id)
    base = (Crossing.traveller_id.in_(traveller_ids), Crossing.pseudonymised_at.is_(None))
    grouped = session.execute(select(func.min(Crossing.id).label("id"), *_IDENTITY)
                              .where(*base, Crossing.id.not_in(judged)).group_by(*_IDENTITY)).all()
    single = session.execute(select(Crossing.id, *_IDENTITY).where(*base, Crossing.id.in_(judged))).all()
    rows = sorted((*grouped, *single), key=lambda r: r.id)
    return [(record_of(r), -r.traveller_id) for r in rows]


# --- attach ----------------------------------------------------------------------------------------


class OnlineAttacher:
    """Attaches one transaction's pending crossings through the database; discard after use."""

    def __init__(self, session: Session, config: ResolveConfig, judgements: Judgements, now: datetime) -> None:
        self.session, self.config, self.judgements, self.now = session, config, judgements, now
        self.frequencies = StoredFrequencies(session)
        self.frequencies.start()
        self.min_doc = config.match.min_document_length
        self.merged: dict[int, int] = {}  # traveller emptied by an automatic merge -> survivor

    def attach(self, record: TravellerRecord, p: Prepared, routes: list[list[int]]) -> tuple[int, bool]:
        """Place one crossing; (traveller id, founded a new traveller). Writes keys and merges at once."""
        session = self.session
        cands = candidate_travellers(session, routes, self.config.max_candidates)
        index = TravellerIndex.restore(candidate_records(session, cands), self.config, self.judgements)
        tokens = set(NameFrequencies.tokens_of(p))
        for q in (index._profiles):  # the profiles the new one may be compared with
            if q is not None:
                tokens |= NameFrequencies.tokens_of(q)
        self.frequencies.fill(index.frequencies, tokens)
        before = index.frequencies.total
        key = index.attach(record)[0]
        if index.frequencies.total != before:  # a new profile: it counts in the stored table
            self.frequencies.add(p)
        founded = key > 0
        if founded:
            t = Traveller(created_at=self.now, updated_at=self.now)
            session.add(t)
            session.flush()
            tid = t.id
        else:
            tid = -key
        gone = [c for c in cands if c != tid and -c not in index._tnum_of_key]
        for other in gone:
            self._merge_into(other, tid)
        session.execute(update(Crossing).where(Crossing.id == record.crossing_id).values(traveller_id=tid)
                        .execution_options(synchronize_session=False))
        add_keys(session, tid, store_keys(p, self.min_doc))
        return tid, founded

    def _merge_into(self, gone: int, survivor: int) -> None:
        """The index joined two stored travellers through the new crossing: the database follows."""
        session = self.session
        session.execute(update(Crossing).where(Crossing.traveller_id == gone).values(traveller_id=survivor)
                        .execution_options(synchronize_session=False))
        session.execute(update(RiskFindingRecord).where(RiskFindingRecord.traveller_id == gone)
                        .values(traveller_id=survivor).execution_options(synchronize_session=False))
        move_keys(session, gone, survivor)
        session.execute(update(Traveller).where(Traveller.id == gone).values(merged_into_id=survivor)
                        .execution_options(synchronize_session=False))
        self.merged[gone] = survivor
        log.info("traveller %s joined traveller %s through a new crossing", gone, survivor)


def add_keys(session: Session, traveller_id: int, keys: Iterable[int]) -> None:
    rows = [{"key": k, "traveller_id": traveller_id} for k in dict.fromkeys(keys)]
    if rows:
        session.execute(_insert(session, TravellerKey.__table__), rows)


def move_keys(session: Session, source: int, target: int) -> None:
    keys = list(session.execute(select(TravellerKey.key).where(TravellerKey.traveller_id == source)).scalars())
    session.execute(delete(TravellerKey).where(TravellerKey.traveller_id == source))
    add_keys(session, target, keys)


def attach_rows(session: Session, rows: list, *, config: ResolveConfig, judgements: Judgements,
                now: datetime) -> dict[int, int]:
    """Attach pending crossings (rows of tracing._IDENTITY_COLUMNS) in id order; {crossing id: traveller id}."""
    from screening.tracing import record_of

    ensure_keys(session)
    work = []
    all_keys: list[int] = []
    for r in rows:
        rec = record_of(r)
        p = prepare(rec.identity())
        docs, rest = probe_keys(p, config)
        work.append((rec, p, [docs, rest]))
        all_keys.extend(docs)
        all_keys.extend(rest)
    lock_keys(session, all_keys)
    attacher = OnlineAttacher(session, config, judgements, now)
    out: dict[int, int] = {}
    for rec, p, routes in work:
        out[rec.crossing_id], _ = attacher.attach(rec, p, routes)
    attacher.frequencies.flush()
    # A traveller merged away later in the batch: its earlier crossings went with it.
    for cid, tid in out.items():
        while tid in attacher.merged:
            tid = attacher.merged[tid]
        out[cid] = tid
    return out


# --- keeping the tables in step --------------------------------------------------------------------


def refresh_keys(session: Session, traveller_ids: Iterable[int], config: ResolveConfig) -> None:
    """Recompute the keys of these travellers from their crossings (after a split, retention)."""
    ids = sorted(set(traveller_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        session.execute(delete(TravellerKey).where(TravellerKey.traveller_id.in_(chunk)))
        for rec, neg in candidate_records(session, chunk):
            add_keys(session, -neg, store_keys(prepare(rec.identity()), config.match.min_document_length))


def rebuild_keys(session: Session, config: ResolveConfig) -> tuple[int, int]:
    """Recompute both tables from every attached crossing (upgrade, re-resolution); (key rows, tokens).

    Streams crossings in traveller order, so memory holds one traveller's profiles and the token table.
    """
    from screening.tracing import record_of

    session.execute(delete(TravellerKey))
    session.execute(delete(NameTokenCount))
    judged = set(session.execute(select(TravellerJudgementCrossing.crossing_id)).scalars())
    freq = NameFrequencies()
    rows_out: list[dict] = []
    n_keys = 0
    current, seen, keys = None, set(), set()
    prepared: dict[tuple, Prepared] = {}

    def emit():
        nonlocal n_keys
        if current is not None:
            rows_out.extend({"key": k, "traveller_id": current} for k in keys)
            n_keys += len(keys)

    stmt = (select(Crossing.id, *_IDENTITY).where(Crossing.traveller_id.is_not(None),
                                                  Crossing.pseudonymised_at.is_(None))
            .order_by(Crossing.traveller_id, Crossing.id).execution_options(yield_per=20_000))
    for r in session.execute(stmt):
        if r.traveller_id != current:
            emit()
            current, seen, keys = r.traveller_id, set(), set()
            if len(rows_out) >= 50_000:
                _write_keys(session, rows_out)
                rows_out = []
            if len(prepared) > 200_000:
                prepared.clear()
        rec = record_of(r)
        raw = rec.raw_key()
        p = prepared.get(raw)
        if p is None:
            p = prepared[raw] = prepare(rec.identity())
        sig = (p.variants, p.dob, p.sex, p.nationality, p.documents, p.address)
        if r.id in judged or sig not in seen:  # one profile per spelling per traveller, as the index
            seen.add(sig)
            freq.add(p)
            keys.update(store_keys(p, config.match.min_document_length))
    emit()
    _write_keys(session, rows_out)
    counts = [{"token": t, "n": n} for t, n in freq.counts.items()]
    counts += [{"token": k, "n": v} for k, v in zip(_TOTALS, (freq.total, freq.sum_counts, freq.sum_squares),
                                                     strict=True)]
    for start in range(0, len(counts), 5000):
        session.execute(insert(NameTokenCount), counts[start:start + 5000])
    return n_keys, len(freq.counts)


def _write_keys(session: Session, rows: list[dict]) -> None:
    if not rows:
        return
    if _is_pg(session):
        cur = session.connection().connection.cursor()
        with cur.copy("COPY traveller_keys (key, traveller_id) FROM STDIN") as copy:
            for r in rows:
                copy.write_row((r["key"], r["traveller_id"]))
        return
    for start in range(0, len(rows), 5000):
        session.execute(insert(TravellerKey), rows[start:start + 5000])


def ensure_keys(session: Session) -> None:
    """Fill the tables on the first attach after an upgrade (travellers exist, no key does)."""
    if session.execute(select(TravellerKey.key).limit(1)).first() is not None:
        return
    if session.execute(select(Crossing.id).where(Crossing.traveller_id.is_not(None)).limit(1)).first() is None:
        return
    if _is_pg(session):  # one worker rebuilds; the others wait for it and find the keys
        session.execute(text("SELECT pg_advisory_xact_lock(:ns, :slot)"), {"ns": LOCK_NAMESPACE, "slot": LOCK_SLOTS})
        if session.execute(select(TravellerKey.key).limit(1)).first() is not None:
            return
    from screening.tracing import resolve_config

    n, t = rebuild_keys(session, resolve_config())
    log.info("traveller keys rebuilt: %d keys, %d name tokens", n, t)
