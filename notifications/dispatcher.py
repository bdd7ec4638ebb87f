"""The outbox dispatcher: claim due rows, send them per destination in parallel, record every attempt.

Claiming: on PostgreSQL `SELECT ... FOR UPDATE SKIP LOCKED`, so several dispatchers never take the
same row; on SQLite a conditional UPDATE per row (only one writer wins). A claim is a lease: a
dispatcher killed mid-batch leaves rows in "sending" whose lease expires, and the next run takes them
again with the same message id (so a partner de-duplicates by `webhook-id`). Each result is committed
as soon as it arrives, which keeps the duplicates after a crash to the messages in flight.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import socket
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import force_locale, gettext
from sqlalchemy import or_, select, update

from notifications import channels as ch
from notifications import rules
from notifications.models import Channel, DeliveryAttempt, MailMessage, OutboxMessage
from tip_cases.extensions import db, utcnow
from tip_cases.models import User

log = logging.getLogger("tsela.notifications.dispatch")
DEFER_HOLD = timedelta(seconds=30)
SLOW_FAILURE_MS = 1000


@dataclass
class Stats:
    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    deferred: int = 0
    disabled_channels: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        return (f"claimed {self.claimed}, delivered {self.delivered}, retry later {self.retried}, "
                f"dead {self.dead}, deferred {self.deferred}")


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 10000}"[:80]


def _claimable(now: datetime):
    return or_((OutboxMessage.status == "pending") & (OutboxMessage.next_attempt_at <= now),
               (OutboxMessage.status == "sending") & (OutboxMessage.lease_until < now))


def claim(*, now: datetime, batch: int, lease: timedelta, worker: str, per_destination: int = 10) -> list[int]:
    """Take up to `batch` due rows (at most `per_destination` per channel, so one busy partner cannot
    fill the batch) and lease them to `worker`; commits and returns their ids."""
    session = db.session
    stmt = (select(OutboxMessage.id, OutboxMessage.channel_id, OutboxMessage.address)
            .outerjoin(Channel, OutboxMessage.channel_id == Channel.id)
            .where(_claimable(now), or_(OutboxMessage.channel_id.is_(None), Channel.active.is_(True)))
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(batch * 4))
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        stmt = stmt.with_for_update(skip_locked=True, of=OutboxMessage)
    per: dict[object, int] = defaultdict(int)
    chosen = []
    for row_id, channel_id, address in session.execute(stmt):
        key = channel_id or address
        if per[key] >= per_destination:
            continue
        per[key] += 1
        chosen.append(row_id)
        if len(chosen) >= batch:
            break
    claimed = []
    values = {"status": "sending", "lease_until": now + lease, "claimed_by": worker}
    if postgres:
        if chosen:
            session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(chosen)).values(**values))
        claimed = chosen
    else:
        for row_id in chosen:  # the WHERE repeats the test, so a concurrent claimer makes rowcount 0
            res = session.execute(update(OutboxMessage).where(OutboxMessage.id == row_id, _claimable(now))
                                  .values(**values))
            if res.rowcount == 1:
                claimed.append(row_id)
    session.commit()
    return claimed


def recipient_locale(msg: OutboxMessage) -> str:
    """The language the recipient reads: a staff member's own choice, a partner agency's, else the unit's."""
    languages = current_app.config["LANGUAGES"]
    chosen = None
    if msg.user_id is not None:
        user = db.session.get(User, msg.user_id)
        chosen = user.locale if user is not None else None
    elif msg.agency is not None:
        chosen = msg.agency.locale
    return chosen if chosen in languages else current_app.config["BABEL_DEFAULT_LOCALE"]


def _rendered(payload: dict, locale: str) -> dict[str, str]:
    """Subject, body and SMS text in `locale`; the payload itself (the webhook body) stays English codes.

    Rendering happens here, in the dispatcher's app context, because the channels run in threads without
    one; force_locale works in a bare app context (scheduler jobs) as well as in a request.
    """
    with force_locale(locale):
        subject, text = rules.render_text(payload, gettext)
        return {"subject": subject, "text": text, "sms": rules.sms_text(payload, gettext=gettext)}


def _deliveries(ids: list[int]) -> list[ch.Delivery]:
    rows = db.session.execute(select(OutboxMessage).where(OutboxMessage.id.in_(ids))
                              .order_by(OutboxMessage.id)).scalars().all()
    out = []
    for m in rows:
        c = m.channel
        payload = dict(m.payload)
        text = _rendered(payload, recipient_locale(m)) if m.kind in ("email", "sms") else {}
        out.append(ch.Delivery(outbox_id=m.id, message_id=m.message_id, kind=m.kind, address=m.address,
                               payload=payload, secret=c.secret if c else None,
                               gateway_url=c.gateway_url if c else None,
                               timeout=float(c.timeout_seconds if c else 10), channel_id=m.channel_id, **text))
    db.session.commit()  # end the read transaction: sending happens outside any database transaction
    return out


