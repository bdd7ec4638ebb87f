"""The attach path's writes as one array statement per table on PostgreSQL (online.unnest_insert,
online.update_rows), the ORM's executemany elsewhere: the same rows on both databases, nothing cut short."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DataError, StatementError

from screening import online
from screening.models import NameTokenCount, Traveller, TravellerKey
from tip_cases.extensions import db

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def test_new_travellers_get_consecutive_ids_and_empty_rows(app):
    with app.app_context():
        ids = online.new_travellers(db.session, 3, NOW)
        assert len(set(ids)) == 3 and ids == sorted(ids)
        rows = db.session.scalars(select(Traveller).where(Traveller.id.in_(ids)).order_by(Traveller.id)).all()
        assert [r.id for r in rows] == ids
        assert all(r.surname == "" and r.crossing_count == 0 and not r.patterns_due for r in rows)
        assert online.new_travellers(db.session, 0, NOW) == []


def test_update_rows_sets_each_rows_own_columns(app):
    """Rows that set different columns (a summary, a summary marked due, an emptied traveller) in one call."""
    with app.app_context():
        a, b, c = online.new_travellers(db.session, 3, NOW)
        online.update_rows(db.session, Traveller.__table__, [
            {"id": a, "surname": "MOKOENA", "given_names": "THABO", "sex": None, "crossing_count": 2},
            {"id": b, "surname": "NKOSI", "given_names": "LERATO", "sex": "F", "crossing_count": 1,
             "patterns_due": True},
            {"id": c, "crossing_count": 0},
        ])
        db.session.expire_all()
        got = {t.id: t for t in db.session.scalars(select(Traveller).where(Traveller.id.in_([a, b, c])))}
        assert (got[a].surname, got[a].sex, got[a].crossing_count, got[a].patterns_due) == ("MOKOENA", None, 2, False)
        assert (got[b].surname, got[b].sex, got[b].crossing_count, got[b].patterns_due) == ("NKOSI", "F", 1, True)
        assert (got[c].surname, got[c].crossing_count) == ("", 0)


def test_key_rows_and_counts_add_up_and_repeat_harmlessly(app):
    with app.app_context():
        (tid,) = online.new_travellers(db.session, 1, NOW)
        online._add_key_rows(db.session, [(11, tid), (12, tid)])
        online._add_key_rows(db.session, [(12, tid), (13, tid)])  # a key the traveller has: nothing new
        keys = db.session.scalars(select(TravellerKey.key).where(TravellerKey.traveller_id == tid)).all()
        assert sorted(keys) == [11, 12, 13]
        online._write_counts(db.session, [("zz-test-a", 2), ("zz-test-b", 1)])
        online._write_counts(db.session, [("zz-test-a", 3)])
        counts = dict(db.session.execute(select(NameTokenCount.token, NameTokenCount.n)
                                         .where(NameTokenCount.token.like("zz-test-%"))).all())
        assert counts == {"zz-test-a": 5, "zz-test-b": 1}


@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_a_value_too_long_for_its_column_is_refused_not_cut(app):
    """The arrays are cast to text, never to varchar(n): PostgreSQL cuts silently on an explicit cast."""
    with app.app_context():
        (tid,) = online.new_travellers(db.session, 1, NOW)
        with pytest.raises((DataError, StatementError)):
            online.update_rows(db.session, Traveller.__table__, [{"id": tid, "surname": "M" * 121}])
        db.session.rollback()
