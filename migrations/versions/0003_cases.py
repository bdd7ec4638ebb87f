"""Case management: cases, persons in cases, referrals, tasks, evidence.

Revision ID: 0003_cases
Revises: 0002_screening
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0003_cases"
down_revision = "0002_screening"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
