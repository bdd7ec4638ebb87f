"""Record-level access, generated from the URL map: out-of-scope records answer like missing ones, audited.

A role with no scope for an action gets 403 (that says nothing about any record); a role with a scope
gets 404 for a record outside it, exactly as for an id that does not exist, so ids cannot be probed.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from tests.conftest import csrf_from, login
from tests.factories import make_user
from tests.security.builders import make_world
from tests.security.test_no_500 import ARG_IDS
from tip_cases.access import scope_for
from tip_cases.extensions import db
from tip_cases.models import AuditEvent

# What the world's out-of-scope records would reveal if a page leaked them.
SECRETS = ("Mokoena", "Palesa", "Letsie", "Mpho", "Ntho", "Lerato", "RB7654321", "fake agency", "evidence text")


def _object_urls(app, world):
    from flask import url_for

    for rule in app.url_map.iter_rules():
        if not any("Integer" in rule._converters[a].__class__.__name__ for a in rule.arguments):
            continue
        action = getattr(app.view_functions[rule.endpoint], "required_action", None)
        if action is None or rule.endpoint.startswith("api."):
            continue
        values = {a: world.ids.get(ARG_IDS.get(a, ""), world.users["owner"].id if a == "user_id" else 1)
                  for a in rule.arguments if "Integer" in rule._converters[a].__class__.__name__}
        values |= {a: "deactivate" for a in rule.arguments if a not in values}
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, action, method, url_for(rule.endpoint, **values)


def _denied_rows() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.outcome == "denied"))


@pytest.mark.parametrize("role", ["border_officer", "investigator", "manager", "admin"])
def test_out_of_scope_records_are_refused_and_audited(app, client, role):
    """A border officer of MSB, an investigator outside the case team: every object route refuses."""
    world = make_world(app)
    browser = login(client, make_user(role, post_code="MSB" if role == "border_officer" else None))
    token = csrf_from(browser.get("/account/password").get_data(as_text=True))
    checked, record_level, leaks = 0, 0, []
    for endpoint, action, method, url in _object_urls(app, world):
        scope = scope_for(role, action)
        if scope == "all":
            continue  # allowed by policy; content checks live with each feature's tests
        before = _denied_rows()
        # The flag is in scope for an investigator; the case it would attach to (by reference) is not.
        data = {"csrf_token": token, "reference": world.case_reference}
        resp = browser.client.open(url, method=method, data=data,
                                   headers={"X-CSRFToken": token})
        body = resp.get_data(as_text=True)
        resp.close()
        checked += 1
        if any(s in body for s in SECRETS):
            leaks.append((endpoint, method, url, resp.status_code, "leaks data"))
            continue
        if endpoint == "cases.attach_flag" and scope_for(role, "flag.view") == "all":
            # The flag is visible; the hidden case must look like a reference that does not exist.
            record_level += 1
            page = browser.client.get(resp.headers.get("Location", "/")).get_data(as_text=True)
            if resp.status_code != 302 or "No case has the reference" not in page:
                leaks.append((endpoint, method, url, resp.status_code, "hidden case not answered as missing"))
        elif scope is None:
            if resp.status_code != 403:  # the role may not do this at all
                leaks.append((endpoint, method, url, resp.status_code, "expected 403 for the role"))
        else:
            record_level += 1
            if resp.status_code != 404:  # a record outside the scope answers like a missing one
                leaks.append((endpoint, method, url, resp.status_code, "expected 404 for an out-of-scope record"))
        if _denied_rows() != before + 1:
            leaks.append((endpoint, method, url, resp.status_code, "refused without one 'denied' audit row"))
    assert checked > 10
    if role in ("border_officer", "investigator"):
        assert record_level >= 3, record_level  # the record-level branch is really exercised
    assert not leaks, "\n".join(map(str, leaks))


@pytest.mark.parametrize("role", ["border_officer", "investigator"])
def test_forbidden_and_missing_records_answer_alike(app, client, role):
    """No existence oracle: an out-of-scope id and an id above the highest answer the same 404 page."""
    world = make_world(app)
    browser = login(client, make_user(role, post_code="MSB" if role == "border_officer" else None))
    pairs = {"investigator": [("/cases/{}", world.ids["case"])],
             "border_officer": [("/screening/flags/{}", world.ids["flag"]),
                                ("/screening/crossings/{}", world.ids["crossing"])]}[role]
    browser.get("/")  # shows (and so consumes) the welcome message
    for pattern, hidden in pairs:
        before = _denied_rows()
        forbidden = browser.get(pattern.format(hidden))
        assert _denied_rows() == before + 1  # the refusal is audited
        missing = browser.get(pattern.format(hidden + 100000))
        assert forbidden.status_code == missing.status_code == 404, pattern
        assert _same_page(forbidden) == _same_page(missing), pattern


def _same_page(resp) -> str:
    """The page without its CSRF tokens: they carry the second they were made, and nothing else may differ."""
    return re.sub(r'(name="csrf_token"[^>]*value=")[^"]+"', r'\1"', resp.get_data(as_text=True))


def test_officer_lists_show_only_their_post(app, client):
    make_world(app)
    officer = login(client, make_user("border_officer", post_code="MSB"))
    for url in ("/screening/crossings", "/screening/queue", "/screening/crossings?q=Ntho",
                "/screening/crossings?post=MPB", "/screening/queue?post=MPB", "/"):
        resp = officer.get(url)
        body = resp.get_data(as_text=True)
        assert resp.status_code in (200, 302, 400, 422), (url, resp.status_code)
        assert not any(s in body for s in SECRETS), url


def test_investigator_outside_the_team_does_not_find_the_case(app, client):
    world = make_world(app)
    outsider = login(client, make_user("investigator"))
    for url in ("/cases/", "/cases/?q=Mokoena", "/cases/?q=Palesa+Mokoena", "/", "/cases/?status=Active",
                f"/cases/?q={world.case_reference}"):
        body = outsider.get(url).get_data(as_text=True)
        assert "fake agency" not in body and f'/cases/{world.ids["case"]}"' not in body, url
    # The same search finds it for the team, so the absence above is the scope at work.
    member = login(app.test_client(), world.users["owner"])
    assert "fake agency" in member.get(f"/cases/?q={world.case_reference}").get_data(as_text=True)


def test_api_client_bound_to_a_post_reads_only_its_post(app, client):
    world = make_world(app)
    auth = {"Authorization": f"Bearer {world.tokens['MSB']}"}
    for url in (f"/api/v1/crossings/{world.ids['crossing']}", f"/api/v1/crossings/{world.ids['flag_crossing']}"):
        resp = client.get(url, headers=auth)
        assert resp.status_code == 404, (url, resp.status_code)
        assert not any(s in resp.get_data(as_text=True) for s in SECRETS)
    resp = client.post(f"/api/v1/flags/{world.ids['flag']}/review", headers=auth,
                       json={"decision": "dismissed", "reason": "not the person", "officer": "x"})
    assert resp.status_code == 404
    assert f'"crossing_id": {world.ids["flag_crossing"]}' not in client.get("/api/v1/flags", headers=auth).get_data(
        as_text=True)
    for query in ("", "?post=MPB", "?post=mpb&status=new", "?limit=1000"):
        resp = client.get("/api/v1/flags" + query, headers=auth)
        assert resp.status_code == 200, (query, resp.status_code)
        assert resp.get_json()["flags"] == [], query


# --- need to know on protective entries -------------------------------------------------------------
# A missing child's alert names investigators and one case team. Everyone else who reaches a page that
# shows it gets that an alert exists, the action and whom to call, and none of its protected fields.

PROTECTED = ("Sekhesa", "Lineo", "Nthati", "2011-07-23", "RL5550001", "Taken from Maseru by an uncle")
ACTION, CONTACT = "Keep the child safe at the post", "CGPU duty officer, 2231 7263"
EXPORTS = {"/reports/export/cases": {"format": "csv"}, "/reports/export/ctdc": {"k": "5"},
           "/reports/situation": {"audience": "internal", "k": "5", "format": "html"}}


def _protective_world():
    """The alert (a case victim, protective and discreet by default), a flag at MSB on a differently named traveller."""
    from screening.models import Crossing, Flag, PersonDocument
    from tests.cases.builders import NOW, add_victim, make_case
    from tests.screening.builders import post

    owner, team_manager = make_user("investigator"), make_user("manager")
    case = make_case(owner, title="Missing girl, Maseru", team=(team_manager,))
    person = add_victim(case, owner, surname="Sekhesa", given_names="Lineo", dob="2011-07-23").person
    person.need_to_know_roles, person.need_to_know_case_id, person.contact = "investigator", case.id, CONTACT
    person.alert_reason, person.officer_action = "Taken from Maseru by an uncle", ACTION
    person.source = "family_report"  # reported missing by her family, then a case: the search finds alerts
    person.aliases[:] = []
    from screening.models import PersonAlias

    person.aliases.append(PersonAlias(surname="Sekhesa", given_names="Nthati"))
    person.documents.append(PersonDocument(type="P", number="RL5550001", country="LSO"))
    crossing = Crossing(source="manual", external_id="ntk-1", border_post_id=post("MSB").id, direction="exit",
                        crossed_at=NOW, surname="Traveller", given_names="Unnamed", sex="F", created_at=NOW)
    db.session.add(crossing)
    db.session.flush()
    flag = Flag(crossing_id=crossing.id, person_id=person.id, border_post_id=crossing.border_post_id, score=0.91,
                priority="urgent", reason=person.alert_reason, action=ACTION, status="new", created_at=NOW,
                features=[{"name": "surname", "verdict": "agree", "score": 1.0, "contribution": 1.5,
                           "explanation": "Surname agrees exactly (weight +1.5)"}])
    db.session.add(flag)
    db.session.commit()
    return person, flag, team_manager


def _ntk_paths(person, flag):
    """(label, url, action, the page shows this person, expected to say whom to call when limited)."""
    return [("person page", f"/screening/persons/{person.id}", "poi.view", True, True),
            ("persons list", "/screening/persons", "poi.view", True, True),
            ("search", "/screening/persons?q=Sekhesa", "poi.view", True, True),
            ("global search", "/search?q=Sekhesa", "search.run", True, True),
            ("flag page", f"/screening/flags/{flag.id}", "flag.view", True, True),
            ("crossing page", f"/screening/crossings/{flag.crossing_id}", "crossing.view", True, True),
            ("queue", "/screening/queue", "flag.view", True, True)]


def _protected_views(person_id, outcome="poi.view_protected") -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == outcome, AuditEvent.object_id == str(person_id)))


@pytest.mark.parametrize("viewer", ["border_officer", "manager", "investigator", "manager_on_the_team"])
def test_protective_entries_are_need_to_know_on_every_path(app, client, viewer):
    """Generated from the policy: each path the viewer's role may open, in full only for those named."""
    person, flag, team_manager = _protective_world()
    user = team_manager if viewer == "manager_on_the_team" else make_user(viewer, post_code="MSB")
    named = viewer in ("investigator", "manager_on_the_team")  # by role, by the case team
    browser = login(client, user)
    checked, problems = 0, []
    for label, url, action, shows, calls in _ntk_paths(person, flag):
        if scope_for(user.role, action) is None:
            continue  # the role may not open this page at all (the matrix tests cover the 403)
        before, limited_before = _protected_views(person.id), _protected_views(person.id, "poi.view_limited")
        resp = browser.get(url)
        body = resp.get_data(as_text=True)
        checked += 1
        if resp.status_code != 200:
            problems.append((label, resp.status_code))
            continue
        # The search page echoes the viewer's own query ("Sekhesa"): that is not the entry speaking.
        leaked = [s for s in PROTECTED if s in (body.replace("Sekhesa", "") if "search" in label else body)]
        if named:
            if "Sekhesa Lineo" not in body and not (label == "flag page" and "Sekhesa" in body):
                problems.append((label, "named viewer does not see the name"))
            if _protected_views(person.id) != before + 1:
                problems.append((label, "full view without one poi.view_protected audit row"))
        else:
            if leaked:
                problems.append((label, "leaks", leaked))
            if calls and CONTACT not in body:
                problems.append((label, "does not say whom to call"))
            if label in ("person page", "flag page", "crossing page", "global search") and ACTION not in body:
                problems.append((label, "does not give the action"))
            if "search" in label and (f"/screening/persons/{person.id}\"" not in body or "estricted alert" not in body):
                problems.append((label, "a search does not say that an alert exists"))
            if _protected_views(person.id) != before:
                problems.append((label, "audited as a full view"))
            if shows and _protected_views(person.id, "poi.view_limited") != limited_before + 1:
                problems.append((label, "limited view not audited"))
    assert checked >= 3, checked
    assert not problems, problems
    if named:  # the explanations and the alert's reason are the named viewer's
        page = browser.get(f"/screening/flags/{flag.id}").get_data(as_text=True)
        assert "Surname agrees exactly" in page and "Taken from Maseru by an uncle" in page
        assert "Nthati" in browser.get(f"/screening/persons/{person.id}").get_data(as_text=True)
    else:
        edit = browser.get(f"/screening/persons/{person.id}/edit")
        assert edit.status_code in (403, 404) and not any(s in edit.get_data(as_text=True) for s in PROTECTED)


