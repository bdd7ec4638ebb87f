"""Headquarters: publish the screened persons of interest to post nodes as a signed extract and deltas.

`publish()` compares the persons screened today with what was last published (watchlist_entries) and
records one numbered delta (added, changed, expired). `extract_document()` and `delta_documents()` sign
them for one post: the post code is inside the signed payload, so a document fetched for one post is
refused by every other. Key handling follows the audit checkpoints (tip_cases.audit): the Ed25519
WATCHLIST_SIGNING_KEY from the environment, else a development key in the instance folder.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, insert, or_, select, text, update
from sqlalchemy.orm import Session

from screening.models import Person, PersonAlias, PersonDocument, dob_of
from screening.watchlist_format import (
    PAYLOAD_FORMAT,
    entry_hash,
    key_id,
    make_entry,
    public_key_from_text,
    raw_public,
    sign,
)
from screening.watchlist_models import WatchlistDelta, WatchlistEntry
from tip_cases import audit
from tip_cases.extensions import db

log = logging.getLogger("tsela.watchlist")

_PG_LOCK_KEY = 0x7453_574C  # "tSWL": one publisher at a time
KEY_FILE = "watchlist_signing_key.pem"


class WatchlistError(ValueError):
    """A request headquarters cannot serve; `code` for machines, the message for people."""

    def __init__(self, code: str, message: str, status: int = 422):
        super().__init__(message)
        self.code = code
        self.status = status


# --- keys -----------------------------------------------------------------------------------------------

def signing_key():
    """WATCHLIST_SIGNING_KEY (PEM or base64 seed), else the instance folder's development key."""
    value = current_app.config.get("WATCHLIST_SIGNING_KEY") or audit._instance_file_secret(  # noqa: SLF001
        KEY_FILE, audit._new_private_pem)  # noqa: SLF001
    try:
        return audit._load_private_key(value)  # noqa: SLF001
    except audit.AuditError as exc:
        raise WatchlistError("bad_key", str(exc).replace("AUDIT_SIGNING_KEY", "WATCHLIST_SIGNING_KEY")) from exc


def public_key_text() -> str:
    """What a post's WATCHLIST_PUBLIC_KEYS must list: base64 of the raw public key."""
    import base64

    return base64.b64encode(raw_public(signing_key().public_key())).decode()


def trusted_keys() -> dict[str, Any]:
    """Keys a post accepts: WATCHLIST_PUBLIC_KEYS, else (development, one machine) the local signing key's."""
    configured = [k for k in (current_app.config.get("WATCHLIST_PUBLIC_KEYS") or "").replace("\n", ",").split(",")
                  if k.strip()]
    keys = [public_key_from_text(k) for k in configured] or [signing_key().public_key()]
    return {key_id(raw_public(k)): k for k in keys}


# --- publication ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Publication:
    seq: int
    added: int
    changed: int
    expired: int
    baseline: bool


def current_entries(session: Session, today: date) -> dict[int, dict[str, Any]]:
    """Every person screened today, minimised; plain column queries, as the screener's index build."""
    screened = (Person.screening_active.is_(True), or_(Person.review_date.is_(None), Person.review_date >= today))
    aliases: dict[int, list[tuple[str, str]]] = {}
    for pid, surname, given in session.execute(
            select(PersonAlias.person_id, PersonAlias.surname, PersonAlias.given_names)
            .join(Person, Person.id == PersonAlias.person_id).where(*screened).order_by(PersonAlias.id)):
        aliases.setdefault(pid, []).append((surname or "", given or ""))
    documents: dict[int, list[tuple[str | None, str, str | None]]] = {}
    for pid, type_, number, country in session.execute(
            select(PersonDocument.person_id, PersonDocument.type, PersonDocument.number, PersonDocument.country)
            .join(Person, Person.id == PersonDocument.person_id).where(*screened).order_by(PersonDocument.id)):
        if number:
            documents.setdefault(pid, []).append((type_, number, country))
    out: dict[int, dict[str, Any]] = {}
    stmt = select(Person.id, Person.surname, Person.given_names, Person.sex, Person.nationality, Person.dob_year,
                  Person.dob_month, Person.dob_day, Person.dob_precision, Person.category, Person.alert_kind,
                  Person.discreet, Person.alert_reason, Person.officer_action, Person.review_date).where(*screened)
    for r in session.execute(stmt.execution_options(yield_per=10_000)):
        dob = dob_of(r)
        out[r.id] = make_entry(id=r.id, surname=r.surname, given_names=r.given_names, aliases=aliases.get(r.id, []),
                               dob=dob, sex=r.sex, nationality=r.nationality, documents=documents.get(r.id, []),
                               category=r.category, alert_kind=r.alert_kind, discreet=bool(r.discreet),
                               action=r.officer_action, reason=r.alert_reason, review_date=r.review_date)
    return out


