"""Fitted Fellegi-Sunter match models: one row per fit, the newest active one used by screening and tracing.

Revision ID: 0011_match_model
Revises: 0013_user_locale (0010_job_health until main gained 0013; the integrator may re-chain)
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_match_model"
down_revision = "0013_user_locale"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "match_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pairs", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("model_json", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by_user_id"], ["users.id"],
                                name=op.f("fk_match_models_created_by_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_models")),
    )
    with op.batch_alter_table("match_models", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_match_models_active"), ["active"], unique=False)


def downgrade():
    with op.batch_alter_table("match_models", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_match_models_active"))
    op.drop_table("match_models")
