"""Record-level access, generated from the URL map: out-of-scope records answer like missing ones, audited.

A role with no scope for an action gets 403 (that says nothing about any record); a role with a scope
gets 404 for a record outside it, exactly as for an id that does not exist, so ids cannot be probed.
"""

from __future__ import annotations

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
        assert forbidden.get_data(as_text=True) == missing.get_data(as_text=True), pattern


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
