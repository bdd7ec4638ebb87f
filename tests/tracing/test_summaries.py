"""Attach's summary update (tracing.update_summaries, from traveller_spellings' counts) gives exactly what
refresh_summaries computes from all of a traveller's crossings, whatever the order and size of the attaches."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select

from bench.generate import generate_crossings, generate_persons
from screening import services, tracing
from screening.models import Crossing, Traveller, TravellerSpelling
from tests.tracing.builders import arrive, traveller_of
from tests.tracing.test_online_attach import NOW, _items
from tip_cases.cases import retention
from tip_cases.extensions import db

_COLUMNS = (Traveller.id, Traveller.surname, Traveller.given_names, Traveller.sex, Traveller.nationality,
            Traveller.dob_year, Traveller.dob_month, Traveller.dob_day, Traveller.dob_precision,
            Traveller.crossing_count, Traveller.first_crossed_at, Traveller.last_crossed_at,
            Traveller.last_direction, Traveller.merged_into_id)


def _utc(v):
    if isinstance(v, datetime):
        return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)
    return v


def _summaries() -> dict[int, tuple]:
    db.session.expire_all()
    return {r.id: tuple(_utc(v) for v in r) for r in db.session.execute(select(*_COLUMNS))}


def _assert_as_full_recompute() -> dict[int, tuple]:
    """The travellers' list columns as attach left them equal a full recompute from their crossings, and each
    traveller's spelling counts add up to its crossings that identify (pseudonymised ones have no spelling)."""
    kept = _summaries()
    counted = dict(db.session.execute(select(TravellerSpelling.traveller_id, func.sum(TravellerSpelling.crossing_count))
                                      .group_by(TravellerSpelling.traveller_id)).all())
    identified = dict(db.session.execute(select(Crossing.traveller_id, func.count()).where(
        Crossing.traveller_id.is_not(None), Crossing.pseudonymised_at.is_(None)).group_by(Crossing.traveller_id)).all())
    assert counted == identified
    tracing.refresh_summaries(db.session, kept, NOW)
    db.session.flush()
    full = _summaries()
    assert {t: v for t, v in kept.items() if v != full[t]} == {}, "attach and the full recompute differ"
    db.session.commit()
    return kept


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_attaches_summarise_as_the_full_recompute(app, db_session, seed):
    rng = random.Random(seed)
    rows = generate_crossings(generate_persons(25, seed=seed), 220, seed=seed + 100)
    rng.shuffle(rows)  # out of time order: a new crossing may come before its traveller's last one
    for r in rng.sample(rows, 30):  # exact ties in time with another crossing of the person, either direction
        r["crossed_at"] = rng.choice([o for o in rows if o["person_id"] == r["person_id"]])["crossed_at"]
        r["direction"] = rng.choice(["entry", "exit"])
    items = _items(rows)
    start = 0
    while start < len(items):
        n = rng.choice([1, 1, 1, 2, 5, 17])
        services.store_crossings(items[start:start + n], source="gen", actor=None, now=NOW)
        db.session.commit()
        start += n
        if rng.random() < 0.15:
            _assert_as_full_recompute()
    summaries = _assert_as_full_recompute()
    assert sum(s[9] for s in summaries.values()) == len(items)


def test_a_tie_goes_to_the_earliest_crossing_in_both(app, db_session):
    a = arrive("Mokoena", "Thabo", dob="1985-04-02", document="RA1234567", days_ago=5, evaluate=False)
    arrive("Mokwena", "Thabo", dob="1985-04-03", document="RA1234567", days_ago=9, evaluate=False)
    t = traveller_of(a)
    assert (t.crossing_count, t.surname, t.dob.day) == (2, "Mokoena", 2), "one each: the lower crossing id wins"
    _assert_as_full_recompute()
    arrive("Mokwena", "Thabo", dob="1985-04-03", document="RA1234567", days_ago=1, evaluate=False)
    t = traveller_of(a)
    assert (t.crossing_count, t.surname, t.dob.day) == (3, "Mokwena", 3)
    assert t.last_direction == "exit" and _utc(t.first_crossed_at) == NOW - timedelta(days=9)
    _assert_as_full_recompute()


def test_pseudonymised_crossings_count_as_in_the_full_recompute(app, db_session):
    """Pseudonymised crossings have no spelling row; their traveller's summary is recomputed in full."""
    now = datetime(2031, 6, 1, 12, 0, tzinfo=UTC)
    old = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
    for day in range(3):
        arrive("Mokoena", "Thabo", dob="1985-04-02", document="RA1234567", at=old + timedelta(days=day),
               direction="entry", now=now, evaluate=False)
    recent = arrive("Mokoena", "Thabo", dob="1985-04-02", document="RA1234567", at=now - timedelta(days=20),
                    direction="exit", now=now, evaluate=False)
    assert retention.run(now=now, years=5, dry_run=False).total == 3
    db.session.commit()
    arrive("Mokoena", "Thabo", dob="1985-04-02", document="RA1234567", at=now - timedelta(days=2),
           direction="entry", now=now, evaluate=False)
    t = traveller_of(recent)
    assert t.crossing_count == 5 and t.surname == "", "three of five crossings now carry no name"
    _assert_as_full_recompute()


def test_attaching_to_a_known_traveller_reads_none_of_its_crossings(app, db_session):
    """The summary no longer reads the traveller's crossings (every month partition on PostgreSQL)."""
    for days in (30, 20, 10):
        arrive("Mokoena", "Thabo", dob="1985-04-02", document="RA1234567", days_ago=days, evaluate=False)
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        c = arrive("Mokoena", "Thabo", dob="1985-04-02", document="RA1234567", days_ago=1, evaluate=False)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert traveller_of(c).crossing_count == 4
    by_traveller = [s for s in seen
                    if re.search(r"FROM crossings\s.*WHERE crossings\.traveller_id (IN|= ANY)", s, re.S)]
    assert by_traveller == [], by_traveller
    _assert_as_full_recompute()
