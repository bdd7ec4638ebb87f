"""Audit of person-record views, CSRF on every form route, security headers, evidence download headers."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import login
from tests.factories import make_user
from tests.security.builders import make_world
from tip_cases.extensions import db
from tip_cases.models import AuditEvent

# Routes that show a person's record, the audit object type they must write, and the world id they name.
PERSON_VIEWS = [
    ("/screening/persons/{person}", "person", "person"),
    ("/screening/persons/{person}/edit", "person", "person"),
    ("/screening/crossings/{crossing}", "crossing", "crossing"),
    ("/screening/flags/{flag}", "flag", "flag"),
    ("/tracing/travellers/{traveller}", "traveller", "traveller"),
    ("/cases/persons/{case_person}", "case_person", "case_person"),
    ("/cases/{case}", "case", "case"),
    ("/cases/{case}/timeline", "case", "case"),
    ("/cases/evidence/{evidence}", "evidence", "evidence"),
]
LIST_VIEWS = [("/screening/queue", "flag.list"), ("/screening/crossings", "crossing.list"),
              ("/screening/persons", "poi.list"), ("/tracing/travellers", "traveller.list")]


def _audit_rows(object_type=None, object_id=None, action=None):
    stmt = select(AuditEvent).where(AuditEvent.outcome == "allowed")
    if object_type:
        stmt = stmt.where(AuditEvent.object_type == object_type)
    if object_id is not None:
        stmt = stmt.where(AuditEvent.object_id == str(object_id))
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    return db.session.execute(stmt).scalars().all()


@pytest.mark.parametrize("template,object_type,key", PERSON_VIEWS)
def test_viewing_a_person_record_writes_an_audit_row(app, client, template, object_type, key):
    world = make_world(app)
    # The case owner can see the case side; a manager sees every screening record.
    user = world.users["owner"] if object_type in ("case", "case_person", "evidence") else make_user("manager")
    browser = login(client, user)
    # A protective or discreet person of interest also gets its need-to-know row (poi.view_protected or
    # poi.view_limited, tests/security/test_idor.py); here: exactly one view row for the page itself.
    def view_rows():
        return [r for r in _audit_rows(object_type, world.ids[key]) if not r.action.startswith("poi.view_")]

    before = len(view_rows())
    resp = browser.get(template.format(**world.ids))
    resp.close()
    assert resp.status_code == 200
    rows = view_rows()
    assert len(rows) == before + 1
    assert rows[-1].actor_user_id == user.id
    # ids only: no names or document numbers in what the audit keeps
    text = str(rows[-1].detail or "")
    assert "Mokoena" not in text and "Letsie" not in text and "RB7654321" not in text


@pytest.mark.parametrize("url,action", LIST_VIEWS)
def test_lists_of_person_records_are_audited_with_the_ids_shown(app, client, url, action):
    world = make_world(app)
    browser = login(client, make_user("manager"))
    assert browser.get(url + "?status=all").status_code == 200
    [row] = _audit_rows(action=action)
    assert row.detail["ids"], row.detail
    if action == "flag.list":
        assert world.ids["flag"] in row.detail["ids"]


def test_every_form_route_refuses_a_post_without_its_csrf_token(app, client):
    """Signed in (so the login redirect cannot hide a missing check), every state change needs the token."""
    from flask import url_for

    from tests.security.test_no_500 import ARG_IDS

    world = make_world(app)
    browser = login(client, make_user("admin"))
    # Exempt by design: token-authenticated APIs and signature-authenticated partner endpoints.
    exempt = {"notifications.receiver", "notifications.ack_link", "notifications_api.api_ack", "auth.logout"}
    checked = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in exempt or rule.endpoint.startswith("api."):
            continue
        for method in sorted(rule.methods & {"POST", "PATCH", "PUT", "DELETE"}):
            values = {a: world.ids.get(ARG_IDS.get(a, ""), 1) for a in rule.arguments}
            values |= {a: "deactivate" for a in rule.arguments if a == "op"}
            values |= {a: "cases" for a in rule.arguments if a == "key"}
            url = url_for(rule.endpoint, **values)
            body = {"json": {"version": 1}} if method == "PATCH" else {"data": {"anything": "1"}}
            resp = browser.client.open(url, method=method, **body)
            checked.append(rule.endpoint)
            assert resp.status_code == 400, (method, url, resp.status_code)
            assert "Form expired" in resp.get_data(as_text=True) or resp.get_json() == {"error": "csrf", **(
                {"message": resp.get_json().get("message")} if resp.is_json else {})}, (method, url)
    assert len(checked) > 40


def test_logout_needs_the_csrf_token(app, client):
    browser = login(client, make_user("investigator"))
    assert browser.client.post("/logout").status_code == 400
    assert browser.get("/").status_code == 200  # still signed in


def _assert_headers(resp, where):
    h = resp.headers
    assert "default-src" in h.get("Content-Security-Policy", ""), where
    assert h.get("X-Content-Type-Options") == "nosniff", where
    assert h.get("X-Frame-Options") == "DENY", where
    assert h.get("Referrer-Policy"), where


def test_security_headers_on_every_kind_of_page(app, client):
    world = make_world(app)
    _assert_headers(client.get("/login"), "login")
    _assert_headers(client.get("/healthz"), "health")
    resp = client.get("/static/app.css")
    resp.close()
    _assert_headers(resp, "static")
    _assert_headers(client.get("/api/v1/flags"), "api 401")
    resp = client.get("/api/v1/flags", headers={"Authorization": f"Bearer {world.tokens['MSB']}"})
    _assert_headers(resp, "api json")
    assert resp.headers["Cache-Control"] == "no-store"
    officer = login(client, make_user("border_officer"))
    for url in ("/", "/screening/queue", "/nowhere", "/admin/users", f"/screening/flags/{world.ids['flag']}"):
        resp = officer.get(url)
        _assert_headers(resp, url)
        assert resp.headers.get("Cache-Control") == "no-store", url


def test_evidence_download_is_an_attachment_that_cannot_be_sniffed_or_run(app, client):
    world = make_world(app)
    browser = login(client, world.users["owner"])
    resp = browser.get(f"/cases/evidence/{world.ids['evidence']}")
    assert resp.status_code == 200 and resp.get_data() == b"evidence text"
    resp.close()
    assert resp.headers["Content-Disposition"].startswith("attachment")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in resp.headers["Content-Security-Policy"]
    assert resp.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("target", ["//evil.example/", "/\\evil.example", "/\t/evil.example", "/\n/evil.example",
                                    "https://evil.example/", "javascript:alert(1)", "/%2F%2Fevil.example"])
def test_login_next_never_leaves_the_site(app, client, target):
    from tip_cases.security import is_safe_next

    with app.test_request_context("/login"):
        assert not is_safe_next(target) or target == "/%2F%2Fevil.example"  # encoded slashes stay a local path


def test_a_denied_edit_of_a_case_person_is_audited(app, client):
    world = make_world(app)
    browser = login(client, make_user("admin"))  # may view every case, may not edit one
    page = browser.get(f"/cases/persons/{world.ids['case_person']}")
    assert page.status_code == 200
    from tests.conftest import csrf_from

    resp = browser.client.post(f"/cases/persons/{world.ids['case_person']}",
                               data={"csrf_token": csrf_from(page.get_data(as_text=True)), "version": "1"})
    assert resp.status_code == 403
    row = db.session.execute(select(AuditEvent).where(AuditEvent.outcome == "denied")
                             .order_by(AuditEvent.id.desc())).scalars().first()
    assert (row.action, row.object_type, row.object_id) == ("case.edit", "case_person", str(world.ids["case_person"]))
