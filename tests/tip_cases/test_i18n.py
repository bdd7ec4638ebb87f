"""Interface language: a user's choice is kept on the account, audited, and changes what pages say."""

from __future__ import annotations

import re
from datetime import date

import pytest
from babel.messages.pofile import read_po
from flask_babel import force_locale, format_date
from sqlalchemy import select

from tests.conftest import Browser
from tests.unit.test_templates_translated import SAME_IN_EVERY_LANGUAGE
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


PERCENT = re.compile(r"%\((\w+)\)[sd]")
BRACE = re.compile(r"(?<!\{)\{(\w+)\}(?!\})")  # str.format fields of the matcher's phrases: "{weight}"


def _entries(lang):
    with (CATALOGS / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f)
    for m in catalog:
        if m.id:
            ids = [m.id] if isinstance(m.id, str) else list(m.id)
            strings = [m.string] if isinstance(m.string, str) else list(m.string)
            yield m, ids, strings


def broken_placeholders(ids: list[str], strings: list[str]) -> list[str]:
    """The forms that add or lose a %(name)s or {name} of the msgid (a plural may leave out %(num)s)."""
    out = []
    for s in strings:
        for pattern, optional in ((PERCENT, {"num"}), (BRACE, set())):
            wanted = set(pattern.findall(ids[-1])) | set(pattern.findall(ids[0]))
            got = set(pattern.findall(s))
            if got - wanted or (wanted - optional) - got:
                out.append(s)
                break
    return out


@pytest.mark.parametrize("lang", ["st", "en"])
def test_every_translation_keeps_the_placeholders_of_its_msgid(lang):
    """A msgstr that drops or renames %(name)s raises KeyError while the page renders: a 500 in one language.
    One that drops a {name} of the matcher's phrases is shown in English instead (phrases.translate)."""
    broken = [(ids[0], s) for _, ids, strings in _entries(lang) for s in broken_placeholders(ids, strings)]
    assert not broken, broken[:5]


def test_the_placeholder_check_sees_both_kinds():
    assert broken_placeholders(["Surname differs ({a} / {b})"], ["Fane e fapane ({a})"])
    assert broken_placeholders([" (weight {weight})"], [" (boima {boima})"])
    assert broken_placeholders(["Flag %(id)s"], ["Temoso"])
    assert not broken_placeholders([" (weight {weight})"], [" (boima {weight})"])
    assert not broken_placeholders(["%(num)s crossing", "%(num)s crossings"],
                                   ["ho tšela ho le mong", "ho tšela ho %(num)s"])


# Words written the same in Sesotho and English: names, codes and units. A Sesotho msgstr identical to its
# msgid passes only when every word in it is here, so an English copy can never pass as a translation.
SAME_IN_BOTH = SAME_IN_EVERY_LANGUAGE | {"ISIC", "ms", "webhook-id",
                                        "visa"}  # a loanword Sesotho spells as English does
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")


def english_copy(msgid: str, msgstr: str) -> bool:
    if msgstr != msgid:
        return False
    text = BRACE.sub(" ", PERCENT.sub(" ", re.sub(r"<[^>]*>", " ", msgid)))
    return any(w not in SAME_IN_BOTH for w in _WORD.findall(text))


def test_no_sesotho_entry_is_an_english_copy():
    copies = [ids[0] for _, ids, strings in _entries("st")
              if any(english_copy(i, s) for i, s in zip(ids, strings, strict=True))]
    assert not copies, f"{len(copies)} Sesotho entries are the English text, e.g. {copies[:10]}"


def test_the_english_copy_check_allows_only_shared_words():
    assert english_copy("Surname differs", "Surname differs")
    assert english_copy("%(count)s crossing in the evidence", "%(count)s crossing in the evidence")
    assert not english_copy("Surname differs", "Fane e fapane")
    assert not english_copy("ISIC %(code)s", "ISIC %(code)s")
    assert not english_copy("TIP-2026-0001", "TIP-2026-0001")


def test_the_english_catalog_is_identity():
    changed = [ids[0] for _, ids, strings in _entries("en") if strings != ids]
    assert not changed, changed[:5]


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
