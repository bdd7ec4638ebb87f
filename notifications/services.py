"""Notification services. `publish` is the one entry point other packages call when something happens.

Services take explicit arguments (`now`, the acting user) and raise NotificationError; the caller
owns the single commit, so an outbox row is written in the same transaction as the change.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select

from notifications import rules, signals, signing
from notifications.models import (
    Agency,
    Channel,
    Contact,
    NotificationEvent,
    OutboxMessage,
    Rule,
    SharingProfile,
)
from screening.engine.phrases import say
from tip_cases import audit
from tip_cases.extensions import db, utcnow
from tip_cases.models import BorderPost, User

log = logging.getLogger("tsela.notifications")

ACK_SALT = "tsela-notification-ack"
ACK_MAX_AGE = timedelta(days=14)
DEFAULT_PROFILE = "Minimal"


class NotificationError(ValueError):
    """A refusal the user can read; `field` names the form field at fault when there is one."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


# --- publishing ----------------------------------------------------------------------------------

def _base_url() -> str:
    return current_app.config.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/")


def subject_link(subject_type: str, subject_id: Any) -> str:
    """A stable link for logged-in users; /notifications/go resolves it to the right page at click time."""
    return f"{_base_url()}/notifications/go/{subject_type}/{subject_id}"


def ack_url(message_id: str) -> str:
    return f"{_base_url()}/notifications/ack/{make_ack_token(message_id)}"


def profile_of(agency: Agency | None) -> rules.Profile:
    if agency is None or agency.profile is None:
        return rules.MINIMAL_PROFILE
    return rules.Profile(frozenset(agency.profile.fields or ()), bool(agency.profile.allow_identifying))


def _rule_spec(rule: Rule) -> rules.RuleSpec:
    return rules.RuleSpec(id=rule.id, agency_id=rule.agency_id, channel_id=rule.channel_id, event=rule.event,
                          kinds=tuple(rule.kinds or ()), priorities=tuple(rule.priorities or ()),
                          post_codes=tuple(rule.post_codes or ()), active=rule.active)


def publish(event: str, *, ref: str, subject_type: str, subject_id: Any, post_code: str | None = None,
            priority: str | None = None, kind: str | None = None, data: dict | None = None,
            now: datetime | None = None, link: str | None = None) -> list[OutboxMessage]:
    """Record that `event` happened, in the caller's transaction (transactional outbox).

    event: e.g. "flag.raised", "flag.confirmed", "risk.found", "case.opened", "case.status_changed",
    "referral.made". `data` may hold identifying fields and a `consent` flag; what leaves goes through
    each agency's data-sharing profile, and only non-identifying values are kept in the event log.
    Returns the outbox rows written (one per matching rule and channel).
    """
    return _publish(event, ref=ref, subject_type=subject_type, subject_id=subject_id, post_code=post_code,
                    priority=priority, kind=kind, data=data, now=now, link=link)[1]


def publish_many(events: list[dict[str, Any]], *, now: datetime | None = None) -> list[list[OutboxMessage]]:
    """`publish` for many events at once (each a dict of its keyword arguments, `event` included), in order.

    What a backlog of risk findings needs: the events are written in one flush and their outbox rows in
    another, and the rules are read once per event name, instead of two flushes and a query per event
    (nearly half the rules stage's time when thousands of flags are raised at once, docs/performance.md).
    """
    return [out for _, out in _publish_all(events, now or utcnow())]


def _publish(event: str, *, now: datetime | None = None, **fields: Any
             ) -> tuple[NotificationEvent, list[OutboxMessage]]:
    return _publish_all([{"event": event, **fields}], now or utcnow())[0]


