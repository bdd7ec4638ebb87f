"""Rate limits where a person or a machine can be hammered: sign-in, the second factor, the partners'
acknowledgement links, and the border API per client.

The account lockout (tip_cases.accounts) stops guessing one account's password; these limits stop one
address from trying many accounts, from guessing 6-digit codes, from guessing acknowledgement tokens,
and one API client from starving the others. Counters live in RATELIMIT_STORAGE_URI: Redis in
production, so every gunicorn worker and node shares them (docs/operations.md). Each refusal is a 429
with Retry-After, and an audit row.

One table, applied to the registered views by endpoint name, so the views carry no decorator and the
limits are read in one place.
"""

from __future__ import annotations

import hashlib
import logging

from flask import Flask, request
from flask_limiter import Limiter, RequestLimit
from flask_limiter.util import get_remote_address
from werkzeug.middleware.proxy_fix import ProxyFix

from tip_cases import audit
from tip_cases.extensions import db

log = logging.getLogger("tsela.ratelimits")


def _by_address() -> str:
    return get_remote_address()


def _by_client() -> str:
    """An API caller is its token (hashed: the key is stored in Redis); no token: its address."""
    header = request.headers.get("Authorization", "")
    if header:
        return "client:" + hashlib.sha256(header.encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return "addr:" + get_remote_address()


# endpoint -> (config key holding the limit, key function, methods counted)
ROUTE_LIMITS: dict[str, tuple[str, object, list[str] | None]] = {
    "auth.login": ("RATELIMIT_SIGN_IN", _by_address, ["POST"]),
    "auth.second_factor": ("RATELIMIT_TOTP", _by_address, ["POST"]),
    "auth.enrol": ("RATELIMIT_TOTP", _by_address, ["POST"]),
    "notifications.ack_link": ("RATELIMIT_ACK_LINK", _by_address, None),
    "notifications_api.api_ack": ("RATELIMIT_ACK_LINK", _by_client, None),
}
# blueprint -> (config key, key function): every route of the border API, per client.
BLUEPRINT_LIMITS: dict[str, tuple[str, object]] = {
    "api": ("RATELIMIT_API", _by_client),
}


def _audit_breach(limit: RequestLimit) -> None:
    """Record the refusal (who is being hammered, which limit); the 429 itself is raised by the limiter."""
    try:
        audit.record("ratelimit.exceeded", "endpoint", request.endpoint, outcome="denied",
                     detail={"limit": str(limit.limit), "method": request.method})
        db.session.commit()
    except Exception:  # noqa: BLE001 - the refusal must still be answered if the audit write fails
        db.session.rollback()
        log.exception("could not audit a rate-limit refusal on %s", request.endpoint)


def register(app: Flask) -> None:
    if app.config.get("PREFERRED_URL_SCHEME") == "https" and app.config["RATELIMIT_STORAGE_URI"].startswith("memory"):
        log.warning("RATELIMIT_STORAGE_URI is memory://: each gunicorn worker counts on its own, so the "
                    "limits are multiplied by the number of workers; set it to redis://")
    if app.config["TRUSTED_PROXIES"]:
        # Behind N proxies every request comes from the proxy's address: take the client's from the last
        # N X-Forwarded-For entries (only the proxies' own, so a client cannot forge its address).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["TRUSTED_PROXIES"])
    limiter = Limiter(key_func=_by_address, app=app, on_breach=_audit_breach)
    app.extensions["tsela_limiter"] = limiter  # the decorators hold it only weakly: the app keeps it alive
    for endpoint, (key, key_func, methods) in ROUTE_LIMITS.items():
        view = app.view_functions.get(endpoint)
        if view is not None:
            app.view_functions[endpoint] = limiter.limit(app.config[key], key_func=key_func, methods=methods,
                                                         scope=endpoint)(view)
    for name, (key, key_func) in BLUEPRINT_LIMITS.items():
        if name in app.blueprints:
            limiter.limit(app.config[key], key_func=key_func, scope=name)(app.blueprints[name])
