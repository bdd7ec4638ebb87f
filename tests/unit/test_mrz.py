"""ICAO 9303 machine-readable zones, with the ICAO 'Utopia' specimens."""

from datetime import date

import pytest

from screening.engine.mrz import check_digit, parse_mrz, parse_yymmdd
from screening.engine.normalize import PartialDate

TODAY = date(2025, 1, 1)
TD3 = ("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n"
       "L898902C36UTO7408122F1204159ZE184226B<<<<<10")
TD1 = ("I<UTOD231458907<<<<<<<<<<<<<<<\n"
       "7408122F1204159UTO<<<<<<<<<<<6\n"
       "ERIKSSON<<ANNA<MARIA<<<<<<<<<<")
TD2 = ("I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\n"
       "D231458907UTO7408122F1204159<<<<<<<6")


@pytest.mark.parametrize(("text", "fmt", "number"), [
    pytest.param(TD3, "TD3", "L898902C3", id="td3-passport"),
    pytest.param(TD1, "TD1", "D23145890", id="td1-id-card"),
    pytest.param(TD2, "TD2", "D23145890", id="td2"),
    pytest.param("  " + TD3.lower().replace("\n", "  \n  ") + "\n", "TD3", "L898902C3",
                 id="whitespace-and-lowercase"),
])
def test_specimens_parse_cleanly(text, fmt, number):
    r = parse_mrz(text, today=TODAY)
    assert (r.format, r.errors, r.check_digit_errors) == (fmt, [], [])
    assert (r.issuing_country, r.nationality, r.surname, r.given_names) == ("UTO", "UTO", "ERIKSSON",
                                                                            "ANNA MARIA")
    assert r.document_number == number
    assert r.date_of_birth == PartialDate(1974, 8, 12, "day")
    assert r.expiry_date == PartialDate(2012, 4, 15, "day")
    assert r.sex == "F"
    assert r.valid


@pytest.mark.parametrize(("text", "failed"), [
    pytest.param(TD3.replace("L898902C36", "L898902C37"), "document_number", id="td3-document-number"),
    pytest.param(TD3.replace("7408122F", "7408132F"), "date_of_birth", id="td3-date-of-birth"),
    pytest.param(TD3.replace("1204159Z", "1204158Z"), "expiry_date", id="td3-expiry"),
    pytest.param(TD3.replace("<<<<<10", "<<<<<11"), "composite", id="td3-composite"),
    pytest.param(TD3.replace("B<<<<<10", "B<<<<<20"), "optional_data", id="td3-optional-data"),
    pytest.param(TD1.replace("D231458907", "D231458908"), "document_number", id="td1-document-number"),
    pytest.param(TD1.replace("UTO<<<<<<<<<<<6", "UTO<<<<<<<<<<<5"), "composite", id="td1-composite"),
])
def test_bad_check_digits_are_reported_by_field(text, failed):
    r = parse_mrz(text, today=TODAY)
    assert any(e.startswith(failed) for e in r.check_digit_errors), r.check_digit_errors
    assert not r.valid


@pytest.mark.parametrize(("text", "message"), [
    pytest.param(TD3[:-1], "expected 3 lines of 30", id="short-line"),
    pytest.param("", "expected 3 lines of 30", id="empty"),
    pytest.param(TD3.replace("ERIKSSON", "ERIKSS0N!"[:8]), "", id="digit-in-name-is-allowed-chars"),
    pytest.param(TD3.replace("ERIKSSON", "ERIK-SON"), "characters other than", id="bad-character"),
])
def test_malformed_input(text, message):
    r = parse_mrz(text, today=TODAY)
    if message:
        assert any(message in e for e in r.errors), r.errors
    else:
        assert r.errors == []


@pytest.mark.parametrize(("data", "digit"), [
    pytest.param("L898902C3", 6, id="document-number"),
    pytest.param("740812", 2, id="date"),
    pytest.param("<<<<<<", 0, id="fillers"),
])
def test_check_digit(data, digit):
    assert check_digit(data) == digit


@pytest.mark.parametrize(("raw", "kind", "year"), [
    pytest.param("740812", "birth", 1974, id="birth-last-century"),
    pytest.param("150101", "birth", 2015, id="birth-this-century"),
    pytest.param("250102", "birth", 1925, id="birth-never-in-the-future"),
    pytest.param("300101", "expiry", 2030, id="expiry-in-the-future"),
])
def test_yymmdd_century(raw, kind, year):
    assert parse_yymmdd(raw, today=TODAY, kind=kind).year == year


def test_yymmdd_rejects_impossible_dates():
    with pytest.raises(ValueError, match="not a real date"):
        parse_yymmdd("741332", today=TODAY)
