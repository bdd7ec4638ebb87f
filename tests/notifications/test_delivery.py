"""The outbox and the dispatcher against real partners on loopback (HTTP receiver, aiosmtpd)."""

from __future__ import annotations

import json
import random
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from notifications import channels, dispatcher, rules, services, signing
from notifications.models import Channel, DeliveryAttempt, MailMessage, NotificationEvent, OutboxMessage
from tests import factories
from tests.notifications.builders import (
    Receiver,
    SmtpSink,
    free_port,
    make_agency,
    make_channel,
    make_profile,
    make_rule,
    publish_flag,
    subscribed,
)
from tip_cases.cases import handlers as case_handlers
from tip_cases.extensions import db, utcnow


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


def _outbox(**where):
    stmt = select(OutboxMessage).order_by(OutboxMessage.id)
    for k, v in where.items():
        stmt = stmt.where(getattr(OutboxMessage, k) == v)
    return db.session.execute(stmt).scalars().all()


def test_publish_writes_the_outbox_in_the_callers_transaction(app):
    subscribed("http://127.0.0.1:9/hook")
    services.publish("flag.confirmed", ref="FLG-1", subject_type="flag", subject_id=1, post_code="MSB")
    db.session.rollback()  # the change that caused it failed: no notification either
    assert _outbox() == [] and db.session.execute(select(func.count()).select_from(NotificationEvent)).scalar() == 0
    services.publish("flag.confirmed", ref="FLG-2", subject_type="flag", subject_id=2, post_code="MSB")
    db.session.commit()
    (msg,) = _outbox()
    assert msg.status == "pending" and msg.payload["ref"] == "FLG-2" and msg.message_id.startswith("msg_")


def test_rules_route_by_event_kind_priority_and_post(app):
    a, _ = subscribed("http://127.0.0.1:9/a", event="flag.raised", priorities=["urgent"])
    b, _ = subscribed("http://127.0.0.1:9/b", event="flag.raised", post_codes=["MPB"])
    c, _ = subscribed("http://127.0.0.1:9/c", event="flag.raised", kinds=["smuggling"])
    services.publish("flag.raised", ref="FLG-9", subject_type="flag", subject_id=9, post_code="MPB",
                     priority="urgent", kind="trafficking")
    db.session.commit()
    assert {m.agency_id for m in _outbox()} == {a.id, b.id}


def _published(start: int) -> tuple[list, list]:
    """Events from id `start` on and their outbox rows, without the per-message random parts."""
    events = db.session.execute(select(NotificationEvent).where(NotificationEvent.id >= start)
                                .order_by(NotificationEvent.id)).scalars().all()
    order = {e.id: i for i, e in enumerate(events)}
    rows = sorted((order[m.event_id], m.agency_id, m.channel_id, m.rule_id, m.event,
                   json.dumps({k: v for k, v in m.payload.items() if k not in ("id", "ack_url")}, sort_keys=True))
                  for m in _outbox() if m.event_id in order)
    return [(e.event, e.ref, e.subject_id, e.post_code, e.priority, e.kind, e.data, e.acknowledged_at is not None)
            for e in events], rows


