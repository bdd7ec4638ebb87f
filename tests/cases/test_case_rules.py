"""Case rules: references, workflow tables, consent before sharing, evidence, record-level access, search."""

from __future__ import annotations

import io
import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from tests.cases.builders import NOW, add_victim, make_case, post_form
from tests.factories import make_user
from tip_cases.cases import persons, workflow
from tip_cases.cases import services as svc
from tip_cases.cases.models import Case, CaseEvent, CasePerson, Evidence, PersonMatch
from tip_cases.extensions import db
from tip_cases.models import AuditEvent

# --- references -------------------------------------------------------------------------------------


def test_references_count_per_prefix_and_year(app):
    owner = make_user("investigator")
    refs = [make_case(owner, kind=k).reference for k in ("trafficking", "smuggling", "trafficking", "both")]
    assert refs == ["TIP-2026-0001", "SMG-2026-0001", "TIP-2026-0002", "TIP-2026-0003"]
    next_year = svc.open_case(owner, kind="smuggling", title="x", now=NOW.replace(year=2027)).case
    assert next_year.reference == "SMG-2027-0001"


def test_concurrent_openings_get_distinct_references(app):
    owner_id = make_user("investigator").id
    refs, errors = [], []

    def worker():
        with app.app_context():
            try:
                from tip_cases.models import User

                owner = db.session.get(User, owner_id)
                case = svc.open_case(owner, kind="trafficking", title="race", now=NOW).case
                db.session.commit()
                refs.append(case.reference)
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(repr(exc))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(refs) == [f"TIP-2026-{n:04d}" for n in range(1, 9)]


# --- workflow tables --------------------------------------------------------------------------------


@pytest.mark.parametrize("start,target,ok", [
    ("Active", "FollowUp", True), ("FollowUp", "Active", True), ("Active", "Closed", False),
    ("Active", "ClosedReferred", False), ("Active", "Active", False),
])
def test_status_transitions(app, start, target, ok):
    case = make_case()
    case.status = start
    if ok:
        svc.change_status(case, case.owner, target, now=NOW)
        assert case.status == target
    else:
        with pytest.raises(svc.CaseError):
            svc.change_status(case, case.owner, target, now=NOW)


@pytest.mark.parametrize("path,ok", [
    (["investigation", "referred_for_prosecution", "in_court"], True),
    (["in_court"], False),
    (["investigation", "closed"], False),  # closed only through an approved closure
])
def test_stage_transitions(app, path, ok):
    case = make_case()
    if ok:
        for stage in path:
            svc.change_stage(case, case.owner, stage, now=NOW)
        assert case.stage == path[-1]
    else:
        with pytest.raises(svc.CaseError):
            for stage in path:
                svc.change_stage(case, case.owner, stage, now=NOW)


def test_closure_needs_reason_and_manager(app):
    case = make_case()
    with pytest.raises(svc.CaseError, match="reason"):
        svc.request_closure(case, case.owner, target_status="Closed", reason=" ", now=NOW)
    req = svc.request_closure(case, case.owner, target_status="Closed", reason="No victim identified", now=NOW)
    with pytest.raises(svc.CaseError, match="manager"):
        svc.decide_closure(req, case.owner, approve=True, comment="", now=NOW)
    manager = make_user("manager")
    with pytest.raises(svc.CaseError, match="why"):
        svc.decide_closure(req, manager, approve=False, comment="", now=NOW)
    svc.decide_closure(req, manager, approve=False, comment="Interview the driver first", now=NOW)
    assert case.status == "Active" and req.decision == "rejected"
    req2 = svc.request_closure(case, case.owner, target_status="Closed", reason="Driver interviewed", now=NOW)
    svc.decide_closure(req2, manager, approve=True, comment="", now=NOW)
    db.session.commit()
    assert (case.status, case.stage, case.closure_reason) == ("Closed", "closed", "Driver interviewed")
    with pytest.raises(svc.CaseError, match="manager"):
        svc.change_status(case, case.owner, "Active", now=NOW)
    svc.change_status(case, manager, "Active", now=NOW, comment="New evidence")
    assert (case.status, case.stage) == ("Active", "investigation")


