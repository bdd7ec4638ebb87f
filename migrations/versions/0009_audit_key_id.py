"""Audit trail: a key id per row, for HMAC-chained rows and key rotation.

Existing rows keep key_id NULL: they are the legacy plain SHA-256 prefix of the chain and still verify.

On SQLite, adding a nullable column is a plain ALTER TABLE (no table copy), so the append-only triggers
stay; they are re-created IF NOT EXISTS anyway, and after the downgrade, whose column drop copies the
table and so loses its triggers.

Revision ID: 0009_audit_key_id
Revises: 0008_enrolment_codes
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_audit_key_id"
down_revision = "0008_enrolment_codes"
branch_labels = None
depends_on = None


def _sqlite_triggers():
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL's trigger is unaffected by adding or dropping a column
    for verb in ("UPDATE", "DELETE"):
        op.execute(f"""
            CREATE TRIGGER IF NOT EXISTS audit_events_no_{verb.lower()} BEFORE {verb} ON audit_events
            BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END
        """)


def upgrade():
    with op.batch_alter_table("audit_events") as batch_op:
        batch_op.add_column(sa.Column("key_id", sa.String(length=16), nullable=True))
    _sqlite_triggers()


def downgrade():
    with op.batch_alter_table("audit_events") as batch_op:
        batch_op.drop_column("key_id")
    _sqlite_triggers()
