"""Generation counters that tell each worker process when its in-memory index is stale.

One row (id 1) per counter table; bumped in the caller's transaction, so a rolled-back change never
moves it. Used for the persons-of-interest index (screening_state) and the traveller index
(tracing_state).
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import InstrumentedAttribute, Session


def read_counter(session: Session, column: InstrumentedAttribute) -> int:
    model = column.class_
    return session.execute(select(column).where(model.id == 1)).scalar() or 0


def bump_counter(session: Session, column: InstrumentedAttribute) -> int:
    """Move the counter (creating its row on first use); returns the new value."""
    model = column.class_
    done = session.execute(update(model).where(model.id == 1).values({column.key: column + 1}))
    if not done.rowcount:
        session.add(model(id=1, **{column.key: 1}))
        session.flush()
    return read_counter(session, column)
