"""PURE: Standard Webhooks signatures (webhook-id, webhook-timestamp, webhook-signature).

The signed content is f"{id}.{timestamp}.{body}"; the signature header is a space-separated list of
"v1,<base64 HMAC-SHA256>" so a partner can rotate secrets. Secrets look like "whsec_<base64 key>";
the HMAC key is the decoded bytes, as in the Standard Webhooks reference libraries.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 - a format prefix, not a secret
DEFAULT_TOLERANCE = 5 * 60  # seconds either side of now; refuses replays of old deliveries


class SignatureError(ValueError):
    """The delivery is not authentic (or too old); the message says which check failed."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def new_message_id() -> str:
    return "msg_" + secrets.token_urlsafe(18)


def _key(secret: str) -> bytes:
    if secret.startswith(SECRET_PREFIX):
        try:
            return base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)
        except ValueError as exc:
            raise SignatureError("secret is not valid base64 after whsec_") from exc
    return secret.encode()


def sign(secret: str, msg_id: str, timestamp: int, body: str | bytes) -> str:
    """The webhook-signature header value for one delivery."""
    if isinstance(body, bytes):
        body = body.decode()
    content = f"{msg_id}.{int(timestamp)}.{body}".encode()
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, msg_id: str, timestamp: int, body: str | bytes) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(timestamp)),
            "webhook-signature": sign(secret, msg_id, timestamp, body)}


def verify(secret: str, hdrs: dict, body: str | bytes, *, now: float, tolerance: int = DEFAULT_TOLERANCE) -> str:
    """Return the webhook-id when the delivery is authentic and fresh; raise SignatureError otherwise."""
    lower = {k.lower(): v for k, v in dict(hdrs).items()}
    msg_id = lower.get("webhook-id")
    ts_raw = lower.get("webhook-timestamp")
    sig_header = lower.get("webhook-signature")
    if not msg_id or not ts_raw or not sig_header:
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature header")
    try:
        ts = int(ts_raw)
    except ValueError as exc:
        raise SignatureError("webhook-timestamp is not an integer") from exc
    if abs(now - ts) > tolerance:
        raise SignatureError("timestamp outside the tolerance window (stale or from the future)")
    expected = sign(secret, msg_id, ts, body).encode()
    for candidate in sig_header.split():
        if candidate.startswith("v1,") and hmac.compare_digest(candidate.encode(), expected):
            return msg_id
    raise SignatureError("no signature matches (tampered body or wrong secret)")
