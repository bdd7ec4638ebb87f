"""Malformed multipart bodies, cookies, headers and URLs: each answers a 4xx whose body names the problem.

Before, Werkzeug read a broken multipart body as an empty form (so the CSRF check blamed an "expired
form"), a URL with a stray '%' as literal text, and a forged session cookie as a silent sign-out.
"""

from __future__ import annotations

import socket

import pytest

from tests.conftest import csrf_from
from tests.factories import make_api_client
from tests.security.test_production_server import _production_env, gunicorn

BOUNDARY = "tselaBoundary42"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"

MALFORMED_MULTIPART = {
    # The declared boundary never appears in the body.
    "boundary-never-appears": b"--otherBoundary\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nx\r\n"
                              b"--otherBoundary--\r\n",
    # The last part is cut off before its closing boundary.
    "truncated-part": (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nofficer\r\n"
                       f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\nhalf a pa").encode(),
    # A part without its Content-Disposition header.
    "part-without-disposition": f"--{BOUNDARY}\r\nX-Nothing: 1\r\n\r\nx\r\n--{BOUNDARY}--\r\n".encode(),
}


@pytest.mark.parametrize("body", MALFORMED_MULTIPART.values(), ids=MALFORMED_MULTIPART.keys())
def test_malformed_multipart_names_the_multipart_problem_not_csrf(app, client, body):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data=body, content_type=MULTIPART, headers={"X-CSRFToken": token})
    text = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "multipart/form-data body is malformed" in text and "Nothing was saved" in text
    assert "Form expired" not in text and "CSRF" not in text


def test_malformed_multipart_on_the_api_is_json_naming_the_body(app, client):
    _, token = make_api_client(post_code="MSB")
    resp = client.post("/api/v1/crossings", data=MALFORMED_MULTIPART["truncated-part"], content_type=MULTIPART,
                       headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 400
    payload = resp.get_json()
    assert "multipart/form-data body is malformed" in payload["message"]
    assert payload["errors"] == [{"field": "body", "message": payload["message"]}]


def test_a_well_formed_multipart_form_still_reaches_the_view(app, client):
    """The strict parse keeps the form: a valid multipart sign-in is judged on its credentials."""
    token = csrf_from(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"csrf_token": token, "username": "nobody", "password": "wrong"},
                       content_type="multipart/form-data")
    assert resp.status_code == 200 and "Invalid username or password" in resp.get_data(as_text=True)


@pytest.mark.parametrize("cookie", ["tsela_session=garbage", "tsela_session=\x7f\xff;;;=;a=\"unterminated",
                                    "tsela_session=eyJ4IjoxfQ.AAAAAA.forgedsignatureforgedsignature"],
                         ids=["garbage", "unparseable", "forged-signature"])
def test_a_session_cookie_this_server_did_not_sign_is_named_and_cleared(app, cookie):
    client = app.test_client(use_cookies=False)
    resp = client.get("/login", headers={"Cookie": cookie})
    assert resp.status_code == 400
    assert "tsela_session cookie was not issued by this server" in resp.get_data(as_text=True)
    assert resp.headers["Set-Cookie"].startswith("tsela_session=;") and "Max-Age=0" in resp.headers["Set-Cookie"]
    # Without the bad cookie the page is the ordinary sign-in page, and unrelated cookies are ignored.
    assert client.get("/login", headers={"Cookie": "theme=dark; x=\x7f"}).status_code == 200


@pytest.mark.parametrize(("url", "named"), [
    ("/login?next=%zz", "query string has invalid percent-encoding"),
    ("/cases/%z1", "path has invalid percent-encoding"),
    ("/login?q=%ED%A0%80", "not valid UTF-8"),
    ("/login?q=%ff", "not valid UTF-8"),
    ("/screening/crossings/%ff", "not valid UTF-8"),
    ("/login?q=a%00b", "NUL character"),
], ids=["query-stray-percent", "path-stray-percent", "lone-surrogate", "invalid-byte", "path-invalid-byte",
        "nul"])
def test_invalid_percent_encoding_in_path_and_query_is_named(app, client, url, named):
    resp = client.get(url)
    assert resp.status_code == 400 and named in resp.get_data(as_text=True), resp.get_data(as_text=True)[:500]
    api = client.get(url.replace("/login", "/api/v1/flags").replace("/cases/", "/api/v1/flags/")
                     .replace("/screening/crossings/", "/api/v1/crossings/"))
    assert api.status_code == 400 and named in api.get_json()["message"]


def _raw(port: int, request: bytes) -> tuple[bytes, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return head, body


def test_the_real_server_names_each_malformed_request(app, database_url, tmp_path):
    """Through gunicorn, byte for byte as an attacker sends them (no client library tidies them up)."""
    with gunicorn(_production_env(database_url), tmp_path) as (base, _access, error):
        port = int(base.rsplit(":", 1)[1])
        cases = {
            "huge header": (b"GET /login HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n"
                            b"Connection: close\r\n\r\n", b"431", b"limit request headers fields size"),
            "garbage cookie": (b"GET /login HTTP/1.1\r\nHost: x\r\nCookie: tsela_session=garbage;;;==;a=\"x\r\n"
                               b"Connection: close\r\n\r\n", b"400", b"cookie was not issued by this server"),
            # Bytes no HTTP header may hold are refused by gunicorn itself, by name.
            "binary cookie": (b"GET /login HTTP/1.1\r\nHost: x\r\nCookie: tsela_session=\xff\x7f\r\n"
                              b"Connection: close\r\n\r\n", b"400", b"Invalid HTTP Header: &#x27;COOKIE&#x27;"),
            "bad percent in path": (b"GET /cases/%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"400",
                                    b"path has invalid percent-encoding"),
            "lone surrogate in query": (b"GET /login?q=%ED%A0%80 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                                        b"400", b"not valid UTF-8"),
            "truncated multipart": (
                b"POST /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: " + MULTIPART.encode()
                + b"\r\nContent-Length: %d\r\n\r\n" % len(MALFORMED_MULTIPART["truncated-part"])
                + MALFORMED_MULTIPART["truncated-part"], b"400", b"multipart/form-data body is malformed"),
        }
        for label, (request, status, named) in cases.items():
            head, body = _raw(port, request)
            assert head.split(b" ")[1] == status, (label, head[:200], body[:300])
            assert named in body, (label, body[:500])
    assert "Traceback" not in error.read_text()


def test_a_form_field_holding_a_nul_is_named(app, login_as):
    """Found by the crawl on PostgreSQL: a NUL in a case note was a 500 (the database refuses it)."""
    from tests.cases.builders import make_case

    browser = login_as("investigator")
    case = make_case(browser.user, title="A case")
    resp = browser.submit(f"/cases/{case.id}/notes", {"body": "call\x00back", "text": "call\x00back"},
                          page=f"/cases/{case.id}")
    assert resp.status_code == 400
    assert "holds a NUL character" in resp.get_data(as_text=True)
