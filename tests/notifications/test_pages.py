"""Pages and partner endpoints: agencies, channels with "send a test", outbox, dead letters, mail sink,
acknowledgement by signed link and by API, and the demo webhook receiver."""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta

from sqlalchemy import select

from notifications import dispatcher, services, signing
from notifications.models import Agency, Channel, NotificationEvent, OutboxMessage, WebhookReceipt
from tests.notifications.builders import make_agency, make_channel, publish_flag, subscribed
from tip_cases.extensions import db, utcnow


def test_admin_adds_agency_channel_and_sends_a_test_to_the_mail_sink(app, login_as):
    admin = login_as("admin")
    resp = admin.submit("/notifications/agencies/new", {"name": "Shelter NGO", "org_type": "NGO", "country": "LS",
                                                         "profile_id": 0}, page="/notifications/agencies")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:400]
    agency = db.session.execute(select(Agency).where(Agency.name == "Shelter NGO")).scalar_one()
    page = f"/notifications/agencies/{agency.id}"
    bad = admin.submit(f"{page}/channels", {"kind": "email", "address": "not-an-email", "timeout_seconds": 10},
                       page=page)
    assert bad.status_code == 422 and "needs an email address" in bad.get_data(as_text=True)
    ok = admin.submit(f"{page}/channels", {"kind": "email", "address": "intake@shelter.example", "label": "intake",
                                           "timeout_seconds": 10}, page=page)
    assert ok.status_code == 302
    channel = db.session.execute(select(Channel).where(Channel.agency_id == agency.id)).scalar_one()
    resp = admin.submit(f"/notifications/channels/{channel.id}/test", {}, page=page)
    assert resp.status_code == 302 and "/notifications/outbox/" in resp.headers["Location"]
    dispatcher.run_once(config={"MAIL_SERVER": None})
    mailbox = admin.get("/notifications/mailbox").get_data(as_text=True)
    assert "intake@shelter.example" in mailbox and "TEST-" in mailbox
    detail = admin.get(resp.headers["Location"]).get_data(as_text=True)
    assert "delivered" in detail and "250 stored in the local mail sink" in detail


def test_manager_sees_outbox_but_cannot_manage_or_read_mail(app, login_as):
    _, channel = subscribed("http://127.0.0.1:9/hook")
    publish_flag(1)
    manager = login_as("manager")
    page = manager.get("/notifications/outbox?status=pending").get_data(as_text=True)
    assert "FLG-00001" in page and "No scheduler is running" in page
    assert manager.get("/notifications/mailbox").status_code == 403
    assert manager.get(f"/notifications/agencies/{channel.agency_id}").status_code == 200
    resp = manager.submit(f"/notifications/channels/{channel.id}/test", {},
                          page=f"/notifications/agencies/{channel.agency_id}")
    assert resp.status_code == 403


def test_dead_letter_is_listed_and_retried_from_the_page(app, login_as):
    subscribed("http://127.0.0.1:9/hook")
    (msg,) = publish_flag(1)
    msg.status, msg.last_error = "dead", "HTTP 503"
    db.session.commit()
    admin = login_as("admin")
    listing = admin.get("/notifications/outbox?status=dead").get_data(as_text=True)
    assert "HTTP 503" in listing
    resp = admin.submit(f"/notifications/outbox/{msg.id}/retry", {}, page=f"/notifications/outbox/{msg.id}")
    assert resp.status_code == 302
    msg = db.session.get(OutboxMessage, msg.id)
    assert msg.status == "pending"


def test_rules_and_profiles_pages_create_records(app, login_as):
    agency = make_agency()
    channel = make_channel(agency, kind="email", address="a@b.example")
    db.session.commit()
    admin = login_as("admin")
    resp = admin.submit("/notifications/rules/new", {"channel_id": channel.id, "event": "flag.raised",
                                                     "priorities": ["urgent"], "post_codes": "msb, mpb"},
                        page="/notifications/rules")
    assert resp.status_code == 302
    assert "priorities: urgent" in admin.get("/notifications/rules").get_data(as_text=True)
    bad = admin.submit("/notifications/rules/new", {"channel_id": channel.id, "event": "flag.raised",
                                                    "post_codes": "XXX"}, page="/notifications/rules")
    assert bad.status_code == 422 and "Unknown border posts: XXX" in bad.get_data(as_text=True)
    refused = admin.submit("/notifications/profiles/new", {"name": "Leaky", "fields": ["ref", "person_name"]},
                           page="/notifications/profiles")
    assert refused.status_code == 422 and "Identifying fields need" in refused.get_data(as_text=True)
    ok = admin.submit("/notifications/profiles/new", {"name": "Shelter", "fields": ["ref", "person_name"],
                                                      "allow_identifying": "y"}, page="/notifications/profiles")
    assert ok.status_code == 302
    assert "with consent" in admin.get("/notifications/profiles").get_data(as_text=True)


