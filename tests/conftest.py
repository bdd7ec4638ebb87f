"""Shared fixtures: an app per database backend, a fresh migrated database per test, login helpers.

Each test gets a fresh database instead of a rolled-back transaction: several tests drive real
components (threads, a dispatcher, a scheduler process) that need committed data, and a copied
SQLite file or a truncated PostgreSQL schema is as cheap and isolates just as well.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest

# Servers started as subprocesses (live browser tests, the attack crawl) inherit this: their signed
# audit checkpoints go to a scratch folder, never to the checkout's instance/, where a later
# `make run` would refuse to extend a file signed with the test key.
os.environ.setdefault("AUDIT_CHECKPOINT_PATH", os.path.join(
    tempfile.mkdtemp(prefix="tsela-test-checkpoints-"), "audit-checkpoints.jsonl"))

from tests import factories  # noqa: E402

PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# TSELA_TEST_DB=sqlite (or postgresql) runs one backend only, for a quicker local loop.
ONLY = os.environ.get("TSELA_TEST_DB", "")


def _migrate(url: str) -> None:
    from flask_migrate import upgrade

    from tip_cases import create_app

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
        from tip_cases.extensions import db

        db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    _migrate(f"sqlite:///{path}")
    return path


def _pg_reachable() -> str | None:
    import psycopg

    dsn = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(dsn, connect_timeout=3):
            return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable", reported below
        return f"{type(exc).__name__}: {str(exc).strip()[:200]}"


@pytest.fixture(scope="session")
def pg_schema() -> str:
    if ONLY == "sqlite":
        # The quick SQLite-only loop must not rebuild a PostgreSQL schema that someone else may be testing on.
        pytest.skip("TSELA_TEST_DB=sqlite: this test needs PostgreSQL")
    problem = _pg_reachable()
    if problem:
        message = f"PostgreSQL not reachable at {PG_URL} ({problem}); set TEST_DATABASE_URL"
        if IN_CI:
            pytest.fail("CI=true requires PostgreSQL tests to run: " + message)
        pytest.skip(message)
    import sqlalchemy as sa

    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    _migrate(PG_URL)
    return PG_URL


def scratch_database(pg_url: str, suffix: str):
    """A PostgreSQL database of its own beside the test database, for an upgrade from an older revision;
    yields its URL and drops it afterwards. From a fixture: `yield from scratch_database(pg_schema, "_x")`."""
    import sqlalchemy as sa

    base, name = pg_url.rsplit("/", 1)
    name += suffix
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield f"{base}/{name}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _reset_postgres(url: str) -> None:
    """Empty every table but the migration marker, then restore the reference data."""
    import sqlalchemy as sa

    from tip_cases.postnames import post_key
    from tip_cases.reference import BORDER_POSTS, POST_ALIASES

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        tables = [r[0] for r in conn.execute(sa.text(
            "SELECT tablename FROM pg_tables WHERE schemaname='public' "
            "AND tablename NOT IN ('alembic_version', 'stat_rollup_state')"))]
        if tables:
            conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        conn.execute(sa.text(
            "INSERT INTO border_posts (code, name, kind, district, counterpart, active, created_at) "
            "VALUES (:c, :n, :k, :d, :cp, true, now())"),
            [{"c": c, "n": n, "k": k, "d": d, "cp": cp} for c, n, k, d, cp in BORDER_POSTS])
        conn.execute(sa.text(
            "INSERT INTO post_aliases (border_post_id, alias, key, created_at) "
            "SELECT id, :a, :k, now() FROM border_posts WHERE code = :c"),
            [{"c": c, "a": a, "k": post_key(a)} for c, a in POST_ALIASES])
    engine.dispose()


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]
if ONLY:
    BACKENDS = [p for p in BACKENDS if p.values[0] == ONLY]


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        target = tmp_path / "test.db"
        shutil.copyfile(template, target)
        return f"sqlite:///{target}"
    url = request.getfixturevalue("pg_schema")
    _reset_postgres(url)
    return url


from flask.testing import FlaskClient, FlaskCliRunner  # noqa: E402


class IsolatedClient(FlaskClient):
    """Each request runs in its own app context (own `g`, own database session), as in production.

    The test's own session is committed first, so the request sees the test's data and the test
    re-reads fresh values afterwards (commit expires loaded objects).
    """

    def open(self, *args, **kwargs):
        from tip_cases.extensions import db

        db.session.commit()
        with self.application.app_context():
            return super().open(*args, **kwargs)


class IsolatedRunner(FlaskCliRunner):
    def invoke(self, *args, **kwargs):
        from tip_cases.extensions import db

        db.session.commit()
        return super().invoke(*args, **kwargs)


@pytest.fixture
def app(database_url, tmp_path):
    from tip_cases import create_app
    from tip_cases.extensions import db

    app = create_app("testing", {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "EVIDENCE_DIR": str(tmp_path / "evidence"),
        "AUDIT_CHECKPOINT_PATH": str(tmp_path / "audit-checkpoints.jsonl"),
        "SERVER_NAME": "localhost",
    })
    app.test_client_class = IsolatedClient
    app.test_cli_runner_class = IsolatedRunner
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def db_session(app):
    from tip_cases.extensions import db

    return db.session


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token in page"
    return match.group(1)


class Browser:
    """A test client that fills in the CSRF token the way a browser submitting the page would."""

    def __init__(self, client):
        self.client = client

    def get(self, url, **kw):
        return self.client.get(url, **kw)

    def submit(self, url, data=None, *, page=None, follow_redirects=False, **kw):
        page_url = page or url
        html = self.client.get(page_url).get_data(as_text=True)
        payload = {"csrf_token": csrf_from(html), **(data or {})}
        return self.client.post(url, data=payload, follow_redirects=follow_redirects, **kw)

    def post(self, url, **kw):
        return self.client.post(url, **kw)


def login(client, user, password=factories.PASSWORD, secret=None) -> Browser:
    """Sign in through the real password + TOTP pages."""
    browser = Browser(client)
    resp = browser.submit("/login", {"username": user.username, "password": password})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    assert "/login/verify" in resp.headers["Location"], resp.headers["Location"]
    code = factories.next_totp(user, secret)
    resp = browser.submit("/login/verify", {"code": code})
    assert resp.status_code == 302 and "/login" not in resp.headers["Location"], resp.get_data(as_text=True)[:500]
    return browser


@pytest.fixture
def login_as(app, client):
    """login_as("investigator") or login_as(user): returns a Browser signed in as that user."""

    def _login(who, **kw):
        user = factories.make_user(who, **kw) if isinstance(who, str) else who
        browser = login(client, user)
        browser.user = user
        return browser

    return _login
