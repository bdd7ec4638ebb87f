"""Officer and investigator pages, driven through the real forms."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from screening import services
from screening.models import Crossing, Flag, MatchJudgement, Person
from tests import factories
from tests.screening.builders import make_person, new_crossing
from tip_cases.models import AuditEvent

TD3 = ("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n"
       "L898902C36UTO7408122F1204159ZE184226B<<<<<10")


def _flag_for(crossing_item, now=None):
    [result] = services.store_crossings([crossing_item], source="test", actor=None,
                                        now=now or crossing_item.crossed_at)
    from tip_cases.extensions import db

    db.session.commit()
    return result


def test_capture_fills_from_mrz_and_shows_screening_result(app, login_as, db_session):
    person = make_person("Eriksson", "Anna Maria", dob="1974-08-12", nationality="SWE", category="suspect",
                         alert_kind="suspect", discreet=False, documents=[("P", "L898902C3", "SWE")],
                         action="Refer to second line; notify the anti-TIP unit", reason="Suspected recruiter")
    officer = login_as("border_officer")
    page = officer.submit("/screening/capture", {"mrz": TD3, "read_mrz": "Read MRZ", "direction": "entry",
                                                 "sex": ""})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'value="ERIKSSON"' in html and 'value="L898902C3"' in html
    assert "check digits valid" in html
    bad = officer.submit("/screening/capture", {"mrz": TD3.replace("L898902C36", "L898902C37"),
                                                "read_mrz": "Read MRZ", "direction": "entry", "sex": ""})
    assert "Check digit wrong: document number" in bad.get_data(as_text=True)
    saved = officer.submit("/screening/capture", {
        "surname": "ERIKSSON", "given_names": "ANNA MARIA", "sex": "F", "date_of_birth": "1974-08-12",
        "nationality": "SWE", "document_type": "P", "document_number": "L898902C3", "document_country": "SWE",
        "direction": "entry", "save": "Save and screen"}, follow_redirects=True)
    html = saved.get_data(as_text=True)
    assert "Refer to second line" in html and "1 flag raised: read the action to take below." in html
    crossing = db_session.execute(select(Crossing)).scalar_one()
    assert crossing.source == "manual" and crossing.border_post.code == "MSB"
    assert crossing.captured_by_user_id == officer.user.id
    flag = db_session.execute(select(Flag)).scalar_one()
    assert flag.person_id == person.id and flag.priority == "high"


def test_capture_requires_a_name_or_document(app, login_as, db_session):
    officer = login_as("border_officer")
    resp = officer.submit("/screening/capture", {"direction": "entry", "sex": "", "save": "Save and screen"})
    assert resp.status_code == 200 and "give a name or a document number" in resp.get_data(as_text=True)
    assert db_session.scalar(select(func.count()).select_from(Crossing)) == 0


def test_queue_statements_do_not_grow_with_its_rows(app, login_as, db_session):
    """The officer's queue reads its page in a fixed number of statements, not one or two per flag."""
    from sqlalchemy import event

    from tip_cases.extensions import db

    make_person()
    officer = login_as("border_officer", post_code="MSB")
    seen = []

    def count(*_args):
        seen.append(1)

    def statements_for_queue() -> tuple[int, int]:
        seen.clear()
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            html = officer.get("/screening/queue").get_data(as_text=True)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return len(seen), html.count('data-testid="flag-row"')

    for i in range(2):
        _flag_for(new_crossing(f"Q{i}", post_code="MSB"))
    few, rows_few = statements_for_queue()
    for i in range(2, 12):
        _flag_for(new_crossing(f"Q{i}", post_code="MSB"))
    many, rows_many = statements_for_queue()
    assert (rows_few, rows_many) == (2, 12)
    assert many == few, (few, many)