def head_seq(session: Session) -> int:
    return session.execute(select(func.max(WatchlistDelta.seq))).scalar() or 0


def publish(*, now: datetime, session: Session | None = None) -> Publication | None:
    """Record the next delta; None when nothing changed since the last one. The caller commits."""
    session = session or db.session()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    head = head_seq(session)
    current = current_entries(session, now.date())
    hashes = {pid: entry_hash(e) for pid, e in current.items()}
    published = dict(session.execute(select(WatchlistEntry.person_id, WatchlistEntry.entry_hash)).all())
    added = [pid for pid in current if pid not in published]
    changed = [pid for pid in current if pid in published and published[pid] != hashes[pid]]
    expired = sorted(set(published) - set(current))
    if head and not (added or changed or expired):
        return None
    seq = head + 1
    baseline = head == 0
    changes = None if baseline else {"added": [current[p] for p in sorted(added)],
                                     "changed": [current[p] for p in sorted(changed)], "expired": expired}
    session.add(WatchlistDelta(seq=seq, created_at=now, added=len(added), changed=len(changed),
                               expired=len(expired), changes=changes))
    session.flush()  # the delta's number is taken (primary key) before the entries move
    for start in range(0, len(added), 5000):
        session.execute(insert(WatchlistEntry), [{"person_id": p, "entry": current[p], "entry_hash": hashes[p],
                                                  "seq": seq} for p in added[start:start + 5000]])
    if changed:
        session.execute(update(WatchlistEntry), [
            {"person_id": p, "entry": current[p], "entry_hash": hashes[p], "seq": seq} for p in changed])
    for start in range(0, len(expired), 900):
        session.execute(delete(WatchlistEntry).where(WatchlistEntry.person_id.in_(expired[start:start + 900])))
    audit.record("watchlist.publish", "watchlist", seq,
                 detail={"added": len(added), "changed": len(changed), "expired": len(expired)})
    log.info("watchlist %d published: %d added, %d changed, %d expired", seq, len(added), len(changed), len(expired))
    return Publication(seq, len(added), len(changed), len(expired), baseline)


# --- documents for one post -----------------------------------------------------------------------------

def _header(kind: str, post_code: str, seq: int, now: datetime) -> dict[str, Any]:
    return {"format": PAYLOAD_FORMAT, "type": kind, "post": post_code, "seq": seq, "issued_at": now.isoformat(),
            "flag_threshold": float(current_app.config.get("SCREENING_FLAG_THRESHOLD", 0.80))}


def extract_document(post_code: str, *, now: datetime, session: Session | None = None) -> dict[str, Any]:
    """The full extract at the latest publication, signed for one post."""
    session = session or db.session()
    for _ in range(5):  # a publication committed between the two reads: read again
        head = head_seq(session)
        if head == 0:
            raise WatchlistError("not_published", "headquarters has not published a watchlist yet "
                                                  "(flask watchlist publish)", 409)
        entries = [e for (e,) in session.execute(select(WatchlistEntry.entry).order_by(WatchlistEntry.person_id))]
        if head_seq(session) == head:
            break
    else:
        raise WatchlistError("busy", "the watchlist is being published; try again", 503)
    payload = _header("extract", post_code, head, now)
    payload["entries"] = entries
    return sign(payload, signing_key())


def delta_documents(post_code: str, after: int, *, now: datetime, limit: int = 100,
                    session: Session | None = None) -> tuple[int, list[dict[str, Any]]]:
    """(head, the signed deltas after `after`, oldest first, at most `limit`)."""
    session = session or db.session()
    head = head_seq(session)
    if after > head:
        raise WatchlistError("ahead", f"this post says it holds watchlist {after}, but headquarters has only "
                                      f"published up to {head}; fetch the full extract", 409)
    rows = session.execute(select(WatchlistDelta).where(WatchlistDelta.seq > after)
                           .order_by(WatchlistDelta.seq).limit(limit)).scalars().all()
    if any(r.changes is None for r in rows):
        raise WatchlistError("extract_needed", f"no delta leads on from watchlist {after}; fetch the full extract",
                             410)
    key = signing_key()
    docs = []
    for r in rows:
        payload = _header("delta", post_code, r.seq, now)
        payload.update(prev_seq=r.seq - 1, added=r.changes["added"], changed=r.changes["changed"],
                       expired=r.changes["expired"])
        docs.append(sign(payload, key))
    return head, docs
