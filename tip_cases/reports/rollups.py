"""The statistics rollups: rebuild from scratch and check them against the live counts.

The triggers keep the rollups exact as rows are written (tip_cases.reports.rollup_sql); a rebuild is
for after a change of the unit's time zone, a restore of a backup taken without them, or a bulk load
that ran with triggers disabled.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from tip_cases.reports import rollup_sql, stats
from tip_cases.reports.models import StatRollupState


def rebuild(session: Session, *, now: datetime) -> dict[str, int]:
    """Recount every rollup from crossings and flags with the configured UTC offset; returns row counts.

    Runs in the caller's transaction, so readers see either the old or the new rollups.
    """
    state = session.get(StatRollupState, 1)
    if state is None:
        state = StatRollupState(id=1, offset_minutes=stats._offset_minutes())
        session.add(state)
    state.offset_minutes, state.rebuilt_at = stats._offset_minutes(), now
    session.flush()
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # Serialise with writers: a crossing stored during the recount would be counted twice or never.
        session.execute(text("LOCK TABLE crossings, flags IN SHARE ROW EXCLUSIVE MODE"))
    for stmt in rollup_sql.rebuild(dialect):
        session.execute(text(stmt))
    return {t: session.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()  # noqa: S608 (fixed names)
            for t in rollup_sql.TABLES}
