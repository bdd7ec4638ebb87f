"""Health of the scheduler's jobs: every run's outcome is recorded, and a failing job is announced.

A job that failed quietly once stopped risk-pattern flags for a post without anyone noticing. Now each
run stores its outcome in `scheduler_jobs` (last success, last failure with the exception type and
where it was raised, consecutive failures); the first failure of a streak publishes `job.failed` and
e-mails every active admin through the outbox; `/healthz` says "degraded" while any job is failing;
and the "Scheduled jobs" page lists them all.

The error text never includes the exception's message: messages can quote a name, a date of birth or
a document number from the row being processed. Only the type, the file and line in Tsela's code, and
the fixed messages of arithmetic errors ("date value out of range") are kept.
"""

from __future__ import annotations

import logging
import traceback
from datetime import datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from notifications import rules, services
from notifications.models import SchedulerJob
from tip_cases.extensions import db
from tip_cases.models import User

log = logging.getLogger("tsela.scheduler")

FAILED_EVENT = "job.failed"
_ROOT = Path(__file__).resolve().parents[1]


def describe(exc: BaseException) -> str:
    """The exception type and where Tsela's code raised it; never the message (it may quote personal data)."""
    text = type(exc).__name__
    if isinstance(exc, ArithmeticError) and exc.args and isinstance(exc.args[0], str):
        text += f": {exc.args[0][:80]}"  # Python's own fixed wording, no values
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if Path(f.filename).resolve().is_relative_to(_ROOT)
            and ".venv" not in Path(f.filename).parts and "site-packages" not in Path(f.filename).parts]
    frame = ours[-1] if ours else None
    if frame is not None:
        text += f" at {Path(frame.filename).resolve().relative_to(_ROOT)}:{frame.lineno} in {frame.name}"
    return text[:300]


def record(job_id: str, holder: str, now: datetime, *, outcome: str = "", error: BaseException | None = None
           ) -> SchedulerJob:
    """Record one run of a job; the first failure after a success notifies the admins. The caller commits."""
    row = db.session.get(SchedulerJob, job_id)
    if row is None:
        row = SchedulerJob(job_id=job_id, runs=0, consecutive_failures=0)
        db.session.add(row)
    row.last_run_at, row.last_holder, row.runs = now, holder, (row.runs or 0) + 1
    if error is None:
        row.last_outcome = (outcome or "ok")[:300]
        row.last_success_at = now
        row.consecutive_failures = 0
        return row
    row.last_error = describe(error)
    row.last_outcome = f"error: {row.last_error}"[:300]
    row.last_failure_at = now
    row.consecutive_failures = (row.consecutive_failures or 0) + 1
    if row.consecutive_failures == 1:  # once per streak: a job retried every 15 s must not flood inboxes
        try:
            with db.session.begin_nested():
                notify_admins(row, now)
        except SQLAlchemyError:  # the record of the failure matters more than the e-mail about it
            log.exception("job %s: could not queue the admins' notification", row.job_id)
    return row


def admin_recipients() -> list[User]:
    """Active admins with an e-mail address: they run the system and can restart or fix a job."""
    return list(db.session.execute(select(User).where(
        User.role == "admin", User.active.is_(True), User.email.is_not(None)).order_by(User.id)).scalars())


def notify_admins(row: SchedulerJob, now: datetime) -> int:
    """Publish `job.failed` (in the event log) and queue one e-mail per admin in the outbox; returns how many."""
    base = current_app.config.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    data = {"reason": rules.reason("job_failed", job=row.job_id, error=row.last_error), "status": "failing"}
    link = f"{base}/notifications/jobs"
    record_, _ = services._publish(FAILED_EVENT, ref=f"job:{row.job_id}", subject_type="scheduler_job",
                                   subject_id=row.job_id, priority="high", kind="scheduler", data=data, now=now,
                                   link=link)
    ev = rules.Event(FAILED_EVENT, f"job:{row.job_id}", "scheduler_job", row.job_id, now, priority="high",
                     kind="scheduler", data=data)
    admins = admin_recipients()
    for user in admins:
        services._enqueue(record_, ev, None, None, rule_id=None, now=now, user=user, address=user.email, link=link)
    if not admins:
        log.warning("job %s failed and no active admin has an e-mail address to tell", row.job_id)
    return len(admins)


def failing_jobs() -> list[SchedulerJob]:
    """Jobs whose latest run failed."""
    return list(db.session.execute(select(SchedulerJob).where(SchedulerJob.consecutive_failures > 0)
                                   .order_by(SchedulerJob.job_id)).scalars())


def all_jobs() -> list[SchedulerJob]:
    return list(db.session.execute(select(SchedulerJob).order_by(SchedulerJob.job_id)).scalars())
