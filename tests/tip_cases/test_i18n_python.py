"""Words built in Python (flashes, service refusals, error pages, dates in sentences) go through gettext."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from flask import render_template_string
from flask_babel import force_locale

from screening.engine.phrases import say
from tests import factories
from tests.conftest import login
from tests.extracted import python_msgids
from tip_cases.cases.workflow import CaseError
from tip_cases.extensions import db
from tip_cases.i18n import error_text


def test_a_flash_with_a_placeholder_for_a_sesotho_reader(app, client):
    user = factories.make_user("investigator")
    user.locale = "st"
    db.session.commit()
    browser = login(client, user)
    page = browser.get("/account/language").get_data(as_text=True)
    assert '<h1 class="h3 mb-3">Puo</h1>' in page  # the request is in Sesotho
    # The Sesotho entry, with the placeholder filled.
    assert f"Rea u amohela, {user.display_name}." in page and "%(name)s" not in page and "Welcome" not in page
    assert "Welcome, %(name)s." in python_msgids()


@pytest.mark.parametrize("msgid", ["Case %(ref)s opened.", "Flag attached to case %(ref)s.",
                                   "Agency %(name)s added; add its channels next.", "Flag %(status)s.",
                                   "%(num)d flag raised: read the action to take below.",
                                   "Traveller %(id)s was merged into traveller %(into)s.",
                                   "Border post %(post)s saved.", "Profile %(name)s saved."])
def test_flash_templates_are_extracted_with_named_placeholders(msgid):
    assert msgid in python_msgids()


def test_a_service_refusal_is_english_in_str_and_translated_at_the_page(app):
    exc = CaseError(say("Saved."))
    with app.test_request_context(), force_locale("st"):
        assert error_text(exc) == "E bolokiloe."  # the page says it in the reader's language
    assert str(exc) == "Saved."  # the API, the CLI and logs read English
    filled = CaseError(say("A case cannot go from {current} to {status}.", current="Active", status="Closed"))
    with app.test_request_context(), force_locale("st"):
        assert error_text(filled) == "Nyeoe e ke ke ea tloha ho Active ea ea ho Closed."  # translated, then filled
    assert {"A case cannot go from {current} to {status}.", "Current password is not correct.",
            "Unknown fields: {fields}.", "traveller {id} was merged into another; use that one"} <= python_msgids()


def test_longdate_is_for_sentences_and_local_stays_iso(app):
    moment = datetime(2026, 12, 3, 22, 30, tzinfo=UTC)  # 4 December in Maseru (UTC+2)
    tpl = "{{ d|longdate }} · {{ t|longdate }} · {{ t|local }}"
    with app.test_request_context():
        with force_locale("en"):
            assert render_template_string(tpl, d=date(2026, 12, 3), t=moment) == \
                "December 3, 2026 · December 4, 2026 · 2026-12-04 00:30"
        with force_locale("st"):
            assert render_template_string(tpl, d=date(2026, 12, 3), t=moment) == \
                "2026 Tshitwe 3 · 2026 Tshitwe 4 · 2026-12-04 00:30"
        assert render_template_string("{{ none|longdate }}", none=None) == ""


def test_error_page_words_are_ours_and_an_api_error_stays_english(app, client):
    resp = client.open("/login", method="DELETE")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 405 and "Method not allowed" in page and "This page cannot be used that way." in page
    assert "The method is not allowed for the requested URL." not in page  # Werkzeug's stock English
    api = client.open("/api/v1/crossings", method="DELETE")
    assert api.status_code == 405 and api.get_json()["message"] == "The method is not allowed for the requested URL."
    assert {"Method not allowed", "This page cannot be used that way.", "Form expired"} <= python_msgids()
