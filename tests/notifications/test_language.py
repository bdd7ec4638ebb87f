"""E-mail and SMS say their words in the recipient's language; webhook payloads stay English codes."""

from __future__ import annotations

import json
from datetime import timedelta
from email import message_from_bytes
from email.policy import default as default_policy

import pytest

from notifications import dispatcher, rules, scheduler, services
from tests import factories
from tests.extracted import python_msgids
from tests.notifications.builders import Receiver, SmtpSink, make_agency, make_channel, make_rule, publish_flag
from tip_cases.extensions import db, utcnow


def _mail(envelope):
    msg = message_from_bytes(envelope.content, policy=default_policy)
    return msg["Subject"], msg.get_content()


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


def test_partner_email_is_in_the_units_default_language_and_the_webhook_stays_english(app, receiver):
    app.config["BABEL_DEFAULT_LOCALE"] = "st"
    with SmtpSink() as smtp:
        agency = make_agency()  # no language of its own: the unit's default
        make_rule(agency, make_channel(agency, kind="email", address="duty@partner.example"))
        make_rule(agency, make_channel(agency, kind="webhook", address=receiver.url))
        db.session.commit()
        publish_flag(1)
        conf = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp.port, "MAIL_FROM": "tsela@test.example"}
        stats = dispatcher.run_once(config=conf)
    assert stats.delivered == 2
    (envelope,) = smtp.messages
    subject, body = _mail(envelope)
    assert "FLG-00001" in subject
    # Words the Sesotho catalog already has: the field labels (the minimal profile's fields).
    assert "Nomoro ea tšupiso: FLG-00001" in body and "Heke ea moeli: MSB" in body and "Mofuta: trafficking" in body
    assert "Border post" not in body and "Reference" not in body
    (hook,) = receiver.received
    payload = json.loads(hook.body)
    assert payload["event"] == "flag.confirmed" and payload["kind"] == "trafficking" and payload["post"] == "MSB"
    assert "Heke" not in hook.body and "Mofuta" not in hook.body


def test_an_agency_that_reads_english_gets_english_whatever_the_units_default(app):
    app.config["BABEL_DEFAULT_LOCALE"] = "st"
    with SmtpSink() as smtp:
        agency = make_agency()
        agency.locale = "en"
        make_rule(agency, make_channel(agency, kind="email", address="duty@partner.example"))
        db.session.commit()
        publish_flag(1)
        dispatcher.run_once(config={"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp.port})
    (envelope,) = smtp.messages
    subject, body = _mail(envelope)
    assert subject == "[Tsela] Flag confirmed by an officer FLG-00001"
    assert "Reference: FLG-00001" in body and "Border post: MSB" in body and "Heke" not in body


def test_staff_reminder_from_the_scheduler_is_in_each_staff_members_language(app):
    """The scheduler job runs in a bare app context (no request): force_locale must still take effect."""
    manager = factories.make_user("manager", post_code="MSB")
    manager.locale = "st"
    investigator = factories.make_user("investigator")  # no choice: the unit's default, English here
    investigator.email = "investigator2@example.test"
    t0 = utcnow() - timedelta(hours=1)
    services.publish("flag.raised", ref="FLG-7", subject_type="flag", subject_id=7, post_code="MSB",
                     priority="urgent", now=t0)
    assert services.escalate_unacknowledged_flags(now=t0 + timedelta(minutes=20), after=timedelta(minutes=15)) == 1
    db.session.commit()
    with SmtpSink() as smtp:
        app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port)
        scheduler._wrap(app, "dispatch", "test-holder", scheduler.job_dispatch)()
    by_rcpt = {env.rcpt_tos[0]: _mail(env) for env in smtp.messages}
    assert set(by_rcpt) == {manager.email, investigator.email}
    _, sesotho = by_rcpt[manager.email]
    _, english = by_rcpt[investigator.email]
    assert "Bohlokoa: e potlakileng" in sesotho and "Nomoro ea tšupiso: FLG-7" in sesotho
    assert "Priority: urgent" in english and "Reference: FLG-7" in english
    assert "Reason for the alert: not acknowledged after 20 minutes" in english


def test_every_word_of_an_email_and_sms_goes_through_gettext():
    """A translator that brackets what it is given shows which words were translated (placeholders kept)."""
    payload = {"id": "msg_1", "event": "flag.unacknowledged", "ref": "FLG-7", "post": "MSB", "priority": "high",
               "reason": rules.reason("unacknowledged", minutes=20), "counts": {"flag.raised": 2},
               "link": "http://x/go", "ack_url": "http://x/ack"}

    def bracket(text: str) -> str:
        return f"<{text}>"

    subject, body = rules.render_text(payload, bracket)
    assert subject == "[Tsela] <Flag not acknowledged in time (escalation)> FLG-7"
    lines = body.splitlines()
    assert lines[0] == "<Flag not acknowledged in time (escalation)>"
    assert "<Reference>: FLG-7" in lines and "<Priority>: <high>" in lines
    assert "<Reason for the alert>: <not acknowledged after 20 minutes>" in lines
    assert "<Counts (digests)>: <Flag raised at a border post>: 2" in lines
    assert lines[-3:] == ["<Open in Tsela (sign-in needed): http://x/go>", "<Acknowledge: http://x/ack>",
                          "<Message id: msg_1>"]
    assert rules.sms_text(payload, gettext=bracket) == (
        "<Flag not acknowledged in time (escalation)> | FLG-7 | <post MSB> | <ack: http://x/ack>")
    # Untranslated (the default) is exactly the English the payload-only path always produced.
    assert rules.render_text(payload)[0] == "[Tsela] Flag not acknowledged in time (escalation) FLG-7"


def test_a_translation_that_loses_its_placeholder_falls_back_to_english():
    assert rules.reason_text("no activity for 9 days", lambda s: "ha ho letho") == "no activity for 9 days"
    assert rules.reason_text("something else", lambda s: "x") == "something else"


def test_the_notification_words_are_extracted_for_the_translators():
    ids = python_msgids()
    expected = {*rules.EVENTS.values(), *rules.INTERNAL_EVENTS.values(), *rules.FIELD_LABELS.values(),
                *rules.REASONS.values(), *rules.PRIORITY_LABELS.values(),
                "Open in Tsela (sign-in needed): %(link)s", "Acknowledge: %(url)s", "Message id: %(id)s",
                "post %(post)s", "ack: %(url)s"}
    assert expected - ids == set()
