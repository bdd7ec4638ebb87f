"""The issue's "done when", through the real pages: from a confirmed flag to an approved closure."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from tests.cases.builders import flashes, make_flag, post_form
from tests.factories import make_user
from tip_cases.cases.models import Case, CaseEvent, CasePerson, CaseTask, Consent, FieldChange, Referral
from tip_cases.extensions import db
from tip_cases.models import AuditEvent


def _case_events(case_id):
    return [e.kind for e in db.session.execute(
        select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)).scalars()]


def test_investigator_takes_a_case_from_flag_to_approved_closure(app, login_as, client):
    inv = login_as("investigator")
    flag = make_flag()

    # Open a case from the confirmed flag: the form is prefilled and the flag's person comes along.
    page = inv.get(f"/cases/new?flag={flag.id}").get_data(as_text=True)
    assert "data-testid=\"flag-prefill\"" in page and "Mokoena Palesa" in page
    resp = post_form(inv, f"/cases/new?flag={flag.id}", {"kind": "trafficking", "title": "Flag at Maseru Bridge",
                                                         "priority": "urgent", "summary": "Girl travelling with "
                                                         "an unrelated adult", "flag": str(flag.id)},
                     page=f"/cases/new?flag={flag.id}")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    case = db.session.execute(select(Case)).scalar_one()
    assert case.reference == f"TIP-{case.opened_at.year}-0001" and case.owner_id == inv.user.id
    assert [(p.role, p.person_id) for p in case.persons] == [("victim", flag.person_id)]
    detail = f"/cases/{case.id}"
    html = inv.get(detail).get_data(as_text=True)
    assert f"flag {flag.id}" in html and f"crossing {flag.crossing_id}" in html

    # Add the HTCDS victim context to the flagged girl, and a suspect with a new identity.
    victim = case.persons[0]
    resp = post_form(inv, f"/cases/persons/{victim.id}", {
        "version": "1", "trafficking_status": "PossibleVictimOfTrafficking", "status_decided_by": "Police",
        "exploitation_types": ["ForcedLabour", "Servitude"], "forced_labour_industry": "T",
        "methods_of_control": ["FalsePromises", "WithholdsDocuments"], "recruitment_method":
        "ThroughOnlineSocialNetworks", "recruitment_place": "Maseru", "exploitation_place": "Johannesburg, Gauteng",
        "relationship_to_trafficker": "Acquainted", "age_when_trafficked": "17"}, page=f"/cases/persons/{victim.id}")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    resp = post_form(inv, f"/cases/{case.id}/persons/new", {
        "role": "perpetrator", "surname": "Ramokhele", "given_names": "Tsietsi", "date_of_birth": "~1985",
        "sex": "M", "nationality": "LSO", "document_type": "passport", "document_number": "RB9981234",
        "document_country": "LSO", "perpetrator_role": "RecruiterOrIntermediary",
        "role_details": "Posted the job advert on Facebook"}, page=f"/cases/{case.id}/persons/new")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    db.session.expire_all()
    victim = db.session.get(CasePerson, victim.id)
    assert victim.exploitation_types == ["ForcedLabour", "Servitude"] and victim.forced_labour_industry == "T"
    assert victim.age_when_trafficked == 17 and victim.version == 2
    suspect = db.session.execute(select(CasePerson).where(CasePerson.role == "perpetrator")).scalar_one()
    assert suspect.perpetrator_role == "RecruiterOrIntermediary" and suspect.person.dob_text == "~1985"
    assert [d.number for d in suspect.person.documents] == ["RB9981234"]

    # Record consent, then refer the victim with her identifying data to the shelter.
    resp = post_form(inv, f"/cases/{case.id}/consents", {
        "case_person_id": str(victim.id), "scopes": ["interview", "data_use", "share_identifying"],
        "share_with": "Beautiful Dream shelter", "retention": "10 years after closure",
        "informed_of_withdrawal": "y", "given_by": "guardian", "given_by_name": "Her aunt"},
        page=detail, prefix="consent")
    assert resp.status_code == 302
    consent = db.session.execute(select(Consent)).scalar_one()
    assert consent.given_by == "guardian" and "share_identifying" in consent.scopes
    resp = post_form(inv, f"/cases/{case.id}/referrals", {
        "case_person_id": str(victim.id), "organisation": "Beautiful Dream shelter", "organisation_type": "NGO",
        "reason": "AdditionalServicesRequired", "referred_on": "2026-11-21", "details": "Shelter and counselling",
        "includes_identifying_data": "y"}, page=detail, prefix="referral")
    assert resp.status_code == 302
    referral = db.session.execute(select(Referral)).scalar_one()
    assert referral.consent_id == consent.id and referral.status == "sent" and referral.ack_due_at is not None
    resp = post_form(inv, f"/cases/{case.id}/referrals/{referral.id}", {"status": "accepted"}, page=detail,
                     prefix="rs")
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(Referral, referral.id).status == "accepted"

    # Assign a task to a teammate, who completes it.
    mate = make_user("investigator")
    resp = post_form(inv, f"/cases/{case.id}/team", {"members": [str(mate.id)]}, page=detail, prefix="tm")
    assert resp.status_code == 302
    resp = post_form(inv, f"/cases/{case.id}/tasks", {"title": "Interview the aunt", "assignee_id": str(mate.id),
                                                      "due_on": "2026-12-01"}, page=detail, prefix="task")
    assert resp.status_code == 302
    task = db.session.execute(select(CaseTask)).scalar_one()
    assert task.assignee_id == mate.id and task.due_on == date(2026, 12, 1)
    from tests.conftest import login

    mate_browser = login(app.test_client(), mate)
    resp = post_form(mate_browser, f"/cases/{case.id}/tasks/{task.id}/complete", {}, page=detail)
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(CaseTask, task.id).completed_by_id == mate.id

    # A concurrent edit: two people open the edit form; the second save is refused and shows what changed.
    edit = f"/cases/{case.id}/edit"
    version = db.session.get(Case, case.id).version
    resp = post_form(mate_browser, edit, {"version": str(version), "kind": "trafficking", "title": "Flag at MSB",
                                          "summary": "Updated by the teammate", "priority": "urgent"}, page=edit)
    assert resp.status_code == 302
    resp = post_form(inv, edit, {"version": str(version), "kind": "trafficking", "title": "My stale title",
                                 "summary": "Stale", "priority": "high"}, page=edit)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 409 and 'data-testid="conflict"' in body
    assert "Updated by the teammate" in body and mate.username in body.replace(mate.display_name, mate.username)
    db.session.expire_all()
    assert db.session.get(Case, case.id).title == "Flag at MSB"

    # Request closure; the investigator cannot approve; the manager approves.
    resp = post_form(inv, f"/cases/{case.id}/closure", {"target_status": "ClosedReferred",
                                                        "reason": "Victim referred to the shelter; suspect charged"},
                     page=detail, prefix="cl")
    assert resp.status_code == 302
    html = inv.get(detail).get_data(as_text=True)
    assert 'data-testid="closure-pending"' in html and "Approve closure" not in html
    req_id = db.session.execute(select(CaseEvent.detail).where(CaseEvent.kind == "closure.requested")
                                ).scalar_one()["request_id"]
    assert inv.client.post(f"/cases/{case.id}/closure/{req_id}", data={}).status_code in (400, 403)
    manager = login(app.test_client(), make_user("manager"))
    assert "Awaiting approval" in manager.get("/cases/?saved=awaiting").get_data(as_text=True)
    assert case.reference in manager.get("/cases/?saved=awaiting").get_data(as_text=True)
    resp = post_form(manager, f"/cases/{case.id}/closure/{req_id}", {"comment": "Well documented",
                                                                    "approve": "Approve closure"},
                     page=detail, prefix="cd")
    assert resp.status_code == 302
    db.session.expire_all()
    case = db.session.get(Case, case.id)
    assert (case.status, case.stage) == ("ClosedReferred", "closed") and case.closed_at is not None
    assert case.closure_reason.startswith("Victim referred")

    # Every step is on the timeline and in the audit trail.
    kinds = _case_events(case.id)
    for expected in ("case.opened", "link.added", "person.added", "person.edited", "consent.recorded",
                     "referral.made", "referral.status", "case.team", "task.added", "task.completed",
                     "case.edited", "closure.requested", "closure.approved"):
        assert expected in kinds, (expected, kinds)
    timeline = inv.get(f"/cases/{case.id}/timeline").get_data(as_text=True)
    assert "Referred to Beautiful Dream shelter" in timeline and "Closure approved" in timeline
    actions = set(db.session.execute(select(AuditEvent.action)).scalars())
    for expected in ("case.create", "case.view", "case_person" and "case.person_add", "case.person_edit",
                     "case.consent", "case.referral", "case.task_add", "case.task_complete", "case.edit",
                     "case.closure_request", "case.approve"):
        assert expected in actions, (expected, sorted(actions))
    # No names in audit details.
    for detail_json in db.session.execute(select(AuditEvent.detail)).scalars():
        assert "Mokoena" not in str(detail_json) and "Ramokhele" not in str(detail_json)
    # Field history shows who changed what.
    changes = db.session.execute(select(FieldChange).where(FieldChange.field == "summary")).scalars().all()
    assert [(c.new_value, c.actor_id) for c in changes] == [("Updated by the teammate", mate.id)]
    assert flashes  # imported helper is used by other tests
