"""The production path for real: gunicorn with the project's config, TSELA_CONFIG=production and a strong key.

Each test starts gunicorn in a subprocess on a loopback port, against the test's migrated database, as
docs/operations.md tells an operator to. The logs it writes are then searched for a canary name typed
into search boxes: a query string must never reach the access or error log.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests import factories
from tests.conftest import csrf_from

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _production_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TSELA_", "SECRET_KEY", "FLASK_"))}
    env.update(TSELA_CONFIG="production", DATABASE_URL=database_url, SECRET_KEY=secrets.token_hex(32),
               AUDIT_HMAC_KEY=secrets.token_hex(32), PYTHONPATH=str(ROOT))
    env.update(extra)
    return env


@contextmanager
def gunicorn(env: dict[str, str], tmp_path: Path, extra_args: tuple[str, ...] = ()):
    """Serve `tip_cases:create_app()` the way docs/operations.md does; yields (base url, access log, error log)."""
    port = _free_port()
    access, error = tmp_path / "access.log", tmp_path / "error.log"
    # Whatever the app or a library prints outside gunicorn's logger lands here, so it is searched too.
    stray = (tmp_path / "stderr.log").open("ab")
    proc = subprocess.Popen(
        [str(GUNICORN), "--config", "scripts/gunicorn_conf.py", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--threads", "2", "--access-logfile", str(access), "--error-logfile", str(error), "--log-level", "debug",
         *extra_args, "tip_cases:create_app()"],
        cwd=ROOT, env=env, stdout=stray, stderr=stray)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"gunicorn exited with {proc.returncode}:\n{error.read_text()[-3000:]}")
            try:
                if requests.get(base + "/healthz", timeout=10).status_code in (200, 503):
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail("gunicorn did not answer within 60 s:\n" + error.read_text()[-3000:])
            time.sleep(0.2)
        yield base, access, error
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        stray.close()


class Visitor:
    """requests with the session cookie carried by hand: production marks it Secure, and this is plain HTTP."""

    def __init__(self, base: str):
        self.base, self.cookie = base, None

    def request(self, method: str, path: str, **kw) -> requests.Response:
        headers = kw.pop("headers", {})
        if self.cookie:
            headers["Cookie"] = f"tsela_session={self.cookie}"
        resp = requests.request(method, self.base + path, headers=headers, allow_redirects=False, timeout=30, **kw)
        if "tsela_session" in resp.cookies:
            self.cookie = resp.cookies["tsela_session"]
        return resp

    def submit(self, path: str, data: dict, page: str | None = None) -> requests.Response:
        token = csrf_from(self.request("GET", page or path).text)
        return self.request("POST", path, data={"csrf_token": token, **data})


def test_production_starts_with_a_strong_key_from_the_environment(app, database_url, tmp_path):
    """The operator's own random key is accepted (it used to be judged weak), and production hardening is on."""
    user = factories.make_user("investigator")
    with gunicorn(_production_env(database_url), tmp_path) as (base, _access, error):
        health = requests.get(base + "/healthz", timeout=10)
        assert health.status_code == 200 and health.json() == {"status": "ok", "database": True}
        assert health.headers["Strict-Transport-Security"].startswith("max-age=31536000")
        login_page = requests.get(base + "/login", timeout=10)
        cookie = login_page.headers["Set-Cookie"]
        assert "tsela_session=" in cookie and "Secure" in cookie and "HttpOnly" in cookie
        # Signing in works end to end on the production app (password, then the second factor).
        visitor = Visitor(base)
        resp = visitor.submit("/login", {"username": user.username, "password": factories.PASSWORD})
        assert resp.status_code == 302 and "/login/verify" in resp.headers["Location"], resp.text[:300]
        resp = visitor.submit("/login/verify", {"code": factories.next_totp(user)})
        assert resp.status_code == 302 and "/login" not in resp.headers["Location"]
        home = visitor.request("GET", "/")
        assert home.status_code == 200 and "Investigations" in home.text
        assert home.headers["Cache-Control"] == "no-store"
        # The demo webhook receiver is off in production.
        assert "notifications.receiver" not in error.read_text()


