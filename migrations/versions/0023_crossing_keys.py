"""One crossing per (source, external_id) across all months: the crossing_keys table (issue 10).

Revision ID: 0023_crossing_keys
Revises: 0022_crossings_partitioned

Partitioned by month (0022), PostgreSQL's unique key on crossings has to include crossed_at, so the
database no longer refused a second crossing with the same external id and another time; session 5 closed
that with per-external-id advisory locks, which needed max_locks_per_transaction raised for big batches.
`crossing_keys` is a plain table keyed on (source, external_id): store_crossings claims a batch's keys
there (INSERT ... ON CONFLICT DO NOTHING RETURNING) and stores only the crossings it won, and an AFTER
INSERT trigger on crossings (screening.partitions.key_triggers) writes the key of a crossing stored any
other way and refuses one whose key another crossing holds. Both dialects.

Upgrade: creates the table, copies the key of every stored crossing (one INSERT ... SELECT; the first
crossing of a key, by id, should two share one), installs the trigger. Crossings are locked against
writes (SHARE mode) for that time so no crossing is stored without its key; readers are not blocked.
Downgrade drops the trigger and the table.
"""

import logging

import sqlalchemy as sa
from alembic import op

from screening import partitions

revision = "0023_crossing_keys"
down_revision = "0022_crossings_partitioned"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")


def upgrade():
    conn = op.get_bind()
    dialect = conn.dialect.name
    op.create_table(
        "crossing_keys",
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("external_id", sa.String(length=100), nullable=False),
        sa.Column("crossing_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("crossed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", "external_id", name=op.f("pk_crossing_keys")),
    )
    if dialect == "postgresql":
        op.execute("LOCK TABLE crossings IN SHARE MODE")
    op.execute(partitions.keys_backfill(dialect))
    for stmt in partitions.key_triggers(dialect):
        op.execute(stmt)
    if dialect == "postgresql":
        keyless = conn.execute(sa.text(
            "SELECT count(*) - (SELECT count(*) FROM crossing_keys) FROM crossings")).scalar_one()
        if keyless:
            log.warning("%d crossings share a (source, external_id) with an earlier one; the earliest keeps "
                        "the key (docs/operations.md, 'One crossing per external id')", keyless)
        op.execute("ANALYZE crossing_keys")


def downgrade():
    for stmt in partitions.drop_key_triggers(op.get_bind().dialect.name):
        op.execute(stmt)
    op.drop_table("crossing_keys")
