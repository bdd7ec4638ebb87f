"""Passwords (argon2id), API tokens, TOTP and the HTTP security headers."""

from __future__ import annotations

import hashlib
import secrets
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, request
from flask_login import current_user

from screening.engine.phrases import say
from tip_cases.assets import is_static

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


class PasswordPolicyError(ValueError):
    pass


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    path = Path(__file__).parent / "data" / "common_passwords.txt"
    return frozenset(line.strip().lower() for line in path.read_text().splitlines() if line.strip())


def check_password_policy(password: str, *, username: str = "", min_length: int = 12) -> None:
    """Raise PasswordPolicyError with a sentence the user can act on."""
    if len(password) < min_length:
        raise PasswordPolicyError(say("Password must be at least {min_length} characters long.", min_length=min_length))
    if password.lower() in _common_passwords():
        raise PasswordPolicyError(say("This password is on the list of commonly used passwords; choose another."))
    if username and username.lower() in password.lower():
        raise PasswordPolicyError(say("Password must not contain the username."))
    if len(set(password)) < 5:
        raise PasswordPolicyError(say("Password is too repetitive."))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# A hash to verify against when the username is unknown, so timing does not reveal valid usernames.
DUMMY_HASH = _hasher.hash("not-a-real-password-timing-equaliser")


def new_api_token() -> str:
    return "tsela_" + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """API tokens are high-entropy, so a fast SHA-256 is enough and keeps per-request checks cheap."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_step_if_valid(secret: str, code: str, last_step: int | None, *, now: float | None = None) -> int | None:
    """Return the accepted time step (for replay protection) or None; allows one step of clock drift."""
    code = (code or "").strip().replace(" ", "")
    if not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    import time

    t = int(now if now is not None else time.time())
    current = t // totp.interval
    for step in (current, current - 1, current + 1):
        if last_step is not None and step <= last_step:
            continue
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


_NEXT_MAX = 2000


def is_safe_next(target: str | None) -> bool:
    """Only clean relative paths on this host, so a redirect can never leave the site or break the header.

    Refused: schemes, hosts, protocol-relative `//` and backslash tricks, and any control character,
    raw or percent-encoded (a decoded CR/LF would split the Location header), and raw spaces or non-ASCII.
    """
    if not target or len(target) > _NEXT_MAX or not target.startswith("/"):
        return False
    if not target.isascii() or any(c.isspace() or not c.isprintable() for c in target):
        return False
    decoded = unquote(target)
    if decoded.startswith("//") or "\\" in decoded or any(ord(c) < 0x20 or ord(c) == 0x7F for c in decoded):
        return False
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return False
    joined = urlsplit(urljoin(request.host_url, target))
    host = urlsplit(request.host_url)
    return joined.scheme == host.scheme and joined.netloc == host.netloc


CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'; form-action 'self'"
)


def register_security_headers(app: Flask) -> None:
    @app.after_request
    def _headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        if app.config.get("HSTS"):
            response.headers["Strict-Transport-Security"] = app.config["HSTS"]
        # Static files (ours and Bootstrap's) are cached for a year under versioned URLs (tip_cases.assets).
        if not is_static(request.endpoint) and (current_user.is_authenticated or request.path.startswith("/api/")):
            response.headers["Cache-Control"] = "no-store"
            response.headers["Pragma"] = "no-cache"
        return response
