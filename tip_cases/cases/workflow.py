"""The rules every case service shares: domain errors, workflow tables, and the helpers that write the
case timeline, the audit trail and field-level change records."""


from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from screening.engine.phrases import say
from tip_cases import audit
from tip_cases.cases import htcds
from tip_cases.cases.models import (
    Case,
    CaseEvent,
    CaseReferenceCounter,
    FieldChange,
)
from tip_cases.extensions import db


class CaseError(ValueError):
    """A refusal the user can read; `field` names the form field at fault when there is one."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class ConflictError(CaseError):
    """Someone saved a newer version first; `changes` lists what they changed (FieldChange rows)."""

    def __init__(self, message: str, changes: list[FieldChange]):
        super().__init__(message)
        self.changes = changes


# --- workflow tables ------------------------------------------------------------------------------

# Closed statuses are reached only through an approved closure request (request_closure/decide_closure).
STATUS_TRANSITIONS: dict[str, set[str]] = {
    "Active": {"FollowUp"},
    "FollowUp": {"Active"},
    "Closed": {"Active"},  # reopening
    "ClosedReferred": {"Active"},
}
STAGE_TRANSITIONS: dict[str, set[str]] = {
    "identification": {"investigation", "closed"},
    "investigation": {"referred_for_prosecution", "identification", "closed"},
    "referred_for_prosecution": {"in_court", "investigation", "closed"},
    "in_court": {"closed", "referred_for_prosecution"},
    "closed": {"investigation"},
}
REFERRAL_TRANSITIONS: dict[str, set[str]] = {
    "sent": {"acknowledged", "accepted", "declined"},
    "acknowledged": {"accepted", "declined"},
    "accepted": {"completed"},
    "declined": set(),
    "completed": set(),
}
ACK_DEADLINE = timedelta(hours=48)
EDITABLE_CASE_FIELDS = ("title", "summary", "priority", "kind")
VICTIM_FIELDS = ("trafficking_status", "status_decided_by", "exploitation_types", "forced_labour_industry",
                 "sex_exploitation_type", "methods_of_control", "recruitment_method", "recruitment_place",
                 "exploitation_place", "relationship_to_trafficker", "age_when_trafficked")
PERPETRATOR_FIELDS = ("perpetrator_role", "role_details", "organisation")
PERSON_CONTEXT_FIELDS = (*VICTIM_FIELDS, *PERPETRATOR_FIELDS, "notes")
ALLOWED_EVIDENCE = {
    ".pdf": "application/pdf", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
    ".txt": "text/plain", ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".mp3": "audio/mpeg", ".mp4": "video/mp4",
}
# Magic numbers checked for the binary types, so a renamed executable is refused.
_MAGIC = {".pdf": [b"%PDF"], ".jpg": [b"\xff\xd8\xff"], ".jpeg": [b"\xff\xd8\xff"], ".png": [b"\x89PNG"],
          ".docx": [b"PK\x03\x04"]}
MAX_EVIDENCE_BYTES = 20 * 1024 * 1024


# --- helpers --------------------------------------------------------------------------------------

def _event(case: Case, actor, kind: str, summary: str, now: datetime, detail: dict | None = None) -> None:
    db.session.add(CaseEvent(case_id=case.id, actor_id=getattr(actor, "id", None), kind=kind,
                             summary=summary[:300], at=now, detail=detail))


def _audit(action: str, object_type: str, object_id: Any, /, **detail) -> None:
    audit.record(action, object_type, object_id, detail=detail or None)


def _value_text(v) -> str | None:
    if v is None or v == "" or v == []:
        return None
    if isinstance(v, list):
        return ", ".join(str(x) for x in v)
    return str(v)


def _check_choice(value, allowed, field_name: str, label: str) -> None:
    if value not in allowed:
        raise CaseError(say("{label}: {value} is not an allowed value.", label=label, value=repr(value)), field_name)


def _check_version(obj, object_type: str, expected: int | None) -> None:
    """Refuse a save based on an older version, listing what the newer saves changed."""
    if expected is None:
        return
    try:
        expected = int(expected)
        if not 0 <= expected <= 2**31 - 1:  # beyond the column's range: the database would overflow
            raise ValueError(expected)
    except (TypeError, ValueError):
        # A tampered or truncated form: a domain error naming the field, never a 500.
        raise CaseError(say("The form's record version is missing or invalid; reload the page and try again."),
                        "version") from None
    if expected == obj.version:
        return
    case_id = obj.id if object_type == "case" else obj.case_id
    changes = db.session.execute(
        select(FieldChange).where(FieldChange.case_id == case_id, FieldChange.object_type == object_type,
                                  FieldChange.object_id == obj.id, FieldChange.version > int(expected))
        .order_by(FieldChange.id)).scalars().all()
    raise ConflictError(say("This record was changed by someone else after you opened it. "
                        "Your changes were not saved; review theirs and try again."), changes)


def _record_changes(case: Case, obj, object_type: str, changes: dict[str, tuple], actor, now: datetime) -> None:
    version = obj.version + 1  # version_id_col bumps it once at the flush of this transaction
    for name, (old, new) in changes.items():
        db.session.add(FieldChange(case_id=case.id, object_type=object_type, object_id=obj.id, version=version,
                                   field=name, old_value=_value_text(old), new_value=_value_text(new),
                                   actor_id=getattr(actor, "id", None), at=now))


def allocate_reference(kind: str, now: datetime) -> str:
    """The next reference for this kind and year (TIP-2026-0042), unique under concurrent openings.

    The counter row is incremented with UPDATE ... RETURNING, whose row lock makes concurrent
    transactions wait for each other; the first case of a year inserts the row in a savepoint.
    """
    prefix, year = htcds.KIND_PREFIX[kind], now.year
    stmt = (update(CaseReferenceCounter)
            .where(CaseReferenceCounter.prefix == prefix, CaseReferenceCounter.year == year)
            .values(last=CaseReferenceCounter.last + 1).returning(CaseReferenceCounter.last))
    for _attempt in range(5):
        number = db.session.execute(stmt).scalar()
        if number is not None:
            return f"{prefix}-{year}-{number:04d}"
        try:
            with db.session.begin_nested():
                db.session.add(CaseReferenceCounter(prefix=prefix, year=year, last=1))
            return f"{prefix}-{year}-0001"
        except IntegrityError:
            continue  # another transaction created the row first: increment it instead
    raise CaseError(say("Could not allocate a case reference; please try again."))
