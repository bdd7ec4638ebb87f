"""Signed watchlist for post nodes: what headquarters last published, and each numbered delta.

Revision ID: 0015_watchlist
Revises: 0014_stat_rollups
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_watchlist"
down_revision = "0014_stat_rollups"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "watchlist_entries",
        sa.Column("person_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("entry", sa.JSON(), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_watchlist_entries")),
    )
    with op.batch_alter_table("watchlist_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_watchlist_entries_seq"), ["seq"], unique=False)
    op.create_table(
        "watchlist_deltas",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("expired", sa.Integer(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_watchlist_deltas")),
    )


def downgrade():
    op.drop_table("watchlist_deltas")
    with op.batch_alter_table("watchlist_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_watchlist_entries_seq"))
    op.drop_table("watchlist_entries")
