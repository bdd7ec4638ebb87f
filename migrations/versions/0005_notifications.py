"""Notifications: agencies, channels, rules, outbox, attempts, scheduler lock.

Revision ID: 0005_notifications
Revises: 0004_tracing
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0005_notifications"
down_revision = "0004_tracing"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
