"""Scheduled job health: last success, last failure and its error, consecutive failures.

Revision ID: 0010_job_health
Revises: 0009_audit_key_id
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_job_health"
down_revision = "0009_audit_key_id"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("scheduler_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_error", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("consecutive_failures", sa.Integer(), server_default="0", nullable=False))


def downgrade():
    with op.batch_alter_table("scheduler_jobs", schema=None) as batch_op:
        batch_op.drop_column("consecutive_failures")
        batch_op.drop_column("last_error")
        batch_op.drop_column("last_failure_at")
        batch_op.drop_column("last_success_at")