def test_publish_many_writes_what_publishing_one_by_one_writes(app):
    """A backlog's risk flags are published together (one flush, rules read once per event name): the same
    events, routed to the same partners with the same payloads, and settled in the same order."""
    a, _ = subscribed("http://127.0.0.1:9/a", event="flag.raised", priorities=["urgent"])
    subscribed("http://127.0.0.1:9/b", event="flag.raised", post_codes=["MPB"])
    subscribed("http://127.0.0.1:9/c", event="risk.found")
    subscribed("http://127.0.0.1:9/d", event="flag.confirmed", kinds=["smuggling"])
    events = [
        {"event": "flag.raised", "ref": "FLG-1", "subject_type": "flag", "subject_id": 1, "post_code": "MPB",
         "priority": "urgent", "kind": "trafficking"},
        {"event": "risk.found", "ref": "flag:2", "subject_type": "flag", "subject_id": 2, "post_code": "MSB",
         "priority": "high", "kind": "risk", "data": {"rule": "no_return"}},
        {"event": "flag.confirmed", "ref": "FLG-1", "subject_type": "flag", "subject_id": 1, "post_code": "MPB",
         "priority": "urgent", "kind": "smuggling"},  # settles the flag.raised before it
        {"event": "flag.confirmed", "ref": "FLG-3", "subject_type": "flag", "subject_id": 3, "post_code": "MSB",
         "kind": "trafficking"},
        {"event": "flag.raised", "ref": "FLG-3", "subject_type": "flag", "subject_id": 3, "post_code": "MSB",
         "priority": "urgent"},  # raised after its review in this batch: not settled by it
    ]
    now = utcnow()
    first = db.session.execute(select(func.coalesce(func.max(NotificationEvent.id), 0))).scalar_one() + 1
    for e in events:
        services.publish(**{**e, "now": now})
    db.session.commit()
    one_by_one = _published(first)
    second = db.session.execute(select(func.max(NotificationEvent.id))).scalar_one() + 1
    outs = services.publish_many(events, now=now)
    db.session.commit()
    together = _published(second)
    assert together == one_by_one
    assert [len(o) for o in outs] == [2, 1, 1, 0, 1]  # the outbox rows of each event, in order
    assert [e[-1] for e in together[0]] == [True, False, False, False, False]
    assert {m.agency_id for m in outs[4]} == {a.id}
    assert all(m.id is not None and m.event_id is not None for o in outs for m in o)


def test_identifying_fields_leave_only_with_profile_and_consent(app):
    protective = make_profile(rules.MINIMAL_FIELDS + ("person_name", "date_of_birth"), identifying=True)
    shelter, _ = subscribed("http://127.0.0.1:9/s", profile=protective)
    police, _ = subscribed("http://127.0.0.1:9/p")  # default: minimal
    data = {"person_name": "Lerato Example", "date_of_birth": "2008-01-02", "document_number": "RA7654321"}
    publish_flag(1, data={**data, "consent": False}, start=1)
    publish_flag(1, data={**data, "consent": True}, start=2)
    by = {(m.agency_id, m.payload["ref"]): m.payload for m in _outbox()}
    assert "person_name" not in by[(shelter.id, "FLG-00001")]
    assert by[(shelter.id, "FLG-00002")]["person_name"] == "Lerato Example"
    assert "document_number" not in by[(shelter.id, "FLG-00002")]  # not in its profile
    assert set(by[(police.id, "FLG-00002")]) == {"id", "event", "ref", "kind", "post", "time", "link"}
    logged = db.session.execute(select(NotificationEvent.data)).scalars().all()
    assert all("person_name" not in d and "document_number" not in d for d in logged)


def test_signed_webhook_is_delivered_and_verifies(app, receiver):
    _, channel = subscribed(receiver.url)
    (msg,) = publish_flag(1)
    stats = dispatcher.run_once()
    assert stats.delivered == 1
    (got,) = receiver.received
    assert got.webhook_id == msg.message_id
    assert signing.verify(channel.secret, got.headers, got.body, now=time.time()) == msg.message_id
    assert json.loads(got.body)["ref"] == "FLG-00001"
    msg = db.session.get(OutboxMessage, msg.id)
    assert msg.status == "delivered" and msg.attempt_log[0].status_code == 200


def test_email_through_a_real_smtp_server_records_its_answer(app):
    with SmtpSink() as smtp:
        agency = make_agency()
        channel = make_channel(agency, kind="email", address="duty@partner.example")
        make_rule(agency, channel)
        db.session.commit()
        publish_flag(1)
        conf = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp.port, "MAIL_FROM": "tsela@test.example"}
        stats = dispatcher.run_once(config=conf)
    assert stats.delivered == 1
    (env,) = smtp.messages
    assert env.rcpt_tos == ["duty@partner.example"] and b"FLG-00001" in env.content
    attempt = db.session.execute(select(DeliveryAttempt)).scalar_one()
    assert attempt.answer.startswith("250") and "queued by the test sink" in attempt.answer


