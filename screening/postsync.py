"""Store and forward between a post node and headquarters (docs/postnode.md, "Store and forward").

At the post, capturing a crossing screens it against the local watchlist, writes its flags and an outbox
row in the caller's transaction, so a crossing is never stored without its place in the queue. `sync`
sends the outbox oldest first through headquarters' batch API with each row's own idempotency key and
marks a row sent only in the transaction that records headquarters' answer: a crash at any point resends
the same key, and headquarters replays its first answer, so nothing is lost or doubled.

Headquarters' side is screening.postsync_hq.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from screening.engine.phrases import say
from screening.models import Crossing
from screening.postnode import get_post_watchlist
from screening.postsync_models import PostFlag, PostOutbox
from screening.watchlist_format import DocumentRefused
from tip_cases import audit
from tip_cases.extensions import db, utcnow

log = logging.getLogger("tsela.postsync")

BATCH = 500  # crossings per outbox row (the batch API takes up to 1,000)
NODE_HEADERS = ("Tsela-Node-Clock", "Tsela-Node-Watchlist", "Tsela-Node-Backlog")


class SyncError(RuntimeError):
    """The sync stopped: headquarters unreachable or refused the client. The outbox keeps every row."""


def is_post() -> bool:
    return (current_app.config.get("TSELA_ROLE") or "headquarters") == "post"


def hq_external_id(source: str, external_id: str) -> str:
    """The crossing's id at headquarters: unique across the post's capture channels (form, API, CSV)."""
    key = f"{source}:{external_id}"
    return key if len(key) <= 100 else "h:" + hashlib.sha256(key.encode()).hexdigest()


# --- post: capture -----------------------------------------------------------------------------------

def screen_at_post(new: list[tuple[int, Any]], *, now: datetime, session: Session) -> dict[int, list[PostFlag]]:
    """Screen freshly stored crossings against the post's watchlist and store what it raises."""
    held = get_post_watchlist()
    out: dict[int, list[PostFlag]] = {}
    for cid, c in new:
        for hit in held.screen(c.identity(cid), today=now.date()):
            flag = PostFlag(crossing_id=cid, person_id=hit.person_id, origin="post", score=hit.score,
                            priority=hit.priority, category=hit.category, alert_kind=hit.alert_kind,
                            discreet=hit.discreet, action=hit.action, reason=hit.reason, features=hit.features,
                            status="new", created_at=now)
            session.add(flag)
            out.setdefault(cid, []).append(flag)
    if out:
        session.flush()
    return out


def store_at_post(results: list[Any], new: list[tuple[int, Any]], *, source: str, now: datetime,
                  session: Session) -> None:
    """A post node's part of storing crossings (screening.services.store_crossings calls it through the app's
    "tsela_post_capture" hook): screen against the local watchlist and queue crossings and flags for
    headquarters in the same transaction; travellers and risk patterns are headquarters' work."""
    stored = [(results[i].crossing_id, it) for i, it in new]
    flags = screen_at_post(stored, now=now, session=session)
    queue_crossings(stored, flags, source=source, now=now, session=session)
    for i, _ in new:
        results[i].post_flags = flags.get(results[i].crossing_id, [])


def _item(c: Any, source: str, post_code: str) -> dict[str, Any]:
    dob = c.dob
    if dob is None:
        dob_text, estimated = None, False
    elif dob.precision == "estimated":
        dob_text, estimated = f"{dob.year:04d}", True
    else:
        dob_text, estimated = str(dob), False
    item = {"external_id": hq_external_id(source, c.external_id), "border_post": post_code,
            "direction": c.direction, "crossed_at": c.crossed_at.isoformat(), "surname": c.surname or "",
            "given_names": c.given_names or "", "sex": c.sex, "date_of_birth": dob_text,
            "date_of_birth_estimated": estimated, "nationality": c.nationality, "document_type": c.document_type,
            "document_number": c.document_number, "document_country": c.document_country, "address": c.address,
            "purpose": c.purpose, "vehicle_registration": c.vehicle_registration, "travel_group": c.travel_group,
            "guardian_relation": c.guardian_relation, "guardian_document_number": c.guardian_document_number,
            "consent_document": bool(c.consent_document)}
    return {k: v for k, v in item.items() if v is not None}


