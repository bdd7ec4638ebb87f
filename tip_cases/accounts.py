"""Account services: users, login with lockout, second factor, server-side sessions, API clients.

Services take explicit arguments (`now`, the acting user) and raise AccountError; callers commit.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from screening.engine.phrases import say
from tip_cases import audit
from tip_cases.extensions import db
from tip_cases.models import ApiClient, BorderPost, LoginThrottle, Role, User, UserSession
from tip_cases.security import (
    DUMMY_HASH,
    check_password_policy,
    hash_password,
    new_api_token,
    new_totp_secret,
    token_digest,
    totp_step_if_valid,
    verify_password,
)


class AccountError(ValueError):
    """A refusal the user can read; `field` names the form field at fault when there is one."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


@dataclass
class LoginSettings:
    threshold: int = 5
    lock_for: timedelta = timedelta(minutes=15)
    min_password_length: int = 12
    enrolment_code_lifetime: timedelta = timedelta(hours=72)


def failed_login_message(settings: LoginSettings) -> str:
    """One answer for a wrong password, an unknown username and a locked account, so none is confirmed."""
    minutes = max(1, int(settings.lock_for.total_seconds() // 60))
    return (f"Invalid username or password. After {settings.threshold} failed attempts an account is "
            f"locked for {minutes} minutes.")


def find_post(code_or_name: str | None) -> BorderPost | None:
    """A post by its code or its name, any case."""
    if not code_or_name:
        return None
    key = code_or_name.strip().lower()
    return db.session.execute(
        select(BorderPost).where((db.func.lower(BorderPost.code) == key) | (db.func.lower(BorderPost.name) == key))
    ).scalar_one_or_none()


def create_user(username: str, password: str, role: str, *, post_code: str | None = None, full_name: str = "",
                email: str | None = None, phone: str | None = None, totp_secret: str | None = None,
                min_length: int = 12) -> User:
    username = (username or "").strip().lower()
    if not username or len(username) > 64 or not all(c.isalnum() or c in "._-" for c in username):
        raise AccountError(say("Username must be letters, digits, dots, dashes or underscores."), "username")
    if role not in {r.value for r in Role} or role == Role.SYSTEM:
        raise AccountError(say("Unknown role {role}; API clients are made with `api-tokens create`.", role=repr(role)),
                           "role")
    if db.session.execute(select(User.id).where(User.username == username)).first():
        raise AccountError(say("User {username} already exists.", username=repr(username)), "username")
    post = None
    if role == Role.BORDER_OFFICER:
        post = find_post(post_code)
        if post is None:
            raise AccountError(say("A border officer must be bound to a known border post (--post CODE)."), "post")
    elif post_code:
        post = find_post(post_code)
        if post is None:
            raise AccountError(say("Unknown border post {post_code}.", post_code=repr(post_code)), "post")
    try:
        check_password_policy(password, username=username, min_length=min_length)
    except ValueError as exc:
        raise AccountError(exc.args[0], "password") from exc  # keeps the Phrase
    user = User(username=username, role=role, border_post=post, full_name=full_name, email=email, phone=phone,
                password_hash=hash_password(password), totp_secret=totp_secret)
    db.session.add(user)
    db.session.flush()
    audit.record("user.create", "user", user.id, detail={"role": role, "post": post.code if post else None})
    return user


def authenticate(username: str, password: str, *, now: datetime, settings: LoginSettings) -> User:
    """Check a password; failures are counted in the database so the lockout holds across workers.

    A wrong password, an unknown username and a locked account get the same answer after the same
    work (one argon2 verification, then the failure counted or audited), so the sign-in page confirms
    no username.
    """
    name = (username or "").strip().lower()
    user = db.session.execute(select(User).where(User.username == name)).scalar()
    generic = AccountError(failed_login_message(settings))
    if user is None:
        verify_password(DUMMY_HASH, password or "")
        _count_unknown(name, now=now, settings=settings)
        audit.record("auth.login", "user", None, outcome="denied", detail={"reason": "unknown user"},
                     actor=(None, "anonymous"))
        raise generic
    locked = user.locked_until is not None and user.locked_until > now
    # A locked account verifies against the dummy hash: the right password must not answer faster or differently.
    good = verify_password(DUMMY_HASH if locked else user.password_hash, password or "") and not locked
    if locked:
        audit.record("auth.login", "user", user.id, outcome="denied", detail={"reason": "locked"},
                     actor=(user.id, user.username))
        raise generic
    if not good:
        register_failure(user, now=now, settings=settings, reason="bad password")
        raise generic
    if not user.active:
        audit.record("auth.login", "user", user.id, outcome="denied", detail={"reason": "deactivated"},
                     actor=(user.id, user.username))
        raise AccountError(say("This account is deactivated."))
    return user


def _count_unknown(name: str, *, now: datetime, settings: LoginSettings) -> None:
    """Count a failed sign-in for a username that does not exist, as register_failure does for real ones."""
    key = hashlib.sha256(("login:" + name).encode()).hexdigest()
    # Rows for usernames nobody tried lately are noise: forget them once any lock would have expired.
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.updated_at < now - 2 * settings.lock_for))
    # Insert-if-missing that two workers may race on: ON CONFLICT DO NOTHING on both backends.
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    db.session.execute(insert(LoginThrottle).values(key=key, failures=0, updated_at=now)
                       .on_conflict_do_nothing(index_elements=["key"]))
    row = db.session.get(LoginThrottle, key)
    db.session.execute(update(LoginThrottle).where(LoginThrottle.key == key)
                       .values(failures=LoginThrottle.failures + 1, updated_at=now))
    db.session.refresh(row)
    if row.failures >= settings.threshold:
        row.failures = 0
        row.locked_until = now + settings.lock_for


