"""Tracing a person through the key table (screening.trace.probe_index) against an index of every crossing.

The Trace page, `screening trace` and the bulk trace once indexed all stored crossings per request; they
now read only the candidate travellers' crossings. These tests hold the two to the same answers.
"""

from __future__ import annotations

import random
from dataclasses import replace

from sqlalchemy import func, select

from bench.generate import generate_crossings, generate_persons, noisy_observation, person_to_identity
from screening import online, trace
from screening.engine.index import CandidateIndex
from screening.engine.matching import Identity, NameFrequencies, prepare
from screening.match_models import match_config
from screening.models import Crossing
from tests.tracing.test_online_attach import _store
from tip_cases.extensions import db

MIN_SCORE = 0.01


def _probes(persons: list[dict], seed: int) -> list[tuple[str, Identity]]:
    """Each person as an officer might trace them: in full, as recorded at some crossing, by one name,
    by names with no date of birth, and by document alone."""
    rng = random.Random(seed)
    out = []
    for d in persons:
        full = person_to_identity(d)
        seen = person_to_identity(noisy_observation(d, rng))
        pid = d["person_id"]
        out += [(f"{pid}-full", full), (f"{pid}-seen", seen),
                (f"{pid}-surname", Identity(id=pid, surname=full.surname, given_names="")),
                (f"{pid}-given", Identity(id=pid, surname="", given_names=full.given_names, sex=full.sex)),
                (f"{pid}-no-dob", replace(seen, dob=None)),
                (f"{pid}-document", Identity(id=pid, surname="", given_names="", documents=full.documents))]
    return out


def _reference(probes) -> dict[tuple[str, int], tuple[float, float]]:
    """What an index of every stored crossing finds, weighed by the same stored name-frequency table."""
    index = CandidateIndex(match_config(), frequencies=NameFrequencies())
    travellers: dict[int, int] = {}
    trace._indexed(db.session.execute(select(*trace._IDENTITY)), index, travellers)
    tokens = index.name_tokens().union(*(NameFrequencies.tokens_of(prepare(p)) for _, p in probes))
    online.load_frequencies(db.session, index.frequencies, tokens)

    def person_of(cid):
        return ("traveller", travellers[cid])

    return {(ref, cid): (r.score, r.pair_score) for ref, p in probes
            for cid, r in index.screen(p, MIN_SCORE, limit=10_000, person_of=person_of)}


def test_trace_through_the_key_table_finds_what_an_index_of_all_crossings_finds(app, db_session):
    persons = generate_persons(70, seed=21, names="namesakes")
    _store(generate_crossings(persons, 420, seed=22), batch=30)
    total = db.session.scalar(select(func.count()).select_from(Crossing))
    probes = _probes(persons[:30], seed=23)

    found = {(ref, cid): (r.score, r.pair_score)
             for ref, cid, r in trace.trace(probes, min_score=MIN_SCORE, limit=10_000)}
    expected = _reference(probes)
    assert len(expected) > 300, "the probes find many crossings (namesakes included)"
    # (A common surname alone routes to no one, in either: its pool is over `max_single_key_pool`.)
    assert {ref.split("-", 1)[1] for ref, _ in expected} >= {"full", "seen", "given", "no-dob", "document"}
    assert found.keys() == expected.keys()
    for key, (score, pair) in expected.items():
        assert found[key][1] == pair, key
        assert abs(found[key][0] - score) < 1e-9, key

    # Each trace read the crossings of its candidates only, not history.
    sizes = [len(trace.probe_index(db.session, p)[0]) for ref, p in probes if ref.endswith(("-full", "-no-dob"))]
    assert max(sizes) < total / 2, (max(sizes), total)


def test_a_name_alone_finds_a_rare_name_and_the_key_table_is_rebuilt_after_an_upgrade(app, db_session):
    persons = generate_persons(20, seed=5)
    _store(generate_crossings(persons, 80, seed=6), batch=20)
    d = persons[3]
    ids = set(db.session.scalars(select(Crossing.id).where(Crossing.surname == d["surname"])))
    probe = Identity(id="p", surname=d["surname"], given_names="")
    hits = {cid for _, cid, _ in trace.trace([("p", probe)], min_score=0.001, limit=1000)}
    assert ids and ids <= hits

    # Migration 0024 empties the key table; the next trace rebuilds it (and finds the same).
    db.session.execute(online.TravellerKey.__table__.delete())
    db.session.commit()
    online._KEYED.clear()
    again = {cid for _, cid, _ in trace.trace([("p", probe)], min_score=0.001, limit=1000)}
    assert again == hits
    assert db.session.scalar(select(func.count()).select_from(online.TravellerKey)) > 0
