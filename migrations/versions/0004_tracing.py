"""Tracing: traveller identities, judgements, risk patterns.

Revision ID: 0004_tracing
Revises: 0003_cases
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0004_tracing"
down_revision = "0003_cases"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