# --- consent before sharing identifying data --------------------------------------------------------


def test_identifying_referral_needs_consent_or_manager_override(app):
    case = make_case()
    victim = add_victim(case, case.owner)
    kwargs = dict(organisation="Beautiful Dream shelter", organisation_type="NGO", reason="AdditionalServicesRequired",
                  referred_on=date(2026, 11, 21), case_person_id=victim.id, includes_identifying_data=True, now=NOW)
    with pytest.raises(svc.CaseError, match="not consented"):
        svc.make_referral(case, case.owner, **kwargs)
    with pytest.raises(svc.CaseError, match="Only a manager"):
        svc.make_referral(case, case.owner, override_reason="urgent", **kwargs)
    # Without identifying data the referral goes ahead.
    plain = svc.make_referral(case, case.owner, **{**kwargs, "includes_identifying_data": False})
    assert plain.consent_id is None and plain.override_by_id is None
    manager = make_user("manager")
    forced = svc.make_referral(case, manager, override_reason="Child at immediate risk", **kwargs)
    assert forced.override_by_id == manager.id and forced.override_reason == "Child at immediate risk"
    consent = svc.record_consent(case, case.owner, case_person_id=victim.id, scopes=["share_identifying"],
                                 share_with="Beautiful Dream shelter", now=NOW)
    with_consent = svc.make_referral(case, case.owner, **kwargs)
    assert with_consent.consent_id == consent.id
    svc.withdraw_consent(consent, case.owner, note="Changed her mind", now=NOW)
    with pytest.raises(svc.CaseError, match="not consented"):
        svc.make_referral(case, case.owner, **kwargs)


def test_referral_status_flow_and_overdue_queries(app):
    case = make_case()
    ref = svc.make_referral(case, case.owner, organisation="SAPS Ficksburg", organisation_type="LawEnforcement",
                            reason="Other", referred_on=date(2026, 11, 20), now=NOW)
    svc.add_task(case, case.owner, title="Call the shelter", assignee_id=case.owner_id,
                 due_on=date(2026, 11, 19), now=NOW)
    svc.add_task(case, case.owner, title="Later", assignee_id=None, due_on=date(2026, 12, 30), now=NOW)
    db.session.commit()
    assert svc.unacknowledged_referrals(NOW + timedelta(hours=47)) == []
    assert [r.id for r in svc.unacknowledged_referrals(NOW + timedelta(hours=49))] == [ref.id]
    assert [t.title for t in svc.overdue_tasks(NOW)] == ["Call the shelter"]
    with pytest.raises(svc.CaseError, match="reason"):
        svc.update_referral(ref, case.owner, status="declined", now=NOW)
    svc.update_referral(ref, case.owner, status="acknowledged", now=NOW)
    assert svc.unacknowledged_referrals(NOW + timedelta(days=5)) == []
    with pytest.raises(svc.CaseError, match="cannot go"):
        svc.update_referral(ref, case.owner, status="completed", now=NOW)
    svc.update_referral(ref, case.owner, status="declined", reason="No capacity", now=NOW)
    assert ref.decline_reason == "No capacity"


# --- persons: validation, "also in case X" ---------------------------------------------------------


def test_htcds_picklists_are_enforced(app):
    case = make_case()
    with pytest.raises(svc.CaseError) as exc:
        add_victim(case, case.owner, trafficking_status="Maybe")
    assert exc.value.field == "trafficking_status"
    with pytest.raises(svc.CaseError, match="date"):
        persons.add_person(case, case.owner, role="witness", surname="X", date_of_birth="31/02/1990", now=NOW)


