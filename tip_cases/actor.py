"""Who is acting in this request: an API client or the signed-in user.

A module of its own because both the access policy and the audit trail need it, and the access
policy writes audit rows: here neither has to import the other lazily.
"""

from __future__ import annotations

from flask import g
from flask_login import current_user


def current_actor():
    """The API client of this request if any, else the logged-in user (or None)."""
    client = g.get("api_client")
    if client is not None:
        return client
    return current_user if current_user.is_authenticated else None
