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
