"""A trace returns a traveller's weak crossings with the one that matches on its own (issue 15, session 10).

Pair by pair, a second document shown from a new address with only the year of birth looks like any
namesake; resolution had placed it with the person, and the trace now says so instead of hiding it.
"""

from dataclasses import replace

from screening.engine.index import CandidateIndex
from screening.engine.matching import DEFAULT, Identity


def ident(id, given, dob, doc="", dtype="P", address=""):  # noqa: A002
    return Identity.from_strings(id, "Mokoena", given, date_of_birth=dob, sex="F", nationality="LSO",
                                 document_number=doc, document_type=dtype if doc else None,
                                 document_country="LSO" if doc else None, address=address)


PROBE = ident("p", "Palesa", "1990-11-20", "RA1234567", address="12 Main Rd, Maseru")
ANCHOR = ident("a", "Palesa", "1990-11-20", "RA1234567", address="12 Main Rd, Maseru")  # near certain alone
# Her national ID from a new address, given name not recorded, year of birth only: weak alone.
SECOND = ident("b", "", "1990", "0190112012345", dtype="ID", address="4 Church St, Mafeteng")
# Someone resolution merged in wrongly, born on another day: the hard rule keeps him out.
OTHER_DAY = ident("c", "Palesa", "1975-03-02", "0175030212345", dtype="ID", address="9 Hill Rd, Leribe")


def screen(person_of=None, config=DEFAULT, probe=PROBE):
    index = CandidateIndex.build([ANCHOR, SECOND, OTHER_DAY], config)
    return dict(index.screen(probe, 0.5, person_of=person_of))


def test_a_weak_crossing_comes_with_its_travellers_anchor_at_the_anchors_probability():
    alone = screen()
    assert set(alone) == {"a"}  # b's pair is far under the threshold
    hits = screen({"a": 1, "b": 1, "c": 1}.get)
    assert set(hits) == {"a", "b"}
    a, b = hits["a"], hits["b"]
    assert a.via is None and a.pair_score > 0.99
    assert b.via == "a" and b.score == a.score and b.pair_score < 0.5
    # The features and their weights are b's own; the first sentence after the headline says why it is shown.
    said = b.explanations[1]
    assert said.startswith("Found through its traveller") and f"this crossing alone: {b.pair_score:.0%}" in said
    assert b.alone().score == b.pair_score and all(f.level != "person" for f in b.alone().features)
    assert any(f.name == "document" and f.level == "other_type" for f in b.features)


def test_no_link_without_the_same_traveller_a_sure_anchor_or_the_setting():
    assert set(screen({"a": 1, "b": 2, "c": 3}.get)) == {"a"}
    assert set(screen({"a": 1, "b": 1}.get, replace(DEFAULT, person_anchor=None))) == {"a"}
    # A probe whose best crossing is flagged but not near certain anchors nothing (surname and date only).
    vague = ident("q", "", "1990-11-20")
    hits = screen({"a": 1, "b": 1, "c": 1}.get, probe=vague)
    assert 0.8 < hits["a"].pair_score < DEFAULT.person_anchor
    assert all(r.via is None for r in hits.values())


# A namesake whose date of birth is a typo away (one digit), with her own passport, crossing again and
# again from her own home: a flag pair by pair, under the anchor level. (Her date was the year only until
# s10a weighed "year against a full date" apart, under the flag threshold.)
TWIN = [ident(f"t{i}", "Palesa", "1990-11-21", "RB7654321", address="77 Moshoeshoe Rd, Leribe") for i in range(3)]


def test_a_namesake_with_a_home_of_his_own_is_capped_and_said():
    index = CandidateIndex.build([ANCHOR, *TWIN])
    alone = dict(index.screen(PROBE, 0.5))
    assert all(alone[t.id].pair_score >= DEFAULT.flag_threshold for t in TWIN)  # pair by pair: a flag each
    hits = dict(index.screen(PROBE, 0.5, person_of={"a": 1, "t0": 2, "t1": 2, "t2": 2}.get))
    for t in TWIN:
        r = hits[t.id]
        assert r.pair_score == DEFAULT.home_rule_cap and r.score <= DEFAULT.home_rule_cap and r.via is None
        assert r.explanations[1].startswith("Rule: this traveller's own home, recorded on 3 of its crossings")
    assert hits["a"].pair_score > 0.99
    # Merged into the person's traveller by resolution, the namesake's crossings are not passed off as hers.
    merged = dict(index.screen(PROBE, 0.5, person_of=lambda cid: 1))
    assert all(merged[t.id].via is None and merged[t.id].pair_score <= 0.5 for t in TWIN)
    # Once only from that home, it is not a home of her own: the pair stands.
    once = dict(CandidateIndex.build([ANCHOR, TWIN[0]]).screen(PROBE, 0.5, person_of={"a": 1, "t0": 2}.get))
    assert once["t0"].pair_score >= DEFAULT.flag_threshold


def test_the_home_of_a_crossing_sure_on_its_own_is_the_persons():
    moved = ident("m", "Palesa", "1990-11-20", "RA1234567", address="77 Moshoeshoe Rd, Leribe")  # her passport
    index = CandidateIndex.build([ANCHOR, moved, *TWIN[:2]])
    hits = dict(index.screen(PROBE, 0.5, person_of=lambda cid: 1))
    assert all(hits[t.id].pair_score >= DEFAULT.flag_threshold for t in TWIN[:2])
