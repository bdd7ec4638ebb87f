"""The candidate index: every noisy route to a person must survive blocking; others are not returned."""

import pytest

from screening.index import CandidateIndex
from screening.matching import Identity


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
