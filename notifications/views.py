"""Pages for partner agencies, rules, profiles, the outbox and dead letters."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("notifications", __name__, url_prefix="/notifications")
