"""Scanner-first capture in a real Chromium: an MRZ reader types the zone as keystrokes; the officer
saves and screens without touching the mouse."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from screening.engine.mrz import check_digit
from screening.models import Crossing, Flag
from tests.e2e.test_login import sign_in
from tests.factories import make_user
from tests.screening.builders import make_person
from tip_cases.extensions import db

pytestmark = pytest.mark.e2e


def td3(surname, given, doc, nationality, dob, sex, expiry) -> str:
    """A TD3 zone with correct check digits (ICAO 9303)."""
    line1 = f"P<{nationality}{surname}<<{given.replace(' ', '<')}".ljust(44, "<")
    doc9 = doc.ljust(9, "<")
    optional = "<" * 14
    body = (f"{doc9}{check_digit(doc9)}{nationality}{dob}{check_digit(dob)}{sex}{expiry}{check_digit(expiry)}"
            f"{optional}<")
    composite = body[0:10] + body[13:20] + body[21:43]
    line2 = body + str(check_digit(composite))
    assert len(line1) == len(line2) == 44
    return line1 + "\n" + line2


def test_officer_scans_a_passport_and_saves_with_the_keyboard_alone(app, live_server, page):
    person = make_person()  # Mokoena Palesa, born 2009-03-14, reported missing
    officer = make_user("border_officer", post_code="MSB")
    sign_in(page, live_server, officer)
    page.goto(live_server + "/screening/capture")

    # The MRZ box has the focus without a click: the reader's keystrokes land in it.
    assert page.evaluate("document.activeElement.name") == "mrz"
    zone = td3("MOKOENA", "PALESA", "RA1234567", "LSO", "090314", "F", "310101")
    line1, line2 = zone.split("\n")
    page.keyboard.type(line1)
    page.keyboard.press("Enter")  # the end of the first line is just a line break
    assert page.url.endswith("/screening/capture")
    page.keyboard.type(line2)
    page.keyboard.press("Enter")  # the end of the zone: read it, do not submit

    status = page.get_by_test_id("mrz-status")
    status.get_by_text("check digits valid").wait_for()
    assert "TD3" in status.inner_text()
    assert page.get_by_label("Surname", exact=True).input_value() == "MOKOENA"
    assert page.get_by_label("Given names", exact=True).input_value() == "PALESA"
    assert page.get_by_label("Date of birth", exact=True).input_value() == "2009-03-14"
    assert page.get_by_label("Document number", exact=True).input_value() == "RA1234567"
    assert page.get_by_label("Nationality (alpha-3)").input_value() == "LSO"
    assert page.get_by_label("Sex", exact=True).input_value() == "F"
    assert page.url.endswith("/screening/capture")  # nothing submitted yet
    assert db.session.scalar(select(Crossing.id)) is None

    # Focus moved to Direction, the one thing the zone does not say; choose it and press Enter.
    assert page.evaluate("document.activeElement.name") == "direction"
    page.keyboard.press("ArrowDown")  # entry -> exit
    with page.expect_navigation():
        page.keyboard.press("Enter")

    result = page.get_by_test_id("screening-result").inner_text()
    assert "Possible match" in result and "Child and Gender Protection Unit" in result
    assert re.search(r"\d+ flags? raised: read the action", page.locator("main").inner_text())
    db.session.expire_all()
    crossing = db.session.execute(select(Crossing)).scalar_one()
    assert (crossing.surname, crossing.document_number, crossing.direction, crossing.border_post.code) == \
        ("MOKOENA", "RA1234567", "exit", "MSB")
    assert crossing.captured_by_user_id == officer.id
    flag = db.session.execute(select(Flag)).scalar_one()
    assert flag.person_id == person.id and flag.crossing_id == crossing.id


def test_a_bad_check_digit_is_shown_plainly_and_ctrl_enter_saves(app, live_server, page):
    officer = make_user("border_officer", post_code="MSB")
    sign_in(page, live_server, officer)
    page.goto(live_server + "/screening/capture")
    zone = td3("NDLOVU", "SIPHO", "ZA9988776", "ZAF", "800102", "M", "300101")
    line1, line2 = zone.split("\n")
    line2 = line2[:9] + str((int(line2[9]) + 1) % 10) + line2[10:]  # the document number's check digit misread
    # The zone box takes the focus on load; a loaded box can be slow to, and keys typed before go nowhere.
    expect(page.get_by_label("Scan or paste the MRZ")).to_be_focused()
    page.keyboard.type(line1)
    page.keyboard.press("Enter")
    page.keyboard.type(line2)
    page.keyboard.press("Enter")
    status = page.get_by_test_id("mrz-status")
    status.get_by_text("Check digit wrong: document number").wait_for()
    assert "Compare the fields with the document" in status.inner_text()
    assert page.get_by_label("Surname", exact=True).input_value() == "NDLOVU"

    # A half-typed zone is not read: Enter only breaks the line.
    page.get_by_label("Scan or paste the MRZ").fill("")
    page.keyboard.type("P<LSOSHORT")
    page.keyboard.press("Enter")
    assert page.get_by_label("Scan or paste the MRZ").input_value() == "P<LSOSHORT\n"
    assert page.url.endswith("/screening/capture")

    page.get_by_label("Surname", exact=True).focus()
    with page.expect_navigation():
        page.keyboard.press("Control+Enter")
    assert "No match against the persons of interest" in page.get_by_test_id("screening-result").inner_text()
    db.session.expire_all()
    assert db.session.execute(select(Crossing.surname)).scalar_one() == "NDLOVU"
