"""Online attach through the database key table (screening.online) against the engine's own answers."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from bench.generate import generate_crossings, generate_persons
from screening import records, services, tracing
from screening.engine.normalize import parse_partial_date
from screening.engine.resolve import TravellerIndex, pairwise_metrics, resolve
from screening.models import Crossing, NameTokenCount, Traveller, TravellerKey
from tests.factories import post
from tip_cases.extensions import db

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
OTHER_POST = "MPB"


def _items(rows: list[dict]) -> list[services.NewCrossing]:
    out = []
    for r in rows:
        doc = r["document_number"] or None
        out.append(services.NewCrossing(
            external_id=r["external_id"], border_post_id=post("MSB").id, direction=r["direction"],
            crossed_at=datetime.fromisoformat(r["crossed_at"]), surname=r["surname"], given_names=r["given_names"],
            sex=r["sex"], dob=parse_partial_date(r["date_of_birth"]) if r["date_of_birth"] else None,
            nationality=r["nationality"], document_type=r["document_type"] if doc else None, document_number=doc,
            document_country=r["document_country"] if doc else None))
    return out


def _store(rows: list[dict], batch: int) -> None:
    items = _items(rows)
    for start in range(0, len(items), batch):
        services.store_crossings(items[start:start + batch], source="gen", actor=None, now=NOW)
        db.session.commit()


def _partition(assignment: dict) -> set[frozenset]:
    groups: dict = {}
    for c, t in assignment.items():
        groups.setdefault(t, set()).add(c)
    return {frozenset(g) for g in groups.values()}


def _stored() -> tuple[dict, list]:
    rows = db.session.execute(select(*records.IDENTITY_COLUMNS).order_by(Crossing.id)).all()
    return {r.id: r.traveller_id for r in rows}, [tracing.record_of(r) for r in rows]


def _assert_as_in_memory() -> tuple[dict, list]:
    """Every stored crossing has a traveller, and the stored partition is the one an in-memory index (the
    earlier online path) finds attaching the same crossings one by one. Returns `_stored()`."""
    stored, records_ = _stored()
    assert all(t is not None for t in stored.values()), "every crossing is attached"
    index = TravellerIndex(tracing.resolve_config())
    for r in records_:
        index.attach(r)
    assert _partition(stored) == _partition(index.assignment())
    return stored, records_


def test_database_attach_finds_the_travellers_the_index_and_the_batch_find(app, db_session):
    persons = generate_persons(60, seed=7)
    rows = generate_crossings(persons, 360, seed=8)
    _store(rows, batch=20)
    stored, records = _assert_as_in_memory()
    assert db.session.scalar(select(func.count()).select_from(TravellerKey)) > 0
    assert tracing.get_tracer().index is None, "no per-process index was built"

    # The batch resolution (`flask screening resolve`) groups them the same way.
    batch = resolve(records, tracing.resolve_config())
    m = pairwise_metrics(batch, stored)
    print(f"online (database) vs batch: pairwise {m}")  # shown with pytest -s
    assert m["f1"] >= 0.99, m
    result = app.test_cli_runner().invoke(args=["screening", "resolve"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    after, _ = _stored()
    assert _partition(after) == _partition(batch)
    truth = {cid: rows[i]["person_id"] for i, cid in enumerate(sorted(stored))}
    assert pairwise_metrics(truth, stored)["f1"] >= 0.97


def test_keys_and_counts_kept_by_attach_equal_a_rebuild(app, db_session):
    """What attach maintains row by row is exactly what a rebuild from the crossings computes."""
    from screening import online

    persons = generate_persons(40, seed=3)
    _store(generate_crossings(persons, 200, seed=4), batch=15)
    keys = set(db.session.execute(select(TravellerKey.key, TravellerKey.traveller_id)).all())
    counts = dict(db.session.execute(select(NameTokenCount.token, NameTokenCount.n)).all())
    assert counts["#total"] > 0 and len(keys) > 100
    online.rebuild_keys(db.session, tracing.resolve_config())
    assert set(db.session.execute(select(TravellerKey.key, TravellerKey.traveller_id)).all()) == keys
    assert dict(db.session.execute(select(NameTokenCount.token, NameTokenCount.n)).all()) == counts


def test_split_and_merge_keep_the_key_table_as_a_rebuild_makes_it(app, db_session):
    """An investigator's split and merge move keys with the crossings, and refuse what judgements forbid."""
    from screening import online
    from tests.tracing.builders import arrive, traveller_of

    a = arrive("Mokoena", "Thabo", dob="1985-04-02", document="RA1234567", days_ago=5)
    b = arrive("Mokoena", "Thabo", dob="1985-04-02", document="RA1234567", days_ago=4)
    c = arrive("Letsie", "Palesa", dob="1990-11-20", sex="F", document="RB5550001", days_ago=3)
    t = traveller_of(a)
    assert traveller_of(b).id == t.id != traveller_of(c).id

    def table():
        return set(db.session.execute(select(TravellerKey.key, TravellerKey.traveller_id)).all())

    new = tracing.split_traveller(t, [b.id], reason="two people", actor=None, now=NOW)
    db.session.commit()
    assert traveller_of(b).id == new.id != traveller_of(a).id
    kept = table()
    assert {tid for _, tid in kept} == {traveller_of(a).id, new.id, traveller_of(c).id}
    online.rebuild_keys(db.session, tracing.resolve_config())
    assert table() == kept
    with pytest.raises(tracing.TracingError):
        tracing.merge_travellers(traveller_of(a), new, reason="same", actor=None, now=NOW)
    db.session.rollback()
    survivor = tracing.merge_travellers(traveller_of(a), traveller_of(c), reason="same", actor=None, now=NOW)
    db.session.commit()
    assert {tid for _, tid in table()} == {survivor.id, new.id}
    merged = table()
    online.rebuild_keys(db.session, tracing.resolve_config())
    assert table() == merged


