"""Builders for test data. Users share one pre-computed argon2 hash so tests stay fast."""

from __future__ import annotations

import itertools
import time
from functools import lru_cache

import pyotp

from tip_cases.extensions import db
from tip_cases.models import ApiClient, BorderPost, User

PASSWORD = "correct-Horse-battery-7"  # noqa: S105 - test credential
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
_seq = itertools.count(1)


@lru_cache(maxsize=1)
def password_hash() -> str:
    from tip_cases.security import hash_password

    return hash_password(PASSWORD)


def post(code: str = "MSB") -> BorderPost:
    from sqlalchemy import select

    return db.session.execute(select(BorderPost).where(BorderPost.code == code)).scalar_one()


def make_user(role: str = "investigator", *, post_code: str | None = None, username: str | None = None,
              totp: bool = True, active: bool = True, commit: bool = True) -> User:
    if role == "border_officer" and post_code is None:
        post_code = "MSB"
    user = User(username=username or f"{role.replace('_', '')}{next(_seq)}", role=role,
                full_name=f"Test {role}", password_hash=password_hash(),
                totp_secret=TOTP_SECRET if totp else None, active=active,
                border_post=post(post_code) if post_code else None, email=f"{role}@example.test")
    db.session.add(user)
    if commit:
        db.session.commit()
    return user


def next_totp(user: User, secret: str | None = None) -> str:
    """A code the server will accept now: the current step, or the next one if that was just used."""
    db.session.refresh(user)
    totp = pyotp.TOTP(secret or user.totp_secret)
    step = int(time.time()) // totp.interval
    if user.totp_last_step is not None and user.totp_last_step >= step:
        step = user.totp_last_step + 1
    return totp.generate_otp(step)


def make_api_client(name: str | None = None, post_code: str | None = "MSB") -> tuple[ApiClient, str]:
    from tip_cases import accounts

    client, token = accounts.create_api_client(name or f"client{next(_seq)}", post_code)
    db.session.commit()
    return client, token
