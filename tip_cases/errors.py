"""Error pages and JSON errors that never leak a stack trace."""

from __future__ import annotations

import logging
import re

from flask import Flask, jsonify, render_template, request
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
        return render_template("errors/error.html", code=400, title="Form expired",
                               message="The form was open too long or came from another site. "
                                       "Go back, reload the page and try again; nothing was saved."), 400

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if _wants_json():
            body = {"error": exc.name.lower().replace(" ", "_"), "message": exc.description}
            if getattr(exc, "field", None):  # the API's shape: which part of the request is wrong
                body["errors"] = [{"field": exc.field, "message": exc.description}]
            return jsonify(body), exc.code
        template = f"errors/{exc.code}.html" if exc.code in (403, 404) else "errors/error.html"
        return render_template(template, code=exc.code, title=exc.name, message=exc.description), exc.code

    @app.errorhandler(Exception)
    def _unhandled(exc: Exception):
        db.session.rollback()
        log.exception("unhandled error on %s %s", request.method, request.endpoint)
        if _wants_json():
            return jsonify(error="internal_error", message="The server could not complete the request."), 500
        return render_template("errors/500.html", code=500), 500
