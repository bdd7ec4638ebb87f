"""Tracing: traveller identities, judgements, risk patterns.

Revision ID: 0004_tracing
Revises: 0003_cases
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_tracing"
down_revision = "0003_cases"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "tracing_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracing_state")),
    )
    op.create_table(
        "travellers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("surname", sa.String(length=120), nullable=False),
        sa.Column("given_names", sa.String(length=160), nullable=False),
        sa.Column("sex", sa.String(length=1), nullable=True),
        sa.Column("nationality", sa.String(length=3), nullable=True),
        sa.Column("crossing_count", sa.Integer(), nullable=False),
        sa.Column("first_crossed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_crossed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_direction", sa.String(length=5), nullable=True),
        sa.Column("merged_into_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dob_year", sa.Integer(), nullable=True),
        sa.Column("dob_month", sa.Integer(), nullable=True),
        sa.Column("dob_day", sa.Integer(), nullable=True),
        sa.Column("dob_precision", sa.String(length=10), nullable=True),
        sa.Column("patterns_due", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.ForeignKeyConstraint(
            ["merged_into_id"], ["travellers.id"], name=op.f("fk_travellers_merged_into_id_travellers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_travellers")),
    )
    with op.batch_alter_table("travellers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_travellers_last_crossed_at"), ["last_crossed_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_travellers_patterns_due"), ["patterns_due"], unique=False)

    op.create_table(
        "traveller_judgements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(length=10), nullable=False),
        sa.Column("traveller_id", sa.Integer(), nullable=True),
        sa.Column("other_traveller_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_by_user_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["decided_by_user_id"], ["users.id"], name=op.f("fk_traveller_judgements_decided_by_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["other_traveller_id"],
            ["travellers.id"],
            name=op.f("fk_traveller_judgements_other_traveller_id_travellers"),
        ),
        sa.ForeignKeyConstraint(
            ["traveller_id"], ["travellers.id"], name=op.f("fk_traveller_judgements_traveller_id_travellers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_traveller_judgements")),
    )
    with op.batch_alter_table("traveller_judgements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_traveller_judgements_traveller_id"), ["traveller_id"], unique=False)

    op.create_table(
        "traveller_judgement_crossings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("judgement_id", sa.Integer(), nullable=False),
        sa.Column("crossing_id", sa.Integer(), nullable=False),
        sa.Column("side", sa.String(length=1), nullable=False),
        sa.ForeignKeyConstraint(
            ["crossing_id"], ["crossings.id"], name=op.f("fk_traveller_judgement_crossings_crossing_id_crossings")
        ),
        sa.ForeignKeyConstraint(
            ["judgement_id"],
            ["traveller_judgements.id"],
            name=op.f("fk_traveller_judgement_crossings_judgement_id_traveller_judgements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_traveller_judgement_crossings")),
    )
    with op.batch_alter_table("traveller_judgement_crossings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_traveller_judgement_crossings_crossing_id"), ["crossing_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_traveller_judgement_crossings_judgement_id"), ["judgement_id"], unique=False
        )

    op.create_table(
        "risk_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("finding_key", sa.String(length=120), nullable=False),
        sa.Column("rule", sa.String(length=60), nullable=False),
        sa.Column("traveller_id", sa.Integer(), nullable=True),
        sa.Column("flag_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["flag_id"], ["flags.id"], name=op.f("fk_risk_findings_flag_id_flags")),
        sa.ForeignKeyConstraint(
            ["traveller_id"], ["travellers.id"], name=op.f("fk_risk_findings_traveller_id_travellers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_findings")),
        sa.UniqueConstraint("finding_key", name=op.f("uq_risk_findings_finding_key")),
    )
    with op.batch_alter_table("risk_findings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_risk_findings_flag_id"), ["flag_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_risk_findings_traveller_id"), ["traveller_id"], unique=False)

    with op.batch_alter_table("crossings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("traveller_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_crossings_traveller_id"), ["traveller_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_crossings_traveller_id_travellers"), "travellers", ["traveller_id"], ["id"]
        )


def downgrade():
    with op.batch_alter_table("crossings", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_crossings_traveller_id_travellers"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_crossings_traveller_id"))
        batch_op.drop_column("traveller_id")

    with op.batch_alter_table("risk_findings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_risk_findings_traveller_id"))
        batch_op.drop_index(batch_op.f("ix_risk_findings_flag_id"))

    op.drop_table("risk_findings")
    with op.batch_alter_table("traveller_judgement_crossings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_traveller_judgement_crossings_judgement_id"))
        batch_op.drop_index(batch_op.f("ix_traveller_judgement_crossings_crossing_id"))

    op.drop_table("traveller_judgement_crossings")
    with op.batch_alter_table("traveller_judgements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_traveller_judgements_traveller_id"))

    op.drop_table("traveller_judgements")
    with op.batch_alter_table("travellers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_travellers_last_crossed_at"))

    op.drop_table("travellers")
    op.drop_table("tracing_state")
