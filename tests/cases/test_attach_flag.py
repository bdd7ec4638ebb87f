"""From a confirmed flag's page: open a case, or attach the flag to an existing case by reference."""

from __future__ import annotations

from sqlalchemy import select

from tests.cases.builders import flashes, make_case, make_flag
from tests.factories import make_user
from tip_cases.cases.models import CaseLink, CasePerson
from tip_cases.extensions import db
from tip_cases.models import AuditEvent


def test_flag_page_offers_open_and_attach_to_investigators(app, login_as):
    flag = make_flag()
    page = login_as("investigator").get(f"/screening/flags/{flag.id}").get_data(as_text=True)
    assert f"/cases/new?flag={flag.id}" in page and "Attach to this case" in page


def test_officer_sees_no_case_actions(app, login_as):
    flag = make_flag()
    page = login_as("border_officer").get(f"/screening/flags/{flag.id}").get_data(as_text=True)
    assert "/cases/new" not in page and "Attach to this case" not in page
    assert "An investigator opens or attaches a case" in page


def test_attach_flag_links_flag_crossing_and_person(app, login_as):
    investigator = make_user("investigator")
    case = make_case(investigator)
    flag = make_flag()
    b = login_as(investigator)
    resp = b.submit(f"/cases/attach-flag/{flag.id}", {"reference": case.reference.lower()},
                    page=f"/screening/flags/{flag.id}")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/cases/{case.id}")
    links = {(x.object_type, x.object_id) for x in db.session.execute(
        select(CaseLink).where(CaseLink.case_id == case.id)).scalars()}
    assert ("flag", flag.id) in links and ("crossing", flag.crossing_id) in links
    cp = db.session.execute(select(CasePerson).where(CasePerson.case_id == case.id)).scalar_one()
    assert cp.person_id == flag.person_id and cp.role == "victim"
    # The flag page now shows the case, and attaching twice is refused with a message.
    page = b.get(f"/screening/flags/{flag.id}").get_data(as_text=True)
    assert case.reference in page
    resp = b.submit(f"/cases/attach-flag/{flag.id}", {"reference": case.reference}, page=f"/screening/flags/{flag.id}",
                    follow_redirects=True)
    assert any("already linked" in m for m in flashes(resp.get_data(as_text=True)))


def test_attach_to_someone_elses_case_is_refused(app, login_as):
    case = make_case(make_user("investigator"))
    flag = make_flag()
    b = login_as("investigator")  # not on the case's team
    resp = b.submit(f"/cases/attach-flag/{flag.id}", {"reference": case.reference}, page=f"/screening/flags/{flag.id}",
                    follow_redirects=True)
    # Answered exactly like a reference that does not exist (no existence oracle), and audited.
    assert any("No case has the reference" in m and case.reference in m for m in flashes(resp.get_data(as_text=True)))
    assert db.session.execute(select(AuditEvent).where(AuditEvent.outcome == "denied", AuditEvent.object_type == "case",
                                                       AuditEvent.object_id == str(case.id))).first() is not None
    assert db.session.execute(select(CaseLink).where(CaseLink.case_id == case.id,
                                                     CaseLink.object_type == "flag")).first() is None


def test_unknown_reference_is_explained(app, login_as):
    flag = make_flag()
    b = login_as("investigator")
    resp = b.submit(f"/cases/attach-flag/{flag.id}", {"reference": "TIP-1999-9999"}, page=f"/screening/flags/{flag.id}",
                    follow_redirects=True)
    assert any("No case has the reference" in m for m in flashes(resp.get_data(as_text=True)))
