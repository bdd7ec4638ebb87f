"""The matcher as a specification: each row is a probe, a candidate and what an officer should see."""

import json

import pytest

from screening.engine.matching import (
    DEFAULT,
    Document,
    Identity,
    MatchConfig,
    NameFrequencies,
    dob_contribution,
    dob_feature,
    match,
    prepare,
    token_distance,
)

THRESHOLD = DEFAULT.flag_threshold


def person(surname="Mokoena", given="Thabo", dob="1985-03-04", sex="M", nat="LSO", doc="RA1234567",
           doc_country="LSO", doc_type="P", aliases=()):
    return Identity.from_strings("x", surname, given, date_of_birth=dob, sex=sex, nationality=nat,
                                 document_number=doc, document_type=doc_type, document_country=doc_country,
                                 aliases=aliases)


BASE = person()

# (id, probe, candidate, flagged?, feature name, phrase expected in that feature's explanation)
CASES = [
    ("identical", person(), BASE, True, "name", "Surname and given names match"),
    ("diacritics-dropped", person("Motsoanakaba"), person("Motšoanakaba"), True, "name",
     "Surname and given names match"),
    ("sesotho-orthography", person("Moshweshwe", doc=""), person("Moshoeshoe"), True, "name",
     "Surname and given names match"),
    ("lineo-dineo", person("Mohapi", "Dineo", sex="F", doc=""), person("Mohapi", "Lineo", sex="F"), True,
     "name", "Surname and given names match"),
    ("names-swapped", person("Thabo", "Mokoena", doc=""), BASE, True, "name",
     "Surname and given names are swapped"),
    ("given-names-reordered", person(given="David Thabo", doc=""), person(given="Thabo David"), True,
     "name", "given names in a different order"),
    ("middle-name-missing", person(given="Thabo", doc=""), person(given="Thabo David"), True, "name",
     "a given name is missing on one side"),
    ("initial", person(given="T.", doc=""), person(given="Thabo"), True, "name",
     "a given name matches an initial"),
    ("surname-typo", person("Mofokang", doc=""), person("Mofokeng"), True, "name",
     "surname matches except for a typo"),
    ("doubled-letter", person("Mokoenna", doc=""), BASE, True, "name",
     "surname matches as a spelling variant"),
    ("spelling-variant-ph-f", person("Nkosi", "Sifo", doc=""), person("Nkosi", "Sipho"), True, "name",
     "spelling variant"),
    ("compound-surname", person("Mohapi-Letsie", "Palesa", sex="F", doc=""),
     person("Mohapi", "Palesa", sex="F"), True, "name", "part of a compound surname"),
    ("particles", person("Van Der Merwe", "Pieter", nat="ZAF", doc=""), person("van der Merwe", "Pieter",
                                                                             nat="ZAF"), True, "name",
     "Surname and given names match"),
    ("alias", person("Letsie", "Palesa", sex="F", doc=""),
     person("Mofokeng", "Palesa", sex="F", aliases=[("Letsie", "Palesa")]), True, "name", "through an alias"),
    ("thabo-is-not-thabang", person(given="Thabang", doc=""), BASE, False, "name", "given names differ"),
    ("dob-day-month-swapped", person(dob="1985-04-03", doc=""), BASE, True, "dob",
     "Date of birth matches with day and month swapped"),
    ("dob-year-only", person(dob="1985", doc=""), BASE, True, "dob", "Year of birth matches"),
    ("dob-placeholder-1-january-is-year-only", person(dob="1985-01-01", doc=""), BASE, True, "dob",
     "Year of birth matches"),
    ("dob-year-off-by-one", person(dob="1986-03-04", doc=""), BASE, True, "dob", "the year differs by one"),
    ("dob-estimated", person(dob="~1984", doc=""), BASE, True, "dob", "within the estimate"),
    ("dob-swapped-and-year-off-by-one-is-weak-evidence", person(dob="1986-04-03", doc=""), BASE, True, "dob",
     "swapped, and the year differs by one"),
    ("dob-swapped-and-year-off-by-one-alone-does-not-flag", person(given="T.", dob="1986-04-03", doc=""), BASE,
     False, "dob", "swapped, and the year differs by one"),
    ("dob-missing", person(dob=None, doc=""), BASE, False, "dob", "not recorded"),
    ("common-name-different-dob-no-document", person(dob="1990-07-21", doc=""), BASE, False, "dob",
     "Dates of birth differ"),
    ("common-name-same-month-other-day", person(dob="1985-03-19", doc=""), BASE, False, "dob",
     "the day differs"),
    ("document-alone",
     Identity.from_strings("x", "", "", document_number="RA1234567", document_country="LSO"), BASE, True,
     "document", "Document number matches"),
    ("document-ocr-o-0", person("Mokoena", "T.", doc="RA123456O"), person(doc="RA1234560"), True,
     "document", "except for an O/0 confusion"),
    ("document-one-edit", person(doc="RA1234568"), BASE, True, "document", "differs by one character"),
    ("renewed-passport-is-neutral", person(doc="RB7654321"), BASE, True, "document",
     "possibly a renewed document"),
    ("different-sex-penalised", person(sex="F", dob="1985", doc=""), BASE, False, "sex", "Sex differs"),
    ("different-person-same-document-country", person("Letsie", "Palesa", dob="1990-01-12", sex="F",
                                                      doc="RA7777777"), BASE, False, "name", "Names differ"),
]