_RACERS = [("Ramokhoro", "Tlotliso", "1994-02-17", "RA5550001"), ("Nthako", "Lineo", "2001-09-30", "RB5550002"),
           ("Sefali", "Teboho", "1979-12-01", "")]


def _in_thread(app, barrier, errors, before, after) -> None:
    """One worker's transaction: `before()`, wait for the other worker, `after()`, commit; errors reported."""
    try:
        with app.app_context():
            before()
            barrier.wait(timeout=30)
            after()
            db.session.commit()
            db.session.remove()
    except Exception as exc:  # noqa: BLE001 - reported by the test
        errors.append(exc)


def _worker(app, items, barrier, errors):
    """Store the crossings, wait for the other worker, attach them: both attaches run at the same moment
    (store_crossings would serialise the two on its audit row before they attach)."""
    _in_thread(app, barrier, errors,
               lambda: (db.session.add_all([Crossing(source="gen", created_at=NOW, **it) for it in items]),
                        db.session.flush()),
               lambda: tracing.attach_pending(now=NOW))


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_workers_attaching_one_person_at_once_make_one_traveller(app, db_session):
    """Two threads, two PostgreSQL connections, crossings of the same people committed at the same time."""
    people = _RACERS
    # Each worker at its own post on its own day: the statistics rollups' rows (kept by triggers in the
    # same transaction) would otherwise serialise the two before they attach.
    posts = {"a": post("MSB").id, "b": post(OTHER_POST).id}
    db.session.commit()

    def items(tag, worker):
        at = NOW - timedelta(days=1 if worker == "a" else 2)
        return [{"external_id": f"{tag}{i}", "border_post_id": posts[worker], "direction": "exit", "crossed_at": at,
                 "surname": s, "given_names": g, "sex": "F", "dob_year": int(d[:4]), "dob_month": int(d[5:7]),
                 "dob_day": int(d[8:]), "dob_precision": "day", "nationality": "LSO",
                 "document_type": "P" if n else None, "document_number": n or None,
                 "document_country": "LSO" if n else None}
                for i, (s, g, d, n) in enumerate(people)]

    _race(people, lambda r, w, barrier, errors: _worker(app, items(f"R{r}{w}-", w), barrier, errors))