def _publish_all(events: list[dict[str, Any]], now: datetime
                 ) -> list[tuple[NotificationEvent, list[OutboxMessage]]]:
    staged = []
    for e in events:
        data = dict(e.get("data") or {})
        ev = rules.Event(name=e["event"], ref=str(e["ref"]), subject_type=e["subject_type"],
                         subject_id=str(e["subject_id"]), at=now, post_code=e.get("post_code"),
                         priority=e.get("priority"), kind=e.get("kind"), data=data)
        record = NotificationEvent(event=ev.name, ref=ev.ref[:80], subject_type=ev.subject_type,
                                   subject_id=ev.subject_id, post_code=ev.post_code, priority=ev.priority,
                                   kind=ev.kind, data=rules.safe_data(data), created_at=now)
        db.session.add(record)
        _settle(ev, now)  # before later events are added: it settles what came before this one, as one by one
        staged.append((ev, record, e.get("link")))
    db.session.flush()
    candidates: dict[str, tuple[dict[int, Rule], list[rules.RuleSpec]]] = {}  # per event name, read once
    done = []
    for ev, record, link in staged:
        if ev.name not in candidates:
            found = db.session.execute(
                select(Rule).join(Channel, Rule.channel_id == Channel.id).join(Agency, Rule.agency_id == Agency.id)
                .where(Rule.event == ev.name, Rule.active.is_(True), Channel.active.is_(True),
                       Agency.active.is_(True))).scalars().all()
            candidates[ev.name] = ({r.id: r for r in found}, [_rule_spec(r) for r in found])
        by_id, specs = candidates[ev.name]
        out = [_enqueue(record, ev, by_id[spec.id].agency, by_id[spec.id].channel, rule_id=spec.id, now=now,
                        link=link, flush=False)
               for spec in rules.due_deliveries(ev, specs)]
        done.append((record, out))
    db.session.flush()
    for (ev, _, _), (_, out) in zip(staged, done, strict=True):
        log.info("published %s subject=%s:%s outbox=%s", ev.name, ev.subject_type, ev.subject_id,
                 [m.id for m in out])
    return done


def _enqueue(record: NotificationEvent, ev: rules.Event, agency: Agency | None, channel: Channel, *,
             rule_id: int | None, now: datetime, link: str | None = None, user: User | None = None,
             address: str | None = None, flush: bool = True) -> OutboxMessage:
    msg_id = signing.new_message_id()
    link = link or subject_link(ev.subject_type, ev.subject_id)
    profile = rules.Profile(frozenset(rules.MINIMAL_FIELDS + ("priority", "reason", "ack_url"))) \
        if user is not None else profile_of(agency)
    payload = rules.build_payload(ev, profile, msg_id=msg_id, link=link, ack_url=ack_url(msg_id))
    msg = OutboxMessage(message_id=msg_id, event_id=record.id, event=ev.name, agency=agency, channel=channel,
                        rule_id=rule_id, user_id=user.id if user else None,
                        kind=channel.kind if channel else "email",
                        address=address or (channel.address if channel else ""), payload=payload,
                        status="pending", next_attempt_at=now, window_started_at=now, created_at=now)
    db.session.add(msg)
    if flush:
        db.session.flush()
    return msg


def _settle(ev: rules.Event, now: datetime) -> None:
    """A review of the flag (confirmed, dismissed) acknowledges the earlier flag.raised internally."""
    for earlier, settling in rules.SETTLING.items():
        if ev.name in settling:
            for prior in db.session.execute(select(NotificationEvent).where(
                    NotificationEvent.event == earlier, NotificationEvent.subject_type == ev.subject_type,
                    NotificationEvent.subject_id == ev.subject_id,
                    NotificationEvent.acknowledged_at.is_(None))).scalars():
                prior.acknowledged_at = now
                prior.acknowledged_by = f"reviewed ({ev.name})"


# --- acknowledgements ----------------------------------------------------------------------------

def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=ACK_SALT)


def make_ack_token(message_id: str) -> str:
    return _serializer().dumps({"m": message_id})


def message_for_ack_token(token: str, *, max_age: timedelta = ACK_MAX_AGE) -> OutboxMessage:
    try:
        data = _serializer().loads(token, max_age=int(max_age.total_seconds()))
    except SignatureExpired as exc:
        raise NotificationError(say("This acknowledgement link has expired; ask the unit to resend.")) from exc
    except BadSignature as exc:
        raise NotificationError(say("This acknowledgement link is not valid.")) from exc
    msg = db.session.execute(select(OutboxMessage).where(OutboxMessage.message_id == data.get("m"))).scalar()
    if msg is None:
        raise NotificationError(say("This acknowledgement link is not valid."))
    return msg


def acknowledge(msg: OutboxMessage, *, by: str, via: str, now: datetime) -> bool:
    """Mark the message and its subject acknowledged (stops reminders); False if it already was."""
    if msg.event not in rules.ACKABLE and msg.event != "test":
        raise NotificationError(say("Messages about {event} cannot be acknowledged.", event=msg.event))
    first = msg.acknowledged_at is None
    if first:
        msg.acknowledged_at = now
    ev = db.session.get(NotificationEvent, msg.event_id) if msg.event_id else None
    if ev is not None:
        for row in db.session.execute(select(NotificationEvent).where(
                NotificationEvent.subject_type == ev.subject_type, NotificationEvent.subject_id == ev.subject_id,
                NotificationEvent.acknowledged_at.is_(None))).scalars():
            row.acknowledged_at = now
            row.acknowledged_by = by[:120]
    if ev is not None and ev.subject_type == "referral" and ev.subject_id.isdigit():
        # The partner's acknowledgement is the referral's: it stops the referral reminders too. The
        # cases package owns referrals and answers this signal (connected at app start).
        signals.referral_acknowledged.send(None, referral_id=int(ev.subject_id), by=by[:80], now=now)
    audit.record("notification.ack", "notification", msg.id,
                 detail={"via": via, "agency": msg.agency_id, "first": first}, actor=(None, by[:80]))
    return first


