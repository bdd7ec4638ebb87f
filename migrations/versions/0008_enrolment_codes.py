"""Accounts: one-time enrolment codes for a new second factor, and failed sign-ins for unknown usernames.

Revision ID: 0008_enrolment_codes
Revises: 0007_report_indexes
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_enrolment_codes"
down_revision = "0007_report_indexes"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("enrolment_code_hash", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("enrolment_code_expires_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "login_throttles",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttles")),
    )
    op.create_index(op.f("ix_login_throttles_updated_at"), "login_throttles", ["updated_at"])


def downgrade():
    op.drop_index(op.f("ix_login_throttles_updated_at"), table_name="login_throttles")
    op.drop_table("login_throttles")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("enrolment_code_expires_at")
        batch_op.drop_column("enrolment_code_hash")