def test_adding_a_person_found_in_another_case_tells_that_case(app):
    owner_a = make_user("investigator")
    case_a = make_case(owner_a, title="Case A")
    add_victim(case_a, owner_a, surname="Mokoena", given_names="Palesa", dob="2009-03-14")
    case_b = make_case(make_user("investigator"), title="Case B")
    cp, matches = persons.add_person(case_b, case_b.owner, role="witness", surname="Mokwena", given_names="Palesa",
                                 date_of_birth="2009-03-14", sex="F", now=NOW)
    db.session.commit()
    assert len(matches) == 1 and matches[0].other.case_id == case_a.id and matches[0].score >= 0.8
    told = db.session.execute(select(CaseEvent).where(CaseEvent.case_id == case_a.id,
                                                      CaseEvent.kind == "person.match")).scalar_one()
    assert case_b.reference in told.summary
    # A clearly different person matches nothing.
    _cp, none = persons.add_person(case_b, case_b.owner, role="witness", surname="Letsie", given_names="Thabo",
                               date_of_birth="1970-01-05", sex="M", now=NOW)
    assert none == []
    assert db.session.execute(select(PersonMatch)).scalars().all() == matches


def test_person_page_shows_also_in_case(app, login_as):
    b = login_as("investigator")
    case_a = make_case(b.user, title="A")
    add_victim(case_a, b.user)
    case_b = make_case(b.user, title="B")
    resp = post_form(b, f"/cases/{case_b.id}/persons/new", {"role": "victim", "surname": "Mokoena",
                                                             "given_names": "Palesa", "date_of_birth": "2009-03-14",
                                                             "sex": "F"}, page=f"/cases/{case_b.id}/persons/new",
                     follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert f"Also in case {case_a.reference} as victim" in html
    assert f"also in case <span class=\"mono\">{case_a.reference}</span>" in html


# --- evidence ---------------------------------------------------------------------------------------


def test_evidence_checks_type_and_size_and_downloads_as_audited_attachment(app, login_as, tmp_path):
    b = login_as("investigator")
    case = make_case(b.user)
    detail = f"/cases/{case.id}"

    def upload(name, content):
        html = b.get(detail).get_data(as_text=True)
        from tests.conftest import csrf_from

        return b.client.post(f"/cases/{case.id}/evidence", data={
            "ev-csrf_token": csrf_from(html), "ev-description": "statement",
            "ev-file": (io.BytesIO(content), name)}, content_type="multipart/form-data", follow_redirects=True)

    assert "Allowed file types" in upload("run.exe", b"MZ\x90\x00").get_data(as_text=True)
    assert "not a real .pdf" in upload("fake.pdf", b"<script>alert(1)</script>").get_data(as_text=True)
    assert db.session.execute(select(Evidence)).first() is None
    upload("statement.pdf", b"%PDF-1.4 statement")
    ev = db.session.execute(select(Evidence)).scalar_one()
    stored = list((tmp_path / "evidence").iterdir())
    assert [p.name for p in stored] == [ev.stored_name] and "statement" not in ev.stored_name
    resp = b.get(f"/cases/evidence/{ev.id}")
    assert resp.status_code == 200 and resp.data == b"%PDF-1.4 statement"
    assert resp.headers["Content-Disposition"].startswith("attachment") and "statement.pdf" in \
        resp.headers["Content-Disposition"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    resp.close()
    assert db.session.execute(select(AuditEvent).where(AuditEvent.action == "evidence.download",
                                                       AuditEvent.object_id == str(ev.id))).scalar_one()


def test_evidence_size_limit(app):
    case = make_case()
    with pytest.raises(svc.CaseError, match="larger"):
        svc.store_evidence(case, case.owner, filename="a.txt", stream=io.BytesIO(b"x" * 11), directory=None,
                           now=NOW, max_bytes=10)


# --- record-level access ----------------------------------------------------------------------------


def test_investigator_outside_the_team_is_refused_everywhere(app, login_as):
    owner = make_user("investigator")
    case = make_case(owner, title="Gauteng domestic work")
    victim = add_victim(case, owner)
    ev = svc.store_evidence(case, owner, filename="s.txt", stream=io.BytesIO(b"statement"),
                            directory=svc.evidence_dir(app), now=NOW)
    task = svc.add_task(case, owner, title="t", assignee_id=None, due_on=None, now=NOW)
    db.session.commit()
    outsider = login_as("investigator")
    for url in (f"/cases/{case.id}", f"/cases/{case.id}/edit", f"/cases/persons/{victim.id}",
                f"/cases/evidence/{ev.id}", f"/cases/{case.id}/timeline", f"/cases/{case.id}/persons/new"):
        resp = outsider.get(url)
        assert resp.status_code == 404, url  # answered like a missing record: no existence oracle
        assert "Mokoena" not in resp.get_data(as_text=True)
    html = outsider.get("/cases/").get_data(as_text=True)
    token = html.split('name="csrf_token" value="')[1].split('"')[0] if 'name="csrf_token"' in html else ""
    for url in (f"/cases/{case.id}/notes", f"/cases/{case.id}/tasks/{task.id}/complete",
                f"/cases/{case.id}/status"):
        assert outsider.client.post(url, data={"csrf_token": token}).status_code in (400, 404), url
    denied = db.session.execute(select(AuditEvent).where(AuditEvent.outcome == "denied",
                                                         AuditEvent.actor_user_id == outsider.user.id)).scalars().all()
    assert {d.object_type for d in denied} >= {"case", "case_person", "evidence"}
    # Search shows the case exists, and nothing about it.
    html = outsider.get(f"/cases/?q={case.reference}").get_data(as_text=True)
    assert case.reference in html and "restricted" in html
    assert "Gauteng" not in html and "Mokoena" not in html
    # A team member may see it; a manager and an admin may see it; the admin may not edit.
    member = make_user("investigator")
    svc.set_team(db.session.get(Case, case.id), owner, [member.id], now=NOW)
    db.session.commit()
    from tests.conftest import login

    assert login(app.test_client(), member).get(f"/cases/{case.id}").status_code == 200
    admin = login(app.test_client(), make_user("admin"))
    assert admin.get(f"/cases/{case.id}").status_code == 200
    assert admin.get(f"/cases/{case.id}/edit").status_code == 403


def test_search_by_fuzzy_name_and_saved_filters(app, login_as):
    b = login_as("investigator")
    mine = make_case(b.user, title="Mine")
    add_victim(mine, b.user, surname="Mokoena", given_names="Palesa")
    other = make_case(make_user("investigator"), kind="smuggling", title="Other")
    svc.add_task(other, other.owner, title="late", assignee_id=None, due_on=date(2020, 1, 1), now=NOW)
    db.session.commit()
    html = b.get("/cases/?q=Palesa+Mokwena").get_data(as_text=True)
    assert mine.reference in html and other.reference not in html
    html = b.get("/cases/?saved=mine").get_data(as_text=True)
    assert mine.reference in html and other.reference not in html
    html = b.get("/cases/?saved=overdue").get_data(as_text=True)
    assert other.reference in html and mine.reference not in html
    html = b.get("/cases/?kind=smuggling").get_data(as_text=True)
    assert other.reference in html and mine.reference not in html
    html = b.get(f"/cases/?owner={b.user.id}&status=Active").get_data(as_text=True)
    assert mine.reference in html and other.reference not in html
    assert b.get("/cases/?opened_from=not-a-date").status_code == 200


# --- no lost updates (JSON) -------------------------------------------------------------------------


def test_json_edit_with_a_stale_version_is_409_naming_the_changes(app, login_as):
    b = login_as("investigator")
    case = make_case(b.user)
    html = b.get(f"/cases/{case.id}").get_data(as_text=True)
    from tests.conftest import csrf_from

    headers = {"X-CSRFToken": csrf_from(html)}
    ok = b.client.patch(f"/cases/{case.id}", json={"version": 1, "summary": "first"}, headers=headers)
    assert ok.status_code == 200 and ok.get_json()["version"] == 2
    stale = b.client.patch(f"/cases/{case.id}", json={"version": 1, "summary": "second"}, headers=headers)
    assert stale.status_code == 409
    assert stale.get_json()["changes"][0]["new"] == "first"
    bad = b.client.patch(f"/cases/{case.id}", json={"version": 2, "priority": "enormous"}, headers=headers)
    assert bad.status_code == 422 and bad.get_json()["field"] == "priority"
    assert b.client.patch(f"/cases/{case.id}", json=[1], headers=headers).status_code == 400
    db.session.expire_all()
    assert db.session.get(Case, case.id).summary == "first"


def test_concurrent_person_context_edit_is_refused(app):
    case = make_case()
    victim = add_victim(case, case.owner)
    persons.update_person_context(victim, case.owner, {"recruitment_place": "Maseru"}, expected_version=1, now=NOW)
    db.session.commit()
    with pytest.raises(workflow.ConflictError) as exc:
        persons.update_person_context(victim, case.owner, {"recruitment_place": "Leribe"}, expected_version=1, now=NOW)
    assert [(c.field, c.new_value) for c in exc.value.changes] == [("recruitment_place", "Maseru")]
    assert db.session.get(CasePerson, victim.id).recruitment_place == "Maseru"


def test_case_events_are_published_in_the_same_transaction(app):
    from notifications.models import NotificationEvent

    case = make_case()
    victim = add_victim(case, case.owner)
    svc.record_consent(case, case.owner, case_person_id=victim.id, scopes=["share_identifying"],
                       share_with="Shelter", now=NOW)
    svc.make_referral(case, case.owner, organisation="Shelter", organisation_type="NGO",
                      reason="AdditionalServicesRequired", referred_on=date(2026, 11, 20), case_person_id=victim.id,
                      includes_identifying_data=True, now=NOW)
    db.session.rollback()  # nothing published survives a rolled-back change
    assert [e.event for e in db.session.execute(select(NotificationEvent)).scalars()] == ["case.opened"]
    svc.make_referral(case, case.owner, organisation="Shelter", organisation_type="NGO",
                      reason="AdditionalServicesRequired", referred_on=date(2026, 11, 20), now=NOW)
    db.session.commit()
    events = db.session.execute(select(NotificationEvent).order_by(NotificationEvent.id)).scalars().all()
    assert [(e.event, e.ref) for e in events] == [("case.opened", case.reference), ("referral.made", case.reference)]
    assert "Mokoena" not in str([e.data for e in events])


def test_matching_finds_alert_list_persons_and_shared_documents(app):
    from tests.screening.builders import make_person

    alert = make_person(surname="Ramokhele", given_names="Tsietsi", dob="1986-02-11", sex="M",
                        category="suspect", alert_kind="suspect", documents=[("P", "RB9981234", "LSO")])
    case = make_case()
    # Another spelling, another year, but the same passport number (typed with O for 0).
    _cp, matches = persons.add_person(case, case.owner, role="perpetrator", surname="Ramokgele", given_names="T",
                                  documents=[("passport", "RB998I234", "LSO")], now=NOW)
    assert [(m.other_person_id, m.other_case_person_id) for m in matches] == [(alert.id, None)]
    assert any("ocument" in e for e in matches[0].explanations)


def test_confirmed_flags_without_a_case_are_offered(app, login_as):
    from tests.cases.builders import make_flag

    b = login_as("investigator")
    flag = make_flag()
    new_flag = make_flag(status="new")
    html = b.get("/cases/").get_data(as_text=True)
    assert f"/cases/new?flag={flag.id}" in html and f"/cases/new?flag={new_flag.id}" not in html
    svc.open_case(b.user, kind="trafficking", title="From flag", flag_id=flag.id, now=NOW)
    db.session.commit()
    assert f"/cases/new?flag={flag.id}" not in b.get("/cases/").get_data(as_text=True)
    # A flag that does not exist is a 404, not an empty form.
    assert b.get("/cases/new?flag=999999").status_code == 404
