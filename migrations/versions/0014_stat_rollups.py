"""Statistics rollups kept by triggers, and crossings.pseudonymised_at for retention (issue 10).

Revision ID: 0014_stat_rollups
Revises: 0012_post_aliases

Creates the exact daily rollups (tip_cases.reports.models), installs the triggers that keep them in
the writer's transaction (tip_cases.reports.rollup_sql) and fills them from the crossings and flags
already stored. On a large installation the fill is one grouped scan of crossings (about 10 s per
million rows on PostgreSQL); `flask --app tip_cases reports rollup --rebuild` repeats it at any time.
A migration that replaces the crossings table (for example to partition it) must re-run
rollup_sql.install() on the new table.
"""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

from tip_cases.reports import rollup_sql

revision = "0014_stat_rollups"
down_revision = "0012_post_aliases"
branch_labels = None
depends_on = None


def _offset_minutes() -> int:
    try:
        from flask import current_app

        name = current_app.config.get("TIMEZONE", "Africa/Maseru")
    except RuntimeError:  # run outside the app
        name = "Africa/Maseru"
    return int(datetime.now(ZoneInfo(name)).utcoffset().total_seconds() // 60)


def upgrade():
    with op.batch_alter_table("crossings") as batch_op:
        batch_op.add_column(sa.Column("pseudonymised_at", sa.DateTime(timezone=True), nullable=True))

    op.create_table(
        "stat_rollup_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("offset_minutes", sa.Integer(), nullable=False),
        sa.Column("rebuilt_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stat_rollup_state")))
    op.create_table(
        "stat_crossings_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("border_post_id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=5), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "border_post_id", "direction", name=op.f("pk_stat_crossings_daily")))
    op.create_table(
        "stat_crossings_people",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("border_post_id", sa.Integer(), nullable=False),
        sa.Column("sex", sa.String(length=1), nullable=False),
        sa.Column("age_band", sa.String(length=8), nullable=False),
        sa.Column("nationality", sa.String(length=8), nullable=False),
        sa.Column("unresolved", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "border_post_id", "sex", "age_band", "nationality", "unresolved",
                                name=op.f("pk_stat_crossings_people")))
    op.create_index("ix_stat_crossings_people_unresolved", "stat_crossings_people", ["unresolved", "day"])
    op.create_table(
        "stat_traveller_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("border_post_id", sa.Integer(), nullable=False),
        sa.Column("traveller_id", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", "border_post_id", "traveller_id", name=op.f("pk_stat_traveller_days")))
    op.create_index("ix_stat_traveller_days_traveller", "stat_traveller_days", ["traveller_id"])
    op.create_table(
        "stat_traveller_months",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("traveller_id", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("month", "traveller_id", name=op.f("pk_stat_traveller_months")))
    op.create_index("ix_stat_traveller_months_traveller", "stat_traveller_months", ["traveller_id"])
    op.create_table(
        "stat_flags_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("border_post_id", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "border_post_id", name=op.f("pk_stat_flags_daily")))

    dialect = op.get_bind().dialect.name
    op.get_bind().execute(sa.text("INSERT INTO stat_rollup_state (id, offset_minutes, rebuilt_at) "
                                  "VALUES (1, :off, :at)"), {"off": _offset_minutes(), "at": datetime.now(UTC)})
    # As this revision made them: the prev_day pointers came with 0027.
    for stmt in rollup_sql.install(dialect, prev_days=False) + rollup_sql.rebuild(dialect, prev_days=False):
        op.execute(stmt)


def downgrade():
    for stmt in rollup_sql.uninstall(op.get_bind().dialect.name):
        op.execute(stmt)
    for table in ("stat_flags_daily", "stat_traveller_months", "stat_traveller_days", "stat_crossings_people",
                  "stat_crossings_daily", "stat_rollup_state"):
        op.drop_table(table)
    with op.batch_alter_table("crossings") as batch_op:
        batch_op.drop_column("pseudonymised_at")
