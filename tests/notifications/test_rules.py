"""The pure core: rule matching, the payload builder (what may leave), backoff, and signatures."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest

from notifications import rules, signing
from notifications.rules import Event, Profile, RuleSpec

NOW = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
FULL_DATA = {
    "person_name": "Mpho Example", "date_of_birth": "2009-04-01", "sex": "F", "nationality": "LS",
    "document_number": "RA1234567", "reason": "Missing child alert", "expected_action": "Hold and call CGPU",
    "status": "confirmed", "due": "2026-03-03", "counts": {"flag.raised": 2}, "period": "day",
    "free_text_note": "should never leave", "internal_score": 0.97,
}


def _event(name="flag.confirmed", **data) -> Event:
    return Event(name=name, ref="FLG-00042", subject_type="flag", subject_id="42", at=NOW, post_code="MSB",
                 priority="urgent", kind="trafficking", data=data)


# --- rule matching ---------------------------------------------------------------------------------

@pytest.mark.parametrize("rule,expected", [
    (RuleSpec(1, 1, 1, "flag.confirmed"), True),
    (RuleSpec(1, 1, 1, "flag.raised"), False),
    (RuleSpec(1, 1, 1, "flag.confirmed", kinds=("trafficking",)), True),
    (RuleSpec(1, 1, 1, "flag.confirmed", kinds=("smuggling",)), False),
    (RuleSpec(1, 1, 1, "flag.confirmed", priorities=("high", "urgent")), True),
    (RuleSpec(1, 1, 1, "flag.confirmed", priorities=("low",)), False),
    (RuleSpec(1, 1, 1, "flag.confirmed", post_codes=("MPB", "MSB")), True),
    (RuleSpec(1, 1, 1, "flag.confirmed", post_codes=("MPB",)), False),
    (RuleSpec(1, 1, 1, "flag.confirmed", active=False), False),
])
def test_rule_matching(rule, expected):
    assert rules.rule_matches(rule, _event()) is expected


def test_two_rules_on_one_channel_send_once():
    due = rules.due_deliveries(_event(), [RuleSpec(2, 1, 7, "flag.confirmed"), RuleSpec(1, 1, 7, "flag.confirmed"),
                                          RuleSpec(3, 1, 8, "flag.confirmed")])
    assert [(r.id, r.channel_id) for r in due] == [(1, 7), (3, 8)]


# --- the payload builder ---------------------------------------------------------------------------

def _profiles():
    fields = rules.ALL_FIELDS
    yield ()
    yield rules.MINIMAL_FIELDS
    yield fields
    yield from ((f,) for f in fields)
    yield from itertools.combinations(fields, 2)
    yield from (rules.MINIMAL_FIELDS + combo for n in range(len(rules.IDENTIFYING_FIELDS) + 1)
                for combo in itertools.combinations(rules.IDENTIFYING_FIELDS, n))


CONSENTS = [{}, {"consent": False}, {"consent": True}, {"consent": "yes"}, {"consent_override": "override-17"},
            {"consent": False, "consent_override": "override-18"}]


def test_no_partner_payload_contains_a_field_outside_its_profile():
    """Every event x profile (empty, minimal, all, each field, each pair, minimal + every identifying subset)
    x allow-identifying x consent state: the payload stays inside envelope + profile, and identifying
    fields appear only when both the profile and the victim's consent (or an override) allow them."""
    checked = 0
    for event_name in rules.EVENTS:
        for fields in _profiles():
            for allow in (False, True):
                profile = Profile(frozenset(fields), allow)
                for consent in CONSENTS:
                    ev = _event(event_name, **FULL_DATA, **consent)
                    payload = rules.build_payload(ev, profile, msg_id="msg_x", link="http://t/l", ack_url="http://t/a")
                    keys = set(payload)
                    assert keys <= set(rules.ENVELOPE) | set(fields), (event_name, fields, keys)
                    assert not keys & {"free_text_note", "internal_score", "consent", "consent_override"}
                    permitted = allow and (consent.get("consent") is True or bool(consent.get("consent_override")))
                    if not permitted:
                        assert not keys & set(rules.IDENTIFYING_FIELDS), (fields, allow, consent)
                    else:
                        assert keys & set(rules.IDENTIFYING_FIELDS) == set(fields) & set(rules.IDENTIFYING_FIELDS)
                    checked += 1
    assert checked > 20000