def test_smtp_down_is_retried_not_lost(app):
    agency = make_agency()
    make_rule(agency, make_channel(agency, kind="email", address="duty@partner.example"))
    db.session.commit()
    publish_flag(1)
    stats = dispatcher.run_once(config={"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": free_port()})
    (msg,) = _outbox()
    assert stats.retried == 1 and msg.status == "pending" and "Refused" in msg.last_error


def test_without_mail_server_email_lands_in_the_mail_sink(app):
    agency = make_agency()
    make_rule(agency, make_channel(agency, kind="email", address="duty@partner.example"))
    db.session.commit()
    publish_flag(1)
    dispatcher.run_once(config={"MAIL_SERVER": None})
    mail = db.session.execute(select(MailMessage)).scalar_one()
    assert mail.recipient == "duty@partner.example" and "FLG-00001" in mail.subject and "Acknowledge" not in mail.body


def test_sms_gateway_gets_a_short_text(app, receiver):
    agency = make_agency()
    make_rule(agency, make_channel(agency, kind="sms", address="+26622312345", gateway_url=receiver.url,
                                   secret="gw-token"))
    db.session.commit()
    publish_flag(1)
    assert dispatcher.run_once().delivered == 1
    (got,) = receiver.received
    body = json.loads(got.body)
    assert body["to"] == "+26622312345" and "FLG-00001" in body["message"]
    assert got.headers["authorization"] == "Bearer gw-token"


def test_410_disables_the_webhook(app, receiver):
    receiver.status = 410
    _, channel = subscribed(receiver.url)
    publish_flag(2)
    stats = dispatcher.run_once()
    channel = db.session.get(Channel, channel.id)
    assert not channel.active and "410" in channel.disabled_reason and channel.id in stats.disabled_channels
    assert [m.status for m in _outbox()] == ["dead", "dead"]
    assert publish_flag(1, start=3) == []  # nothing more is queued for a disabled channel
    assert dispatcher.run_once(now=utcnow() + timedelta(minutes=5)).claimed == 0
    assert len(receiver.received) == 2


def test_one_partner_failing_never_delays_the_others(app, receiver):
    slow = Receiver(delay=3).start()
    try:
        _, slow_channel = subscribed(slow.url, timeout=1)
        _, refused_channel = subscribed(f"http://127.0.0.1:{free_port()}/hook")
        _, good_channel = subscribed(receiver.url)
        publish_flag(1)
        started = time.monotonic()
        stats = dispatcher.run_once()
        elapsed = time.monotonic() - started
    finally:
        slow.stop()
    by_channel = {m.channel_id: m for m in _outbox()}
    assert by_channel[good_channel.id].status == "delivered"
    assert by_channel[slow_channel.id].status == "pending" and "timed out" in by_channel[slow_channel.id].last_error
    assert by_channel[refused_channel.id].status == "pending"
    assert stats.delivered == 1 and stats.retried == 2
    assert elapsed < 2.5, elapsed  # bounded by the slow partner's timeout, not the sum of everyone's


