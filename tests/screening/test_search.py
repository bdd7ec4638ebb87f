"""The one search box (issue 12): each kind of query finds the right record and says why; what the user may
not see is never shown; officers are refused; every search is audited without the name searched."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select

from screening import search
from tests.cases.builders import add_victim, make_case
from tests.conftest import login
from tests.factories import make_user
from tests.screening.builders import make_person
from tests.tracing.builders import arrive
from tip_cases.extensions import db
from tip_cases.models import AuditEvent


def _page(browser, q):
    resp = browser.get("/search", query_string={"q": q}) if q is not None else browser.get("/search")
    return resp, unescape(resp.get_data(as_text=True))


def _hit(html: str, kind: str, ident: int) -> str:
    """The text of one result, tags removed: its title and its reasons."""
    marker = f'data-testid="hit-{kind}-{ident}"'
    assert marker in html, f"no {kind} {ident} in results"
    part = re.split(r'data-testid="hit-|</section>', html.split(marker, 1)[1])[0]
    return " ".join(re.sub(r"<[^>]+>", " ", part).split())


def _audit_rows():
    return db.session.execute(select(AuditEvent).where(AuditEvent.action == "search.run")
                              .order_by(AuditEvent.id)).scalars().all()


# --- recognising the query -------------------------------------------------------------------------------

@pytest.mark.parametrize(("typed", "kind", "value"), [
    ("TIP-2026-0001", "reference", "TIP-2026-0001"),
    ("tip 2026 1", "reference", "TIP-2026-0001"),
    ("SMG-2025-0042", "reference", "SMG-2025-0042"),
    ("ra 123-456", "document", "RA123456"),
    ("0123456789", "document", "0123456789"),
    ("  Mokoena   Palesa ", "name", "mokoena palesa"),
    ("van der Merwe", "name", "merwe"),
])
def test_the_query_kind_is_recognised(typed, kind, value):
    q = search.parse_query(typed)
    assert (q.kind, q.value) == (kind, value)


@pytest.mark.parametrize(("typed", "says"), [
    ("", "Type a case reference"),
    ("   ", "Type a case reference"),
    ("x" * 10_000, "too long"),
    ("Mokoena\x00", "NUL"),
    ("A", "at least two letters"),
    ("Mokoena 2009", "without digits"),
    ("12", "without digits"),
])
def test_a_query_the_search_cannot_take_says_what_to_type(typed, says):
    with pytest.raises(search.SearchError) as exc:
        search.parse_query(typed)
    assert says in str(exc.value)


# --- each kind finds the right record, with the reason ------------------------------------------------

def test_a_case_reference_finds_the_case_of_my_team_only(login_as):
    me = make_user("investigator")
    mine = make_case(me, title="Farm labour recruitment")
    theirs = make_case(make_user("investigator"), title="Hidden domestic servitude")
    b = login_as(me)

    resp, html = _page(b, mine.reference.lower().replace("-0", "-"))  # "tip-2026-1", as typed in a hurry
    assert resp.status_code == 200
    assert f"{mine.reference} · Farm labour recruitment" in _hit(html, "case", mine.id)
    assert "Reference matches" in _hit(html, "case", mine.id)

    resp, html = _page(b, theirs.reference)
    assert resp.status_code == 200
    assert 'data-testid="hit-case-' not in html and "Hidden domestic servitude" not in html
    assert "Nothing you may see matches this search." in html
    # The refusal and the miss look the same in the audit too: zero results, no case id.
    row = _audit_rows()[-1]
    assert row.detail["kind"] == "reference" and row.detail["results"] == 0 and row.detail["ids"] == {}


def test_a_manager_finds_any_case_by_reference(login_as):
    case = make_case(make_user("investigator"), title="Cross-border smuggling ring", kind="smuggling")
    _, html = _page(login_as("manager"), case.reference)
    assert case.reference.startswith("SMG-") and "Reference matches" in _hit(html, "case", case.id)


def test_a_document_number_finds_the_person_of_interest_traveller_and_crossing(login_as):
    person = make_person("Mokoena", "Palesa", documents=[("P", "RA123456", "LSO")], discreet=False,
                         alert_kind="information", category="other")
    crossing = arrive("Letsie", "Mpho", document="RB7654321")
    other = arrive("Ntho", "Lerato", document="RC1111111")
    b = login_as("investigator")

    _, html = _page(b, "ra 123 456")
    assert "Mokoena Palesa" in _hit(html, "person", person.id)
    assert "Document number matches (passport LSO)" in _hit(html, "person", person.id)

    _, html = _page(b, "RB7654321")
    assert "Document number matches (passport LSO)" in _hit(html, "crossing", crossing.id)
    assert "Letsie Mpho" in _hit(html, "traveller", crossing.traveller_id)
    assert f'hit-crossing-{other.id}"' not in html and "Ntho" not in html
    assert "2 results, searched as a document number." in " ".join(html.split())


def test_a_name_with_a_typo_finds_the_traveller_and_crossing_through_the_matching_engine(login_as):
    crossing = arrive("Mokoena", "Thabo")
    unrelated = arrive("Molapo", "Thabo", document="RZ0000001")
    _, html = _page(login_as("investigator"), "Thabo Mokeona")  # given name first, a transposition typed
    reasons = _hit(html, "traveller", crossing.traveller_id)
    assert "Name: Surname matches except for a typo; Given names agree exactly" in reasons
    assert "Surname matches except for a typo" in _hit(html, "crossing", crossing.id)
    assert f'hit-traveller-{unrelated.traveller_id}"' not in html


def test_a_name_finds_a_person_of_interest_by_initial_and_by_alias(login_as):
    person = make_person("Mokoena", "Palesa", discreet=False, alert_kind="suspect", category="recruiter",
                         aliases=[("Sello", "Maria")])
    b = login_as("manager")
    _, html = _page(b, "Mokoena P")
    assert "Name: Surname agrees exactly; A given name matches an initial" in _hit(html, "person", person.id)
    _, html = _page(b, "Maria Sello")
    assert "(through an alias)" in _hit(html, "person", person.id)


def test_a_name_finds_a_case_through_its_victim_only_for_the_team(app, login_as):
    owner = make_user("investigator")
    case = make_case(owner, title="Recruited for domestic work")
    add_victim(case, owner, surname="Ramoeletsi", given_names="Lineo")
    outsider = make_user("investigator")

    _, html = _page(login_as(owner), "Dineo Ramoeletsi")  # the South African spelling of Lineo
    reasons = _hit(html, "case", case.id)
    assert "A victim in this case: Name: Surname agrees exactly" in reasons

    _, html = _page(login(app.test_client(), outsider), "Lineo Ramoeletsi")
    assert case.reference not in html and "Recruited for domestic work" not in html
    # Nor as a person of interest: "Party to case TIP-..." would say the case exists.
    assert 'data-testid="hit-' not in html and "Nothing you may see matches this search." in html


# --- who may search, and the audit ----------------------------------------------------------------------

@pytest.mark.parametrize("role", ["border_officer", "admin"])
def test_roles_without_the_search_box_are_refused(login_as, role):
    resp, html = _page(login_as(role), "Mokoena")
    assert resp.status_code == 403
    denied = db.session.execute(select(AuditEvent).where(AuditEvent.action == "search.run")).scalars().all()
    assert [r.outcome for r in denied] == ["denied"]


def test_each_search_is_audited_with_kind_and_counts_but_never_the_name(login_as):
    crossing = arrive("Mokoena", "Thabo", document="RA7777777")
    b = login_as("investigator")
    _page(b, "Thabo Mokoena")
    _page(b, "RA7777777")
    name_row, doc_row = _audit_rows()
    assert name_row.outcome == "allowed" and name_row.actor_user_id == b.user.id
    assert name_row.detail["kind"] == "name" and name_row.detail["results"] == 2
    assert name_row.detail["ids"] == {"traveller": [crossing.traveller_id], "crossing": [crossing.id]}
    assert "mokoena" not in repr(name_row.detail).lower()
    assert doc_row.detail["kind"] == "document" and "7777777" not in repr(doc_row.detail)


@pytest.mark.parametrize(("query_string", "says"), [
    ("q=", "Type a case reference"),
    ("q=" + "x" * 10_000, "too long"),
    ("q=Mokoena%202009", "without digits"),
])
def test_bad_input_is_a_clear_400_never_a_500(login_as, query_string, says):
    b = login_as("investigator")
    resp = b.get("/search?" + query_string)
    html = unescape(resp.get_data(as_text=True))
    assert resp.status_code == 400 and says in html and 'data-testid="search-error"' in html
    assert _audit_rows() == []


def test_a_nul_in_the_query_is_refused_before_the_search(login_as):
    resp = login_as("manager").get("/search?q=Mokoena%00")
    assert resp.status_code == 400 and "NUL" in resp.get_data(as_text=True)
    assert _audit_rows() == []


def test_the_empty_box_renders_for_an_investigator(login_as):
    resp, html = _page(login_as("investigator"), None)
    assert resp.status_code == 200 and 'id="search-q"' in html and 'data-testid="search-summary"' not in html


def test_home_offers_the_box_to_investigators_and_managers_only(app, login_as):
    assert 'data-testid="search-box"' in login_as("investigator").get("/").get_data(as_text=True)
    for role in ("manager", "border_officer"):
        page = login(app.test_client(), make_user(role)).get("/").get_data(as_text=True)
        assert ('data-testid="search-box"' in page) is (role == "manager"), role
