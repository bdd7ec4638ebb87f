"""The matcher as a specification: each row is a probe, a candidate and what an officer should see."""

import json
import math
from dataclasses import replace

import pytest

from screening.engine.fellegi_sunter import MatchModel, default_model
from screening.engine.matching import (
    DEFAULT,
    Document,
    Identity,
    MatchConfig,
    NameFrequencies,
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
    ("identical", person(), BASE, True, "surname", "Surname agrees exactly"),
    ("diacritics-dropped", person("Motsoanakaba"), person("Motšoanakaba"), True, "given_names",
     "Given names agree exactly"),
    ("sesotho-orthography", person("Moshweshwe", doc=""), person("Moshoeshoe"), True, "surname",
     "Surname agrees exactly"),
    ("lineo-dineo", person("Mohapi", "Dineo", sex="F", doc=""), person("Mohapi", "Lineo", sex="F"), True,
     "surname", "Surname agrees exactly"),
    ("names-swapped", person("Thabo", "Mokoena", doc=""), BASE, True, "surname",
     "Surname and given names are swapped"),
    ("given-names-reordered", person(given="David Thabo", doc=""), person(given="Thabo David"), True,
     "given_names", "given names in a different order"),
    ("middle-name-missing", person(given="Thabo", doc=""), person(given="Thabo David"), True, "given_names",
     "a given name is missing on one side"),
    ("initial", person(given="T.", doc=""), person(given="Thabo"), True, "given_names",
     "a given name matches an initial"),
    ("surname-typo", person("Mofokang", doc=""), person("Mofokeng"), True, "surname",
     "surname matches except for a typo"),
    ("doubled-letter", person("Mokoenna", doc=""), BASE, True, "surname",
     "surname matches as a spelling variant"),
    ("spelling-variant-ph-f", person("Nkosi", "Sifo", doc=""), person("Nkosi", "Sipho"), True, "given_names",
     "spelling variant"),
    ("compound-surname", person("Mohapi-Letsie", "Palesa", sex="F", doc=""),
     person("Mohapi", "Palesa", sex="F"), True, "surname", "part of a compound surname"),
    ("particles", person("Van Der Merwe", "Pieter", nat="ZAF", doc=""), person("van der Merwe", "Pieter",
                                                                             nat="ZAF"), True, "given_names",
     "Given names agree exactly"),
    ("alias", person("Letsie", "Palesa", sex="F", doc=""),
     person("Mofokeng", "Palesa", sex="F", aliases=[("Letsie", "Palesa")]), True, "surname", "through an alias"),
    ("thabo-is-not-thabang", person(given="Thabang", doc=""), BASE, False, "given_names", "given names differ"),
    ("dob-day-month-swapped", person(dob="1985-04-03", doc=""), BASE, True, "date_of_birth",
     "Date of birth matches with day and month swapped"),
    ("dob-year-only", person(dob="1985", doc=""), BASE, True, "date_of_birth", "Year of birth matches"),
    ("dob-placeholder-1-january-is-year-only", person(dob="1985-01-01", doc=""), BASE, True, "date_of_birth",
     "Year of birth matches"),
    ("dob-year-off-by-one", person(dob="1986-03-04", doc=""), BASE, True, "date_of_birth", "the year differs by one"),
    ("dob-estimated", person(dob="~1984", doc=""), BASE, True, "date_of_birth", "within the estimate"),
    ("dob-swapped-and-year-off-by-one-is-weak-evidence", person(dob="1986-04-03", doc=""), BASE, True, "date_of_birth",
     "swapped, and the year differs by one"),
    # Fitted on the generator, a day/month swap with the year off by one is rarer by chance (u) than among
    # one person's records: with the surname, an initial, sex and nationality it now reaches the flag.
    ("dob-swapped-and-year-off-by-one-with-an-initial", person(given="T.", dob="1986-04-03", doc=""), BASE,
     True, "date_of_birth", "swapped, and the year differs by one"),
    ("dob-missing", person(dob=None, doc=""), BASE, False, "date_of_birth", "not recorded"),
    ("common-name-different-dob-no-document", person(dob="1990-07-21", doc=""), BASE, False, "date_of_birth",
     "Dates of birth differ"),
    ("common-name-same-month-other-day", person(dob="1985-03-19", doc=""), BASE, False, "date_of_birth",
     "the day differs"),
    # A document number with nothing else to compare: strong evidence (about 14 bits), but under the flag
    # on its own since the prior is the random-pair match rate (a reused or mistyped number happens).
    ("document-alone",
     Identity.from_strings("x", "", "", document_number="RA1234567", document_country="LSO"), BASE, False,
     "document", "Document number matches"),
    ("document-ocr-o-0", person("Mokoena", "T.", doc="RA123456O"), person(doc="RA1234560"), True,
     "document", "except for an O/0 confusion"),
    ("document-one-edit", person(doc="RA1234568"), BASE, True, "document", "differs by one character"),
    ("renewed-passport-is-neutral", person(doc="RB7654321"), BASE, True, "document",
     "possibly a renewed or second document"),
    ("different-sex-penalised", person(sex="F", dob="1985", doc=""), BASE, False, "sex", "Sex differs"),
    ("different-person-same-document-country", person("Letsie", "Palesa", dob="1990-01-12", sex="F",
                                                      doc="RA7777777"), BASE, False, "given_names",
     "Given names differ"),
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
    result = match(probe, BASE)
    assert result.score >= 0.3
    assert max(result.features, key=lambda f: f.contribution).name == "document"


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
    assert data["explanations"][0] == result.headline == "Match probability over 99%"
    assert any(e.startswith("Date of birth matches with day and month swapped (weight +")
               for e in data["explanations"])
    assert {f["name"] for f in data["features"]} == {"surname", "given_names", "date_of_birth", "document", "sex",
                                                     "nationality", "address"}


def test_score_is_the_posterior_of_the_prior_and_the_summed_weights():
    model = default_model()
    result = match(person(dob="1985", doc=""), BASE)
    total = sum(model.weight(f.name, f.level) for f in result.features if f.level != "missing")
    assert result.weight == pytest.approx(total)
    odds = model.prior / (1 - model.prior) * 2 ** total
    assert result.score == pytest.approx(odds / (1 + odds))


def test_explanations_say_how_much_each_feature_weighed():
    result = match(person(doc="RB7654321"), BASE)
    by = {f.name: f for f in result.features}
    assert by["surname"].explanation == f"Surname agrees exactly (weight {by['surname'].weight:+.1f})"
    doc = by["document"]
    assert doc.level == "disagree" and doc.weight < 0
    assert doc.explanation.endswith(f"(weight \u2212{abs(doc.weight):.1f})")


def test_weights_and_threshold_are_parameters():
    strict = MatchConfig(flag_threshold=0.9999)
    result = match(person(dob="1985-04-03", doc=""), BASE, strict)
    assert result.score < strict.flag_threshold
    weak_dob = default_model().with_levels({"date_of_birth": {"swapped": (0.02, 0.02)}},
                                           prior=default_model().prior, pairs=0,
                                           fitted_at=None)
    assert match(person(dob="1985-04-03", doc=""), BASE, MatchConfig(model=weak_dob)).score < result.score


def test_id_card_and_passport_numbers_are_different_types_not_a_disagreement():
    probe = person(doc="8503045123081", doc_type="ID", doc_country="ZAF")
    feature = next(f for f in match(probe, BASE).features if f.name == "document")
    assert feature.level == "other_type"
    assert "different types" in feature.explanation
    same_type = next(f for f in match(person(doc="RB7654321"), BASE).features if f.name == "document")
    assert feature.weight > same_type.weight


@pytest.mark.parametrize(("doc", "phrase"), [
    pytest.param("RA1234576", "differs by one character", id="adjacent-transposition"),
    pytest.param("RA1234568", "differs by one character", id="one-digit-typo"),
    pytest.param("RA123456", "differs by one character", id="one-digit-dropped"),
    pytest.param("RAI234567", "I/1 confusion", id="ocr-confusion"),
])
def test_document_typo_is_near_agreement(doc, phrase):
    feature = next(f for f in match(person(doc=doc), BASE).features if f.name == "document")
    assert (feature.level, feature.verdict) == ("near", "agree")
    assert phrase in feature.explanation
    assert feature.weight > 0


def test_passport_then_id_card_same_person_flags():
    """Same names, date of birth and address; a passport on one side, a national ID on the other."""
    home = "12 Main Rd, Maseru"
    a = person(doc="RA1234567", doc_type="P")
    a.address = home
    b = person(doc="0123456789012", doc_type="ID")
    b.address = "maseru 12 main road"
    result = match(a, b)
    assert result.score >= THRESHOLD, result.explanations
    by = {f.name: f for f in result.features}
    assert by["address"].level == "exact" and by["document"].level == "other_type"


def test_a_forged_document_number_lowers_the_weight_but_does_not_decide():
    a, b = person(), person(doc="RC9999999")
    a.address = b.address = "Ha Abia, Maseru"
    result = match(a, b)
    doc = next(f for f in result.features if f.name == "document")
    assert doc.weight < 0
    assert result.score >= THRESHOLD


@pytest.mark.parametrize(("a", "b", "level"), [
    ("12 Main Rd, Maseru", "12 MAIN ROAD MASERU", "exact"),
    ("Maseru 12 Main Street", "12 Main St., Maseru", "exact"),
    ("12 Main Road, Maseru", "12 Main Road, Maseru West", "near"),
    ("12 Main Road, Maseru", "14 Main Road, Maseru", "fuzzy"),
    ("12 Main Road, Maseru", "Ha Thetsane, Leribe", "disagree"),
    ("12 Main Road, Maseru", "", "missing"),
])
def test_address_is_normalised_and_compared_by_tokens(a, b, level):
    pa, pb = person(), person()
    pa.address, pb.address = a, b
    assert next(f for f in match(pa, pb).features if f.name == "address").level == level


def test_from_strings_treats_empty_values_as_unknown():
    ident = Identity.from_strings(1, "", None, date_of_birth=" ", sex="", nationality="",
                                  document_number="  ", address=" ")
    assert (ident.dob, ident.sex, ident.nationality, ident.documents, ident.address) == (None, None, None, [], "")
    assert Identity.from_strings(1, document_number="A1").documents == [Document(None, "A1", None)]


@pytest.mark.parametrize(("a", "b", "distance"), [
    pytest.param("palesa", "palsea", 1, id="transposition-is-one-edit"),
    pytest.param("thabo", "thabang", 3, id="substitution-and-insertions"),
])
def test_token_distance(a, b, distance):
    assert token_distance(a, b) == distance


@pytest.mark.parametrize(("a", "b", "expected"), [
    pytest.param(("thabo",), ("thabo",), (1.0, 0, (("thabo", "thabo"),)), id="same"),
    pytest.param(("mokoena",), ("mokoana",), (DEFAULT.typo_token_score, 1, (("mokoena", "mokoana"),)), id="typo"),
    pytest.param(("t",), ("thabo",), (DEFAULT.initial_score, 2, ()), id="initial-is-no-agreeing-token"),
    pytest.param(("thabo",), ("palesa",), (0.0, 32, ()), id="different-is-unmatched"),
    pytest.param(("thabo",), ("thabo", "palesa"), (1.0 - DEFAULT.extra_token_penalty, 4, (("thabo", "thabo"),)),
                 id="extra-token-general-path"),
])
def test_single_token_alignment(a, b, expected):
    # One token a side (most surnames) takes a short path in `_align`; it must read as the general one.
    from screening.engine.matching import _align

    score, flags, agreeing = _align(a, b, DEFAULT)
    assert (score, flags, agreeing) == (pytest.approx(expected[0]), *expected[1:])


# --- Name frequencies: a rare name agreeing counts for more, a common one for less ----------------
# A national list of 10^6 persons where Mokoena and Thabo are very common (2% and 1.5%), Ramokhoro and
# Tlotliso rare (a few dozen each), and the rest spread over 20,000 names of 150 bearers each.
# Counts are of canonical tokens ("mokoena" is written "mokwena").
POPULATION = NameFrequencies({"mokwena": 20_000, "thabo": 15_000, "ramokhoro": 30, "tlotliso": 50,
                              "david": 9_000, **{f"name{i}": 150 for i in range(20_000)}}, total=1_000_000)
WEIGHTED = MatchConfig(frequencies=POPULATION)


def rare(**kw):
    return person(**{"surname": "Ramokhoro", "given": "Tlotliso", **kw})


# (id, probe, candidate, flagged?, phrase expected in the surname explanation or None: no adjustment)
WEIGHTED_CASES = [
    # Against this 10^6-person list a common name born in 1985 has namesakes: the prior, scaled to
    # the list's size, keeps name and birth year alone under the flag threshold.
    ("common-namesake-year-only-no-document-must-not-flag", person(dob="1985", doc=""), BASE, False,
     "a common name: namesakes are likely"),
    ("common-namesake-placeholder-date-must-not-flag", person(dob="1985-01-01", doc=""), BASE, False,
     "namesakes are likely"),
    ("rare-name-typo-year-only-no-document-must-flag", rare(surname="Ramokohro", dob="1985", doc=""), rare(),
     True, "a rare name: unlikely to be a namesake"),
    ("rare-name-dropped-middle-placeholder-no-document-must-flag", rare(dob="1985-01-01", doc=""),
     rare(given="Tlotliso David"), True, "unlikely to be a namesake"),
    ("common-name-full-date-still-flags", person(doc=""), BASE, True, "namesakes are likely"),
    ("document-agreeing-outweighs-namesakes", person(dob="1985"), BASE, True, "namesakes are likely"),
    ("rare-name-does-not-outweigh-a-different-sex", rare(given="T.", sex="F", dob="1985", doc=""), rare(), False,
     "unlikely to be a namesake"),
    ("rare-surname-alone-does-not-flag", rare(given="T. Mosa", dob="1985", doc=""),
     rare(given="Tlotliso Palesa"), False, "unlikely to be a namesake"),
]


@pytest.mark.parametrize(("probe", "candidate", "flagged", "phrase"),
                         [c if isinstance(c, type(pytest.param())) else pytest.param(*c[1:], id=c[0])
                          for c in WEIGHTED_CASES])
def test_name_frequency_weighting(probe, candidate, flagged, phrase):
    result = match(probe, candidate, WEIGHTED)
    surname = next(f for f in result.features if f.name == "surname")
    assert phrase.lower() in surname.explanation.lower(), surname
    assert (result.score >= WEIGHTED.flag_threshold) is flagged, (result.score, result.explanations)


def test_a_small_table_cannot_make_a_name_rare():
    probe, candidate = rare(surname="Ramokohro", dob="1985", doc=""), rare()
    small = MatchConfig(frequencies=NameFrequencies({"ramokhoro": 1, "tlotliso": 1}, total=40))
    assert match(probe, candidate, small).score == pytest.approx(match(probe, candidate).score)
    assert match(probe, candidate, WEIGHTED).score > match(probe, candidate).score


def test_without_a_frequency_table_the_score_is_the_field_features_alone():
    plain = match(person(dob="1985", doc=""), BASE)
    model = default_model()
    expected = sum(model.weight(f, lv) for f, lv in (("surname", "exact"), ("given_names", "exact"),
                                                     ("date_of_birth", "year_date"), ("sex", "agree"),
                                                     ("nationality", "agree")))
    assert plain.weight == pytest.approx(expected)


def test_weighting_is_deterministic_and_grows_with_commonness():
    common = match(person(dob="1985", doc=""), BASE, WEIGHTED).score
    assert common == match(person(dob="1985", doc=""), BASE, WEIGHTED).score
    counts = dict(POPULATION.counts, mokwena=2_000, thabo=1_500)
    less_common = MatchConfig(frequencies=NameFrequencies(counts, 1_000_000))
    assert match(person(dob="1985", doc=""), BASE, less_common).score > common


def test_name_frequencies_count_each_person_once_and_forget_removed_persons():
    a = prepare(person(aliases=[("Mokoena", "Thabo")]))
    table = NameFrequencies()
    table.add(a)
    table.add(prepare(person(surname="Letsie")))
    assert (table.counts["mokwena"], table.counts["thabo"], table.total) == (1, 2, 2)
    assert (table.sum_counts, table.sum_squares) == (4, 1 + 4 + 1)  # mokwena 1, thabo 2, letsie 1
    table.remove(a)
    assert "mokwena" not in table.counts and table.total == 1
    assert table.share("thabo", "unseen") == 1.0 and table.share("unseen", "unseen") == 1.0
    assert table.sum_counts == sum(table.counts.values())
    assert table.sum_squares == sum(c * c for c in table.counts.values())


# --- Other precision and recall fixes ------------------------------------------------------------


@pytest.mark.parametrize(("probe", "candidate", "flagged", "feature", "phrase"), [
    pytest.param(person("Mokeona", doc=""), BASE, True, "surname", "surname matches except for a typo",
                 id="oe-transposed-is-one-typo-not-two"),
    pytest.param(person("Moshoeshoe", "Thabo", doc=""), person("Moshowshoe", "Thabo"), True, "surname",
                 "except for a typo", id="oe-we-typo-inside-a-long-name"),
    pytest.param(person(dob="1985", doc="8503045123081", doc_type="ID", doc_country="ZAF", nat="ZAF"),
                 person(doc="8503041234089", doc_type="ID", doc_country="ZAF", nat="ZAF"), False, "document",
                 "an ID number is kept for life", id="different-national-id-numbers-count-against"),
    pytest.param(person(doc="7708125123081", doc_type="ID", doc_country="ZAF", nat="ZAF"),
                 person(doc="8503041234089", doc_type="ID", doc_country="ZAF", nat="ZAF"), True, "document",
                 "does not carry its holder's date of birth",
                 id="an-sa-id-number-not-carrying-the-date-of-birth-is-suspect-not-a-second-person"),
    pytest.param(person(doc="RB7654321"), BASE, True, "document", "possibly a renewed or second document",
                 id="different-passport-numbers-weigh-against-but-do-not-decide"),
    pytest.param(person(given="Elizabeth Ruth Grace", dob="1985", doc=""), person(given="Elizabeth Ruth Mercy"),
                 False, "given_names", "only some given names match", id="two-of-three-given-names-is-not-all"),
    pytest.param(person(given="Tsehiha Alice", doc=""), person(given="Katsuile Alice"), False, "given_names",
                 "given names differ", id="a-differing-given-name-counts-against-even-with-the-full-date"),
    pytest.param(person(given="Alice", doc=""), person(given="Katsuile Alice"), True, "given_names",
                 "a given name is missing on one side", id="a-missing-given-name-is-only-absence"),
])
def test_precision_and_recall_fixes(probe, candidate, flagged, feature, phrase):
    result = match(probe, candidate)
    explained = {f.name: f.explanation for f in result.features}
    assert phrase.lower() in explained[feature].lower(), explained
    assert (result.score >= THRESHOLD) is flagged, (result.score, result.explanations)


@pytest.mark.parametrize(("a", "b", "level"), [
    ("1985-03-04", "1985-03-04", "exact"), ("1985-03-04", "1985-04-03", "swapped"),
    ("1985-03-04", "1986-03-04", "typo"), ("1985-03-04", "1985-03-14", "typo"),
    ("1985-03-04", "1958-03-04", "typo"),  # two adjacent digits transposed
    ("1985-03-04", "1985-03-19", "disagree"), ("1985-03-04", "1990-07-21", "disagree"),
    ("1985-03-04", "1986-04-03", "slips"), ("1985", "1985-03-04", "year_date"), ("1985", "1985", "year"),
    ("1985", "1985-01-01", "year"), ("1985", "1986", "year_near"),
    ("1985", "1988", "disagree"), ("~1984", "1985-03-04", "estimated"), ("~1980", "1985", "disagree"),
    ("1985-03", "1985-03-04", "year_month"), ("1985-01-01", "1985-06-30", "year_date"),
])
def test_date_of_birth_levels(a, b, level):
    result = match(person(dob=a), person(dob=b))
    assert next(f for f in result.features if f.name == "date_of_birth").level == level


def test_a_year_only_crossing_fits_a_year_only_person_better_than_a_namesake_born_that_year():
    # Both sides knowing only the year is what one person whose full date was never known shows on
    # every crossing; a namesake's full date in that year meets a year-only record only by a slip.
    probe = person(dob="1985", doc="")
    same = match(probe, person(dob="1985")).weight
    namesake = match(probe, person(dob="1985-07-24")).weight
    model = default_model()
    assert same - namesake == pytest.approx(model.weight("date_of_birth", "year")
                                            - model.weight("date_of_birth", "year_date"))
    assert same > namesake + 2.0


def test_a_model_stored_without_the_year_date_level_reads_it_as_year():
    model = default_model()
    dob = next(f for f in model.features if f.name == "date_of_birth")
    older = replace(dob, levels=tuple(lv for lv in dob.levels if lv.name != "year_date"))
    old = replace(model, features=tuple(older if f.name == "date_of_birth" else f for f in model.features))
    result = match(person(dob="1985"), BASE, MatchConfig(model=old))
    assert next(f for f in result.features if f.name == "date_of_birth").level == "year"


def test_namesakes_with_different_full_dates_stay_apart_by_rule():
    """The hard rule: full dates differing by more than a typo, no document agreeing, are two people,
    however well the rest agrees (the same address: siblings; the same names: namesakes)."""
    a, b = person(doc=""), person(dob="1985-09-21", doc="")
    a.address = b.address = "12 Main Road, Maseru"
    result = match(a, b)
    assert result.score <= DEFAULT.dob_rule_cap < THRESHOLD
    assert result.explanations[1].startswith("Rule: full dates of birth differ by more than a typo")
    with_document = match(person(), person(dob="1985-09-21"))  # the same passport: the rule does not apply
    assert with_document.score >= THRESHOLD
    assert not any(e.startswith("Rule:") for e in with_document.explanations)


# --- The prior scaled to the population searched ---------------------------------------------------


def test_prior_scales_inversely_with_the_population_searched():
    model = default_model()
    assert model.population > 1
    # At the population it was fitted on the prior is the fitted one; ten times as many records,
    # ten times the namesakes: a tenth of the prior (3.3 bits lower).
    assert model.prior_for(model.population) == pytest.approx(model.prior)
    assert model.prior_for(10 * (model.population - 1) + 1) == pytest.approx(model.prior / 10)
    assert model.prior_log_odds_for(10 * model.population) == pytest.approx(model.prior_log_odds - math.log2(10),
                                                                            abs=0.01)


def test_score_falls_as_the_same_names_are_searched_in_a_larger_population():
    probe, candidate = person(dob="1985", doc=""), BASE
    counts = {"mokwena": 20, "thabo": 15}
    scores = []
    for total in (200_000, 1_000_000, 5_000_000):
        # The same share of the population carries each name: only the population's size differs.
        share = {k: v * total // 1000 for k, v in counts.items()}
        scores.append(match(probe, candidate, MatchConfig(frequencies=NameFrequencies(share, total))).score)
    assert scores[0] > scores[1] > scores[2]


def test_a_table_under_the_minimum_population_keeps_the_fitted_prior():
    small = MatchConfig(frequencies=NameFrequencies({"mokwena": 5, "thabo": 5}, total=500))
    result = match(person(dob="1985", doc=""), BASE, small)
    assert result.score == pytest.approx(default_model().probability(result.weight))


def test_the_prior_is_not_raised_for_a_list_smaller_than_the_fitted_population():
    model = default_model()
    assert model.prior_for(model.population // 10) == model.prior
    assert model.prior_for(2) == model.prior


def test_a_model_without_a_population_is_not_scaled():
    model = MatchModel.from_json({k: v for k, v in default_model().to_json().items() if k != "population"})
    assert model.population == 0
    assert model.prior_for(10**6) == model.prior
