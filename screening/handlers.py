"""Screening's part in other packages' machinery, wired at app start by the factory's register_handlers.

The risk-pattern jobs run in the one scheduler process; notifications.scheduler never imports
screening, so screening registers its jobs here.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from flask import Flask, current_app
from sqlalchemy import func, select

from notifications.scheduler import register_job
from screening import partitions, postsync, postsync_hq, tracing
from screening.engine import memo
from screening.models import Flag, Traveller
from tip_cases import signals as shell_signals
from tip_cases.extensions import db


def slice_done() -> None:
    """A slice of the rules committed, and the engine's memos emptied: between slices they would fill with
    every spelling and birth date of the run, more the longer the history (screening.engine.memo)."""
    db.session.commit()
    memo.clear()


def job_patterns(now: datetime) -> str:
    """Risk rules for travellers with new crossings (set aside at ingest, see screening.tracing).

    Where the API attaches before storing (PostgreSQL), it no longer looks for crossings stored without a
    traveller; this job attaches them first, committed on their own, so none is left unattached.
    """
    stranded = ""
    if tracing.attach_before_insert(db.session()):
        touched = tracing.attach_stranded(now=now)
        db.session.commit()
        stranded = f", stranded crossings attached to {len(touched)} travellers" if touched else ""
    raised = tracing.evaluate_due(now=now, commit=slice_done)
    db.session.commit()
    return f"risk flags raised {raised}{stranded}"


def nightly_rules(now: datetime) -> Counter:
    """The rules over every recently seen traveller, committed chunk by chunk; flags raised per rule.

    The scheduler's daily job, `screening patterns` and `screening resolve` all run this: a commit after
    each chunk keeps the flags of a long run from piling up in one session.
    """
    rules: Counter = Counter()
    for flags in tracing.evaluate_recent(now=now):
        rules.update(f.rule for f in flags)
        slice_done()
    return rules


def due_rules(now: datetime, *, slice_size: int = 5000) -> int:
    """The rules for every traveller marked due, committed slice by slice; flags raised.

    What `screening resolve` runs for the travellers it changed (the daily job takes the rest, whose
    crossings did not move). Bounded by the travellers due at the start: crossings arriving meanwhile mark
    more, and the patterns job takes those.
    """
    due = db.session.execute(select(func.count()).select_from(Traveller).where(Traveller.patterns_due.is_(True))
                             ).scalar_one()
    raised = 0
    for _ in range(-(-due // slice_size)):
        raised += tracing.evaluate_due(now=now, limit=slice_size, commit=slice_done)
    db.session.commit()
    return raised


def job_patterns_daily(now: datetime) -> str:
    """All recent travellers once a day: "not returned after N days" becomes true with time alone."""
    return f"risk flags raised {nightly_rules(now).total()}"


def job_partitions(now: datetime) -> str:
    """Partitions for the coming months exist before their first crossing arrives (PostgreSQL only)."""
    ahead = current_app.config["CROSSING_PARTITIONS_AHEAD"]
    made = partitions.ensure(db.session(), ahead)
    db.session.commit()
    return "crossings not partitioned" if made is None else f"partitions created {made}"


def nav_counts(user, *, keys: frozenset[str]) -> dict[str, int]:
    """New flags at the officer's post, for the navigation (ix_flags_post_status_created answers it)."""
    post_id = getattr(user, "border_post_id", None)
    if "flags_new_at_post" not in keys or post_id is None:
        return {}
    n = db.session.execute(select(func.count()).select_from(Flag).where(
        Flag.border_post_id == post_id, Flag.status == "new")).scalar_one()
    return {"flags_new_at_post": n}


def conflict_counts(user, *, keys: frozenset[str]) -> dict[str, int]:
    """Flags decided differently at a post and at headquarters, for the managers' "Post nodes" link."""
    if "flag_conflicts" not in keys:
        return {}
    n = db.session.execute(select(func.count()).select_from(Flag).where(Flag.conflict_at.is_not(None))).scalar_one()
    return {"flag_conflicts": n} if n else {}


def register(app: Flask) -> None:
    """Add the risk-pattern jobs to the scheduler (ids and timing as before the jobs moved here)."""
    shell_signals.nav_counts.connect(nav_counts)
    shell_signals.nav_counts.connect(conflict_counts)
    register_job(app, "tracing-patterns", job_patterns, "interval", start_now=True,
                 seconds=float(app.config.get("TRACING_PATTERN_SECONDS", 15)))
    register_job(app, "tracing-patterns-daily", job_patterns_daily, "cron", hour=2, minute=30)
    register_job(app, "crossing-partitions", job_partitions, "cron", hour=1, minute=45)
    if app.config.get("TSELA_ROLE") == "post":
        app.extensions["tsela_post_capture"] = postsync.store_at_post  # send the outbox whenever headquarters answers
        register_job(app, "post-sync", postsync.job_sync, "interval", start_now=True,
                     seconds=float(app.config.get("POST_SYNC_SECONDS", 30)))
    else:  # remind a post's managers when its node has gone quiet
        register_job(app, "post-sync-overdue", postsync_hq.job_sync_overdue, "interval", minutes=10)