def _race(people, run) -> None:
    """Three rounds (the race must never be won by the wrong side) of two threads, `run(round, worker,
    barrier, errors)`, storing the same people at once; each round leaves one traveller per person."""
    for round_ in range(3):
        barrier = threading.Barrier(2)
        errors: list = []
        threads = [threading.Thread(target=run, args=(round_, w, barrier, errors)) for w in "ab"]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        db.session.expire_all()
        travellers = db.session.execute(select(Crossing.surname, func.count(func.distinct(Crossing.traveller_id)))
                                        .group_by(Crossing.surname)).all()
        assert dict(travellers) == {s: 1 for s, _, _, _ in people}, f"round {round_}"
        # Never founded twice (an automatic merge afterwards would hide it): one traveller row per person.
        assert db.session.scalar(select(func.count()).select_from(Traveller)) == len(people), f"round {round_}"
        db.session.rollback()


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgresql_stores_each_crossing_with_its_traveller_no_update_and_no_pending_query(app, db_session):
    """The batch is attached before its COPY: no crossing is written with a NULL traveller and then updated,
    and the API path does not look for pending crossings (the query planned over every month partition)."""
    from sqlalchemy import event

    persons = generate_persons(20, seed=11)
    rows = generate_crossings(persons, 80, seed=12)
    _store(rows[:40], batch=20)  # travellers to find, stored the same way
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(" ".join(statement.split()).lower())

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        _store(rows[40:], batch=20)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert not [s for s in seen if s.startswith("update crossings")], "no traveller_id UPDATE"
    assert not [s for s in seen if "traveller_id is null" in s], "no pending-rows query"
    # The same partition as attaching them one by one in memory, and the travellers' summaries counted.
    _assert_as_in_memory()
    counts = dict(db.session.execute(select(Crossing.traveller_id, func.count()).group_by(Crossing.traveller_id)).all())
    summaries = dict(db.session.execute(select(Traveller.id, Traveller.crossing_count)
                                        .where(Traveller.merged_into_id.is_(None))).all())
    assert {t: n for t, n in summaries.items() if n} == counts


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_scheduler_attaches_crossings_stored_without_a_traveller(app, db_session):
    """A crossing stored with no traveller (a bulk load, attach off) is not dropped: the patterns job finds it."""
    from screening import handlers

    persons = generate_persons(10, seed=21)
    rows = generate_crossings(persons, 30, seed=22)
    _store(rows[:20], batch=10)
    stranded = [Crossing(source="load", created_at=NOW, traveller_id=None, **{
        k: getattr(it, k) for k in ("external_id", "border_post_id", "direction", "crossed_at", "surname",
                                    "given_names", "sex", "nationality", "document_type", "document_number",
                                    "document_country")}) for it in _items(rows[20:])]
    for c, it in zip(stranded, _items(rows[20:]), strict=True):
        c.dob = it.dob
    db.session.add_all(stranded)
    db.session.commit()
    _store([dict(r, external_id=r["external_id"] + "-again") for r in rows[:5]], batch=5)
    assert db.session.scalar(select(func.count()).select_from(Crossing).where(Crossing.traveller_id.is_(None))) == 10

    outcome = handlers.job_patterns(NOW)
    db.session.expire_all()
    assert "stranded crossings attached" in outcome
    _assert_as_in_memory()
    assert handlers.job_patterns(NOW).endswith(tuple("0123456789")), "nothing left to attach"


def _store_worker(app, items, barrier, errors):
    """One worker's store_crossings (attach before its COPY on PostgreSQL), started with the other's."""
    _in_thread(app, barrier, errors, lambda: None,
               lambda: services.store_crossings(items, source="gen", actor=None, now=NOW))


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_workers_storing_one_person_at_once_make_one_traveller(app, db_session):
    """The same race as above through store_crossings, which attaches before storing: the slot locks still
    make the second batch wait for the first's travellers and keys."""
    _store_race(app, {"a": _RACERS, "b": _RACERS})


def _store_race(app, people_of: dict[str, list]) -> None:
    posts = {"a": post("MSB").id, "b": post(OTHER_POST).id}
    db.session.commit()

    def items(tag, worker):
        at = NOW - timedelta(days=1 if worker == "a" else 2)
        return [services.NewCrossing(
            external_id=f"{tag}{i}", border_post_id=posts[worker], direction="exit", crossed_at=at, surname=s,
            given_names=g, sex="F", dob=parse_partial_date(d), nationality="LSO", document_type="P" if n else None,
            document_number=n or None, document_country="LSO" if n else None)
            for i, (s, g, d, n) in enumerate(people_of[worker])]

    people = list(dict.fromkeys(people_of["a"] + people_of["b"]))
    _race(people, lambda r, w, barrier, errors: _store_worker(app, items(f"S{r}{w}-", w), barrier, errors))


