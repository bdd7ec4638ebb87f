"""Builders for tracing tests: crossings stored through the real service, as they arrive."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from screening import services
from screening.engine.normalize import parse_partial_date
from screening.models import Crossing, Traveller
from tests.factories import post
from tip_cases.extensions import db

_seq = itertools.count(1)
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def arrive(surname="Mokoena", given_names="Thabo", *, dob="1985-04-02", sex="M", document="RA1234567",
           post_code="MSB", direction="exit", at=None, days_ago=0, minutes=0, group=None, vehicle=None,
           nationality="LSO", external_id=None, relation=None, guardian=None, consent=False, now=NOW,
           evaluate=True) -> Crossing:
    """Store one crossing through store_crossings (attached at once), let the scheduler's pattern job run
    over it as it would within seconds, and commit; returns it."""
    at = at or (now - timedelta(days=days_ago) + timedelta(minutes=minutes))
    item = services.NewCrossing(
        external_id=external_id or f"TR{next(_seq)}", border_post_id=post(post_code).id, direction=direction,
        crossed_at=at, surname=surname, given_names=given_names, sex=sex,
        dob=parse_partial_date(dob) if dob else None, nationality=nationality,
        document_type="P" if document else None, document_number=document or None,
        document_country=nationality if document else None, travel_group=group, vehicle_registration=vehicle,
        guardian_relation=relation, guardian_document_number=guardian, consent_document=consent)
    [result] = services.store_crossings([item], source="test", actor=None, now=now)
    db.session.commit()
    if evaluate:
        run_pattern_job(now)
    return db.session.get(Crossing, result.crossing_id)


def run_pattern_job(now=NOW) -> int:
    """What the scheduler's tracing-patterns job does: evaluate travellers with new crossings."""
    from screening import tracing

    raised = tracing.evaluate_due(now=now)
    db.session.commit()
    return raised


def traveller_of(crossing: Crossing) -> Traveller:
    db.session.refresh(crossing)
    return db.session.get(Traveller, crossing.traveller_id)
