"""Post aliases: other spellings of a border post's name, so feeds' own spellings resolve to the post.

Seeds the reference posts' known spellings (tip_cases.reference.POST_ALIASES) where the post exists.

Revision ID: 0012_post_aliases
Revises: 0011_match_model
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from tip_cases.postnames import post_key
from tip_cases.reference import POST_ALIASES

revision = "0012_post_aliases"
down_revision = "0011_match_model"
branch_labels = None
depends_on = None


def upgrade():
    aliases = op.create_table(
        "post_aliases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("border_post_id", sa.Integer(), nullable=False),
        sa.Column("alias", sa.String(length=120), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["border_post_id"], ["border_posts.id"],
                                name=op.f("fk_post_aliases_border_post_id_border_posts"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_post_aliases")),
        sa.UniqueConstraint("key", name=op.f("uq_post_aliases_key")),
    )
    with op.batch_alter_table("post_aliases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_post_aliases_border_post_id"), ["border_post_id"], unique=False)

    ids = dict(op.get_bind().execute(sa.text("SELECT code, id FROM border_posts")).all())
    now = datetime.now(UTC)
    rows = [{"border_post_id": ids[code], "alias": alias, "key": post_key(alias), "created_at": now}
            for code, alias in POST_ALIASES if code in ids]
    if rows:
        op.bulk_insert(aliases, rows)


def downgrade():
    with op.batch_alter_table("post_aliases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_post_aliases_border_post_id"))
    op.drop_table("post_aliases")
