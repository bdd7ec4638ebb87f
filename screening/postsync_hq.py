"""Headquarters' side of store and forward: what post nodes report, their flags and decisions, conflicts.

Forwarded crossings go through the ordinary batch path (stored, re-screened against the current list);
flags raised at the post are adopted when headquarters did not raise them itself; a decision made at the
post is applied, or, when headquarters decided the same flag differently while they were apart, kept in the
history beside headquarters' decision and marked as a conflict for a manager. Each post node's clock,
watchlist number and backlog are recorded on every call, and a silent node reminds its post's managers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from notifications import services as notifications
from screening.engine.normalize import parse_timestamp
from screening.engine.phrases import Phrase, say
from screening.models import Crossing, Flag, FlagEvent, MatchJudgement, Person
from screening.postsync import _ALLOWED_FROM, DECISIONS
from screening.postsync_models import PostNode
from screening.services import (
    ScreeningError,
    actor_label,
    document_key,
    flag_priority,
    identity_key,
    review_flag,
    threshold,
)
from tip_cases import audit
from tip_cases.extensions import db
from tip_cases.models import ApiClient, BorderPost, User

# --- headquarters: the post's own status ------------------------------------------------------------

def record_node(client: ApiClient, headers, now: datetime, session: Session | None = None) -> PostNode | None:
    """What a post node says about itself on each call (clock, watchlist number, backlog); None if it says nothing."""
    if client is None or client.border_post_id is None or not headers.get("Tsela-Node-Clock"):
        return None
    session = session or db.session()
    node = session.execute(select(PostNode).where(PostNode.border_post_id == client.border_post_id)
                           ).scalar_one_or_none()
    if node is None:
        node = PostNode(border_post_id=client.border_post_id, first_seen_at=now)
        session.add(node)
    node.api_client_id, node.last_sync_at = client.id, now
    try:
        clock = parse_timestamp(headers["Tsela-Node-Clock"])
        node.post_clock, node.clock_drift_seconds = clock, round((clock - now).total_seconds(), 1)
    except ValueError:
        pass  # a clock we cannot read is left as last reported, never guessed
    for header, attr in (("Tsela-Node-Watchlist", "watchlist_seq"), ("Tsela-Node-Backlog", "backlog")):
        raw = headers.get(header, "")
        if raw.isdigit() and len(raw) < 10:
            setattr(node, attr, int(raw))
    return node


# --- headquarters: flags raised at the post -----------------------------------------------------------

def _features(raw: Any) -> list[dict[str, Any]]:
    """The post's match features, kept only in the shape the flag page reads (a bad item is dropped)."""
    out = []
    for f in raw if isinstance(raw, list) else []:
        try:
            score = f.get("score")
            out.append({"name": str(f["name"])[:40], "score": None if score is None else float(score),
                        "weight": float(f.get("weight") or 0), "verdict": str(f.get("verdict") or "missing")[:20],
                        "explanation": str(f.get("explanation") or "")[:300],
                        "contribution": float(f.get("contribution") or 0), "level": f.get("level")
                        if isinstance(f.get("level"), int | str) else None, "say": None})
            if isinstance(f.get("say"), list) and Phrase.from_json(f["say"]) is not None:
                out[-1]["say"] = f["say"]  # the sentence in the reader's language at headquarters too
        except (AttributeError, KeyError, TypeError, ValueError, IndexError):
            continue
    return out


def adopt_post_flags(client: ApiClient, post_flags: list[dict[str, Any]], result: dict[str, Any], *,
                     now: datetime, flag_json: Callable[..., dict]) -> None:
    """Flags the post raised that headquarters did not raise itself are added (with the post's evidence),
    unless an officer already judged the pair "not the same person"; every flag goes back in the answer."""
    session = db.session()
    by_ext = {r["external_id"]: r for r in result["results"] if r.get("crossing_id")}
    post = session.get(BorderPost, client.border_post_id)
    codes = {post.id: post.code}
    for pf in post_flags:
        entry = by_ext.get(pf.get("external_id"))
        person_id = pf.get("person_id")
        if entry is None or not isinstance(person_id, int):
            continue
        if any(f.get("person_id") == person_id for f in entry["flags"]):
            continue
        flag = session.execute(select(Flag).where(Flag.crossing_id == entry["crossing_id"],
                                                  Flag.person_id == person_id)).scalar_one_or_none()
        person = session.get(Person, person_id)
        if flag is None and person is not None:
            crossing = session.get(Crossing, entry["crossing_id"])
            keys = {identity_key(crossing.surname, crossing.given_names, crossing.dob),
                    document_key(crossing.document_number)} - {None}
            judged = session.execute(select(MatchJudgement.id).where(
                MatchJudgement.person_id == person_id,
                (MatchJudgement.identity_key.in_(keys)) | (MatchJudgement.document_key.in_(keys)))).first()
            if judged is not None:
                continue
            try:
                raised_at = parse_timestamp(pf.get("raised_at") or "")
            except ValueError:
                raised_at = now
            score = float(pf.get("score") or 0)
            flag = Flag(kind="identity", crossing_id=crossing.id, person_id=person_id,
                        border_post_id=crossing.border_post_id, score=round(score, 4),
                        features=_features(pf.get("features")),
                        priority=flag_priority(person.category, score, threshold()), reason=person.alert_reason,
                        action=person.officer_action, status="new", created_at=raised_at)
            session.add(flag)
            session.flush()
            session.add(FlagEvent(flag_id=flag.id, at=now, actor_label=f"post:{post.code}"[:80], action="raised",
                                  note=f"raised at the post while offline, score {score:.2f}"))
        if flag is not None:
            entry["flags"].append(flag_json(flag, codes, person))


