"""Statistics from the rollups equal the live queries, on the same generated data, after every kind of write."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete, select, update

from screening.models import Crossing, Flag, Traveller
from tests import factories
from tests.reports import builders as b
from tip_cases.extensions import db, utcnow
from tip_cases.reports import rollups, stats
from tip_cases.reports.models import StatRollupState

POSTS = ["MSB", "MPB", "VRG"]
NATS = ["LSO", "LSO", "ZAF", "ZWE", None]


def _generate(seed: int = 5, n: int = 400) -> list[Crossing]:
    """Crossings over 14 months near local midnight and band boundaries, resolved and not, with flags."""
    rng = random.Random(seed)
    travellers = []
    for i in range(60):
        y = rng.choice([None, 1950, 1976, 1990, 2001, 2008, 2014])
        t = Traveller(surname=f"T{i}", given_names="X", sex=rng.choice(["F", "M", None]),
                      nationality=rng.choice(NATS), dob_year=y, dob_month=rng.choice([None, 2, 11]) if y else None,
                      dob_day=rng.choice([None, 1, 28]) if y else None)
        db.session.add(t)
        travellers.append(t)
    db.session.flush()
    start = datetime(2025, 1, 1, 0, 0, tzinfo=UTC)
    out = []
    for _ in range(n):
        # Hours 21-23 UTC fall on the next local day in Maseru (UTC+2): the day boundary is exercised.
        at = start + timedelta(days=rng.randrange(420), hours=rng.choice([0, 10, 21, 22, 23]),
                               minutes=rng.randrange(60))
        dob = rng.choice([(None, None, None), (1990, 6, 15), (2008, 12, 31), (2008, None, None), (1975, 1, 1)])
        c = b.crossing(at, post=rng.choice(POSTS), direction=rng.choice(["entry", "exit"]),
                       sex=rng.choice(["F", "M", None, "U"]), dob=dob, nationality=rng.choice(NATS))
        if rng.random() < 0.8:
            c.traveller_id = rng.choice(travellers).id
        if rng.random() < 0.1:
            b.flag(c)
        out.append(c)
    db.session.flush()
    return out


FILTERS = [
    stats.Filters(date(2025, 1, 1), date(2026, 2, 24), period="month"),
    stats.Filters(date(2025, 1, 17), date(2025, 11, 3), period="day"),
    stats.Filters(date(2025, 3, 1), date(2025, 12, 31), period="year"),
    stats.Filters(date(2025, 2, 10), date(2025, 2, 20), period="day"),
]


def _assert_same(post_ids):
    assert stats._use_rollups(None), "the rollups should be in use"
    for f in FILTERS:
        for post_id in [None, *post_ids]:
            g = stats.Filters(f.start, f.end, post_id=post_id, period=f.period)
            live, rolled = stats.statistics(g, live=True), stats.statistics(g)
            assert [t.key for t in rolled] == [t.key for t in live]
            for a, r in zip(live, rolled, strict=True):
                assert r == a, (g, a.key)
            assert sum(live[0].row_totals) > 0 or post_id
    now = datetime(2025, 6, 30, 11, 5, tzinfo=UTC)
    for days in (1, 30, 90):
        assert stats.dashboard(now, days, live=None).per_day == stats.dashboard(now, days, live=True).per_day


def test_rollups_equal_live_queries_after_inserts_moves_and_deletes(app, db_session):
    crossings = _generate()
    post_ids = [factories.post(p).id for p in POSTS[:2]]
    _assert_same(post_ids)

    # Attach, merge, detach and move a crossing in time and place, as resolution and corrections do.
    ids = [c.id for c in crossings]
    tids = sorted({c.traveller_id for c in crossings if c.traveller_id})
    db.session.execute(update(Crossing).where(Crossing.traveller_id == tids[0]).values(traveller_id=tids[1]))
    db.session.execute(update(Crossing).where(Crossing.id.in_(ids[:20])).values(traveller_id=None))
    db.session.execute(update(Crossing).where(Crossing.id.in_(ids[20:40])).values(traveller_id=tids[2]))
    db.session.execute(update(Crossing), [{"id": i, "traveller_id": tids[3]} for i in ids[40:50]])
    db.session.execute(update(Crossing).where(Crossing.id == ids[60])
                       .values(crossed_at=datetime(2025, 5, 5, 22, 30, tzinfo=UTC), border_post_id=post_ids[1]))
    db.session.execute(delete(Flag).where(Flag.crossing_id.in_(ids[:100])))
    db.session.execute(delete(Crossing).where(Crossing.id.in_(ids[:100:7])))
    db.session.flush()
    _assert_same(post_ids)

    # A rebuild from scratch gives the same rollups.
    rollups.rebuild(db.session, now=utcnow())
    _assert_same(post_ids)
    db.session.commit()


def test_rollups_are_not_used_when_built_for_another_utc_offset(app, db_session):
    _generate(n=50)
    state = db.session.get(StatRollupState, 1)
    state.offset_minutes = 60
    db.session.flush()
    assert not stats._use_rollups(None)
    f = FILTERS[0]
    assert stats.statistics(f) == stats.statistics(f, live=True)


@pytest.mark.parametrize("dob", [(2008, 12, 31), (None, None, None)])
def test_unresolved_crossings_count_as_persons_from_the_rollups(app, db_session, dob):
    b.crossing(datetime(2025, 3, 1, 23, 30, tzinfo=UTC), dob=dob)  # 2 March in Maseru
    f = stats.Filters(date(2025, 3, 2), date(2025, 3, 2))
    by_age = stats.table(f, "travellers_sex_age")
    assert by_age.total == 1
    band = "12-17" if dob[0] else "unknown"  # 16 on 2 March 2025
    assert by_age.cells[stats.AGE_BAND_LABELS.index(band)][0] == 1
    assert stats.table(stats.Filters(date(2025, 3, 1), date(2025, 3, 1)), "travellers_sex_age").total == 0


def test_rebuild_command_prints_row_counts(app, db_session):
    _generate(n=30)
    db.session.commit()
    out = app.test_cli_runner().invoke(args=["reports", "rollup", "--rebuild"])
    assert out.exit_code == 0, out.output
    n = db.session.execute(select(Crossing.id)).all()
    assert "stat_crossings_daily:" in out.output and len(n) == 30


def test_each_traveller_day_points_at_the_travellers_day_before(app, db_session):
    """Crossings arriving out of order (a post node's late sync), at two posts, then one deleted and one moved to
    another traveller: every row's pointers are the traveller's previous row (any post, in day and post order)
    and previous day at the same post, so a period's persons are the rows pointing before it."""
    from tip_cases.reports.models import StatTravellerDays

    t, other = Traveller(surname="A", given_names="B"), Traveller(surname="C", given_names="D")
    db.session.add_all([t, other])
    db.session.flush()
    msb, mpb = factories.post("MSB").id, factories.post("MPB").id

    def at(day: int, post: str = "MSB"):
        c = b.crossing(datetime(2025, 4, day, 10, 0, tzinfo=UTC), post=post)
        c.traveller_id = t.id
        db.session.flush()
        return c

    def pointers():
        db.session.expire_all()
        return {(r.day.day, r.border_post_id): (r.prev_day and r.prev_day.day, r.prev_post_day and r.prev_post_day.day)
                for r in db.session.execute(select(StatTravellerDays).where(StatTravellerDays.traveller_id == t.id))
                .scalars()}

    at(20)
    at(10)
    late = at(15, "MPB")
    at(15)
    first, second = sorted([msb, mpb])  # the same day's rows in post order
    assert pointers() == {(10, msb): (None, None), (15, first): (10, 10 if first == msb else None),
                          (15, second): (15, 10 if second == msb else None), (20, msb): (15, 15)}
    db.session.execute(update(Crossing).where(Crossing.id == late.id).values(traveller_id=other.id))
    db.session.flush()
    assert pointers() == {(10, msb): (None, None), (15, msb): (10, 10), (20, msb): (15, 15)}
    db.session.execute(delete(Crossing).where(Crossing.traveller_id == t.id,
                                              Crossing.crossed_at == datetime(2025, 4, 15, 10, 0, tzinfo=UTC)))
    db.session.flush()
    assert pointers() == {(10, msb): (None, None), (20, msb): (10, 10)}
    # From the 16th: one person (the row of the 20th points before it); from the 12th also the other traveller.
    assert stats.table(stats.Filters(date(2025, 4, 16), date(2025, 4, 30)), "travellers_sex_age").total == 1
    assert stats.table(stats.Filters(date(2025, 4, 12), date(2025, 4, 30)), "travellers_sex_age").total == 2
    assert stats.table(stats.Filters(date(2025, 4, 12), date(2025, 4, 30), post_id=mpb), "travellers_sex_age"
                       ).total == 1


@pytest.fixture
def prev_url(pg_schema):
    """A database of its own for the upgrade from 0026; dropped afterwards."""
    from tests.conftest import scratch_database

    yield from scratch_database(pg_schema, "_prev_days")


@pytest.mark.postgres
def test_upgrade_to_0027_points_the_days_already_counted_and_downgrade_recounts_the_months(prev_url):
    """An installation counted under 0026 (a monthly distinct table, no pointers) upgrades to pointers filled from
    its rows, with statistics equal to the live count; the downgrade recounts the monthly table it drops."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text

    from tip_cases import create_app

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": prev_url})
    with app.app_context():
        upgrade(revision="0026_spelling_counts")
        _generate(seed=11, n=150)
        db.session.commit()
        months = db.session.execute(text("SELECT count(*), sum(n) FROM stat_traveller_months")).one()
        assert months[0] > 0
        db.session.remove()

        upgrade()
        lagged = db.session.execute(text(
            "SELECT count(*) FROM stat_traveller_days s JOIN (SELECT day, border_post_id, traveller_id, "
            "lag(day) OVER (PARTITION BY traveller_id ORDER BY day, border_post_id) AS pd, "
            "lag(day) OVER (PARTITION BY traveller_id, border_post_id ORDER BY day) AS ppd "
            "FROM stat_traveller_days) x USING (day, border_post_id, traveller_id) "
            "WHERE s.prev_day IS NOT DISTINCT FROM x.pd AND s.prev_post_day IS NOT DISTINCT FROM x.ppd")).scalar_one()
        assert lagged == db.session.execute(text("SELECT count(*) FROM stat_traveller_days")).scalar_one() > 0
        assert db.session.execute(text("SELECT to_regclass('stat_traveller_months')")).scalar() is None
        for f in FILTERS:
            assert stats.statistics(f) == stats.statistics(f, live=True), f
        db.session.remove()

        downgrade(revision="0026_spelling_counts")
        assert db.session.execute(text("SELECT count(*), sum(n) FROM stat_traveller_months")).one() == months
        db.session.remove()
        db.engine.dispose()


def _misdirected_rows() -> int:
    """Rollup rows whose pointers differ from the lag over the whole table (what every trigger form must keep)."""
    from sqlalchemy import text

    return db.session.execute(text(
        "SELECT count(*) FROM stat_traveller_days s JOIN (SELECT day, border_post_id, traveller_id, "
        "lag(day) OVER (PARTITION BY traveller_id ORDER BY day, border_post_id) AS pd, "
        "lag(day) OVER (PARTITION BY traveller_id, border_post_id ORDER BY day) AS ppd "
        "FROM stat_traveller_days) x USING (day, border_post_id, traveller_id) "
        "WHERE s.prev_day IS DISTINCT FROM x.pd OR s.prev_post_day IS DISTINCT FROM x.ppd")).scalar_one()


@pytest.mark.postgres
def test_a_bulk_insert_points_the_days_as_the_lag_over_them(app, db_session):
    """One INSERT of more rows than PREV_BULK_ROWS (a history import) takes the trigger's join branch: its
    pointers are each traveller's previous row, as a small batch's are, and the statistics equal the live ones."""
    from sqlalchemy import text

    from tip_cases.reports import rollup_sql

    travellers = [Traveller(surname=f"T{i}", given_names="X") for i in range(300)]
    db.session.add_all(travellers)
    db.session.flush()
    first = travellers[0].id
    posts = [factories.post(p).id for p in POSTS]
    _generate(seed=3, n=60)  # rows already there, some of the same days
    params = {"p0": posts[0], "p1": posts[1], "p2": posts[2], "first": first}
    if db.engine.dialect.name == "postgresql":
        params["n"] = rollup_sql.PREV_BULK_ROWS + 500  # the trigger's join branch
        db.session.execute(text(
            "INSERT INTO crossings (source, external_id, border_post_id, direction, crossed_at, surname, "
            "given_names, created_at, traveller_id) SELECT 'bulk', 'B' || i, "
            "CASE (i / 7) % 3 WHEN 0 THEN :p0 WHEN 1 THEN :p1 ELSE :p2 END, 'entry', CAST('2025-01-01 08:00+00' "
            "AS timestamptz) + make_interval(days => (i * 7919) % 419, hours => i % 17), 'Bulk', 'Row', now(), "
            ":first + i % 300 FROM generate_series(1, :n) AS i"), params)
    else:  # SQLite's row triggers: the same statement's shape, fewer rows
        params["n"] = 2_000
        db.session.execute(text(
            "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < :n) "
            "INSERT INTO crossings (source, external_id, border_post_id, direction, crossed_at, surname, "
            "given_names, created_at, traveller_id, consent_document) SELECT 'bulk', 'B' || i, "
            "CASE (i / 7) % 3 WHEN 0 THEN :p0 WHEN 1 THEN :p1 ELSE :p2 END, 'entry', "
            "strftime('%Y-%m-%d %H:%M:%S.000000', '2025-01-01 08:00:00', ((i * 7919) % 419) || ' days', "
            "(i % 17) || ' hours'), 'Bulk', 'Row', CURRENT_TIMESTAMP, :first + i % 300, 0 FROM s"), params)
    db.session.flush()
    assert _misdirected_rows() == 0
    pointed = db.session.execute(text("SELECT count(*) FROM stat_traveller_days WHERE traveller_id >= :f "
                                      "AND prev_day IS NOT NULL"), {"f": first}).scalar_one()
    assert pointed > params["n"] // 4  # the bulk rows were counted and pointed, not only the generated ones
    _assert_same(posts[:2])


@pytest.mark.postgres
def test_upgrade_to_0028_gives_the_trigger_its_bulk_branch_and_downgrade_takes_it_back(prev_url):
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text

    from tip_cases import create_app

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": prev_url})
    source = text("SELECT prosrc FROM pg_proc WHERE proname = 'stat_crossings_ins'")
    with app.app_context():
        upgrade(revision="0027_stat_prev_days")
        assert "IN (SELECT DISTINCT r.traveller_id" not in db.session.execute(source).scalar_one()
        db.session.remove()
        upgrade()
        body = db.session.execute(source).scalar_one()
        assert "IN (SELECT DISTINCT r.traveller_id" in body and "= ANY(ARRAY(SELECT DISTINCT" in body
        db.session.remove()
        downgrade(revision="0027_stat_prev_days")
        assert "IN (SELECT DISTINCT r.traveller_id" not in db.session.execute(source).scalar_one()
        db.session.remove()
        db.engine.dispose()


@pytest.mark.postgres
def test_upgrade_to_0031_repoints_from_the_first_day_and_downgrade_takes_it_back(prev_url):
    """0031's small branch reads a statement's travellers' rows from its first day on (two index probes a row);
    the downgrade restores the lag over every row of theirs. Both keep the pointers right on rows that arrive
    before, between and after the stored ones."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text

    from tip_cases import create_app

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": prev_url})
    source = text("SELECT prosrc FROM pg_proc WHERE proname = 'stat_crossings_ins'")
    since = "s.day >= (SELECT MIN("

    with app.app_context():
        upgrade(revision="0030_traveller_days_by_day")
        assert since not in db.session.execute(source).scalar_one()
        db.session.remove()
        upgrade()
        assert since in db.session.execute(source).scalar_one()
        rollups.rebuild(db.session, now=utcnow())
        t = Traveller(surname="A", given_names="B")
        db.session.add(t)
        db.session.flush()
        for day, post in ((20, 0), (10, 1), (15, 0), (25, 2), (12, 0), (15, 1), (1, 2)):  # out of order
            c = b.crossing(datetime(2025, 4, day, 10, 0, tzinfo=UTC), post=POSTS[post])
            c.traveller_id = t.id
            db.session.flush()
        assert _misdirected_rows() == 0
        assert db.session.execute(text("SELECT count(*) FROM stat_traveller_days WHERE traveller_id = :t "
                                       "AND prev_day IS NOT NULL"), {"t": t.id}).scalar_one() == 6
        db.session.execute(delete(Crossing).where(Crossing.traveller_id == t.id,
                                                  Crossing.crossed_at == datetime(2025, 4, 12, 10, 0, tzinfo=UTC)))
        db.session.flush()
        assert _misdirected_rows() == 0
        db.session.commit()
        db.session.remove()
        downgrade(revision="0030_traveller_days_by_day")
        assert since not in db.session.execute(source).scalar_one()
        db.session.remove()
        db.engine.dispose()
