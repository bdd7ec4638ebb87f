"""PURE: which notifications are due, to whom, with which fields, and when to try again.

No Flask, no SQLAlchemy: the services hand in plain values, so every decision here is testable as a
table. The payload builder is the one place that decides what leaves the system for a partner.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

# Events other packages publish (and the scheduler's own); the label is what admins pick from.
EVENTS: dict[str, str] = {
    "flag.raised": "Flag raised at a border post",
    "flag.confirmed": "Flag confirmed by an officer",
    "flag.escalated": "Flag escalated to an investigator",
    "flag.unacknowledged": "Flag not acknowledged in time (escalation)",
    "risk.found": "Risk pattern found",
    "case.opened": "Case opened",
    "case.status_changed": "Case status or stage changed",
    "case.idle": "Case idle for too long",
    "case.closure_requested": "Case closure requested",
    "case.person_match": "A person in a case matches another case",
    "referral.made": "Referral made",
    "referral.unacknowledged": "Referral not acknowledged by its deadline",
    "task.overdue": "Task overdue",
    "digest.daily": "Daily digest",
    "digest.weekly": "Weekly digest",
    "test": "Test message (\"send a test\")",
}
# Events for Tsela's own staff only (never offered to partners' rules): the label their messages carry.
INTERNAL_EVENTS: dict[str, str] = {"job.failed": "A scheduled job failed"}
# Events a partner can acknowledge; acknowledging stops reminders about the same subject.
ACKABLE = {"flag.raised", "flag.confirmed", "flag.escalated", "flag.unacknowledged", "risk.found", "referral.made",
           "referral.unacknowledged"}
# Later events on the same subject that settle it (a reviewed flag needs no more reminders).
SETTLING = {"flag.raised": {"flag.confirmed", "flag.dismissed", "flag.reviewed", "flag.escalated",
                            "flag.not_same_person", "flag.cleared"}}

# HTCDS organisation types, plus the two Tsela needs for cross-border work.
ORG_TYPES: dict[str, str] = {
    "LawEnforcement": "Law enforcement",
    "ImmigrationService": "Immigration service",
    "CentralGovernmentOrganisation": "Central government (e.g. social development)",
    "LocalGovernmentOrganisation": "Local government (district focal point)",
    "NGO": "NGO (e.g. shelter)",
    "HealthServiceOrganisation": "Health service",
    "LegalService": "Legal service",
    "CorporateBusiness": "Corporate business",
    "SchoolOrCollege": "School or college",
    "InternationalOrganisation": "International organisation",
    "NeighbouringCounterpart": "Neighbouring country's counterpart",
}
CHANNEL_KINDS = {"email": "Email (SMTP)", "webhook": "Webhook (signed HTTP POST)", "sms": "SMS gateway (HTTP)"}
PRIORITIES = ["low", "normal", "high", "urgent"]

# Envelope fields every message carries: they identify the message, never a person.
ENVELOPE = ("id", "event")
# The default, minimal profile: a reference, the kind, the post, the time, a link for logged-in users.
MINIMAL_FIELDS = ("ref", "kind", "post", "time", "link")
OPERATIONAL_FIELDS = ("priority", "status", "reason", "expected_action", "due", "counts", "period", "ack_url")
# Victim-identifying fields: sent only where the profile allows AND consent (or an override) permits.
IDENTIFYING_FIELDS = ("person_name", "date_of_birth", "sex", "nationality", "document_number")
ALL_FIELDS = MINIMAL_FIELDS + OPERATIONAL_FIELDS + IDENTIFYING_FIELDS
FIELD_LABELS = {
    "ref": "Reference", "kind": "Kind", "post": "Border post", "time": "Time", "link": "Link (sign-in needed)",
    "priority": "Priority", "status": "Status", "reason": "Reason for the alert",
    "expected_action": "Action expected", "due": "Deadline", "counts": "Counts (digests)",
    "period": "Period (digests)", "ack_url": "Acknowledge link",
    "person_name": "Person's name", "date_of_birth": "Date of birth", "sex": "Sex", "nationality": "Nationality",
    "document_number": "Document number",
}


@dataclass(frozen=True)
class Event:
    name: str
    ref: str
    subject_type: str
    subject_id: str
    at: datetime
    post_code: str | None = None
    priority: str | None = None
    kind: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleSpec:
    """A subscription: event (+ optional filters) -> agency through one channel. Empty filter = any."""

    id: int
    agency_id: int
    channel_id: int
    event: str
    kinds: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()
    post_codes: tuple[str, ...] = ()
    active: bool = True


@dataclass(frozen=True)
class Profile:
    fields: frozenset[str]
    allow_identifying: bool = False


MINIMAL_PROFILE = Profile(frozenset(MINIMAL_FIELDS))


def rule_matches(rule: RuleSpec, event: Event) -> bool:
    if not rule.active or rule.event != event.name:
        return False
    if rule.kinds and (event.kind or "") not in rule.kinds:
        return False
    if rule.priorities and (event.priority or "") not in rule.priorities:
        return False
    return not (rule.post_codes and (event.post_code or "") not in rule.post_codes)


def due_deliveries(event: Event, rules: Iterable[RuleSpec]) -> list[RuleSpec]:
    """Matching rules, one per channel: two rules sending the same event down one channel send once."""
    seen: set[int] = set()
    out = []
    for rule in sorted(rules, key=lambda r: r.id):
        if rule.channel_id in seen or not rule_matches(rule, event):
            continue
        seen.add(rule.channel_id)
        out.append(rule)
    return out


def identifying_permitted(profile: Profile, data: Mapping[str, Any]) -> bool:
    """Both locks must open: the agency's profile, and the victim's consent or a recorded override."""
    consent = data.get("consent") is True
    override = bool(data.get("consent_override"))  # the id of a recorded override decision
    return profile.allow_identifying and (consent or override)


def candidate_values(event: Event, msg_id: str, link: str | None, ack_url: str | None) -> dict[str, Any]:
    """Every value a message could carry; build_payload then keeps only what the profile allows."""
    values: dict[str, Any] = {
        "id": msg_id, "event": event.name, "ref": event.ref, "kind": event.kind, "post": event.post_code,
        "time": event.at.isoformat(), "link": link, "priority": event.priority, "ack_url": ack_url,
    }
    for name in OPERATIONAL_FIELDS + IDENTIFYING_FIELDS:
        if values.get(name) is None and name in event.data:
            values[name] = event.data[name]
    return values


def build_payload(event: Event, profile: Profile, *, msg_id: str, link: str | None = None,
                  ack_url: str | None = None) -> dict[str, Any]:
    """The partner payload: the envelope plus the profile's fields that have a value, nothing else."""
    values = candidate_values(event, msg_id, link, ack_url if event.name in ACKABLE else None)
    allowed = set(ENVELOPE) | (set(profile.fields) & set(MINIMAL_FIELDS + OPERATIONAL_FIELDS))
    if identifying_permitted(profile, event.data):
        allowed |= set(profile.fields) & set(IDENTIFYING_FIELDS)
    return {k: v for k, v in values.items() if k in allowed and v is not None}


