"""PURE: which notifications are due, to whom, with which fields, and when to try again.

No Flask, no SQLAlchemy: the services hand in plain values, so every decision here is testable as a
table. The payload builder is the one place that decides what leaves the system for a partner.

Language: the payload (what a webhook receives) is machine-readable and stays English codes and values
whatever the recipient's language. Only the words a person reads (e-mail subject and body, SMS text) are
translated: `render_text` and `sms_text` take a `gettext` that the dispatcher binds to the recipient's
language. This module knows no language itself; `N_` marks its strings for `pybabel extract`.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


def N_(text: str) -> str:  # noqa: N802 - the gettext convention for "mark, translate later"
    """Mark `text` for extraction (N_ is one of pybabel's default keywords); translated when rendered."""
    return text


def _same(text: str) -> str:
    return text

# Events other packages publish (and the scheduler's own); the label is what admins pick from.
EVENTS: dict[str, str] = {
    "flag.raised": N_("Flag raised at a border post"),
    "flag.confirmed": N_("Flag confirmed by an officer"),
    "flag.escalated": N_("Flag escalated to an investigator"),
    "flag.unacknowledged": N_("Flag not acknowledged in time (escalation)"),
    "risk.found": N_("Risk pattern found"),
    "case.opened": N_("Case opened"),
    "case.status_changed": N_("Case status or stage changed"),
    "case.idle": N_("Case idle for too long"),
    "case.closure_requested": N_("Case closure requested"),
    "case.person_match": N_("A person in a case matches another case"),
    "referral.made": N_("Referral made"),
    "referral.unacknowledged": N_("Referral not acknowledged by its deadline"),
    "task.overdue": N_("Task overdue"),
    "digest.daily": N_("Daily digest"),
    "digest.weekly": N_("Weekly digest"),
    "test": N_("Test message (\"send a test\")"),
}
# Events for Tsela's own staff only (never offered to partners' rules): the label their messages carry.
INTERNAL_EVENTS: dict[str, str] = {"job.failed": N_("A scheduled job failed"),
                                   "post.sync_overdue": N_("A post node has not synced")}
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
    "ref": N_("Reference"), "kind": N_("Kind"), "post": N_("Border post"), "time": N_("Time"),
    "link": N_("Link (sign-in needed)"),
    "priority": N_("Priority"), "status": N_("Status"), "reason": N_("Reason for the alert"),
    "expected_action": N_("Action expected"), "due": N_("Deadline"), "counts": N_("Counts (digests)"),
    "period": N_("Period (digests)"), "ack_url": N_("Acknowledge link"),
    "person_name": N_("Person's name"), "date_of_birth": N_("Date of birth"), "sex": N_("Sex"),
    "nationality": N_("Nationality"), "document_number": N_("Document number"),
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


PRIORITY_LABELS = {"low": N_("low"), "normal": N_("normal"), "high": N_("high"), "urgent": N_("urgent")}

# Reasons the system writes into `reason`: the payload keeps the English sentence (machine-readable and
# the same for every partner); `reason_text` reads it back so the e-mail says it in the reader's language.
REASONS: dict[str, str] = {
    "unacknowledged": N_("not acknowledged after %(minutes)s minutes"),
    "idle": N_("no activity for %(days)s days"),
    "job_failed": N_("%(job)s failed: %(error)s"),
    "sync_overdue": N_("post %(post)s has not synced with headquarters for %(hours)s hours"),
}


def reason(key: str, **values: Any) -> str:
    """The English reason sentence for the payload, from one of the REASONS templates."""
    return REASONS[key] % values


def _reason_pattern(template: str) -> re.Pattern[str]:
    pieces = re.split(r"%\((\w+)\)s", template)
    out = []
    for i, piece in enumerate(pieces):
        out.append(re.escape(piece) if i % 2 == 0 else f"(?P<{piece}>.+?)")
    return re.compile("^" + "".join(out) + "$", re.DOTALL)


_REASON_PATTERNS = [(template, _reason_pattern(template)) for template in REASONS.values()]


def reason_text(text: str, gettext: Callable[[str], str] = _same) -> str:
    """A reason in the reader's language when it is one of REASONS; anything else is shown as it came."""
    for template, pattern in _REASON_PATTERNS:
        found = pattern.match(text)
        if found:
            return _say(gettext, template, **found.groupdict())
    return text


def event_label(event: str, gettext: Callable[[str], str] = _same) -> str:
    label = EVENTS.get(event) or INTERNAL_EVENTS.get(event)
    return gettext(label) if label else (event or gettext(N_("Notification")))


_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _say(gettext: Callable[[str], str], template: str, **values: Any) -> str:
    """`template` translated and filled; a translation that lost or invented a placeholder stays English,
    so a number or a link is never silently dropped from a message."""
    translated = gettext(template)
    if sorted(_PLACEHOLDER.findall(translated)) != sorted(_PLACEHOLDER.findall(template)):
        translated = template
    try:
        return translated % values
    except (KeyError, ValueError, TypeError):
        return template % values


def _value_text(key: str, value: Any, gettext: Callable[[str], str]) -> str:
    if key == "counts" and isinstance(value, dict):
        return ", ".join(f"{event_label(k, gettext)}: {v}" for k, v in value.items())
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    if key == "priority" and value in PRIORITY_LABELS:
        return gettext(PRIORITY_LABELS[value])
    if key == "reason" and isinstance(value, str):
        return reason_text(value, gettext)
    return str(value)


def render_text(payload: Mapping[str, Any], gettext: Callable[[str], str] = _same) -> tuple[str, str]:
    """Subject and plain-text body for email, from the (already filtered) payload, in `gettext`'s language.

    Values stay as the payload has them (references, codes, ISO times) except the labels, the priority
    and the reasons the system wrote (REASONS): those are words a person reads.
    """
    label = event_label(payload.get("event", ""), gettext)
    ref = payload.get("ref", "")
    subject = f"[Tsela] {label}{f' {ref}' if ref else ''}"
    lines = [label]
    for key in ALL_FIELDS:
        if key in payload and key not in ("link", "ack_url"):
            name = gettext(FIELD_LABELS[key]) if key in FIELD_LABELS else key
            lines.append(f"{name}: {_value_text(key, payload[key], gettext)}")
    if payload.get("link"):
        lines.append(_say(gettext, N_("Open in Tsela (sign-in needed): %(link)s"), link=payload["link"]))
    if payload.get("ack_url"):
        lines.append(_say(gettext, N_("Acknowledge: %(url)s"), url=payload["ack_url"]))
    lines.append(_say(gettext, N_("Message id: %(id)s"), id=payload.get("id", "")))
    return subject, "\n".join(lines)


def sms_text(payload: Mapping[str, Any], limit: int = 320, gettext: Callable[[str], str] = _same) -> str:
    """A short text for focal points without email: event, reference, post, acknowledge link."""
    parts = [event_label(payload.get("event", ""), gettext), payload.get("ref", "")]
    if payload.get("post"):
        parts.append(_say(gettext, N_("post %(post)s"), post=payload["post"]))
    text = " | ".join(p for p in parts if p)
    if payload.get("ack_url"):
        text += " | " + _say(gettext, N_("ack: %(url)s"), url=payload["ack_url"])
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
