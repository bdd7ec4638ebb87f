"""Headquarters' record of what it has published to post nodes: the current entries and each delta.

`watchlist_entries` holds the minimised entry last published for each screened person (and its hash,
so the next publication finds what changed without comparing field by field); `watchlist_deltas`
holds one row per publication, numbered without gaps, with the changes that a post at the previous
number needs (the first publication is a baseline: posts start from the full extract).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tip_cases.extensions import db, utcnow


class WatchlistEntry(db.Model):
    __tablename__ = "watchlist_entries"

    person_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    entry: Mapped[dict] = mapped_column(JSON)
    entry_hash: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer, index=True)  # the publication that last added or changed it


class WatchlistDelta(db.Model):
    __tablename__ = "watchlist_deltas"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    added: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    expired: Mapped[int] = mapped_column(Integer, default=0)
    # {"added": [entry...], "changed": [entry...], "expired": [person_id...]}; None for a baseline.
    changes: Mapped[dict | None] = mapped_column(JSON)
