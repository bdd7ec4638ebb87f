"""The nightly risk rules run chunk by chunk of travellers and find exactly what one pass over the window finds."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event, func, select, update

from notifications.models import NotificationEvent, OutboxMessage
from screening import tracing
from screening.engine import patterns
from screening.models import Crossing, Flag, RiskFindingRecord, Traveller
from tests.notifications.builders import subscribed
from tests.tracing.builders import NOW, arrive
from tip_cases.extensions import db
from tip_cases.models import BorderPost


def _plant():
    """Several rules' patterns among a dozen travellers, stored as they arrive, no rule run yet."""
    for i, (surname, given, dob, days) in enumerate([("Sello", "Mpho", "2010-01-21", 56),
                                                     ("Ntlaloe", "Lintle", "2009-08-30", 33),
                                                     ("Ramokhele", "Karabo", "2011-11-03", 6)]):
        arrive("Mofokeng", "Tsepo", dob="1979-05-02", document="RA7788123", days_ago=days, group=f"G{i}",
               evaluate=False)
        arrive(surname, given, dob=dob, sex="F", document=None, days_ago=days, minutes=1, group=f"G{i}",
               evaluate=False)
        arrive("Mofokeng", "Tsepo", dob="1979-05-02", document="RA7788123", days_ago=days - 2, direction="entry",
               evaluate=False)
    # ordinary travellers around them, some at the same post and minute
    for k, (surname, given) in enumerate([("Mokoena", "Thabo"), ("Nkosi", "Palesa"), ("Tau", "Puleng"),
                                          ("Molapo", "Lerato"), ("Khoza", "Sipho")]):
        for days in (40, 20, 5):
            arrive(surname, given, dob=f"198{k}-03-1{k}", document=f"RA55{k}0000", days_ago=days, minutes=k,
                   evaluate=False)
            arrive(surname, given, dob=f"198{k}-03-1{k}", document=f"RA55{k}0000", days_ago=days - 1,
                   direction="entry", evaluate=False)


def _one_pass_keys(now) -> set[str]:
    """What the rules find over every crossing of the look-back window at once (the old nightly run)."""
    since = now - timedelta(days=tracing.evaluation_days())
    posts = dict(db.session.execute(select(BorderPost.id, BorderPost.code)).all())
    rows = db.session.execute(select(*tracing._FACT_COLUMNS).where(Crossing.traveller_id.is_not(None),
                                                                   Crossing.crossed_at >= since)).all()
    facts = [tracing._fact(r, posts) for r in rows]
    found = patterns.evaluate(facts, now=now, config=tracing.pattern_config(), rules=tracing.enabled_rules(),
                              suspects=set(), flagged=set())
    return {tracing.finding_key(f) for f in found}


def test_nightly_rules_by_chunks_of_one_traveller_find_what_one_pass_finds(app, db_session):
    _plant()
    expected = _one_pass_keys(NOW)
    rules = {k.split(":")[0] for k in expected}
    assert {"frequent_minor_companions", "no_return", "unaccompanied_minor"} <= rules, rules
    flags = tracing.evaluate_patterns(now=NOW, chunk=1)
    db.session.commit()
    raised = set(db.session.execute(select(RiskFindingRecord.finding_key)).scalars())
    assert raised == expected
    assert len(flags) == len(expected)  # each finding once, though companions appear in several chunks
    # the scheduler's nightly job, with its configured chunk, raises nothing twice
    assert tracing.evaluate_patterns(now=NOW) == []


def test_neighbour_queries_compile_to_one_shape_whatever_the_number_of_windows(app, db_session):
    """Each nightly chunk ends with a partial batch of windows; unpadded, each remainder compiled a statement of
    its own into the engine's cache (~1 MiB each at 150 windows), and the scheduler grew chunk after chunk."""
    _plant()
    rows = db.session.execute(select(*tracing._FACT_COLUMNS).where(Crossing.traveller_id.is_not(None))).all()
    assert len(rows) >= 7
    cache = db.engine._compiled_cache
    tracing._neighbours(db.session, rows[:1], 10)
    size = len(cache)
    found = {n: {r.id for r in tracing._neighbours(db.session, rows[:n], 10)} for n in (2, 3, 5, 7)}
    assert len(cache) == size  # the same statement, four remainders
    # padding changes nothing that is found: a crossing is its own neighbour, and n windows find at least n rows
    assert all(len(ids) >= n for n, ids in found.items())
    assert found[2] <= found[3] <= found[5] <= found[7]


def test_the_patterns_due_job_judged_in_slices_of_one_finds_what_one_pass_finds(app, db_session, monkeypatch):
    """The scheduler's due job judges its travellers a slice at a time (memory), each finding once."""
    _plant()
    db.session.execute(update(Traveller).values(patterns_due=True))
    expected = _one_pass_keys(NOW)
    monkeypatch.setattr(tracing, "_DUE_SLICE", 1)
    raised = tracing.evaluate_due(now=NOW, limit=1000)
    db.session.commit()
    assert set(db.session.execute(select(RiskFindingRecord.finding_key)).scalars()) == expected
    assert raised == len(expected)
    assert not db.session.scalar(select(func.count()).select_from(Traveller).where(Traveller.patterns_due.is_(True)))


