"""The audit trail: rows are queued on the session and chained (prev_hash -> hash) at flush time.

Chaining at flush, under a database lock on PostgreSQL, keeps the chain linear even with several
web workers; SQLite serialises writers by itself.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from flask import has_request_context, request
from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from tip_cases.actor import current_actor
from tip_cases.extensions import db, utcnow
from tip_cases.models import ApiClient, AuditEvent

GENESIS = "0" * 64
_PG_LOCK_KEY = 0x75E1A  # advisory lock id for the audit chain
_PENDING = "audit_pending"


def _actor() -> tuple[int | None, str]:
    if not has_request_context():
        return None, "cli"
    actor = current_actor()
    if actor is None:
        return None, "anonymous"
    if isinstance(actor, ApiClient):
        return None, f"api:{actor.name}"[:80]
    return actor.id, actor.username


def record(action: str, object_type: str | None = None, object_id: Any = None, *, outcome: str = "allowed",
           detail: dict | None = None, actor: tuple[int | None, str] | None = None,
           session: Session | None = None) -> None:
    """Queue an audit row in the current transaction; it is written with the caller's commit."""
    session = session or db.session()
    if not session.in_transaction():
        session.begin()  # so that a rollback (which fires the drop hook) also discards this row
    actor_id, label = actor or _actor()
    ip = request.remote_addr if has_request_context() else None
    session.info.setdefault(_PENDING, []).append({
        "at": utcnow(), "actor_user_id": actor_id, "actor_label": label, "action": action,
        "object_type": object_type, "object_id": None if object_id is None else str(object_id),
        "outcome": outcome, "ip": ip, "detail": detail,
    })


def denied(action: str, object_type: str | None, object_id: Any, detail: dict | None = None) -> None:
    """Record a refused access on its own transaction, so it survives the abort that follows."""
    db.session.rollback()
    record(action, object_type, object_id, outcome="denied", detail=detail)
    db.session.commit()


def row_hash(prev_hash: str, fields: dict) -> str:
    payload = {
        "at": fields["at"].isoformat(), "actor_user_id": fields["actor_user_id"],
        "actor_label": fields["actor_label"], "action": fields["action"],
        "object_type": fields["object_type"], "object_id": fields["object_id"],
        "outcome": fields["outcome"], "ip": fields["ip"], "detail": fields["detail"],
    }
    blob = prev_hash + json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


@event.listens_for(Session, "before_flush")
def _chain_pending(session: Session, flush_context, instances) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    last = session.execute(
        select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).scalar()
    # Rows chained by an earlier flush of this transaction are already in the table.
    prev = last or GENESIS
    for fields in pending:
        h = row_hash(prev, fields)
        session.add(AuditEvent(prev_hash=prev, hash=h, **fields))
        prev = h


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, previous_transaction) -> None:
    # Fires on every rollback() call, even when no SQL was sent yet; savepoint rollbacks keep the queue.
    if previous_transaction.parent is None:
        session.info.pop(_PENDING, None)


@event.listens_for(Session, "before_commit")
def _flush_pending(session: Session) -> None:
    # A session with only audit rows queued is clean, and a clean flush skips before_flush.
    if session.info.get(_PENDING):
        _chain_pending(session, None, None)


def verify(session: Session | None = None, batch: int = 5000) -> tuple[bool, int, str]:
    """Walk the chain; returns (ok, rows checked, message naming the first broken row)."""
    session = session or db.session()
    prev = GENESIS
    count = 0
    last_id = 0
    while True:
        rows = session.execute(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch)
        ).scalars().all()
        if not rows:
            break
        for row in rows:
            fields = {c: getattr(row, c) for c in (
                "at", "actor_user_id", "actor_label", "action", "object_type", "object_id",
                "outcome", "ip", "detail")}
            if row.prev_hash != prev:
                return False, count, f"row {row.id}: previous-hash link broken (a row was removed or reordered)"
            if row_hash(prev, fields) != row.hash:
                return False, count, f"row {row.id}: content does not match its hash (row was altered)"
            prev = row.hash
            count += 1
            last_id = row.id
        session.expunge_all()
    return True, count, f"audit chain intact: {count} rows"


def iter_events(stmt) -> Iterator[AuditEvent]:
    yield from db.session.execute(stmt).scalars()
