"""Authorisation tests generated from the policy table and the app's URL map."""

from __future__ import annotations

import pytest

from tests import factories
from tip_cases.access import POLICY, scope_for

PUBLIC_ENDPOINTS = {"static", "auth.login", "auth.second_factor", "auth.enrol", "main.health",
                    "bootstrap.static"}
# Public by signature, not by session: a partner's signed, expiring acknowledgement link; the demo
# webhook receiver (authenticity is the Standard Webhooks signature); the partner API, which
# authenticates agencies with their own token (partners are neither users nor border systems).
# The language switch is offered on the sign-in page, before anyone is signed in; it reads and changes
# nothing but the visitor's own session (and, when signed in, their own account).
PUBLIC_ENDPOINTS |= {"auth.language"}
PUBLIC_ENDPOINTS |= {"notifications.ack_link", "notifications.receiver", "notifications_api.api_ack"}


def _rules(app):
    return [r for r in app.url_map.iter_rules() if r.endpoint not in PUBLIC_ENDPOINTS]


def _sample_url(rule) -> str:
    values = {}
    for arg in rule.arguments:
        conv = rule._converters[arg].__class__.__name__
        values[arg] = 1 if "Integer" in conv else ("deactivate" if "Any" in conv else "x1")
    from flask import url_for

    return url_for(rule.endpoint, **values)


def test_every_non_public_route_declares_a_policy_action(app):
    missing = []
    for rule in _rules(app):
        view = app.view_functions[rule.endpoint]
        if rule.endpoint.startswith("api.") and getattr(view, "required_action", None) is None:
            # API routes authenticate by token; they must still declare an action.
            missing.append(rule.endpoint)
        elif not rule.endpoint.startswith("api.") and getattr(view, "required_action", None) is None \
                and rule.endpoint != "auth.logout":
            missing.append(rule.endpoint)
    assert not missing, f"routes without a policy action: {missing}"
    for rule in _rules(app):
        action = getattr(app.view_functions[rule.endpoint], "required_action", None)
        assert action is None or action in POLICY


def test_anonymous_is_denied_everywhere(app, client):
    for rule in _rules(app):
        url = _sample_url(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            resp = client.open(url, method=method)
            if rule.endpoint.startswith("api."):
                assert resp.status_code == 401, (method, url, resp.status_code)
            else:
                # A form POST without a CSRF token is refused before anything else (400).
                assert resp.status_code in (302, 400), (method, url, resp.status_code)
                if resp.status_code == 302:
                    assert "/login" in resp.headers["Location"]


def test_health_check_is_public(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.get_json() == {"status": "ok", "database": True}


@pytest.mark.parametrize("role", ["border_officer", "investigator", "manager", "admin"])
def test_role_matrix_for_parameterless_pages(app, client, login_as, role):
    """Each role reaches exactly the GET pages whose action the policy grants it."""
    browser = login_as(role)
    for rule in _rules(app):
        if rule.arguments or "GET" not in rule.methods or rule.endpoint.startswith("api."):
            continue
        action = getattr(app.view_functions[rule.endpoint], "required_action", None)
        if action is None:
            continue
        resp = browser.get(_sample_url(rule))
        allowed = scope_for(role, action) is not None
        if allowed:
            assert resp.status_code in (200, 302), (role, rule.rule, resp.status_code)
            if resp.status_code == 302:
                assert "/login" not in resp.headers["Location"]
        else:
            assert resp.status_code == 403, (role, rule.rule, resp.status_code)


def test_navigation_shows_only_allowed_entries(app, client, login_as):
    page = login_as("border_officer").get("/").get_data(as_text=True)
    assert 'href="/admin/users"' not in page and 'href="/admin/audit"' not in page
    factories_admin = login_as  # noqa: F841
    client2 = app.test_client()
    from tests.conftest import login

    admin = factories.make_user("admin")
    page = login(client2, admin).get("/").get_data(as_text=True)
    assert 'href="/admin/users"' in page and 'href="/admin/audit"' in page


def test_denied_access_is_audited(app, client, login_as):
    from sqlalchemy import select

    from tip_cases.extensions import db
    from tip_cases.models import AuditEvent

    login_as("border_officer").get("/admin/users")
    row = db.session.execute(select(AuditEvent).where(AuditEvent.outcome == "denied")).scalars().first()
    assert row is not None and row.action == "user.manage"


def test_every_role_that_reaches_a_person_of_interest_is_bound_by_need_to_know():
    """Generated from the table: whoever may open a page showing a person of interest (a flag, a crossing,
    the person) sees a protective or discreet one in full only where named: no role has it for `all`."""
    roles = {r for action in ("poi.view", "flag.view", "crossing.view") for r in POLICY[action]}
    assert roles >= {"border_officer", "investigator", "manager", "system"}
    assert {r: scope_for(r, "poi.view_protected") for r in roles} == dict.fromkeys(roles, "named")
    assert "all" not in POLICY["poi.view_protected"].values()


def test_named_scope_follows_the_alert(app, db_session):
    """The `named` scope on a person: its roles (default investigators and managers), its case's team."""
    from screening.models import Person, sees_in_full
    from tests.cases.builders import make_case
    from tests.screening.builders import make_person
    from tip_cases.access import scope_filter
    from tip_cases.extensions import db

    officer, inv, mgr = (factories.make_user(r) for r in ("border_officer", "investigator", "manager"))
    team_officer = factories.make_user("border_officer")
    case = make_case(inv, team=(team_officer,))
    default = make_person("Sekhesa", "Lineo")
    officers = make_person("Mokoena", "Palesa", need_to_know_roles=["border_officer"])
    suspect = make_person("Letsie", "Teboho", alert_kind="suspect", discreet=False)
    teamed = make_person("Ntho", "Lerato", need_to_know_roles=["manager"])
    teamed.need_to_know_case_id = case.id
    db.session.commit()
    expected = {officer: {suspect.id, officers.id}, team_officer: {suspect.id, officers.id, teamed.id},
                inv: {suspect.id, default.id, teamed.id}, mgr: {suspect.id, default.id, teamed.id}}
    everyone = (default, officers, suspect, teamed)
    for user, ids in expected.items():
        assert {p.id for p in everyone if sees_in_full(user, p)} == ids, user.role
        listed = set(db.session.scalars(db.select(Person.id).where(scope_filter(user, "poi.view_protected", Person))))
        assert listed == ids, user.role  # the query scoping agrees with the record check