def register_failure(user: User, *, now: datetime, settings: LoginSettings, reason: str) -> None:
    # Atomic increment: two workers failing at once both count.
    db.session.execute(update(User).where(User.id == user.id).values(failed_logins=User.failed_logins + 1))
    db.session.refresh(user, ["failed_logins"])
    if user.failed_logins >= settings.threshold:
        user.locked_until = now + settings.lock_for
        user.failed_logins = 0
        reason += "; account locked"
    audit.record("auth.login", "user", user.id, outcome="denied", detail={"reason": reason},
                 actor=(user.id, user.username))


def verify_second_factor(user: User, code: str, *, now: datetime, settings: LoginSettings) -> None:
    if not user.totp_secret:
        raise AccountError(say("No second factor enrolled."))
    step = totp_step_if_valid(user.totp_secret, code, user.totp_last_step, now=now.timestamp())
    if step is None:
        register_failure(user, now=now, settings=settings, reason="bad second factor")
        raise AccountError(say("That code is not valid (or was already used). Enter the current 6-digit code."), "code")
    user.totp_last_step = step


def start_enrolment() -> str:
    return new_totp_secret()


def _new_enrolment_code() -> str:
    """Ten characters from an alphabet without look-alikes (about 50 bits), grouped for reading aloud."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    raw = "".join(secrets.choice(alphabet) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def _normal_code(code: str | None) -> str:
    return "".join(c for c in (code or "").upper() if c.isalnum())


def issue_enrolment_code(user: User, *, now: datetime, lifetime: timedelta = timedelta(hours=72)) -> str:
    """A one-time code that, with the password, lets `user` enrol a new authenticator; shown once, kept hashed.

    The password alone must not be enough: whoever learnt it could otherwise bind their own
    authenticator to an account that has none (a new account, or one whose second factor was reset).
    """
    code = _new_enrolment_code()
    user.enrolment_code_hash = hash_password(_normal_code(code))
    user.enrolment_code_expires_at = now + lifetime
    audit.record("user.enrolment_code", "user", user.id,
                 detail={"expires_at": user.enrolment_code_expires_at.isoformat()})
    return code


def check_enrolment_code(user: User, code: str, *, now: datetime, settings: LoginSettings) -> None:
    """Raise AccountError (and count the failure toward the lockout) unless `code` is the user's live code."""
    expires = user.enrolment_code_expires_at
    stored = user.enrolment_code_hash
    if not stored or expires is None or expires <= now:
        verify_password(DUMMY_HASH, _normal_code(code))
        register_failure(user, now=now, settings=settings, reason="no valid enrolment code")
        raise AccountError(say("This enrolment code is not valid or has expired; ask an administrator for a new one."),
                           "enrolment_code")
    if not verify_password(stored, _normal_code(code)):
        register_failure(user, now=now, settings=settings, reason="bad enrolment code")
        raise AccountError(say("That enrolment code is not correct."), "enrolment_code")