def test_queue_is_scoped_to_the_post_and_flag_page_forbids_other_posts(app, login_as, db_session):
    make_person()
    msb = _flag_for(new_crossing(post_code="MSB")).flags[0].id
    mpb = _flag_for(new_crossing(post_code="MPB", document_number="RA999999")).flags[0].id
    officer = login_as("border_officer", post_code="MSB")
    queue = officer.get("/screening/queue").get_data(as_text=True)
    assert f"/screening/flags/{msb}" in queue and f"/screening/flags/{mpb}" not in queue
    assert 'data-refresh="30"' in queue
    assert officer.get(f"/screening/flags/{mpb}").status_code == 404  # no IDOR, and no existence oracle
    denied = db_session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.outcome == "denied"))
    assert denied >= 1
    page = officer.get(f"/screening/flags/{msb}").get_data(as_text=True)
    assert "Discreet check" in page and "Child and Gender Protection Unit" in page
    # The missing child's alert does not name border officers: the action and whom to call, not the match.
    assert 'data-testid="restricted-alert"' in page and "match-agree" not in page
    assert "Reported missing" not in page


def test_investigator_sees_all_posts(app, login_as):
    make_person()
    a = _flag_for(new_crossing(post_code="MSB")).flags[0].id
    b = _flag_for(new_crossing(post_code="MPB", document_number="RA999999")).flags[0].id
    inv = login_as("investigator")
    html = inv.get("/screening/queue").get_data(as_text=True)
    assert f"/screening/flags/{a}" in html and f"/screening/flags/{b}" in html
    only = inv.get("/screening/queue?post=MPB").get_data(as_text=True)
    assert f"/screening/flags/{a}" not in only and f"/screening/flags/{b}" in only


def test_review_decisions_name_who_and_why(app, login_as, db_session):
    make_person()
    flag_id = _flag_for(new_crossing()).flags[0].id
    officer = login_as("border_officer")
    url = f"/screening/flags/{flag_id}"
    resp = officer.submit(f"{url}/review", {"not_same_person": "1", "reason": ""}, page=url)
    assert resp.status_code == 422 and "say why" in resp.get_data(as_text=True)
    resp = officer.submit(f"{url}/review", {"acknowledge": "1"}, page=url)
    assert resp.status_code == 302
    resp = officer.submit(f"{url}/review", {"not_same_person": "1", "reason": "Older brother, ID checked"},
                          page=url)
    assert resp.status_code == 302
    flag = db_session.get(Flag, flag_id)
    assert flag.status == "not_same_person" and flag.decided_by_user_id == officer.user.id
    assert [e.action for e in flag.events] == ["raised", "acknowledged", "not_same_person"]
    assert flag.events[-1].note == "Older brother, ID checked"
    judgement = db_session.execute(select(MatchJudgement)).scalar_one()
    assert judgement.decided_by_user_id == officer.user.id
    # the same traveller at another post weeks later: judged already, no new flag
    again = _flag_for(new_crossing(post_code="MPB"))
    assert again.status == "accepted" and again.flags == []
    page = officer.get(url).get_data(as_text=True)
    assert "Older brother, ID checked" in page and "Your decision" not in page


def test_escalate_to_investigator(app, login_as, db_session):
    make_person()
    inv = factories.make_user("investigator")
    flag_id = _flag_for(new_crossing()).flags[0].id
    officer = login_as("border_officer")
    url = f"/screening/flags/{flag_id}"
    officer.submit(f"{url}/review", {"escalate": "1", "reason": "Travelling with an unrelated adult",
                                     "escalate_to": str(inv.id)}, page=url)
    flag = db_session.get(Flag, flag_id)
    assert flag.status == "escalated" and flag.escalated_to_user_id == inv.id


