"""Crossings and tracing CSV parsing: every bad row is named and never stops the file."""

import io
from datetime import UTC, datetime

import pytest

from screening.engine.ingest import (
    CrossingIn,
    PersonIn,
    RowError,
    parse_crossing_row,
    parse_persons_csv,
    read_crossings_csv,
)
from screening.engine.normalize import PartialDate

ROW = {"external_id": "X1", "surname": "Mokoena", "given_names": "Thabo", "sex": "M",
       "date_of_birth": "1985-03-04", "nationality": "LSO", "document_type": "P",
       "document_number": "ra 123 4567", "document_country": "LSO", "direction": "entry",
       "border_post": "Maseru Bridge", "crossed_at": "2025-03-01T08:15:00", "address": "Maseru"}


def test_valid_row():
    c = parse_crossing_row(ROW, 2)
    assert isinstance(c, CrossingIn)
    assert c.document_number == "RA1234567"
    assert c.date_of_birth == PartialDate(1985, 3, 4, "day")
    assert c.crossed_at == datetime(2025, 3, 1, 6, 15, tzinfo=UTC)  # naive = Maseru (UTC+2)
    assert c.to_identity().documents[0].number == "RA1234567"


@pytest.mark.parametrize(("field", "value", "expected"), [
    pytest.param("direction", "IN", "entry", id="direction-in"),
    pytest.param("direction", "x", "exit", id="direction-x"),
    pytest.param("direction", "Departure", "exit", id="direction-departure"),
    pytest.param("sex", "female", "F", id="sex-word"),
    pytest.param("sex", "", None, id="sex-empty"),
    pytest.param("date_of_birth", "1985", PartialDate(1985, None, None, "year"), id="dob-year-only"),
    pytest.param("date_of_birth", "", None, id="dob-empty"),
    pytest.param("nationality", "zaf", "ZAF", id="nationality-lowercase"),
    pytest.param("crossed_at", "2025-03-01T08:15:00Z", datetime(2025, 3, 1, 8, 15, tzinfo=UTC), id="utc-z"),
    pytest.param("crossed_at", "2025-03-01 10:15+02:00", datetime(2025, 3, 1, 8, 15, tzinfo=UTC),
                 id="offset"),
])
def test_accepted_values(field, value, expected):
    attr = {"sex": "sex", "direction": "direction", "date_of_birth": "date_of_birth",
            "nationality": "nationality", "crossed_at": "crossed_at"}[field]
    assert getattr(parse_crossing_row({**ROW, field: value}, 2), attr) == expected


@pytest.mark.parametrize(("field", "value", "reason"), [
    pytest.param("direction", "sideways", "is not entry", id="bad-direction"),
    pytest.param("date_of_birth", "2999-01-01", "in the future", id="dob-in-future"),
    pytest.param("date_of_birth", "1985-02-3O", "unrecognised date", id="dob-not-a-date"),
    pytest.param("nationality", "LES", "alpha-3", id="not-iso-country"),
    pytest.param("sex", "Q", "is not M, F", id="bad-sex"),
    pytest.param("crossed_at", "yesterday", "ISO 8601", id="bad-timestamp"),
    pytest.param("crossed_at", "", "is required", id="missing-timestamp"),
    pytest.param("external_id", "", "is required", id="missing-external-id"),
    pytest.param("border_post", " ", "is required", id="missing-border-post"),
])
def test_errors_name_the_field_and_reason(field, value, reason):
    err = parse_crossing_row({**ROW, field: value}, 7)
    assert isinstance(err, RowError)
    assert err.line == 7
    assert any(f == field and reason in r for f, r in err.problems), err.problems
    assert err.message.startswith("line 7: ")


def test_impossible_day_of_birth_keeps_the_row_with_a_warning():
    """29 February in a non-leap year is an entry slip: the crossing is kept, the date to the month."""
    c = parse_crossing_row({**ROW, "date_of_birth": "1985-02-29"}, 2)
    assert isinstance(c, CrossingIn)
    assert c.date_of_birth == PartialDate(1985, 2, None, "month")
    assert c.warnings == ("date of birth '1985-02-29' is not a real date; screened on the year and month",)


def test_missing_names_with_a_document_is_a_warning_not_an_error():
    c = parse_crossing_row({**ROW, "surname": "", "given_names": ""}, 2)
    assert isinstance(c, CrossingIn)
    assert c.warnings == ("no name recorded; screened on the document only",)


def test_missing_names_and_document_is_an_error():
    err = parse_crossing_row({**ROW, "surname": "", "given_names": "", "document_number": ""}, 2)
    assert isinstance(err, RowError)


def test_all_problems_of_a_row_are_reported_together():
    err = parse_crossing_row({**ROW, "sex": "Q", "direction": "?"}, 3)
    assert {f for f, _ in err.problems} == {"sex", "direction"}


def test_csv_tolerates_bom_header_case_extra_columns_and_bad_rows():
    text = ("\ufeff External_ID ,SURNAME,given_names,sex,date_of_birth,nationality,document_type,"
            "document_number,document_country,direction,border_post,crossed_at,address,extra\n"
            "X1,Mokoena,Thabo,M,1985-03-04,LSO,P,RA1234567,LSO,in,MSU,2025-03-01T08:15:00,Maseru,z\n"
            "X2,too,few\n"
            "\n"
            "X3,Letsie,Palesa,F,1990,LSO,P,RB1,LSO,out,msu,2025-03-01T09:00:00,,z\n"
            "X4,Letsie,Palesa,F,1990,LES,P,RB1,LSO,out,msu,2025-03-01T09:00:00,,z\n")
    results = list(read_crossings_csv(io.StringIO(text)))
    assert [type(r).__name__ for r in results] == ["CrossingIn", "RowError", "CrossingIn", "RowError"]
    assert results[1].line == 3 and "expected 14 columns, found 3" in results[1].message
    assert results[2].border_post == "msu"
    assert results[3].line == 6


def test_csv_missing_required_column_is_reported_once():
    results = list(read_crossings_csv(io.StringIO("surname,given_names\nMokoena,Thabo\n")))
    assert len(results) == 1 and "missing column(s)" in results[0].message


def test_persons_csv():
    text = ("ref,surname,given_names,sex,date_of_birth,nationality,document_number,address\n"
            "R1,Mohapi,Lineo,F,1999,LSO,,Mafeteng\n"
            ",Nobody,,,,,,\n")
    results = list(parse_persons_csv(io.StringIO(text)))
    assert isinstance(results[0], PersonIn) and results[0].date_of_birth.precision == "year"
    assert isinstance(results[1], RowError) and results[1].problems[0][0] == "ref"