def test_partner_down_for_an_hour_then_back(app, receiver):
    """503 for 30 minutes, connections refused for 30 more, then up: every message delivered once, by
    webhook-id, and no retry ever came before its backoff allowed."""
    _, channel = subscribed(receiver.url)
    t0 = utcnow()
    sent = publish_flag(5, now=t0)
    ids = {m.message_id for m in sent}
    rng = random.Random(3)
    t = t0
    refused = False
    while t < t0 + timedelta(hours=2):
        minutes = (t - t0).total_seconds() / 60
        if minutes < 30:
            receiver.status = 503
        elif minutes < 60 and not refused:
            receiver.refuse()
            refused = True
        elif minutes >= 60 and refused:
            receiver.status = 200
            receiver.resume()
            refused = False
        dispatcher.run_until_idle(now=t, rng=rng)
        t += timedelta(seconds=20)
    assert sorted(receiver.ok_ids()) == sorted(ids)  # all delivered, none twice
    for msg in _outbox():
        assert msg.status == "delivered"
        attempts = msg.attempt_log
        assert attempts[-1].outcome == "delivered" and attempts[-1].at >= t0 + timedelta(minutes=60)
        assert {a.outcome for a in attempts[:-1]} == {"retry"} and attempts[0].status_code == 503
        for n, (a, b) in enumerate(zip(attempts, attempts[1:], strict=False), start=1):
            gap = b.at - a.at
            assert gap >= rules.backoff_ceiling(n) / 2, (n, gap)
            assert gap <= rules.backoff_ceiling(n) + timedelta(seconds=20), (n, gap)  # one dispatch tick
    errors = {a.error for a in db.session.execute(select(DeliveryAttempt)).scalars()}
    assert "HTTP 503" in errors and any(e and "Refused" in e for e in errors)
    # the signature was made at the (simulated) time of the delivering attempt
    delivered = [r for r in receiver.received if r.status == 200]
    assert all(signing.verify(channel.secret, r.headers, r.body, now=int(r.headers["webhook-timestamp"]))
               for r in delivered)


def test_dead_letter_after_three_days_then_admin_retry(app, receiver):
    receiver.status = 503
    subscribed(receiver.url)
    t0 = utcnow()
    (msg,) = publish_flag(1, now=t0)
    t = t0
    for _ in range(200):
        dispatcher.run_until_idle(now=t, rng=random.Random(1))
        msg = db.session.get(OutboxMessage, msg.id)
        if msg.status == "dead":
            break
        t = msg.next_attempt_at
    assert msg.status == "dead" and timedelta(days=2) < t - t0 <= timedelta(days=3)
    assert len({r.webhook_id for r in receiver.received}) == 1  # the same webhook-id on every retry
    receiver.status = 200
    services.retry(msg, now=t)
    db.session.commit()
    assert dispatcher.run_once(now=t).delivered == 1
    assert receiver.received[-1].webhook_id == msg.message_id


def test_lease_expiry_lets_another_dispatcher_take_over_with_the_same_id(app, receiver):
    subscribed(receiver.url)
    (msg,) = publish_flag(1)
    now = utcnow()
    assert dispatcher.claim(now=now, batch=10, lease=timedelta(seconds=30), worker="crashed") == [msg.id]
    assert dispatcher.claim(now=now, batch=10, lease=timedelta(seconds=30), worker="other") == []
    assert dispatcher.run_once(now=now + timedelta(seconds=31), worker="other").delivered == 1
    assert receiver.ok_ids() == [msg.message_id]


def test_recording_channel_sees_only_profile_fields(app):
    prof = make_profile(("ref", "post"))
    subscribed("http://127.0.0.1:9/x", profile=prof)
    publish_flag(1, data={"person_name": "X", "consent": True})
    rec = channels.RecordingChannel()
    dispatcher.run_once(channels={"webhook": rec, "email": rec, "sms": rec})
    (d,) = rec.sent
    assert set(d.payload) == {"id", "event", "ref", "post"}


