"""The matcher's sentences stay plain English strings and can still be said in another language."""

from __future__ import annotations

import json

from screening.engine.matching import Identity, match
from screening.engine.phrases import Phrase, say, translate

SESOTHO = {"Surname agrees exactly": "Fane e tšoana hantle", " (weight {weight})": " (boima {weight})",
           "Match probability {percent}": "Monyetla oa hore ke eena {percent}"}


def test_a_phrase_is_its_english_text_and_translates_part_by_part():
    p = say("Surname agrees exactly") + say(" (weight {weight})", weight="+1.5")
    assert p == "Surname agrees exactly (weight +1.5)" and isinstance(p, str)
    assert translate(p, lambda t: SESOTHO.get(t, t)) == "Fane e tšoana hantle (boima +1.5)"


def test_a_translation_that_lost_its_placeholder_falls_back_to_english_instead_of_failing():
    p = say(" (weight {weight})", weight="+1.5")
    assert translate(p, lambda t: " (boima {bomaima})") == " (weight +1.5)"


def test_nested_phrases_and_plain_strings_survive_storage_as_json():
    inner = say("Surname agrees exactly")
    p = say("Surname and given names are swapped: {reading}", reading=inner) + "; {not a field}"
    stored = json.loads(json.dumps(p.to_json()))
    back = Phrase.from_json(stored)
    assert back == p
    assert translate(back, lambda t: SESOTHO.get(t, t)) == \
        "Surname and given names are swapped: Fane e tšoana hantle; {not a field}"
    assert Phrase.from_json([["x"]]) is None and Phrase.from_json("garbage") is None


def test_every_explanation_of_a_real_match_is_a_phrase_stored_with_its_templates():
    common = {"date_of_birth": "1990-05-01", "sex": "M", "nationality": "LSO", "document_country": "LSO"}
    a = Identity.from_strings(1, "Mokoena", "Thabo", document_number="RA1234567", document_type="passport", **common)
    b = Identity.from_strings(2, "Mokoena", "Thabo", document_number="0499123456", document_type="national_id",
                              **common)
    result = match(a, b)
    assert all(isinstance(e, Phrase) for e in result.explanations)
    for f in result.to_dict()["features"]:
        assert Phrase.from_json(f["say"]) == f["explanation"]
    said = translate(result.explanations[0], lambda t: SESOTHO.get(t, t))
    assert said.startswith("Monyetla oa hore ke eena ") and said.endswith("%")
