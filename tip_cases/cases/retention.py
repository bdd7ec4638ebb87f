"""Retention, as data protection asks: crossings older than RETENTION_YEARS, linked to nothing an
investigator relies on, lose what identifies a person.

Pseudonymised, not deleted: the fields that identify a person (names, day and month of birth,
document and guardian document numbers, address, vehicle, travel group) are removed; year of birth,
sex, nationality, post, direction and time stay, so statistics already published keep their figures
and the traveller's count of crossings stays true. docs/operations.md says more.

A crossing is kept whole while it is linked to a flag, a match judgement, a traveller judgement, a
case (directly, or through its traveller), a traveller risk finding, or is the exit of a trip still
open (the traveller's latest crossing is an exit). Each run writes one audit row with counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import and_, case, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from notifications.scheduler import register_job
from screening import online, records, tracing
from screening.models import (
    Crossing,
    Flag,
    MatchJudgement,
    RiskFindingRecord,
    Traveller,
    TravellerJudgement,
    TravellerJudgementCrossing,
)
from tip_cases import audit
from tip_cases.cases.models import CaseLink
from tip_cases.extensions import db, utcnow
from tip_cases.models import BorderPost

# What pseudonymisation removes from a crossing; everything else stays.
REMOVED = {"surname": "", "given_names": "", "dob_month": None, "dob_day": None, "document_number": None,
           "address": None, "guardian_document_number": None, "vehicle_registration": None,
           "travel_group": None}


def cutoff(now: datetime, years: int) -> datetime:
    """The instant `years` calendar years before now (29 February falls back to the 28th)."""
    try:
        return now.replace(year=now.year - years)
    except ValueError:
        return now.replace(year=now.year - years, day=28)


def eligible(before: datetime):
    """WHERE clause: crossings before `before`, not yet pseudonymised, linked to nothing kept."""
    later = aliased(Crossing)
    traveller_kept = or_(
        exists().where(CaseLink.object_type == "traveller", CaseLink.object_id == Crossing.traveller_id),
        exists().where(or_(TravellerJudgement.traveller_id == Crossing.traveller_id,
                           TravellerJudgement.other_traveller_id == Crossing.traveller_id)),
        exists().where(RiskFindingRecord.traveller_id == Crossing.traveller_id),
    )
    open_trip_exit = and_(Crossing.direction == "exit", Crossing.traveller_id.isnot(None), ~exists().where(
        later.traveller_id == Crossing.traveller_id,
        or_(later.crossed_at > Crossing.crossed_at, and_(later.crossed_at == Crossing.crossed_at,
                                                         later.id > Crossing.id))))
    return and_(
        Crossing.crossed_at < before, Crossing.pseudonymised_at.is_(None),
        ~exists().where(Flag.crossing_id == Crossing.id),
        ~exists().where(MatchJudgement.crossing_id == Crossing.id),
        ~exists().where(TravellerJudgementCrossing.crossing_id == Crossing.id),
        ~exists().where(CaseLink.object_type == "crossing", CaseLink.object_id == Crossing.id),
        ~and_(Crossing.traveller_id.isnot(None), traveller_kept),
        ~open_trip_exit,
    )


@dataclass
class RetentionResult:
    before: datetime
    dry_run: bool
    by_year_post: dict[tuple[str, str], int] = field(default_factory=dict)
    travellers_scrubbed: int = 0

    @property
    def total(self) -> int:
        return sum(self.by_year_post.values())


def run(*, now: datetime, years: int, dry_run: bool, session: Session | None = None) -> RetentionResult:
    """Pseudonymise the eligible crossings (or only count them); the caller commits."""
    session = session or db.session()
    before = cutoff(now, years)
    where = eligible(before)
    names = dict(session.execute(select(BorderPost.id, BorderPost.code)).all())
    result = RetentionResult(before=before, dry_run=dry_run)
    tz = ZoneInfo(current_app.config.get("TIMEZONE", "Africa/Maseru"))
    first = session.execute(select(func.min(Crossing.crossed_at)).where(where)).scalar()
    if first is not None:
        first = first if first.tzinfo else first.replace(tzinfo=UTC)
        # One grouped count per local calendar year: a handful of years, each an index range.
        for y in range(first.astimezone(tz).year, before.astimezone(tz).year + 1):
            lo = datetime(y, 1, 1, tzinfo=tz).astimezone(UTC)
            hi = datetime(y + 1, 1, 1, tzinfo=tz).astimezone(UTC)
            for pid, n in session.execute(select(Crossing.border_post_id, func.count()).where(
                    where, Crossing.crossed_at >= lo, Crossing.crossed_at < hi).group_by(Crossing.border_post_id)):
                result.by_year_post[(str(y), names.get(pid, str(pid)))] = int(n)
    if dry_run or not result.total:
        return result
    with tracing.get_tracer().lock:
        touched = {t for (t,) in session.execute(select(Crossing.traveller_id).where(
            where, Crossing.traveller_id.isnot(None)).distinct())}
        session.execute(update(Crossing).where(where).values(
            pseudonymised_at=now, dob_precision=case((Crossing.dob_year.isnot(None), "year"), else_=None),
            **REMOVED).execution_options(synchronize_session=False))
        # Every process's TravellerIndex reloads at its next change, without these crossings.
        tracing.bump_generation(session)
        tracer = tracing.get_tracer()
        tracer.index, tracer.generation = None, None
        if tracing.online_attach():  # pseudonymised crossings no longer identify: their keys go
            online.refresh_keys(session, touched, records.resolve_config())
        result.travellers_scrubbed = _scrub_travellers(session, touched, now)
    audit.record("retention.run", "crossings", None, detail={
        "before": before.isoformat(), "years": years, "pseudonymised": result.total,
        "travellers_scrubbed": result.travellers_scrubbed,
        "by_year_post": {f"{y} {p}": n for (y, p), n in sorted(result.by_year_post.items())}}, session=session)
    return result


def _scrub_travellers(session: Session, ids: set[int], now: datetime) -> int:
    """Blank the names on travellers none of whose crossings identify anyone any more.

    The summary's date of birth stays: the person counts of published statistics compute the age band
    from it (tip_cases.reports.stats), and removing day and month would move some persons between bands.
    """
    if not ids:
        return 0
    scrubbed = 0
    ids_sorted = sorted(ids)
    for start in range(0, len(ids_sorted), 900):
        chunk = ids_sorted[start:start + 900]
        identified = select(Crossing.traveller_id).where(Crossing.traveller_id.in_(chunk),
                                                         Crossing.pseudonymised_at.is_(None))
        res = session.execute(update(Traveller).where(Traveller.id.in_(chunk), Traveller.id.notin_(identified))
                              .values(surname="", given_names="", updated_at=now)
                              .execution_options(synchronize_session=False))
        scrubbed += res.rowcount or 0
    return scrubbed


# --- scheduler and command -----------------------------------------------------------------------

def job_retention(now: datetime) -> str:
    result = run(now=now, years=int(current_app.config.get("RETENTION_YEARS", 5)), dry_run=False)
    db.session.commit()
    return f"pseudonymised {result.total} crossings"


def register_jobs(app: Flask) -> None:
    register_job(app, "retention", job_retention, "cron", hour=3, minute=15)


retention_cli = AppGroup("retention", help="Data protection: pseudonymise old crossings.")


@retention_cli.command("run")
@click.option("--dry-run", is_flag=True, help="Print what would be pseudonymised; change nothing.")
def retention_run(dry_run):
    """Pseudonymise crossings older than RETENTION_YEARS that are linked to no flag, case, judgement or open trip."""
    years = int(current_app.config.get("RETENTION_YEARS", 5))
    result = run(now=utcnow(), years=years, dry_run=dry_run)
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    verb = "would pseudonymise" if dry_run else "pseudonymised"
    click.echo(f"retention {years} years: crossings before {result.before.date().isoformat()}")
    for (y, post), n in sorted(result.by_year_post.items()):
        click.echo(f"  {y} {post}: {n}")
    click.echo(f"{verb} {result.total} crossings" + ("" if dry_run else
                                                     f"; travellers with names removed: {result.travellers_scrubbed}"))


def register_cli(app: Flask) -> None:
    app.cli.add_command(retention_cli)

