"""One crossing per (source, external_id), whatever its month (migration 0023_crossing_keys; issue 10).

Partitioned by month, PostgreSQL's unique key on crossings includes crossed_at; the crossing_keys table
is what refuses a resent crossing with a corrected time, for a concurrent sender too."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from screening import services
from screening.models import Crossing, CrossingKey, Flag
from tests import factories
from tests.conftest import scratch_database
from tests.reports import builders as b
from tests.screening.builders import crossing_item, insert_old_crossings, make_person, new_crossing
from tip_cases.extensions import db

PG_ONLY = pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)],
                                  indirect=True)
APRIL, JUNE = datetime(2029, 4, 2, 8, tzinfo=UTC), datetime(2029, 6, 9, 8, tzinfo=UTC)


def _keys(source: str = "test") -> dict[str, int]:
    return dict(db.session.execute(select(CrossingKey.external_id, CrossingKey.crossing_id)
                                   .where(CrossingKey.source == source)).all())


def test_every_crossing_gets_its_key_however_it_is_stored(app):
    stored = services.store_crossings([new_crossing("K-1", now=APRIL), new_crossing("K-2", now=JUNE)],
                                      source="test", actor=None, now=JUNE)
    loaded = b.crossing(datetime(2029, 5, 1, tzinfo=UTC))  # an ORM insert, as loaders and builders do
    db.session.commit()
    assert _keys() == {"K-1": stored[0].crossing_id, "K-2": stored[1].crossing_id, loaded.external_id: loaded.id}
    at = db.session.execute(select(CrossingKey.crossed_at).where(CrossingKey.external_id == "K-2")).scalar_one()
    assert at == JUNE


def test_a_crossing_resent_with_a_corrected_time_is_reported_as_a_duplicate(app, client):
    _, token = factories.make_api_client(post_code="MSB")

    def send(at: str) -> dict:
        resp = client.post("/api/v1/crossings", json={"crossings": [crossing_item("RESENT-1", crossed_at=at)]},
                           headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return resp.get_json()

    first = send("2026-11-20T10:15:00+02:00")
    again = send("2026-12-02T07:00:00+02:00")  # another month: another partition on PostgreSQL
    assert (first["accepted"], again["accepted"], again["duplicates"]) == (1, 0, 1)
    assert again["results"][0]["status"] == "duplicate"
    assert again["results"][0]["crossing_id"] == first["results"][0]["crossing_id"]
    assert db.session.scalar(select(func.count()).select_from(Crossing)
                             .where(Crossing.external_id == "RESENT-1")) == 1


def test_the_database_refuses_a_second_crossing_of_a_key_stored_any_other_way(app):
    first = services.store_crossings([new_crossing("RAW-1", now=APRIL)], source="test", actor=None, now=APRIL)
    db.session.commit()
    # An operator's INSERT (or a loader's COPY) with another time passes PostgreSQL's partitioned unique
    # key; the key trigger (SQLite: the plain unique key) refuses it.
    with pytest.raises(IntegrityError):
        db.session.execute(text(
            "INSERT INTO crossings (source, external_id, border_post_id, direction, crossed_at, surname, given_names, "
            "created_at, consent_document) SELECT source, external_id, border_post_id, direction, :at, '', '', "
            ":at, false FROM crossings WHERE id = :i"), {"i": first[0].crossing_id, "at": JUNE})
    db.session.rollback()
    assert _keys() == {"RAW-1": first[0].crossing_id}


@PG_ONLY
def test_concurrent_senders_of_overlapping_batches_store_each_crossing_once(app):
    """Four senders at once, each with the same 40 external ids in its own order and its own month: every id
    stored once, every other outcome "duplicate" with the stored crossing's id, no deadlock, nothing lost.
    Every sender matches all 40 against the person of interest before it stores them: only the sender that
    stored a crossing raises its flag."""
    person = make_person()
    ids = [f"RACE-{i:02d}" for i in range(40)]
    months = [datetime(2029, m, 3, 9, tzinfo=UTC) for m in (2, 4, 6, 8)]
    start = threading.Barrier(len(months))
    outcomes: list[list] = [[] for _ in months]
    flags_of: list[dict] = [{} for _ in months]
    errors: list[BaseException] = []

    def sender(k: int) -> None:
        order = ids[:]
        random.Random(k).shuffle(order)
        with app.app_context():
            try:
                items = [new_crossing(e, now=months[k]) for e in order]
                start.wait(timeout=30)
                outcomes[k] = services.store_crossings(items, source="race", actor=None, now=months[k])
                flags_of[k] = {r.external_id: [f.crossing_id for f in r.flags] for r in outcomes[k]}
                db.session.commit()
            except BaseException as exc:  # reported below: a thread's exception would otherwise vanish
                errors.append(exc)
                db.session.rollback()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=sender, args=(k,)) for k in range(len(months))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)
    stored = dict(db.session.execute(select(Crossing.external_id, Crossing.id).where(Crossing.source == "race")).all())
    assert sorted(stored) == ids  # each once
    assert _keys("race") == stored
    per_id: dict[str, list[str]] = {e: [] for e in ids}
    for results in outcomes:
        for r in results:
            per_id[r.external_id].append(r.status)
            assert r.crossing_id == stored[r.external_id]
    assert all(sorted(s) == ["accepted", "duplicate", "duplicate", "duplicate"] for s in per_id.values()), per_id
    flagged = db.session.execute(select(Flag.crossing_id, Flag.person_id).where(Flag.kind == "identity")).all()
    assert sorted(flagged) == sorted((cid, person.id) for cid in stored.values())
    for results, flags in zip(outcomes, flags_of, strict=True):
        for r in results:
            assert flags[r.external_id] == ([r.crossing_id] if r.status == "accepted" else [])


# --- the upgrade of an existing installation --------------------------------------------------------


@pytest.fixture
def old_url(pg_schema):
    """A database of its own for the upgrade from 0022; dropped afterwards."""
    yield from scratch_database(pg_schema, "_keys_upgrade")


@pytest.mark.postgres
def test_upgrade_keys_every_stored_crossing_and_the_earliest_of_a_pair(old_url):
    from flask_migrate import downgrade, upgrade

    from tip_cases import create_app

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": old_url})
    with app.app_context():
        upgrade(revision="0022_crossings_partitioned")
        insert_old_crossings(2000)
        # Two senders raced before session 5's locks: one key, two crossings of different months.
        db.session.execute(text(
            "INSERT INTO crossings (source, external_id, border_post_id, direction, crossed_at, surname, "
            "given_names, created_at, consent_document) "
            "SELECT source, external_id, border_post_id, direction, crossed_at + interval '40 days', surname, "
            "given_names, now(), false FROM crossings WHERE external_id = 'E7'"))
        db.session.commit()
        first_e7 = db.session.execute(text("SELECT min(id) FROM crossings WHERE external_id = 'E7'")).scalar_one()
        db.session.remove()

        upgrade()

        keys = _keys("old")
        assert len(keys) == 2000 and keys["E7"] == first_e7
        assert db.session.execute(text(
            "SELECT count(*) FROM crossing_keys k JOIN crossings c ON c.id = k.crossing_id "
            "AND c.crossed_at = k.crossed_at AND c.external_id = k.external_id")).scalar_one() == 2000
        db.session.remove()
        downgrade(revision="0022_crossings_partitioned")
        assert db.session.execute(text("SELECT to_regclass('crossing_keys')")).scalar() is None
        db.session.remove()
        db.engine.dispose()
