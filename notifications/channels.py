"""Delivery channels: email over SMTP, signed webhooks, an SMS gateway over HTTP, the mail sink, a recorder.

Channels only talk to the network: they take a plain `Delivery` and return a `Result`, never touch
the database, and always use a timeout, so the dispatcher can run them in threads per destination.
"""

from __future__ import annotations

import json
import smtplib
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Protocol

from notifications import rules, signing


@dataclass(frozen=True)
class Delivery:
    outbox_id: int
    message_id: str  # webhook-id: the same on every retry, so partners can de-duplicate
    kind: str
    address: str
    payload: dict[str, Any]
    secret: str | None = None
    gateway_url: str | None = None
    timeout: float = 10.0
    channel_id: int | None = None
    # What a person reads, rendered by the dispatcher in the recipient's language (channels run in threads
    # with no app context, so they cannot translate); None: English from the payload (tests, dry runs).
    subject: str | None = None
    text: str | None = None
    sms: str | None = None

    def rendered(self) -> tuple[str, str]:
        return (self.subject, self.text) if self.subject is not None and self.text is not None \
            else rules.render_text(self.payload)

    def body(self) -> str:
        return json.dumps(self.payload, sort_keys=True, separators=(",", ":"), default=str)


@dataclass
class Result:
    ok: bool
    status_code: int | None = None
    answer: str | None = None
    error: str | None = None
    disable: bool = False  # the destination told us it is gone for good (HTTP 410)
    duration_ms: int = 0
    mail: dict[str, str] | None = None  # set by the mail sink: the dispatcher stores it in the same commit


class Channel(Protocol):
    def send(self, delivery: Delivery, *, now: float) -> Result: ...


def _short(text: str | None, limit: int = 300) -> str | None:
    return None if text is None else str(text)[:limit]


class SmtpChannel:
    """Real SMTP; the answer to DATA (e.g. "250 OK queued as ...") is recorded with the attempt."""

    def __init__(self, host: str, port: int = 25, sender: str = "tsela@localhost", timeout: float = 10.0):
        self.host, self.port, self.sender, self.timeout = host, port, sender, timeout

    def send(self, delivery: Delivery, *, now: float) -> Result:
        subject, text = delivery.rendered()
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = delivery.address
        msg["Subject"] = subject
        msg["Message-ID"] = f"<{delivery.message_id}@tsela>"
        msg.set_content(text)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=min(self.timeout, delivery.timeout)) as smtp:
                smtp.ehlo_or_helo_if_needed()
                code, resp = smtp.mail(self.sender)
                if code != 250:
                    return Result(False, answer=f"{code} {resp.decode(errors='replace')}"[:300])
                code, resp = smtp.rcpt(delivery.address)
                if code not in (250, 251):
                    return Result(False, answer=f"{code} {resp.decode(errors='replace')}"[:300])
                code, resp = smtp.data(msg.as_bytes())
                answer = f"{code} {resp.decode(errors='replace')}"[:300]
                return Result(code == 250, answer=answer, error=None if code == 250 else "SMTP refused DATA")
        except (OSError, smtplib.SMTPException) as exc:
            return Result(False, error=_short(f"{type(exc).__name__}: {exc}"))


class MailSinkChannel:
    """No MAIL_SERVER: the message is kept in the database (notification_mailbox) for admins to read."""

    def __init__(self, sender: str = "tsela@localhost"):
        self.sender = sender

    def send(self, delivery: Delivery, *, now: float) -> Result:
        subject, text = delivery.rendered()
        return Result(True, answer="250 stored in the local mail sink",
                      mail={"sender": self.sender, "recipient": delivery.address, "subject": subject[:300],
                            "body": text, "message_id": delivery.message_id})


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Result:
    req = urllib.request.Request(url, data=body, method="POST",  # noqa: S310 - http(s) checked on save
                                 headers={"Content-Type": "application/json", "User-Agent": "Tsela-Webhooks/1",
                                          **headers})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
            text = resp.read(300).decode(errors="replace")
            return Result(200 <= resp.status < 300, status_code=resp.status, answer=_short(text))
    except urllib.error.HTTPError as exc:
        text = exc.read(300).decode(errors="replace") if exc.fp else ""
        return Result(False, status_code=exc.code, answer=_short(text), error=f"HTTP {exc.code}",
                      disable=exc.code == 410)
    except (TimeoutError, urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return Result(False, error=_short(f"{type(reason).__name__}: {reason}"))


class WebhookChannel:
    """HTTP POST signed like Standard Webhooks; 2xx delivered, 410 disables the channel, else retry."""

    def send(self, delivery: Delivery, *, now: float) -> Result:
        body = delivery.body()
        hdrs = signing.headers(delivery.secret or "", delivery.message_id, int(now), body)
        return _post(delivery.address, body.encode(), hdrs, delivery.timeout)


class SmsGatewayChannel:
    """A generic HTTP SMS gateway: POST {"to", "message", "id"}; district focal points often have no email."""

    def send(self, delivery: Delivery, *, now: float) -> Result:
        if not delivery.gateway_url:
            return Result(False, error="no SMS gateway URL configured for this channel")
        body = json.dumps({"to": delivery.address, "message": delivery.sms or rules.sms_text(delivery.payload),
                           "id": delivery.message_id}).encode()
        hdrs = {"Authorization": f"Bearer {delivery.secret}"} if delivery.secret else {}
        hdrs["Idempotency-Key"] = delivery.message_id
        return _post(delivery.gateway_url, body, hdrs, delivery.timeout)


@dataclass
class RecordingChannel:
    """Keeps what it was asked to send; for tests and dry runs. `fail_with` makes it answer a failure."""

    sent: list[Delivery] = field(default_factory=list)
    fail_with: Result | None = None

    def send(self, delivery: Delivery, *, now: float) -> Result:
        self.sent.append(delivery)
        return self.fail_with or Result(True, answer="recorded")


def timed(channel: Channel, delivery: Delivery, now: float) -> Result:
    started = time.monotonic()
    try:
        result = channel.send(delivery, now=now)
    except Exception as exc:  # noqa: BLE001 - a channel bug must become a recorded failed attempt
        result = Result(False, error=_short(f"{type(exc).__name__}: {exc}"))
    result.duration_ms = int((time.monotonic() - started) * 1000)
    return result


def for_config(config: dict) -> dict[str, Channel]:
    """The channel per kind for this app's configuration (the mail sink when MAIL_SERVER is unset)."""
    sender = config.get("MAIL_FROM", "tsela@localhost")
    email: Channel
    if config.get("MAIL_SERVER"):
        email = SmtpChannel(config["MAIL_SERVER"], int(config.get("MAIL_PORT", 25)), sender,
                            float(config.get("NOTIFY_TIMEOUT", 10)))
    else:
        email = MailSinkChannel(sender)
    return {"email": email, "webhook": WebhookChannel(), "sms": SmsGatewayChannel()}
