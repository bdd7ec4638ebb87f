"""Interface language: a user's choice is kept on the account, audited, and changes what pages say."""

from __future__ import annotations

from datetime import date

import pytest
from babel.messages.pofile import read_po
from flask_babel import force_locale, format_date
from sqlalchemy import select

from tests.conftest import Browser
from tip_cases import ROOT
from tip_cases.extensions import db
from tip_cases.models import AuditEvent, User

CATALOGS = ROOT / "tip_cases" / "translations"


def test_a_user_who_chooses_sesotho_reads_sesotho_and_the_choice_is_audited(login_as):
    b = login_as("border_officer")
    english = b.get("/account/language").get_data(as_text=True)
    assert "Language" in english and "Puo" not in english.split("<select")[0]
    resp = b.submit("/account/language", {"locale": "st"}, follow_redirects=True)
    assert "Puo e bolokiloe." in resp.get_data(as_text=True)
    assert db.session.get(User, b.user.id).locale == "st"
    page = b.get("/account/language").get_data(as_text=True)
    assert "<h1 class=\"h3 mb-3\">Puo</h1>" in page
    row = db.session.execute(select(AuditEvent).where(AuditEvent.action == "user.locale")).scalar_one()
    assert row.object_id == str(b.user.id) and row.detail["to"] == "st"


def test_an_unknown_language_is_a_form_error_and_changes_nothing(login_as):
    b = login_as("investigator")
    resp = b.submit("/account/language", {"locale": "xx"})
    assert resp.status_code == 200 and "Not a valid choice" in resp.get_data(as_text=True)
    assert db.session.get(User, b.user.id).locale is None


def test_before_sign_in_the_choice_is_kept_in_the_session(client):
    b = Browser(client)
    resp = b.submit("/account/language?next=/login", {"locale": "st"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login")
    assert "<h1 class=\"h3 mb-3\">Puo</h1>" in client.get("/account/language").get_data(as_text=True)


def test_dates_follow_the_locale(app):
    with app.test_request_context():
        with force_locale("st"):
            assert format_date(date(2026, 12, 3), "long") == "2026 Tshitwe 3"
        with force_locale("en"):
            assert format_date(date(2026, 12, 3), "long") == "December 3, 2026"


@pytest.mark.parametrize("lang", ["st", "en"])
def test_every_catalog_entry_is_translated(lang):
    with (CATALOGS / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f)
    missing = [m.id for m in catalog if m.id and not (m.string if isinstance(m.string, str) else all(m.string))]
    assert not missing, f"{lang}: {len(missing)} untranslated, e.g. {missing[:5]}"


@pytest.mark.parametrize("lang", ["st", "en"])
def test_every_translation_keeps_the_placeholders_of_its_msgid(lang):
    """A msgstr that drops or renames %(name)s raises KeyError while the page renders: a 500 in one language."""
    import re
    placeholder = re.compile(r"%\((\w+)\)[sd]")
    with (CATALOGS / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f)
    broken = []
    for m in catalog:
        if not m.id:
            continue
        ids = [m.id] if isinstance(m.id, str) else list(m.id)
        strings = [m.string] if isinstance(m.string, str) else list(m.string)
        wanted = set(placeholder.findall(ids[-1])) | set(placeholder.findall(ids[0]))
        for s in strings:
            if set(placeholder.findall(s)) - wanted or (wanted - {"num"}) - set(placeholder.findall(s)):
                broken.append((ids[0], s))
    assert not broken, broken[:5]


def test_pages_flash_and_form_errors_in_sesotho(login_as):
    b = login_as("investigator")
    b.submit("/account/language", {"locale": "st"}, follow_redirects=True)
    cases = b.get("/cases/").get_data(as_text=True)
    assert "<h1 class=\"h3 mb-0\">Linyeoe</h1>" in cases and "Bula nyeoe" in cases
    # a form error in Sesotho: the password form with nothing filled in
    page = b.submit("/account/password", {}).get_data(as_text=True)
    assert "Karolo ena e hlokahala." in page and "This field is required." not in page
    # a flash message in Sesotho
    out = b.submit("/logout", {}, follow_redirects=True).get_data(as_text=True)
    assert "U tsoile." in out


def test_the_sign_in_page_switches_language_and_a_signed_out_officer_keeps_it(client, login_as):
    b = Browser(client)
    page = client.get("/login").get_data(as_text=True)
    assert 'data-testid="login-language"' in page and 'value="st"' in page
    resp = b.submit("/account/language?next=/login", {"locale": "st"}, follow_redirects=True)
    assert "Kena ho Tsela" in resp.get_data(as_text=True)
    officer = login_as("border_officer")
    officer.submit("/account/language", {"locale": "st"})
    assert 'data-testid="language-link"' in officer.get("/account/password").get_data(as_text=True)
    out = officer.submit("/logout", {}, follow_redirects=True).get_data(as_text=True)
    assert "U tsoile." in out and "Kena ho " in out
