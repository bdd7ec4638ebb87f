"""Tracing through the key table: each name key x year of birth is now a traveller key too (issue 10).

The Trace page, `screening trace` and the bulk trace used to build an index of every stored crossing for
each request (88 s and +800 MiB at 1M crossings); they now read their candidates from `traveller_keys`,
which needs the single-name keys a person traced by one name (or with one name misspelt) is found by.

Upgrade: empties `traveller_keys` and `name_token_counts` (no schema change), so the keys are rebuilt
with the new ones: run `flask --app tip_cases screening rebuild-keys` right after `db upgrade` (the first
attach or trace otherwise rebuilds them in its own request, as after 0021). Downgrade: the same emptying;
the older code rebuilds the keys it knows.

Revision ID: 0024_trace_keys
Revises: 0023_crossing_keys
"""

from alembic import op

revision = "0024_trace_keys"
down_revision = "0023_crossing_keys"
branch_labels = None
depends_on = None


def _empty() -> None:
    op.execute("DELETE FROM traveller_keys")
    op.execute("DELETE FROM name_token_counts")


def upgrade():
    _empty()


def downgrade():
    _empty()