def finish_enrolment(user: User, secret: str, code: str, *, now: datetime,
                     settings: LoginSettings | None = None) -> None:
    """Bind the new authenticator once it produced a valid code; a wrong code counts toward the lockout."""
    step = totp_step_if_valid(secret, code, None, now=now.timestamp())
    if step is None:
        register_failure(user, now=now, settings=settings or LoginSettings(), reason="bad enrolment TOTP code")
        raise AccountError(say("That code does not match the new secret; check the authenticator's clock."), "code")
    user.totp_secret = secret
    user.totp_last_step = step
    user.enrolment_code_hash = None
    user.enrolment_code_expires_at = None
    audit.record("auth.mfa_enrol", "user", user.id, actor=(user.id, user.username))


def open_session(user: User, *, now: datetime, ip: str | None, user_agent: str | None) -> UserSession:
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    us = UserSession(id=secrets.token_urlsafe(32), user_id=user.id, created_at=now, last_seen_at=now, ip=ip,
                     user_agent=(user_agent or "")[:200])
    db.session.add(us)
    audit.record("auth.login", "user", user.id, detail={"mfa": True}, actor=(user.id, user.username))
    return us


def load_session(sid: str, *, now: datetime, absolute: timedelta, idle: timedelta) -> User | None:
    """The user of a live session record, or None once revoked, expired or the user is deactivated."""
    us = db.session.get(UserSession, sid)
    if us is None or us.revoked_at is not None:
        return None
    user = us.user
    if not user.active:
        return None
    if now - us.created_at > absolute or now - us.last_seen_at > idle or us.created_at < user.password_changed_at:
        us.revoked_at = now
        us.revoked_reason = "expired"
        db.session.commit()
        return None
    if now - us.last_seen_at > timedelta(seconds=60):  # throttle writes: one touch a minute
        us.last_seen_at = now
        db.session.commit()
    user.current_sid = sid
    return user


def revoke_sessions(user: User, *, now: datetime, reason: str, except_sid: str | None = None) -> int:
    stmt = update(UserSession).where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
    if except_sid:
        stmt = stmt.where(UserSession.id != except_sid)
    return db.session.execute(stmt.values(revoked_at=now, revoked_reason=reason)).rowcount


def end_session(sid: str, *, now: datetime) -> None:
    us = db.session.get(UserSession, sid)
    if us is not None and us.revoked_at is None:
        us.revoked_at = now
        us.revoked_reason = "logout"
        audit.record("auth.logout", "user", us.user_id, actor=(us.user_id, us.user.username))


def set_locale(user: User, locale: str) -> None:
    """The user's interface language; audited like every other change to an account."""
    old = user.locale
    user.locale = locale
    audit.record("user.locale", "user", user.id, detail={"from": old, "to": locale})


def change_password(user: User, current: str, new: str, *, now: datetime, min_length: int = 12) -> None:
    if not verify_password(user.password_hash, current):
        raise AccountError(say("Current password is not correct."), "current_password")
    set_password(user, new, now=now, min_length=min_length)


