"""Specification of name, date and document normalisation."""

from datetime import date

import pytest

from screening.engine.normalize import (
    PartialDate,
    age_on,
    canonical,
    fold,
    name_tokens,
    normalize_document,
    ocr_key,
    ocr_key_of_normalized,
    parse_partial_date,
    phonetic_key,
)


@pytest.mark.parametrize(("raw", "folded"), [
    pytest.param("Motšoanakaba", "motsoanakaba", id="sesotho-caron-dropped"),
    pytest.param("  MOKOENA  ", "mokoena", id="case-and-spaces"),
    pytest.param("'Mathato", "mathato", id="leading-apostrophe"),
    pytest.param("Mohapi-Letsie", "mohapi letsie", id="hyphen-to-space"),
    pytest.param("du  Plessis", "du plessis", id="collapse-spaces"),
    pytest.param("Søren Łukasz", "soren lukasz", id="letters-nfkd-does-not-decompose"),
    pytest.param("", "", id="empty"),
    pytest.param(None, "", id="none"),
])
def test_fold(raw, folded):
    assert fold(raw) == folded


@pytest.mark.parametrize(("raw", "tokens"), [
    pytest.param("van der Merwe", ["merwe"], id="particles-dropped"),
    pytest.param("Vandermerwe", ["merwe"], id="glued-particles-stripped"),
    pytest.param("Vanessa", ["vanessa"], id="given-name-starting-like-particle-untouched"),
    pytest.param("T. M.", ["t", "m"], id="initials"),
    pytest.param("Mohapi-Letsie", ["mohapi", "letsie"], id="compound-surname"),
    pytest.param("Le", ["le"], id="name-made-only-of-a-particle-kept"),
    pytest.param("", [], id="empty"),
])
def test_name_tokens(raw, tokens):
    assert name_tokens(raw) == tokens


@pytest.mark.parametrize(("a", "b"), [
    pytest.param("moshoeshoe", "moshweshwe", id="lesotho-oe-is-sa-we"),
    pytest.param("mokoena", "mokwena", id="mokoena-mokwena"),
    pytest.param("lineo", "dineo", id="lesotho-li-is-sa-di"),
    pytest.param("chabalala", "tjhabalala", id="lesotho-ch-is-sa-tjh"),
    pytest.param("nqobile", "nkobile", id="click-nq-written-nk"),
])
def test_canonical_merges_orthographic_variants(a, b):
    assert canonical(a) == canonical(b)


@pytest.mark.parametrize(("a", "b"), [
    pytest.param("thabo", "thabang", id="thabo-is-not-thabang"),
    pytest.param("palesa", "lerato", id="different-names"),
    pytest.param("mpho", "mpha", id="vowel-difference-kept"),
])
def test_canonical_keeps_different_names_apart(a, b):
    assert canonical(a) != canonical(b)


@pytest.mark.parametrize(("a", "b"), [
    pytest.param("venter", "fenter", id="afrikaans-v-f"),
    pytest.param("philip", "filip", id="ph-f"),
    pytest.param("mokoena", "mokeona", id="vowel-typo"),
    pytest.param("moshoeshoe", "moshweshwe", id="sesotho-orthography"),
])
def test_phonetic_key_blocks_variants_together(a, b):
    assert phonetic_key(a) == phonetic_key(b)


def test_phonetic_key_separates_thabo_and_thabang():
    assert phonetic_key("thabo") != phonetic_key("thabang")


@pytest.mark.parametrize(("raw", "expected"), [
    pytest.param("1985-03-04", PartialDate(1985, 3, 4, "day"), id="iso-day"),
    pytest.param("1985-03", PartialDate(1985, 3, None, "month"), id="iso-month"),
    pytest.param("1985", PartialDate(1985, None, None, "year"), id="year"),
    pytest.param("04/03/1985", PartialDate(1985, 3, 4, "day"), id="dd-mm-yyyy"),
    pytest.param("~1985", PartialDate(1985, None, None, "estimated"), id="estimated-tilde"),
    pytest.param("c. 1985", PartialDate(1985, None, None, "estimated"), id="estimated-circa"),
    pytest.param(" 1985-3-4 ", PartialDate(1985, 3, 4, "day"), id="unpadded-with-spaces"),
])
def test_parse_partial_date(raw, expected):
    assert parse_partial_date(raw) == expected


