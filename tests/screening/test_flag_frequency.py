"""The flag page says its shared probability as a frequency an officer can weigh: "about 9 in 10" in the
middle, never "10 in 10" (certain) near the top nor "0 in 10" (never) near the bottom, in English and
in Sesotho."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from screening import services
from screening.models import Flag
from screening.views import Frequency, frequency
from tests.screening.builders import NOW, make_person, new_crossing
from tip_cases.extensions import db


@pytest.mark.parametrize(("score", "said"), [
    (0.0, Frequency("under", 1, 100)),
    (0.0049, Frequency("under", 1, 100)),
    (0.005, Frequency("about", 1, 100)),
    (0.03, Frequency("about", 3, 100)),
    (0.0499, Frequency("about", 5, 100)),
    (0.05, Frequency("about", 1, 10)),
    (0.25, Frequency("about", 3, 10)),  # half up: Jinja's round would say 2
    (0.5, Frequency("about", 5, 10)),
    (0.9499, Frequency("about", 9, 10)),
    (0.95, Frequency("about", 95, 100)),
    (0.97, Frequency("about", 97, 100)),
    (0.9949, Frequency("about", 99, 100)),
    (0.995, Frequency("over", 99, 100)),
    (1.0, Frequency("over", 99, 100)),
])
def test_a_probability_is_said_as_so_many_in_10_or_in_100(score, said):
    assert frequency(score) == said


def test_no_score_is_said_as_none_or_all_of_them():
    for i in range(10001):
        f = frequency(i / 10000)
        assert 1 <= f.count < f.out_of, (i, f)


def _flag_at(score: float) -> Flag:
    """A real flag from the matcher, its shown (shared) probability then set to `score`."""
    make_person("Mokoena", "Palesa", dob="2009-03-14", documents=[("P", "RA123456", "LSO")],
                need_to_know_roles=["border_officer"])  # a protective alert: the officer must be named
    services.store_crossings([new_crossing(dob="2009-03-14", document_number="RA123456", document_type="P",
                                           document_country="LSO")], source="test", actor=None, now=NOW)
    flag = db.session.execute(select(Flag).where(Flag.kind == "identity")).scalar_one()
    flag.score = score
    db.session.commit()
    return flag


@pytest.mark.parametrize(("score", "locale", "phrase"), [
    (0.97, "en", "About 97 in 100 flags shown like this are the same person."),
    (0.5, "en", "About 5 in 10 flags shown like this are the same person."),
    (0.97, "st", "Litemoso tse ka bang 97 ho tse 100 tse bontšitsoeng tjena ke motho a le mong."),
    (0.5, "st", "Litemoso tse ka bang 5 ho tse 10 tse bontšitsoeng tjena ke motho a le mong."),
])
def test_the_flag_page_says_the_probability_as_a_frequency(app, login_as, score, locale, phrase):
    flag = _flag_at(score)
    officer = login_as("border_officer")
    officer.user.locale = locale
    page = officer.get(f"/screening/flags/{flag.id}").get_data(as_text=True)
    said = re.search(r'<span class="text-muted small" data-testid="match-frequency">(.*?)</span>', page, re.S)
    sentences = " ".join(said.group(1).split())
    assert sentences.startswith(phrase + " ")
    threshold = {"en": "A flag is raised when this pair alone reaches 80%;",
                 "st": "Temoso e hlahisoa ha para ena e le 'ngoe e fihla ho 80%;"}[locale]
    assert threshold in sentences
    assert not re.search(r"\b(10|0) (in|ho tse) 10\b", sentences)


@pytest.mark.parametrize(("score", "locale", "shown"), [
    (1.0, "en", "over 99%"), (0.996, "en", "over 99%"), (0.985, "en", "99%"), (0.125, "en", "13%"),
    (0.003, "en", "under 1%"), (1.0, "st", "ho feta 99%"), (0.003, "st", "ka tlase ho 1%"),
])
def test_the_match_probability_never_reads_certain_on_the_flag_queue_and_crossing_pages(app, login_as, score, locale,
                                                                                          shown):
    """A probability rounded up to 100% reads as certain beside "more than 99 in 100": the pages say "over 99%"
    as the engine's explanations do (and "under 1%" at the other end)."""
    flag = _flag_at(score)
    officer = login_as("border_officer")
    officer.user.locale = locale
    db.session.commit()
    label = {"en": "Match probability", "st": "Monyetla oa hore ke eena"}[locale]
    page = officer.get(f"/screening/flags/{flag.id}").get_data(as_text=True)
    said = re.search(r'data-testid="match-probability">(.*?)<strong>(.*?)</strong>', page, re.S)
    assert said.group(1).strip() == label and said.group(2) == shown
    queue = officer.get("/screening/queue").get_data(as_text=True)
    assert f"{label} {shown}</td>" in queue
    crossing = officer.get(f"/screening/crossings/{flag.crossing_id}").get_data(as_text=True)
    assert f" {shown})</p>" in crossing and "100%" not in crossing.split("<main", 1)[-1]