def test_slices_follow_what_the_last_slice_read():
    """Dense neighbourhoods shrink the next slice to the crossings budget; sparse ones let it grow, fourfold at
    most a step, never past the cap and never below one traveller."""
    s = tracing.Slices(cap=2000, rows=20_000)
    assert s.size == 200  # a tenth of the cap first
    s.observe(200, 400_000)  # 2,000 crossings a traveller (a decade's dense stretch)
    assert s.size == 10
    s.observe(10, 100)  # sparse: would fit 2,000, grows to 40 only
    assert s.size == 40
    for _ in range(5):
        s.observe(s.size, s.size)
    assert s.size == 2000  # the cap
    s.observe(2000, 10**9)
    assert s.size == 1
    s.observe(1, 0)  # nothing read: grow (x4), bounded
    assert s.size == 4


def test_the_due_job_reads_no_more_than_its_crossings_budget_a_slice(app, db_session, monkeypatch):
    """With a budget of a few crossings, the job narrows to one traveller a slice and still finds everything."""
    _plant()
    db.session.execute(update(Traveller).values(patterns_due=True))
    expected = _one_pass_keys(NOW)
    app.config["TRACING_PATTERN_ROWS"] = 5
    monkeypatch.setattr(tracing, "_DUE_SLICE", 30)
    sizes: list[int] = []
    real = tracing._evaluate

    def spy(session, ids, *args, **kwargs):
        sizes.append(len(ids))
        return real(session, ids, *args, **kwargs)

    monkeypatch.setattr(tracing, "_evaluate", spy)
    tracing.evaluate_due(now=NOW, limit=1000)
    db.session.commit()
    assert sizes[0] == 3 and set(sizes[1:]) == {1}, sizes  # 30 // 10 first; then each read far more than 5
    assert sum(sizes) == db.session.scalar(select(func.count()).select_from(Traveller))
    assert set(db.session.execute(select(RiskFindingRecord.finding_key)).scalars()) == expected


def test_suspects_are_the_travellers_of_identity_flags_on_suspects_not_dismissed(app, db_session):
    """The risk rules' suspects come from identity flags (read first) and their crossings' travellers; a flag
    judged "not the same person" makes nobody a suspect."""
    from screening.models import Flag
    from tests.screening.builders import make_person

    assert tracing._suspect_travellers(db.session, None) == set()  # no flags: no statement over crossings
    make_person(surname="Mofokeng", given_names="Tsepo", dob="1979-05-02", sex="M", category="suspect",
                alert_kind="suspect", discreet=False)
    suspect = arrive("Mofokeng", "Tsepo", dob="1979-05-02", document="RA7788123", days_ago=3, group="G1")
    other = arrive("Sello", "Mpho", dob="2010-01-21", sex="F", document=None, days_ago=3, minutes=1, group="G1")
    db.session.refresh(suspect)
    db.session.refresh(other)
    flags = db.session.execute(select(Flag).where(Flag.kind == "identity")).scalars().all()
    assert {f.crossing_id for f in flags} == {suspect.id}
    assert tracing._suspect_travellers(db.session, None) == {suspect.traveller_id}
    assert tracing._suspect_travellers(db.session, {other.traveller_id}) == set()
    assert tracing._suspect_travellers(db.session, {suspect.traveller_id, other.traveller_id}) == {
        suspect.traveller_id}
    for f in flags:
        f.status = "not_same_person"
    db.session.commit()
    assert tracing._suspect_travellers(db.session, None) == set()


def test_a_pass_writes_its_flags_together_and_publishes_each_once(app, db_session):
    """A first pass over a backlog raises thousands of flags: written one at a time (a flush each) and published
    one at a time, they took nearly half the rules' time (docs/performance.md, session 21). Now a pass writes its
    flags together, and every flag still has its finding, its event and its partner's message."""
    agency, _ = subscribed("http://127.0.0.1:9/risk", event="risk.found")
    _plant()
    inserts: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO FLAGS"):
            inserts.append(statement)

    everyone = db.session.execute(select(Traveller.id)).scalars().all()
    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        flags = tracing.evaluate_patterns(now=NOW, traveller_ids=everyone)  # one pass, as a due slice
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    db.session.commit()
    ids = {f.id for f in flags}
    assert len(ids) >= 5
    if db.engine.dialect.name == "postgresql":  # SQLite returns no ids in order from one INSERT: a row at a time
        assert len(inserts) == 1, inserts
    assert set(db.session.execute(select(RiskFindingRecord.flag_id)).scalars()) == ids
    assert set(db.session.execute(select(Flag.id).where(Flag.kind == "risk")).scalars()) == ids
    events = db.session.execute(select(NotificationEvent)
                                .where(NotificationEvent.event == "risk.found")).scalars().all()
    assert sorted(int(e.subject_id) for e in events) == sorted(ids)  # each flag published once
    messages = db.session.execute(select(OutboxMessage).where(OutboxMessage.agency_id == agency.id)).scalars().all()
    assert sorted(m.payload["ref"] for m in messages) == sorted(f"flag:{i}" for i in ids)
    assert {m.event_id for m in messages} == {e.id for e in events}
