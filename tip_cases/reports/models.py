"""Exact daily rollups behind the managers' statistics and dashboard, kept by database triggers.

The triggers (tip_cases.reports.rollup_sql, migration 0014_stat_rollups) update these tables in the
transaction that writes crossings or flags, so a figure read from them equals the live count. The
distinct-person tables hold one row per (day, post, traveller) and (month, traveller): exact, never
an estimate. Tables carry no foreign keys so that retention and re-resolution never cascade into
figures already published.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tip_cases.extensions import db


class StatRollupState(db.Model):
    """One row: the UTC offset (minutes) the rollups' local days use, and when they were last rebuilt."""

    __tablename__ = "stat_rollup_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    offset_minutes: Mapped[int] = mapped_column(Integer)
    rebuilt_at: Mapped[datetime | None] = mapped_column()


class StatCrossingsDaily(db.Model):
    """Crossings per local day, post and direction."""

    __tablename__ = "stat_crossings_daily"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    border_post_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    direction: Mapped[str] = mapped_column(String(5), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


class StatCrossingsPeople(db.Model):
    """Crossings per local day, post, sex, age band at crossing, nationality and whether still unresolved."""

    __tablename__ = "stat_crossings_people"
    __table_args__ = (Index("ix_stat_crossings_people_unresolved", "unresolved", "day"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    border_post_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sex: Mapped[str] = mapped_column(String(1), primary_key=True)
    age_band: Mapped[str] = mapped_column(String(8), primary_key=True)
    nationality: Mapped[str] = mapped_column(String(8), primary_key=True)
    unresolved: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


class StatTravellerDays(db.Model):
    """Each traveller once per local day and post, with their first crossing there that day.

    prev_day: the day of the traveller's row before this one in (day, post) order, any post; prev_post_day:
    their day before this one at the same post. A row whose pointer is empty or before a period's first day
    is the traveller's first in that period: persons are counted by a filter (rollup_sql._PREV).
    """

    __tablename__ = "stat_traveller_days"
    # (traveller, day, post) covering the pointers: the insert trigger's lag over a traveller's rows reads the
    # index alone, in order (migration 0030).
    __table_args__ = (Index("ix_stat_traveller_days_traveller", "traveller_id", "day", "border_post_id",
                            postgresql_include=["n", "first_at", "prev_day", "prev_post_day"]),
                      Index("ix_stat_traveller_days_first", "day",
                            postgresql_include=["prev_day", "traveller_id", "first_at"]))

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    border_post_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    traveller_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
    first_at: Mapped[datetime] = mapped_column()
    prev_day: Mapped[date | None] = mapped_column(Date)
    prev_post_day: Mapped[date | None] = mapped_column(Date)


class StatFlagsDaily(db.Model):
    """Flags raised per local day and post."""

    __tablename__ = "stat_flags_daily"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    border_post_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
