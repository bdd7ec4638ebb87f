"""Traveller blocking keys and name-token counts in the database: online attach without an in-memory index.

After upgrading an installation that already has travellers, fill them once with
`flask --app tip_cases screening rebuild-keys` (the first attach also does it when it finds the
tables empty, in its own transaction).

Revision ID: 0021_traveller_keys
Revises: 0020_post_sync
"""

import sqlalchemy as sa
from alembic import op

revision = "0021_traveller_keys"
down_revision = "0020_post_sync"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "traveller_keys",
        sa.Column("key", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("traveller_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.ForeignKeyConstraint(["traveller_id"], ["travellers.id"],
                                name=op.f("fk_traveller_keys_traveller_id_travellers")),
        sa.PrimaryKeyConstraint("key", "traveller_id", name=op.f("pk_traveller_keys")),
    )
    with op.batch_alter_table("traveller_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_traveller_keys_traveller_id"), ["traveller_id"], unique=False)
    op.create_table(
        "name_token_counts",
        sa.Column("token", sa.String(length=120), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_name_token_counts")),
    )


def downgrade():
    op.drop_table("name_token_counts")
    with op.batch_alter_table("traveller_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_traveller_keys_traveller_id"))
    op.drop_table("traveller_keys")
