"""Limits on what a request may carry, checked before anything reads or parses it.

Two attacks are cheap to send and costly to answer: a large body (read whole into memory before a view
looks at it) and a deeply nested JSON document (the parser recurses until Python's recursion limit turns
into a 500). A body is refused by its declared Content-Length before a byte of it is read; a chunked body
is cut off at the same limit while it is read. JSON is measured for depth before the parser sees it.

Malformed requests are named rather than guessed at: Werkzeug silently reads a broken multipart body,
a URL with bad percent-encoding or a forged session cookie as "nothing there", which surfaced as a
misleading "form expired" (CSRF) page or a silent sign-out. Each now answers 400 saying what is wrong.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote_to_bytes

from flask import Flask, current_app, request, session
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature, SignatureExpired
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


# Views whose forms refuse a NUL with an error on the field itself (screening.forms.NoNulForm).
FORMS_NAMING_NUL = frozenset({"screening.capture", "screening.person_new", "screening.person_edit",
                              "screening.trace"})


class MalformedRequest(BadRequest):
    """A request whose framing (URL, multipart body, cookie) cannot be read; the description says which part."""

    def __init__(self, description: str, field: str):
        super().__init__(description)
        self.field = field


_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _check_url() -> None:
    """A URL with a stray '%' or bytes that are not UTF-8 (a lone surrogate, say) is refused, not guessed at."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or ""
    raw_path, _, raw_query = raw.partition("?")
    raw_query = raw_query or request.environ.get("QUERY_STRING", "")
    for part, text in (("path", raw_path), ("query string", raw_query)):
        if _BAD_PERCENT.search(text):
            raise MalformedRequest(f"The URL's {part} has invalid percent-encoding (a '%' not followed by two "
                                   "hexadecimal digits); nothing was read.", "query" if "query" in part else "path")
    try:
        request.environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8")
        unquote_to_bytes(raw_path).decode("utf-8")
        unquote_to_bytes(raw_query.replace("+", " ")).decode("utf-8")
    except UnicodeError:
        raise MalformedRequest("The URL is not valid UTF-8 once percent-decoded (an invalid byte or a lone "
                               "surrogate); nothing was read.", "query" if raw_query else "path") from None
    if "\x00" in request.path or any("\x00" in k or "\x00" in v for k, v in request.args.items(multi=True)):
        raise MalformedRequest("The URL holds a NUL character, which no search or record can contain; "
                               "nothing was read.", "query")


def _check_form() -> None:
    """Read a form body strictly: a multipart body whose boundary never appears, or that is cut short,
    is named as such (Werkzeug would otherwise return an empty form, and the CSRF check would blame an
    expired form). A field holding a NUL (no record can store one; PostgreSQL refuses it) is refused by
    name, except on the forms that already show it as a field error (screening.forms.NoNulForm)."""
    if request.mimetype not in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return
    parser = request.make_form_data_parser()
    parser.silent = False
    try:
        stream, form, files = parser.parse(request._get_stream_for_parsing(), request.mimetype,
                                           request.content_length, request.mimetype_params)
    except ValueError as exc:
        kind = "multipart/form-data" if request.mimetype.startswith("multipart") else "form"
        detail = str(exc) or type(exc).__name__
        if isinstance(exc, UnicodeError):
            detail = "it is not valid UTF-8"
        raise MalformedRequest(f"The {kind} body is malformed ({detail}): its parts could not be read, for "
                               "example a boundary that never appears or a part cut short. Nothing was saved.",
                               "body") from None
    request.__dict__.update(stream=stream, form=form, files=files)
    if request.endpoint in FORMS_NAMING_NUL:
        return
    for name, value in form.items(multi=True):
        if "\x00" in name or "\x00" in value:
            clean = name.replace("\x00", "")[:80]
            raise MalformedRequest(f"The field {clean!r} holds a NUL character, which no record can store; "
                                   "nothing was saved.", clean)


class StrictCookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, except that a cookie this server did not sign is flagged, not ignored.

    An expired session is still an ordinary signed-out visit; a garbage or altered cookie gets a 400
    that says so and clears it (see `_check_session_cookie`)."""

    def open_session(self, app, request):
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        try:
            return self.session_class(serializer.loads(value, max_age=int(
                app.permanent_session_lifetime.total_seconds())))
        except SignatureExpired:
            return self.session_class()
        except BadSignature:
            request.environ["tsela.bad_session_cookie"] = True
            return self.session_class()


def _check_session_cookie() -> None:
    if request.environ.get("tsela.bad_session_cookie"):
        session.modified = True  # an empty, modified session makes Flask delete the cookie in the answer
        name = current_app.config["SESSION_COOKIE_NAME"]
        raise MalformedRequest(f"The {name} cookie was not issued by this server (it is altered, malformed, "
                               "or signed with a key no longer in use). It has been removed: sign in again.",
                               "cookie")


def _check_request() -> None:
    """Every check that must run before anything (CSRF, sign-in, the view) reads the request."""
    _check_url()
    _check_body_size()
    _check_session_cookie()
    _check_form()


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
    app.before_request_funcs.setdefault(None, []).insert(0, _check_request)
    app.session_interface = StrictCookieSessionInterface()
