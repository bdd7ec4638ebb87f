"""The candidate index: every noisy route to a person must survive blocking; others are not returned."""

import random

import pytest

from bench.generate import generate_persons, noisy_observation, person_to_identity
from screening.engine.index import CandidateIndex
from screening.engine.matching import Identity, MatchConfig, match_prepared, prepare


def ident(id, surname, given, dob, doc="", sex="M", nat="LSO"):  # noqa: A002
    return Identity.from_strings(id, surname, given, date_of_birth=dob, sex=sex, nationality=nat,
                                 document_number=doc, document_type="P" if doc else None,
                                 document_country=nat if doc else None)


PEOPLE = [
    ident(1, "Mokoena", "Thabo David", "1985-03-04", "RA1234567"),
    ident(2, "Mokoena", "Thabang", "1985-03-04", "RA7654321"),
    ident(3, "Letsie", "Palesa", "1990-11-20", "RB5550001", sex="F"),
    ident(4, "van der Merwe", "Pieter", "1972-06-30", "A01234567", nat="ZAF"),
    ident(5, "Mohapi", "Lineo", None, sex="F"),
]


@pytest.fixture
def index():
    return CandidateIndex.build(PEOPLE)


@pytest.mark.parametrize(("probe", "expected"), [
    pytest.param(ident("p", "Mokoena", "Thabo David", "1985-03-04"), 1, id="exact"),
    pytest.param(ident("p", "Thabo", "Mokoena", "1985-03-04"), 1, id="swapped-order"),
    pytest.param(ident("p", "Mokoena", "T.", "1985-03-04"), 1, id="initial-uses-exact-date-route"),
    pytest.param(ident("p", "Mokoena", "Thabo", "1986-03-04"), 1, id="year-off-by-one"),
    pytest.param(ident("p", "Mokoena", "Thabo", "1985-04-03"), 1, id="day-month-swapped"),
    pytest.param(ident("p", "Mokwena", "Thabo", "1985"), 1, id="orthographic-variant-year-only"),
    pytest.param(ident("p", "", "", None, "RA12345G7"), 1, id="document-ocr-only"),
    pytest.param(ident("p", "Merwe", "Pieter", "1972-06-30", nat="ZAF"), 4, id="particles-dropped"),
    pytest.param(ident("p", "Mohapi", "Dineo", "1980-01-01", sex="F"), 5, id="unknown-dob-in-index"),
])
def test_candidates_include_the_true_person(index, probe, expected):
    assert expected in index.candidates(probe)


def test_screen_ranks_best_first_and_applies_threshold(index):
    hits = index.screen(ident("p", "Mokoena", "Thabo", "1985-03-04"))
    assert [h[0] for h in hits] == [1]
    assert hits[0][1].score >= index.config.flag_threshold
    assert len(index.screen(ident("p", "Mokoena", "Thabo", "1985-03-04"), threshold=0.0, limit=1)) == 1


def test_unrelated_probe_has_no_candidates(index):
    assert index.candidates(ident("p", "Nkosi", "Sipho", "2001-02-03", "ZZ9999999")) == set()


def test_remove_and_update(index):
    assert len(index) == 5
    index.remove(1)
    assert len(index) == 4
    assert 1 not in index.candidates(ident("p", "Mokoena", "Thabo David", "1985-03-04", "RA1234567"))
    index.update(ident(3, "Letsie", "Palesa", "1990-11-20", "RC0000001", sex="F"))
    assert len(index) == 4
    assert 3 not in index.candidates(ident("p", "", "", None, "RB5550001"))
    assert 3 in index.candidates(ident("p", "", "", None, "RC0000001"))
    index.add(PEOPLE[0])  # slots are reused
    assert 1 in index.candidates(ident("p", "", "", None, "RA1234567"))
    with pytest.raises(KeyError):
        index.remove("missing")


def test_probe_without_dob_still_finds_by_names(index):
    assert 1 in index.candidates(ident("p", "Mokoena", "Thabo", None))


def test_rare_name_routes_alone_when_a_typo_breaks_the_other_key():
    people = [*PEOPLE, ident(6, "Ramokhoro", "Tlotliso", "1985-02-11")]
    probe = ident("p", "Ramokhono", "Tlotliso", "1985")  # surname key broken, only the year known
    assert 6 in CandidateIndex.build(people).candidates(probe)
    assert 6 not in CandidateIndex.build(people, MatchConfig(max_rare_key_pool=0)).candidates(probe)


def test_index_keeps_name_frequencies_for_weighting(index):
    assert index.config.frequencies is index.frequencies
    assert (index.frequencies.total, index.frequencies.counts["mokwena"]) == (5, 2)
    index.remove(2)
    assert (index.frequencies.total, index.frequencies.counts["mokwena"]) == (4, 1)
    index.update(ident(1, "Letsie", "Thabo", "1985-03-04"))
    assert "mokwena" not in index.frequencies.counts and index.frequencies.counts["letsie"] == 2
    assert CandidateIndex.build(PEOPLE, weigh_names=False).config.frequencies is None


def test_common_namesakes_are_not_flagged_but_the_rare_true_person_is():
    # A list of 2,000 where one person in five is a Mokoena and one in five a Thabo (so 40 Thabo
    # Mokoenas, some born in 1985), and a single Tlotliso Ramokhoro.
    def name(i, pool):
        return pool[i % len(pool)] + "abcdefghijklmnopqrst"[i // len(pool) % 20]

    people = [ident(i, "Mokoena" if i % 5 == 0 else name(i, ["Letsie", "Molapo", "Nthako"]),
                    "Thabo" if i % 25 < 5 else name(i, ["Teboho", "Mpho", "Sello"]),
                    f"{1980 + i % 10}-{1 + i % 12:02d}-{1 + i % 28:02d}", f"RA{i:07d}") for i in range(2000)]
    people.append(ident("rare", "Ramokhoro", "Tlotliso", "1985-06-30", "RB1111111"))
    assert sum(p.surname == "Mokoena" and p.given_names == "Thabo" and p.dob.year == 1985 for p in people) >= 2
    index = CandidateIndex.build(people, MatchConfig(tf_min_population=2000))
    assert index.screen(ident("p", "Mokoena", "Thabo", "1985")) == []
    hits = index.screen(ident("p", "Ramokhoro", "Tlotliso", "1985"))
    assert [h[0] for h in hits] == ["rare"]
    assert "unlikely to be a namesake" in " ".join(hits[0][1].explanations)


@pytest.mark.parametrize("config", [
    pytest.param(MatchConfig(), id="small-table-no-rare-bonus"),
    pytest.param(MatchConfig(tf_min_population=0), id="with-rare-name-bonus"),
    pytest.param(MatchConfig(flag_threshold=0.6), id="lower-threshold"),
])
def test_cheap_bounds_never_drop_a_flag(config):
    """screen() skips candidates by upper bounds; it must flag exactly what full scoring flags."""
    persons = generate_persons(3000, seed=11, names="narrow")  # narrow: many namesakes to prune
    index = CandidateIndex.build((person_to_identity(p) for p in persons), config)
    rng = random.Random(5)
    for person in rng.sample(persons, 150) + generate_persons(150, seed=12, id_offset=10**6):
        probe = person_to_identity(noisy_observation(person, rng))
        p = prepare(probe)
        full = {index._slots[s].id for s in index._candidate_slots(p)
                if match_prepared(p, index._slots[s], index.config).score >= index.config.flag_threshold}
        assert {h[0] for h in index.screen(probe, limit=10**6)} == full
