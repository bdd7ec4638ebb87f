"""traveller_spellings (migration 0025) holds exactly what online attach used to group from `crossings`.

The reference below is the candidate query attach ran before the table existed: each traveller's distinct
identities (the first crossing of each) and each judged crossing alone, pseudonymised crossings left out.
After every kind of change (attach, automatic and investigator merges, split, re-resolution, retention,
the upgrade's lazy rebuild) the table, read as attach reads it, must return the same rows.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select

from bench.generate import generate_crossings, generate_persons
from screening import online, tracing
from screening.models import (
    Crossing,
    NameTokenCount,
    Traveller,
    TravellerJudgementCrossing,
    TravellerKey,
    TravellerSpelling,
)
from screening.records import IDENTITY_COLUMNS
from tests import factories
from tests.screening.builders import crossing_item
from tests.tracing.builders import arrive, traveller_of
from tests.tracing.test_online_attach import NOW, _store
from tip_cases.cases import retention
from tip_cases.extensions import db

_IDENTITY = IDENTITY_COLUMNS[1:]
_FIELDS = tuple(c.key for c in IDENTITY_COLUMNS)


def _reference() -> list[tuple]:
    """The old candidate_records query, over every traveller: (id, identity..., traveller_id), id order."""
    judged = select(TravellerJudgementCrossing.crossing_id)
    base = (Crossing.traveller_id.is_not(None), Crossing.pseudonymised_at.is_(None))
    grouped = (select(func.min(Crossing.id).label("id"), *_IDENTITY)
               .where(*base, Crossing.id.not_in(judged)).group_by(*_IDENTITY))
    single = select(Crossing.id, *_IDENTITY).where(*base, Crossing.id.in_(judged))
    rows = db.session.execute(grouped.union_all(single)).all()
    return sorted(tuple(getattr(r, f) for f in _FIELDS) for r in rows)


def _table() -> list[tuple]:
    """What attach reads now, for every traveller that has crossings."""
    tids = db.session.scalars(select(Traveller.id)).all()
    return [tuple(getattr(r, f) for f in _FIELDS) for r in online.candidate_rows(db.session, tids)]


def _assert_same() -> list[tuple]:
    db.session.expire_all()
    table, reference = _table(), _reference()
    assert table == reference
    # candidate_records is those rows as the engine's records, each with -its traveller id.
    tids = {r[-1] for r in table}
    got = [(r.crossing_id, r.surname, r.given_names, r.dob, r.documents, -neg)
           for r, neg in online.candidate_records(db.session, tids)]
    assert [g[0] for g in got] == [r[0] for r in reference]
    assert [g[-1] for g in got] == [r[-1] for r in reference]
    # Each row's crossed_at is its crossing's, so the crossing's partition can be found from it.
    at = dict(db.session.execute(select(Crossing.id, Crossing.crossed_at)).all())
    for cid, when in db.session.execute(select(TravellerSpelling.crossing_id, TravellerSpelling.crossed_at)):
        assert when == at[cid]
    # Each row counts the traveller's crossings with its spelling (a judged crossing's row: 1).
    judged = set(db.session.scalars(select(TravellerJudgementCrossing.crossing_id)))
    expected: Counter = Counter()
    for r in db.session.execute(select(Crossing.id, *_IDENTITY).where(Crossing.traveller_id.is_not(None),
                                                                       Crossing.pseudonymised_at.is_(None))):
        expected[(r.traveller_id, -r.id if r.id in judged else online.spelling_of(r))] += 1
    counts = {(t, sp): n for t, sp, n in db.session.execute(
        select(TravellerSpelling.traveller_id, TravellerSpelling.spelling, TravellerSpelling.crossing_count))}
    assert counts == dict(expected)
    return table


def _stored() -> tuple[list[tuple], set[tuple], dict[str, int]]:
    """The three tables attach reads: spellings (as attach reads them), keys, token counts."""
    return (_table(), set(db.session.execute(select(TravellerKey.key, TravellerKey.traveller_id)).all()),
            dict(db.session.execute(select(NameTokenCount.token, NameTokenCount.n)).all()))


def _rebuilt_equal() -> None:
    """A rebuild from the crossings (the upgrade path) gives the very rows and counts the changes maintained."""
    db.session.expire_all()
    kept = _stored()
    online.rebuild_keys(db.session, tracing.resolve_config())
    db.session.commit()
    spellings, keys, counts = _stored()
    assert spellings == kept[0]
    assert keys == kept[1]
    assert counts == kept[2]


def test_attach_keeps_one_row_per_spelling_as_the_crossings_query(app, db_session):
    persons = generate_persons(40, seed=11)
    _store(generate_crossings(persons, 240, seed=12), batch=17)
    rows = _assert_same()
    stored = db.session.scalar(select(func.count()).select_from(Crossing))
    assert 40 <= len(rows) < stored, "repeated spellings are one row, different ones are not"
    _rebuilt_equal()


def test_investigator_split_and_merge_and_judged_crossings(app, db_session):
    a = arrive("Mokoena", "Thabo", dob="1985-04-02", document="RA1234567", days_ago=9, evaluate=False)
    b = arrive("Mokoena", "Thabo", dob="1985-04-02", document="RA1234567", days_ago=8, evaluate=False)
    c = arrive("Mokwena", "Thabo", dob="1985-04-02", document="RA1234567", days_ago=7, evaluate=False)
    d = arrive("Mokoena", "Thabo", dob="1985-04-02", document="RA1234567", days_ago=6, evaluate=False)
    e = arrive("Letsie", "Palesa", dob="1990-11-20", sex="F", document="RB5550001", days_ago=5, evaluate=False)
    e2 = arrive("Letsie", "Palesa", dob="1990-11-20", sex="F", document="RB5550001", days_ago=4, evaluate=False)
    t = traveller_of(a)
    assert traveller_of(b).id == traveller_of(c).id == traveller_of(d).id == t.id != traveller_of(e).id
    assert traveller_of(e2).id == traveller_of(e).id
    assert len(_assert_same()) == 3, "two spellings of one traveller, one of the other"

    # The first crossing of a spelling splits off: the spelling it leaves now starts at the next one.
    new = tracing.split_traveller(t, [a.id, c.id], reason="two people", actor=None, now=NOW)
    db.session.commit()
    rows = _assert_same()
    assert {r[0] for r in rows} == {a.id, b.id, c.id, d.id, e.id}, "every judged crossing is a row"
    _rebuilt_equal()

    survivor = tracing.merge_travellers(traveller_of(b), traveller_of(e), reason="same", actor=None, now=NOW)
    db.session.commit()
    rows = _assert_same()
    assert {r[-1] for r in rows} == {survivor.id, new.id}
    assert {e.id, e2.id} <= {r[0] for r in rows}, "merged crossings are judged: one row each, not one a spelling"
    # A later crossing with a judged crossing's spelling: a grouped row of its own beside the judged one.
    f = arrive("Mokoena", "Thabo", dob="1985-04-02", document="RA1234567", days_ago=1, evaluate=False)
    rows = _assert_same()
    assert f.id in {r[0] for r in rows}
    _rebuilt_equal()


def _post(client, token, items: list[dict]) -> None:
    resp = client.post("/api/v1/crossings", data=json.dumps({"crossings": items}),
                       headers={"Authorization": f"Bearer {token}"}, content_type="application/json")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:2000]
    assert resp.get_json()["accepted"] == len(items)


def _item(ext: str, surname: str, document: str | None, sex: str | None = "M", dob: str = "1990-01-01") -> dict:
    return crossing_item(ext, surname=surname, given_names="Thabo", dob=dob, sex=sex,
                         document_number=document, crossed_at="2026-11-20T10:15:00+02:00")


def test_a_crossing_joining_stored_travellers_moves_their_spellings(app, client, db_session):
    _, token = factories.make_api_client(post_code="MSB")
    _post(client, token, [_item("S1", "Traveller00099", "RA0000071", dob="1990-01-10"),
                          _item("S2", "Traveller00009", "RA0000082", sex=None, dob="1990-01-02"),
                          _item("S3", "Traveller00009", "RA0000097")])
    before = {r[-1] for r in _assert_same()}
    assert len(before) == 3
    _post(client, token, [_item("J1", "Traveller00009", None, dob="1990-01-02"),
                          _item("J2", "Traveller00009", None, dob="1990-01-02")])  # the same spelling twice in a batch
    after = {r[-1] for r in _assert_same()}
    assert len(after) < len(before), "the automatic merge moved the spellings to the survivor"
    _rebuilt_equal()


def test_re_resolution_rebuilds_the_spellings(app, db_session):
    a = arrive("Ramaboea", "Mpho", dob="1990-03-03", document="RB0099812", days_ago=9, evaluate=False)
    b = arrive("Ramaboea", "Mpho", dob="1990-03-03", document="RB0099812", days_ago=5, evaluate=False)
    arrive("Ramabowa", "Mpho", dob="1990-03-03", document="RB0099812", days_ago=4, evaluate=False)
    # A crossing moved by hand, out of the table's knowledge: re-resolution puts both back in step.
    db.session.execute(Crossing.__table__.update().where(Crossing.id == a.id).values(traveller_id=None))
    db.session.commit()
    tracing.resolve_all(now=NOW)
    db.session.commit()
    assert traveller_of(a).id == traveller_of(b).id
    _assert_same()


def test_re_resolution_refreshes_the_tables_of_the_travellers_it_changed_only(app, db_session):
    """A nightly re-resolution moves a few crossings: their travellers' keys, spellings and token counts are
    recomputed, by difference, to exactly what a rebuild from every crossing gives; no other row is rewritten."""
    persons = generate_persons(40, seed=11)
    _store(generate_crossings(persons, 240, seed=12), batch=17)
    tracing.resolve_all(now=NOW)  # the batch's own partition first (online and batch may differ slightly)
    db.session.commit()
    # Two crossings put by hand with the wrong traveller (out of the tables' knowledge), and a traveller's
    # only crossing of a rare spelling among them: re-resolution must take its tokens out and put them back.
    rows = db.session.execute(select(Crossing.id, Crossing.traveller_id).order_by(Crossing.id)).all()
    a, b = rows[0], next(r for r in rows if r.traveller_id != rows[0].traveller_id)
    db.session.execute(Crossing.__table__.update().where(Crossing.id == a.id).values(traveller_id=b.traveller_id))
    db.session.execute(Crossing.__table__.update().where(Crossing.id == b.id).values(traveller_id=None))
    db.session.commit()
    untouched = {t for t in db.session.scalars(select(Traveller.id)) if t not in (a.traveller_id, b.traveller_id)}
    untouched_keys = set(db.session.execute(select(TravellerKey.key, TravellerKey.traveller_id)
                                            .where(TravellerKey.traveller_id.in_(untouched))).all())

    summary = tracing.resolve_all(now=NOW)
    db.session.commit()
    assert summary.crossings_moved == 2 and summary.travellers_changed == 2
    assert summary.keys_refreshed == 2, "two travellers' keys refreshed, not the table rebuilt"
    assert "traveller keys: refreshed for 2 travellers" in summary.lines()
    assert (db.session.get(Crossing, a.id).traveller_id, db.session.get(Crossing, b.id).traveller_id) == \
        (a.traveller_id, b.traveller_id)
    assert set(db.session.execute(select(TravellerKey.key, TravellerKey.traveller_id)
                                  .where(TravellerKey.traveller_id.in_(untouched))).all()) == untouched_keys
    _assert_same()
    _rebuilt_equal()
    due = set(db.session.scalars(select(Traveller.id).where(Traveller.patterns_due.is_(True))))
    assert {a.traveller_id, b.traveller_id} <= due, "the rules are due for the changed travellers"


def test_retention_moves_a_spelling_to_a_remaining_crossing_or_drops_it(app, db_session):
    now = datetime(2031, 6, 1, 12, 0, tzinfo=UTC)
    old = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
    first = arrive("Mokoena", "Thabo", dob="1985-04-02", document="RA1234567", at=old, direction="entry",
                   now=now, evaluate=False)
    variant = arrive("Mokwena", "Thabo", dob="1985-04-02", document="RA1234567", at=old + timedelta(days=1),
                     direction="entry", now=now, evaluate=False)
    recent = arrive("Mokoena", "Thabo", dob="1985-04-02", document="RA1234567", at=now - timedelta(days=20),
                    direction="entry", now=now, evaluate=False)
    assert traveller_of(first).id == traveller_of(variant).id == traveller_of(recent).id
    assert {r[0] for r in _assert_same()} == {first.id, variant.id}
    result = retention.run(now=now, years=5, dry_run=False)
    db.session.commit()
    assert result.total == 2
    # The old spelling now starts at the recent crossing; the variant, only in old crossings, is gone.
    assert [r[0] for r in _assert_same()] == [recent.id]
    _rebuilt_equal()


def test_the_first_attach_after_the_upgrade_fills_the_table(app, db_session):
    """0025 leaves traveller_spellings empty and empties traveller_keys: ensure_keys rebuilds them together."""
    persons = generate_persons(20, seed=5)
    _store(generate_crossings(persons, 100, seed=6), batch=25)
    kept = _assert_same()
    for table in (TravellerSpelling, TravellerKey, NameTokenCount):
        db.session.execute(delete(table))
    db.session.commit()
    online._KEYED.clear()
    arrive("Mokoena", "Thabo", dob="1985-04-02", document="RA1234567", evaluate=False)
    rows = _assert_same()
    assert set(kept) < set(rows)


def test_a_spelling_keeps_its_earliest_crossing_whatever_the_order_of_writes(app, db_session):
    """Crossing ids are drawn before the advisory locks: two workers may file one spelling out of id order."""
    from types import SimpleNamespace

    first = arrive("Mokoena", "Thabo", dob="1985-04-02", document="RA1234567", days_ago=3, evaluate=False)
    tid = first.traveller_id
    spelt = {c.key: getattr(first, c.key) for c in IDENTITY_COLUMNS}
    late = SimpleNamespace(**{**spelt, "id": first.id + 1000, "crossed_at": NOW})
    early = SimpleNamespace(**{**spelt, "id": first.id - 1 if first.id > 1 else 0, "crossed_at": NOW - timedelta(1)})
    online.add_spellings(db.session, [(tid, late)])
    assert db.session.scalar(select(TravellerSpelling.crossing_id)) == first.id, "a later crossing changes nothing"
    online.add_spellings(db.session, [(tid, early), (tid, late)])
    row = db.session.execute(select(TravellerSpelling)).scalar_one()
    assert (row.crossing_id, row.crossed_at) == (early.id, early.crossed_at)
    assert row.crossing_count == 4, "each crossing filed counts, one the spelling had already too"