def _lock_count(people) -> tuple[int, int]:
    """(coarse, fine) lock slots a batch of these people's crossings would take (screening.online.lock_keys)."""
    from screening import online
    from screening.engine.blocking import lock_slots, probe_keys

    cfg = tracing.resolve_config()
    scratch = TravellerIndex(cfg)
    keys = []
    for s, g, d, n in people:
        rec = tracing.record_of(SimpleNamespace(
            id=0, surname=s, given_names=g, sex="F", nationality="LSO", dob_year=int(d[:4]), dob_month=int(d[5:7]),
            dob_day=int(d[8:]), dob_precision="day", document_type="P" if n else None, document_number=n or None,
            document_country="LSO" if n else None, address=None))
        docs, rest = probe_keys(scratch._prepare(rec), cfg)
        keys += docs + rest
    return len(lock_slots(keys, online.LOCK_SLOTS)), len(lock_slots(keys, online.FINE_SLOTS))


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_large_batch_and_a_small_one_storing_one_person_at_once_make_one_traveller(app, db_session):
    """A batch too large for fine locks takes the coarse slots exclusively; a small one racing it takes them
    shared (and its fine slots): the small one still waits for the large one's travellers, and the reverse."""
    from screening import online

    rng = random.Random(5)

    def word() -> str:  # made-up names, far apart: the fillers are 80 different people
        return "".join(rng.choice("bdfghklmnprstvz") + rng.choice("aeiou") for _ in range(4)).title()

    fillers = [(word(), word(), f"{rng.randrange(1950, 2005)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
                f"RC{rng.randrange(10**6, 10**7)}") for _ in range(80)]
    large, small = _RACERS + fillers, _RACERS
    assert sum(_lock_count(large)) > online.LOCK_SLOTS >= sum(_lock_count(small)), "both lock modes are raced"
    _store_race(app, {"a": large, "b": small})


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_attach_summary_lock_does_not_wait_on_the_risk_jobs_foreign_key_locks(app, db_session):
    """The risk job's findings check their traveller's key (FOR KEY SHARE) in a long transaction; attach locks the
    traveller rows FOR NO KEY UPDATE, which does not conflict with it. FOR UPDATE did, and at 20M the two
    deadlocked (attach in id order, the job in its own order): the API answered a 500."""
    from sqlalchemy import text

    from tests.tracing.builders import NOW, arrive

    c = arrive(evaluate=False)
    tid = c.traveller_id
    other = db.engine.connect()
    try:
        held = other.begin()
        other.execute(text("SELECT 1 FROM travellers WHERE id = :t FOR KEY SHARE"), {"t": tid})
        db.session.execute(text("SET LOCAL lock_timeout = '2s'"))
        tracing.update_summaries(db.session, [(tid, c.id, c.crossed_at + timedelta(days=1), "entry")], NOW)
        db.session.rollback()
        # and the lock still keeps two attaches of one traveller apart
        other.execute(text("SELECT 1 FROM travellers WHERE id = :t FOR NO KEY UPDATE"), {"t": tid})
        db.session.execute(text("SET LOCAL lock_timeout = '300ms'"))
        with pytest.raises(Exception, match="lock timeout"):
            tracing.update_summaries(db.session, [(tid, c.id, c.crossed_at + timedelta(days=1), "entry")], NOW)
        db.session.rollback()
        held.rollback()
    finally:
        other.close()


def test_history_larger_than_the_model_s_sample_weighs_the_prior_of_all_stored_crossings(app, db_session):
    """The prior falls with the crossings compared against (more history, more namesakes). A batch and the
    in-memory index scale it to every stored crossing; the database path must too, not to the few
    candidates it reads, or a decade on a model fitted on a sample links namesakes the batch keeps apart."""
    from screening import match_models
    from screening.engine.fellegi_sunter import MatchModel, default_model
    from screening.models import MatchModelRecord

    d = default_model().to_json()
    d.update(source="fitted", population=2, fitted_at=NOW.isoformat())
    db.session.add(MatchModelRecord(fitted_at=NOW, pairs=d["pairs"], source="fitted", active=True, created_at=NOW,
                                    model_json=MatchModel.from_json(d).to_json()))
    db.session.commit()
    match_models.forget_active_model()
    assert records.resolve_config().match.model.population == 2
    persons = generate_persons(500, seed=11, names="namesakes")
    _store(generate_crossings(persons, 2500, seed=12, profile="issue15"), batch=50)
    counts = dict(db.session.execute(select(NameTokenCount.token, NameTokenCount.n)).all())
    assert counts["#crossings"] == 2500
    _assert_as_in_memory()


@pytest.fixture
def prev_url(pg_schema):
    """A database of its own for the upgrade from 0028; dropped afterwards."""
    from tests.conftest import scratch_database

    yield from scratch_database(pg_schema, "_crossing_count")