@pytest.mark.parametrize(("probe", "candidate", "flagged", "feature", "phrase"),
                         [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_match_specification(probe, candidate, flagged, feature, phrase):
    result = match(probe, candidate)
    explained = {f.name: f.explanation for f in result.features}
    assert phrase.lower() in explained[feature].lower(), explained
    assert (result.score >= THRESHOLD) is flagged, (result.score, result.explanations)


def test_strong_document_match_alone_scores_high():
    probe = Identity.from_strings("p", document_number="ra 123 4567", document_country="LSO")
    assert match(probe, BASE).score >= 0.85


def test_score_is_symmetric_for_plain_cases():
    a, b = person(given="Thabo David", dob="1985"), person()
    assert match(a, b).score == pytest.approx(match(b, a).score)


def test_empty_identities_do_not_match():
    empty = Identity("e")
    result = match(empty, empty)
    assert result.score == 0.0
    assert {f.verdict for f in result.features} == {"missing"}


def test_result_is_json_safe_and_explained():
    result = match(person(dob="1985-04-03"), BASE)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["score"] == pytest.approx(result.score, abs=1e-4)
    assert "Date of birth matches with day and month swapped" in data["explanations"]
    assert {f["name"] for f in data["features"]} == {"name", "dob", "document", "sex", "nationality"}


def test_weights_and_threshold_are_parameters():
    strict = MatchConfig(flag_threshold=0.99, dob_weight=0.1)
    result = match(person(dob="1985-04-03", doc=""), BASE, strict)
    assert result.score < strict.flag_threshold


def test_id_card_and_passport_numbers_are_not_compared():
    probe = person(doc="8503045123081", doc_type="ID", doc_country="ZAF")
    feature = next(f for f in match(probe, BASE).features if f.name == "document")
    assert feature.verdict == "missing"


def test_from_strings_treats_empty_values_as_unknown():
    ident = Identity.from_strings(1, "", None, date_of_birth=" ", sex="", nationality="",
                                  document_number="  ")
    assert (ident.dob, ident.sex, ident.nationality, ident.documents) == (None, None, None, [])
    assert Identity.from_strings(1, document_number="A1").documents == [Document(None, "A1", None)]


@pytest.mark.parametrize(("a", "b", "distance"), [
    pytest.param("palesa", "palsea", 1, id="transposition-is-one-edit"),
    pytest.param("thabo", "thabang", 3, id="substitution-and-insertions"),
])
def test_token_distance(a, b, distance):
    assert token_distance(a, b) == distance


# --- Name frequencies: a rare name agreeing counts for more, a common one for less ----------------
# A national list of 10^6 persons of interest where Mokoena and Thabo are very common (2% and 1.5%)
# and Ramokhoro and Tlotliso are rare (a few dozen each). Counts are of canonical tokens
# ("mokoena" is written "mokwena").
POPULATION = NameFrequencies({"mokwena": 20_000, "thabo": 15_000, "ramokhoro": 30, "tlotliso": 50,
                              "david": 9_000}, total=1_000_000)
WEIGHTED = MatchConfig(frequencies=POPULATION)


def rare(**kw):
    return person(**{"surname": "Ramokhoro", "given": "Tlotliso", **kw})


# (id, probe, candidate, flagged?, phrase expected in the namesakes feature or None for "not shown")
WEIGHTED_CASES = [
    ("common-namesake-year-only-no-document-must-not-flag", person(dob="1985", doc=""), BASE, False,
     "could share this name and year of birth: possibly a namesake"),
    ("common-namesake-placeholder-date-must-not-flag", person(dob="1985-01-01", doc=""), BASE, False,
     "possibly a namesake"),
    ("rare-name-typo-year-only-no-document-must-flag", rare(surname="Ramokohro", dob="1985", doc=""), rare(),
     True, "Few persons of interest share this name and year of birth"),
    ("rare-name-dropped-middle-placeholder-no-document-must-flag", rare(dob="1985-01-01", doc=""),
     rare(given="Tlotliso David"), True, "unlikely to be a namesake"),
    ("common-name-full-date-still-flags", person(doc=""), BASE, True, "and date of birth"),
    ("document-agreeing-makes-namesakes-irrelevant", person(dob="1985"), BASE, True, None),
    ("rare-name-bonus-not-given-when-sex-differs", rare(given="T.", sex="F", doc=""), rare(), False, None),
    ("rare-name-bonus-not-given-when-only-surname-agrees", rare(given="T. Mosa", doc=""),
     rare(given="Tlotliso Palesa"), False, None),
]


@pytest.mark.parametrize(("probe", "candidate", "flagged", "phrase"),
                         [pytest.param(*c[1:], id=c[0]) for c in WEIGHTED_CASES])
def test_name_frequency_weighting(probe, candidate, flagged, phrase):
    result = match(probe, candidate, WEIGHTED)
    namesakes = next(f for f in result.features if f.name == "namesakes")
    if phrase is None:
        assert namesakes.explanation not in result.explanations
    else:
        assert phrase.lower() in namesakes.explanation.lower(), namesakes
        assert namesakes.explanation in result.explanations
    assert (result.score >= WEIGHTED.flag_threshold) is flagged, (result.score, result.explanations)


def test_a_small_table_cannot_make_a_name_rare():
    probe, candidate = rare(surname="Ramokohro", dob="1985", doc=""), rare()
    small = MatchConfig(frequencies=NameFrequencies({"ramokhoro": 1, "tlotliso": 1}, total=40))
    assert match(probe, candidate, small).score == pytest.approx(match(probe, candidate).score)
    assert match(probe, candidate, WEIGHTED).score > match(probe, candidate).score


def test_without_a_frequency_table_the_score_is_the_field_features_alone():
    plain = match(person(dob="1985", doc=""), BASE)
    assert "namesakes" not in {f.name for f in plain.features}
    assert plain.score == pytest.approx(0.81)


def test_weighting_is_deterministic_and_grows_with_commonness():
    common = match(person(dob="1985", doc=""), BASE, WEIGHTED).score
    assert common == match(person(dob="1985", doc=""), BASE, WEIGHTED).score
    commoner = MatchConfig(frequencies=NameFrequencies({"mokwena": 80_000, "thabo": 60_000}, 1_000_000))
    assert match(person(dob="1985", doc=""), BASE, commoner).score < common


def test_name_frequencies_count_each_person_once_and_forget_removed_persons():
    a = prepare(person(aliases=[("Mokoena", "Thabo")]))
    table = NameFrequencies()
    table.add(a)
    table.add(prepare(person(surname="Letsie")))
    assert (table.counts["mokwena"], table.counts["thabo"], table.total) == (1, 2, 2)
    table.remove(a)
    assert "mokwena" not in table.counts and table.total == 1
    assert table.share("thabo", "unseen") == 1.0 and table.share("unseen", "unseen") == 1.0


# --- Other precision and recall fixes ------------------------------------------------------------


@pytest.mark.parametrize(("probe", "candidate", "flagged", "feature", "phrase"), [
    pytest.param(person("Mokeona", doc=""), BASE, True, "name", "surname matches except for a typo",
                 id="oe-transposed-is-one-typo-not-two"),
    pytest.param(person("Moshoeshoe", "Thabo", doc=""), person("Moshowshoe", "Thabo"), True, "name",
                 "except for a typo", id="oe-we-typo-inside-a-long-name"),
    pytest.param(person(dob="1985", doc="8503045123081", doc_type="ID", doc_country="ZAF", nat="ZAF"),
                 person(doc="8503041234089", doc_type="ID", doc_country="ZAF", nat="ZAF"), False, "document",
                 "an ID number is kept for life", id="different-national-id-numbers-count-against"),
    pytest.param(person(doc="RB7654321"), BASE, True, "document", "possibly a renewed document",
                 id="different-passport-numbers-stay-neutral"),
    pytest.param(person(given="Elizabeth Ruth Grace", dob="1985", doc=""), person(given="Elizabeth Ruth Mercy"),
                 False, "name", "only some given names match", id="two-of-three-given-names-is-not-all"),
    pytest.param(person(given="Tsehiha Alice", doc=""), person(given="Katsuile Alice"), False, "name",
                 "given names differ", id="a-differing-given-name-counts-against-even-with-the-full-date"),
    pytest.param(person(given="Alice", doc=""), person(given="Katsuile Alice"), True, "name",
                 "a given name is missing on one side", id="a-missing-given-name-is-only-absence"),
])
def test_precision_and_recall_fixes(probe, candidate, flagged, feature, phrase):
    result = match(probe, candidate)
    explained = {f.name: f.explanation for f in result.features}
    assert phrase.lower() in explained[feature].lower(), explained
    assert (result.score >= THRESHOLD) is flagged, (result.score, result.explanations)


@pytest.mark.parametrize(("a", "b"), [
    ("1985-03-04", "1985-03-04"), ("1985-03-04", "1985-04-03"), ("1985-03-04", "1986-03-04"),
    ("1985-03-04", "1985-03-19"), ("1985-03-04", "1990-07-21"), ("1985-03-04", "1986-04-03"),
    ("1985", "1985-03-04"), ("1985", "1986"),
    ("1985", "1988"), ("~1984", "1985-03-04"), ("~1980", "1985"), ("1985-03", "1985-03-04"),
    ("1985-01-01", "1985-06-30"),
])
def test_cheap_dob_contribution_agrees_with_the_feature(a, b):
    pa, pb = prepare(person(dob=a)), prepare(person(dob=b))
    assert dob_contribution(pa.dob, pb.dob, DEFAULT) == pytest.approx(dob_feature(pa, pb, DEFAULT).contribution)
