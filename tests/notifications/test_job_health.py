"""Scheduled job health: every run recorded, a failing job shown, announced to admins once per streak,
and /healthz "degraded" while it fails; the risk-pattern job survives far-future data."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from notifications import dispatcher
from notifications.models import MailMessage, NotificationEvent, OutboxMessage, SchedulerJob
from notifications.scheduler import _wrap
from screening.handlers import job_patterns
from tests import factories
from tests.tracing.builders import arrive
from tip_cases.extensions import db

FAR_FUTURE = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


def _failing(now: datetime) -> str:
    # A message quoting a traveller, as a real bug's message might: it must never reach the record or the mail.
    raise ValueError("cannot place MOKOENA Palesa born 2009-03-14 (RA123456)")


def _job(job_id: str) -> SchedulerJob:
    db.session.expire_all()
    return db.session.get(SchedulerJob, job_id)


def _mails_to(address: str) -> list[MailMessage]:
    db.session.expire_all()
    return list(db.session.scalars(select(MailMessage).where(MailMessage.recipient == address)))


def test_failing_job_is_recorded_announced_once_and_degrades_health(app, client, db_session):
    admin = factories.make_user("admin", username="admin1")
    factories.make_user("admin", username="admin-off", active=False)
    factories.make_user("manager", username="mgr1")
    run_failing = _wrap(app, "boom", "test-holder", _failing)

    assert client.get("/healthz").get_json() == {"status": "ok", "database": True}
    run_failing()
    job = _job("boom")
    assert job.consecutive_failures == 1 and job.last_failure_at is not None and job.last_success_at is None
    assert job.last_error.startswith("ValueError at tests/notifications/test_job_health.py:")
    assert "_failing" in job.last_error
    for secret in ("MOKOENA", "2009-03-14", "RA123456"):
        assert secret not in job.last_error and secret not in job.last_outcome

    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.get_json() == {"status": "degraded", "database": True}  # no job names to anonymous
    assert "boom" not in health.get_data(as_text=True)

    run_failing()  # the next run fails too: counted, not announced again
    assert _job("boom").consecutive_failures == 2
    events = db_session.scalars(select(NotificationEvent).where(NotificationEvent.event == "job.failed")).all()
    assert [e.subject_id for e in events] == ["boom"]
    outbox = db_session.scalars(select(OutboxMessage).where(OutboxMessage.event == "job.failed")).all()
    assert [m.user_id for m in outbox] == [admin.id]  # active admins only, not managers or inactive admins

    dispatcher.run_until_idle(now=datetime.now(UTC))
    [mail] = _mails_to(admin.email)
    assert mail.subject == "[Tsela] A scheduled job failed job:boom"
    assert "boom failed: ValueError at tests/notifications/test_job_health.py" in mail.body
    assert "/notifications/jobs" in mail.body and "MOKOENA" not in mail.body

    _wrap(app, "boom", "test-holder", lambda now: "fine again")()
    job = _job("boom")
    assert (job.consecutive_failures, job.last_outcome, job.runs) == (0, "fine again", 3)
    assert job.last_success_at is not None and job.last_error.startswith("ValueError")  # kept for the record
    assert client.get("/healthz").get_json()["status"] == "ok"

    run_failing()  # a new streak is announced again
    assert len(db_session.scalars(select(OutboxMessage).where(OutboxMessage.event == "job.failed")).all()) == 2


def test_jobs_page_lists_status_for_admins_only(app, login_as, db_session):
    _wrap(app, "boom", "test-holder", _failing)()
    _wrap(app, "dispatch-outbox", "test-holder", lambda now: "0")()
    admin = login_as("admin")
    home = admin.get("/").get_data(as_text=True)
    assert 'href="/notifications/jobs"' in home  # linked from the admin's navigation
    html = admin.get("/notifications/jobs").get_data(as_text=True)
    boom = html.split('data-job="boom"')[1].split("</tr>")[0]
    assert "failing" in boom and "ValueError at tests/notifications/test_job_health.py" in boom
    ok = html.split('data-job="dispatch-outbox"')[1].split("</tr>")[0]
    assert ">ok<" in ok and "never" not in ok


def test_jobs_page_refused_to_border_officers(app, login_as, db_session):
    officer = login_as("border_officer")
    assert officer.get("/notifications/jobs").status_code == 403


def test_pattern_job_succeeds_over_far_future_data(app, db_session):
    """The job that failed on every run over a 9999-12-31 crossing (crossed_at + window) now succeeds."""
    arrive("Mokoena", "Palesa", dob="2009-03-14", sex="F", document="RA123456", at=FAR_FUTURE)
    from screening.models import Traveller

    db_session.execute(Traveller.__table__.update().values(patterns_due=True))
    db_session.commit()
    _wrap(app, "tracing-patterns", "test-holder", job_patterns)()
    job = _job("tracing-patterns")
    assert job.consecutive_failures == 0 and job.last_outcome.startswith("risk flags raised")
    assert db_session.scalar(select(NotificationEvent.id).where(NotificationEvent.event == "job.failed")) is None
