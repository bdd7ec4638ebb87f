"""How the cases package answers other packages, connected at app start (the factory's register_handlers).

Dependencies point one way: cases import screening and notifications, never the reverse. So the
partner's acknowledgement of a referral, the case reminders of the scheduler's reminders job and the
cases shown on screening's flag and traveller pages arrive here as signals (notifications.signals,
screening.signals).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from flask_login import current_user
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from notifications import rules
from notifications import signals as notification_signals
from notifications.services import not_yet_published, publish
from screening import signals as screening_signals
from screening.models import Crossing, Traveller
from tip_cases import signals as shell_signals
from tip_cases.cases.forms import AttachFlagForm
from tip_cases.cases.models import Case, CaseLink, CaseTask
from tip_cases.cases.search import search_hits
from tip_cases.cases.services import (
    acknowledge_referral,
    cases_for_flag,
    idle_cases,
    overdue_tasks,
    unacknowledged_referrals,
)
from tip_cases.extensions import db

# --- reminders (the scheduler's "reminders" job) ---------------------------------------------------

def remind_overdue(*, now: datetime) -> dict[str, int]:
    """Overdue tasks and referrals not acknowledged by their deadline: one event each, once."""
    counts = {"task.overdue": 0, "referral.unacknowledged": 0}
    due = [("task.overdue", "case_task", t.id, t.case.reference, t.due_on) for t in overdue_tasks(now)]
    due += [("referral.unacknowledged", "referral", r.id, r.case.reference, r.ack_due_at)
            for r in unacknowledged_referrals(now)]
    for event, subject, ident, ref, deadline in due:
        if not not_yet_published(event, subject, ident):
            continue
        publish(event, ref=ref, subject_type=subject, subject_id=ident, priority="high",
                data={"due": deadline.isoformat()}, now=now)
        counts[event] += 1
    return counts


def remind_idle_cases(*, now: datetime, days: int) -> int:
    """Open cases untouched for `days` days: one case.idle event per case per idle period."""
    count = 0
    cutoff = now - timedelta(days=days)
    for case in idle_cases(now, days):
        if not not_yet_published("case.idle", "case", case.id, since=cutoff):
            continue
        publish("case.idle", ref=case.reference, subject_type="case", subject_id=case.id,
                data={"reason": rules.reason("idle", days=days)}, now=now)
        count += 1
    return count


# --- cases on screening's pages --------------------------------------------------------------------

def cases_of(traveller: Traveller, flag_ids: Iterable[int], session: Session | None = None,
             crossing_ids: Iterable[int] | None = None) -> list:
    """Cases linked to the traveller, to one of their crossings or to one of their flags.

    The traveller page passes the crossing ids it has already read, sparing a read of every month partition.
    """
    session = session or db.session()
    if crossing_ids is None:
        crossing_ids = select(Crossing.id).where(Crossing.traveller_id == traveller.id)
    else:
        crossing_ids = list(crossing_ids) or [-1]
    flag_ids = list(flag_ids)
    cond = or_(and_(CaseLink.object_type == "traveller", CaseLink.object_id == traveller.id),
               and_(CaseLink.object_type == "crossing", CaseLink.object_id.in_(crossing_ids)),
               and_(CaseLink.object_type == "flag", CaseLink.object_id.in_(flag_ids or [-1])))
    return list(session.execute(select(Case).join(CaseLink, CaseLink.case_id == Case.id).where(cond).distinct()
                                .order_by(Case.id)).scalars())


# --- receivers ---------------------------------------------------------------------------------------

def _on_referral_acknowledged(_sender, *, referral_id: int, by: str, now: datetime) -> None:
    acknowledge_referral(referral_id, by=by, now=now)


def _on_reminders_due(_sender, *, now: datetime, idle_days: int) -> str:
    overdue = remind_overdue(now=now)
    idle = remind_idle_cases(now=now, days=idle_days)
    return f"{overdue}, idle cases {idle}"


def _flag_page(flag) -> dict:
    return {"linked_cases": cases_for_flag(flag.id, current_user), "attach_form": AttachFlagForm()}


def _traveller_page(traveller: Traveller, *, flag_ids: list[int], crossing_ids: list[int] | None = None) -> dict:
    return {"cases": cases_of(traveller, flag_ids, crossing_ids=crossing_ids)}


def _search(query, *, actor) -> list:
    return search_hits(query, actor=actor)


def nav_counts(user, *, keys: frozenset[str]) -> dict[str, int]:
    """The user's open tasks due today or earlier, for the navigation (ix_case_tasks_assignee_id answers it)."""
    if "tasks_due_mine" not in keys or getattr(user, "id", None) is None:
        return {}
    today = datetime.now(ZoneInfo(current_app.config["TIMEZONE"])).date()
    n = db.session.execute(select(func.count()).select_from(CaseTask).where(
        CaseTask.assignee_id == user.id, CaseTask.completed_at.is_(None), CaseTask.due_on <= today)).scalar_one()
    return {"tasks_due_mine": n}


def register(app: Flask) -> None:
    """Connect the receivers (blinker keeps one connection per receiver, so a second app adds none)."""
    shell_signals.nav_counts.connect(nav_counts)
    notification_signals.referral_acknowledged.connect(_on_referral_acknowledged)
    notification_signals.reminders_due.connect(_on_reminders_due)
    screening_signals.flag_page.connect(_flag_page)
    screening_signals.traveller_page.connect(_traveller_page)
    screening_signals.search.connect(_search)