def test_minimal_payload_is_reference_kind_post_time_link():
    payload = rules.build_payload(_event(**FULL_DATA, consent=True), rules.MINIMAL_PROFILE, msg_id="msg_1",
                                  link="http://tsela/go/flag/42")
    assert payload == {"id": "msg_1", "event": "flag.confirmed", "ref": "FLG-00042", "kind": "trafficking",
                       "post": "MSB", "time": NOW.isoformat(), "link": "http://tsela/go/flag/42"}


def test_ack_link_only_for_acknowledgeable_events():
    profile = Profile(frozenset(rules.MINIMAL_FIELDS + ("ack_url",)))
    assert rules.build_payload(_event("flag.raised"), profile, msg_id="m", ack_url="A")["ack_url"] == "A"
    assert "ack_url" not in rules.build_payload(_event("digest.daily"), profile, msg_id="m", ack_url="A")


def test_event_log_keeps_no_identifying_data():
    kept = rules.safe_data({**FULL_DATA, "consent": True})
    assert not set(kept) & set(rules.IDENTIFYING_FIELDS) and "free_text_note" not in kept
    assert kept["reason"] == "Missing child alert" and kept["consent"] is True


def test_email_text_is_built_from_the_filtered_payload_only():
    payload = rules.build_payload(_event(**FULL_DATA), rules.MINIMAL_PROFILE, msg_id="msg_2", link="L")
    subject, body = rules.render_text(payload)
    assert "FLG-00042" in subject and "Mpho" not in body and "RA1234567" not in body and "msg_2" in body


# --- backoff ---------------------------------------------------------------------------------------

def test_backoff_doubles_from_30_seconds_and_caps_at_6_hours():
    assert [rules.backoff_ceiling(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert rules.backoff_ceiling(30) == timedelta(hours=6)


def test_retries_never_come_early_and_give_up_after_about_three_days():
    rng = random.Random(7)
    t, n, times = NOW, 0, []
    while True:
        n += 1
        nxt = rules.next_attempt(n, t, NOW, rng)
        if nxt is None:
            break
        gap = nxt - t
        ceiling = rules.backoff_ceiling(n)
        assert ceiling / 2 <= gap <= ceiling
        t = nxt
        times.append(t)
    assert timedelta(days=2, hours=12) <= times[-1] - NOW <= timedelta(days=3)
    assert 15 <= n <= 30


# --- signatures ------------------------------------------------------------------------------------

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
BODY = '{"event":"flag.confirmed","id":"msg_1","ref":"FLG-00042"}'
TS = 1_770_000_000


def _hdrs(secret=SECRET, body=BODY, ts=TS, msg_id="msg_1"):
    return signing.headers(secret, msg_id, ts, body)


def test_standard_webhooks_reference_vector():
    """The Standard Webhooks spec's own example: same id, timestamp, body and secret give its signature."""
    sig = signing.sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                       '{"test": 2432232314}')
    assert sig == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_genuine_delivery_verifies():
    assert signing.verify(SECRET, _hdrs(), BODY, now=TS + 10) == "msg_1"


@pytest.mark.parametrize("case,hdrs,body,now,message", [
    ("tampered body", _hdrs(), BODY.replace("FLG-00042", "FLG-00043"), TS, "no signature matches"),
    ("wrong secret", _hdrs(secret=signing.new_secret()), BODY, TS, "no signature matches"),
    ("stale timestamp", _hdrs(), BODY, TS + 301, "tolerance"),
    ("from the future", _hdrs(), BODY, TS - 301, "tolerance"),
    ("id swapped", {**_hdrs(), "webhook-id": "msg_2"}, BODY, TS, "no signature matches"),
    ("timestamp swapped", {**_hdrs(), "webhook-timestamp": str(TS + 1)}, BODY, TS, "no signature matches"),
    ("missing signature", {k: v for k, v in _hdrs().items() if k != "webhook-signature"}, BODY, TS, "missing"),
    ("garbage timestamp", {**_hdrs(), "webhook-timestamp": "soon"}, BODY, TS, "integer"),
])
def test_verification_refuses(case, hdrs, body, now, message):
    with pytest.raises(signing.SignatureError, match=message):
        signing.verify(SECRET, hdrs, body, now=now)


def test_rotated_secrets_any_listed_signature_may_match():
    hdrs = _hdrs()
    hdrs["webhook-signature"] = signing.sign(signing.new_secret(), "msg_1", TS, BODY) + " " + hdrs["webhook-signature"]
    assert signing.verify(SECRET, hdrs, BODY, now=TS) == "msg_1"
