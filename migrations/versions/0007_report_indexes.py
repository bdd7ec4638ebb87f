"""Reports: a covering index for the managers' statistics over crossings.

Revision ID: 0007_report_indexes
Revises: 0006_guardians
"""

from alembic import op

revision = "0007_report_indexes"
down_revision = "0006_guardians"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_crossings_stats", "crossings", ["crossed_at", "border_post_id", "direction", "traveller_id"])


def downgrade():
    op.drop_index("ix_crossings_stats", table_name="crossings")
