"""Dates at the edges: a crossing far in the future or past, impossible dates of birth, NUL characters,
numbers and full-width digits sent as dates. Each is judged per item on every ingest path (API batch,
CSV import, capture form); pages and the risk-pattern job survive rows stored before the checks."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from screening import services
from screening.models import Crossing, Flag, Traveller
from tests import factories
from tests.screening.builders import crossing_item, make_person
from tests.tracing.builders import arrive, run_pattern_job
from tip_cases.extensions import db

FAR_FUTURE = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


def _post(client, token, items):
    return client.post("/api/v1/crossings", data=json.dumps({"crossings": items}),
                       headers={"Authorization": f"Bearer {token}"}, content_type="application/json")


def _count(model=Crossing) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize(("crossed_at", "reason"), [
    pytest.param("9999-12-31T23:59:59+00:00", "more than a day in the future", id="far-future"),
    pytest.param("9999-12-31T23:59:59-14:00", "outside the years 1 to 9999", id="overflows-utc-upwards"),
    pytest.param("0001-01-01T00:00:00+14:00", "outside the years 1 to 9999", id="overflows-utc-downwards"),
    pytest.param("1899-12-31T12:00:00+02:00", "before 1900", id="before-1900"),
])
def test_api_far_dates_reject_the_item_and_keep_the_rest_of_the_batch(app, client, db_session, crossed_at, reason):
    _, token = factories.make_api_client(post_code="MSB")
    resp = _post(client, token, [crossing_item("OK1", crossed_at="2026-11-20T10:15:00+02:00"),
                                 crossing_item("BAD", crossed_at=crossed_at),
                                 crossing_item("OK2", surname="Ndlovu", crossed_at="2026-11-20T10:16:00+02:00")])
    assert resp.status_code == 200, resp.get_data(as_text=True)
    data = resp.get_json()
    assert (data["accepted"], data["rejected"]) == (2, 1)
    bad = data["results"][1]
    assert bad["status"] == "rejected" and bad["crossing_id"] is None
    [error] = bad["errors"]
    assert error["field"] == "crossings[1].crossed_at" and reason in error["message"]
    assert error["code"] == "date_out_of_range"
    stored = set(db_session.scalars(select(Crossing.external_id)))
    assert stored == {"OK1", "OK2"}


def test_api_crossing_within_a_day_ahead_is_accepted(app, client, db_session):
    """Clocks drift and posts sit in other zones: a few hours ahead is a real crossing."""
    _, token = factories.make_api_client(post_code="MSB")
    soon = datetime.now(UTC).replace(microsecond=0).isoformat()
    resp = _post(client, token, [crossing_item("SOON", crossed_at=soon)])
    assert resp.get_json()["results"][0]["status"] == "accepted"


@pytest.mark.parametrize(("field", "value", "code", "words"), [
    pytest.param("crossed_at", 1700000000, "not_a_timestamp", "not a text timestamp", id="epoch-int"),
    pytest.param("crossed_at", "1700000000", "not_a_timestamp", "is a number", id="epoch-string"),
    pytest.param("crossed_at", "\uff12\uff10\uff12\uff16-11-20T10:15:00+02:00", "not_a_timestamp", "non-ASCII",
                 id="full-width-crossed-at"),
    pytest.param("date_of_birth", "\uff12\uff10\uff10\uff19-03-14", "not_a_timestamp", "non-ASCII",
                 id="full-width-dob"),
    pytest.param("date_of_birth", "2099-01-01", "date_out_of_range", "in the future", id="dob-in-future"),
    pytest.param("surname", "Mok\x00oena", "nul_character", "NUL", id="nul-in-name"),
    pytest.param("external_id", "X\x0042", "nul_character", "NUL", id="nul-in-id"),
    pytest.param("document_number", "RA\x00123", "nul_character", "NUL", id="nul-in-document"),
])
def test_api_bad_values_are_per_item_errors_naming_the_field(app, client, db_session, field, value, code, words):
    _, token = factories.make_api_client(post_code="MSB")
    resp = _post(client, token, [crossing_item("GOOD"), {**crossing_item("BAD"), field: value}])
    assert resp.status_code == 200, resp.get_data(as_text=True)
    good, bad = resp.get_json()["results"]
    assert good["status"] == "accepted" and bad["status"] == "rejected"
    [error] = bad["errors"]
    assert error["field"] == f"crossings[1].{field}" and error["code"] == code and words in error["message"]
    assert db_session.scalars(select(Crossing.external_id)).all() == ["GOOD"]


def test_api_impossible_birth_date_is_stored_with_a_quality_remark_and_screened(app, client, db_session):
    person = make_person("Mokoena", "Palesa", dob="2009-02-28", documents=[("P", "RA123456", "LSO")])
    _, token = factories.make_api_client(post_code="MSB")
    resp = _post(client, token, [crossing_item("LEAP", dob="2009-02-29")])
    [result] = resp.get_json()["results"]
    assert result["status"] == "accepted", result
    assert [f["person_id"] for f in result["flags"]] == [person.id]  # screened on name and document
    crossing = db_session.get(Crossing, result["crossing_id"])
    assert (crossing.dob_year, crossing.dob_month, crossing.dob_day) == (2009, 2, None)
    assert "date of birth '2009-02-29' is not a real date; screened on the year and month" in crossing.quality_issues
    shown = client.get(f"/api/v1/crossings/{crossing.id}", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert shown["date_of_birth"] == "2009-02" and any("2009-02-29" in q for q in shown["quality_issues"])


@pytest.mark.parametrize(("since", "words"), [
    pytest.param("9999-12-31T23:59:59-14:00", "outside the years", id="overflow"),
    pytest.param("0001-01-01T00:00:00+14:00", "outside the years", id="underflow"),
    pytest.param("1700000000", "is a number", id="epoch"),
    pytest.param("\uff12\uff10\uff12\uff16-11-20T00:00:00Z", "non-ASCII", id="full-width"),
    pytest.param("2026-11-20T00:00:00", "no offset", id="no-offset"),
])
def test_flags_since_is_a_clear_422(app, client, db_session, since, words):
    _, token = factories.make_api_client(post_code="MSB")
    resp = client.get("/api/v1/flags", query_string={"since": since}, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 422
    [error] = resp.get_json()["errors"]
    assert error["field"] == "since" and words in error["message"]


def test_flags_since_far_past_still_lists(app, client, db_session):
    make_person()
    _, token = factories.make_api_client(post_code="MSB")
    _post(client, token, [crossing_item("F1")])
    resp = client.get("/api/v1/flags", query_string={"since": "1900-01-01T00:00:00Z"},
                      headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200 and len(resp.get_json()["flags"]) == 1


# --- CSV import --------------------------------------------------------------------------------------

HEADER = ("external_id,surname,given_names,sex,date_of_birth,nationality,document_type,document_number,"
          "document_country,direction,border_post,crossed_at,address\n")


def test_csv_import_rejects_far_dates_and_nul_per_line_and_keeps_leap_slip(app, runner, db_session, tmp_path):
    rows = [
        "C1,Mokoena,Palesa,F,2009-03-14,LSO,P,RA1,LSO,exit,MSB,2026-11-20T10:15:00+02:00,",
        "C2,Mokoena,Palesa,F,2009-03-14,LSO,P,RA2,LSO,exit,MSB,9999-12-31T23:59:59-14:00,",
        "C3,Mokoena,Palesa,F,2009-03-14,LSO,P,RA3,LSO,exit,MSB,1700000000,",
        "C4,Mok\x00oena,Palesa,F,2009-03-14,LSO,P,RA4,LSO,exit,MSB,2026-11-20T10:15:00+02:00,",
        "C5,Mokoena,Palesa,F,2010-02-29,LSO,P,RA5,LSO,exit,MSB,2026-11-20T10:15:00+02:00,",
        "C6,Mokoena,Palesa,F,2099-02-01,LSO,P,RA6,LSO,exit,MSB,2026-11-20T10:15:00+02:00,",
        "C7,Mokoena,Palesa,F,2009-03-14,LSO,P,RA7,LSO,exit,MSB,1899-01-01T10:15:00,",
    ]
    path = tmp_path / "crossings.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    result = runner.invoke(args=["crossings", "import", str(path)])
    out = result.output
    assert result.exit_code == 0, out
    assert "line 3: crossed_at:" in out and "outside the years 1 to 9999" in out
    assert "line 4: crossed_at:" in out and "is a number" in out
    assert "line 5: surname: contains a NUL character" in out
    assert "line 7: date_of_birth:" in out and "in the future" in out
    assert "line 8: crossed_at:" in out and "before 1900" in out
    assert sorted(db_session.scalars(select(Crossing.external_id))) == ["C1", "C5"]
    leap = db_session.scalars(select(Crossing).where(Crossing.external_id == "C5")).one()
    assert (leap.dob_year, leap.dob_month, leap.dob_day, leap.dob_precision) == (2010, 2, None, "month")
    assert any("'2010-02-29' is not a real date" in q for q in leap.quality_issues)


# --- capture form ------------------------------------------------------------------------------------

def _capture(officer, **fields):
    data = {"surname": "MOKOENA", "given_names": "PALESA", "sex": "F", "date_of_birth": "2009-03-14",
            "nationality": "LSO", "document_type": "P", "document_number": "RA123456", "document_country": "LSO",
            "direction": "exit", "save": "Save and screen", **fields}
    return officer.submit("/screening/capture", data)


def test_capture_form_keeps_an_impossible_birth_date_as_a_quality_problem(app, login_as, db_session):
    officer = login_as("border_officer")
    resp = _capture(officer, date_of_birth="2010-02-29")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    crossing = db_session.scalars(select(Crossing)).one()
    assert (crossing.dob_year, crossing.dob_month, crossing.dob_precision) == (2010, 2, "month")
    assert any("'2010-02-29' is not a real date" in q for q in crossing.quality_issues)
    page = officer.get(resp.headers["Location"]).get_data(as_text=True)
    assert "is not a real date" in page


@pytest.mark.parametrize(("fields", "words"), [
    pytest.param({"crossed_at": "0001-01-01T00:00"}, "outside the years 1 to 9999", id="year-1-local"),
    pytest.param({"crossed_at": "9999-12-31T23:59"}, "more than a day in the future", id="far-future"),
    pytest.param({"crossed_at": "1899-06-01T10:00"}, "before 1900", id="before-1900"),
    pytest.param({"date_of_birth": "2099-01-01"}, "in the future", id="dob-future"),
    pytest.param({"surname": "MOK\x00OENA"}, "NUL character", id="nul-name"),
    pytest.param({"document_number": "RA\x00123"}, "NUL character", id="nul-document"),
])
def test_capture_form_refuses_bad_dates_and_nul_with_a_field_error(app, login_as, db_session, fields, words):
    officer = login_as("border_officer")
    resp = _capture(officer, **fields)
    assert resp.status_code == 200 and words in resp.get_data(as_text=True)
    assert _count() == 0


# --- rows stored before the checks ---------------------------------------------------------------------

def _store_far_future() -> Crossing:
    """A far-future crossing as one could be stored before the date window existed (services do not check)."""
    return arrive("Mokoena", "Palesa", dob="2009-03-14", sex="F", document="RA123456", at=FAR_FUTURE)


def test_pages_render_a_far_future_crossing_stored_before_the_fix(app, login_as, db_session):
    crossing = _store_far_future()
    officer = login_as("border_officer")
    listing = officer.get("/screening/crossings")
    assert listing.status_code == 200 and "9999-12-31 23:59 UTC" in listing.get_data(as_text=True)
    page = officer.get(f"/screening/crossings/{crossing.id}")
    assert page.status_code == 200 and "9999-12-31 23:59 UTC" in page.get_data(as_text=True)


def test_traveller_pages_render_a_far_future_crossing_stored_before_the_fix(app, login_as, db_session):
    crossing = _store_far_future()
    investigator = login_as("investigator")
    assert investigator.get("/tracing/travellers").status_code == 200
    traveller = investigator.get(f"/tracing/travellers/{crossing.traveller_id}")
    assert traveller.status_code == 200 and "9999-12-31 23:59 UTC" in traveller.get_data(as_text=True)


def test_pattern_job_runs_over_a_far_future_crossing_and_still_raises_flags(app, db_session):
    """The clamp: windows around 9999-12-31 compute, so the job neither fails nor skips the others."""
    _store_far_future()
    arrive("Mofokeng", "Tsepo", dob="1980-01-01", document="RB1000001", group="bus-1", days_ago=70)
    arrive("Sello", "Mpho", dob="2012-05-05", document="RB1000002", group="bus-1", days_ago=70)
    assert db_session.scalar(select(func.count()).select_from(Traveller).where(Traveller.patterns_due)) == 0
    assert run_pattern_job() == 0  # nothing left due: every run above succeeded
    assert db_session.scalar(select(func.count()).select_from(Flag).where(Flag.rule == "no_return")) >= 1


def test_store_crossings_service_window_arithmetic_is_safe(app, db_session):
    """Window queries around a stored far-future row (tracing._neighbours) do not overflow."""
    far = _store_far_future()
    from screening import tracing

    rows, _ = tracing.neighbourhood(db.session, [far.traveller_id], None, 20)
    assert any(r.id == far.id for r in rows)
    assert services.crossing_as_new(far).crossed_at == FAR_FUTURE
