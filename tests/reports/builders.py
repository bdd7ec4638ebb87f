"""Builders for report tests: crossings, flags and cases with known figures."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

from tests import factories
from tip_cases.extensions import db

_seq = itertools.count(1)


def crossing(at: datetime, *, post: str = "MSB", direction: str = "entry", sex: str | None = "F",
             dob: tuple[int | None, int | None, int | None] = (1990, 6, 15), nationality: str | None = "LSO"):
    from screening.models import Crossing

    y, m, d = dob
    c = Crossing(source="test", external_id=f"R{next(_seq):07d}", border_post_id=factories.post(post).id,
                 direction=direction, crossed_at=at, surname="Test", given_names="Traveller", sex=sex,
                 nationality=nationality, dob_year=y, dob_month=m, dob_day=d,
                 dob_precision="day" if d else ("year" if y else None))
    db.session.add(c)
    db.session.flush()
    return c


def flag(c, *, status: str = "new", created: datetime | None = None, ack_after: timedelta | None = None):
    from screening.models import Flag

    created = created or c.crossed_at
    f = Flag(crossing_id=c.id, border_post_id=c.border_post_id, score=0.9, status=status, created_at=created,
             acknowledged_at=(created + ack_after) if ack_after is not None else None)
    db.session.add(f)
    db.session.flush()
    return f


def person(*, sex: str = "F", dob_year: int | None = 2008, nationality: str = "LSO"):
    from screening.models import Person

    p = Person(surname="Mokoena", given_names=f"P{next(_seq)}", sex=sex, nationality=nationality,
               dob_year=dob_year, dob_month=1 if dob_year else None, dob_day=1 if dob_year else None,
               dob_precision="day" if dob_year else None, category="victim", alert_kind="protective")
    db.session.add(p)
    db.session.flush()
    return p


def case(owner, *, opened: datetime, kind: str = "trafficking", status: str = "Active",
         stage: str = "investigation"):
    from tip_cases.cases.models import Case

    c = Case(reference=f"TIP-2026-{next(_seq):04d}", kind=kind, status=status, stage=stage, title="Test case",
             owner_id=owner.id, opened_at=opened)
    db.session.add(c)
    db.session.flush()
    return c


def victim(c, *, sex: str = "F", dob_year: int | None = 2008, nationality: str = "LSO",
           types=("SexualExploitation",), controls=("DebtBondage",), age_when_trafficked: int | None = None,
           exploited_in: str | None = None):
    from tip_cases.cases.models import CasePerson, TraffickingEvent

    cp = CasePerson(case_id=c.id, person_id=person(sex=sex, dob_year=dob_year, nationality=nationality).id,
                    role="victim", trafficking_status="ActualVictimOfTrafficking",
                    exploitation_types=list(types), methods_of_control=list(controls),
                    age_when_trafficked=age_when_trafficked)
    db.session.add(cp)
    db.session.flush()
    if exploited_in:
        db.session.add(TraffickingEvent(case_id=c.id, case_person_id=cp.id, type="Exploitation",
                                        country=exploited_in, event_date=date(2026, 1, 1)))
    return cp


def suspect(c, role: str = "RecruiterOrIntermediary"):
    from tip_cases.cases.models import CasePerson

    cp = CasePerson(case_id=c.id, person_id=person(sex="M", dob_year=1980).id, role="perpetrator",
                    perpetrator_role=role)
    db.session.add(cp)
    db.session.flush()
    return cp


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)
