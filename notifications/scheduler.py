"""The one scheduler process (`flask scheduler run`): elected by a database lock, APScheduler 3 inside.

Election: on PostgreSQL a session advisory lock held on a dedicated connection (the server releases
it the moment the process or its connection dies); on SQLite a lease row renewed every few seconds
(a standby takes it once it has expired). The `scheduler_leases` row also shows who is active on
PostgreSQL. Jobs have fixed ids, `coalesce` and `max_instances=1`; each records its last run in
`scheduler_jobs`. Never started by the web app or by the tests' app.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from notifications import dispatcher, jobhealth, services, signals
from notifications.models import SchedulerLease
from tip_cases import audit
from tip_cases.extensions import db, utcnow

log = logging.getLogger("tsela.scheduler")

LEASE_NAME = "scheduler"
PG_LOCK_KEY = 0x75E1A5C  # advisory lock id: "the active scheduler"


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:80]


class SqliteLease:
    """Lease row: taken when free or expired, renewed by its holder, lost when someone else holds it."""

    def __init__(self, holder: str, ttl: timedelta):
        self.holder, self.ttl = holder, ttl

    def _take(self, now: datetime) -> bool:
        session = db.session
        res = session.execute(
            sa.update(SchedulerLease).where(
                SchedulerLease.name == LEASE_NAME,
                sa.or_(SchedulerLease.holder == self.holder, SchedulerLease.expires_at < now))
            .values(holder=self.holder, heartbeat_at=now, expires_at=now + self.ttl))
        if res.rowcount == 0 and session.get(SchedulerLease, LEASE_NAME) is None:
            session.add(SchedulerLease(name=LEASE_NAME, holder=self.holder, acquired_at=now, heartbeat_at=now,
                                       expires_at=now + self.ttl))
            try:
                session.commit()
                return True
            except IntegrityError:
                session.rollback()
                return False
        session.commit()
        return res.rowcount == 1

    def acquire(self, now: datetime) -> bool:
        ok = self._take(now)
        if ok:
            db.session.execute(sa.update(SchedulerLease).where(SchedulerLease.name == LEASE_NAME)
                               .values(acquired_at=now))
            db.session.commit()
        return ok

    def renew(self, now: datetime) -> bool:
        return self._take(now)

    def release(self) -> None:
        db.session.execute(sa.update(SchedulerLease).where(SchedulerLease.name == LEASE_NAME,
                                                           SchedulerLease.holder == self.holder)
                           .values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()


class PostgresLock:
    """pg_try_advisory_lock on a connection of its own, outside the pool, kept for the process's life."""

    def __init__(self, url: str, holder: str, ttl: timedelta):
        self.engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        self.holder, self.ttl = holder, ttl
        self.conn: sa.Connection | None = None

    def _show(self, now: datetime, acquired: bool) -> None:
        """Record the holder in the lease row, for people and tests; the lock itself is the election."""
        values = {"holder": self.holder, "heartbeat_at": now, "expires_at": now + self.ttl}
        if acquired:
            values["acquired_at"] = now
        res = db.session.execute(sa.update(SchedulerLease).where(SchedulerLease.name == LEASE_NAME).values(**values))
        if res.rowcount == 0:
            db.session.add(SchedulerLease(name=LEASE_NAME, **{"acquired_at": now, **values}))
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()

    def acquire(self, now: datetime) -> bool:
        try:
            if self.conn is None:
                self.conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            got = bool(self.conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": PG_LOCK_KEY}).scalar())
        except SQLAlchemyError:
            self._drop()
            return False
        if got:
            self._show(now, acquired=True)
        return got

    def renew(self, now: datetime) -> bool:
        """Still ours while the dedicated connection answers; a dead connection means the lock is gone."""
        try:
            held = self.conn is not None and bool(self.conn.execute(sa.text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :k AND granted "
                "AND pid = pg_backend_pid()"), {"k": PG_LOCK_KEY}).scalar())
        except SQLAlchemyError:
            held = False
        if not held:
            self._drop()
            return False
        self._show(now, acquired=False)
        return True

    def _drop(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except SQLAlchemyError:
                pass
        self.conn = None

    def release(self) -> None:
        if self.conn is not None:
            try:
                self.conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": PG_LOCK_KEY})
            except SQLAlchemyError:
                pass
        self._drop()
        self.engine.dispose()


def election_for(app: Flask, holder: str, ttl: timedelta):
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("postgresql"):
        return PostgresLock(url, holder, ttl)
    return SqliteLease(holder, ttl)


def record_run(job_id: str, holder: str, outcome: str, now: datetime, error: BaseException | None = None) -> None:
    """Record a run's outcome (notifications.jobhealth); a failure is shown to admins, never silent."""
    try:
        jobhealth.record(job_id, holder, now, outcome=outcome, error=error)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()


# --- jobs ----------------------------------------------------------------------------------------

def job_dispatch(now: datetime) -> str:
    return str(dispatcher.run_until_idle(now=now, max_batches=20))


def job_reminders(now: datetime, *, escalate_after: timedelta, idle_days: int) -> str:
    """Flag escalations here; the owning packages publish their own reminders (see notifications.signals)."""
    flags = services.escalate_unacknowledged_flags(now=now, after=escalate_after)
    outcomes = [outcome for _, outcome in signals.reminders_due.send(None, now=now, idle_days=idle_days)]
    db.session.commit()
    return ", ".join([f"escalated flags {flags}", *outcomes])


def job_digest(period: str, now: datetime) -> str:
    sent = services.send_digest(period, now=now)
    db.session.commit()
    return "sent" if sent else "already sent for this period"


def job_audit_checkpoint(now: datetime) -> str:
    """Sign the audit chain's head outside the database, so deleting or rewriting rows is detected.

    A refusal (the trail fails verification) raises: it is a failed run, logged and shown, never quiet."""
    cp = audit.checkpoint(now=now)
    return f"checkpoint #{cp.seq}: {cp.rows} rows up to row {cp.last_id}"


def _wrap(app: Flask, job_id: str, holder: str, fn: Callable[[datetime], str]) -> Callable[[], None]:
    def run() -> None:
        with app.app_context():
            now = utcnow()
            error = None
            try:
                outcome = fn(now)
            except Exception as exc:  # noqa: BLE001 - a failing job is recorded, announced and retried next time
                db.session.rollback()
                log.exception("job %s failed", job_id)
                outcome, error = "", exc
            record_run(job_id, holder, outcome, now, error)
            db.session.remove()
    return run


_JOBS = "tsela_scheduler_jobs"


def register_job(app: Flask, job_id: str, fn: Callable[[datetime], str], trigger: str, *, start_now: bool = False,
                 **trigger_args) -> None:
    """Another package's job, registered at app start, so this module never imports that package's services.

    `fn(now)` returns the outcome recorded in scheduler_jobs; `start_now` runs an interval job at once.
    """
    app.extensions.setdefault(_JOBS, {})[job_id] = (fn, trigger, start_now, trigger_args)


def build_scheduler(app: Flask, holder: str, *, dispatch_every: float = 5.0):
    """A BackgroundScheduler with the fixed job set; times are Africa/Maseru."""
    from apscheduler.schedulers.background import BackgroundScheduler

    cfg = app.config
    tz = ZoneInfo(cfg.get("TIMEZONE", "Africa/Maseru"))
    sched = BackgroundScheduler(timezone=tz, job_defaults={"coalesce": True, "max_instances": 1,
                                                           "misfire_grace_time": 600})
    escalate_after = timedelta(minutes=float(cfg.get("NOTIFY_ESCALATE_AFTER_MINUTES", 15)))
    idle_days = int(cfg.get("NOTIFY_IDLE_CASE_DAYS", 14))
    hour, minute = (int(x) for x in str(cfg.get("NOTIFY_DIGEST_TIME", "07:00")).split(":"))
    sched.add_job(_wrap(app, "dispatch-outbox", holder, job_dispatch), "interval", seconds=dispatch_every,
                  id="dispatch-outbox", replace_existing=True, next_run_time=datetime.now(tz))
    sched.add_job(_wrap(app, "reminders", holder,
                        lambda now: job_reminders(now, escalate_after=escalate_after, idle_days=idle_days)),
                  "interval", seconds=float(cfg.get("NOTIFY_REMINDER_SECONDS", 60)), id="reminders",
                  replace_existing=True, next_run_time=datetime.now(tz))
    sched.add_job(_wrap(app, "digest-daily", holder, lambda now: job_digest("daily", now)), "cron",
                  hour=hour, minute=minute, id="digest-daily", replace_existing=True)
    sched.add_job(_wrap(app, "digest-weekly", holder, lambda now: job_digest("weekly", now)), "cron",
                  day_of_week="mon", hour=hour, minute=minute, id="digest-weekly", replace_existing=True)
    sched.add_job(_wrap(app, "audit-checkpoint", holder, job_audit_checkpoint), "interval",
                  minutes=float(cfg.get("AUDIT_CHECKPOINT_MINUTES", 15)), id="audit-checkpoint",
                  replace_existing=True, next_run_time=datetime.now(tz))
    for job_id, (fn, trigger, start_now, trigger_args) in app.extensions.get(_JOBS, {}).items():
        if start_now:
            trigger_args = {**trigger_args, "next_run_time": datetime.now(tz)}
        sched.add_job(_wrap(app, job_id, holder, fn), trigger, id=job_id, replace_existing=True, **trigger_args)
    return sched


_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameters (malloc.h)
_M_ARENA_MAX = -8


def tune_malloc(arenas: int = 2, mmap_threshold: int = 64 * 1024) -> dict[str, bool]:
    """Cap glibc's malloc arenas and fix its mmap threshold for this process, each unless the operator set it
    (MALLOC_ARENA_MAX, MALLOC_MMAP_THRESHOLD_); says which was applied. Must run before the job threads start.

    APScheduler runs each job in a pool thread, and glibc gives each thread that allocates its own arena (up
    to 8 per core), each keeping the memory its jobs freed: capped at two, the scheduler's RSS fell by ~35 MiB
    at 100k and at 20M crossings alike (docs/performance.md, session 12). The pattern job's large transient
    blocks (query results, a slice's dicts and lists) are then what stays: glibc raises its mmap threshold to
    the largest block freed, so later ones come from the heap, which keeps the pages. A fixed threshold sends
    every block over 64 KiB to mmap, returned at free: at 20M crossings the scheduler held 163 MiB instead of
    175 after the same work (session 25).
    """
    import ctypes
    import ctypes.util

    wanted = {"arenas": ("MALLOC_ARENA_MAX", _M_ARENA_MAX, arenas),
              "mmap_threshold": ("MALLOC_MMAP_THRESHOLD_", _M_MMAP_THRESHOLD, mmap_threshold)}
    applied = dict.fromkeys(wanted, False)
    name = ctypes.util.find_library("c")
    if not name:
        return applied
    try:
        libc = ctypes.CDLL(name)
        for key, (variable, param, value) in wanted.items():
            if not os.environ.get(variable):
                applied[key] = bool(libc.mallopt(param, value))
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to tune
        pass
    return applied


def run(app: Flask, *, holder: str | None = None, ttl: float = 15.0, poll: float = 2.0,
        dispatch_every: float = 5.0, stop: threading.Event | None = None,
        say: Callable[[str], None] = print) -> None:
    """Stand by until elected, then run the jobs; step down if the lock is lost. Returns when `stop` is set."""
    holder = holder or holder_name()
    stop = stop or threading.Event()
    sched = None
    with app.app_context():
        election = election_for(app, holder, timedelta(seconds=ttl))
        say(f"scheduler {holder}: standby (waiting for the database lock)")
        try:
            while not stop.is_set():
                now = utcnow()
                try:
                    if sched is None:
                        if election.acquire(now):
                            sched = build_scheduler(app, holder, dispatch_every=dispatch_every)
                            sched.start()
                            say(f"scheduler {holder}: active")
                    elif not election.renew(now):
                        sched.shutdown(wait=False)
                        sched = None
                        say(f"scheduler {holder}: lost the lock, back to standby")
                except SQLAlchemyError:
                    db.session.rollback()
                    log.exception("scheduler %s: database error during election", holder)
                db.session.remove()
                stop.wait(poll)
        finally:
            if sched is not None:
                sched.shutdown(wait=True)
            election.release()
            say(f"scheduler {holder}: stopped")
