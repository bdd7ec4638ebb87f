"""traveller_spellings.crossing_count: how many crossings of the traveller have each spelling.

Attach computes the traveller's list columns (most used spelling, date of birth, sex, nationality) from these
counts instead of reading every crossing of the traveller in every month partition (docs/performance.md,
issue 10, session 9c).

Upgrade: empties `traveller_spellings`, `traveller_keys` and `name_token_counts`, as 0025 did, then adds the
column; the three are rebuilt together from the crossings: run `flask --app tip_cases screening rebuild-keys`
right after `db upgrade` (the first attach or trace otherwise rebuilds them in its own request). Downgrade:
drops the column and empties the three the same way.

Revision ID: 0026_spelling_counts
Revises: 0025_traveller_spellings
"""

import sqlalchemy as sa
from alembic import op

revision = "0026_spelling_counts"
down_revision = "0025_traveller_spellings"
branch_labels = None
depends_on = None


def _empty() -> None:
    """TRUNCATE on PostgreSQL: instant whatever the size."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("TRUNCATE traveller_spellings, traveller_keys, name_token_counts")
        return
    for table in ("traveller_spellings", "traveller_keys", "name_token_counts"):
        op.execute(f"DELETE FROM {table}")


def upgrade():
    _empty()
    # The table is empty: the server default only satisfies SQLite's ADD COLUMN ... NOT NULL.
    with op.batch_alter_table("traveller_spellings") as batch:
        batch.add_column(sa.Column("crossing_count", sa.Integer(), nullable=False, server_default="1"))


def downgrade():
    _empty()
    with op.batch_alter_table("traveller_spellings") as batch:
        batch.drop_column("crossing_count")
