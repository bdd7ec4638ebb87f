"""Retention: old crossings linked to nothing are pseudonymised; linked ones never; figures survive."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from screening import tracing
from screening.models import Crossing, Traveller, TravellerJudgement
from tests import factories
from tests.reports import builders as b
from tip_cases.cases import retention
from tip_cases.cases.models import CaseLink
from tip_cases.extensions import db
from tip_cases.models import AuditEvent
from tip_cases.reports import stats

NOW = datetime(2031, 6, 1, 12, 0, tzinfo=UTC)
OLD = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)  # more than 5 years before NOW


def _traveller(**kw) -> Traveller:
    t = Traveller(surname="Mokoena", given_names="Lerato", sex="F", nationality="LSO", dob_year=1990, dob_month=6,
                  dob_day=15, **kw)
    db.session.add(t)
    db.session.flush()
    return t


def _old(traveller=None, *, at=OLD, direction="entry", post="MSB"):
    c = b.crossing(at, direction=direction, post=post)
    c.document_number, c.address = "RA123456", "Ha Thetsane"
    c.traveller_id = traveller.id if traveller else None
    db.session.flush()
    return c


def _scenario():
    """Eligible and kept crossings, by every reason a crossing is kept."""
    t_plain, t_case, t_judged, t_open = _traveller(), _traveller(), _traveller(), _traveller()
    eligible = [_old(t_plain), _old(t_plain, at=OLD + timedelta(days=1), direction="exit"),
                _old(t_plain, at=OLD + timedelta(days=2), post="MPB"), _old(None)]
    # t_plain's latest crossing is an entry: no open trip.
    eligible.append(_old(t_plain, at=OLD + timedelta(days=3)))
    flagged = _old(None)
    b.flag(flagged)
    linked = _old(None)
    case = b.case(factories.make_user(role="investigator"), opened=OLD)
    db.session.add(CaseLink(case_id=case.id, object_type="crossing", object_id=linked.id))
    via_traveller = _old(t_case)
    db.session.add(CaseLink(case_id=case.id, object_type="traveller", object_id=t_case.id))
    judged = _old(t_judged)
    db.session.add(TravellerJudgement(verdict="same", traveller_id=t_judged.id, other_traveller_id=_traveller().id,
                                      reason="checked"))
    open_exit = _old(t_open, direction="exit")
    recent = b.crossing(NOW - timedelta(days=30))
    db.session.flush()
    kept = [flagged, linked, via_traveller, judged, open_exit, recent]
    return eligible, kept, t_plain


def _snapshot():
    return {c.id: (c.surname, c.given_names, c.dob_month, c.dob_day, c.document_number, c.address,
                   c.pseudonymised_at) for c in db.session.execute(select(Crossing)).scalars()}


def test_dry_run_changes_nothing_and_counts_per_year_and_post(app, db_session):
    eligible, kept, _t = _scenario()
    db.session.commit()
    before = _snapshot()
    result = retention.run(now=NOW, years=5, dry_run=True)
    db.session.commit()
    assert result.total == len(eligible) == 5
    assert result.by_year_post == {("2025", "MSB"): 4, ("2025", "MPB"): 1}
    db.session.expire_all()
    assert _snapshot() == before
    assert db.session.execute(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == "retention.run")).scalar_one() == 0


def test_run_pseudonymises_exactly_the_eligible_and_figures_survive(app, db_session):
    eligible, kept, t_plain = _scenario()
    db.session.commit()
    f = stats.Filters(date(2025, 1, 1), date(2025, 12, 31))
    published = stats.statistics(f)
    before = _snapshot()
    generation = tracing.read_generation(db.session)

    result = retention.run(now=NOW, years=5, dry_run=False)
    db.session.commit()
    db.session.expire_all()

    assert result.total == 5
    after = _snapshot()
    for c in eligible:
        surname, given, month, day, doc, address, at = after[c.id]
        assert (surname, given, month, day, doc, address) == ("", "", None, None, None, None) and at is not None
        row = db.session.get(Crossing, c.id)
        assert (row.dob_year, row.sex, row.nationality, row.crossed_at) == (1990, "F", "LSO", c.crossed_at)
    for c in kept:
        assert after[c.id] == before[c.id], "a linked, open or recent crossing was touched"
    # Published figures keep their values (crossing and person tables, from the rollups).
    assert stats.statistics(f) == published
    # Every process reloads its traveller index, which no longer holds the pseudonymised crossings.
    assert tracing.read_generation(db.session) == generation + 1
    index = tracing.get_tracer().build(db.session, tracing.resolve_config())
    assert not {c.id for c in eligible} & set(index._slot_of_crossing)
    assert {c.id for c in kept if c.traveller_id} <= set(index._slot_of_crossing)
    # t_plain has no identifying crossing left: its summary loses the names.
    assert db.session.get(Traveller, t_plain.id).surname == ""
    # One audit row for the run, with counts and no names.
    rows = db.session.execute(select(AuditEvent).where(AuditEvent.action == "retention.run")).scalars().all()
    assert len(rows) == 1 and rows[0].detail["pseudonymised"] == 5
    assert "Mokoena" not in str(rows[0].detail) and "RA123456" not in str(rows[0].detail)
    # A second run finds nothing more.
    assert retention.run(now=NOW, years=5, dry_run=False).total == 0


def test_retention_command_dry_run_prints_counts_without_names(app, db_session):
    _scenario()
    db.session.commit()
    app.config["RETENTION_YEARS"] = 1  # the recent crossing (30 days) stays
    out = app.test_cli_runner().invoke(args=["retention", "run", "--dry-run"])
    assert out.exit_code == 0, out.output
    assert "would pseudonymise 5 crossings" in out.output and "2025 MSB: 4" in out.output
    assert "Mokoena" not in out.output and "RA123456" not in out.output
    db.session.expire_all()
    assert db.session.execute(select(func.count()).select_from(Crossing)
                              .where(Crossing.pseudonymised_at.isnot(None))).scalar_one() == 0