def test_signed_link_acknowledges_and_stops_escalation(app, client):
    _, channel = subscribed("http://127.0.0.1:9/hook", event="flag.raised")
    t0 = utcnow()
    (msg,) = publish_flag(1, event="flag.raised", now=t0)
    token = services.make_ack_token(msg.message_id)
    assert msg.payload.get("ack_url") is None  # the minimal profile carries no ack link...
    page = client.get(f"/notifications/ack/{token}")
    assert page.status_code == 200 and "FLG-00001" in page.get_data(as_text=True)
    assert db.session.get(OutboxMessage, msg.id).acknowledged_at is None  # GET (a mail scanner) changes nothing
    from tests.conftest import Browser

    done = Browser(client).submit(f"/notifications/ack/{token}", {})
    assert done.status_code == 200 and "acknowledgement recorded" in done.get_data(as_text=True)
    ev = db.session.execute(select(NotificationEvent)).scalar_one()
    assert ev.acknowledged_by == f"agency:{channel.agency_id}"
    assert services.escalate_unacknowledged_flags(now=t0 + timedelta(hours=1), after=timedelta(minutes=15)) == 0
    assert client.get(f"/notifications/ack/{token[:-3]}xyz").status_code == 400


def test_expired_link_is_refused(app, client):
    subscribed("http://127.0.0.1:9/hook", event="flag.raised")
    (msg,) = publish_flag(1, event="flag.raised")
    token = services.make_ack_token(msg.message_id)
    time.sleep(1.1)
    try:
        services.message_for_ack_token(token, max_age=timedelta(0))
    except services.NotificationError as exc:
        assert "expired" in str(exc)
    else:
        raise AssertionError("an expired link was accepted")


def test_partner_acknowledges_over_the_api_with_its_token(app, client):
    agency, _ = subscribed("http://127.0.0.1:9/hook", event="flag.raised")
    other, _ = subscribed("http://127.0.0.1:9/other", event="flag.raised")
    token = services.new_partner_token(agency)
    db.session.commit()
    msgs = {m.agency_id: m for m in publish_flag(1, event="flag.raised")}
    url = f"/api/v1/notifications/{msgs[agency.id].message_id}/ack"
    assert client.post(url).status_code == 401
    assert client.post(url, headers={"Authorization": "Bearer tselap_wrong"}).status_code == 401
    foreign = client.post(f"/api/v1/notifications/{msgs[other.id].message_id}/ack",
                          headers={"Authorization": f"Bearer {token}"})
    assert foreign.status_code == 404  # an agency acknowledges only its own messages
    resp = client.post(url, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200 and resp.get_json()["first"] is True
    again = client.post(url, headers={"Authorization": f"Bearer {token}"})
    assert again.get_json()["first"] is False
    assert db.session.get(OutboxMessage, msgs[agency.id].id).acknowledged_at is not None


def test_demo_receiver_verifies_signatures(app, client, login_as):
    agency = make_agency()
    channel = make_channel(agency, address="http://localhost/notifications/receiver/0")
    channel.address = f"http://localhost/notifications/receiver/{channel.id}"
    db.session.commit()
    body = json.dumps({"id": "msg_demo", "ref": "FLG-1"})
    good = signing.headers(channel.secret, "msg_demo", int(time.time()), body)
    assert client.post(f"/notifications/receiver/{channel.id}", data=body, headers=good).status_code == 200
    tampered = client.post(f"/notifications/receiver/{channel.id}", data=body.replace("FLG-1", "FLG-2"), headers=good)
    assert tampered.status_code == 401
    rows = db.session.execute(select(WebhookReceipt).order_by(WebhookReceipt.id)).scalars().all()
    assert [r.verified for r in rows] == [True, False] and "no signature matches" in rows[1].reason
    page = login_as("manager").get("/notifications/received").get_data(as_text=True)
    assert "msg_demo" in page and "invalid" in page
    elsewhere = make_channel(agency, address="http://127.0.0.1:9/hook")
    db.session.commit()
    assert client.post(f"/notifications/receiver/{elsewhere.id}", data=body, headers=good).status_code == 404


def test_demo_load_is_idempotent_and_wires_flag_confirmed(app):
    from notifications import demo

    first = demo.load()
    second = demo.load()
    assert re.search(r"6 agencies", first[0]) and re.search(r"0 agencies, 0 profiles, 0 rules", second[0])
    msgs = publish_flag(1, event="flag.confirmed")
    assert sorted(m.kind for m in msgs) == ["email", "email", "webhook"]  # LMPS email + webhook, SAPS (MSB)
    webhook = next(m for m in msgs if m.kind == "webhook")
    assert webhook.address.endswith(f"/notifications/receiver/{webhook.channel_id}")
