"""Trafficking-pattern rules over resolved crossings (screening/engine/patterns.py): positive and negative cases."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from screening.engine.normalize import parse_partial_date
from screening.engine.patterns import CrossingFact, PatternConfig, companions, evaluate

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
NOW = datetime(2025, 6, 1, tzinfo=UTC)
_seq = iter(range(10**6))


def x(traveller, minutes=0, *, dob="1990-01-15", sex="M", surname="Mokoena", post="MSU", direction="exit",
      group=None, vehicle=None, relation=None, guardian_doc="", consent=False, doc="RA1234567", given="Thabo",
      days=0):
    return CrossingFact(f"c{next(_seq)}", traveller, post, direction, T0 + timedelta(days=days, minutes=minutes),
                        group, vehicle, parse_partial_date(dob) if dob else None, sex, surname, given, doc,
                        relation, guardian_doc, consent)


CHILD = "2015-05-05"  # aged 9 in 2025
TEEN = "2008-04-01"  # 16 before April 2025
YOUNG_WOMAN = "2003-02-02"


def rules_hit(crossings, rule, **kw):
    return [f for f in evaluate(crossings, now=NOW, rules=[rule], **kw)]


# --- a) unaccompanied minor -----------------------------------------------------------------------

MAN = {"dob": "1980-01-01", "surname": "Letsie", "doc": "RB7654321"}


# expected: None (no finding) or the severity. "kid" is the minor; other travellers are adults.
@pytest.mark.parametrize(("crossings", "expected"), [
    # recorded as MIDAS does
    pytest.param([x("kid", dob=CHILD, group=1, relation="parent"), x("man", group=1, **MAN)], None,
                 id="recorded-parent-different-surname"),
    pytest.param([x("kid", dob=CHILD, relation="legal_guardian")], None, id="recorded-legal-guardian-trusted"),
    pytest.param([x("kid", dob=CHILD, group=1, guardian_doc="rb 765 4321"), x("man", group=1, **MAN)], None,
                 id="guardian-document-found-in-group"),
    pytest.param([x("kid", dob=CHILD, guardian_doc="RB7654321"), x("man", 2, **MAN)], None,
                 id="guardian-document-found-at-same-moment"),
    pytest.param([x("kid", dob=CHILD, group=1, relation="relative", consent=True), x("man", group=1, **MAN)], None,
                 id="relative-with-consent-letter"),
    pytest.param([x("kid", dob=CHILD, group=1, relation="relative", guardian_doc="RB7654321"),
                  x("man", group=1, **MAN)], "medium", id="relative-without-consent-letter"),
    pytest.param([x("kid", dob=CHILD, relation="none", consent=True)], "low", id="alone-recorded-with-consent"),
    pytest.param([x("kid", dob=CHILD, relation="none")], "high", id="alone-recorded-no-consent"),
    # nothing recorded: the surname heuristic, as weaker evidence
    pytest.param([x("kid", dob=CHILD)], "high", id="minor-alone"),
    pytest.param([x("kid", dob=CHILD, group=1), x("man", group=1, **MAN)], "medium", id="minor-with-unrelated-adult"),
    pytest.param([x("kid", dob=CHILD, group=1), x("kid2", dob=TEEN, surname="Letsie", group=1)], "high",
                 id="two-minors-no-adult"),
    pytest.param([x("kid", dob=CHILD, group=1), x("mum", dob="1985-01-01", surname="MOKOENA", sex="F", group=1)],
                 "low", id="adult-with-same-surname-is-weaker-evidence"),
    pytest.param([x("kid", dob=CHILD, vehicle="ABC 123 MS"),
                  x("dad", 2, dob="1980-01-01", surname="Mokwena", vehicle="ABC123MS")], "low",
                 id="same-vehicle-same-surname-variant"),
    pytest.param([x("kid", dob=CHILD, guardian_doc="RB7654321"), x("man", 30, **MAN)], "high",
                 id="guardian-document-not-found-nearby"),
    pytest.param([x("adult", dob="2006-12-31")], None, id="just-18"),
    pytest.param([x("kid", dob="2007")], "high", id="year-only-dob-treated-as-possibly-minor"),
])
def test_unaccompanied_minor(crossings, expected):
    found = [f for f in rules_hit(crossings, "unaccompanied_minor") if f.travellers[0] in ("kid", "adult")]
    assert (found[0].severity if found else None) == expected
    if found:
        assert "crossed" in found[0].evidence[0] and found[0].crossings[0] == crossings[0].crossing_id


def test_unaccompanied_minor_evidence_names_the_adults_and_the_gap():
    with_stranger = rules_hit([x("kid", dob=CHILD, group=9), x("man", group=9, **MAN)], "unaccompanied_minor")[0]
    assert with_stranger.travellers == ("kid", "man")
    assert "none recorded as parent or guardian" in with_stranger.evidence[0]
    relative = rules_hit([x("kid", dob=CHILD, group=9, relation="relative", guardian_doc="RB7654321"),
                          x("man", group=9, **MAN)], "unaccompanied_minor")[0]
    assert relative.travellers == ("kid", "man") and "no parental consent letter" in relative.evidence[0]
    same_surname = [x("kid", dob=CHILD, group=1), x("mum", dob="1985-01-01", sex="F", group=1)]
    assert "record who the child travels with" in rules_hit(same_surname, "unaccompanied_minor")[0].evidence[0]
    assert rules_hit(same_surname, "unaccompanied_minor",
                     config=PatternConfig(surname_guardian_severity="")) == []


# --- b) adult with different minors or young women ------------------------------------------------

def _trips(victims, days_apart, surname="Letsie", **kw):
    out = []
    for i, (v, dob, sex) in enumerate(victims):
        out += [x("man", days=i * days_apart, dob="1975-01-01", doc="RB7654321", group=f"g{i}"),
                x(v, days=i * days_apart, dob=dob, sex=sex, surname=surname, group=f"g{i}", **kw)]
    return out


def _family(days, *children, parent_doc="RB7654321", **kw):
    """The man with his own children on one trip."""
    return [x("man", days=days, dob="1975-01-01", doc=parent_doc, group=f"f{days}"),
            *(x(c, days=days, dob=dob, sex="F", group=f"f{days}", **kw) for c, dob in children)]


KIDS = (("k1", CHILD), ("k2", TEEN), ("k3", "2011-03-03"))


@pytest.mark.parametrize(("crossings", "flagged"), [
    pytest.param(_trips([("v1", TEEN, "F"), ("v2", CHILD, "M"), ("v3", YOUNG_WOMAN, "F")], 20), True,
                 id="three-different-within-90-days"),
    pytest.param(_trips([("v1", TEEN, "F"), ("v2", CHILD, "M"), ("v3", YOUNG_WOMAN, "F")], 20,
                        relation="relative", guardian_doc="RB7654321"), True,
                 id="three-different-claimed-as-relatives"),
    pytest.param(_trips([("v1", TEEN, "F"), ("v2", CHILD, "M"), ("v3", YOUNG_WOMAN, "F")], 50), False,
                 id="three-but-spread-over-100-days"),
    pytest.param(_trips([("v1", TEEN, "F"), ("v1", TEEN, "F"), ("v1", TEEN, "F")], 10), False,
                 id="same-child-three-times"),
    pytest.param(_trips([("v1", "1990-01-01", "F"), ("v2", "1991-01-01", "F"), ("v3", "1980-01-01", "M")], 10),
                 False, id="adult-companions"),
    pytest.param(_family(0, *KIDS, surname="Letsie") + _family(20, *KIDS, surname="Letsie"), True,
                 id="three-children-unrecorded-different-surname"),
    pytest.param(_family(0, *KIDS) + _family(20, *KIDS) + _family(40, *KIDS), False,
                 id="own-children-same-surname-same-group"),
    pytest.param(_family(0, *KIDS, surname="Letsie", relation="parent", guardian_doc="RB7654321")
                 + _family(30, *KIDS, surname="Letsie", relation="parent", guardian_doc="RB7654321"), False,
                 id="own-children-recorded-by-document"),
    pytest.param(_family(0, *KIDS, surname="Letsie", relation="legal_guardian")
                 + _family(30, *KIDS, surname="Letsie", relation="legal_guardian"), False,
                 id="wards-recorded-only-adult-of-group"),
    pytest.param([c for d in (0, 20) for c in (
                     *_family(d, *KIDS, surname="Letsie", relation="parent", guardian_doc="RA5555555"),
                     x("mum", days=d, dob="1980-01-01", sex="F", doc="RA5555555", group=f"f{d}"))], False,
                 id="children-with-their-own-recorded-parent-in-the-group"),
    pytest.param(_family(0, *KIDS, surname="Letsie"), False, id="three-strangers-one-trip-is-one-occasion"),
])
def test_frequent_minor_companions(crossings, flagged):
    found = rules_hit(crossings, "frequent_minor_companions")
    assert [f.travellers[0] for f in found] == (["man"] if flagged else [])
    if flagged:
        assert len(set(found[0].travellers[1:])) >= 3
        assert "different minors or young women" in found[0].evidence[0]
        assert found[0].severity == "high"


def test_frequent_minor_companions_evidence():
    crossings = _trips([("v1", TEEN, "F"), ("v2", CHILD, "M"), ("v3", YOUNG_WOMAN, "F")], 20,
                       relation="relative", guardian_doc="RB7654321")
    [found] = rules_hit(crossings, "frequent_minor_companions")
    assert set(found.travellers[1:]) == {"v1", "v2", "v3"}
    assert "3 different minors or young women within 40 days (2 of them minors)" in found.evidence[0]
    assert "3 different trips" in found.evidence[0]
    assert found.evidence[1] == "Recorded as a relative accompanying 3 of them"


def test_frequent_minor_companions_window_is_configurable():
    crossings = _trips([("v1", TEEN, "F"), ("v2", CHILD, "M"), ("v3", YOUNG_WOMAN, "F")], 50)
    assert rules_hit(crossings, "frequent_minor_companions", config=PatternConfig(repeat_window_days=120))


# --- c) young person exited, not returned ---------------------------------------------------------

@pytest.mark.parametrize(("crossings", "kw", "expected"), [
    pytest.param([x("y", dob=YOUNG_WOMAN, sex="F")], {}, "medium", id="young-exit-no-return"),
    pytest.param([x("y", dob=YOUNG_WOMAN, sex="F", group=1), x("s", dob="1970-01-01", group=1)],
                 {"flagged": {"s"}}, "high", id="with-flagged-companion"),
    pytest.param([x("y", dob=TEEN, sex="F")], {}, "high", id="minor-exit-no-return"),
    pytest.param([x("y", dob=YOUNG_WOMAN, sex="F"), x("y", dob=YOUNG_WOMAN, sex="F", direction="entry", days=10)],
                 {}, None, id="returned"),
    pytest.param([x("y", dob=YOUNG_WOMAN, sex="F", days=85)], {}, None, id="exited-recently"),
    pytest.param([x("y", dob="1970-01-01")], {}, None, id="older-traveller"),
])
def test_no_return(crossings, kw, expected):
    found = [f for f in rules_hit(crossings, "no_return", **kw) if f.travellers[0] == "y"]
    assert (found[0].severity if found else None) == expected
    if found:
        assert "has not re-entered for" in found[0].evidence[0]
        if "flagged" in kw:
            assert found[0].travellers == ("y", "s") and "flagged" in found[0].evidence[1]


def test_no_return_days_configurable():
    crossings = [x("y", dob=YOUNG_WOMAN, sex="F", days=85)]
    assert rules_hit(crossings, "no_return", config=PatternConfig(no_return_days=5))


# --- d) several documents or name spellings -------------------------------------------------------

@pytest.mark.parametrize(("crossings", "flagged"), [
    pytest.param([x("t", days=d, doc=n) for d, n in ((0, "RA1111111"), (10, "RB2222222"), (20, "RC3333333"))],
                 True, id="three-passports-in-20-days"),
    pytest.param([x("t", days=d, doc=n) for d, n in ((0, "RA1111111"), (10, "RA1111111"), (20, "RB2222222"))],
                 False, id="one-renewal"),
    pytest.param([x("t", days=d, doc=n) for d, n in ((0, "RA1111110"), (10, "RA111111O"), (20, "RAI111110"))],
                 False, id="ocr-misreads-are-one-document"),
    pytest.param([x("t", days=d, doc=n) for d, n in ((0, "RA1111111"), (100, "RB2222222"), (200, "RC3333333"))],
                 False, id="three-passports-over-200-days"),
    pytest.param([x("t", days=d, surname=s, given=g) for d, s, g in
                  ((0, "Mokoena", "Thabo"), (5, "Letsie", "Thabo"), (9, "Mokoena", "Sello"))],
                 True, id="three-names"),
    pytest.param([x("t", days=d, surname=s, given=g) for d, s, g in
                  ((0, "Mokoena", "Thabo David"), (5, "MOKOENA", "T."), (9, "Thabo", "Mokoena"))],
                 False, id="initials-order-and-case-are-one-name"),
])
def test_many_identities(crossings, flagged):
    found = rules_hit(crossings, "many_identities")
    assert bool(found) is flagged
    if flagged:
        assert found[0].travellers == ("t",) and "different" in found[0].evidence[0]


# --- e) crossing with a suspect -------------------------------------------------------------------

def test_suspect_companion_recorded_group():
    crossings = [x("s", group=1, dob="1970-01-01"), x("v", group=1, dob=TEEN, sex="F"), x("z", 30, dob="1990-01-01")]
    found = rules_hit(crossings, "suspect_companion", suspects={"s"})
    assert [f.travellers for f in found] == [("v", "s")]
    assert "1 recorded in the same group" in found[0].evidence[0] and found[0].severity == "high"


def test_suspect_companion_needs_a_suspect_and_repetition_when_only_inferred():
    once = [x("s", dob="1970-01-01"), x("v", 2, dob=TEEN, sex="F")]
    assert rules_hit(once, "suspect_companion", suspects={"s"}) == []
    assert rules_hit(once, "suspect_companion") == []
    twice = once + [x("s", dob="1970-01-01", days=7), x("v", 3, dob=TEEN, sex="F", days=7)]
    found = rules_hit(twice, "suspect_companion", suspects={"s"})
    assert [f.travellers for f in found] == [("v", "s")] and "Crossed 2 time(s)" in found[0].evidence[0]


# --- companions -----------------------------------------------------------------------------------

def test_companions_counts_recorded_and_repeated_inferred_pairs():
    crossings = [
        x("a", 0), x("b", 2),  # together on day 0 (inferred)
        x("a", 0, days=3), x("b", 1, days=3),  # and again on day 3
        x("a", 0, days=5), x("c", 1, days=5),  # a and c only once, not recorded
        x("a", 0, days=6, group=7), x("d", 40, days=6, group=7),  # recorded together, 40 minutes apart
        x("a", 0, days=8, post="MPT"), x("e", 1, days=8, post="MSU"),  # different posts
        x("a", 0, days=9), x("f", 1, days=9, direction="entry"),  # different directions
    ]
    counts = companions(crossings)
    assert counts == {("a", "b"): 2, ("a", "d"): 1}
    assert companions(crossings, min_times=1)[("a", "c")] == 1


@pytest.mark.parametrize(("timezone", "shown"), [("Africa/Maseru", "2025-04-10 10:00"), ("UTC", "2025-04-10 08:00")])
def test_evidence_times_are_in_the_units_local_time(timezone, shown):
    crossing = CrossingFact("c-tz", "y", "MSB", "exit", datetime(2025, 4, 10, 8, 0, tzinfo=UTC), None, None,
                            parse_partial_date(YOUNG_WOMAN), "F", "Mokoena", "Palesa", "RA1234567", None, "", False)
    [found] = rules_hit([crossing], "no_return", config=PatternConfig(timezone=timezone))
    assert f"on {shown} and has not re-entered" in found.evidence[0]


# --- d) one traveller holding several documents ---------------------------------------------------

def doc(days, number, kind="P", country="LSO", traveller="t", **kw):
    c = x(traveller, days=days, doc=number, **kw)
    return CrossingFact(**{**{f: getattr(c, f) for f in CrossingFact.__dataclass_fields__},
                           "document_type": kind, "document_country": country})


@pytest.mark.parametrize(("crossings", "expected"), [
    pytest.param([doc(0, "RA3345120"), doc(21, "0494081412", "ID")], "medium", id="passport-then-id-card"),
    pytest.param([doc(0, "RA1111111"), doc(10, "RB2222222"), doc(20, "RA1111111")], "medium",
                 id="two-passports-used-alternately"),
    pytest.param([doc(0, "RA1111111"), doc(10, "A05512873", country="ZAF")], "medium",
                 id="passports-of-two-countries"),
    pytest.param([doc(0, "RA1111111"), doc(5, "RA1111111"), doc(20, "RB2222222"), doc(30, "RB2222222")], None,
                 id="passport-renewed-once"),
    pytest.param([doc(0, "RA3345120"), doc(10, "RA3345l20")], None, id="ocr-misread-is-the-same-document"),
    pytest.param([doc(0, "RA3345120"), doc(120, "0494081412", "ID")], None, id="outside-the-window"),
    pytest.param([doc(0, "RA1111111"), doc(10, "0494081412", "ID"), doc(20, "A05512873", country="ZAF")], "high",
                 id="three-documents-held"),
])
def test_many_identities_documents_held(crossings, expected):
    found = rules_hit(crossings, "many_identities")
    assert (found[0].severity if found else None) == expected


def test_many_identities_evidence_lists_document_types_and_masked_numbers():
    [finding] = rules_hit([doc(0, "RA3345120"), doc(2, "RA3345120"), doc(21, "0494081412", "ID")],
                          "many_identities")
    [text] = finding.evidence
    assert text.startswith("2 different documents held within 21 days: ")
    assert "passport RA\u2022\u2022\u2022\u2022\u202220 (LSO, 2 times, first 2025-03-01)" in text
    assert "national ID card 04\u2022\u2022\u2022\u2022\u2022\u202212 (LSO, once, first 2025-03-22)" in text
    assert "3345120" not in text and "940814" not in text  # the numbers themselves are not repeated
    assert len(finding.crossings) == 3


def test_evidence_is_said_in_phrases_a_catalog_can_translate():
    """Every sentence is a Phrase: the English text, and templates and values (documents nested) that a
    catalog translates, and that survive the JSON a flag stores them in."""
    from screening.engine.phrases import Phrase, translate

    crossings = [replace(x("t", days=d, doc=n), document_type=k)
                 for d, n, k in ((0, "RA3345120", "P"), (5, "0494081412", "ID"), (9, "RA3345120", "P"))]
    [found] = rules_hit(crossings, "many_identities")
    sentence = found.evidence[0]
    assert isinstance(sentence, Phrase) and sentence.startswith("2 different document")
    stored = Phrase.from_json(sentence.to_json())
    assert stored == sentence
    upper = {"{count} different document numbers used within {days} days: {documents}":
             "{count} DOCS {days}: {documents}",
             "{count} different documents held within {days} days: {documents}": "{count} HELD {days}: {documents}",
             "{kind} {number} (once, first {first})": "{kind} {number} (ONCE {first})",
             "{kind} {number} ({count} times, first {first})": "{kind} {number} ({count} TIMES {first})",
             "passport": "PASS", "national ID card": "NIC"}
    said = translate(stored, lambda t: upper.get(t, t))
    assert said.startswith("2 ") and "PASS RA•••••20 (2 TIMES 2025-03-01)" in said and "NIC 04••••••12 (ONCE" in said
    assert "different" not in said and "first" not in said
