"""The capture page's MRZ endpoint: the scanned zone read on the server, problems worded for the officer."""

from __future__ import annotations

import re

from tests.conftest import csrf_from
from tests.unit.test_mrz import TD1, TD2

TD3 = ("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n"
       "L898902C36UTO7408122F1204159ZE184226B<<<<<10")


def _read(browser, body):
    token = csrf_from(browser.get("/screening/capture").get_data(as_text=True))
    return browser.client.post("/screening/capture/mrz", json=body, headers={"X-CSRFToken": token})


def test_each_zone_format_fills_the_form_fields(app, login_as):
    officer = login_as("border_officer")
    for zone, fmt in ((TD1, "TD1"), (TD2, "TD2"), (TD3, "TD3")):
        answer = _read(officer, {"mrz": zone}).get_json()
        assert answer["ok"] is True and answer["format"] == fmt
        assert answer["fields"]["document_number"] in ("D23145890", "L898902C3")
        assert answer["fields"]["surname"] == "ERIKSSON" and answer["fields"]["given_names"] == "ANNA MARIA"
        assert answer["fields"]["sex"] == "F" and answer["fields"]["date_of_birth"] == "1974-08-12"
        assert "check digits valid" in answer["message"]


def test_a_misread_check_digit_is_named(app, login_as):
    answer = _read(login_as("border_officer"), {"mrz": TD3.replace("L898902C36", "L898902C37")}).get_json()
    assert answer["ok"] is False and answer["fields"]["surname"] == "ERIKSSON"
    assert "Check digit wrong: document number. Compare with the document before saving." \
        in answer["check_digit_errors"]


def test_a_zone_of_the_wrong_shape_says_what_was_expected(app, login_as):
    answer = _read(login_as("border_officer"), {"mrz": "P<UTOERIKSSON\nL898"}).get_json()
    assert answer["ok"] is False and answer["fields"] == {}
    assert "expected 3 lines of 30 (TD1), 2 of 36 (TD2) or 2 of 44 (TD3)" in answer["errors"][0]


def test_bad_requests_name_the_field(app, login_as):
    officer = login_as("border_officer")
    for body in ({"mrz": 42}, {"zone": TD3}, ["not", "an", "object"], {"mrz": "P" * 201}):
        resp = _read(officer, body)
        assert resp.status_code == 400 and resp.get_json()["errors"][0]["field"] == "mrz"


def test_the_endpoint_needs_csrf_and_the_capture_role(app, login_as):
    officer = login_as("border_officer")
    assert officer.client.post("/screening/capture/mrz", json={"mrz": TD3}).status_code == 400  # no CSRF token
    from tests.conftest import login
    from tests.factories import make_user

    investigator = login(app.test_client(), make_user("investigator"))
    token = csrf_from(investigator.get("/").get_data(as_text=True))
    resp = investigator.client.post("/screening/capture/mrz", json={"mrz": TD3}, headers={"X-CSRFToken": token})
    assert resp.status_code == 403


def test_the_capture_page_is_scanner_ready(app, login_as):
    html = login_as("border_officer").get("/screening/capture").get_data(as_text=True)
    textarea = re.search(r'<textarea[^>]*name="mrz"[^>]*>', html).group(0)
    assert "autofocus" in textarea
    assert 'src="/static/capture.js?v=' in html and 'data-mrz-url="/screening/capture/mrz"' in html
    # Direction comes right after the zone: the one field a scan cannot fill, next in tab order.
    assert html.index('name="mrz"') < html.index('name="direction"') < html.index('name="surname"')
