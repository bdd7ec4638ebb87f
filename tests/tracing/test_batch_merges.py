"""A crossing that joins two travellers in the middle of a batch (automatic merge) through the batch API.

Namesakes (same given name and date of birth, surnames one character apart: "Traveller00009",
"Traveller00099") are kept apart while documents disagree; a later crossing without a document can fit
both and joins them. When the joined traveller was founded earlier in the same batch, the per-process
index (TRACING_ATTACH = "memory") re-keyed a traveller that no longer existed and the API answered 500;
when it was a stored traveller, its crossings stayed under it in the database while the index had merged
it. Both attach modes must store the batch whole and agree with the engine's own answer.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from screening import records, tracing
from screening.engine.resolve import TravellerIndex
from screening.models import Crossing, Traveller
from tests import factories
from tests.screening.builders import crossing_item
from tip_cases.extensions import db

MODES = ["memory", "database"]


def _item(ext: str, surname: str, document: str | None, sex: str | None = "M", dob: str = "1990-01-01") -> dict:
    return crossing_item(ext, surname=surname, given_names="Thabo", dob=dob, sex=sex,
                         document_number=document, crossed_at="2026-11-20T10:15:00+02:00")


def _post(client, token, items: list[dict]) -> dict:
    resp = client.post("/api/v1/crossings", data=json.dumps({"crossings": items}),
                       headers={"Authorization": f"Bearer {token}"}, content_type="application/json")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:2000]
    data = resp.get_json()
    assert (data["accepted"], data["rejected"]) == (len(items), 0), data
    return data


def _partition(assignment: dict) -> set[frozenset]:
    groups: dict = {}
    for c, t in assignment.items():
        groups.setdefault(t, set()).add(c)
    return {frozenset(g) for g in groups.values()}


def _check_stored(expected_crossings: int) -> dict:
    """Every crossing stored and attached to a live traveller; the grouping is the engine's own, replayed
    crossing by crossing (what either attach mode does), and travellers emptied by a merge say where to."""
    db.session.expire_all()
    rows = db.session.execute(select(*records.IDENTITY_COLUMNS).order_by(Crossing.id)).all()
    assert len(rows) == expected_crossings
    stored = {r.id: r.traveller_id for r in rows}
    assert all(t is not None for t in stored.values()), "every crossing is attached to a traveller"
    live = {t.id: t for t in db.session.scalars(select(Traveller))}
    for tid in set(stored.values()):
        assert live[tid].merged_into_id is None, f"crossings left under merged traveller {tid}"
        assert live[tid].crossing_count == sum(1 for t in stored.values() if t == tid)
    for t in live.values():
        if t.id not in set(stored.values()):
            assert t.crossing_count == 0 and t.merged_into_id in set(stored.values()), \
                f"traveller {t.id} is empty and does not point at the traveller its crossings joined"
    index = TravellerIndex(tracing.resolve_config())
    for r in rows:
        index.attach(tracing.record_of(r))
    assert _partition(stored) == _partition(index.assignment())
    return stored


@pytest.mark.parametrize("mode", MODES)
def test_batch_of_100_namesakes_joining_a_traveller_founded_in_the_batch(app, client, db_session, mode):
    app.config["TRACING_ATTACH"] = mode
    _, token = factories.make_api_client(post_code="MSB")
    # Earlier batches: two namesakes, kept apart by their documents.
    _post(client, token, [_item("E1", "Traveller00009", "RA0000071")])
    _post(client, token, [_item("E2", "Traveller00099", "RA0000133", sex=None)])
    # The batch: the first crossing fits both stored namesakes equally, so it founds a traveller of its
    # own; the second fits that new traveller and the first namesake, and joins them. Then 98 more.
    batch = [_item("N1", "Traveller00099", None), _item("N2", "Traveller00009", None)]
    batch += [_item(f"F{n:05d}", f"Traveller{n:05d}", f"RF{n:07d}") for n in range(100, 198)]
    data = _post(client, token, batch)
    assert all(r["status"] == "accepted" and r["crossing_id"] for r in data["results"])
    stored = _check_stored(102)
    ids = {ext: cid for ext, cid in db.session.execute(select(Crossing.external_id, Crossing.id))}
    assert stored[ids["N2"]] == stored[ids["N1"]] == stored[ids["E1"]], "the bridging crossing joined them"


@pytest.mark.parametrize("mode", MODES)
def test_a_crossing_joining_stored_travellers_moves_their_crossings_in_the_database(app, client, db_session,
                                                                                    mode):
    app.config["TRACING_ATTACH"] = mode
    _, token = factories.make_api_client(post_code="MSB")
    _post(client, token, [_item("S1", "Traveller00099", "RA0000071", dob="1990-01-10"),
                          _item("S2", "Traveller00009", "RA0000082", sex=None, dob="1990-01-02"),
                          _item("S3", "Traveller00009", "RA0000097")])
    before = db.session.scalar(select(func.count(func.distinct(Crossing.traveller_id))))
    assert before == 3, "three travellers: dates of birth and documents keep the namesakes apart"
    # S2's date, no document: fits S2 and S3 (its 1 January placeholder gives only the year).
    _post(client, token, [_item("J1", "Traveller00009", None, dob="1990-01-02")])
    stored = _check_stored(4)
    assert len(set(stored.values())) < before, "the new crossing joined stored travellers"


def test_one_batch_joining_two_pairs_of_stored_travellers_moves_all_their_crossings(app, client, db_session,
                                                                                     monkeypatch):
    """Several automatic merges in one batch: every crossing of each emptied traveller reaches its survivor,
    and the grouping is the engine's own."""
    from screening import online

    app.config["TRACING_ATTACH"] = "database"
    _, token = factories.make_api_client(post_code="MSB")

    def item(ext, surname, given, document, dob, sex="M"):
        return crossing_item(ext, surname=surname, given_names=given, dob=dob, sex=sex, document_number=document,
                             crossed_at="2026-11-20T10:15:00+02:00")

    # Two people, each stored as two travellers beside a namesake (as in the test above).
    for given, year, docs in (("Thabo", 1990, ("RA0000071", "RA0000082", "RA0000097")),
                              ("Lerato", 1975, ("PX7351946", "QK2468013", "ZT9081726"))):
        _post(client, token, [item(f"{given}-1", "Traveller00099", given, docs[0], f"{year}-01-10"),
                              item(f"{given}-2", "Traveller00009", given, docs[1], f"{year}-01-02", sex=None),
                              item(f"{given}-3", "Traveller00009", given, docs[2], f"{year}-01-01")])
    before = db.session.scalar(select(func.count(func.distinct(Crossing.traveller_id))))
    assert before == 6, "dates of birth and documents keep the namesakes apart"
    merges: list[int] = []
    real = online.merge_into
    monkeypatch.setattr(online, "merge_into", lambda session, gone, survivor: merges.append(gone)
                        or real(session, gone, survivor))
    _post(client, token, [item("J1", "Traveller00009", "Thabo", None, "1990-01-02"),
                          item("J2", "Traveller00009", "Lerato", None, "1975-01-02")])
    assert len(merges) == 2, "one batch, two automatic merges"
    stored = _check_stored(8)
    assert len(set(stored.values())) == 4
    assert not set(merges) & set(stored.values()), "no crossing left under an emptied traveller"
