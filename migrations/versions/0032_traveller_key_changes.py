"""Attach reads its candidates' keys before the key locks: writes to `traveller_keys` are logged (PostgreSQL).

An API batch of 500 read ~6,500 keys of a decade's `traveller_keys` under the key locks, while the other
worker's batch waited (docs/performance.md, session 31). A statement trigger on `traveller_keys` now logs each
statement's keys with its transaction id in the UNLOGGED table `traveller_key_changes`, so a batch reads the keys
first and, once it holds the locks, reads again only those changed meanwhile (screening.key_changes). SQLite
has one writer and no key locks: nothing changes there.

Upgrade and downgrade create or drop the log table and its triggers (no data is touched: instant).

Revision ID: 0032_traveller_key_changes
Revises: 0031_prev_refresh_since
"""

from alembic import op

from screening import key_changes

revision = "0032_traveller_key_changes"
down_revision = "0031_prev_refresh_since"
branch_labels = None
depends_on = None


def _run(statements: list[str]) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for stmt in statements:
        op.execute(stmt)


def upgrade():
    _run(key_changes.INSTALL)


def downgrade():
    _run(key_changes.UNINSTALL)
