"""Partner agencies, channels, subscription rules, the outbox and delivery attempts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tip_cases.extensions import db, utcnow


class SharingProfile(db.Model):
    """The fields an agency may receive; identifying fields also need the victim's consent per event."""

    __tablename__ = "notification_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str] = mapped_column(String(300), default="")
    fields: Mapped[list] = mapped_column(JSON, default=list)
    allow_identifying: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Agency(db.Model):
    __tablename__ = "notification_agencies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    org_type: Mapped[str] = mapped_column(String(40))
    country: Mapped[str] = mapped_column(String(2), default="LS")
    # The language its people read our e-mail and SMS in; None: the unit's default (BABEL_DEFAULT_LOCALE).
    locale: Mapped[str | None] = mapped_column(String(8))
    profile_id: Mapped[int | None] = mapped_column(ForeignKey("notification_profiles.id"))
    # Partner API token for acknowledgements; only its SHA-256 is kept.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    token_prefix: Mapped[str | None] = mapped_column(String(12))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    profile: Mapped[SharingProfile | None] = relationship()
    contacts: Mapped[list[Contact]] = relationship(back_populates="agency", order_by="Contact.id")
    channels: Mapped[list[Channel]] = relationship(back_populates="agency", order_by="Channel.id")


class Contact(db.Model):
    __tablename__ = "notification_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("notification_agencies.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    position: Mapped[str] = mapped_column(String(120), default="")
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))

    agency: Mapped[Agency] = relationship(back_populates="contacts")


class Channel(db.Model):
    """One way to reach an agency: an email address, a webhook URL (with its secret) or an SMS number."""

    __tablename__ = "notification_channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("notification_agencies.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # email / webhook / sms
    label: Mapped[str] = mapped_column(String(80), default="")
    address: Mapped[str] = mapped_column(String(500))  # email address, webhook URL or phone number (E.164)
    gateway_url: Mapped[str | None] = mapped_column(String(500))  # SMS gateway endpoint
    secret: Mapped[str | None] = mapped_column(String(120))  # webhook signing secret (whsec_...)
    timeout_seconds: Mapped[int] = mapped_column(Integer, default=10)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    agency: Mapped[Agency] = relationship(back_populates="channels")

    @property
    def display(self) -> str:
        return f"{self.agency.name}: {self.kind} {self.label or self.address}"


class Rule(db.Model):
    """A subscription: an event (filtered by kind, priority, post) to an agency through one channel."""

    __tablename__ = "notification_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("notification_agencies.id"), index=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("notification_channels.id"), index=True)
    event: Mapped[str] = mapped_column(String(40), index=True)
    kinds: Mapped[list] = mapped_column(JSON, default=list)
    priorities: Mapped[list] = mapped_column(JSON, default=list)
    post_codes: Mapped[list] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    agency: Mapped[Agency] = relationship()
    channel: Mapped[Channel] = relationship()


class NotificationEvent(db.Model):
    """Everything published, matched or not: reminders and digests read this log (ids, never names)."""

    __tablename__ = "notification_events"
    __table_args__ = (Index("ix_notification_events_subject", "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event: Mapped[str] = mapped_column(String(40), index=True)
    ref: Mapped[str] = mapped_column(String(80))
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str] = mapped_column(String(64))
    post_code: Mapped[str | None] = mapped_column(String(16))
    priority: Mapped[str | None] = mapped_column(String(16))
    kind: Mapped[str | None] = mapped_column(String(40))
    data: Mapped[dict] = mapped_column(JSON, default=dict)  # rules.safe_data: no identifying fields
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column()
    acknowledged_by: Mapped[str | None] = mapped_column(String(120))
    escalated_at: Mapped[datetime | None] = mapped_column()


class OutboxMessage(db.Model):
    """One message to one destination, written in the transaction of the change that caused it."""

    __tablename__ = "notification_outbox"
    __table_args__ = (Index("ix_notification_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(40), unique=True)  # the webhook-id, same on every retry
    event_id: Mapped[int | None] = mapped_column(ForeignKey("notification_events.id"), index=True)
    event: Mapped[str] = mapped_column(String(40))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("notification_agencies.id"), index=True)
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("notification_channels.id"), index=True)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("notification_rules.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # internal recipients (escalations)
    kind: Mapped[str] = mapped_column(String(10))  # channel kind at the time of writing
    address: Mapped[str] = mapped_column(String(500))
    payload: Mapped[dict] = mapped_column(JSON)  # already filtered through the agency's profile
    # pending -> sending (claimed, leased) -> delivered | pending (retry) | dead | cancelled
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    window_started_at: Mapped[datetime] = mapped_column(default=utcnow)  # retries give up ~3 days after this
    lease_until: Mapped[datetime | None] = mapped_column()
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    delivered_at: Mapped[datetime | None] = mapped_column()
    acknowledged_at: Mapped[datetime | None] = mapped_column()

    agency: Mapped[Agency | None] = relationship()
    channel: Mapped[Channel | None] = relationship()
    attempt_log: Mapped[list[DeliveryAttempt]] = relationship(back_populates="message",
                                                              order_by="DeliveryAttempt.id")


class DeliveryAttempt(db.Model):
    __tablename__ = "notification_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("notification_outbox.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    status_code: Mapped[int | None] = mapped_column(Integer)  # HTTP status
    answer: Mapped[str | None] = mapped_column(String(300))  # SMTP answer or gateway reply
    error: Mapped[str | None] = mapped_column(String(500))
    outcome: Mapped[str] = mapped_column(String(12))  # delivered / retry / dead / disabled

    message: Mapped[OutboxMessage] = relationship(back_populates="attempt_log")


class MailMessage(db.Model):
    """The local mail sink: with no MAIL_SERVER, email is kept here for an admin to read in the app."""

    __tablename__ = "notification_mailbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    message_id: Mapped[str] = mapped_column(String(40), index=True)
    sender: Mapped[str] = mapped_column(String(254))
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)


class WebhookReceipt(db.Model):
    """Deliveries received by the demo receiver, with the result of checking their signature."""

    __tablename__ = "notification_receipts"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    channel_id: Mapped[int | None] = mapped_column(Integer)
    webhook_id: Mapped[str | None] = mapped_column(String(80))
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text, default="")


class SchedulerLease(db.Model):
    """Who the active scheduler is. SQLite elects by this row's expiry; PostgreSQL by an advisory lock."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(80))
    acquired_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(default=utcnow)


class SchedulerJob(db.Model):
    """One row per job id: when it last ran, on which scheduler, with what result."""

    __tablename__ = "scheduler_jobs"

    job_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_run_at: Mapped[datetime | None] = mapped_column()
    last_holder: Mapped[str | None] = mapped_column(String(80))
    runs: Mapped[int] = mapped_column(Integer, default=0)
    last_outcome: Mapped[str | None] = mapped_column(String(300))
    # Health (notifications.jobhealth): a failing job must show, never fail silently.
    last_success_at: Mapped[datetime | None] = mapped_column()
    last_failure_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(String(300))  # exception type and where; never its values
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
