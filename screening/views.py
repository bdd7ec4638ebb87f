"""Border officers' pages: capture, flag queue, flag review; investigators' persons of interest and tracing."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("screening", __name__)