def new_partner_token(agency: Agency) -> str:
    """Issue (or rotate) the agency's API token for acknowledgements; shown once, only its hash kept."""
    token = "tselap_" + secrets.token_urlsafe(32)
    agency.token_hash = hashlib.sha256(token.encode()).hexdigest()
    agency.token_prefix = token[:12]
    audit.record("notification.partner_token", "agency", agency.id)
    return token


def agency_for_token(token: str) -> Agency | None:
    if not token:
        return None
    digest = hashlib.sha256(token.encode()).hexdigest()
    agency = db.session.execute(select(Agency).where(Agency.token_hash == digest)).scalar()
    return agency if agency is not None and agency.active else None


# --- administration ------------------------------------------------------------------------------

def default_profile() -> SharingProfile:
    prof = db.session.execute(select(SharingProfile).where(SharingProfile.name == DEFAULT_PROFILE)).scalar()
    if prof is None:
        prof = SharingProfile(name=DEFAULT_PROFILE, fields=list(rules.MINIMAL_FIELDS), allow_identifying=False,
                              description="Reference, kind, post, time and a link for signed-in users.")
        db.session.add(prof)
        db.session.flush()
    return prof


def save_profile(profile: SharingProfile | None, *, name: str, fields: list[str], allow_identifying: bool,
                 description: str = "") -> SharingProfile:
    unknown = set(fields) - set(rules.ALL_FIELDS)
    if unknown:
        raise NotificationError(say("Unknown fields: {fields}.", fields=", ".join(sorted(unknown))), "fields")
    name = (name or "").strip()
    if not name:
        raise NotificationError(say("A profile needs a name."), "name")
    clash = db.session.execute(select(SharingProfile.id).where(SharingProfile.name == name)).scalar()
    if clash is not None and (profile is None or clash != profile.id):
        raise NotificationError(say("A profile named {name} exists.", name=repr(name)), "name")
    if any(f in rules.IDENTIFYING_FIELDS for f in fields) and not allow_identifying:
        raise NotificationError(say("Identifying fields need 'may receive identifying data' ticked."), "fields")
    profile = profile or SharingProfile()
    profile.name, profile.fields, profile.allow_identifying = name, list(fields), bool(allow_identifying)
    profile.description = description or ""
    db.session.add(profile)
    db.session.flush()
    audit.record("notification.profile_save", "notification_profile", profile.id,
                 detail={"fields": sorted(fields), "identifying": bool(allow_identifying)})
    return profile


def create_agency(*, name: str, org_type: str, country: str = "LS", profile: SharingProfile | None = None
                  ) -> Agency:
    name = (name or "").strip()
    if not name:
        raise NotificationError(say("An agency needs a name."), "name")
    if org_type not in rules.ORG_TYPES:
        raise NotificationError(say("Unknown organisation type {org_type}.", org_type=repr(org_type)), "org_type")
    if db.session.execute(select(Agency.id).where(Agency.name == name)).first():
        raise NotificationError(say("Agency {name} exists.", name=repr(name)), "name")
    agency = Agency(name=name, org_type=org_type, country=(country or "LS").upper()[:2],
                    profile=profile or default_profile())
    db.session.add(agency)
    db.session.flush()
    audit.record("notification.agency_create", "agency", agency.id)
    return agency


def add_contact(agency: Agency, *, name: str, position: str = "", email: str | None = None,
                phone: str | None = None) -> Contact:
    if not (name or "").strip():
        raise NotificationError(say("A contact needs a name."), "name")
    contact = Contact(agency=agency, name=name.strip(), position=position or "", email=email or None,
                      phone=phone or None)
    db.session.add(contact)
    db.session.flush()
    audit.record("notification.contact_add", "agency", agency.id, detail={"contact": contact.id})
    return contact