def queue_crossings(new: list[tuple[int, Any]], flags: dict[int, list[PostFlag]], *, source: str, now: datetime,
                    session: Session) -> list[PostOutbox]:
    """Outbox rows for crossings just stored at the post, with the flags raised here (same transaction)."""
    post_code = current_app.config["TSELA_POST_CODE"]
    rows = []
    for start in range(0, len(new), BATCH):
        chunk = new[start:start + BATCH]
        items = [_item(c, source, post_code) for _, c in chunk]
        post_flags = [{"external_id": item["external_id"], "person_id": f.person_id, "score": f.score,
                       "raised_at": now.isoformat(), "features": f.features or []}
                      for (cid, _), item in zip(chunk, items, strict=True) for f in flags.get(cid, [])]
        body: dict[str, Any] = {"crossings": items}
        if post_flags:
            body["post_flags"] = post_flags
        row = PostOutbox(kind="crossings", idempotency_key=f"{post_code}:crossings:{uuid.uuid4().hex}", body=body,
                         items=len(items), refs=[cid for cid, _ in chunk], state="pending", created_at=now)
        session.add(row)
        rows.append(row)
    return rows


DECISIONS = {"acknowledge": "acknowledged", "escalate": "escalated", "confirm": "confirmed",
             "not_same_person": "not_same_person"}
_ALLOWED_FROM = {"acknowledged": ("new",), "escalated": ("new", "acknowledged"),
                 "confirmed": ("new", "acknowledged", "escalated"),
                 "not_same_person": ("new", "acknowledged", "escalated")}


class DecisionError(ValueError):
    def __init__(self, message: str, field: str = "decision"):
        super().__init__(message)
        self.field = field


def decide_at_post(flag: PostFlag, decision: str, *, officer: str, reason: str, now: datetime,
                   session: Session | None = None) -> PostOutbox:
    """An officer's decision on a flag at the post: recorded here and queued for headquarters together."""
    session = session or db.session()
    status = DECISIONS.get(decision)
    reason = (reason or "").strip()
    officer = (officer or "").strip()[:80]
    if status is None:
        raise DecisionError(say("unknown decision {decision}", decision=repr(decision)))
    if flag.status not in _ALLOWED_FROM[status]:
        raise DecisionError(say("this flag is already {status}", status=flag.status.replace("_", " ")))
    if decision != "acknowledge" and not reason:
        raise DecisionError(say("say why: the reason is kept with the decision"), "reason")
    if not officer:
        raise DecisionError(say("name the officer who decided"), "officer")
    previous = flag.status
    flag.status, flag.decided_by, flag.decision_note, flag.decided_at = status, officer, reason or None, now
    crossing = session.get(Crossing, flag.crossing_id)
    body = {"decisions": [{"external_id": hq_external_id(crossing.source, crossing.external_id),
                           "person_id": flag.person_id, "decision": decision, "officer": officer, "reason": reason,
                           "decided_at": now.isoformat(), "from_status": previous}]}
    post_code = current_app.config["TSELA_POST_CODE"]
    row = PostOutbox(kind="decision", idempotency_key=f"{post_code}:decision:{uuid.uuid4().hex}", body=body,
                     items=1, refs=[flag.id], state="pending", created_at=now)
    session.add(row)
    audit.record(f"flag.{status}", "post_flag", flag.id, detail={"crossing_id": flag.crossing_id,
                                                                "person_id": flag.person_id, "at": "post"})
    return row


def post_flag_json(f: PostFlag) -> dict[str, Any]:
    """A flag as the post's officer and capture system see it (the reason is blank for a discreet entry)."""
    return {"id": f.id, "crossing_id": f.crossing_id, "person_id": f.person_id, "origin": f.origin,
            "score": f.score, "priority": f.priority, "alert_kind": f.alert_kind, "discreet": f.discreet,
            "action": f.action, "reason": f.reason, "explanations": f.explanations, "status": f.status,
            "decided_by": f.decided_by, "hq_flag_id": f.hq_flag_id, "hq_status": f.hq_status,
            "conflict": f.conflict, "created_at": f.created_at.isoformat()}


# --- post: sending -----------------------------------------------------------------------------------

PATHS = {"crossings": "/api/v1/crossings", "decision": "/api/v1/post/decisions"}


@dataclass
class SyncReport:
    sent: int = 0
    rejected: int = 0
    crossings: int = 0
    hq_flags: int = 0
    remaining: int = 0
    watchlist: str = ""
    errors: list[str] = field(default_factory=list)


def backlog(session: Session | None = None) -> int:
    session = session or db.session()
    return session.execute(select(func.count()).select_from(PostOutbox)
                           .where(PostOutbox.state == "pending")).scalar_one()


