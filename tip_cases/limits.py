"""Limits on what a request may carry, checked before anything reads or parses it.

Two attacks are cheap to send and costly to answer: a large body (read whole into memory before a view
looks at it) and a deeply nested JSON document (the parser recurses until Python's recursion limit turns
into a 500). A body is refused by its declared Content-Length before a byte of it is read; a chunked body
is cut off at the same limit while it is read. JSON is measured for depth before the parser sees it.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, current_app, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge


def _size(n: int) -> str:
    if n >= 1024 * 1024 and n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)} MB"
    if n >= 1024 and n % 1024 == 0:
        return f"{n // 1024} KB"
    return f"{n} bytes"


def body_limit(app: Flask, endpoint: str | None) -> int:
    """Uploads (evidence, CSV imports) keep MAX_CONTENT_LENGTH; everything else gets MAX_BODY_BYTES."""
    if endpoint in app.config["LARGE_BODY_ENDPOINTS"]:
        return app.config["MAX_CONTENT_LENGTH"]
    return app.config["MAX_BODY_BYTES"]


class BodyTooLarge(RequestEntityTooLarge):
    field = "body"


class JSONTooDeep(BadRequest):
    field = "body"


def _check_body_size() -> None:
    limit = body_limit(current_app, request.endpoint)
    # Werkzeug stops reading a body (chunked included) at this limit and raises 413 itself.
    request.max_content_length = limit
    if request.mimetype == "multipart/form-data" and not request.mimetype_params.get("boundary"):
        raise BadRequest("The multipart/form-data body has no boundary in its Content-Type; nothing was read.")
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge(
            f"The request body is {request.content_length} bytes; the limit here is {_size(limit)} "
            f"({limit} bytes). Nothing was read or saved.")


# Strings may hold brackets; they are removed before the brackets are counted.
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_BRACKETS = re.compile(rb"[\[\]{}]")


def json_depth(data: bytes | str) -> int:
    """The deepest nesting of arrays and objects, counted without recursion (an upper bound on bad input)."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    depth = deepest = 0
    for m in _BRACKETS.finditer(_JSON_STRING.sub(b'""', raw)):
        if m.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


class DepthLimitedJSONProvider(DefaultJSONProvider):
    """Refuses a document nested deeper than MAX_JSON_DEPTH with a 400 that names the limit.

    BadRequest is not a ValueError, so `get_json(silent=True)` does not swallow it into "not valid JSON".
    """

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        limit = self._app.config["MAX_JSON_DEPTH"]
        if json_depth(s) > limit:
            raise JSONTooDeep(f"The JSON document is nested more than {limit} levels deep; "
                             f"nothing was read or saved.")
        return super().loads(s, **kwargs)


def register(app: Flask) -> None:
    app.json_provider_class = DepthLimitedJSONProvider
    app.json = DepthLimitedJSONProvider(app)
    # First of all hooks: CSRFProtect's (registered earlier) reads the form, and so the body.
    app.before_request_funcs.setdefault(None, []).insert(0, _check_body_size)
