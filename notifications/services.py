"""Notification services. `publish` is the one entry point other packages call when something happens."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def publish(event: str, *, ref: str, subject_type: str, subject_id: Any, post_code: str | None = None,
            priority: str | None = None, kind: str | None = None, data: dict | None = None,
            now: datetime | None = None) -> None:
    """Record that `event` happened, in the caller's transaction (transactional outbox).

    event: e.g. "flag.raised", "flag.confirmed", "risk.found", "case.opened", "case.status_changed",
    "referral.made". `data` may hold identifying fields; what leaves goes through each agency's
    data-sharing profile. Until the notifications package lands this records nothing.
    """
    return None