def run_once(*, now: datetime | None = None, batch: int = 50, lease: timedelta = timedelta(minutes=2),
             channels: dict[str, ch.Channel] | None = None, config: dict | None = None,
             rng: random.Random | None = None, worker: str | None = None, per_destination: int = 10) -> Stats:
    """Claim and send one batch. Destinations run in parallel threads; within one destination the
    messages go in order and stop at the first slow failure (the rest wait for their next turn)."""
    now = now or utcnow()
    worker = worker or worker_name()
    channels = channels or ch.for_config(config or current_app.config)
    stats = Stats()
    ids = claim(now=now, batch=batch, lease=lease, worker=worker, per_destination=per_destination)
    stats.claimed = len(ids)
    if not ids:
        return stats
    groups: dict[object, list[ch.Delivery]] = defaultdict(list)
    for d in _deliveries(ids):
        groups[d.channel_id or d.address].append(d)
    results: queue.Queue = queue.Queue()

    def send_group(items: list[ch.Delivery]) -> None:
        stalled = False
        for d in items:
            if stalled:
                results.put((d, None))  # not attempted: released without counting an attempt
                continue
            result = ch.timed(channels[d.kind], d, now.timestamp())
            # A fast refusal (503, connection refused) costs nothing, so each message keeps its own
            # schedule; a slow failure (timeout) would cost a timeout per message, so the rest wait.
            stalled = not result.ok and result.duration_ms >= SLOW_FAILURE_MS
            results.put((d, result))

    threads = [threading.Thread(target=send_group, args=(items,), daemon=True, name=f"notify-{key}")
               for key, items in groups.items()]
    for t in threads:
        t.start()
    for _ in range(len(ids)):
        delivery, result = results.get()
        _record(delivery, result, now=now, worker=worker, rng=rng, stats=stats)
    for t in threads:
        t.join()
    log.info("dispatch %s: %s", worker, stats)
    return stats


def _record(d: ch.Delivery, result: ch.Result | None, *, now: datetime, worker: str,
            rng: random.Random | None, stats: Stats) -> None:
    """Write one outcome and commit it, but only if this worker still holds the lease."""
    msg = db.session.get(OutboxMessage, d.outbox_id, with_for_update=True)
    if msg is None or msg.status != "sending" or msg.claimed_by != worker:
        db.session.rollback()
        return  # the lease expired and another dispatcher took the row over: its outcome wins
    msg.lease_until = None
    if result is None:
        # Held back because an earlier message to the same destination just failed: probe again soon
        # rather than send the whole queue into a partner that is down.
        msg.status = "pending"
        msg.next_attempt_at = max(msg.next_attempt_at, now + DEFER_HOLD)
        stats.deferred += 1
        db.session.commit()
        return
    msg.attempts += 1
    attempt = DeliveryAttempt(outbox_id=msg.id, at=now, duration_ms=result.duration_ms,
                              status_code=result.status_code, answer=result.answer, error=result.error, outcome="")
    if result.ok:
        msg.status, msg.delivered_at, msg.last_error = "delivered", now, None
        attempt.outcome = "delivered"
        stats.delivered += 1
        if result.mail:
            db.session.add(MailMessage(at=now, **result.mail))
    elif result.disable and msg.channel is not None:
        msg.status, msg.last_error = "dead", "the partner answered 410 Gone: channel disabled"
        msg.channel.active = False
        msg.channel.disabled_reason = f"HTTP 410 Gone at {now.isoformat(timespec='seconds')}"
        attempt.outcome = "disabled"
        stats.dead += 1
        stats.disabled_channels.append(msg.channel.id)
        log.warning("channel %s disabled after 410 (outbox %s)", msg.channel.id, msg.id)
    else:
        msg.last_error = (result.error or result.answer or "failed")[:500]
        nxt = rules.next_attempt(msg.attempts, now, msg.window_started_at, rng)
        if nxt is None:
            msg.status = "dead"
            attempt.outcome = "dead"
            stats.dead += 1
            log.warning("outbox %s dead after %s attempts", msg.id, msg.attempts)
        else:
            msg.status, msg.next_attempt_at = "pending", nxt
            attempt.outcome = "retry"
            stats.retried += 1
    db.session.add(attempt)
    db.session.commit()


def run_until_idle(*, now: datetime | None = None, max_batches: int = 100, **kw) -> Stats:
    """Run batches until nothing is due (or max_batches), summing the stats; used by the CLI and tests."""
    total = Stats()
    for _ in range(max_batches):
        s = run_once(now=now, **kw)
        if s.claimed == 0:
            break
        for name in ("claimed", "delivered", "retried", "dead", "deferred"):
            setattr(total, name, getattr(total, name) + getattr(s, name))
        total.disabled_channels += s.disabled_channels
    return total
