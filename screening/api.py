"""JSON API for border systems (IMDMS/MIDAS-style feeds)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
