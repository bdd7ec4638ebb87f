"""PURE date limits: timestamps refused with a reason, dates of birth kept as far as usable, windows clamped."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from screening.engine.normalize import (
    PartialDate,
    check_birth_date,
    check_crossing_time,
    parse_crossing_dob,
    parse_partial_date,
    parse_timestamp,
    shift,
)
from screening.engine.patterns import CrossingFact, PatternConfig, companions

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
MASERU = timezone(timedelta(hours=2))


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("2026-11-20T10:15:00+02:00", datetime(2026, 11, 20, 8, 15, tzinfo=UTC), id="offset"),
    pytest.param("2026-11-20T08:15:00Z", datetime(2026, 11, 20, 8, 15, tzinfo=UTC), id="z"),
    pytest.param("9999-12-31T23:59:59+00:00", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), id="edge-utc"),
])
def test_parse_timestamp_accepts_iso_with_offset(text, expected):
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize(("text", "reason"), [
    pytest.param("9999-12-31T23:59:59-14:00", "outside the years 1 to 9999", id="overflow"),
    pytest.param("0001-01-01T00:00:00+14:00", "outside the years 1 to 9999", id="underflow"),
    pytest.param("1700000000", "is a number", id="epoch"),
    pytest.param("1700000000.5", "is a number", id="epoch-float"),
    pytest.param("\uff12\uff10\uff12\uff16-11-20T10:15:00Z", "non-ASCII", id="full-width"),
    pytest.param("2026-11-20T10:15:00", "no offset", id="naive"),
    pytest.param("yesterday", "not an ISO 8601", id="words"),
])
def test_parse_timestamp_refuses_with_a_reason(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_timestamp(text)


def test_parse_timestamp_non_text_and_default_zone():
    with pytest.raises(ValueError, match="not a text timestamp"):
        parse_timestamp(1700000000)  # type: ignore[arg-type]
    assert parse_timestamp("2026-11-20 10:15", default_tz=MASERU) == datetime(2026, 11, 20, 8, 15, tzinfo=UTC)


@pytest.mark.parametrize(("at", "reason"), [
    pytest.param(NOW + timedelta(days=1, seconds=1), "more than a day in the future", id="tomorrow-plus"),
    pytest.param(datetime(1899, 12, 31, 23, 59, tzinfo=UTC), "before 1900", id="1899"),
])
def test_crossing_time_window(at, reason):
    with pytest.raises(ValueError, match=reason):
        check_crossing_time(at, NOW)


def test_crossing_time_window_edges_are_inside():
    check_crossing_time(NOW + timedelta(days=1), NOW)
    check_crossing_time(datetime(1900, 1, 1, tzinfo=UTC), NOW)


@pytest.mark.parametrize(("text", "expected", "remark"), [
    pytest.param("2001-02-29", PartialDate(2001, 2, None, "month"), "screened on the year and month", id="feb-29"),
    pytest.param("31/04/1990", PartialDate(1990, 4, None, "month"), "screened on the year and month", id="dmy"),
    pytest.param("2001-13-05", PartialDate(2001, None, None, "year"), "screened on the year", id="month-13"),
    pytest.param("2000-02-29", PartialDate(2000, 2, 29, "day"), None, id="real-leap-day"),
])
def test_crossing_dob_keeps_what_is_usable(text, expected, remark):
    dob, got = parse_crossing_dob(text)
    assert dob == expected
    assert (got is None) if remark is None else (remark in got and text in got)


@pytest.mark.parametrize("text", ["yesterday", "0000-02-30", "\uff12\uff10\uff10\uff11-02-03"])
def test_crossing_dob_still_refuses_what_is_not_a_date(text):
    with pytest.raises(ValueError):
        parse_crossing_dob(text)


def test_partial_date_refuses_full_width_digits():
    with pytest.raises(ValueError, match="non-ASCII digits"):
        parse_partial_date("\uff12\uff10\uff10\uff11")


@pytest.mark.parametrize(("dob", "ok"), [
    pytest.param(PartialDate(2026, 11, 20, "day"), True, id="born-today"),
    pytest.param(PartialDate(2026, 11, 21, "day"), False, id="tomorrow"),
    pytest.param(PartialDate(2026, 11, None, "month"), True, id="this-month"),
    pytest.param(PartialDate(2026, 12, None, "month"), False, id="next-month"),
    pytest.param(PartialDate(2027, None, None, "year"), False, id="next-year"),
    pytest.param(PartialDate(1899, None, None, "year"), False, id="1899"),
])
def test_birth_date_not_in_the_future(dob, ok):
    if ok:
        check_birth_date(dob, date(2026, 11, 20))
    else:
        with pytest.raises(ValueError, match="future|1900"):
            check_birth_date(dob, date(2026, 11, 20))


def test_shift_clamps_at_the_calendar_edges():
    edge = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert shift(edge, timedelta(minutes=20)) == datetime.max.replace(tzinfo=UTC)
    assert shift(datetime(1, 1, 1, tzinfo=UTC), -timedelta(days=1)) == datetime.min.replace(tzinfo=UTC)
    assert shift(NOW, timedelta(minutes=5)) == NOW + timedelta(minutes=5)


def test_companions_over_a_far_future_crossing_do_not_overflow():
    edge = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    facts = [CrossingFact(crossing_id=i, traveller=t, post="MSB", direction="exit", vehicle="A 123 BC",
                          at=edge - timedelta(minutes=m)) for i, (t, m) in enumerate([("a", 0), ("b", 1)])]
    pairs = companions(facts, PatternConfig(), min_times=1)
    assert pairs[("a", "b")] >= 1