def test_person_create_edit_and_stale_save(app, login_as, db_session, client):
    inv = login_as("investigator")
    resp = inv.submit("/screening/persons/new", {
        "surname": "Letsie", "given_names": "Teboho", "sex": "M", "date_of_birth": "1979",
        "nationality": "LSO", "category": "recruiter", "alert_kind": "suspect", "source": "case",
        "aliases": "Letsie, Tebza\nLetšie, T", "documents": "P RB0012345 LSO\nID 079123456",
        "screening_active": "y", "alert_reason": "Recruits girls for 'jobs' in Gauteng",
        "officer_action": "Refer to second line; do not disclose the alert"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    person = db_session.execute(select(Person)).scalar_one()
    assert [a.given_names for a in person.aliases] == ["Tebza", "T"]
    assert [(d.type, d.number, d.country) for d in person.documents] == [("P", "RB0012345", "LSO"),
                                                                       ("ID", "079123456", None)]
    assert person.dob_precision == "year"
    # screening picks up the new person at once (the index was patched, not rebuilt from scratch)
    hit = _flag_for(new_crossing(surname="LETSIE", given_names="TEBOHO", dob="1979-05-02", sex="M",
                                 document_number="RB0012345"))
    assert hit.flags and hit.flags[0].person_id == person.id
    edit_url = f"/screening/persons/{person.id}/edit"
    html = inv.get(edit_url).get_data(as_text=True)
    version = re.search(r'name="version"[^>]*value="(\d+)"', html).group(1)
    form = {"surname": "Letsie", "given_names": "Teboho", "sex": "M", "date_of_birth": "1979",
            "nationality": "LSO", "category": "recruiter", "alert_kind": "suspect", "source": "case",
            "aliases": "", "documents": "P RB0012345 LSO", "screening_active": "y",
            "alert_reason": "x", "officer_action": "Refer to second line", "version": version}
    assert inv.submit(edit_url, form).status_code == 302
    stale = inv.submit(edit_url, {**form, "officer_action": "Arrest"})  # same old version
    assert stale.status_code == 409 and "someone else changed this person" in stale.get_data(as_text=True)
    db_session.refresh(person)
    assert person.officer_action == "Refer to second line" and person.aliases == []
    views = db_session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "person",
                                                               AuditEvent.object_id == str(person.id))).all()
    assert "poi.create" in views and "poi.update" in views and "poi.manage" in views

    # An alias or document line that does not fit is a form error naming the line, never a 500 or a drop.
    version = re.search(r'name="version"[^>]*value="(\d+)"', inv.get(edit_url).get_data(as_text=True)).group(1)
    for field, value, said in (("aliases", "X" * 121 + ", Teboho", "line 1: a surname has at most 120"),
                               ("documents", "P RB0012345 LSO\nP RB1 LSO EXTRA", "line 2: write TYPE NUMBER")):
        resp = inv.submit(edit_url, {**form, "version": version, field: value})
        assert resp.status_code == 200 and said in resp.get_data(as_text=True)
    db_session.refresh(person)
    assert person.aliases == [] and [d.number for d in person.documents] == ["RB0012345"]


def test_persons_search_by_alias_and_document(app, login_as):
    make_person("Mokoena", "Palesa", aliases=[("Mokwena", "Pale")], documents=[("P", "RA7654321", "LSO")])
    make_person("Dlamini", "Sipho", sex="M", category="transporter", alert_kind="suspect", discreet=False)
    inv = login_as("investigator")
    assert "Mokoena Palesa" in inv.get("/screening/persons?q=Mokwena").get_data(as_text=True)
    html = inv.get("/screening/persons?q=RA7654321").get_data(as_text=True)
    assert "Mokoena Palesa" in html and "Dlamini" not in html


def test_inactive_and_expired_persons_are_not_screened(app, db_session):
    from datetime import date

    make_person("Nthako", "Lineo", documents=[("P", "RA1111111", "LSO")], active=False)
    make_person("Sefali", "Mpho", dob="2001-01-05", documents=[("P", "RA2222222", "LSO")],
                review_date=date(2026, 1, 1))
    r1 = _flag_for(new_crossing(surname="Nthako", given_names="Lineo", document_number="RA1111111"))
    r2 = _flag_for(new_crossing(surname="Sefali", given_names="Mpho", dob="2001-01-05",
                                document_number="RA2222222"))
    assert r1.flags == [] and r2.flags == []