def add_channel(agency: Agency, *, kind: str, address: str, label: str = "", gateway_url: str | None = None,
                secret: str | None = None, timeout_seconds: int = 10) -> Channel:
    address = (address or "").strip()
    if kind not in rules.CHANNEL_KINDS:
        raise NotificationError(say("Unknown channel kind {kind}.", kind=repr(kind)), "kind")
    if not address:
        raise NotificationError(say("Give the address: an email, a webhook URL or a phone number."), "address")
    if kind == "email" and "@" not in address:
        raise NotificationError(say("An email channel needs an email address."), "address")
    if kind == "webhook" and not address.startswith(("http://", "https://")):
        raise NotificationError(say("A webhook URL starts with http:// or https://."), "address")
    if kind == "sms":
        if not (gateway_url or "").startswith(("http://", "https://")):
            raise NotificationError(say("An SMS channel needs the gateway's http(s) URL."), "gateway_url")
        if not address.lstrip("+").isdigit():
            raise NotificationError(say("An SMS number is digits in E.164 form, e.g. +26622312345."), "address")
    if kind == "webhook" and not secret:
        secret = signing.new_secret()
    channel = Channel(agency=agency, kind=kind, address=address, label=label or "", gateway_url=gateway_url or None,
                      secret=secret or None, timeout_seconds=max(1, min(int(timeout_seconds or 10), 60)))
    db.session.add(channel)
    db.session.flush()
    audit.record("notification.channel_add", "notification_channel", channel.id, detail={"kind": kind})
    return channel


def set_channel_active(channel: Channel, active: bool) -> None:
    channel.active = active
    channel.disabled_reason = None if active else "disabled by an administrator"
    audit.record("notification.channel_" + ("enable" if active else "disable"), "notification_channel", channel.id)


def add_rule(*, agency: Agency, channel: Channel, event: str, kinds=(), priorities=(), post_codes=()) -> Rule:
    if event not in rules.EVENTS:
        raise NotificationError(say("Unknown event {event}.", event=repr(event)), "event")
    if channel.agency_id != agency.id:
        raise NotificationError(say("That channel belongs to another agency."), "channel_id")
    bad_prio = set(priorities) - set(rules.PRIORITIES)
    if bad_prio:
        raise NotificationError(say("Unknown priorities: {priorities}.", priorities=", ".join(sorted(bad_prio))),
                                "priorities")
    known = set(db.session.execute(select(BorderPost.code)).scalars())
    bad_posts = {p.upper() for p in post_codes} - known
    if bad_posts:
        raise NotificationError(say("Unknown border posts: {posts}.", posts=", ".join(sorted(bad_posts))), "post_codes")
    rule = Rule(agency=agency, channel=channel, event=event, kinds=[k.strip() for k in kinds if k.strip()],
                priorities=list(priorities), post_codes=[p.upper() for p in post_codes])
    db.session.add(rule)
    db.session.flush()
    audit.record("notification.rule_add", "notification_rule", rule.id, detail={"event": event})
    return rule


def set_rule_active(rule: Rule, active: bool) -> None:
    rule.active = active
    audit.record("notification.rule_" + ("enable" if active else "disable"), "notification_rule", rule.id)


def send_test(channel: Channel, *, now: datetime) -> OutboxMessage:
    """Queue a test message down one channel, whatever the rules say; the dispatcher sends it."""
    record = NotificationEvent(event="test", ref=f"TEST-{channel.id}", subject_type="channel",
                               subject_id=str(channel.id), data={}, created_at=now)
    db.session.add(record)
    db.session.flush()
    ev = rules.Event("test", record.ref, "channel", str(channel.id), now, kind="test")
    msg = _enqueue(record, ev, channel.agency, channel, rule_id=None, now=now)
    audit.record("notification.test", "notification_channel", channel.id, detail={"outbox": msg.id})
    return msg


def retry(msg: OutboxMessage, *, now: datetime) -> None:
    """Put a dead (or cancelled) message back in the queue with a fresh three-day window."""
    if msg.status not in ("dead", "cancelled"):
        raise NotificationError(say("Only dead or cancelled messages can be retried."))
    if msg.channel is not None and not msg.channel.active:
        raise NotificationError(say("Enable the channel first; it is disabled."))
    msg.status = "pending"
    msg.next_attempt_at = now
    msg.window_started_at = now
    msg.lease_until = None
    audit.record("notification.retry", "notification", msg.id)


# --- reminders, escalations, digests -------------------------------------------------------------