@pytest.mark.parametrize("viewer", ["manager", "manager_on_the_team"])
def test_exports_never_carry_a_protective_entry(app, client, viewer):
    """CSV (HTCDS), CTDC and the situation report: the victim is counted, never named, for anyone."""
    person, _, team_manager = _protective_world()
    user = team_manager if viewer == "manager_on_the_team" else make_user("manager")
    browser = login(client, user)
    for url, extra in EXPORTS.items():
        data = {"purpose": "Quarterly figures for the national committee", "start": "2026-01-01",
                "end": "2026-12-31", **extra}
        resp = browser.submit(url, data)
        body = resp.get_data(as_text=True)
        assert resp.status_code == 200, (url, resp.status_code, body[:300])
        assert not [s for s in PROTECTED if s in body], url
        if url.endswith("/cases"):
            assert "victim" in body and "Missing girl, Maseru" not in body  # the row is there, pseudonymous


def test_the_api_gives_border_systems_the_action_and_whom_to_call(app, client):
    person, flag, _ = _protective_world()
    from tests.factories import make_api_client

    _, token = make_api_client(post_code="MSB")
    before = _protected_views(person.id, "poi.view_limited")
    resp = client.get("/api/v1/flags", headers={"Authorization": f"Bearer {token}"})
    [body] = [f for f in resp.get_json()["flags"] if f["id"] == flag.id]
    assert body["restricted"] is True and body["action"] == ACTION and body["contact"] == CONTACT
    assert body["alert_kind"] == "protective" and body["discreet"] is True
    assert not [s for s in PROTECTED if s in resp.get_data(as_text=True)]
    assert body["explanations"] == [] and body["reason"] == ""
    assert _protected_views(person.id, "poi.view_limited") == before + 1


