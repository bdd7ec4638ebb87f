"""Sign-in answers that confirm no username, and second-factor enrolment that needs more than the password."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import func, select

from tests import factories
from tests.conftest import Browser
from tip_cases import accounts
from tip_cases.extensions import db, utcnow
from tip_cases.models import AuditEvent, LoginThrottle, User

FLASH_RE = re.compile(r'<div class="alert[^"]*"[^>]*>(.*?)</div>', re.S)


def _login_answer(client, username: str, password: str) -> tuple[int, str]:
    """The status and the flashed message of one sign-in attempt, as a browser would see them."""
    resp = Browser(client).submit("/login", {"username": username, "password": password}, follow_redirects=True)
    body = resp.get_data(as_text=True)
    messages = [re.sub(r"<[^>]+>|\s+", " ", m).strip() for m in FLASH_RE.findall(body)]
    return resp.status_code, " | ".join(messages)


def test_locked_unknown_and_wrong_password_answers_are_identical(client, app):
    locked = factories.make_user("manager")
    plain = factories.make_user("manager")
    for _ in range(5):
        _login_answer(client, locked.username, "wrong-password-123")
    db.session.refresh(locked)
    assert locked.locked_until is not None  # the lock is on
    answers = {
        "locked, right password": _login_answer(client, locked.username, factories.PASSWORD),
        "locked, wrong password": _login_answer(client, locked.username, "wrong-password-123"),
        "wrong password": _login_answer(client, plain.username, "wrong-password-123"),
        "unknown user": _login_answer(client, "no.such.user", "wrong-password-123"),
    }
    assert len(set(answers.values())) == 1, answers
    status, message = answers["unknown user"]
    assert status == 200 and "Invalid username or password" in message and "locked" in message
    assert locked.username not in message


def test_unknown_usernames_are_counted_like_real_ones(client, app):
    for _ in range(3):
        _login_answer(client, "Ghost.User", "wrong-password-123")
    rows = db.session.execute(select(LoginThrottle)).scalars().all()
    assert [r.failures for r in rows] == [3]
    assert "ghost" not in rows[0].key  # a digest, not the typed name
    for _ in range(2):
        _login_answer(client, "ghost.user ", "wrong-password-123")  # the same name, as the login normalises it
    row = db.session.execute(select(LoginThrottle)).scalar_one()
    assert row.locked_until is not None and row.locked_until > utcnow() + timedelta(minutes=14)
    denied = db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "auth.login", AuditEvent.outcome == "denied"))
    assert denied == 5


def _start_enrolment(client, user) -> tuple[Browser, str]:
    b = Browser(client)
    resp = b.submit("/login", {"username": user.username, "password": factories.PASSWORD})
    assert "/login/enrol" in resp.headers["Location"]
    page = client.get("/login/enrol").get_data(as_text=True)
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page).group(1)
    return b, secret


def test_password_alone_cannot_enrol_a_new_authenticator(client, app):
    user = factories.make_user("investigator", totp=False)
    accounts.issue_enrolment_code(user, now=utcnow())
    db.session.commit()
    b, secret = _start_enrolment(client, user)
    resp = b.submit("/login/enrol", {"code": pyotp.TOTP(secret).now()})  # no enrolment code
    assert resp.status_code == 200
    resp = b.submit("/login/enrol", {"enrolment_code": "AAAAA-AAAAA", "code": pyotp.TOTP(secret).now()})
    assert resp.status_code == 200 and "enrolment code is not correct" in resp.get_data(as_text=True)
    assert db.session.get(User, user.id).totp_secret is None
    assert client.get("/").status_code == 302


def test_failed_enrolment_codes_count_toward_the_lockout(client, app):
    user = factories.make_user("investigator", totp=False)
    code = accounts.issue_enrolment_code(user, now=utcnow())
    db.session.commit()
    b, secret = _start_enrolment(client, user)
    for _ in range(3):
        b.submit("/login/enrol", {"enrolment_code": "AAAAA-AAAAA", "code": pyotp.TOTP(secret).now()})
    for _ in range(2):  # the right enrolment code with a wrong authenticator code counts too
        b.submit("/login/enrol", {"enrolment_code": code, "code": "000000"})
    db.session.refresh(user)
    assert user.locked_until is not None and user.locked_until > utcnow()
    # Locked: even both right codes are refused now.
    resp = b.submit("/login/enrol", {"enrolment_code": code, "code": pyotp.TOTP(secret).now()}, page="/login")
    assert db.session.get(User, user.id).totp_secret is None
    assert client.get("/").status_code == 302
    reasons = db.session.execute(select(AuditEvent.detail).where(
        AuditEvent.action == "auth.login", AuditEvent.outcome == "denied", AuditEvent.object_id == str(user.id))
    ).scalars().all()
    assert sum("enrolment code" in (d or {}).get("reason", "") for d in reasons) == 3
    assert sum("enrolment TOTP" in (d or {}).get("reason", "") for d in reasons) == 2
    assert resp.status_code in (200, 302)


def test_expired_enrolment_code_is_refused(client, app):
    user = factories.make_user("investigator", totp=False)
    code = accounts.issue_enrolment_code(user, now=utcnow() - timedelta(hours=73))
    db.session.commit()
    b, secret = _start_enrolment(client, user)
    resp = b.submit("/login/enrol", {"enrolment_code": code, "code": pyotp.TOTP(secret).now()})
    assert resp.status_code == 200 and "expired" in resp.get_data(as_text=True)
    assert db.session.get(User, user.id).totp_secret is None


@pytest.mark.parametrize("how", ["admin-create", "admin-reset", "cli-create"])
def test_enrolment_code_is_issued_once_and_stored_hashed(client, app, runner, how):
    if how == "cli-create":
        result = runner.invoke(args=["users", "create", "n.new", "--role", "investigator"],
                               input=factories.PASSWORD + "\n")
        assert result.exit_code == 0, result.output
        code = re.search(r"Enrolment code .*: ([A-Z0-9-]+)$", result.output.strip()).group(1)
        user = db.session.execute(select(User).where(User.username == "n.new")).scalar_one()
    else:
        admin = factories.make_user("admin")
        from tests.conftest import login

        b = login(client, admin)
        if how == "admin-create":
            resp = b.submit("/admin/users/new", {"username": "n.new", "password": factories.PASSWORD,
                                                 "role": "investigator", "post": "", "full_name": "N New"})
            user = db.session.execute(select(User).where(User.username == "n.new")).scalar_one()
        else:
            user = factories.make_user("investigator")
            resp = b.submit(f"/admin/users/{user.id}/reset-mfa", page=f"/admin/users/{user.id}")
        assert resp.status_code == 200, resp.status_code
        code = re.search(r'data-testid="enrolment-code">([A-Z0-9-]+)<', resp.get_data(as_text=True)).group(1)
        assert code not in (client.get_cookie("tsela_session").value or "")
    db.session.refresh(user)
    assert user.totp_secret is None and code not in user.enrolment_code_hash
    assert user.enrolment_code_expires_at > utcnow() + timedelta(hours=71)
    # The code enrols a new authenticator exactly once.
    b, secret = _start_enrolment(app.test_client(), user)
    resp = b.submit("/login/enrol", {"enrolment_code": code, "code": pyotp.TOTP(secret).now()})
    assert resp.status_code == 302 and "/login" not in resp.headers["Location"]
    db.session.refresh(user)
    assert user.totp_secret == secret and user.enrolment_code_hash is None


def test_every_failed_sign_in_costs_one_argon2_verification(client, app, monkeypatch):
    """Same work for an unknown user, a wrong password and a locked account: timing confirms no username."""
    from tip_cases import security

    calls = []
    real = security.verify_password
    monkeypatch.setattr(accounts, "verify_password", lambda h, p: calls.append(h) or real(h, p))
    locked = factories.make_user("manager")
    locked.locked_until = utcnow() + timedelta(minutes=10)
    plain = factories.make_user("manager")
    db.session.commit()
    for username, password in [("no.such.user", "wrong-password-123"), (plain.username, "wrong-password-123"),
                               (locked.username, factories.PASSWORD), (locked.username, "wrong-password-123")]:
        calls.clear()
        _login_answer(client, username, password)
        assert len(calls) == 1, (username, calls)
