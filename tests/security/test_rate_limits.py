"""Sign-in, the second factor, acknowledgement links and the border API answer 429 with Retry-After once
hammered, audit the refusal, and count in the real Redis, so every gunicorn worker shares the counters."""

from __future__ import annotations

import uuid

import pytest
import redis
from sqlalchemy import select

from tests.conftest import IsolatedClient, csrf_from
from tests.factories import make_api_client, make_user
from tip_cases.extensions import db
from tip_cases.models import AuditEvent

REDIS_URL = "redis://127.0.0.1:6379"


@pytest.fixture
def redis_client():
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is not running at {REDIS_URL} ({exc}); .ci/run starts it")
    return client


@pytest.fixture
def prefix(redis_client):
    """A key prefix of its own, so tests never share counters; its keys are removed afterwards."""
    value = f"tsela-test-{uuid.uuid4().hex}"
    yield value
    keys = list(redis_client.scan_iter(f"*{value}*"))
    if keys:
        redis_client.delete(*keys)


def _make_app(database_url, tmp_path, prefix):
    from tip_cases import create_app

    app = create_app("testing", {
        "SQLALCHEMY_DATABASE_URI": database_url, "AUDIT_CHECKPOINT_PATH": str(tmp_path / "cp.jsonl"),
        "SERVER_NAME": "localhost", "RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": REDIS_URL,
        "RATELIMIT_KEY_PREFIX": prefix, "RATELIMIT_SWALLOW_ERRORS": False,
        "RATELIMIT_SIGN_IN": "3 per minute", "RATELIMIT_TOTP": "3 per minute",
        "RATELIMIT_ACK_LINK": "3 per minute", "RATELIMIT_API": "3 per minute",
    })
    app.test_client_class = IsolatedClient
    return app


@pytest.fixture
def limited(app, database_url, tmp_path, prefix):
    """The test's app with rate limits on (the `app` fixture's database, counters in Redis)."""
    limited_app = _make_app(database_url, tmp_path, prefix)
    with limited_app.app_context():
        yield limited_app
        db.session.remove()
        db.engine.dispose()  # its own engine: close the pooled connections now, not at garbage collection


def _refusals(endpoint):
    db.session.commit()
    return db.session.execute(select(AuditEvent).where(AuditEvent.action == "ratelimit.exceeded",
                                                       AuditEvent.object_id == endpoint)).scalars().all()


def _assert_429_page(resp):
    assert resp.status_code == 429
    assert int(resp.headers["Retry-After"]) > 0
    assert "3 per 1 minute" in resp.get_data(as_text=True)


def test_sign_in_is_limited_per_address_with_retry_after_and_audit(limited, redis_client, prefix):
    user = make_user("investigator")
    client = limited.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    for _ in range(3):
        resp = client.post("/login", data={"csrf_token": token, "username": user.username, "password": "wrong-one"})
        assert resp.status_code == 200 and "Invalid username or password" in resp.get_data(as_text=True)
    resp = client.post("/login", data={"csrf_token": token, "username": user.username, "password": "wrong-one"})
    _assert_429_page(resp)
    assert resp.mimetype == "text/html"
    assert client.get("/login").status_code == 200  # only attempts count, not the page
    refusals = _refusals("auth.login")
    assert len(refusals) == 1 and refusals[0].outcome == "denied" and refusals[0].ip == "127.0.0.1"
    assert any(prefix.encode() in k for k in redis_client.scan_iter(f"*{prefix}*"))


def test_second_factor_codes_are_limited(limited, prefix):
    client = limited.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    statuses = [client.post("/login/verify", data={"csrf_token": token, "code": "000000"}).status_code
                for _ in range(4)]
    assert statuses[:3] != [429] * 3 and statuses[3] == 429
    assert len(_refusals("auth.second_factor")) == 1


def test_acknowledgement_links_are_limited(limited, prefix):
    client = limited.test_client()
    for _ in range(3):
        assert client.get("/notifications/ack/not-a-real-token").status_code != 429
    _assert_429_page(client.get("/notifications/ack/not-a-real-token"))
    assert len(_refusals("notifications.ack_link")) == 1


def test_the_api_is_limited_per_client_and_one_client_does_not_starve_another(limited, prefix):
    _, token_a = make_api_client(name="hammering", post_code="MSB")
    _, token_b = make_api_client(name="quiet", post_code="MSB")
    client = limited.test_client()
    for _ in range(3):
        assert client.get("/api/v1/flags", headers={"Authorization": f"Bearer {token_a}"}).status_code == 200
    resp = client.get("/api/v1/flags", headers={"Authorization": f"Bearer {token_a}"})
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > 0
    assert resp.get_json()["error"] == "too_many_requests" and "3 per 1 minute" in resp.get_json()["message"]
    assert client.get("/api/v1/flags", headers={"Authorization": f"Bearer {token_b}"}).status_code == 200
    assert len(_refusals("api.list_flags")) == 1


def test_two_workers_share_the_counters(app, database_url, tmp_path, prefix):
    """Two app instances stand for two gunicorn workers: attempts on both add up in Redis."""
    workers = [_make_app(database_url, tmp_path, prefix) for _ in range(2)]
    statuses = []
    for i in range(4):
        worker = workers[i % 2]
        with worker.app_context():
            client = worker.test_client()
            token = csrf_from(client.get("/login").get_data(as_text=True))
            statuses.append(client.post("/login", data={"csrf_token": token, "username": "nobody",
                                                        "password": "x"}).status_code)
            db.session.remove()
            db.engine.dispose()
    assert statuses == [200, 200, 200, 429]


def test_behind_a_trusted_proxy_each_client_address_counts_alone(app, database_url, tmp_path, prefix):
    """With TRUSTED_PROXIES=1 two clients behind one proxy are limited apart, and a forged first entry
    of X-Forwarded-For does not help a client escape its own count."""
    from tip_cases import create_app

    worker = create_app("testing", {
        "SQLALCHEMY_DATABASE_URI": database_url, "AUDIT_CHECKPOINT_PATH": str(tmp_path / "cp.jsonl"),
        "SERVER_NAME": "localhost", "RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": REDIS_URL,
        "RATELIMIT_KEY_PREFIX": prefix, "RATELIMIT_SIGN_IN": "2 per minute", "TRUSTED_PROXIES": 1})
    worker.test_client_class = IsolatedClient
    with worker.app_context():
        client = worker.test_client()
        token = csrf_from(client.get("/login").get_data(as_text=True))

        def attempt(forwarded):
            return client.post("/login", data={"csrf_token": token, "username": "nobody", "password": "x"},
                               headers={"X-Forwarded-For": forwarded}).status_code

        assert [attempt("198.51.100.7") for _ in range(3)] == [200, 200, 429]
        assert attempt("203.0.113.9") == 200  # another client behind the same proxy
        assert attempt("10.9.9.9, 198.51.100.7") == 429  # a forged entry before the proxy's own
        db.session.remove()
        db.engine.dispose()  # its own engine: close the pooled connections now, not at garbage collection
