"""Crossings: the minor's accompanying parent or guardian and the parental consent letter, as MIDAS records them.

Revision ID: 0006_guardians
Revises: 0005_notifications
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_guardians"
down_revision = "0005_notifications"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("crossings") as batch_op:
        batch_op.add_column(sa.Column("guardian_relation", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("guardian_document_number", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("consent_document", sa.Boolean(), server_default=sa.false(),
                                      nullable=False))


def downgrade():
    with op.batch_alter_table("crossings") as batch_op:
        batch_op.drop_column("consent_document")
        batch_op.drop_column("guardian_document_number")
        batch_op.drop_column("guardian_relation")
