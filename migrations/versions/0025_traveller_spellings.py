"""Each traveller's distinct spellings in a table of their own: online attach reads candidates by traveller id.

Reading a candidate's profiles grouped its crossings, probing the traveller_id index of every month partition
(planning alone took about 5 ms over 66 partitions; docs/performance.md, issue 10, session 9).
`traveller_spellings` holds one row per traveller and spelling (and per judged crossing), kept in step by
screening.online where `traveller_keys` is.

Upgrade: creates the table empty and empties `traveller_keys` and `name_token_counts`, as 0024 did, so all
three are rebuilt together from the crossings: run `flask --app tip_cases screening rebuild-keys` right after
`db upgrade` (the first attach or trace otherwise rebuilds them in its own request). Nothing proportional to
history runs inside the migration. Downgrade: drops the table and empties the other two the same way.

Revision ID: 0025_traveller_spellings
Revises: 0024_trace_keys
"""

import sqlalchemy as sa
from alembic import op

revision = "0025_traveller_spellings"
down_revision = "0024_trace_keys"
branch_labels = None
depends_on = None


def _empty() -> None:
    """TRUNCATE on PostgreSQL: instant whatever the size (a DELETE of 40M key rows is minutes)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("TRUNCATE traveller_keys, name_token_counts")
        return
    op.execute("DELETE FROM traveller_keys")
    op.execute("DELETE FROM name_token_counts")


def upgrade():
    op.create_table(
        "traveller_spellings",
        sa.Column("traveller_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("spelling", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("crossing_id", sa.Integer(), nullable=False),
        sa.Column("crossed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("surname", sa.String(length=120), nullable=False),
        sa.Column("given_names", sa.String(length=160), nullable=False),
        sa.Column("sex", sa.String(length=1), nullable=True),
        sa.Column("nationality", sa.String(length=3), nullable=True),
        sa.Column("document_type", sa.String(length=20), nullable=True),
        sa.Column("document_number", sa.String(length=40), nullable=True),
        sa.Column("document_country", sa.String(length=3), nullable=True),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("dob_year", sa.Integer(), nullable=True),
        sa.Column("dob_month", sa.Integer(), nullable=True),
        sa.Column("dob_day", sa.Integer(), nullable=True),
        sa.Column("dob_precision", sa.String(length=10), nullable=True),
        sa.ForeignKeyConstraint(["traveller_id"], ["travellers.id"],
                                name=op.f("fk_traveller_spellings_traveller_id_travellers")),
        sa.PrimaryKeyConstraint("traveller_id", "spelling", name=op.f("pk_traveller_spellings")),
    )
    _empty()


def downgrade():
    op.drop_table("traveller_spellings")
    _empty()
