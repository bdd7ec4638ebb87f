"""The audit trail: append-only, hash-chained, verified by the CLI, browsable by managers and admins."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from tests import factories
from tip_cases import audit
from tip_cases.extensions import db
from tip_cases.models import AuditEvent


@pytest.fixture(autouse=True)
def _reenable_trigger(app):
    """On PostgreSQL the schema outlives the test (tables are only truncated): re-arm the trigger that
    an attacker test disabled, so later tests still run against an append-only table."""
    yield
    if db.engine.dialect.name == "postgresql":
        db.session.rollback()
        db.session.execute(sa.text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_change"))
        db.session.commit()


def _count():
    return db.session.execute(select(func.count()).select_from(AuditEvent)).scalar()


def test_rows_are_chained_and_verify(app, runner):
    for i in range(3):
        audit.record("test.action", "thing", i, detail={"n": i})
        db.session.commit()
    audit.record("test.batch", "thing", 10)
    audit.record("test.batch", "thing", 11)
    db.session.commit()
    rows = db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars().all()
    assert [r.object_id for r in rows] == ["0", "1", "2", "10", "11"]
    assert rows[0].prev_hash == audit.GENESIS
    for before, after in zip(rows, rows[1:], strict=False):
        assert after.prev_hash == before.hash
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "intact: 5 rows" in result.output


def test_database_refuses_update_and_delete(app):
    audit.record("test.action", "thing", 1)
    db.session.commit()
    with pytest.raises(sa.exc.DBAPIError):
        db.session.execute(sa.text("UPDATE audit_events SET action = 'x'"))
        db.session.commit()
    db.session.rollback()
    with pytest.raises(sa.exc.DBAPIError):
        db.session.execute(sa.text("DELETE FROM audit_events"))
        db.session.commit()
    db.session.rollback()
    assert _count() == 1


def test_verify_detects_a_tampered_row(app, runner):
    for i in range(3):
        audit.record("test.action", "thing", i)
    db.session.commit()
    # Someone with database access bypasses the trigger and edits a row.
    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa.text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change"))
    else:
        db.session.execute(sa.text("DROP TRIGGER audit_events_no_update"))
    db.session.execute(sa.text("UPDATE audit_events SET outcome = 'denied' WHERE id = 2"))
    db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "row 2" in result.output


def test_rolled_back_work_leaves_no_audit_row(app):
    audit.record("test.action", "thing", 1)
    db.session.rollback()
    db.session.commit()
    assert _count() == 0


def test_managers_and_admins_browse_and_filter(app, client, login_as):
    audit.record("case.view", "case", 42)
    audit.record("person.view", "person", 7)
    db.session.commit()
    b = login_as("manager")
    page = b.get("/admin/audit?action=person.").get_data(as_text=True)
    assert "person.view" in page and "case.view" not in page
    page = b.get("/admin/audit?object_type=case&object_id=42").get_data(as_text=True)
    assert "case.view" in page and "person.view" not in page


def test_user_creation_is_audited_by_cli(app, runner):
    result = runner.invoke(args=["users", "create", "thabo", "--role", "investigator"],
                           input="a-Long-enough-passphrase-1\n")
    assert result.exit_code == 0, result.output
    row = db.session.execute(select(AuditEvent).where(AuditEvent.action == "user.create")).scalar_one()
    assert row.actor_label == "cli" and row.outcome == "allowed"
    # Logs and audit details never carry the password.
    assert "passphrase" not in str(row.detail)
    assert factories  # builders imported for parity with other modules


@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_the_chain_lock_is_taken_at_commit_not_at_the_first_flush(app, runner):
    """Every writer takes the chain's lock: held from a transaction's first flush to its end, it made
    API batches wait for each other's screening and tracing. Now a flushed, uncommitted transaction
    holding a queued row leaves the lock free, and the rows still chain in commit order. PostgreSQL
    only: the lock is an advisory lock; SQLite has a single writer."""
    audit.record("test.slow", "thing", 1)
    factories.make_user(username="long-transaction", commit=False)
    db.session.flush()  # the long transaction's work, written but not committed
    other = sa.create_engine(db.engine.url)
    try:
        with other.connect() as conn:
            free = conn.execute(sa.text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": audit._PG_LOCK_KEY}).scalar()
            conn.rollback()
        assert free, "the audit chain's lock is held before commit"
        with app.app_context():  # a second writer commits meanwhile, on its own session
            audit.record("test.quick", "thing", 2)
            db.session.commit()
    finally:
        other.dispose()
    db.session.commit()
    rows = db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars().all()
    assert [r.action for r in rows if r.action.startswith("test.")] == ["test.quick", "test.slow"]
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
