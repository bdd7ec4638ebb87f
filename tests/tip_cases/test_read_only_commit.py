"""A request's transaction that wrote nothing ends by the driver's COMMIT on PostgreSQL (psycopg deallocates its
prepared statements on ROLLBACK); anything else is rolled back as before."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from tip_cases.extensions import db
from tip_cases.models import BorderPost


def _routes(app):
    """Test-only routes: one writes and does not commit, one queues a post for the ORM and does not commit."""

    def writes():
        db.session.execute(text("UPDATE border_posts SET name = 'Renamed' WHERE code = 'MSB'"))
        return "wrote"

    def pending():
        db.session.add(BorderPost(code="ZZZ", name="Never", kind="land"))
        db.session.execute(select(BorderPost.id).limit(1)).all()
        return "pending"

    app.add_url_rule("/_test/writes", "test_writes", writes)
    app.add_url_rule("/_test/pending", "test_pending", pending)


def test_a_request_that_writes_without_committing_still_leaves_nothing(app, client):
    _routes(app)
    assert client.get("/_test/writes").get_data(as_text=True) == "wrote"
    assert client.get("/_test/pending").get_data(as_text=True) == "pending"
    db.session.expire_all()
    assert db.session.execute(select(BorderPost.name).where(BorderPost.code == "MSB")).scalar_one() != "Renamed"
    assert db.session.execute(select(func.count()).where(BorderPost.code == "ZZZ")).scalar_one() == 0
    assert client.get("/healthz").get_json() == {"database": True, "status": "ok"}


@pytest.mark.postgres
def test_read_only_requests_keep_the_drivers_prepared_statements(pg_schema):
    """Eight health checks on one pooled connection: psycopg prepares a statement on its fifth run, which it can only
    count if no ROLLBACK cleared its cache in between (before: none was ever prepared by a read-only request)."""
    from tip_cases import create_app

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": pg_schema, "SERVER_NAME": "localhost"})
    client = app.test_client()  # no app context pushed here: each request pushes and pops its own, as in production
    for _ in range(8):
        assert client.get("/healthz").get_json()["database"] is True
    with app.app_context():
        prepared = db.session.execute(text("SELECT statement FROM pg_prepared_statements")).scalars().all()
        assert any("SELECT 1" in s for s in prepared), prepared
        db.session.remove()
        db.engine.dispose()
