"""The probability shown for a hit is shared among the persons a probe finds (issue 15, calibration).

A pair's score weighs one candidate against a random member of the population; an officer reading
"90%" for each of two namesakes who fit a record equally would be told two contradictory things.
"""

import math

import pytest

from screening.engine.index import CandidateIndex
from screening.engine.matching import Identity, log2_odds, share_posterior


def ident(id, surname, given, dob, doc="", sex="F", nat="LSO"):  # noqa: A002
    return Identity.from_strings(id, surname, given, date_of_birth=dob, sex=sex, nationality=nat,
                                 document_number=doc, document_type="P" if doc else None,
                                 document_country=nat if doc else None)


# Two namesakes: same names and full date of birth, each with her own passport.
TWINS = [ident("a", "Mokoena", "Palesa", "1990-11-20", "RA1234567"),
         ident("b", "Mokoena", "Palesa", "1990-11-20", "RB7654321")]
# A probe without a document fits both equally.
PROBE = ident("p", "Mokoena", "Palesa", "1990-11-20")


def test_equal_candidates_share_and_a_lone_one_keeps_its_odds():
    o = log2_odds(0.99)
    assert share_posterior(o, [o], 0.0) == pytest.approx(0.5)
    assert share_posterior(o, [], 0.0) == pytest.approx(1.0)
    assert share_posterior(o, [], 1.0) == pytest.approx(0.99)  # the pair's own probability back
    assert share_posterior(o, [log2_odds(0.5)], 1.0) == pytest.approx(99 / 101)


def test_certain_pairs_are_compared_without_overflow():
    assert share_posterior(math.inf, [math.inf], 1.0) == pytest.approx(0.5)
    assert share_posterior(2000.0, [-math.inf], 5.0) == pytest.approx(1.0)
    assert share_posterior(-math.inf, [3.0], 5.0) == 0.0


def test_two_namesakes_that_fit_equally_each_get_about_half():
    index = CandidateIndex.build(TWINS)
    hits = dict(index.screen(PROBE, 0.5))
    assert set(hits) == {"a", "b"}
    for r in hits.values():
        assert r.pair_score > 0.9  # each pair alone looks like a match...
        assert r.score < 0.5  # ...but the two (and "someone not found") share the probability
        assert r.score == pytest.approx(hits["a"].score)
        assert any("shared with 1 other person" in e for e in r.explanations[1:3])


def test_the_threshold_still_applies_to_the_pair():
    index = CandidateIndex.build(TWINS)
    pair = index.screen(PROBE, 0.5)[0][1].pair_score
    assert {h for h, _ in index.screen(PROBE, pair - 1e-6)} == {"a", "b"}  # both still flagged
    assert index.screen(PROBE, min(pair + 1e-6, 1.0)) == []


def test_a_lone_strong_candidate_keeps_its_score():
    index = CandidateIndex.build(TWINS)
    (cid, r), *rest = index.screen(ident("p", "Mokoena", "Palesa", "1990-11-20", "RA1234567"), 0.5)
    assert cid == "a" and r.score > 0.99 and r.score == pytest.approx(r.pair_score, abs=0.01)
    assert all(other.score < 0.01 for _, other in rest)  # the namesake no longer competes
    assert "No other person found" in r.explanations[1]


def test_one_persons_records_do_not_compete():
    index = CandidateIndex.build(TWINS)
    hits = dict(index.screen(PROBE, 0.5, person_of={"a": 1, "b": 1}.get))
    assert hits["a"].score == pytest.approx(hits["b"].score) and hits["a"].score > 0.6


def test_a_rival_under_the_threshold_still_shares():
    # The probe has no middle name; b's extra one makes her pair a little weaker than a's.
    index = CandidateIndex.build([TWINS[0], ident("b", "Mokoena", "Palesa Mary", "1990-11-20", "RB7654321")])
    both = dict(index.screen(PROBE, 0.5))
    between = (both["a"].pair_score + both["b"].pair_score) / 2
    [(cid, r)] = index.screen(PROBE, between)  # only a reaches the threshold...
    assert cid == "a" and r.score == pytest.approx(both["a"].score)  # ...but b still takes her share
    assert r.score < r.pair_score - 0.05
