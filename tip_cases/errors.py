"""Error pages and JSON errors that never leak a stack trace."""

from __future__ import annotations

import logging
import re

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from tip_cases.extensions import db

log = logging.getLogger("tsela.errors")

_QUERY = re.compile(r"\?[^\s\"']*")


class QueryStringFilter(logging.Filter):
    """Cut query strings out of request log lines: a search's ?q= can carry a victim's name.

    gunicorn has its own (scripts/gunicorn_conf.py); this covers Werkzeug's development server.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "?" in message:
            record.msg, record.args = _QUERY.sub("?[query removed]", message), ()
        return True


# What a person reads on errors/error.html, per status (403 and 404 have their own templates): Werkzeug's
# names and descriptions are English.
# JSON errors keep Werkzeug's English (docs/api.md: the API answers in English).
PAGE_TEXTS = {
    400: (_l("Bad request"), _l("The request could not be understood. Go back and try again.")),
    401: (_l("Sign-in needed"), _l("Sign in to see this page.")),
    405: (_l("Method not allowed"), _l("This page cannot be used that way.")),
    409: (_l("Conflict"), _l("Someone else changed this at the same time. Reload and try again.")),
    413: (_l("Too large"), _l("What you sent is larger than the limit.")),
    415: (_l("Unsupported type"), _l("This kind of content is not accepted here.")),
    422: (_l("Cannot be processed"), _l("The input could not be processed. Check it and try again.")),
    429: (_l("Too many requests"), _l("Too many requests in a short time. Wait a moment and try again.")),
    503: (_l("Unavailable"), _l("The service is unavailable for a moment. Try again shortly.")),
}


def page_text(exc: HTTPException) -> tuple[str, str]:
    """Title and message for an HTML error page in the reader's language.

    A view that gave its own description (abort(400, "…")) keeps it; Werkzeug's stock English text is
    replaced by ours, translated.
    """
    title, message = PAGE_TEXTS.get(exc.code or 500, (None, None))
    stock = exc.description == type(exc).description
    return (str(title) if title else exc.name,
            str(message) if message and stock else (exc.description or ""))


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def register(app: Flask) -> None:
    werkzeug_log = logging.getLogger("werkzeug")
    if not any(isinstance(f, QueryStringFilter) for f in werkzeug_log.filters):
        werkzeug_log.addFilter(QueryStringFilter())

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        if _wants_json():
            return jsonify(error="csrf", message=exc.description), 400
        return render_template("errors/error.html", code=400, title=_("Form expired"),
                               message=_("The form was open too long or came from another site. "
                                         "Go back, reload the page and try again; nothing was saved.")), 400

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if _wants_json():
            body = {"error": exc.name.lower().replace(" ", "_"), "message": exc.description}
            if getattr(exc, "field", None):  # the API's shape: which part of the request is wrong
                body["errors"] = [{"field": exc.field, "message": exc.description}]
            return jsonify(body), exc.code
        template = f"errors/{exc.code}.html" if exc.code in (403, 404) else "errors/error.html"
        title, message = page_text(exc)
        return render_template(template, code=exc.code, title=title, message=message), exc.code

    @app.errorhandler(Exception)
    def _unhandled(exc: Exception):
        db.session.rollback()
        log.exception("unhandled error on %s %s", request.method, request.endpoint)
        if _wants_json():
            return jsonify(error="internal_error", message="The server could not complete the request."), 500
        return render_template("errors/500.html", code=500), 500
