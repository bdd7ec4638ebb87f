"""The case "done when", clicked through in a real browser: flag -> case -> persons -> consent -> referral ->
tasks -> closure approved by a manager, with a concurrent edit refused on the way."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.cases.builders import make_flag
from tests.e2e.test_login import sign_in
from tests.factories import make_user
from tip_cases.cases.models import Case
from tip_cases.extensions import db
from tip_cases.models import AuditEvent

pytestmark = pytest.mark.e2e


def section(page, summary):
    """The collapsible form under a <details> whose summary reads `summary`, opened."""
    details = page.locator("details", has=page.locator("summary", has_text=summary))
    details.locator("summary").click()
    return details


def test_case_from_flag_to_approved_closure_in_a_browser(app, live_server, page, browser):
    investigator = make_user("investigator")
    flag = make_flag()
    sign_in(page, live_server, investigator)

    page.goto(f"{live_server}/cases/")
    page.get_by_role("link", name=f"Open a case from flag {flag.id}").click()
    assert "Mokoena Palesa" in page.get_by_test_id("flag-prefill").inner_text()
    page.get_by_label("Title").fill("Girl with an unrelated adult at Maseru Bridge")
    page.get_by_role("button", name="Open case").click()
    reference = page.get_by_test_id("case-reference").inner_text()
    assert reference.startswith("TIP-")
    case_url = page.url

    # Victim's HTCDS context.
    page.get_by_role("link", name="Mokoena Palesa").click()
    page.get_by_label("Trafficking status").select_option("PossibleVictimOfTrafficking")
    page.get_by_label("Status decided by").select_option("Police")
    page.get_by_label("Types of exploitation").select_option(["ForcedLabour", "Servitude"])
    page.get_by_label("Forced labour industry (ISIC)").select_option("T")
    page.get_by_label("Method of recruitment").select_option("ThroughOnlineSocialNetworks")
    page.get_by_label("Place of exploitation").fill("Soweto, Gauteng")
    page.get_by_role("button", name="Save").click()
    assert "Saved." in page.locator("main").inner_text()
    assert "Soweto, Gauteng" in page.get_by_test_id("person-history").inner_text()

    # A suspect.
    page.goto(case_url)
    page.get_by_role("link", name="Add person").click()
    page.get_by_label("Role in the case").select_option("perpetrator")
    page.get_by_label("Surname", exact=True).fill("Ramokhele")
    page.get_by_label("Given names", exact=True).fill("Tsietsi")
    page.get_by_label("Role in the process (suspects)").select_option("RecruiterOrIntermediary")
    page.get_by_role("button", name="Add person").click()
    persons = page.get_by_test_id("case-persons").inner_text()
    assert "Ramokhele Tsietsi" in persons and "RecruiterOrIntermediary" in persons
    assert "ForcedLabour" in persons

    # Consent, then the referral to the shelter with her identifying data.
    form = section(page, "Record consent")
    form.get_by_label("Consented to").select_option(["interview", "share_identifying"])
    form.get_by_label("Identifying data may be shared with").fill("Beautiful Dream shelter")
    form.get_by_role("button", name="Record consent").click()
    assert "Consent recorded." in page.locator("main").inner_text()
    form = section(page, "Refer to a partner agency")
    form.get_by_label("Person referred").select_option(label="Mokoena Palesa (victim)")
    form.get_by_label("Organisation", exact=True).fill("Beautiful Dream shelter")
    form.get_by_label("Organisation type").select_option("NGO")
    form.get_by_label("Share the person's identifying data").check()
    form.get_by_role("button", name="Make referral").click()
    assert "Referral made." in page.locator("main").inner_text()
    assert "consent" in page.get_by_test_id("referrals").inner_text()

    # A task, assigned and completed.
    form = section(page, "Add a task")
    form.get_by_label("Task").fill("Interview the aunt")
    form.get_by_label("Assign to").select_option(label=investigator.display_name)
    form.get_by_label("Due on").fill("2026-12-01")
    form.get_by_role("button", name="Add task").click()
    page.get_by_role("button", name="Complete task Interview the aunt").click()
    assert "done" in page.get_by_test_id("tasks").inner_text()

    # Two tabs edit the case at once: the second save is refused and shows the first one's change.
    other_tab = page.context.new_page()
    other_tab.goto(case_url + "/edit")
    page.goto(case_url + "/edit")
    page.get_by_label("Summary").fill("Aunt interviewed; confirms the Facebook advert")
    page.get_by_role("button", name="Save changes").click()
    other_tab.get_by_label("Summary").fill("A stale edit")
    other_tab.get_by_role("button", name="Save changes").click()
    conflict = other_tab.get_by_test_id("conflict").inner_text()
    assert "Not saved" in conflict and "Aunt interviewed" in conflict
    other_tab.close()

    # Request closure; a manager approves it.
    page.goto(case_url)
    form = section(page, "Request closure")
    form.get_by_label("Close as").select_option("ClosedReferred")
    form.get_by_label("Reason for closure").fill("Victim in the shelter; recruiter charged")
    form.get_by_role("button", name="Request closure").click()
    assert "awaiting a manager" in page.get_by_test_id("closure-pending").inner_text()

    manager = make_user("manager")
    context = browser.new_context()
    mpage = context.new_page()
    mpage.set_default_timeout(15000)
    sign_in(mpage, live_server, manager)
    mpage.goto(live_server + "/cases/?saved=awaiting")
    mpage.get_by_role("link", name=reference).click()
    mpage.get_by_test_id("closure-pending").get_by_label("Manager's comment").fill("Well documented")
    mpage.get_by_role("button", name="Approve closure").click()
    assert "Closed (referred)" in mpage.get_by_test_id("case-status").inner_text()
    mpage.get_by_role("link", name="Full timeline").click()
    timeline = mpage.get_by_test_id("timeline").inner_text()
    for text in ("opened", "Victim Mokoena Palesa added from the flag", "Perpetrator Ramokhele Tsietsi added",
                 "Consent recorded", "Referred to Beautiful Dream shelter", "Task “Interview the aunt” completed",
                 "Case details edited: summary", "Closure requested", "Closure approved"):
        assert text in timeline, text
    context.close()

    db.session.expire_all()
    case = db.session.execute(select(Case)).scalar_one()
    assert case.summary.startswith("Aunt interviewed")
    actions = set(db.session.execute(select(AuditEvent.action).where(AuditEvent.object_type.in_(
        ("case", "person", "case_person")))).scalars())
    assert {"case.create", "case.view", "case.person_add", "case.consent", "case.referral", "case.approve"} <= actions
