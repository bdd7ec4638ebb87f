"""Notifications: each partner agency's language for e-mail and SMS; empty means the unit's default.

Revision ID: 0017_agency_locale
Revises: 0015_watchlist
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_agency_locale"
down_revision = "0015_watchlist"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("notification_agencies") as batch_op:
        batch_op.add_column(sa.Column("locale", sa.String(length=8), nullable=True))


def downgrade():
    with op.batch_alter_table("notification_agencies") as batch_op:
        batch_op.drop_column("locale")
