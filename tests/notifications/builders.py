"""Builders and real loopback partners (an HTTP receiver, an SMTP server) for the notification tests."""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from notifications import services
from notifications.models import Agency, Channel, Rule, SharingProfile
from tip_cases.extensions import db

_seq = itertools.count(1)


def make_profile(fields, *, identifying=False, name=None) -> SharingProfile:
    return services.save_profile(None, name=name or f"profile{next(_seq)}", fields=list(fields),
                                 allow_identifying=identifying)


def make_agency(name=None, *, org_type="LawEnforcement", profile=None) -> Agency:
    return services.create_agency(name=name or f"Agency {next(_seq)}", org_type=org_type, profile=profile)


def make_channel(agency, kind="webhook", address="http://127.0.0.1:9/hook", **kw) -> Channel:
    return services.add_channel(agency, kind=kind, address=address, **kw)


def make_rule(agency, channel, event="flag.confirmed", **kw) -> Rule:
    return services.add_rule(agency=agency, channel=channel, event=event, **kw)


def subscribed(url, *, event="flag.confirmed", profile=None, timeout=5, kind="webhook", **rule_kw):
    """An agency with one channel to `url` subscribed to `event`; committed."""
    agency = make_agency(profile=profile)
    channel = make_channel(agency, kind=kind, address=url, timeout_seconds=timeout)
    make_rule(agency, channel, event, **rule_kw)
    db.session.commit()
    return agency, channel


def publish_flag(n=1, *, event="flag.confirmed", post="MSB", data=None, now=None, start=1):
    out = []
    for i in range(start, start + n):
        out += services.publish(event, ref=f"FLG-{i:05d}", subject_type="flag", subject_id=i, post_code=post,
                                priority="high", kind="trafficking", data=data or {}, now=now)
    db.session.commit()
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    at: float
    headers: dict
    body: str
    status: int

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")


@dataclass
class Receiver:
    """A real HTTP server on loopback. `status` is what it answers (or a callable); `refuse()` closes
    the socket so connections are refused, `resume()` listens again on the same port."""

    status: object = 200
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    port: int = 0
    _server: ThreadingHTTPServer | None = None

    def __post_init__(self):
        self.port = self.port or free_port()
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                if receiver.delay:
                    time.sleep(receiver.delay)
                status = receiver.status(self) if callable(receiver.status) else receiver.status
                with receiver.lock:
                    receiver.received.append(Received(time.time(), {k.lower(): v for k, v in self.headers.items()},
                                                      body, status))
                payload = json.dumps({"status": status}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        return Handler

    def start(self) -> Receiver:
        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def refuse(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    resume = start

    def stop(self) -> None:
        self.refuse()

    def ok_ids(self) -> list[str]:
        return [r.webhook_id for r in self.received if 200 <= r.status < 300]


class SmtpSink:
    """aiosmtpd on loopback, keeping every message it accepts."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages: list = []
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's naming
                sink.messages.append(envelope)
                return "250 2.0.0 Ok: queued by the test sink"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()
