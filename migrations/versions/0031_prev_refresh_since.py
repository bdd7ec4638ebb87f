"""Statistics pointers: a write re-points the rollup rows from its first day on, not all of its travellers' rows.

Every insert of crossings re-pointed each of its travellers' rows in `stat_traveller_days` (a lag over all of
them): at 20M crossings an API batch of 500 read ~18,000 rows of a decade for the ~500 rows it added, inside the
traveller-key locks (docs/performance.md, session 30). A row added or removed on day D moves only the pointers
of the rows after it, so the trigger's small branch (`rollup_sql._prev_refresh_pg`, `since`) now reads the rows
of the statement's travellers from its first day on and finds each one's pointers by two probes of 0030's index.
The bulk branch (a history import) keeps its join. SQLite's row triggers are unchanged.

Upgrade and downgrade only replace the PostgreSQL trigger functions (no data is touched: instant).

Revision ID: 0031_prev_refresh_since
Revises: 0030_traveller_days_by_day
"""

from alembic import op

from tip_cases.reports import rollup_sql

revision = "0031_prev_refresh_since"
down_revision = "0030_traveller_days_by_day"
branch_labels = None
depends_on = None


def _reinstall(since: bool) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for stmt in rollup_sql.uninstall("postgresql") + rollup_sql.install("postgresql", since=since):
        op.execute(stmt)


def upgrade():
    _reinstall(since=True)


def downgrade():
    _reinstall(since=False)
