"""Oversized bodies and deeply nested JSON are refused with a 4xx that names the limit, before they are read.

Before tip_cases.limits, 5,000 nested arrays sent to the border API reached the parser's recursion limit
(a 500), and a 6 MB body was read whole before anything looked at it.
"""

from __future__ import annotations

import io
import socket
import time

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from screening.models import Crossing
from tests.cases.builders import make_case
from tests.conftest import csrf_from
from tests.factories import make_api_client, make_user
from tests.security.test_production_server import _production_env, gunicorn
from tip_cases.cases.models import Evidence
from tip_cases.extensions import db
from tip_cases.limits import json_depth

SIX_MB = 6 * 1024 * 1024


class CountingStream(io.BytesIO):
    """A request body that remembers how much of it the server read."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.consumed = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.consumed += len(chunk)
        return chunk

    def readline(self, size=-1):
        chunk = super().readline(size)
        self.consumed += len(chunk)
        return chunk


def _api(client, body, **kw):
    _, token = make_api_client(post_code="MSB")
    return client.post("/api/v1/crossings", data=body, content_type="application/json",
                       headers={"Authorization": f"Bearer {token}"}, **kw)


@pytest.mark.parametrize("body", [b"[" * 5000, b'{"a":' * 5000, b'{"crossings": ' + b"[" * 5000 + b"]" * 5000 + b"}"],
                         ids=["arrays", "objects", "inside-a-batch"])
def test_deeply_nested_json_is_a_400_naming_the_depth_limit(app, client, body):
    resp = _api(client, body)
    assert resp.status_code == 400
    payload = resp.get_json()
    assert "nested more than 32 levels" in payload["message"]
    assert payload["errors"] == [{"field": "body", "message": payload["message"]}]
    assert db.session.scalar(select(func.count()).select_from(Crossing)) == 0


def test_a_case_edit_with_nested_json_is_a_400_not_a_500(app, login_as):
    b = login_as("investigator")
    case = make_case(b.user)
    token = csrf_from(b.get(f"/cases/{case.id}").get_data(as_text=True))
    resp = b.client.patch(f"/cases/{case.id}", data=b"[" * 5000, content_type="application/json",
                          headers={"Accept": "application/json", "X-CSRFToken": token})
    assert resp.status_code == 400 and "nested more than 32 levels" in resp.get_json()["message"]


def test_depth_counts_brackets_outside_strings_only():
    assert json_depth(b'{"a": [1, [2, {"b": "[[[[{{{{\\"]]]"}]]}') == 4
    assert json_depth('"[[[["') == 0
    assert json_depth(b"[" * 40) == 40


def test_a_batch_within_the_depth_limit_is_still_stored(app, client):
    from tests.screening.builders import crossing_item

    _, token = make_api_client(name="depth-ok", post_code="MSB")
    resp = client.post("/api/v1/crossings", json={"crossings": [crossing_item()]},
                       headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200 and resp.get_json()["accepted"] == 1


def test_an_oversized_api_body_is_refused_by_its_length_without_being_read(app, client):
    stream = CountingStream(b" " * SIX_MB)
    _, token = make_api_client(post_code="MSB")
    resp = client.post("/api/v1/crossings", input_stream=stream, content_length=SIX_MB,
                       content_type="application/json", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 413
    payload = resp.get_json()
    assert "limit here is 1 MB (1048576 bytes)" in payload["message"] and payload["errors"][0]["field"] == "body"
    assert stream.consumed == 0


def test_an_oversized_form_gets_a_page_naming_the_limit(app, client):
    resp = client.post("/login", data={"username": "x" * SIX_MB, "password": "y"})
    assert resp.status_code == 413 and resp.mimetype == "text/html"
    assert "the limit here is 1 MB" in resp.get_data(as_text=True)


def test_multipart_without_a_boundary_is_named(app, client):
    resp = client.post("/login", data=b"garbage", content_type="multipart/form-data")
    assert resp.status_code == 400 and "has no boundary" in resp.get_data(as_text=True)


def test_evidence_uploads_keep_their_larger_limit(app, login_as):
    """A 2 MB statement is over the general limit and is still stored as evidence."""
    b = login_as("investigator")
    case = make_case(b.user)
    html = b.get(f"/cases/{case.id}").get_data(as_text=True)
    content = b"%PDF-1.4 " + b"0" * (2 * 1024 * 1024)
    # Encoded here: the test client would spool a large body to a temporary file it never closes.
    boundary, body = encode_multipart({"ev-csrf_token": csrf_from(html), "ev-description": "statement",
                                       "ev-file": FileStorage(io.BytesIO(content), "statement.pdf")})
    resp = b.client.post(f"/cases/{case.id}/evidence", data=body,
                         content_type=f"multipart/form-data; boundary={boundary}")
    assert resp.status_code == 302
    assert db.session.execute(select(Evidence)).scalar_one().size == len(content)
    assert "statement.pdf" in b.get(f"/cases/{case.id}").get_data(as_text=True)


def test_gunicorn_refuses_a_6_mb_body_before_it_arrives(app, database_url, tmp_path):
    """The server answers 413 after the headers and 64 KB of a 6 MB body: it never waits for the rest."""
    make_user("officer")
    with gunicorn(_production_env(database_url), tmp_path) as (base, _access, _error):
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
            sock.sendall(b"POST /api/v1/crossings HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Authorization: Bearer tsela_nothing\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n" % SIX_MB + b" " * 65536)
            started = time.monotonic()
            answer = b""
            while b"\r\n\r\n" not in answer or b"}" not in answer.split(b"\r\n\r\n", 1)[1]:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
            elapsed = time.monotonic() - started
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head[:200]
    assert b"limit here is 1 MB" in body
    assert elapsed < 10


HOSTILE = [
    ("cookie", "GET", "/login", {"headers": {"Cookie": "tsela_session=\x7f\xff;;;=;a=\"unterminated"}}, 400),
    ("query", "GET", "/login?next=%ff%00&x=%zz&&&=", {}, 400),
    ("accept", "GET", "/login", {"headers": {"Accept": "\x00;q=abc,,,/"}}, 200),
    ("content-length", "POST", "/login", {"data": b"a=b", "headers": {"Content-Length": "-5"},
                                          "content_type": "application/x-www-form-urlencoded"}, 400),
    ("bearer", "POST", "/api/v1/crossings", {"data": b"{}", "content_type": "application/json",
                                             "headers": {"Authorization": "Bearer \xff\x00 x"}}, 401),
    ("path-id", "GET", "/api/v1/flags/abc", {"headers": {"Authorization": "Bearer x"}}, 404),
    ("huge-path-id", "GET", "/api/v1/flags/99999999999999999999999", {}, 404),
]


@pytest.mark.parametrize(("label", "method", "path", "kw", "status"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_malformed_headers_cookies_queries_and_ids_get_a_plain_answer(app, label, method, path, kw, status):
    # Without a cookie jar: the test client would otherwise replace the Cookie header with its own (empty) jar.
    resp = app.test_client(use_cookies=False).open(path, method=method, **kw)
    assert resp.status_code == status, resp.get_data()[:300]
    text = resp.get_data(as_text=True)
    if status == 200:
        assert "Sign in" in text
    elif path.startswith("/api/"):
        assert resp.get_json()["message"]
    else:
        assert "<title>" in text and "Traceback" not in text
