"""Statistics pointers: the traveller-day rollup indexed by (traveller, day, post), covering the pointer refresh.

Every insert of crossings re-points the rollup rows of its travellers (`rollup_sql._prev_refresh_pg`: a lag over
each traveller's rows in (day, post) order). Through the old index on traveller_id alone PostgreSQL fetched each
of those rows from the heap and sorted them: at 20M crossings an API batch of 500 touches ~18,000 rows of a
decade, and the trigger took ~300 ms of the batch's ~0.8 s under the traveller-key locks. This index returns them
in the window's order from the index alone: the trigger 121-135 ms after `db upgrade` (90-104 ms on the index
built by hand; docs/performance.md, session 30).

It replaces the old index (same name, same leading column: every query that used it can use this one). SQLite
has no INCLUDE and gets the three key columns. On PostgreSQL the build reads the whole rollup and blocks writes
to it (and so the storing of crossings) while it runs: `db upgrade` took 11.7 s for 20,084,974 rows on the
reference machine (a first build, cold, 43 s); run it in a quiet hour. Downgrade restores the single-column index.

Revision ID: 0030_traveller_days_by_day
Revises: 0029_crossing_count
"""

from alembic import op

revision = "0030_traveller_days_by_day"
down_revision = "0029_crossing_count"
branch_labels = None
depends_on = None

NAME = "ix_stat_traveller_days_traveller"


def upgrade():
    op.drop_index(NAME, table_name="stat_traveller_days")
    op.create_index(NAME, "stat_traveller_days", ["traveller_id", "day", "border_post_id"],
                    postgresql_include=["n", "first_at", "prev_day", "prev_post_day"])


def downgrade():
    op.drop_index(NAME, table_name="stat_traveller_days")
    op.create_index(NAME, "stat_traveller_days", ["traveller_id"])