def test_partners_get_the_alert_the_action_and_whom_to_call_only(app, db_session):
    """flag.raised to a partner whose profile takes every field, identifying ones included."""
    from notifications.models import OutboxMessage
    from notifications.rules import ALL_FIELDS, render_text
    from screening import services as screening
    from tests.cases.builders import NOW
    from tests.notifications.builders import make_profile, subscribed
    from tests.screening.builders import make_person, new_crossing

    make_person("Sekhesa", "Lineo", dob="2011-07-23", documents=[("P", "RL5550001", "LSO")],
                reason="Taken from Maseru by an uncle", action=ACTION, contact=CONTACT,
                need_to_know_roles=["investigator"])
    subscribed("http://127.0.0.1:9/hook", event="flag.raised",
               profile=make_profile(ALL_FIELDS, identifying=True))
    screening.store_crossings([new_crossing(surname="Sekhesa", given_names="Lineo", dob="2011-07-23",
                                            document_number="RL5550001")], source="test", actor=None, now=NOW)
    db.session.commit()
    [msg] = db_session.execute(select(OutboxMessage).where(OutboxMessage.event == "flag.raised")).scalars().all()
    text = "\n".join(render_text(msg.payload)) + str(msg.payload)
    assert msg.payload["kind"] == "protective" and msg.payload["priority"] in ("urgent", "high")
    assert ACTION in msg.payload["expected_action"] and CONTACT in msg.payload["expected_action"]
    assert not [s for s in PROTECTED if s in text]


def test_confirmed_flags_waiting_for_a_case_keep_the_alert_need_to_know(app, client):
    """The cases index lists confirmed flags without a case: the person's name only for those named."""
    _, flag, team_manager = _protective_world()
    flag.status = "confirmed"
    db.session.commit()
    outsider = login(client, make_user("manager")).get("/cases/").get_data(as_text=True)
    assert f"flag={flag.id}" in outsider and "Restricted alert" in outsider
    assert not [s for s in PROTECTED if s in outsider]
    named = login(app.test_client(), team_manager).get("/cases/").get_data(as_text=True)
    assert f"flag={flag.id}" in named and "Sekhesa Lineo" in named