# --- headquarters: decisions made at the post ----------------------------------------------------------

def _decided_elsewhere(flag: Flag, label_prefix: str) -> bool:
    """True when the flag's current status was set by someone other than this post (a decision at HQ)."""
    if flag.status == "new":
        return False
    for ev in reversed(flag.events):
        if ev.action == flag.status:
            return not ev.actor_label.startswith(label_prefix)
    return True


def receive_decisions(client: ApiClient, decisions: list[Any], *, now: datetime) -> list[dict[str, Any]]:
    """Apply each decision made at the post; a flag HQ decided differently keeps both and is marked a conflict."""
    session = db.session()
    source = f"api:{client.name}"
    prefix = f"api:{client.name}"
    out = []
    for i, d in enumerate(decisions):
        ext, person_id, decision = d.external_id, d.person_id, d.decision
        flag = session.execute(select(Flag).join(Crossing, Flag.crossing_id == Crossing.id).where(
            Crossing.source == source, Crossing.external_id == ext, Crossing.border_post_id == client.border_post_id,
            Flag.person_id == person_id)).scalar_one_or_none()
        if flag is None:
            out.append({"index": i, "status": "rejected", "flag_id": None, "hq_status": None,
                        "message": f"no flag at headquarters for crossing {ext!r} and person {person_id}"})
            continue
        status = DECISIONS[decision]
        label = actor_label(client, d.officer)
        when = f"decided at the post at {d.decided_at.isoformat()}"
        if flag.status == status:
            session.add(FlagEvent(flag_id=flag.id, at=now, actor_label=label, action=status,
                                  note=f"{when}, the same decision as headquarters. {d.reason}".strip()))
            out.append({"index": i, "status": "agreed", "flag_id": flag.id, "hq_status": flag.status})
            continue
        if _decided_elsewhere(flag, prefix) or flag.status not in _ALLOWED_FROM[status]:
            session.add(FlagEvent(flag_id=flag.id, at=now, actor_label=label, action=status,
                                  note=f"{when} while apart; headquarters had decided "
                                       f"{flag.status.replace('_', ' ')}. {d.reason}".strip()))
            flag.conflict_at = now
            audit.record("flag.conflict", "flag", flag.id, detail={"post_decision": status, "hq_status": flag.status})
            out.append({"index": i, "status": "conflict", "flag_id": flag.id, "hq_status": flag.status})
            continue
        try:
            review_flag(flag, decision, actor=client, now=now, reason=f"{d.reason} ({when})" if d.reason else "",
                        officer=d.officer)
        except ScreeningError as exc:
            out.append({"index": i, "status": "rejected", "flag_id": flag.id, "hq_status": flag.status,
                        "message": str(exc)})
            continue
        out.append({"index": i, "status": "applied", "flag_id": flag.id, "hq_status": flag.status})
    return out


def settle_conflict(flag: Flag, keep: str, *, actor: User, note: str, now: datetime) -> Flag:
    """A manager settles a conflict: keep headquarters' decision or take the post's; both stay in the history."""
    if flag.conflict_at is None:
        raise ValueError(say("this flag has no conflict to settle"))
    if keep not in ("hq", "post"):
        raise ValueError(say("keep headquarters' decision or the post's"))
    if keep == "post":
        post_events = [ev for ev in flag.events if ev.actor_label.startswith("api:") and ev.action in _ALLOWED_FROM]
        if not post_events:
            raise ValueError(say("no decision from the post in this flag's history"))
        flag.status = post_events[-1].action
        flag.decided_at, flag.decided_by_user_id = now, actor.id
    flag.conflict_at = None
    whose = "the post" if keep == "post" else "headquarters"
    db.session.add(FlagEvent(flag_id=flag.id, at=now, user_id=actor.id, actor_label=actor.username[:80],
                             action="settled", note=f"conflict settled: kept {whose}'s decision "
                                                    f"({flag.status.replace('_', ' ')}). {note}".strip()))
    audit.record("flag.conflict_settled", "flag", flag.id, detail={"kept": keep, "status": flag.status})
    return flag


def conflicts(session: Session | None = None) -> list[Flag]:
    session = session or db.session()
    return list(session.execute(select(Flag).where(Flag.conflict_at.is_not(None))
                                .order_by(Flag.conflict_at.desc())).scalars())


# --- headquarters: overview and reminders --------------------------------------------------------------

def overdue_after() -> timedelta:
    return timedelta(hours=float(current_app.config.get("POST_SYNC_OVERDUE_HOURS", 6)))


def nodes(session: Session | None = None) -> list[PostNode]:
    session = session or db.session()
    return list(session.execute(select(PostNode).join(BorderPost).order_by(BorderPost.name)).scalars())


def remind_overdue(*, now: datetime) -> int:
    """Each post not heard from within POST_SYNC_OVERDUE_HOURS: one reminder to its managers per silence."""
    after = overdue_after()
    count = 0
    for node in nodes():
        if node.last_sync_at is None or node.last_sync_at > now - after:
            continue
        if node.reminded_at is not None and node.reminded_at >= node.last_sync_at:
            continue  # already reminded about this silence
        hours = int((now - node.last_sync_at).total_seconds() // 3600)
        notifications.remind_post_managers(
            "post.sync_overdue", ref=f"post_node:{node.id}", subject_type="post_node", subject_id=node.id,
            post_code=node.border_post.code, reason_key="sync_overdue",
            values={"post": node.border_post.code, "hours": hours}, now=now,
            link=current_app.config.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/") + "/posts/nodes")
        node.reminded_at = now
        count += 1
    return count


def job_sync_overdue(now: datetime) -> str:
    reminded = remind_overdue(now=now)
    db.session.commit()
    return f"post nodes reminded {reminded}"