def test_damaged_crossing_is_kept_with_quality_issues(app, db_session):
    result = _flag_for(new_crossing(surname="", given_names="", dob=None, sex=None, document_number="RA555"))
    crossing = db_session.get(Crossing, result.crossing_id)
    assert "no name recorded" in crossing.quality_issues and "no date of birth" in crossing.quality_issues


def test_trace_page_lists_matching_crossings_with_explanations(app, login_as):
    _flag_for(new_crossing(surname="Mohapi", given_names="Lerato", dob="1995-07-12", document_number="RA3333333"))
    _flag_for(new_crossing(surname="Ndlovu", given_names="Themba", dob="1970-01-01", document_number="ZA1"))
    inv = login_as("investigator")
    resp = inv.submit("/screening/trace", {"surname": "Mohapi", "given_names": "Lerato",
                                           "date_of_birth": "1995-12-07", "sex": "", "min_score": "0.6"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "1 matching crossing" in html
    assert "Mohapi Lerato" in html and "Ndlovu" not in html


def test_person_form_names_who_sees_a_protective_alert_and_whom_to_call(app, client, login_as, db_session):
    from tests.cases.builders import make_case

    owner = factories.make_user("investigator")
    case = make_case(owner, title="Missing girl, Maseru")
    mgr = login_as("manager")
    base = {"surname": "Sekhesa", "given_names": "Lineo", "sex": "F", "date_of_birth": "2011-07-23",
            "nationality": "LSO", "category": "missing_person", "alert_kind": "protective", "source": "family_report",
            "discreet": "y", "screening_active": "y", "alert_reason": "Taken from Maseru by an uncle",
            "officer_action": "Keep the child safe at the post", "contact": "CGPU duty officer, 2231 7263"}
    # A case reference that does not resolve, a role that does not exist, a choice that hides it from its author.
    bad_case = mgr.submit("/screening/persons/new", {**base, "need_to_know_case": "TIP-1999-0001"})
    assert bad_case.status_code == 200 and "no case you can see has the reference" in bad_case.get_data(as_text=True)
    bad_role = mgr.submit("/screening/persons/new", {**base, "need_to_know_roles": ["root"]})
    assert bad_role.status_code == 200 and "is not a valid choice" in bad_role.get_data(as_text=True)
    locked_out = mgr.submit("/screening/persons/new", {**base, "need_to_know_roles": ["border_officer"]})
    assert "you would no longer see this entry in full" in locked_out.get_data(as_text=True)
    assert db_session.scalar(select(func.count()).select_from(Person)) == 0
    saved = mgr.submit("/screening/persons/new", {**base, "need_to_know_roles": ["manager", "border_officer"],
                                                  "need_to_know_case": case.reference.lower()})
    assert saved.status_code == 302, saved.get_data(as_text=True)
    person = db_session.execute(select(Person)).scalar_one()
    assert (person.need_to_know_roles, person.need_to_know_case_id) == ("border_officer,manager", case.id)
    assert person.contact == "CGPU duty officer, 2231 7263"
    form = mgr.get(f"/screening/persons/{person.id}/edit").get_data(as_text=True)
    assert 'value="manager" selected' in form or 'selected value="manager"' in form
    assert f'value="{case.reference}"' in form and 'value="CGPU duty officer, 2231 7263"' in form
    # An investigator is named neither by role nor by team: the alert, the action, whom to call; no edit.
    from tests.conftest import login

    inv = login(app.test_client(), factories.make_user("investigator"))
    page = inv.get(f"/screening/persons/{person.id}").get_data(as_text=True)
    assert 'data-testid="restricted-alert"' in page and "CGPU duty officer, 2231 7263" in page
    assert "Sekhesa" not in page and "Taken from Maseru" not in page
    assert inv.get(f"/screening/persons/{person.id}/edit").status_code == 404
    # The case owner is named by the team: in full.
    owner_page = login(app.test_client(), owner).get(f"/screening/persons/{person.id}").get_data(as_text=True)
    assert "Sekhesa" in owner_page and "Taken from Maseru" in owner_page
