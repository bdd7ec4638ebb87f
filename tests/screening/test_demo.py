"""Demo data: flags land in both demo officers' queues with readable explanations; loading twice adds nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from screening import demo
from screening.models import Crossing, Flag, Person


def test_demo_load_is_idempotent_and_fills_both_queues(app, db_session):
    first = demo.load()
    n_crossings = db_session.scalar(select(func.count()).select_from(Crossing))
    n_flags = db_session.scalar(select(func.count()).select_from(Flag))
    assert db_session.scalar(select(func.count()).select_from(Person)) == len(demo.PERSONS)
    assert n_crossings >= 300
    second = demo.load()
    assert "0 created" in second[0] and "0 added" in second[1], (first, second)
    assert db_session.scalar(select(func.count()).select_from(Crossing)) == n_crossings
    assert db_session.scalar(select(func.count()).select_from(Flag)) == n_flags
    flagged = {ext: {(f.person.reference, f.border_post.code) for f in flags if f.kind == "identity"}
               for ext, flags in (
        (c.external_id, c.flags) for c in db_session.scalars(
            select(Crossing).where(Crossing.external_id.like("DEMO-M-%"))))}
    assert ("FAM-2026-031", "MSB") in flagged["DEMO-M-001"]  # the missing girl, day and month swapped
    assert ("TIP-2026-014-S1", "MSB") in flagged["DEMO-M-002"]  # with the suspected recruiter
    assert ("SAPS-N-2026-0412", "MPB") in flagged["DEMO-M-005"]  # OCR-damaged ID number
    assert ("FAM-2026-027", "MPB") in flagged["DEMO-M-006"]  # names swapped, no document
    assert flagged["DEMO-M-008"] == set() and flagged["DEMO-M-009"] == set()  # namesakes
    girl = db_session.scalars(select(Flag).join(Crossing).where(Crossing.external_id == "DEMO-M-001",
                                                                Flag.kind == "identity")).first()
    assert girl.priority == "urgent" and "CGPU" in girl.action
    assert any("swapped" in f["explanation"] for f in girl.features)