def _start_app_process(env: dict[str, str]) -> subprocess.CompletedProcess:
    code = "from tip_cases import create_app; app = create_app(); print('HSTS', app.config.get('HSTS'))"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("key", ["dev-only-insecure-secret-key", "changeme", "0123456789abcdef", None])
def test_production_refuses_a_weak_or_missing_key(tmp_path, key):
    env = _production_env(f"sqlite:///{tmp_path / 'x.db'}")
    if key is None:
        del env["SECRET_KEY"]
    else:
        env["SECRET_KEY"] = key
    result = _start_app_process(env)
    assert result.returncode != 0
    assert "SECRET_KEY is missing or weak" in result.stderr
    assert key is None or key not in result.stderr  # the refusal does not echo the key


def test_production_accepts_a_strong_key_and_sets_hsts(tmp_path):
    result = _start_app_process(_production_env(f"sqlite:///{tmp_path / 'x.db'}"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "HSTS max-age=31536000; includeSubDomains" in result.stdout


# An operator's own format naming every atom that could carry a query string: the logger still cuts them.
HOSTILE_FORMAT = '"%(r)s" %(q)s "%(f)s" %({referer}i)s %({location}o)s %({query_string}e)s %({raw_uri}e)s %(U)s'


@pytest.mark.parametrize("log_format", [None, HOSTILE_FORMAT], ids=["project-format", "operator-format"])
def test_search_names_never_reach_the_logs(app, database_url, tmp_path, log_format):
    """A name typed into search boxes (and carried in next= and Referer) is in neither gunicorn log."""
    canary = "Zqxcanary" + secrets.token_hex(4)
    user = factories.make_user("investigator")
    extra = ("--access-logformat", log_format) if log_format else ()
    with gunicorn(_production_env(database_url), tmp_path, extra) as (base, access, error):
        visitor = Visitor(base)
        # Signed out: the redirect to the sign-in page carries the search in next=.
        resp = visitor.request("GET", f"/tracing/travellers?q={canary}")
        assert resp.status_code == 302 and canary in resp.headers["Location"]
        resp = visitor.submit(f"/login?next=/tracing/travellers?q%3D{canary}",
                              {"username": user.username, "password": factories.PASSWORD})
        assert resp.status_code == 302
        resp = visitor.submit(resp.headers["Location"], {"code": factories.next_totp(user)})
        assert resp.status_code == 302
        referer = {"Referer": f"{base}/screening/persons?q={canary}"}
        for path in (f"/tracing/travellers?q={canary}", f"/screening/persons?q={canary}+Mokoena",
                     f"/cases/?q={canary}", f"/screening/crossings?q={canary}", f"/no-such-page?q={canary}"):
            resp = visitor.request("GET", path, headers=dict(referer))
            assert resp.status_code in (200, 404), (path, resp.status_code)
        assert visitor.request("GET", f"/tracing/travellers?q={canary}").status_code == 200
    access_text, error_text = access.read_text(), error.read_text()
    # The logs are really written: every request is there, by path.
    if log_format is None:
        assert "GET /tracing/travellers HTTP/1.1\" 200" in access_text
        assert "GET /screening/persons HTTP/1.1\" 200" in access_text
        assert "GET /no-such-page HTTP/1.1\" 404" in access_text
    else:
        assert '"GET /tracing/travellers HTTP/1.1"' in access_text and "/no-such-page" in access_text
        assert "/screening/persons?[query removed]" in access_text  # the Referer, cut
    assert "Booting worker" in error_text
    assert canary.lower() not in access_text.lower()
    assert canary.lower() not in error_text.lower()


def test_development_server_log_has_no_query_strings(app, caplog):
    """`flask run` (Werkzeug) logs each request too: its lines lose the query string as well."""
    import logging
    import threading

    from werkzeug.serving import make_server

    canary = "Zqxcanary" + secrets.token_hex(4)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            base = f"http://127.0.0.1:{server.server_port}"
            assert requests.get(f"{base}/healthz?q={canary}", timeout=10).status_code == 200
            assert requests.get(f"{base}/cases/?q={canary}", allow_redirects=False, timeout=10).status_code == 302
    finally:
        server.shutdown()
        thread.join(timeout=10)
    assert "GET /healthz" in caplog.text and "GET /cases/" in caplog.text  # the requests are logged
    assert canary.lower() not in caplog.text.lower()
