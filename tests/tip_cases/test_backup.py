"""`flask backup create` / `backup restore` bring back every row, and the audit trail still verifies.

Run on both backends: pg_dump/pg_restore (custom format) for PostgreSQL, the online backup API for SQLite.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from notifications.models import OutboxMessage
from screening.models import Crossing, Flag
from tests.screening.builders import new_crossing
from tests.security.builders import make_world
from tip_cases import audit
from tip_cases.cases.models import Case
from tip_cases.extensions import db, utcnow
from tip_cases.models import AuditEvent


def _counts() -> dict[str, int]:
    db.session.commit()
    return {t.name: db.session.scalar(select(func.count()).select_from(t)) for t in db.metadata.sorted_tables}


def _add_more(app) -> None:
    """Changes after the backup: they must be gone after the restore."""
    from screening.services import store_crossings

    store_crossings([new_crossing("after-backup-1"), new_crossing("after-backup-2")], source="test", actor=None,
                    now=utcnow())
    db.session.commit()


def test_a_restored_backup_has_every_row_and_a_verified_trail(app, runner, tmp_path):
    make_world(app)
    before = _counts()
    assert all(before[t] > 0 for t in ("crossings", "flags", "cases", OutboxMessage.__tablename__, "audit_events"))
    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0
    target = tmp_path / "backups" / "nightly.bak"
    result = runner.invoke(args=["backup", "create", str(target)])
    assert result.exit_code == 0, result.output
    assert f"backup written to {target}" in result.output and target.stat().st_mode & 0o077 == 0

    _add_more(app)
    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0  # a checkpoint newer than the backup
    audit.checkpoint_path().chmod(0o600)
    assert _counts()["crossings"] == before["crossings"] + 2

    result = runner.invoke(args=["backup", "restore", str(target), "--yes"])
    assert result.exit_code == 0, result.output
    assert "audit chain intact" in result.output
    assert "set aside in" in result.output and "1 kept" in result.output
    after = _counts()
    assert after.pop("audit_events") == before.pop("audit_events") + 1  # the restore is itself audited
    assert after == before
    assert db.session.execute(select(AuditEvent).order_by(AuditEvent.id.desc())).scalars().first().action \
        == "backup.restored"
    # The newer checkpoint is kept as evidence of what was lost, and the kept file verifies with new ones.
    aside = list(tmp_path.glob("audit-checkpoints.jsonl.before-restore-*"))
    assert len(aside) == 1 and len(aside[0].read_text().splitlines()) == 2
    assert len(audit.checkpoint_path().read_text().splitlines()) == 1
    assert audit.checkpoint_path().stat().st_mode & 0o777 == 0o600
    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0
    verify = runner.invoke(args=["audit", "verify"])
    assert verify.exit_code == 0 and "2 signed checkpoints verified" in verify.output, verify.output


def test_a_restore_keeps_crossings_flags_cases_and_outbox_rows_by_content(app, runner, tmp_path):
    make_world(app)

    def snapshot():
        db.session.commit()
        return json.dumps({
            "crossings": sorted(db.session.scalars(select(Crossing.external_id)).all()),
            "flags": sorted((f.crossing_id, f.person_id, f.status) for f in db.session.scalars(select(Flag))),
            "cases": sorted(db.session.scalars(select(Case.reference)).all()),
            "outbox": sorted(o.id for o in db.session.scalars(select(OutboxMessage))),
        }, default=str)

    before = snapshot()
    target = tmp_path / "b.bak"
    assert runner.invoke(args=["backup", "create", str(target)]).exit_code == 0
    _add_more(app)
    assert snapshot() != before
    result = runner.invoke(args=["backup", "restore", str(target), "--yes"])
    assert result.exit_code == 0, result.output
    assert snapshot() == before


def test_backup_refuses_to_overwrite_and_restore_names_a_missing_file(app, runner, tmp_path):
    existing = tmp_path / "there.bak"
    existing.write_text("keep me")
    result = runner.invoke(args=["backup", "create", str(existing)])
    assert result.exit_code != 0 and "already exists" in result.output and existing.read_text() == "keep me"
    result = runner.invoke(args=["backup", "restore", str(tmp_path / "nope.bak"), "--yes"])
    assert result.exit_code != 0 and "does not exist" in result.output


def test_a_restore_without_yes_asks_and_changes_nothing_on_no(app, runner, tmp_path):
    target = tmp_path / "b.bak"
    assert runner.invoke(args=["backup", "create", str(target)]).exit_code == 0
    _add_more(app)
    count = _counts()["crossings"]
    result = runner.invoke(args=["backup", "restore", str(target)], input="n\n")
    assert result.exit_code != 0 and "Every change since the backup is lost" in result.output
    assert _counts()["crossings"] == count


def _alter_rows(lines: list[bytes]) -> list[bytes]:
    obj = json.loads(lines[1])
    obj["rows"] += 1000  # a forger claims more rows: the signature no longer matches
    return [lines[0], json.dumps(obj).encode()]


@pytest.mark.parametrize("tamper, problem", [
    (_alter_rows, "signature invalid"),
    (lambda lines: lines[1:], "does not follow the line before it"),
    (lambda lines: [lines[0], b"{not json"], "not a checkpoint"),
], ids=["altered", "line-removed", "garbage"])
def test_a_restore_refuses_a_tampered_checkpoint_file_and_changes_nothing(app, runner, tmp_path, tamper, problem):
    """The checkpoint file is verified before the restore trims it: a tampered one stops the restore."""
    make_world(app)
    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0
    target = tmp_path / "b.bak"
    assert runner.invoke(args=["backup", "create", str(target)]).exit_code == 0
    _add_more(app)
    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0
    path = audit.checkpoint_path()
    path.write_bytes(b"\n".join(tamper(path.read_bytes().splitlines())) + b"\n")
    tampered = path.read_bytes()
    before = _counts()

    result = runner.invoke(args=["backup", "restore", str(target), "--yes"])
    assert result.exit_code != 0
    assert "refusing to restore" in result.output and problem in result.output, result.output
    assert "Nothing was changed" in result.output
    # Nothing lost: the rows added after the backup are still there, the file is byte for byte the same.
    assert _counts() == before
    assert path.read_bytes() == tampered
    assert not list(tmp_path.glob("audit-checkpoints.jsonl.before-restore-*"))
    # Moved aside (as the message says), the same backup restores and verifies.
    path.rename(tmp_path / "evidence.jsonl")
    result = runner.invoke(args=["backup", "restore", str(target), "--yes"])
    assert result.exit_code == 0 and "audit chain intact" in result.output, result.output
    assert _counts()["crossings"] == before["crossings"] - 2