def _recipients_for_post(post_code: str | None) -> list[User]:
    """The post's supervisor (managers bound to the post, else every manager) and the investigators on duty
    (investigators bound to the post, else every active investigator: there is no duty roster yet)."""
    post = db.session.execute(select(BorderPost).where(BorderPost.code == post_code)).scalar() if post_code else None
    out: list[User] = []
    for role in ("manager", "investigator"):
        base = select(User).where(User.role == role, User.active.is_(True), User.email.is_not(None))
        users = db.session.execute(base.where(User.border_post_id == post.id)).scalars().all() if post else []
        out.extend(users or db.session.execute(base).scalars().all())
    return out


def remind_post_managers(event: str, *, ref: str, subject_type: str, subject_id: Any, post_code: str,
                         reason_key: str, values: dict[str, Any], now: datetime, link: str | None = None) -> int:
    """A reminder about a post for its managers (managers bound to the post, else every manager), by e-mail
    through the outbox; returns how many were queued."""
    data = {"reason": rules.reason(reason_key, **values), "priority": "high"}
    record, _ = _publish(event, ref=ref, subject_type=subject_type, subject_id=subject_id, post_code=post_code,
                         priority="high", kind="post_node", data=data, now=now, link=link)
    ev = rules.Event(event, ref, subject_type, str(subject_id), now, post_code=post_code, priority="high",
                     kind="post_node", data=data)
    managers = [u for u in _recipients_for_post(post_code) if u.role == "manager"]
    for user in managers:
        _enqueue(record, ev, None, None, rule_id=None, now=now, user=user, address=user.email, link=link)
    return len(managers)


def _internal_channel_message(record: NotificationEvent, ev: rules.Event, user: User, now: datetime
                              ) -> OutboxMessage:
    return _enqueue(record, ev, None, None, rule_id=None, now=now, user=user, address=user.email)


def escalate_unacknowledged_flags(*, now: datetime, after: timedelta) -> int:
    """A flag not acknowledged within `after` goes to the post's supervisor and the investigators on duty."""
    due = db.session.execute(select(NotificationEvent).where(
        NotificationEvent.event == "flag.raised", NotificationEvent.acknowledged_at.is_(None),
        NotificationEvent.escalated_at.is_(None), NotificationEvent.created_at <= now - after)).scalars().all()
    count = 0
    for raised in due:
        raised.escalated_at = now
        minutes = int((now - raised.created_at).total_seconds() // 60)
        data = {"reason": rules.reason("unacknowledged", minutes=minutes), "priority": raised.priority}
        record, _ = _publish("flag.unacknowledged", ref=raised.ref, subject_type=raised.subject_type,
                             subject_id=raised.subject_id, post_code=raised.post_code,
                             priority=raised.priority or "high", kind=raised.kind, data=data, now=now)
        ev = rules.Event("flag.unacknowledged", raised.ref, raised.subject_type, raised.subject_id, now,
                         post_code=raised.post_code, priority=raised.priority, kind=raised.kind, data=data)
        for user in _recipients_for_post(raised.post_code):
            _internal_channel_message(record, ev, user, now)
        count += 1
    return count


def not_yet_published(event: str, subject_type: str, subject_id: str, since: datetime | None = None) -> bool:
    """True unless this event was already published for this subject (since `since`): reminders go out once."""
    stmt = select(NotificationEvent.id).where(NotificationEvent.event == event,
                                              NotificationEvent.subject_type == subject_type,
                                              NotificationEvent.subject_id == str(subject_id))
    if since is not None:
        stmt = stmt.where(NotificationEvent.created_at >= since)
    return db.session.execute(stmt.limit(1)).first() is None


def send_digest(period: str, *, now: datetime) -> bool:
    """Publish the daily or weekly digest (counts by event); idempotent per period, so a retried job
    or a scheduler that took over mid-run never sends it twice."""
    if period not in ("daily", "weekly"):
        raise NotificationError(say("period is daily or weekly"))
    span = timedelta(days=1 if period == "daily" else 7)
    ref = f"digest-{period}-{now.date().isoformat()}"
    if not not_yet_published(f"digest.{period}", "digest", ref):
        return False
    rows = db.session.execute(
        select(NotificationEvent.event, func.count()).where(
            NotificationEvent.created_at >= now - span, NotificationEvent.created_at < now,
            NotificationEvent.event.not_like("digest.%"), NotificationEvent.event != "test")
        .group_by(NotificationEvent.event)).all()
    counts = {event: n for event, n in sorted(rows)}
    publish(f"digest.{period}", ref=ref, subject_type="digest", subject_id=ref, kind=period,
            data={"counts": counts, "period": f"{(now - span).isoformat()} to {now.isoformat()}"}, now=now)
    return True