@pytest.mark.parametrize(("raw", "message"), [
    pytest.param("1985-02-30", "impossible date", id="impossible-day"),
    pytest.param("1985-13", "impossible date", id="impossible-month"),
    pytest.param("March 1985", "unrecognised date", id="words"),
    pytest.param("", "unrecognised date", id="empty"),
    pytest.param("850304", "unrecognised date", id="icao-yymmdd-is-separate"),
])
def test_parse_partial_date_rejects_with_a_clear_message(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_partial_date(raw)


def test_partial_date_rejects_inconsistent_precision():
    with pytest.raises(ValueError, match="precision"):
        PartialDate(1985, 3, None, "day")


@pytest.mark.parametrize(("dob", "on", "age"), [
    pytest.param("2007-06-15", date(2025, 6, 14), 17, id="day-before-birthday"),
    pytest.param("2007-06-15", date(2025, 6, 15), 18, id="on-birthday"),
    pytest.param("2007", date(2025, 6, 15), 17, id="year-only-assumes-youngest"),
    pytest.param("2007-06", date(2025, 6, 30), 17, id="month-only-assumes-end-of-month"),
])
def test_age_on_errs_towards_minor(dob, on, age):
    assert age_on(parse_partial_date(dob), on) == age


@pytest.mark.parametrize(("raw", "normalised", "key"), [
    pytest.param("ra 123-4567", "RA1234567", "RA1234567", id="spaces-and-dashes"),
    pytest.param("L898902C3<<", "L898902C3", "1898902C3", id="mrz-filler"),
    pytest.param("RA12O4S67", "RA12O4S67", "RA1204567", id="ocr-letters-to-digits"),
    pytest.param("", "", "", id="empty"),
    pytest.param("ﬁ-12ß", "FI12SS", "F11255", id="non-ascii-folded"),
    pytest.param("ra ı23ǅ", None, None, id="non-ascii-kept"),
])
def test_document_normalisation(raw, normalised, key):
    if normalised is not None:
        assert normalize_document(raw) == normalised
        assert ocr_key(raw) == key
    # Resolution keys an already normalised number without normalising it twice: the same key.
    assert ocr_key_of_normalized(normalize_document(raw)) == ocr_key(raw)


def test_ocr_key_equates_confusable_characters():
    assert ocr_key("RA12O4S67") == ocr_key("RA1204567")
    assert ocr_key("B8Z2G6I1L1") == ocr_key("8822661111")


def test_a_partial_date_keeps_its_hash_in_another_process():
    """Dates are dict keys in resolution's worker processes, which unpickle them: a cached hash made of
    strings or None would differ there (each process salts them), and equal dates would miss."""
    import pickle
    import subprocess
    import sys

    dates = [PartialDate(1985, 3, 7), PartialDate(1985, 3, None, "month"), PartialDate(1985, precision="year"),
             PartialDate(1985, precision="estimated")]
    assert len({hash(d) for d in dates}) == len(dates)
    assert all(hash(d) == hash(PartialDate(d.year, d.month, d.day, d.precision)) for d in dates)
    code = ("import pickle, sys\n"
            "from screening.engine.normalize import PartialDate\n"
            "ds = pickle.loads(sys.stdin.buffer.read())\n"
            "fresh = [PartialDate(d.year, d.month, d.day, d.precision) for d in ds]\n"
            "print(all(hash(a) == hash(b) and {a: 1}.get(b) == 1 for a, b in zip(ds, fresh)))\n")
    for seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(dates), capture_output=True,
                             env={"PYTHONHASHSEED": seed, "PATH": ""}, check=True)
        assert out.stdout.strip() == b"True"
