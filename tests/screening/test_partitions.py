"""Crossings partitioned by month on PostgreSQL (issue 10): nothing lost, months pruned, rollups and
references kept, an existing table converted row for row; SQLite keeps its plain table."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from screening import partitions
from screening.models import Crossing, Flag
from tests.conftest import scratch_database
from tests.reports import builders as b
from tests.screening.builders import insert_old_crossings
from tip_cases.extensions import db

PG_ONLY = pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)],
                                  indirect=True)


def _partition_of(crossing_id: int) -> str:
    return db.session.execute(text("SELECT tableoid::regclass::text FROM crossings WHERE id = :i"),
                              {"i": crossing_id}).scalar_one()


def _daily(day: date) -> int:
    return db.session.execute(text("SELECT COALESCE(SUM(n), 0) FROM stat_crossings_daily WHERE day = :d"),
                              {"d": day}).scalar_one()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_keeps_a_plain_table(app):
    c = b.crossing(datetime(2031, 5, 10, 9, tzinfo=UTC))
    assert partitions.ensure(db.session) is None
    assert "not partitioned" in app.test_cli_runner().invoke(args=["crossings", "partitions"]).output
    assert db.session.get(Crossing, c.id).crossed_at.year == 2031
    names = {r[1] for r in db.session.execute(text("PRAGMA index_list('match_judgements')"))}
    assert "ix_match_judgements_crossing_id" in names


@PG_ONLY
def test_upgrade_makes_crossings_partitioned_with_months_ahead_and_a_default(app):
    assert partitions.is_partitioned(db.session.connection())
    parts = set(db.session.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'crossings'::regclass")).scalars())
    this_month = datetime.now(UTC).strftime("%Y%m")
    assert {"crossings_default", f"crossings_p{this_month}"} <= parts
    from notifications.scheduler import _JOBS
    from screening.handlers import job_partitions

    assert "crossing-partitions" in app.extensions[_JOBS]
    assert job_partitions(datetime.now(UTC)) == "partitions created 0"  # the migration made them already
    keys = db.session.execute(text(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'crossings'::regclass "
        "AND contype IN ('p', 'u') ORDER BY contype")).scalars().all()
    assert keys == ["PRIMARY KEY (id, crossed_at)", "UNIQUE (source, external_id, crossed_at)"]


@PG_ONLY
def test_a_month_without_partition_lands_in_default_then_moves_to_its_own(app, runner):
    at = datetime(2031, 5, 10, 9, tzinfo=UTC)
    c = b.crossing(at)
    f = b.flag(c)
    db.session.commit()
    assert _partition_of(c.id) == "crossings_default"

    out = runner.invoke(args=["crossings", "partitions"]).output  # what the scheduler's job runs daily
    assert out.startswith("partitions created: ") and int(out.split(":")[1]) >= 1, out
    assert _partition_of(c.id) == "crossings_p203105"
    assert db.session.execute(select(sa.func.count()).select_from(Crossing)
                              .where(Crossing.external_id == c.external_id)).scalar_one() == 1
    assert db.session.get(Flag, f.id).crossing.crossed_at == at  # the ORM still finds it by id
    assert partitions.ensure(db.session) == 0  # nothing left to do


@PG_ONLY
def test_a_month_range_reads_only_that_months_partitions(app):
    # As before a bulk load of history: the months first, so no row goes through the default partition.
    assert partitions.add_months(db.session, datetime(2030, 1, 9, tzinfo=UTC), datetime(2030, 6, 30, tzinfo=UTC)) == 6
    for m in range(1, 7):
        b.crossing(datetime(2030, m, 15, tzinfo=UTC))
    db.session.commit()
    plan = "\n".join(db.session.execute(text(
        "EXPLAIN SELECT border_post_id, count(*) FROM crossings WHERE crossed_at >= :lo AND crossed_at < :hi "
        "GROUP BY 1"), {"lo": datetime(2030, 2, 1, tzinfo=UTC), "hi": datetime(2030, 4, 1, tzinfo=UTC)}).scalars())
    scanned = {p for p in ("crossings_p2030" + f"{m:02d}" for m in range(1, 7)) if p in plan}
    assert scanned == {"crossings_p203002", "crossings_p203003"}, plan
    assert "crossings_default" not in plan, plan


@PG_ONLY
def test_rollups_follow_inserts_moves_between_months_and_deletes(app):
    for m in (1, 2):
        db.session.execute(text("SELECT crossings_add_partition(:m)"), {"m": date(2029, m, 1)})
    jan, feb = date(2029, 1, 20), date(2029, 2, 20)
    c = b.crossing(datetime(2029, 1, 20, 10, tzinfo=UTC))
    db.session.commit()
    assert (_daily(jan), _daily(feb)) == (1, 0)
    assert _partition_of(c.id) == "crossings_p202901"

    c.crossed_at = datetime(2029, 2, 20, 10, tzinfo=UTC)  # a correction that moves it to February's partition
    db.session.commit()
    assert _partition_of(c.id) == "crossings_p202902"
    assert (_daily(jan), _daily(feb)) == (0, 1)

    db.session.delete(c)
    db.session.commit()
    assert (_daily(jan), _daily(feb)) == (0, 0)


@PG_ONLY
def test_references_to_a_crossing_are_still_checked(app):
    db.session.execute(text("SELECT crossings_add_partition(:m)"), {"m": date(2029, 3, 1)})
    c = b.crossing(datetime(2029, 3, 5, tzinfo=UTC))
    f = b.flag(c)
    db.session.commit()

    with pytest.raises(IntegrityError, match="does not exist"):
        db.session.add(Flag(crossing_id=c.id + 1000, border_post_id=c.border_post_id, score=0.5))
        db.session.flush()
    db.session.rollback()

    with pytest.raises(IntegrityError, match="still referenced"):
        db.session.execute(sa.delete(Crossing).where(Crossing.id == c.id))
    db.session.rollback()

    # Moving a flagged crossing to another month keeps its flag valid.
    db.session.execute(sa.update(Crossing).where(Crossing.id == c.id)
                       .values(crossed_at=datetime(2031, 8, 1, tzinfo=UTC)))
    db.session.commit()
    assert db.session.get(Flag, f.id).crossing_id == c.id
    assert _partition_of(c.id) == "crossings_default"


@PG_ONLY
def test_resending_a_stored_crossing_adds_nothing(app):
    from screening import services
    from tests.screening.builders import new_crossing

    item = new_crossing("DUP-1", now=datetime(2029, 4, 2, tzinfo=UTC))
    first = services.store_crossings([item], source="test", actor=None, now=datetime(2029, 4, 2, tzinfo=UTC))
    db.session.commit()
    again = services.store_crossings([item], source="test", actor=None, now=datetime(2029, 4, 2, tzinfo=UTC))
    db.session.commit()
    assert (first[0].status, again[0].status) == ("accepted", "duplicate")
    assert again[0].crossing_id == first[0].crossing_id
    # The database key itself (what a concurrent writer meets) refuses the same crossing twice.
    with pytest.raises(IntegrityError):
        db.session.execute(text(
            "INSERT INTO crossings (source, external_id, border_post_id, direction, crossed_at, surname, given_names, "
            "created_at) SELECT source, external_id, border_post_id, direction, crossed_at, '', '', now() "
            "FROM crossings WHERE id = :i"), {"i": first[0].crossing_id})
    db.session.rollback()


@PG_ONLY
def test_two_senders_of_one_external_id_at_once_store_it_once(app):
    """The unique key includes crossed_at once partitioned: a second sender of the same crossing with a
    corrected time, while the first is still uncommitted, must wait and be told "duplicate"."""
    import threading

    from screening import services
    from tests.screening.builders import new_crossing

    first_at, second_at = datetime(2029, 4, 2, tzinfo=UTC), datetime(2029, 6, 9, tzinfo=UTC)
    first = services.store_crossings([new_crossing("RACE-1", now=first_at)], source="test", actor=None, now=first_at)
    second: list = []

    def other_sender():
        with app.app_context():
            try:
                second.extend(services.store_crossings([new_crossing("RACE-1", now=second_at)], source="test",
                                                       actor=None, now=second_at))
                db.session.commit()
            finally:
                db.session.remove()

    thread = threading.Thread(target=other_sender)
    thread.start()
    thread.join(timeout=2)
    assert thread.is_alive(), "the second sender did not wait for the first one's commit"
    db.session.commit()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert (first[0].status, second[0].status) == ("accepted", "duplicate")
    assert second[0].crossing_id == first[0].crossing_id
    stored = db.session.execute(select(Crossing.crossed_at).where(Crossing.external_id == "RACE-1")).scalars().all()
    assert len(stored) == 1 and stored[0] == first_at


# --- the upgrade of an existing installation --------------------------------------------------------


@pytest.fixture
def unpartitioned_url(pg_schema):
    """A database of its own at revision 0021 (crossings not yet partitioned); dropped afterwards."""
    yield from scratch_database(pg_schema, "_partition_upgrade")


def test_upgrade_converts_an_existing_table_without_losing_a_row(unpartitioned_url):
    from flask_migrate import downgrade, upgrade

    from tip_cases import create_app

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": unpartitioned_url})
    with app.app_context():
        upgrade(revision="0021_traveller_keys")
        insert_old_crossings(3000, alternate=True)
        db.session.execute(text("DELETE FROM crossings WHERE id % 7 = 0"))  # gaps in the ids, as in real life
        db.session.execute(text(
            "INSERT INTO flags (kind, crossing_id, border_post_id, score, priority, reason, action, status, "
            "created_at, version) SELECT 'identity', id, border_post_id, 0.9, 'normal', '', '', 'new', now(), 1 "
            "FROM crossings WHERE id % 100 = 1"))
        db.session.commit()
        before_ids = db.session.execute(text("SELECT array_agg(id ORDER BY id) FROM crossings")).scalar_one()
        before_rollup = db.session.execute(text("SELECT SUM(n) FROM stat_crossings_daily")).scalar_one()
        last = db.session.execute(text("SELECT last_value FROM crossings_id_seq")).scalar_one()
        db.session.remove()

        upgrade()

        assert partitions.is_partitioned(db.session.connection())
        after_ids = db.session.execute(text("SELECT array_agg(id ORDER BY id) FROM crossings")).scalar_one()
        assert after_ids == before_ids and len(after_ids) == 3000 - 3000 // 7
        n_parts = db.session.execute(text(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'crossings'::regclass")).scalar_one()
        assert n_parts >= 7  # 3000 x 97 min spans seven months, plus the months ahead and the default
        assert db.session.execute(text("SELECT count(*) FROM crossings_default")).scalar_one() == 0
        assert db.session.execute(text("SELECT SUM(n) FROM stat_crossings_daily")).scalar_one() == before_rollup
        # The sequence continues; the flags still point at their crossings; the rollup triggers fire.
        c = b.crossing(datetime(2024, 3, 1, 12, tzinfo=UTC))
        db.session.commit()
        assert c.id == last + 1
        assert db.session.execute(text("SELECT SUM(n) FROM stat_crossings_daily")).scalar_one() == before_rollup + 1
        orphans = db.session.execute(text(
            "SELECT count(*) FROM flags f WHERE NOT EXISTS (SELECT 1 FROM crossings c WHERE c.id = f.crossing_id)"))
        assert orphans.scalar_one() == 0
        db.session.remove()

        downgrade(revision="0021_traveller_keys")  # and back: a plain table again, same rows
        assert not partitions.is_partitioned(db.session.connection())
        assert db.session.execute(text("SELECT count(*) FROM crossings")).scalar_one() == len(after_ids) + 1
        db.session.remove()
        db.engine.dispose()
