"""Online attach through the database: no process holds a copy of all travellers.

A new crossing's blocking keys (screening.engine.blocking, the keys batch resolution blocks on) are
looked up in `traveller_keys`; the candidate travellers' distinct profiles are read from
`traveller_spellings` (one index lookup per traveller, whatever the history), restored into a small
`TravellerIndex`, and the crossing is placed by that index's
own `attach`, so scoring, thresholds, ambiguity and judgements are exactly the engine's. The name-frequency
table the scores are adjusted by is stored too (`name_token_counts`), read only for the tokens compared.

Memory per attach is proportional to the candidates (at most `ResolveConfig.attach_candidates` travellers,
`for_attach`), not to history; nothing is kept between attaches.

Concurrency: two workers attaching crossings of the same person must not found two travellers. Each
transaction takes, before reading candidates, a PostgreSQL transaction-level advisory lock on every
slot its crossings' probe keys map to (`blocking.lock_slots`, in one sorted order). A crossing's probe
keys include every key it is stored under, so two crossings that could find each other share a slot
and the second waits for the first to commit. On PostgreSQL the keys themselves are read just before the
locks and only those another transaction changed meanwhile are read again under them
(`read_keys_then_lock`, screening.key_changes). On SQLite the transaction starts with a write (the
tracing generation), and SQLite has a single writer: the same serialisation.

Long because the three tables attach reads (traveller_keys, traveller_spellings, name_token_counts) are
kept in step here, by the functions that attach, merge, refresh and rebuild, in the caller's transaction:
split apart, each would import the other's locks and dialect helpers.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import threading
import weakref
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import String, any_, bindparam, case, delete, event, func, insert, literal, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from screening import key_changes
from screening.engine.blocking import lock_slots, probe_keys, store_keys
from screening.engine.matching import NameFrequencies, Prepared
from screening.engine.resolve import Judgements, ResolveConfig, TravellerIndex, TravellerRecord
from screening.models import (
    Crossing,
    NameTokenCount,
    RiskFindingRecord,
    Traveller,
    TravellerJudgementCrossing,
    TravellerKey,
    TravellerSpelling,
)
from screening.records import IDENTITY_COLUMNS, record_of, resolve_config

log = logging.getLogger("tsela.tracing")

LOCK_NAMESPACE = 0x7453  # first half of the two-int advisory lock: Tsela's traveller keys, coarse slots
FINE_NAMESPACE = 0x7454  # the same keys over fine slots
LOCK_SLOTS = 1024  # coarse slots: a batch never takes more (PostgreSQL's lock table is shared and finite)
FINE_SLOTS = 1 << 20  # fine slots: two small batches rarely share one
_PENDING_COUNTS = "tsela_name_token_counts"  # session.info: this transaction's counts, written at commit
CANDIDATE_ROWS = 2000  # key rows read per route at most: the bound of one candidate query
_TOTALS = ("#total", "#sum_counts", "#sum_squares")
# Crossings attached and not pseudonymised (the sum of traveller_spellings.crossing_count): the population the
# prior is scaled to, as the batch resolution scales it to the crossings it resolves.
_CROSSINGS = "#crossings"
_COUNTERS = (*_TOTALS, _CROSSINGS)
# Attach reads the documents' travellers first (and the namesakes only of the crossings those do not settle)
# when the namesakes that could be left out number more than this many times the documents' travellers: the
# extra index and settle checks cost about what restoring those travellers costs (docs/performance.md, session 24).
DOCUMENTS_FIRST = 1


def _is_pg(session: Session) -> bool:
    return dialect_of(session) == "postgresql"


# The dialect's insert(), which has on_conflict_do_nothing / do_update on both databases.
_INSERTS = {"postgresql": pg_insert, "sqlite": sqlite_insert}


def in_ids(session: Session, column, ids: list):
    """`column IN ids`; on PostgreSQL `column = ANY(array)`, one statement text whatever the number of ids,
    so the driver prepares it once per connection and the server does not plan it over every month
    partition each time (docs/performance.md, session 7)."""
    if _is_pg(session):
        from sqlalchemy.dialects.postgresql import ARRAY
        return column == any_(literal(list(ids), ARRAY(column.type)))
    return column.in_(ids)


def dialect_of(session: Session) -> str:
    return session.get_bind().dialect.name


def ids_param(dialect: str, column, name: str = "ids"):
    """`column` among the ids bound as `name` at execution (a list): `in_ids` for a statement built once per
    dialect (`per_dialect`). A statement built per call costs about 0.2 ms of CPU to construct and key for
    the compiled cache, a few times an attach of one crossing."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY
        return column == any_(bindparam(name, type_=ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


# A statement builder memoised by dialect name: the statement, built once, keeps its cache key.
per_dialect = functools.cache


@functools.cache
def _pg_dialect():
    from sqlalchemy.dialects import postgresql

    return postgresql.dialect()


def _array_casts(table, columns: tuple[str, ...]) -> str:
    pg = _pg_dialect()

    def array_of(column) -> str:  # text, never varchar(n): an explicit cast would cut a long value silently
        return "TEXT" if isinstance(column.type, String) else column.type.compile(dialect=pg)

    return ", ".join(f"CAST(:{c} AS {array_of(table.c[c])}[])" for c in columns)


@functools.cache
def unnest_insert(table, columns: tuple[str, ...], tail: str = "ON CONFLICT DO NOTHING"):
    """PostgreSQL: `INSERT ... SELECT * FROM unnest(an array per column) <tail>`, rows bound by `unnest_params`.

    One short statement, parsed and planned once, whatever the number of rows. An executemany sends a
    statement per row (a batch of 500 crossings files ~5,000 key rows), and SQLAlchemy's insertmanyvalues
    (an INSERT ... RETURNING of many rows) writes every row into the SQL text, which psycopg re-parses on
    each call: 160 kB for 500 new travellers (docs/performance.md, session 27). Rows go in array order.
    """
    # Names from the model's own Table (table.c[c] refuses any other), the rows bound as arrays.
    return text(f"INSERT INTO {table.name} ({', '.join(columns)}) "  # noqa: S608
                f"SELECT * FROM unnest({_array_casts(table, columns)}) {tail}")


@functools.cache
def unnest_update(table, columns: tuple[str, ...]):
    """PostgreSQL: `UPDATE ... FROM unnest(an array per column)`, rows by `id` (the first column): one
    statement for what an executemany sends row by row. `t.id = ANY(ids)` beside the join keeps the table's
    side an index scan of those rows: joined alone, a small table is hashed whole (seen at 100k), and a
    generic plan must never do that to millions of travellers."""
    sets = ", ".join(f"{c} = v.{c}" for c in columns[1:])
    id_type = table.c.id.type.compile(dialect=_pg_dialect())
    return text(f"UPDATE {table.name} AS t SET {sets} FROM unnest({_array_casts(table, columns)}) "  # noqa: S608
                f"AS v({', '.join(columns)}) WHERE t.id = v.id AND t.id = ANY(CAST(:id AS {id_type}[]))")


def update_rows(session: Session, table, rows: list[dict]) -> None:
    """Update rows by primary key `id`, each a dict of the columns it sets (rows setting the same columns go
    together). PostgreSQL: one array statement per set of columns, in the rows' order; elsewhere executemany."""
    groups: dict[tuple[str, ...], list[dict]] = {}
    for r in rows:
        groups.setdefault(("id", *sorted(k for k in r if k != "id")), []).append(r)
    for columns, group in groups.items():
        if _is_pg(session):
            session.execute(unnest_update(table, columns), unnest_params(columns, group))
        else:
            session.execute(_update_by_id(table),
                            [{("b_id" if k == "id" else k): v for k, v in r.items()} for r in group])


@functools.cache
def _update_by_id(table):
    """Built once per table: the summaries go through here on every attach."""
    return update(table).where(table.c.id == bindparam("b_id"))


_NEXT_IDS = text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)")


def next_ids(session: Session, table: str, n: int) -> list[int]:
    """PostgreSQL: n ids drawn from the table's sequence in one round trip, so rows can be written by one
    array statement or COPY with their ids known beforehand."""
    return list(session.execute(_NEXT_IDS, {"t": table, "n": n}).scalars())


def unnest_params(columns: tuple[str, ...], rows: list[dict]) -> dict[str, list]:
    return {c: [r[c] for r in rows] for c in columns}


# --- locks -----------------------------------------------------------------------------------------


_LOCK_COARSE = text("SELECT count(pg_advisory_xact_lock(:ns, s)) FROM unnest(CAST(:slots AS integer[])) s")
_LOCK_SHARED_AND_FINE = text(
    "SELECT count(CASE WHEN f THEN pg_advisory_xact_lock(:fine_ns, s) ELSE pg_advisory_xact_lock_shared(:ns, s) "
    "END) FROM unnest(CAST(:fine AS boolean[]), CAST(:slots AS integer[])) AS u(f, s)")


def lock_keys(session: Session, keys: Iterable[int]) -> int:
    """Take the advisory locks guarding these keys until the transaction ends; returns how many.

    Two granularities, so that two API batches of different people run at once: a batch of a few hundred
    crossings covers nearly every one of 1,024 slots (each crossing probes a dozen keys), so with coarse
    slots alone every batch waited for the one before it. An ordinary batch takes the coarse slots of its
    keys SHARED and the fine slots EXCLUSIVE: two such batches wait for each other only when they share a
    fine slot. A batch that would take more than LOCK_SLOTS locks so (over about 40 crossings) takes the
    coarse slots EXCLUSIVE instead, as every batch did before, which the others' shared coarse locks wait
    for; no transaction holds more than LOCK_SLOTS locks, whatever its size. Coarse before fine, each sorted:
    one global order, so no deadlock.
    """
    keys = list(keys)
    coarse = lock_slots(keys, LOCK_SLOTS)
    if not coarse or not _is_pg(session):
        return len(coarse)
    fine = lock_slots(keys, FINE_SLOTS)
    if len(coarse) + len(fine) > LOCK_SLOTS:
        # unnest keeps the array's (sorted) order: every transaction locks in the same order.
        session.execute(_LOCK_COARSE, {"ns": LOCK_NAMESPACE, "slots": coarse})
        return len(coarse)
    session.execute(_LOCK_SHARED_AND_FINE, {"ns": LOCK_NAMESPACE, "fine_ns": FINE_NAMESPACE,
                                            "fine": [False] * len(coarse) + [True] * len(fine), "slots": coarse + fine})
    return len(coarse) + len(fine)


def lock_travellers(session: Session, traveller_ids: Iterable[int]) -> int:
    """Lock the slots of these travellers' keys: an investigator's merge or split waits for (and holds
    off) any attach that could find one of them."""
    ids = sorted(set(traveller_ids))
    keys = list(session.execute(select(TravellerKey.key).where(TravellerKey.traveller_id.in_(ids))).scalars())
    return lock_keys(session, keys)


# --- the stored name-frequency table ---------------------------------------------------------------


def load_frequencies(session: Session, target: NameFrequencies, tokens: set[str]) -> int:
    """Make `target` the stored table (its totals, and the counts of the tokens that will be compared); returns
    the crossings attached so far (`_CROSSINGS`, this transaction's included)."""
    wanted = sorted(tokens) + list(_COUNTERS)
    found: dict[str, int] = {}
    stmt = _token_counts(dialect_of(session))
    for start in range(0, len(wanted), 5000):
        found.update(session.execute(stmt, {"ids": wanted[start:start + 5000]}).all())
    for t, n in session.info.get(_PENDING_COUNTS, {}).items():  # this transaction's own, not yet written
        if t in found or t in tokens or t in _COUNTERS:
            found[t] = found.get(t, 0) + n
    target.counts = {t: int(found[t]) for t in tokens if found.get(t)}
    target.total, target.sum_counts, target.sum_squares = (int(found.get(k, 0)) for k in _TOTALS)
    return int(found.get(_CROSSINGS, 0))


@per_dialect
def _token_counts(dialect: str):
    return select(NameTokenCount.token, NameTokenCount.n).where(ids_param(dialect, NameTokenCount.token))


def frequency_changes(added: list[Prepared], before: tuple[int, int, int],
                      after: NameFrequencies) -> list[tuple[str, int]]:
    """(token, delta) of this transaction's new profiles for the stored counts, in token order (one lock order)."""
    delta: dict[str, int] = defaultdict(int)
    for p in added:
        for t in NameFrequencies.tokens_of(p):
            delta[t] += 1
    totals = (after.total - before[0], after.sum_counts - before[1], after.sum_squares - before[2])
    rows = sorted(delta.items())
    # "#..." sorts before every name token; totals go last all the same, after the tokens.
    return rows + [(k, v) for k, v in zip(_TOTALS, totals, strict=True) if v]


def write_keys_and_counts(session: Session, keys: list[tuple[int, int]], counts: list[tuple[str, int]]) -> None:
    """Add (key, traveller id) rows now and (token, delta) counts at commit.

    Every batch with a new spelling changes the "#total" rows: written here, their row locks would hold every
    other worker's batch until this transaction ends (its COPY, screening and summaries). Written by
    `_write_pending_counts` just before the commit, they are held for the commit alone.
    """
    if counts:
        pending = session.info.setdefault(_PENDING_COUNTS, {})
        for t, n in counts:
            pending[t] = pending.get(t, 0) + n
    _add_key_rows(session, keys)


@per_dialect
def _counts_upsert(dialect: str):
    table = NameTokenCount.__table__
    ins = _INSERTS[dialect](table)
    return ins.on_conflict_do_update(index_elements=[table.c.token], set_={"n": table.c.n + ins.excluded.n})


_COUNT_COLUMNS = ("token", "n")


def _write_counts(session: Session, counts: list[tuple[str, int]]) -> None:
    if _is_pg(session):
        stmt = unnest_insert(NameTokenCount.__table__, _COUNT_COLUMNS,
                             "ON CONFLICT (token) DO UPDATE SET n = name_token_counts.n + excluded.n")
        session.execute(stmt, {"token": [t for t, _ in counts], "n": [n for _, n in counts]})
        return
    session.execute(_counts_upsert(dialect_of(session)), [{"token": t, "n": n} for t, n in counts])


@event.listens_for(Session, "before_commit")
def _write_pending_counts(session: Session) -> None:
    pending = session.info.pop(_PENDING_COUNTS, None)
    if pending:
        # Token order, totals ("#...") last: one lock order across workers.
        _write_counts(session, sorted(pending.items(), key=lambda kv: (kv[0] in _COUNTERS, kv[0])))
        fewer = sorted(t for t, n in pending.items() if n < 0 and t not in _COUNTERS)
        for start in range(0, len(fewer), 5000):  # a token no profile carries now has no row, as after a rebuild
            session.execute(delete(NameTokenCount).where(in_ids(session, NameTokenCount.token,
                                                                fewer[start:start + 5000]), NameTokenCount.n <= 0))


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending_counts(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_PENDING_COUNTS, None)


# --- candidates ------------------------------------------------------------------------------------

# What record_of reads, without the id that the candidate queries select on their own.
_IDENTITY = IDENTITY_COLUMNS[1:]


_KEY_ROWS = text("SELECT k.key, t.traveller_id FROM unnest(CAST(:keys AS bigint[])) AS k(key) "
                 "CROSS JOIN LATERAL (SELECT traveller_id FROM traveller_keys WHERE key = k.key "
                 "ORDER BY traveller_id LIMIT :cap) t")
_KEY_ROWS_SQLITE = (select(TravellerKey.key, TravellerKey.traveller_id)
                    .where(ids_param("sqlite", TravellerKey.key)).order_by(TravellerKey.traveller_id))


def key_rows(session: Session, keys: list[int], per_key: int) -> dict[int, list[int]]:
    """{key: traveller ids filed under it (lowest first, at most per_key)}: the bounded candidate read."""
    out: dict[int, list[int]] = defaultdict(list)
    keys = sorted(set(keys))
    for start in range(0, len(keys), 5000):
        chunk = keys[start:start + 5000]
        if _is_pg(session):
            rows = session.execute(_KEY_ROWS, {"keys": chunk, "cap": per_key})
        else:
            rows = session.execute(_KEY_ROWS_SQLITE, {"ids": chunk})
        for k, tid in rows:
            if len(out[k]) < per_key:
                out[k].append(tid)
    return out


def read_keys_then_lock(session: Session, keys: list[int], per_key: int) -> dict[int, list[int]]:
    """`key_rows` of these keys as they stand once their locks are held (`lock_keys`).

    Where the database logs key changes (PostgreSQL, screening.key_changes) the keys are read before the
    locks, so the other worker's batch does not wait through the read, and only the keys changed meanwhile
    are read again under them; elsewhere they are read under the locks.
    """
    if not keys:
        return {}
    if not _logs_key_changes(session):
        lock_keys(session, keys)
        return key_rows(session, keys, per_key)
    since = key_changes.snapshot(session)
    found = key_rows(session, keys, per_key)
    lock_keys(session, keys)
    changed = key_changes.changed_since(session, since, set(keys))
    if changed is None:
        log.debug("keys changed by a bulk write or pruned since the read: all %d read again", len(set(keys)))
        return key_rows(session, keys, per_key)
    if changed:
        for k in changed:
            found.pop(k, None)
        found.update(key_rows(session, sorted(changed), per_key))
    return found


_KEY_LOG: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # engine: whether it logs key changes


def _logs_key_changes(session: Session) -> bool:
    """Asked once per engine: the log is created by migration 0032 and only a migration removes it."""
    bind = session.get_bind()
    known = _KEY_LOG.get(bind)
    if known is None:
        known = _KEY_LOG[bind] = key_changes.installed(session)
    return known


def candidate_travellers(found: dict[int, list[int]], routes: list[list[int]], cap: int) -> list[int]:
    """A crossing's candidates: travellers under its keys, documents route first, in key order, at most `cap`."""
    out: dict[int, None] = {}
    for keys in routes:
        for k in keys:
            for tid in found.get(k, ()):
                out.setdefault(tid, None)
                if len(out) >= cap:
                    return list(out)
    return list(out)


_SPELLING_COLUMNS = tuple(c.key for c in _IDENTITY if c.key != "traveller_id")
_SPELLING = tuple(getattr(TravellerSpelling, k) for k in _SPELLING_COLUMNS)


def spelling_of(row) -> int:
    """A 63-bit hash of a crossing's identity columns, exactly as stored (NULL and "" differ, as in GROUP BY):
    one traveller_spellings row per spelling per traveller. Judged crossings use -their id instead."""
    text_ = json.dumps([getattr(row, k) for k in _SPELLING_COLUMNS], separators=(",", ":"), ensure_ascii=False)
    return int.from_bytes(hashlib.blake2b(text_.encode(), digest_size=8).digest(), "big") >> 1


def _spelling_row(traveller_id: int, row, judged: bool = False, count: int = 1) -> dict:
    return {"traveller_id": traveller_id, "spelling": -row.id if judged else spelling_of(row), "crossing_id": row.id,
            "crossed_at": row.crossed_at, "crossing_count": count, **{k: getattr(row, k) for k in _SPELLING_COLUMNS}}


def crossing_spellings(session: Session, traveller_ids: Iterable[int]) -> list:
    """Rows (id, identity, traveller_id, judged, n, crossed_at) of each distinct identity of these travellers,
    read from `crossings` (the first crossing of each, n of them), and of each judged crossing singly (n = 1);
    in crossing order.

    What traveller_spellings holds, computed from the crossings: it refills the table (refresh_spellings) and
    is the reference the tests compare it with. Its cost grows with history and partitions (every month's
    traveller_id index is probed), so online attach never runs it.
    """
    ids = sorted(set(traveller_ids))
    rows: list = []
    judged = select(TravellerJudgementCrossing.crossing_id)
    for start in range(0, len(ids), 2000):
        base = (in_ids(session, Crossing.traveller_id, ids[start:start + 2000]), Crossing.pseudonymised_at.is_(None))
        first = func.min(Crossing.id).label("id")
        grouped = (select(first, *_IDENTITY, literal(False).label("judged"), func.count().label("n"))
                   .where(*base, Crossing.id.not_in(judged)).group_by(*_IDENTITY).subquery())
        # crossed_at of the first crossing: joined back by (id, traveller), the group's own first row.
        same = (Crossing.id == grouped.c.id) & (Crossing.traveller_id == grouped.c.traveller_id)
        grouped_at = select(grouped, Crossing.crossed_at).join(Crossing, same)
        single = select(Crossing.id, *_IDENTITY, literal(True).label("judged"), literal(1).label("n"),
                        Crossing.crossed_at).where(
            *base, Crossing.id.in_(judged))
        rows.extend(session.execute(grouped_at.union_all(single)).all())
    rows.sort(key=lambda r: r.id)
    return rows


def candidate_rows(session: Session, traveller_ids: Iterable[int]) -> list:
    """traveller_spellings rows of these travellers (columns as record_of reads them, `id` the crossing), in
    crossing order."""
    ids = sorted(set(traveller_ids))
    rows: list = []
    stmt = _candidate_rows(dialect_of(session))
    for start in range(0, len(ids), 2000):
        rows.extend(session.execute(stmt, {"ids": ids[start:start + 2000]}).all())
    rows.sort(key=lambda r: r.id)
    return rows


@per_dialect
def _candidate_rows(dialect: str):
    return (select(TravellerSpelling.crossing_id.label("id"), *_SPELLING, TravellerSpelling.traveller_id,
                   TravellerSpelling.spelling).where(ids_param(dialect, TravellerSpelling.traveller_id)))


def candidate_records(session: Session, traveller_ids: Iterable[int]) -> list[tuple[TravellerRecord, int]]:
    """(record, -traveller id) of each distinct identity of these travellers, and of each judged crossing.

    One row per spelling rather than per crossing: a commuter's thousand identical crossings are one
    profile to the index (and to this query's result). In crossing order, as the index restores. Read from
    traveller_spellings: one index lookup per traveller, whatever its history or the number of months.
    """
    return [(record_of(r), -r.traveller_id) for r in candidate_rows(session, traveller_ids)]


def add_spellings(session: Session, pairs: Iterable[tuple[int, object]]) -> None:
    """File new crossings (traveller id, row with id, identity and crossed_at) under their travellers' spellings,
    counting each one (a spelling the traveller has: its count goes up; one statement for the lot).

    A spelling the traveller has already keeps its first crossing unless this one came earlier (ids are drawn
    before the advisory locks, so two workers may store out of id order): the row is always the spelling's
    lowest crossing id, as crossing_spellings computes it.
    """
    best: dict[tuple[int, int], dict] = {}
    for tid, row in pairs:
        r = _spelling_row(tid, row)
        k = (tid, r["spelling"])
        if k in best:
            r["crossing_count"] += best[k]["crossing_count"]
            if best[k]["crossing_id"] < r["crossing_id"]:
                r = {**best[k], "crossing_count": r["crossing_count"]}
        best[k] = r
    _upsert_spellings(session, [best[k] for k in sorted(best)])


@per_dialect
def _spellings_upsert(dialect: str):
    """INSERT ... ON CONFLICT for spelling rows, built once per dialect: each build made a new `excluded` alias
    and cache key, about half a millisecond of every attach."""
    table = TravellerSpelling.__table__
    ins = _INSERTS[dialect](table)
    earlier = ins.excluded.crossing_id < table.c.crossing_id
    return ins.on_conflict_do_update(
        index_elements=[table.c.traveller_id, table.c.spelling],
        set_={"crossing_id": case((earlier, ins.excluded.crossing_id), else_=table.c.crossing_id),
              "crossed_at": case((earlier, ins.excluded.crossed_at), else_=table.c.crossed_at),
              "crossing_count": table.c.crossing_count + ins.excluded.crossing_count})


_SPELLING_ROW = ("traveller_id", "spelling", "crossing_id", "crossed_at", "crossing_count", *_SPELLING_COLUMNS)
_SPELLING_CONFLICT = (
    "ON CONFLICT (traveller_id, spelling) DO UPDATE SET "
    "crossing_id = CASE WHEN excluded.crossing_id < traveller_spellings.crossing_id THEN excluded.crossing_id "
    "ELSE traveller_spellings.crossing_id END, "
    "crossed_at = CASE WHEN excluded.crossing_id < traveller_spellings.crossing_id THEN excluded.crossed_at "
    "ELSE traveller_spellings.crossed_at END, "
    "crossing_count = traveller_spellings.crossing_count + excluded.crossing_count")


def _upsert_spellings(session: Session, rows: list[dict]) -> None:
    """Insert spelling rows; one the traveller has already adds the counts and keeps the lower crossing id."""
    if not rows:
        return
    if _is_pg(session):
        stmt = unnest_insert(TravellerSpelling.__table__, _SPELLING_ROW, _SPELLING_CONFLICT)
        session.execute(stmt, unnest_params(_SPELLING_ROW, rows))
        return
    ins = _spellings_upsert(dialect_of(session))
    for start in range(0, len(rows), 5000):
        session.execute(ins, rows[start:start + 5000])


def move_spellings(session: Session, source: int, target: int) -> None:
    """A merge: the source's spellings become the target's (a spelling both have keeps the earlier crossing and
    adds the counts)."""
    rows = [dict(r._mapping) for r in session.execute(select(TravellerSpelling.__table__)
                                                      .where(TravellerSpelling.traveller_id == source))]
    session.execute(delete(TravellerSpelling).where(TravellerSpelling.traveller_id == source))
    for r in rows:
        r["traveller_id"] = target
    _upsert_spellings(session, sorted(rows, key=lambda r: r["spelling"]))


def refresh_spellings(session: Session, traveller_ids: Iterable[int]) -> None:
    """Recompute these travellers' spellings from their crossings (after a split, a judgement, retention)."""
    ids = sorted(set(traveller_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        session.execute(delete(TravellerSpelling).where(TravellerSpelling.traveller_id.in_(chunk)))
        rows = [_spelling_row(r.traveller_id, r, r.judged, r.n) for r in crossing_spellings(session, chunk)]
        _upsert_spellings(session, sorted(rows, key=lambda r: (r["traveller_id"], r["spelling"])))


# --- attach ----------------------------------------------------------------------------------------

CACHE_ENTRIES = 200_000  # per cache; each is cleared when full (bounded, like resolve's name cache)


class _Caches:
    """Normalised names and name-pair weights, shared by this process's small indexes, bounded.

    A batch's index is rebuilt from the database each time; without these every batch would normalise
    the same few thousand names again. The pair weights follow the in-memory index's rule (memoised
    when first compared), and are dropped when the match model changes.
    """

    def __init__(self) -> None:
        self.model = None
        self.tokens: dict = {}
        self.names: dict = {}
        self.addresses: dict = {}
        self.variant_ids: dict = {}
        self.pairs: dict = {}

    def fit(self, model) -> _Caches:
        if model is not self.model:
            self.__init__()
            self.model = model
        for d in (self.tokens, self.names, self.addresses):
            if len(d) > CACHE_ENTRIES:
                d.clear()
        if len(self.variant_ids) > CACHE_ENTRIES or len(self.pairs) > CACHE_ENTRIES:
            self.variant_ids.clear()
            self.pairs.clear()
        return self


_CACHES = _Caches()
_CACHES_LOCK = threading.Lock()


class _NamesNotRead(Exception):
    """A crossing its documents settled when the candidates were read did not settle at its attach (an earlier
    crossing of the batch changed what it meets): the batch is attached again with every route read."""


class _BatchIndex(TravellerIndex):
    """A TravellerIndex over one batch's candidates that uses the process's bounded caches."""

    caches: _Caches | None = None

    def __init__(self, config: ResolveConfig | None = None, judgements: Judgements | None = None) -> None:
        super().__init__(config, judgements)
        c = self.caches
        if c is not None:
            self._token_cache, self._names_cache, self._address_cache = c.tokens, c.names, c.addresses
            self._variant_ids, self._name_cache = c.variant_ids, c.pairs
        self._stored: int | None = None
        self._restored = 0
        self.without_names: set = set()  # crossings whose name candidates were not read

    def _names_needed(self, slot: int) -> None:
        if self.without_names and any(c in self.without_names for c in self._crossings[slot]):
            raise _NamesNotRead

    def weigh_history(self, stored: int) -> None:
        """Scale the prior to every crossing stored (`stored`) and those this batch attaches, as the batch
        resolution and a whole-history index do: the candidates restored here are a few dozen of them, and a
        prior scaled to those would link namesakes that a decade of history keeps apart."""
        if stored > 0:  # 0: tables older than the count; the index's own size, as before
            self._stored, self._restored = stored, len(self._slot_of_crossing)
            self._rescale_prior()

    def _rescale_prior(self, crossings: int | None = None) -> None:
        n = len(self._slot_of_crossing) if crossings is None else crossings
        super()._rescale_prior(n if self._stored is None else self._stored + n - self._restored)


def attach_rows(session: Session, rows: list, *, config: ResolveConfig, judgements: Judgements,
                now: datetime, stored: bool = True) -> tuple[dict[int, int], dict[int, int]]:
    """Attach crossings (rows of screening.records.IDENTITY_COLUMNS and crossed_at) in id order.

    Returns ({crossing id: traveller id}, {traveller emptied by an automatic merge: survivor}).
    `stored=False`: the crossings are not in the table yet (store_crossings attaches before its COPY and
    stores them with their traveller id), so no traveller_id UPDATE is written.

    One small TravellerIndex per transaction: the candidate travellers of all its crossings, read
    from the database, restored, then the crossings attached in order by the index's own `attach`,
    so a crossing finds a traveller an earlier crossing of the same batch founded. The travellers the
    documents reach are restored first where that pays, the namesakes only for the crossings those do not
    settle: one key read (and a re-read of the keys changed while it waited for its locks) and at most three
    restores per batch, whatever its size; memory bounded by batch
    size x `attach_candidates` (`ResolveConfig.for_attach`).
    """

    ensure_keys(session)
    config = config.for_attach()
    with _CACHES_LOCK:  # one batch at a time per process uses the shared caches (threads of a worker)
        return _attach_rows(session, rows, config, judgements, now, stored)


def _attach_rows(session, rows, config, judgements, now, stored):
    _BatchIndex.caches = _CACHES.fit(config.match.model)
    scratch = _BatchIndex(config)
    work = []
    all_keys: list[int] = []
    for r in rows:
        rec = record_of(r)
        p = scratch._prepare(rec)
        docs, rest = probe_keys(p, config)
        work.append((rec, p, [docs, rest]))
        all_keys.extend(docs)
        all_keys.extend(rest)
    found = read_keys_then_lock(session, all_keys, config.max_candidates)
    # Every key in one read (the bound per key is the same however many are read), then the documents first
    # where that pays. Most crossings are a known traveller's with his document: the index places such a
    # crossing by the document alone and never reads its name routes (`TravellerIndex._place`), so at a
    # decade's density its namesakes (up to max_candidates travellers with all their spellings) need not be
    # restored. Finding out costs an index of the documents' travellers and a settle check per crossing: worth
    # it only when the namesakes the settled crossings could leave out outnumber the documents' travellers
    # (a decade), not when a name reaches few others (a year: one restore of everything, as before). A
    # document another crossing of the batch also carries may meet a traveller that crossing founds: such
    # crossings read every route.
    reader = _Candidates(session, config, judgements, work)
    docs_of = Counter(k for _, _, (docs, _) in work for k in set(docs))
    everyone = {rec.crossing_id for rec, _, _ in work}
    documents = reader.travellers(found, everyone)
    may_settle = {rec.crossing_id for rec, _, (docs, _) in work if docs and all(docs_of[k] == 1 for k in docs)}
    without: set = set()
    saved = len(reader.travellers(found, set())) - len(reader.travellers(found, may_settle))
    if documents and saved > DOCUMENTS_FIRST * len(documents):
        index, records = reader.index(found, everyone)
        without = {rec.crossing_id for rec, _, _ in work
                   if rec.crossing_id in may_settle and index.settled_by_documents(rec)}
    if len(without) < len(work):
        index, records = reader.index(found, without)
    index.without_names = without
    try:
        added = _attach_all(index, work)
    except _NamesNotRead:
        index, records = reader.index(found, set())
        added = _attach_all(index, work)
    freq = index.frequencies
    before = reader.before
    counts = frequency_changes(added, before, freq) + [(_CROSSINGS, len(rows))]
    new_profiles = {id(p) for p in added}

    # Travellers the index joined through a new crossing: the database follows.
    first_of: dict[int, object] = {}
    for r, neg in records:
        first_of.setdefault(-neg, r.crossing_id)
    merged = {tid: index.key_of(c) for tid, c in first_of.items() if index.key_of(c) != -tid}
    fresh = sorted({index.key_of(rec.crossing_id) for rec, _, _ in work} | set(merged.values()))
    fresh = [k for k in fresh if k > 0]
    tid_of = dict(zip(fresh, new_travellers(session, len(fresh), now), strict=True))

    def tid(key) -> int:
        return tid_of[key] if key > 0 else -key

    emptied = {gone: tid(k) for gone, k in merged.items()}
    for gone, survivor in emptied.items():
        merge_into(session, gone, survivor)
    out = {rec.crossing_id: tid(index.key_of(rec.crossing_id)) for rec, _, _ in work}
    if stored:
        at = {r.id: r.crossed_at for r in rows}
        set_travellers(session, [(c, at[c], t) for c, t in out.items()])
    key_rows_out: dict[tuple[int, int], None] = {}
    for rec, p, _ in work:
        if id(p) not in new_profiles:
            continue  # a spelling its traveller has: filed under it already (a merge moved the keys with it)
        for k in store_keys(p, config.match.min_document_length):
            key_rows_out[(k, out[rec.crossing_id])] = None
    write_keys_and_counts(session, sorted(key_rows_out), counts)
    # Every crossing counts under its spelling, new or known (tracing.update_summaries reads the counts).
    add_spellings(session, [(out[r.id], r) for r in rows])
    return out, emptied


class _Candidates:
    """The restored index of a batch's candidates, for the routes read so far (spelling rows read once)."""

    def __init__(self, session: Session, config: ResolveConfig, judgements: Judgements, work: list) -> None:
        self.session, self.config, self.judgements, self.work = session, config, judgements, work
        self.records: dict[int, list[tuple[int, TravellerRecord]]] = {}  # traveller: (crossing id, record)
        self.before = (0, 0, 0)

    def travellers(self, found: dict[int, list[int]], documents_only: set) -> dict[int, None]:
        """The travellers the crossings' routes reach in `found` (only the documents' for those in
        `documents_only`), in the order they are first reached."""
        cap = self.config.max_candidates
        out: dict[int, None] = {}
        for rec, _, routes in self.work:
            out.update(dict.fromkeys(candidate_travellers(
                found, routes[:1] if rec.crossing_id in documents_only else routes, cap)))
        return out

    def index(self, found: dict[int, list[int]], documents_only: set) -> tuple[_BatchIndex, list]:
        """An index of the travellers `travellers` names, with the stored name frequencies and the prior of
        all history."""
        cands = self.travellers(found, documents_only)
        missing = [t for t in cands if t not in self.records]
        for t in missing:
            self.records[t] = []
        for r in candidate_rows(self.session, missing):
            self.records[r.traveller_id].append((r.id, record_of(r)))
        restored = sorted(((c, rec, -t) for t in cands for c, rec in self.records[t]), key=lambda x: x[0])
        records = [(rec, neg) for _, rec, neg in restored]
        index = _BatchIndex.restore(records, self.config, self.judgements)
        tokens: set[str] = set()
        for _, p, _ in self.work:
            tokens |= NameFrequencies.tokens_of(p)
        for q in index._profiles:
            if q is not None:
                tokens |= NameFrequencies.tokens_of(q)
        freq = index.frequencies
        index.weigh_history(load_frequencies(self.session, freq, tokens))
        self.before = (freq.total, freq.sum_counts, freq.sum_squares)
        return index, records


def _attach_all(index: _BatchIndex, work: list) -> list[Prepared]:
    """Attach the batch's crossings in order; the profiles new to the stored token table."""
    freq = index.frequencies
    added: list[Prepared] = []
    for rec, p, _ in work:
        total = freq.total
        index.attach(rec)
        if freq.total != total:  # a new profile: it counts in the stored table
            added.append(p)
    return added


def set_travellers(session: Session, moves: list[tuple[int, datetime, int]]) -> None:
    """Set traveller_id of crossings given as (id, crossed_at, traveller id).

    PostgreSQL: one UPDATE for the lot, each crossing addressed by (id, crossed_at), its primary key, so
    only its month's partition is probed and the rollup statement triggers run once, not once a crossing
    (docs/performance.md, session 6). SQLite's table is not partitioned: there the id alone finds it.
    """
    if not moves:
        return
    if _is_pg(session):
        moves = sorted(moves)  # one lock order for every writer
        ats = [m[1] for m in moves]
        # The range lets the planner leave out the other months' partitions (planning is most of the cost
        # of a one-crossing update); the join then probes each crossing's own partition only.
        session.execute(text(
            "UPDATE crossings c SET traveller_id = v.t FROM unnest(CAST(:ids AS integer[]), "
            "CAST(:ats AS timestamptz[]), CAST(:ts AS integer[])) AS v(id, at, t) "
            "WHERE c.id = v.id AND c.crossed_at = v.at AND c.crossed_at BETWEEN :lo AND :hi"),
            {"ids": [m[0] for m in moves], "ats": ats, "ts": [m[2] for m in moves], "lo": min(ats), "hi": max(ats)})
        return
    session.execute(update(Crossing).execution_options(synchronize_session=False),
                    [{"id": c, "traveller_id": t} for c, _, t in moves])


_NEW_TRAVELLER = ("id", "surname", "given_names", "crossing_count", "patterns_due", "created_at", "updated_at")


def new_travellers(session: Session, n: int, now: datetime) -> list[int]:
    """Ids of n new, empty travellers (their summaries are written by tracing.update_summaries).

    PostgreSQL: ids drawn from the sequence, rows written by one array statement; elsewhere the ORM's flush.
    """
    if not n:
        return []
    if _is_pg(session):
        ids = next_ids(session, "travellers", n)
        stmt = unnest_insert(Traveller.__table__, _NEW_TRAVELLER, "")
        session.execute(stmt, {"id": ids, "surname": [""] * n, "given_names": [""] * n, "crossing_count": [0] * n,
                               "patterns_due": [False] * n, "created_at": [now] * n, "updated_at": [now] * n})
        return ids
    rows = [Traveller(created_at=now, updated_at=now) for _ in range(n)]
    session.add_all(rows)
    session.flush()
    return [t.id for t in rows]


def merge_into(session: Session, gone: int, survivor: int) -> None:
    """An automatic merge reaches the database: crossings, findings and keys move; `gone` points at `survivor`."""
    session.execute(update(Crossing).where(Crossing.traveller_id == gone).values(traveller_id=survivor)
                    .execution_options(synchronize_session=False))
    session.execute(update(RiskFindingRecord).where(RiskFindingRecord.traveller_id == gone)
                    .values(traveller_id=survivor).execution_options(synchronize_session=False))
    move_keys(session, gone, survivor)
    session.execute(update(Traveller).where(Traveller.id == gone).values(merged_into_id=survivor)
                    .execution_options(synchronize_session=False))
    log.info("traveller %s joined traveller %s through a new crossing", gone, survivor)


def _add_key_rows(session: Session, pairs: list[tuple[int, int]]) -> None:
    if not pairs:
        return
    if _is_pg(session):
        stmt = unnest_insert(TravellerKey.__table__, ("key", "traveller_id"))
        session.execute(stmt, {"key": [k for k, _ in pairs], "traveller_id": [t for _, t in pairs]})
        return
    session.execute(_key_insert(dialect_of(session)), [{"key": k, "traveller_id": t} for k, t in pairs])


@per_dialect
def _key_insert(dialect: str):
    return _INSERTS[dialect](TravellerKey.__table__).on_conflict_do_nothing()


def add_keys(session: Session, traveller_id: int, keys: Iterable[int]) -> None:
    _add_key_rows(session, [(k, traveller_id) for k in dict.fromkeys(keys)])


def move_keys(session: Session, source: int, target: int) -> None:
    """A merge: the source's keys and spellings become the target's; a profile both had counts once now."""
    rows = candidate_rows(session, (source, target))
    counter = _Counter(resolve_config())
    before, after = NameFrequencies(), NameFrequencies()
    counter.count(rows, before)
    counter.count(rows, after, as_traveller=target)
    _move_counts(session, before, after)
    keys = list(session.execute(select(TravellerKey.key).where(TravellerKey.traveller_id == source)).scalars())
    session.execute(delete(TravellerKey).where(TravellerKey.traveller_id == source))
    add_keys(session, target, keys)
    move_spellings(session, source, target)


# --- keeping the tables in step --------------------------------------------------------------------


class _Profiles:
    """One traveller's profiles as the index holds them, and their keys: one per distinct prepared identity
    (spelling rows in crossing order), each judged crossing one of its own. The rebuild and the refresh
    count by this one rule, so the stored token counts agree whichever wrote them."""

    __slots__ = ("seen", "keys", "min_document_length")

    def __init__(self, config: ResolveConfig) -> None:
        self.seen: set = set()
        self.keys: set[int] = set()
        self.min_document_length = config.match.min_document_length

    def add(self, p: Prepared, judged: bool) -> bool:
        """Whether `p` is a profile of its own (it counts in the token table). A judged crossing always is, and
        shares its profile with no later crossing: the index files it apart (TravellerIndex.attach)."""
        if not judged:
            sig = (p.variants, p.dob, p.sex, p.nationality, p.documents, p.address)
            if sig in self.seen:
                return False
            self.seen.add(sig)
        self.keys.update(store_keys(p, self.min_document_length))
        return True


class _Counter:
    """Profiles of spelling rows, counted by the rebuild's rule into a NameFrequencies (the "before" or "after"
    of a change), names normalised once per string across calls."""

    def __init__(self, config: ResolveConfig) -> None:
        self.config = config
        self.scratch = TravellerIndex(config)
        self.prepared: dict[tuple, Prepared] = {}

    def prepare(self, rec: TravellerRecord) -> Prepared:
        """The record's profile, memoised by its raw content (bounded: a batch command's cache)."""
        raw = rec.raw_key()
        p = self.prepared.get(raw)
        if p is None:
            if len(self.prepared) > 200_000:
                self.prepared.clear()
            p = self.prepared[raw] = self.scratch._prepare(rec)
        return p

    def count(self, rows: Iterable, into: NameFrequencies, as_traveller: int | None = None) -> dict[int, _Profiles]:
        """`rows` (candidate_rows: crossing order) per traveller, or all as `as_traveller`'s (a merge)."""
        per: dict[int, _Profiles] = {}
        for r in rows:
            p = self.prepare(record_of(r))
            tid = r.traveller_id if as_traveller is None else as_traveller
            mine = per.get(tid)
            if mine is None:
                mine = per[tid] = _Profiles(self.config)
            if mine.add(p, r.spelling < 0):
                into.add(p)
        return per


def refresh_keys(session: Session, traveller_ids: Iterable[int], config: ResolveConfig) -> int:
    """Recompute the spellings and keys of these travellers from their crossings, and move the token counts by
    the difference (after a split, an investigator's merge, retention, a re-resolution); returns the key rows
    written.

    Costs what these travellers' crossings cost, not what history does: after a re-resolution that moved
    a few thousand crossings this is seconds where `rebuild_keys` reads every crossing.
    """
    ids = sorted(set(traveller_ids))
    counter = _Counter(config)
    before, after = NameFrequencies(), NameFrequencies()
    written = crossings = 0
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        counter.count(candidate_rows(session, chunk), before)
        crossings -= _crossing_count(session, chunk)
        refresh_spellings(session, chunk)
        crossings += _crossing_count(session, chunk)
        session.execute(delete(TravellerKey).where(in_ids(session, TravellerKey.traveller_id, chunk)))
        rows = [{"key": k, "traveller_id": tid}
                for tid, mine in counter.count(candidate_rows(session, chunk), after).items() for k in mine.keys]
        _write_keys(session, rows)
        written += len(rows)
    _move_counts(session, before, after)
    if crossings:  # retention pseudonymised some: they no longer count
        pending = session.info.setdefault(_PENDING_COUNTS, {})
        pending[_CROSSINGS] = pending.get(_CROSSINGS, 0) + crossings
    return written


def _crossing_count(session: Session, traveller_ids: list[int]) -> int:
    return int(session.execute(select(func.coalesce(func.sum(TravellerSpelling.crossing_count), 0)).where(
        in_ids(session, TravellerSpelling.traveller_id, traveller_ids))).scalar())


def _move_counts(session: Session, before: NameFrequencies, after: NameFrequencies) -> None:
    """Move the stored token counts and totals from `before` (the profiles dropped) to `after` (those now), at
    commit with the transaction's other counts (`write_keys_and_counts`)."""
    delta = {t: after.counts.get(t, 0) - before.counts.get(t, 0) for t in before.counts.keys() | after.counts.keys()}
    delta = {t: d for t, d in sorted(delta.items()) if d}
    if not delta and after.total == before.total:
        return
    pending = session.info.setdefault(_PENDING_COUNTS, {})
    stored: dict[str, int] = {}
    tokens = list(delta)
    for start in range(0, len(tokens), 5000):
        stored.update(session.execute(select(NameTokenCount.token, NameTokenCount.n).where(
            in_ids(session, NameTokenCount.token, tokens[start:start + 5000]))).all())
    squares = 0
    for t, d in delta.items():
        n = stored.get(t, 0) + pending.get(t, 0)
        squares += (n + d) ** 2 - n * n
        pending[t] = pending.get(t, 0) + d
    for k, v in zip(_TOTALS, (after.total - before.total, sum(delta.values()), squares), strict=True):
        pending[k] = pending.get(k, 0) + v


def rebuild_keys(session: Session, config: ResolveConfig) -> tuple[int, int]:
    """Recompute the keys, spellings and token counts from every attached crossing (upgrade, a change of the
    keys' rules); returns (key rows, tokens).

    Streams crossings in traveller order, so memory holds one traveller's profiles and the token table.
    """

    session.execute(delete(TravellerKey))
    session.execute(delete(TravellerSpelling))
    session.execute(delete(NameTokenCount))
    session.info.pop(_PENDING_COUNTS, None)  # counted again below, from the crossings
    judged = set(session.execute(select(TravellerJudgementCrossing.crossing_id)).scalars())
    freq = NameFrequencies()
    counter = _Counter(config)  # memoises each name string: a batch command
    rows_out: list[dict] = []
    spellings_out: list[dict] = []
    n_keys = n_crossings = 0
    current, mine, spelt = None, _Profiles(config), {}

    def emit():
        nonlocal n_keys
        if current is not None:
            rows_out.extend({"key": k, "traveller_id": current} for k in mine.keys)
            spellings_out.extend(spelt.values())
            n_keys += len(mine.keys)

    stmt = (select(Crossing.id, *_IDENTITY, Crossing.crossed_at).where(Crossing.traveller_id.is_not(None),
                                                                       Crossing.pseudonymised_at.is_(None))
            .order_by(Crossing.traveller_id, Crossing.id).execution_options(yield_per=20_000))
    for r in session.execute(stmt):
        n_crossings += 1
        if r.traveller_id != current:
            emit()
            current, mine, spelt = r.traveller_id, _Profiles(config), {}
            if len(rows_out) >= 50_000 or len(spellings_out) >= 50_000:
                _write_keys(session, rows_out)
                _write_spellings(session, spellings_out)
                rows_out, spellings_out = [], []
        # The traveller's first crossing of each spelling (crossing order), and each judged crossing alone. A
        # repeated spelling only counts: its profile, keys and tokens are those of the first (many crossings
        # of a commuter repeat one spelling exactly; 20 % of the generator's do).
        is_judged = r.id in judged
        if is_judged:
            spelt[-r.id] = _spelling_row(current, r, True)
        else:
            same = tuple(r)[1:-1]  # the identity columns, traveller_id included (equal within the traveller)
            first = spelt.get(same)
            if first is not None:
                first["crossing_count"] += 1
                continue
            spelt[same] = _spelling_row(current, r)
        p = counter.prepare(record_of(r))
        if mine.add(p, is_judged):
            freq.add(p)
    emit()
    _write_keys(session, rows_out)
    _write_spellings(session, spellings_out)
    counts = [{"token": t, "n": n} for t, n in freq.counts.items()]
    counts += [{"token": k, "n": v} for k, v in zip(_COUNTERS, (freq.total, freq.sum_counts, freq.sum_squares,
                                                                n_crossings), strict=True)]
    for start in range(0, len(counts), 5000):
        session.execute(insert(NameTokenCount), counts[start:start + 5000])
    return n_keys, len(freq.counts)


def _write_rows(session: Session, model, columns: tuple[str, ...], rows: list[dict]) -> None:
    """Bulk-write a rebuild's rows: COPY on PostgreSQL (millions of rows at a rebuild), batched INSERTs elsewhere."""
    if not rows:
        return
    if _is_pg(session):
        cur = session.connection().connection.cursor()
        with cur.copy(f"COPY {model.__tablename__} ({', '.join(columns)}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row(tuple(r[c] for c in columns))
        return
    for start in range(0, len(rows), 5000):
        session.execute(insert(model), rows[start:start + 5000])


def _write_keys(session: Session, rows: list[dict]) -> None:
    _write_rows(session, TravellerKey, ("key", "traveller_id"), rows)


def _write_spellings(session: Session, rows: list[dict]) -> None:
    _write_rows(session, TravellerSpelling,
                ("traveller_id", "spelling", "crossing_id", "crossed_at", "crossing_count", *_SPELLING_COLUMNS), rows)


# Engines (databases) whose key table this process has seen filled: it is filled once, on the first attach
# after the upgrade, and only ever refilled in the transaction that empties it (rebuild_keys), so the check
# is one query per process rather than one per attach.
_KEYED: weakref.WeakSet = weakref.WeakSet()


def has_keys(session: Session) -> bool:
    return session.execute(select(TravellerKey.key).limit(1)).first() is not None


def ensure_keys(session: Session) -> None:
    """Fill the tables (keys, spellings, token counts) on the first attach after an upgrade (travellers exist,
    no key does: migrations that change them empty traveller_keys)."""
    bind = session.get_bind()
    if bind in _KEYED:
        return
    if has_keys(session):
        _KEYED.add(bind)
        return
    if session.execute(select(Crossing.id).where(Crossing.traveller_id.is_not(None)).limit(1)).first() is None:
        return
    if _is_pg(session):  # one worker rebuilds; the others wait for it and find the keys
        session.execute(text("SELECT pg_advisory_xact_lock(:ns, :slot)"), {"ns": LOCK_NAMESPACE, "slot": LOCK_SLOTS})
        if has_keys(session):
            return

    n, t = rebuild_keys(session, resolve_config())
    log.info("traveller keys rebuilt: %d keys, %d counted spelling parts", n, t)
