"""Need to know on protective and discreet persons of interest: who sees them in full, and whom others call.

The roles and the case team an alert names (`need_to_know_roles`, `need_to_know_case_id`) and the
contact shown to everyone else (`contact`).

Revision ID: 0016_need_to_know
Revises: 0017_agency_locale
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_need_to_know"
down_revision = "0017_agency_locale"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.add_column(sa.Column("need_to_know_roles", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("need_to_know_case_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("contact", sa.String(length=300), nullable=True))
        batch_op.create_foreign_key("fk_persons_need_to_know_case_id_cases", "cases", ["need_to_know_case_id"],
                                    ["id"])


def downgrade():
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.drop_constraint("fk_persons_need_to_know_case_id_cases", type_="foreignkey")
        batch_op.drop_column("contact")
        batch_op.drop_column("need_to_know_case_id")
        batch_op.drop_column("need_to_know_roles")
