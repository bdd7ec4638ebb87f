"""Crossings partitioned by month on PostgreSQL (issue 10); SQLite keeps its plain table.

Revision ID: 0022_crossings_partitioned
Revises: 0021_traveller_keys

On PostgreSQL the existing crossings table is converted in this migration's one transaction: it is
renamed, a partitioned table of the same columns takes its name (one partition per month that holds
rows, this month and the next three, and a default partition), every row is copied across with its id,
the id sequence passes to the new table and continues where it was, the old table is dropped, and the
keys, indexes, statistics triggers and the checks that replace the foreign keys to crossings.id are
created on the new one (screening.partitions says why). The table is locked for the whole migration:
writers wait, nothing is refused. Measured time at 1M crossings: docs/operations.md.

Downgrade converts back to a plain table; it fails, and changes nothing, if two crossings share
(source, external_id) with different crossed_at (allowed once partitioned).
"""

import sqlalchemy as sa
from alembic import op

from screening import partitions
from tip_cases.reports import rollup_sql

revision = "0022_crossings_partitioned"
down_revision = "0021_traveller_keys"
branch_labels = None
depends_on = None

_STAT_TRIGGERS = [f"DROP TRIGGER IF EXISTS stat_crossings_{o} ON crossings" for o in ("ins", "del", "upd")]


def _stat_triggers_on_crossings() -> list[str]:
    """The statistics triggers on crossings only (those on flags stay as they are)."""
    # As of this revision: the prev_day pointers came with 0027.
    return [s for s in rollup_sql.postgresql_install(prev_days=False) if "ON flags" not in s and "stat_flags_" not in s]


def _columns(conn, table: str) -> str:
    return conn.execute(sa.text(
        "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute "
        "WHERE attrelid = CAST(:t AS regclass) AND attnum > 0 AND NOT attisdropped"), {"t": table}).scalar_one()


def _copy_and_swap(conn, old: str) -> None:
    """Copy every row of `old` into the new `crossings`, hand it the id sequence, drop `old`."""
    cols = _columns(conn, old)
    seq = conn.execute(sa.text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": old}).scalar_one()
    op.execute(f"INSERT INTO crossings ({cols}) SELECT {cols} FROM {old}")  # noqa: S608 - catalogue names
    op.execute(f"ALTER SEQUENCE {seq} OWNED BY crossings.id")
    # The sequence already continues past every id; this only repairs one that an import had set back.
    op.execute(f"SELECT setval('{seq}', m) FROM (SELECT max(id) AS m FROM crossings) x "  # noqa: S608
               f"WHERE m IS NOT NULL AND m > (SELECT last_value FROM {seq})")
    op.execute(f"DROP TABLE {old}")


def upgrade():
    conn = op.get_bind()
    # Both dialects: the deletion check (a trigger on PostgreSQL, the foreign key on SQLite) finds a
    # crossing's judgements by index.
    op.create_index("ix_match_judgements_crossing_id", "match_judgements", ["crossing_id"])
    if conn.dialect.name != "postgresql":
        return
    op.execute("LOCK TABLE crossings IN ACCESS EXCLUSIVE MODE")
    for stmt in partitions.drop_foreign_keys() + _STAT_TRIGGERS:
        op.execute(stmt)
    op.execute("ALTER TABLE crossings RENAME TO crossings_unpartitioned")
    op.execute(partitions.create_table("crossings_unpartitioned"))
    op.execute("CREATE TABLE crossings_default PARTITION OF crossings DEFAULT")
    op.execute(partitions.ADD_PARTITION)
    op.execute(partitions.ENSURE_PARTITIONS)
    months = conn.execute(sa.text("SELECT DISTINCT CAST(date_trunc('month', crossed_at AT TIME ZONE 'UTC') AS date) "
                                  "FROM crossings_unpartitioned ORDER BY 1")).scalars().all()
    for m in months:
        conn.execute(sa.text("SELECT crossings_add_partition(:m)"), {"m": m})
    conn.execute(sa.text("SELECT crossings_ensure_partitions(:n)"), {"n": partitions.MONTHS_AHEAD})
    _copy_and_swap(conn, "crossings_unpartitioned")
    for stmt in partitions.CONSTRAINTS:
        op.execute(stmt)
    for stmt in _stat_triggers_on_crossings() + partitions.referential_triggers():
        op.execute(stmt)
    op.execute("ANALYZE crossings")


def downgrade():
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        op.execute("LOCK TABLE crossings IN ACCESS EXCLUSIVE MODE")
        for stmt in partitions.drop_referential_triggers() + _STAT_TRIGGERS:
            op.execute(stmt)
        op.execute("ALTER TABLE crossings RENAME TO crossings_partitioned")
        op.execute("CREATE TABLE crossings (LIKE crossings_partitioned INCLUDING DEFAULTS)")
        cols = _columns(conn, "crossings_partitioned")
        seq = conn.execute(sa.text("SELECT pg_get_serial_sequence('crossings_partitioned', 'id')")).scalar_one()
        op.execute(f"INSERT INTO crossings ({cols}) SELECT {cols} FROM crossings_partitioned")  # noqa: S608
        op.execute(f"ALTER SEQUENCE {seq} OWNED BY crossings.id")
        op.execute("DROP TABLE crossings_partitioned")  # and its partitions
        for stmt in ("DROP FUNCTION IF EXISTS crossings_ensure_partitions(integer)",
                     "DROP FUNCTION IF EXISTS crossings_add_partition(date)"):
            op.execute(stmt)
        plain = [s.replace("PRIMARY KEY (id, crossed_at)", "PRIMARY KEY (id)")
                 .replace("UNIQUE (source, external_id, crossed_at)", "UNIQUE (source, external_id)")
                 for s in partitions.CONSTRAINTS]
        for stmt in plain + partitions.foreign_keys() + _stat_triggers_on_crossings():
            op.execute(stmt)
    op.drop_index("ix_match_judgements_crossing_id", table_name="match_judgements")
