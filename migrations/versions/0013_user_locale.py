"""Accounts: each user's interface language (Sesotho or English); empty means the unit's default.

Revision ID: 0013_user_locale
Revises: 0010_job_health
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_user_locale"
down_revision = "0010_job_health"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("locale", sa.String(length=8), nullable=True))


def downgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("locale")
