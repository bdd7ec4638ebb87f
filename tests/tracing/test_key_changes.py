"""The log of key changes (screening.key_changes): what a batch that read its keys before its locks must read
again, with two real PostgreSQL connections."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, insert, text, update
from sqlalchemy.orm import Session

from screening import key_changes, online
from screening.models import Traveller, TravellerKey
from tip_cases.extensions import db

pytestmark = pytest.mark.postgres
on_postgresql = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def _travellers(n: int) -> list[int]:
    rows = [Traveller() for _ in range(n)]
    db.session.add_all(rows)
    db.session.commit()
    return [t.id for t in rows]


def _other() -> Session:
    """A second connection: the other worker."""
    return Session(db.engine)


@on_postgresql
def test_a_change_committed_after_the_snapshot_is_listed_and_one_before_it_is_not(app, db_session):
    a, b = _travellers(2)
    with _other() as other:
        other.execute(insert(TravellerKey), [{"key": 10, "traveller_id": a}])
        other.commit()  # before the reader's snapshot: its read sees it
        since = key_changes.snapshot(db.session)
        other.execute(insert(TravellerKey), [{"key": 11, "traveller_id": b}, {"key": 12, "traveller_id": b}])
        other.execute(delete(TravellerKey).where(TravellerKey.key == 10))
        pending = _other()
        pending.execute(insert(TravellerKey), [{"key": 13, "traveller_id": a}])  # not committed: not visible
        other.commit()
        changed = key_changes.changed_since(db.session, since, {10, 11, 13, 99})
        pending.rollback()
        pending.close()
    assert changed == {10, 11}, "the keys asked about that were written after the snapshot, the delete included"


@on_postgresql
def test_an_update_logs_old_and_new_keys(app, db_session):
    a, b = _travellers(2)
    db.session.execute(insert(TravellerKey), [{"key": 20, "traveller_id": a}])
    db.session.commit()
    since = key_changes.snapshot(db.session)
    with _other() as other:
        other.execute(update(TravellerKey).where(TravellerKey.key == 20).values(key=21, traveller_id=b))
        other.commit()
    assert key_changes.changed_since(db.session, since, {20, 21, 22}) == {20, 21}


@on_postgresql
def test_a_bulk_write_or_a_pruned_change_asks_for_everything(app, db_session):
    (a,) = _travellers(1)
    since = key_changes.snapshot(db.session)
    with _other() as other:
        other.execute(text("INSERT INTO traveller_keys (key, traveller_id) "
                           "SELECT k, :t FROM generate_series(1, 20001) k"), {"t": a})  # one statement
        other.commit()
    assert key_changes.changed_since(db.session, since, {5}) is None, "more than 20,000 rows logged as NULL"

    db.session.commit()
    since = key_changes.snapshot(db.session)
    with _other() as other:
        other.execute(insert(TravellerKey), [{"key": 30_000, "traveller_id": a}])
        other.commit()
        assert key_changes.changed_since(db.session, since, {30_000}) == {30_000}
        # A minute on, the next writer prunes it; the reader can no longer tell, so it reads everything again.
        other.execute(text("UPDATE traveller_key_changes SET at = at - interval '2 minutes'"))
        other.execute(insert(TravellerKey), [{"key": 30_001, "traveller_id": a}])
        other.commit()
        left = other.execute(text("SELECT count(*) FROM traveller_key_changes")).scalar()
    assert left == 1, "the old rows pruned, the new one kept"
    assert key_changes.changed_since(db.session, since, {30_000}) is None


@on_postgresql
def test_read_keys_then_lock_reads_again_only_what_changed(app, db_session, monkeypatch):
    a, b = _travellers(2)
    db.session.execute(insert(TravellerKey), [{"key": 40, "traveller_id": a}, {"key": 41, "traveller_id": a}])
    db.session.commit()
    reads: list[list[int]] = []
    real = online.key_rows

    def counted(session, keys, per_key):
        reads.append(sorted(keys))
        return real(session, keys, per_key)

    # The other worker commits a traveller under key 41 between this batch's read and its locks.
    real_lock = online.lock_keys

    def lock_after_the_other_commits(session, keys):
        with _other() as other:
            other.execute(insert(TravellerKey), [{"key": 41, "traveller_id": b}, {"key": 42, "traveller_id": b}])
            other.commit()
        return real_lock(session, keys)

    monkeypatch.setattr(online, "key_rows", counted)
    monkeypatch.setattr(online, "lock_keys", lock_after_the_other_commits)
    found = online.read_keys_then_lock(db.session, [40, 41, 42, 43], 10)
    assert reads == [[40, 41, 42, 43], [41, 42]], "everything before the locks, the two changed keys after"
    assert {k: v for k, v in found.items() if v} == {40: [a], 41: [a, b], 42: [b]}


@pytest.fixture
def old_url(pg_schema):
    """A database of its own for the upgrade from 0031; dropped afterwards."""
    from tests.conftest import scratch_database

    yield from scratch_database(pg_schema, "_key_changes")


def test_upgrade_to_0032_logs_key_writes_and_downgrade_stops_it(old_url):
    from flask_migrate import downgrade, upgrade

    from tip_cases import create_app

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": old_url})
    with app.app_context():
        upgrade(revision="0031_prev_refresh_since")
        assert not key_changes.installed(db.session)
        (a,) = _travellers(1)
        db.session.execute(insert(TravellerKey), [{"key": 1, "traveller_id": a}])  # no trigger yet
        db.session.commit()
        db.session.remove()
        upgrade()
        assert key_changes.installed(db.session)
        since = key_changes.snapshot(db.session)
        with _other() as other:
            other.execute(insert(TravellerKey), [{"key": 2, "traveller_id": a}])
            other.commit()
        assert key_changes.changed_since(db.session, since, {1, 2}) == {2}
        db.session.remove()
        downgrade(revision="0031_prev_refresh_since")
        assert not key_changes.installed(db.session)
        db.session.execute(insert(TravellerKey), [{"key": 3, "traveller_id": a}])  # the triggers went too
        db.session.commit()
        assert db.session.execute(text("SELECT count(*) FROM traveller_keys")).scalar_one() == 3
        db.session.remove()
        db.engine.dispose()