def set_password(user: User, new: str, *, now: datetime, min_length: int = 12) -> None:
    try:
        check_password_policy(new, username=user.username, min_length=min_length)
    except ValueError as exc:
        raise AccountError(exc.args[0], "new_password") from exc
    user.password_hash = hash_password(new)
    user.password_changed_at = now
    revoke_sessions(user, now=now, reason="password changed")
    audit.record("user.password_change", "user", user.id)


def set_active(user: User, active: bool, *, now: datetime) -> None:
    user.active = active
    if not active:
        revoke_sessions(user, now=now, reason="deactivated")
    audit.record("user.activate" if active else "user.deactivate", "user", user.id)


def reset_second_factor(user: User, *, now: datetime, lifetime: timedelta = timedelta(hours=72)) -> str:
    """Remove the authenticator and return the one-time enrolment code the user needs for a new one."""
    user.totp_secret = None
    user.totp_last_step = None
    revoke_sessions(user, now=now, reason="second factor reset")
    audit.record("user.mfa_reset", "user", user.id)
    return issue_enrolment_code(user, now=now, lifetime=lifetime)


def change_role(user: User, role: str, post_code: str | None, *, now: datetime) -> None:
    if role not in {r.value for r in Role} or role == Role.SYSTEM:
        raise AccountError(say("Unknown role {role}.", role=repr(role)), "role")
    post = find_post(post_code) if post_code else None
    if post_code and post is None:
        raise AccountError(say("Unknown border post {post_code}.", post_code=repr(post_code)), "post")
    if role == Role.BORDER_OFFICER and post is None:
        raise AccountError(say("A border officer must be bound to a border post."), "post")
    old = (user.role, user.border_post.code if user.border_post else None)
    user.role = role
    user.border_post = post
    revoke_sessions(user, now=now, reason="role changed")
    audit.record("user.role_change", "user", user.id,
                 detail={"from": list(old), "to": [role, post.code if post else None]})


def create_api_client(name: str, post_code: str | None = None) -> tuple[ApiClient, str]:
    """Returns the client and its token; only the token's digest is stored."""
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise AccountError(say("An API client needs a name of at most 80 characters."), "name")
    if db.session.execute(select(ApiClient.id).where(ApiClient.name == name)).first():
        raise AccountError(say("API client {name} already exists.", name=repr(name)), "name")
    post = find_post(post_code) if post_code else None
    if post_code and post is None:
        raise AccountError(say("Unknown border post {post_code}.", post_code=repr(post_code)), "post")
    token = new_api_token()
    client = ApiClient(name=name, token_hash=token_digest(token), token_prefix=token[:12], border_post=post)
    db.session.add(client)
    db.session.flush()
    audit.record("api_client.create", "api_client", client.id, detail={"post": post.code if post else None})
    return client, token


def revoke_api_client(name: str) -> ApiClient:
    """Stop a client's token working from its next request (a lost post node's kit, a retired feed)."""
    client = db.session.execute(select(ApiClient).where(ApiClient.name == (name or "").strip())).scalar()
    if client is None:
        raise AccountError(f"Unknown API client {name!r}.", "name")
    if client.active:
        client.active = False
        audit.record("api_client.revoke", "api_client", client.id)
    return client


def revoked_client_id(token: str) -> int | None:
    """A revoked client is told so (a known kit that must stop syncing), not treated as a stranger."""
    if not token:
        return None
    return db.session.execute(select(ApiClient.id).where(
        ApiClient.token_hash == token_digest(token), ApiClient.active.is_(False))).scalar()


def client_for_token(token: str) -> ApiClient | None:
    if not token:
        return None
    client = db.session.execute(select(ApiClient).where(ApiClient.token_hash == token_digest(token))).scalar()
    if client is None or not client.active:
        return None
    return client