@pytest.mark.postgres
def test_upgrade_to_0029_counts_the_attached_crossings_and_downgrade_drops_the_count(prev_url):
    """An installation keyed under 0028 (no crossing count) gets the count of its attached crossings."""
    from flask_migrate import downgrade, upgrade

    from tip_cases import create_app

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": prev_url})
    count = select(NameTokenCount.n).where(NameTokenCount.token == "#crossings")
    with app.app_context():
        upgrade(revision="0028_prev_refresh_bulk")
        _store(generate_crossings(generate_persons(30, seed=9), 120, seed=10), batch=40)
        db.session.execute(NameTokenCount.__table__.delete().where(NameTokenCount.token == "#crossings"))
        db.session.commit()
        db.session.remove()
        upgrade()
        assert db.session.scalar(count) == 120
        db.session.remove()
        downgrade(revision="0028_prev_refresh_bulk")
        assert db.session.scalar(count) is None
        db.session.remove()
        db.engine.dispose()


def test_a_crossing_wrongly_judged_settled_by_its_document_is_attached_with_every_route_read(
        app, db_session, monkeypatch):
    """Attach reads namesakes only for crossings their documents do not settle. If that judgement, made
    before the batch is attached, turns out wrong at a crossing's attach, the batch is attached again with
    every route read: here every crossing is judged settled, and the travellers are still the index's."""
    from screening import online
    from screening.engine.resolve import TravellerIndex as Index

    monkeypatch.setattr(online, "DOCUMENTS_FIRST", -1)  # documents first even where few namesakes are saved
    monkeypatch.setattr(Index, "settled_by_documents", lambda self, record: True)
    persons = generate_persons(60, seed=13)
    _store(generate_crossings(persons, 360, seed=14), batch=20)
    _assert_as_in_memory()


def test_a_known_document_reads_its_traveller_alone_and_no_document_reads_the_namesakes(app, db_session,
                                                                                          monkeypatch):
    """A returning traveller's own document settles his crossing: attach reads his spellings, not those of
    every namesake his name and year reach. Without a document the namesakes are read and weighed."""
    from screening import online
    from tests.tracing.builders import arrive, traveller_of

    own = arrive("Mokoena", "Thabo", dob="1985-04-02", document="RA1234567", days_ago=9, evaluate=False)
    for i, number in enumerate(("RB1928374", "RC5647382", "RA9081726", "RB3746501", "RC6152930", "RA4839201")):
        arrive("Mokoena", "Thabo", dob=f"1985-0{i + 3}-1{i}", document=number, days_ago=8, evaluate=False)
    namesakes = {traveller_of(c).id for c in db.session.scalars(
        select(Crossing).where(Crossing.id != own.id))}
    assert len(namesakes) == 6 and traveller_of(own).id not in namesakes
    read: list[int] = []
    real = online.candidate_rows

    def spy(session, traveller_ids):
        read.extend(traveller_ids)
        return real(session, traveller_ids)

    monkeypatch.setattr(online, "candidate_rows", spy)
    again = arrive("MOKOENA", "Thabo", dob="1985-04-02", document="RA1234567", evaluate=False)
    assert traveller_of(again).id == traveller_of(own).id
    assert read == [traveller_of(own).id], "the document's traveller alone"
    read.clear()
    bare = arrive("Mokoena", "Thabo", dob="1985-04-02", document=None, evaluate=False)
    assert namesakes <= set(read), "without a document every namesake in reach is read"
    assert traveller_of(bare).id == traveller_of(own).id


def test_where_a_name_reaches_few_namesakes_a_batch_reads_its_candidates_once(app, db_session, monkeypatch):
    """The documents-first read pays only where namesakes outnumber the documents' travellers (a decade's
    density). A year's batch, whose names reach few others, reads and restores its candidates once, and its
    travellers are still the in-memory index's."""
    from screening import online

    persons = generate_persons(60, seed=13)
    _store(generate_crossings(persons, 300, seed=14), batch=20)
    reads: list[int] = []
    real = online.candidate_rows

    def spy(session, traveller_ids):
        reads.append(len(list(traveller_ids)))
        return real(session, traveller_ids)

    monkeypatch.setattr(online, "candidate_rows", spy)
    restores = []
    real_restore = online._BatchIndex.restore.__func__
    monkeypatch.setattr(online._BatchIndex, "restore", classmethod(
        lambda cls, records, *a, **k: restores.append(1) or real_restore(cls, records, *a, **k)))
    later = [{**r, "external_id": f"L{r['external_id']}"}
             for r in generate_crossings(persons, 60, seed=15, start=datetime(2026, 6, 1, tzinfo=UTC), days=5)]
    _store(later, batch=60)
    assert len(restores) == 1 and len(reads) == 1 and reads[0] > 0
    _assert_as_in_memory()