def test_unacknowledged_flag_escalates_to_supervisor_and_investigators_until_acknowledged(app):
    manager = factories.make_user("manager", post_code="MSB")
    factories.make_user("manager", post_code="MPB")  # another post's supervisor: not told
    investigator = factories.make_user("investigator")
    t0 = utcnow()
    services.publish("flag.raised", ref="FLG-7", subject_type="flag", subject_id=7, post_code="MSB", now=t0)
    services.publish("flag.raised", ref="FLG-8", subject_type="flag", subject_id=8, post_code="MSB", now=t0)
    db.session.commit()
    assert services.escalate_unacknowledged_flags(now=t0 + timedelta(minutes=5), after=timedelta(minutes=15)) == 0
    # FLG-8 is reviewed (confirmed) in time: that settles it
    services.publish("flag.confirmed", ref="FLG-8", subject_type="flag", subject_id=8, post_code="MSB",
                     now=t0 + timedelta(minutes=6))
    assert services.escalate_unacknowledged_flags(now=t0 + timedelta(minutes=16), after=timedelta(minutes=15)) == 1
    db.session.commit()
    staff = _outbox(event="flag.unacknowledged")
    assert {m.address for m in staff} == {manager.email, investigator.email}
    assert all(m.payload["ref"] == "FLG-7" and "not acknowledged" in m.payload["reason"] for m in staff)
    # escalated once only
    assert services.escalate_unacknowledged_flags(now=t0 + timedelta(hours=2), after=timedelta(minutes=15)) == 0


def test_digest_counts_events_and_is_sent_once_per_period(app):
    agency = make_agency(profile=make_profile(("ref", "kind", "time", "counts", "period")))
    make_rule(agency, make_channel(agency, kind="email", address="stats@iom.example"), "digest.daily")
    db.session.commit()
    now = utcnow()
    publish_flag(3, event="flag.raised", now=now - timedelta(hours=2))
    assert services.send_digest("daily", now=now) is True
    assert services.send_digest("daily", now=now + timedelta(minutes=1)) is False
    db.session.commit()
    (msg,) = _outbox(event="digest.daily")
    assert msg.payload["counts"] == {"flag.raised": 3} and msg.payload["kind"] == "daily"


def test_overdue_tasks_and_unacknowledged_referrals_remind_once_and_ack_stops_them(app):
    """Against the case package's real tables: one reminder each; a partner's acknowledgement of the
    referral reminder marks the referral acknowledged."""
    from datetime import date

    from tests.cases.builders import make_case
    from tip_cases.cases.models import CaseTask, Referral

    agency, _ = subscribed("http://127.0.0.1:9/shelter", event="referral.unacknowledged")
    case = make_case()
    now = utcnow()
    db.session.add_all([
        CaseTask(case_id=case.id, title="Call the shelter", due_on=date(2020, 1, 1)),
        CaseTask(case_id=case.id, title="Not yet due", due_on=date(2999, 1, 1)),
        Referral(case_id=case.id, organisation="Shelter NGO", reason="AdditionalServicesRequired",
                 referred_on=now.date(), status="sent", ack_due_at=now - timedelta(hours=1)),
        Referral(case_id=case.id, organisation="Shelter NGO", reason="AdditionalServicesRequired",
                 referred_on=now.date(), status="sent", ack_due_at=now + timedelta(days=2)),
    ])
    db.session.commit()
    assert case_handlers.remind_overdue(now=now) == {"task.overdue": 1, "referral.unacknowledged": 1}
    assert case_handlers.remind_overdue(now=now + timedelta(minutes=1)) == {"task.overdue": 0,
                                                                       "referral.unacknowledged": 0}
    db.session.commit()
    (msg,) = _outbox(event="referral.unacknowledged")
    assert msg.agency_id == agency.id and msg.payload["ref"] == case.reference
    services.acknowledge(msg, by=f"agency:{agency.id}", via="api", now=now)
    db.session.commit()
    acked = db.session.execute(select(Referral).order_by(Referral.id)).scalars().first()
    assert acked.acknowledged_at is not None and acked.status == "acknowledged"
    from tip_cases.cases.models import CaseEvent

    summaries = [e.summary for e in db.session.execute(select(CaseEvent).where(
        CaseEvent.case_id == case.id)).scalars()]
    assert any("acknowledged by the partner" in s for s in summaries)
    # Acknowledged: no further reminder for it.
    assert case_handlers.remind_overdue(now=now + timedelta(days=1))["referral.unacknowledged"] == 0
