"""Sign-in with password and TOTP, lockout, session revocation and safe redirects."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests import factories
from tests.conftest import Browser, login
from tip_cases.extensions import db, utcnow
from tip_cases.models import AuditEvent, User, UserSession


def test_login_requires_password_then_second_factor(client, app):
    user = factories.make_user("investigator")
    b = Browser(client)
    resp = b.submit("/login", {"username": user.username, "password": factories.PASSWORD})
    assert resp.status_code == 302 and "/login/verify" in resp.headers["Location"]
    # Password alone does not give access.
    assert client.get("/").status_code == 302
    resp = b.submit("/login/verify", {"code": "000000"})
    assert "not valid" in resp.get_data(as_text=True)
    resp = b.submit("/login/verify", {"code": factories.next_totp(user)})
    assert resp.status_code == 302
    home = client.get("/")
    assert home.status_code == 200
    assert "Investigations" in home.get_data(as_text=True)


def test_wrong_password_is_generic_and_audited(client, app):
    user = factories.make_user("manager")
    b = Browser(client)
    resp = b.submit("/login", {"username": user.username, "password": "wrong-password-123"}, follow_redirects=True)
    assert "Invalid username or password" in resp.get_data(as_text=True)
    resp = b.submit("/login", {"username": "nobody", "password": "wrong-password-123"}, follow_redirects=True)
    assert "Invalid username or password" in resp.get_data(as_text=True)
    denied = db.session.execute(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "auth.login", AuditEvent.outcome == "denied")).scalar()
    assert denied == 2


def test_lockout_after_five_failures_even_with_right_password(client, app):
    user = factories.make_user("manager")
    b = Browser(client)
    for _ in range(5):
        b.submit("/login", {"username": user.username, "password": "wrong-password-123"})
    db.session.refresh(user)
    assert user.locked_until is not None and user.locked_until > utcnow() + timedelta(minutes=14)
    resp = b.submit("/login", {"username": user.username, "password": factories.PASSWORD}, follow_redirects=True)
    assert "locked" in resp.get_data(as_text=True).lower()
    # After the lock expires the right password works again.
    user.locked_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    login(client, user)
    assert client.get("/").status_code == 200


def test_logout_revokes_the_session_cookie(client, app):
    user = factories.make_user("investigator")
    b = login(client, user)
    cookie = client.get_cookie("tsela_session").value
    b.submit("/logout", page="/")
    assert client.get("/").status_code == 302
    # Replaying the old cookie does not bring the session back.
    replay = app.test_client()
    replay.set_cookie("tsela_session", cookie, domain="localhost")
    resp = replay.get("/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


@pytest.mark.parametrize("how", ["password", "deactivate"])
def test_password_change_and_deactivation_end_sessions(client, app, how):
    user = factories.make_user("investigator")
    other = app.test_client()
    login(other, user)
    assert other.get("/").status_code == 200
    if how == "password":
        b = login(client, user)
        resp = b.submit("/account/password", {"current_password": factories.PASSWORD,
                                              "new_password": "a-brand-new-Passphrase-42"})
        assert resp.status_code == 302
    else:
        admin = factories.make_user("admin")
        b = login(client, admin)
        resp = b.submit(f"/admin/users/{user.id}/deactivate", page=f"/admin/users/{user.id}")
        assert resp.status_code == 302
        assert db.session.get(User, user.id).active is False
    assert other.get("/").status_code == 302
    live = db.session.execute(select(func.count()).select_from(UserSession).where(
        UserSession.user_id == user.id, UserSession.revoked_at.is_(None))).scalar()
    assert live == 0


def test_idle_timeout_ends_session(client, app):
    user = factories.make_user("investigator")
    login(client, user)
    us = db.session.execute(select(UserSession).where(UserSession.user_id == user.id)).scalar_one()
    us.last_seen_at = utcnow() - timedelta(minutes=31)
    db.session.commit()
    assert client.get("/").status_code == 302


def test_absolute_lifetime_ends_session(client, app):
    user = factories.make_user("investigator")
    login(client, user)
    us = db.session.execute(select(UserSession).where(UserSession.user_id == user.id)).scalar_one()
    us.created_at = utcnow() - timedelta(hours=8, minutes=1)
    db.session.commit()
    assert client.get("/").status_code == 302


def test_totp_code_cannot_be_replayed(client, app):
    user = factories.make_user("investigator")
    code = factories.next_totp(user)
    b = Browser(client)
    b.submit("/login", {"username": user.username, "password": factories.PASSWORD})
    assert b.submit("/login/verify", {"code": code}).status_code == 302
    other = Browser(app.test_client())
    other.submit("/login", {"username": user.username, "password": factories.PASSWORD})
    resp = other.submit("/login/verify", {"code": code})
    assert resp.status_code == 200 and "already used" in resp.get_data(as_text=True)


def test_first_login_enrols_second_factor(client, app):
    import pyotp

    from tip_cases import accounts

    user = factories.make_user("manager", totp=False)
    enrolment_code = accounts.issue_enrolment_code(user, now=utcnow())
    b = Browser(client)
    resp = b.submit("/login", {"username": user.username, "password": factories.PASSWORD})
    assert "/login/enrol" in resp.headers["Location"]
    page = client.get("/login/enrol").get_data(as_text=True)
    assert "<svg" in page
    import re

    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page).group(1)
    resp = b.submit("/login/enrol", {"enrolment_code": enrolment_code.lower(), "code": pyotp.TOTP(secret).now()})
    assert resp.status_code == 302
    assert db.session.get(User, user.id).totp_secret == secret
    assert db.session.get(User, user.id).enrolment_code_hash is None  # the code works once
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("target,expected", [
    ("/admin/audit", "/admin/audit"),
    ("https://evil.example/", "/"),
    ("//evil.example/x", "/"),
    ("/\\evil.example", "/"),
    ("javascript:alert(1)", "/"),
    ("/%0d%0aSet-Cookie:x=1", "/"),
    ("/cases/%0aX-Injected:1", "/"),
    ("/%2F%2Fevil.example/", "/"),
    ("/%5Cevil.example", "/"),
])
def test_next_only_redirects_to_local_paths(client, app, target, expected):
    user = factories.make_user("admin")
    b = Browser(client)
    resp = b.submit(f"/login?next={target}", {"username": user.username, "password": factories.PASSWORD},
                    page="/login")
    verify_url = resp.headers["Location"]
    resp = b.submit(verify_url, {"code": factories.next_totp(user)})
    location = resp.headers["Location"]
    assert location.endswith(expected) and "evil" not in location and "javascript" not in location
    assert "Set-Cookie" not in location and "Injected" not in location
    assert client.get_cookie("x") is None


def test_password_policy_rejects_short_and_common(client, app):
    user = factories.make_user("investigator")
    b = login(client, user)
    for bad, message in [("short", "at least 12"), ("password1234", "commonly used")]:
        resp = b.submit("/account/password", {"current_password": factories.PASSWORD, "new_password": bad})
        assert resp.status_code == 200 and message in resp.get_data(as_text=True)


def test_login_without_csrf_token_is_refused(client, app):
    user = factories.make_user("investigator")
    resp = client.post("/login", data={"username": user.username, "password": factories.PASSWORD})
    assert resp.status_code == 400
    assert "Form expired" in resp.get_data(as_text=True)
