"""Statistics pointers: a large write re-reads them by a join, not by an array of its travellers (session 12).

0027's triggers re-pointed the travellers of every statement through `traveller_id = ANY(ARRAY(...))`. For a
statement of millions of rows (a history import, a year copied in SQL) PostgreSQL read the rollup by a bitmap
scan that turned lossy, and its recheck compared every row with every id of the array in turn: a 2M-row
INSERT into a 6M-row rollup was still running after 15 minutes on the shared box. Above
`rollup_sql.PREV_BULK_ROWS` rows the trigger now uses a hash semi-join (seconds); below it the array form
keeps an API batch on the traveller_id index. SQLite's row triggers are unchanged.

Upgrade and downgrade only replace the PostgreSQL trigger functions (no data is touched: instant).

Revision ID: 0028_prev_refresh_bulk
Revises: 0027_stat_prev_days
"""

from alembic import op

from tip_cases.reports import rollup_sql

revision = "0028_prev_refresh_bulk"
down_revision = "0027_stat_prev_days"
branch_labels = None
depends_on = None


def _reinstall(bulk: bool) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for stmt in rollup_sql.uninstall("postgresql") + rollup_sql.install("postgresql", bulk=bulk, since=False):
        op.execute(stmt)


def upgrade():
    _reinstall(bulk=True)


def downgrade():
    _reinstall(bulk=False)