def _node_headers(now: datetime) -> dict[str, str]:
    return {"Tsela-Node-Clock": now.isoformat(), "Tsela-Node-Watchlist": str(get_post_watchlist().seq),
            "Tsela-Node-Backlog": str(backlog())}


def _post(url: str, token: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, Any]:
    return _call(urllib.request.Request(url, data=body, method="POST", headers={  # noqa: S310 - HQ_URL is ours
        "Authorization": f"Bearer {token}", "Content-Type": "application/json", **headers}), timeout)


def _get(url: str, token: str, headers: dict[str, str], timeout: float) -> tuple[int, Any]:
    return _call(urllib.request.Request(url, headers={"Authorization": f"Bearer {token}", **headers}),  # noqa: S310
                 timeout)


def _call(req: urllib.request.Request, timeout: float) -> tuple[int, Any]:
    """(status, JSON body); headquarters' refusals are answers too, with their JSON error body when they have one."""
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - HQ_URL is ours
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read())
        except ValueError:
            return exc.code, {"message": str(exc.reason)}


_NETWORK = (urllib.error.URLError, http.client.HTTPException, OSError, ValueError)


def refresh_watchlist(base: str, token: str, *, timeout: float = 60.0) -> str:
    """Bring the watchlist up to date (deltas, or the extract when HQ says so); the call is also the node's
    heartbeat, so headquarters sees it even when the outbox is empty. Raises DocumentRefused on a bad document
    (the last good watchlist is kept) and SyncError when headquarters does not answer or refuses the client."""
    held = get_post_watchlist()
    api = base.rstrip("/") + "/api/v1/watchlist"
    for _ in range(10_000):  # each round applies up to WATCHLIST_MAX_DELTAS; the bound only stops a loop
        try:
            if held.seq:
                status, body = _get(f"{api}/deltas?after={held.seq}", token, _node_headers(utcnow()), timeout)
                if status == 200:
                    if not body.get("deltas"):
                        return f"watchlist {held.seq}"
                    for doc in body["deltas"]:
                        held.accept_delta(doc)
                    continue
                if status not in (409, 410):
                    raise SyncError(f"headquarters answered {status}: {body.get('message')}")
            status, body = _get(f"{api}/extract", token, _node_headers(utcnow()), timeout)
        except _NETWORK as exc:
            raise SyncError(f"headquarters unreachable ({getattr(exc, 'reason', exc)})") from exc
        if status == 409 and not held.seq:
            return "no watchlist published yet"
        if status != 200:
            raise SyncError(f"headquarters answered {status}: {body.get('message')}")
        held.accept_extract(body)
    return f"watchlist {held.seq}"


