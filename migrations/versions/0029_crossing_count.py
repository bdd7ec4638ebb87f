"""Online attach weighs the prior of every stored crossing: a "#crossings" row in name_token_counts.

The prior falls as the history compared against grows (more namesakes). The batch resolution scales it to the
crossings it resolves; online attach scaled it to the few dozen candidates it had read, so once the history
outgrew the model's own sample it linked namesakes that the nightly resolution then kept apart. The count is
kept with the token counts (attach adds its crossings, a refresh moves it, a rebuild recounts it).

Upgrade: the count is the sum of traveller_spellings.crossing_count (the crossings attached and not
pseudonymised), written only where the key tables are filled (otherwise the first attach rebuilds them, count
included). One aggregate over traveller_spellings: seconds at 20M crossings. Downgrade: deletes the row.

Revision ID: 0029_crossing_count
Revises: 0028_prev_refresh_bulk
"""

from alembic import op

revision = "0029_crossing_count"
down_revision = "0028_prev_refresh_bulk"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("DELETE FROM name_token_counts WHERE token = '#crossings'")
    op.execute("INSERT INTO name_token_counts (token, n) "
               "SELECT '#crossings', s FROM (SELECT COALESCE(SUM(crossing_count), 0) AS s FROM traveller_spellings) q "
               "WHERE EXISTS (SELECT 1 FROM traveller_keys)")


def downgrade():
    op.execute("DELETE FROM name_token_counts WHERE token = '#crossings'")