def safe_data(data: Mapping[str, Any] | None) -> dict[str, Any]:
    """What may be kept in the event log: everything but the identifying fields (and no free text)."""
    keep = set(OPERATIONAL_FIELDS) | {"consent", "consent_override"}
    return {k: v for k, v in (data or {}).items() if k in keep and k not in IDENTIFYING_FIELDS}


def render_text(payload: Mapping[str, Any]) -> tuple[str, str]:
    """Subject and plain-text body for email and SMS, from the (already filtered) payload."""
    event = payload.get("event", "")
    label = EVENTS.get(event) or INTERNAL_EVENTS.get(event) or event or "Notification"
    ref = payload.get("ref", "")
    subject = f"[Tsela] {label}{f' {ref}' if ref else ''}"
    lines = [label]
    for key in ALL_FIELDS:
        if key in payload and key not in ("link", "ack_url"):
            value = payload[key]
            if isinstance(value, dict):
                value = ", ".join(f"{k}: {v}" for k, v in value.items())
            lines.append(f"{FIELD_LABELS.get(key, key)}: {value}")
    if payload.get("link"):
        lines.append(f"Open in Tsela (sign-in needed): {payload['link']}")
    if payload.get("ack_url"):
        lines.append(f"Acknowledge: {payload['ack_url']}")
    lines.append(f"Message id: {payload.get('id', '')}")
    return subject, "\n".join(lines)


def sms_text(payload: Mapping[str, Any], limit: int = 320) -> str:
    """A short text for focal points without email: event, reference, post, acknowledge link."""
    event = payload.get("event", "")
    parts = [EVENTS.get(event) or INTERNAL_EVENTS.get(event) or event, payload.get("ref", "")]
    if payload.get("post"):
        parts.append(f"post {payload['post']}")
    text = " | ".join(p for p in parts if p)
    if payload.get("ack_url"):
        text += f" | ack: {payload['ack_url']}"
    return text[:limit]


# --- retries -------------------------------------------------------------------------------------

BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=6)
GIVE_UP_AFTER = timedelta(days=3)


def backoff_ceiling(attempt: int) -> timedelta:
    """The longest wait after the n-th failed attempt (1-based): 30 s doubling, capped at 6 h."""
    seconds = BACKOFF_BASE.total_seconds() * (2 ** max(0, attempt - 1))
    return timedelta(seconds=min(seconds, BACKOFF_CAP.total_seconds()))


def next_attempt(attempt: int, now: datetime, first_at: datetime, rng: random.Random | None = None
                 ) -> datetime | None:
    """When to try again after the n-th failure, or None to dead-letter (about three days after the first).

    "Equal jitter": half the ceiling plus a random half, so retries spread out but never come early.
    """
    ceiling = backoff_ceiling(attempt).total_seconds()
    jitter = (rng or random).random()  # noqa: S311 - jitter, not security
    at = now + timedelta(seconds=ceiling / 2 + jitter * ceiling / 2)
    if at - first_at > GIVE_UP_AFTER:
        return None
    return at


def is_due_for_escalation(created_at: datetime, now: datetime, after: timedelta, *, acknowledged: bool,
                          escalated: bool) -> bool:
    return not acknowledged and not escalated and now - created_at >= after
