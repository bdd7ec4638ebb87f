"""The demo cases show what a new user should see: access limits, an overdue task, waiting work."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.factories import make_user
from tip_cases.access import can
from tip_cases.cases import demo as case_demo
from tip_cases.cases import services as svc
from tip_cases.cases.models import Case, CasePerson
from tip_cases.extensions import db, utcnow


def test_demo_cases_load_once_and_show_the_workflow(app):
    owner = make_user("investigator", username="investigator")
    other = make_user("investigator", username="investigator2")
    lines = case_demo.load()
    assert "TIP-" in lines[0] and "SMG-" in lines[0]
    assert case_demo.load() == ["demo cases: already present"]
    cases = db.session.execute(select(Case).order_by(Case.id)).scalars().all()
    assert [c.kind for c in cases] == ["trafficking", "smuggling"]
    assert all(c.owner_id == owner.id for c in cases)
    assert not any(can(other, "case.view", c) for c in cases) and all(can(owner, "case.edit", c) for c in cases)
    victim = db.session.execute(select(CasePerson).where(CasePerson.role == "victim")).scalar_one()
    assert victim.recruitment_method == "ThroughOnlineSocialNetworks" and victim.forced_labour_industry == "T"
    assert "Gauteng" in victim.exploitation_place
    now = utcnow()
    assert [t.case_id for t in svc.overdue_tasks(now)] == [cases[0].id]
    assert [r.case_id for r in svc.unacknowledged_referrals(now)] == [cases[0].id]
    assert svc.pending_closure(cases[1]) is not None and svc.pending_closure(cases[0]) is None
    assert db.session.execute(select(func.count()).select_from(CasePerson)).scalar() == 3