def wire_body(row: PostOutbox) -> bytes:
    """The exact bytes sent for a row, every time (sorted keys): a resend must hash as the first send did."""
    return json.dumps(row.body, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def sync(*, base_url: str, token: str, limit: int | None = None, timeout: float = 60.0, pause: float = 0.0,
         watchlist: bool = True, say: Callable[[str], None] = lambda _: None) -> SyncReport:
    """Bring the watchlist up to date, then send the pending outbox oldest first; each row is marked only
    after headquarters answered it.

    Raises SyncError when headquarters is unreachable or refuses this client: the rows stay pending with
    the error recorded, and the next sync starts from the same row.
    """
    session = db.session()
    report = SyncReport()
    base = base_url.rstrip("/")
    if watchlist:
        try:
            report.watchlist = refresh_watchlist(base, token, timeout=timeout)
        except DocumentRefused as exc:  # kept the last good one; the queue still goes
            report.errors.append(f"watchlist: REFUSED ({exc.code}): {exc}")
        except SyncError as exc:
            head = session.execute(select(PostOutbox).where(PostOutbox.state == "pending")
                                   .order_by(PostOutbox.id).limit(1)).scalar_one_or_none()
            if head is not None:  # shown by `flask post outbox` beside the row that waits
                head.last_error = str(exc)[:500]
                session.commit()
            report.remaining = backlog(session)
            raise SyncError(f"{exc}; {report.remaining} waiting in the outbox") from exc
    done = 0
    while limit is None or done < limit:
        row = session.execute(select(PostOutbox).where(PostOutbox.state == "pending")
                              .order_by(PostOutbox.id).limit(1)).scalar_one_or_none()
        if row is None:
            break
        now = utcnow()
        headers = {"Idempotency-Key": row.idempotency_key, **_node_headers(now)}
        row.attempts, row.last_attempt_at = (row.attempts or 0) + 1, now
        try:
            status, answer = _post(base + PATHS[row.kind], token, wire_body(row), headers, timeout)
        except _NETWORK as exc:
            reason = getattr(exc, "reason", exc)
            row.last_error = f"headquarters unreachable: {reason}"[:500]
            session.commit()
            report.remaining = backlog(session)
            raise SyncError(f"headquarters unreachable ({reason}); {report.remaining} waiting in the outbox") \
                from exc
        message = (answer or {}).get("message") if isinstance(answer, dict) else None
        if status in (401, 403) or status >= 500 or status == 429:
            row.last_error = f"headquarters answered {status}: {message or ''}"[:500]
            session.commit()
            report.remaining = backlog(session)
            raise SyncError(f"headquarters answered {status}: {message}; {report.remaining} waiting in the outbox")
        if status != 200:
            # Refused as a whole (400/404/422): kept, shown with the reason, and the queue moves on.
            row.state, row.last_error = "rejected", f"headquarters answered {status}: {message or ''}"[:2000]
            report.rejected += 1
            report.errors.append(f"#{row.id}: {row.last_error}")
        else:
            problems = _record_answer(row, answer, session, report)
            row.state = "rejected" if problems else "sent"
            row.sent_at, row.last_error = utcnow(), "; ".join(problems)[:2000] if problems else None
            if problems:
                report.rejected += 1
                report.errors.append(f"#{row.id}: {row.last_error}")
            report.sent += 1
        session.commit()
        say(f"outbox #{row.id} ({row.kind}, {row.items}): {row.state}")
        done += 1
        if pause:
            time.sleep(pause)
    report.remaining = backlog(session)
    return report


def _adopt_hq_flag(crossing_id: int, f: dict[str, Any], session: Session) -> PostFlag:
    existing = session.execute(select(PostFlag).where(PostFlag.crossing_id == crossing_id,
                                                      PostFlag.person_id == f["person_id"])).scalar_one_or_none()
    if existing is None:
        existing = PostFlag(crossing_id=crossing_id, person_id=f["person_id"], origin="hq", score=f.get("score") or 0,
                            priority=f.get("priority") or "normal", category="", alert_kind=f.get("alert_kind") or "",
                            discreet=bool(f.get("discreet")), action=f.get("action") or "",
                            reason=f.get("reason") or "", features=f.get("features") or [], status="new",
                            created_at=utcnow())
        session.add(existing)
    existing.hq_flag_id, existing.hq_status = f.get("id"), f.get("status")
    return existing


def _record_answer(row: PostOutbox, answer: dict[str, Any], session: Session, report: SyncReport) -> list[str]:
    """Record headquarters' answer at the post: its flags for the crossings, or what it did with a decision."""
    problems: list[str] = []
    if row.kind == "crossings":
        for result, local_id in zip(answer.get("results", []), row.refs or [], strict=False):
            if result.get("status") == "rejected":
                problems.append(f"{result.get('external_id')}: " + ", ".join(
                    f"{e.get('field')}: {e.get('message')}" for e in result.get("errors") or []))
                continue
            report.crossings += 1
            for f in result.get("flags") or []:
                if f.get("person_id") is not None:
                    _adopt_hq_flag(local_id, f, session)
                    report.hq_flags += 1
        return problems
    for result, flag_id in zip(answer.get("results", []), row.refs or [], strict=False):
        flag = session.get(PostFlag, flag_id)
        if flag is not None:
            flag.hq_flag_id = result.get("flag_id") or flag.hq_flag_id
            flag.hq_status = result.get("hq_status") or flag.hq_status
        if result.get("status") == "rejected":
            problems.append(result.get("message") or "rejected")
    return problems


def job_sync(now: datetime) -> str:
    """The post's scheduler: send the outbox when headquarters answers (the same as `flask post sync`)."""
    cfg = current_app.config
    if not cfg.get("HQ_URL") or not cfg.get("HQ_API_TOKEN"):
        return "HQ_URL or HQ_API_TOKEN not set"
    try:
        report = sync(base_url=cfg["HQ_URL"], token=cfg["HQ_API_TOKEN"])
    except SyncError as exc:
        return f"not synced: {exc}"
    return f"sent {report.sent}, rejected {report.rejected}, waiting {report.remaining}"
