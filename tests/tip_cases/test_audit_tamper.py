"""Issue 16.3: someone with write access to the database must not be able to rewrite or truncate the
audit trail unnoticed. Each test plays the attacker with plain SQL: drop the append-only trigger, edit or
delete rows, and recompute the chain with tip_cases.audit's own code, but without the keys, which are
kept outside the database."""

from __future__ import annotations

import base64
import json

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from tip_cases import audit
from tip_cases.extensions import db
from tip_cases.models import AuditEvent

FIELDS = ("at", "actor_user_id", "actor_label", "action", "object_type", "object_id", "outcome", "ip", "detail")


@pytest.fixture(autouse=True)
def _reenable_trigger(app):
    """On PostgreSQL the schema outlives the test (tables are only truncated): re-arm the trigger that
    an attacker test disabled, so later tests still run against an append-only table."""
    yield
    if db.engine.dialect.name == "postgresql":
        db.session.rollback()
        db.session.execute(sa.text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_change"))
        db.session.commit()


def _write(n, start=0):
    for i in range(start, start + n):
        audit.record("person.view", "person", i, detail={"n": i})
        db.session.commit()


def _drop_triggers():
    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa.text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change"))
    else:
        db.session.execute(sa.text("DROP TRIGGER audit_events_no_update"))
        db.session.execute(sa.text("DROP TRIGGER audit_events_no_delete"))


def _rechain_with_the_apps_function():
    """Recompute every link with the app's hash function, as an attacker who read the code would.

    They have no HMAC key, so the best they can do is the unkeyed function and make every row look
    like a row from before keyed MACs (key_id NULL)."""
    rows = db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars().all()
    sql = ("UPDATE audit_events SET prev_hash = :p, hash = :h, key_id = NULL WHERE id = :id"
           if hasattr(AuditEvent, "key_id") else "UPDATE audit_events SET prev_hash = :p, hash = :h WHERE id = :id")
    prev = audit.GENESIS
    for row in rows:
        h = audit.row_hash(prev, {c: getattr(row, c) for c in FIELDS})
        db.session.execute(sa.text(sql), {"p": prev, "h": h, "id": row.id})
        prev = h
    db.session.commit()


def _verify(runner):
    result = runner.invoke(args=["audit", "verify"])
    return result.exit_code, result.output


def _checkpoint(runner):
    result = runner.invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 0, result.output
    return result.output


def _lines(app):
    with open(app.config["AUDIT_CHECKPOINT_PATH"]) as fh:
        return fh.read().splitlines()


def _rewrite_lines(app, lines):
    with open(app.config["AUDIT_CHECKPOINT_PATH"], "w") as fh:
        fh.write("".join(line + "\n" for line in lines))


def test_rewrite_recomputed_with_the_apps_own_function_is_detected(app, runner):
    """Passed as "audit chain intact" before keyed MACs: the attack of the issue."""
    _write(3)
    _drop_triggers()
    db.session.execute(sa.text("UPDATE audit_events SET outcome = 'denied', object_id = '999' WHERE id = 2"))
    db.session.commit()
    _rechain_with_the_apps_function()
    code, out = _verify(runner)
    assert code == 1, out
    assert "intact" not in out.replace("NOT intact", "") and "rewritten without the audit key" in out


def test_rewrite_is_detected_by_the_checkpoint_too(app, runner):
    _write(3)
    _checkpoint(runner)
    _drop_triggers()
    db.session.execute(sa.text("UPDATE audit_events SET outcome = 'denied' WHERE id = 2"))
    db.session.commit()
    _rechain_with_the_apps_function()
    code, out = _verify(runner)
    assert code == 1
    assert "checkpoint #1" in out and "row 3's MAC differs from the signed one: the trail was rewritten" in out


def test_rows_recomputed_with_a_guessed_key_fail_their_mac(app, runner):
    _write(3)
    _drop_triggers()
    db.session.execute(sa.text("UPDATE audit_events SET outcome = 'denied' WHERE id = 2"))
    db.session.commit()
    rows = db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars().all()
    prev = rows[0].hash
    for row in rows[1:]:  # keeps each row's key id, recomputes the MAC with a key of their own
        mac = audit.row_mac(b"attacker-guess", prev, {c: getattr(row, c) for c in FIELDS})
        db.session.execute(sa.text("UPDATE audit_events SET prev_hash = :p, hash = :h WHERE id = :id"),
                           {"p": prev, "h": mac, "id": row.id})
        prev = mac
    db.session.commit()
    code, out = _verify(runner)
    assert code == 1 and "row 2: content does not match its MAC" in out


def test_deleting_the_newest_rows_is_detected_as_truncation(app, runner):
    _write(5)
    _checkpoint(runner)
    assert "intact: 5 rows" in _verify(runner)[1]
    _drop_triggers()
    last_ids = db.session.execute(select(AuditEvent.id).order_by(AuditEvent.id)).scalars().all()
    db.session.execute(sa.delete(AuditEvent).where(AuditEvent.id.in_(last_ids[3:])))
    db.session.commit()
    code, out = _verify(runner)
    assert code == 1
    assert (f"covers 5 rows up to row {last_ids[4]}, but the trail ends at row {last_ids[2]} with 3 rows: "
            "the newest rows were deleted (truncated)") in out


def test_emptying_the_trail_is_detected(app, runner):
    _write(2)
    _checkpoint(runner)
    _drop_triggers()
    db.session.execute(sa.delete(AuditEvent))
    db.session.commit()
    code, out = _verify(runner)
    assert code == 1 and "with 0 rows: the newest rows were deleted (truncated)" in out


def test_a_tampered_checkpoint_line_is_detected(app, runner):
    """Hiding a truncation by lowering the checkpoint's figures breaks its signature."""
    _write(3)
    _checkpoint(runner)
    line = json.loads(_lines(app)[0])
    line["rows"], line["last_id"] = 2, line["last_id"] - 1
    _rewrite_lines(app, [json.dumps(line)])
    code, out = _verify(runner)
    assert code == 1 and "checkpoint file line 1: signature invalid" in out


def test_a_checkpoint_signed_with_another_key_is_not_trusted(app, runner):
    _write(2)
    _checkpoint(runner)
    first = json.loads(_lines(app)[0])
    forger = Ed25519PrivateKey.generate()
    body = {k: v for k, v in first.items() if k != "sig"}
    body.update(seq=2, rows=1, kid="f0f0f0f0f0f0f0f0")
    forged = {**body, "sig": base64.b64encode(forger.sign(audit._canonical(body))).decode()}
    # The same forgery claiming this installation's key id fails its signature instead.
    claimed = {**body, "kid": first["kid"], "sig": forged["sig"]}
    _rewrite_lines(app, [json.dumps(first), json.dumps(forged), json.dumps(claimed)])
    code, out = _verify(runner)
    assert code == 1
    assert "line 2: signed by unknown key f0f0f0f0f0f0f0f0" in out and "line 3: signature invalid" in out


def test_a_removed_checkpoint_line_is_detected(app, runner):
    for i in range(3):
        _write(1, start=i)
        _checkpoint(runner)
    lines = _lines(app)
    _rewrite_lines(app, [lines[0], lines[2]])
    code, out = _verify(runner)
    assert code == 1 and "checkpoint file line 2: does not follow the line before it" in out


def test_checkpoint_refuses_to_sign_a_tampered_trail(app, runner):
    _write(2)
    _checkpoint(runner)
    _write(2, start=2)
    _drop_triggers()
    db.session.execute(sa.text("UPDATE audit_events SET outcome = 'denied' WHERE id = "
                               "(SELECT max(id) FROM audit_events)"))
    db.session.commit()
    result = runner.invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 1 and "refusing to checkpoint" in result.output
    assert "content does not match its MAC" in result.output
    assert len(_lines(app)) == 1


def test_intact_trail_with_checkpoints_verifies(app, runner):
    _write(2)
    out = _checkpoint(runner)
    assert "checkpoint #1: 2 rows" in out
    _write(3, start=2)
    _checkpoint(runner)
    _write(1, start=5)
    code, out = _verify(runner)
    assert code == 0, out
    assert "audit chain intact: 6 rows" in out
    assert "2 signed checkpoints verified" in out and "1 rows since" in out


def test_no_checkpoint_yet_is_intact_with_a_warning(app, runner):
    _write(2)
    code, out = _verify(runner)
    assert code == 0 and "intact: 2 rows" in out and "warning: no checkpoints" in out


def test_key_rotation_keeps_old_rows_verifiable(app, runner):
    _write(2)
    old_key = app.config["AUDIT_HMAC_KEY"]
    app.config["AUDIT_HMAC_KEY"] = "a-new-rotated-audit-key-0123456789-abcdefgh"
    app.config["AUDIT_HMAC_OLD_KEYS"] = old_key
    _write(2, start=2)
    ids = db.session.execute(select(AuditEvent.key_id).order_by(AuditEvent.id)).scalars().all()
    assert ids[0] == ids[1] != ids[2] == ids[3]
    assert _verify(runner)[0] == 0
    app.config["AUDIT_HMAC_OLD_KEYS"] = ""
    first = db.session.execute(select(sa.func.min(AuditEvent.id))).scalar()
    code, out = _verify(runner)
    assert code == 1 and f"row {first}: chained with key id {ids[0]}, which is not configured" in out


def test_legacy_rows_verify_once_sealed_by_a_checkpoint(app, runner):
    """An installation upgraded from plain SHA-256: its old rows are the unkeyed prefix."""
    prev = audit.GENESIS
    for i in range(2):
        fields = {"at": audit.utcnow(), "actor_user_id": None, "actor_label": "cli", "action": "old.row",
                  "object_type": "thing", "object_id": str(i), "outcome": "allowed", "ip": None, "detail": None}
        h = audit.row_hash(prev, fields)
        db.session.add(AuditEvent(prev_hash=prev, hash=h, key_id=None, **fields))
        prev = h
    db.session.commit()
    _write(2)
    code, out = _verify(runner)
    assert code == 1 and "no signed checkpoint seals them" in out
    _checkpoint(runner)
    code, out = _verify(runner)
    assert code == 0 and "intact: 4 rows" in out and "predate keyed MACs" in out
    # Keyed rows turned back into unkeyed ones after the seal are a rewrite.
    _drop_triggers()
    _rechain_with_the_apps_function()
    code, out = _verify(runner)
    assert code == 1 and "the trail was rewritten" in out


def test_scheduler_registers_the_checkpoint_job(app):
    from notifications import scheduler

    sched = scheduler.build_scheduler(app, "test-holder")
    job = sched.get_job("audit-checkpoint")
    assert job is not None  # coalesce and max_instances=1 come from the scheduler's job defaults
    assert job.trigger.interval.total_seconds() == 15 * 60
    _write(1)
    assert scheduler.job_audit_checkpoint(audit.utcnow()).startswith("checkpoint #1: 1 rows")
    assert len(_lines(app)) == 1


def test_public_key_command_prints_the_trusted_key(app, runner):
    result = runner.invoke(args=["audit", "public-key"])
    assert result.exit_code == 0
    assert base64.b64decode(result.output.strip()) and audit.public_key_id(
        base64.b64decode(result.output.strip())) in audit.trusted_public_keys()


@pytest.mark.parametrize("audit_key", [None, "short", "x" * 40])
def test_production_refuses_a_missing_or_weak_audit_key(audit_key):
    from config import ProductionConfig

    with pytest.raises(RuntimeError, match="AUDIT_HMAC_KEY"):
        ProductionConfig.validate({"DEBUG": False, "SECRET_KEY": "k3J9-aa8Zq!pLm2@Vx7#Rt5$Yw1^Nb4&Hc6*",
                                   "AUDIT_HMAC_KEY": audit_key,
                                   "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://x@127.0.0.1/db"})


def test_signing_key_rotation_and_verifying_with_public_keys_only(app, runner):
    _write(1)
    _checkpoint(runner)
    old_public = audit.public_key_text()
    app.config["AUDIT_SIGNING_KEY"] = base64.b64encode(b"n" * 32).decode()
    app.config["AUDIT_CHECKPOINT_PUBLIC_KEYS"] = old_public
    _write(1, start=1)
    _checkpoint(runner)
    new_public = audit.public_key_text()
    assert new_public != old_public and _verify(runner)[0] == 0
    # An auditor's host: no private key at all, only the public keys.
    app.config["AUDIT_SIGNING_KEY"] = None
    app.config["AUDIT_CHECKPOINT_PUBLIC_KEYS"] = f"{old_public},{new_public}"
    code, out = _verify(runner)
    assert code == 0 and "2 signed checkpoints verified" in out, out
    app.config["AUDIT_CHECKPOINT_PUBLIC_KEYS"] = new_public
    code, out = _verify(runner)
    assert code == 1 and "checkpoint file line 1: signed by unknown key" in out


def test_a_garbage_checkpoint_line_is_reported_not_a_crash(app, runner):
    _write(1)
    _checkpoint(runner)
    lines = _lines(app)
    _rewrite_lines(app, [lines[0], '{"kid": ["x"], "sig": 5}', "not json"])
    code, out = _verify(runner)
    assert code == 1 and "Traceback" not in out
    assert "line 2: not a checkpoint" in out and "line 3: not a checkpoint" in out


def test_an_unwritable_checkpoint_path_is_a_clear_error(app, runner, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    app.config["AUDIT_CHECKPOINT_PATH"] = str(blocker / "audit-checkpoints.jsonl")
    _write(1)
    result = runner.invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 1 and "cannot open the checkpoint file" in result.output
