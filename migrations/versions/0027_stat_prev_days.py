"""Statistics: each traveller-day row points at the traveller's row before it (issue 10, session 11).

Counting the persons who crossed in a period read every traveller-day of the period and grouped them by
traveller (3-4 s for 12 months at 20M crossings). With `prev_day` (the traveller's row before, any post,
in day and post order) and `prev_post_day` (before, same post) the traveller's first row in the period is
the one whose pointer is empty or before the period's first day: the count becomes a filter
(tip_cases.reports.stats._rollup_firsts). The triggers keep the pointers in the writer's transaction. The
monthly distinct table (`stat_traveller_months`) served that count for whole months only; nothing reads it
now, so it is dropped and no longer kept on every write of a crossing.

Upgrade: adds the two columns, reinstalls the triggers, fills the pointers from the rows already there (one
UPDATE with window functions: 12M rows at a decade of 20M crossings took 20 min on the shared 2-core box
at load 4-5; readers keep working, writers of crossings wait) and drops the monthly table. Downgrade: the
triggers as 0014/0022 made them, the columns dropped, the monthly table recreated and recounted from the
crossings.

Revision ID: 0027_stat_prev_days
Revises: 0026_spelling_counts
"""

import sqlalchemy as sa
from alembic import op

from tip_cases.reports import rollup_sql

revision = "0027_stat_prev_days"
down_revision = "0026_spelling_counts"
branch_labels = None
depends_on = None


def upgrade():
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table("stat_traveller_days") as batch:
        batch.add_column(sa.Column("prev_day", sa.Date(), nullable=True))
        batch.add_column(sa.Column("prev_post_day", sa.Date(), nullable=True))
    for stmt in (rollup_sql.uninstall(dialect) + rollup_sql.install(dialect, bulk=False, since=False)
                 + [rollup_sql.prev_fill(dialect)]):
        op.execute(stmt)
    # The persons of a period read from this index alone (on PostgreSQL an index-only scan of the period's days,
    # not the table: its rows are in traveller order after the fill).
    op.create_index("ix_stat_traveller_days_first", "stat_traveller_days", ["day"],
                    postgresql_include=["prev_day", "traveller_id", "first_at"])
    if dialect == "postgresql":
        op.execute("ANALYZE stat_traveller_days")  # the new columns' statistics, before the first period is read
    op.drop_index("ix_stat_traveller_months_traveller", table_name="stat_traveller_months")
    op.drop_table("stat_traveller_months")


def downgrade():
    dialect = op.get_bind().dialect.name
    op.create_table(
        "stat_traveller_months",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("traveller_id", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("month", "traveller_id", name=op.f("pk_stat_traveller_months")))
    op.create_index("ix_stat_traveller_months_traveller", "stat_traveller_months", ["traveller_id"])
    for stmt in rollup_sql.uninstall(dialect) + rollup_sql.install(dialect, prev_days=False):
        op.execute(stmt)
    op.drop_index("ix_stat_traveller_days_first", table_name="stat_traveller_days")
    with op.batch_alter_table("stat_traveller_days") as batch:
        batch.drop_column("prev_post_day")
        batch.drop_column("prev_day")
    # Recount the monthly table (and the rest) as 0014 does, where the rollups are built.
    if op.get_bind().execute(sa.text("SELECT COUNT(*) FROM stat_rollup_state")).scalar_one():
        for stmt in rollup_sql.rebuild(dialect, prev_days=False):
            op.execute(stmt)
