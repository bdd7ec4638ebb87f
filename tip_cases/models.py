"""Foundation models: users and their sessions, border posts, API clients and the audit trail."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tip_cases.extensions import db, utcnow


class Role(enum.StrEnum):
    BORDER_OFFICER = "border_officer"
    INVESTIGATOR = "investigator"
    MANAGER = "manager"
    ADMIN = "admin"
    SYSTEM = "system"


HUMAN_ROLES = [Role.BORDER_OFFICER, Role.INVESTIGATOR, Role.MANAGER, Role.ADMIN]


class BorderPost(db.Model):
    __tablename__ = "border_posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="road")  # road, air, bridge footpath
    district: Mapped[str | None] = mapped_column(String(60))
    counterpart: Mapped[str | None] = mapped_column(String(120))  # the post across the border
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    aliases: Mapped[list[PostAlias]] = relationship(back_populates="border_post", cascade="all, delete-orphan",
                                                    order_by="PostAlias.alias")

    def __repr__(self) -> str:
        return f"<BorderPost {self.code}>"

    @property
    def alias_names(self) -> list[str]:
        return [a.alias for a in self.aliases]

    @property
    def label(self) -> str:
        return f"{self.name} ({self.code})"


class PostAlias(db.Model):
    """Another spelling of a post's name as feeds and people write it ("Sephapo's Gate").

    `key` is the spelling as compared (tip_cases.postnames.post_key), unique: one spelling names one post.
    """

    __tablename__ = "post_aliases"

    id: Mapped[int] = mapped_column(primary_key=True)
    border_post_id: Mapped[int] = mapped_column(ForeignKey("border_posts.id", ondelete="CASCADE"), index=True)
    alias: Mapped[str] = mapped_column(String(120))
    key: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    border_post: Mapped[BorderPost] = relationship(back_populates="aliases")


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(120), default="")
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(20))
    border_post_id: Mapped[int | None] = mapped_column(ForeignKey("border_posts.id"))
    password_hash: Mapped[str] = mapped_column(String(255))
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_last_step: Mapped[int | None] = mapped_column(Integer)  # refuses a replayed code
    # A one-time code issued by an administrator; without it the password alone cannot enrol a new
    # authenticator. Only its argon2 hash is kept.
    enrolment_code_hash: Mapped[str | None] = mapped_column(String(255))
    enrolment_code_expires_at: Mapped[datetime | None] = mapped_column()
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column()
    last_login_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    locale: Mapped[str | None] = mapped_column(String(8))  # interface language; None: the unit's default

    border_post: Mapped[BorderPost | None] = relationship()

    # Set per request by the session loader; Flask-Login stores it instead of the user id, so
    # revoking the server-side session record ends the session.
    current_sid = None

    def get_id(self) -> str | None:
        return self.current_sid

    @property
    def is_active(self) -> bool:  # Flask-Login checks this
        return bool(self.active)

    @property
    def display_name(self) -> str:
        return self.full_name or self.username

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


class UserSession(db.Model):
    """Server-side session record: logout, password change and deactivation revoke it."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoked_reason: Mapped[str | None] = mapped_column(String(40))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(200))

    user: Mapped[User] = relationship()


class LoginThrottle(db.Model):
    """Failed sign-ins for usernames that do not exist, counted like a real account's.

    An unknown username then costs the same work and writes as a known one, so neither the answer
    nor its timing tells an attacker which usernames exist. Keyed by a digest, not the typed name.
    """

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ApiClient(db.Model):
    """A border system (IMDMS, MIDAS) calling the API with a bearer token; only the hash is kept."""

    __tablename__ = "api_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_prefix: Mapped[str] = mapped_column(String(12))
    border_post_id: Mapped[int | None] = mapped_column(ForeignKey("border_posts.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()

    border_post: Mapped[BorderPost | None] = relationship()

    role = Role.SYSTEM.value
    username = property(lambda self: f"api:{self.name}")
    is_authenticated = True

    @property
    def display_name(self) -> str:
        return f"API client {self.name}"


class AuditEvent(db.Model):
    """Append-only, MAC-chained record of who did what to which record (database triggers refuse edits)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    actor_label: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60), index=True)
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(10))  # allowed / denied
    ip: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict | None] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)  # HMAC-SHA256 (plain SHA-256 if key_id is NULL)
    # Which AUDIT_HMAC_KEY chained the row, so rows keep verifying after a key rotation; NULL = a row
    # written before keyed MACs (the legacy prefix, see tip_cases.audit).
    key_id: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (db.Index("ix_audit_events_object", "object_type", "object_id"),)


class IdempotencyRecord(db.Model):
    """Stores the first answer to an API request so that a retried batch replays it."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("client_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("api_clients.id"))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
