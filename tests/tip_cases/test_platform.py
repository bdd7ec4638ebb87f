"""Security headers, configuration guards, error pages, CLI commands and the migrations."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests import factories
from tip_cases.extensions import db
from tip_cases.models import ApiClient, BorderPost, User


def test_security_headers_on_public_and_authenticated_pages(app, client, login_as):
    resp = client.get("/login")
    csp = resp.headers["Content-Security-Policy"]
    for part in ("default-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "object-src 'none'"):
        assert part in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"]
    b = login_as("investigator")
    resp = b.get("/")
    assert resp.headers["Cache-Control"] == "no-store"
    cookie = resp.headers.get("Set-Cookie", "") or ""
    for c in client._cookies.values():
        if c.key == "tsela_session":
            assert c.http_only and c.same_site == "Lax"
    assert "<script>" not in cookie


def test_no_cdn_in_pages(app, client):
    page = client.get("/login").get_data(as_text=True)
    assert "cdn." not in page and "https://" not in page
    css = [line for line in page.splitlines() if "stylesheet" in line]
    assert css and all("/static/" in line for line in css)


@pytest.mark.parametrize("overrides,message", [
    ({"SECRET_KEY": "dev"}, "SECRET_KEY"),
    ({"SECRET_KEY": "x" * 40}, "SECRET_KEY"),
    ({"DEBUG": True, "SECRET_KEY": "k3J9-aa8Zq!pLm2@Vx7#Rt5$Yw1^Nb4&Hc6*"}, "DEBUG"),
    ({"SECRET_KEY": "k3J9-aa8Zq!pLm2@Vx7#Rt5$Yw1^Nb4&Hc6*", "SQLALCHEMY_DATABASE_URI": None}, "DATABASE_URL"),
])
def test_production_refuses_unsafe_config(monkeypatch, overrides, message):
    from config import ProductionConfig

    base = {"DEBUG": False, "SECRET_KEY": "k3J9-aa8Zq!pLm2@Vx7#Rt5$Yw1^Nb4&Hc6*",
            "AUDIT_HMAC_KEY": "Qm7#vT2!xL9@pR4$wN8^kD3&hJ6*zB1-aud",
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://x@127.0.0.1/db"}
    base.update(overrides)
    with pytest.raises(RuntimeError, match=message):
        ProductionConfig.validate(base)


def test_production_accepts_strong_config():
    from config import ProductionConfig

    ProductionConfig.validate({"DEBUG": False, "SECRET_KEY": "k3J9-aa8Zq!pLm2@Vx7#Rt5$Yw1^Nb4&Hc6*",
                               "AUDIT_HMAC_KEY": "Qm7#vT2!xL9@pR4$wN8^kD3&hJ6*zB1-aud",
                               "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://x@127.0.0.1/db"})


def test_404_page_leaks_nothing(app, client, login_as):
    b = login_as("admin")
    resp = b.get("/admin/users/999999")
    assert resp.status_code == 404 and "Traceback" not in resp.get_data(as_text=True)


def test_reference_posts_exist_on_every_installation(app):
    names = set(db.session.execute(select(BorderPost.name)).scalars())
    for expected in ("Maseru Bridge", "Maputsoe Bridge", "Van Rooyen's Gate", "Caledonspoort", "Qacha's Nek",
                     "Sani Pass", "Tele Bridge", "Peka Bridge", "Ramatseliso's Gate", "Sephapho's Gate",
                     "Makhaleng Bridge", "Moshoeshoe I International Airport"):
        assert expected in names


def test_cli_users_create_reads_password_from_stdin(app, runner):
    result = runner.invoke(args=["users", "create", "Palesa", "--role", "border_officer", "--post", "mpb"],
                           input="a-Long-enough-passphrase-1\n")
    assert result.exit_code == 0, result.output
    user = db.session.execute(select(User).where(User.username == "palesa")).scalar_one()
    assert user.border_post.code == "MPB" and user.password_hash.startswith("$argon2id$")
    bad = runner.invoke(args=["users", "create", "x2", "--role", "border_officer"],
                        input="a-Long-enough-passphrase-1\n")
    assert bad.exit_code != 0 and "border post" in bad.output
    weak = runner.invoke(args=["users", "create", "x3", "--role", "manager"], input="password\n")
    assert weak.exit_code != 0 and "at least 12" in weak.output


def test_cli_api_token_prints_token_last_and_stores_only_hash(app, runner):
    result = runner.invoke(args=["api-tokens", "create", "midas-maseru", "--post", "MSB"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("tsela_") and len(token) > 40
    client = db.session.execute(select(ApiClient)).scalar_one()
    assert token not in (client.token_hash, client.token_prefix) and client.border_post.code == "MSB"
    from tip_cases.security import token_digest

    assert client.token_hash == token_digest(token)


def test_demo_load_is_idempotent(app, runner):
    first = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0, first.output
    users = db.session.execute(select(func.count()).select_from(User)).scalar()
    second = runner.invoke(args=["demo", "load"])
    assert second.exit_code == 0 and "0 created" in second.output
    assert db.session.execute(select(func.count()).select_from(User)).scalar() == users
    assert "TSELADEMOOFFICERMASERUBRIDGEPOST" in first.output


def test_models_and_migrations_agree(app):
    """The schema the migrations build is the schema the models describe (on PostgreSQL, but for what
    partitioning the crossings changes on purpose: screening.partitions.by_design)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from screening import partitions

    with db.engine.connect() as conn:
        postgresql = conn.dialect.name == "postgresql"
        ctx = MigrationContext.configure(conn, opts={
            "compare_type": True,
            "include_object": lambda obj, name, type_, reflected, compare_to: not partitions.by_design(
                name, type_, postgresql=postgresql)})
        diff = compare_metadata(ctx, db.metadata)
    assert diff == [], diff



def test_admin_creates_user_with_form_errors_shown(app, client, login_as):
    b = login_as("admin")
    resp = b.submit("/admin/users/new", {"username": "new.officer", "role": "border_officer", "post": "",
                                         "password": "a-Long-enough-passphrase-1"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "must be bound to a known border post" in page
    resp = b.submit("/admin/users/new", {"username": "new.officer", "role": "border_officer", "post": "VRG",
                                         "password": "a-Long-enough-passphrase-1"})
    # Created: the page shows the one-time enrolment code the new user needs for their second factor.
    assert resp.status_code == 200 and 'data-testid="enrolment-code"' in resp.get_data(as_text=True)
    user = db.session.execute(select(User).where(User.username == "new.officer")).scalar_one()
    assert user.border_post.code == "VRG"
    assert factories


def test_postgres_connections_run_without_jit(app):
    """JIT compiled a 2 ms neighbour lookup over a decade's partitions for 16 s: off unless POSTGRES_JIT=1."""
    if db.engine.dialect.name != "postgresql":
        assert "connect_args" not in app.config["SQLALCHEMY_ENGINE_OPTIONS"]
        return
    assert db.session.execute(db.text("SHOW jit")).scalar_one() == "off"
    from tip_cases import create_app

    on = create_app("testing", {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                                "POSTGRES_JIT": True})
    assert "connect_args" not in on.config["SQLALCHEMY_ENGINE_OPTIONS"]
