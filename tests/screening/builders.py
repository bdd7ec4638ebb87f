"""Builders for screening tests: persons of interest and crossings."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime

from screening import services
from screening.engine.normalize import parse_partial_date
from tests.factories import post
from tip_cases.extensions import db

_seq = itertools.count(1)
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def make_person(surname="Mokoena", given_names="Palesa", *, dob="2009-03-14", sex="F", nationality="LSO",
                category="missing_person", alert_kind="protective", discreet=True, documents=(), aliases=(),
                review_date: date | None = None, active=True, reason="Reported missing by her family",
                action="Do not alert companions; call the Child and Gender Protection Unit",
                need_to_know_roles=(), contact=None, commit=True, now=NOW):
    data = services.PersonData(
        surname=surname, given_names=given_names, sex=sex, dob=parse_partial_date(dob) if dob else None,
        nationality=nationality, category=category, alert_kind=alert_kind, discreet=discreet,
        screening_active=active, review_date=review_date, alert_reason=reason, officer_action=action,
        source="family_report", aliases=list(aliases), documents=list(documents),
        need_to_know_roles=list(need_to_know_roles), contact=contact)
    person = services.create_person(data, actor=None, now=now)
    if commit:
        db.session.commit()
    return person


def crossing_item(external_id=None, *, surname="Mokoena", given_names="Palesa", dob="2009-03-14", sex="F",
                  nationality="LSO", document_number="RA123456", post_code="MSB", direction="exit",
                  crossed_at="2026-11-20T10:15:00+02:00", **extra):
    item = {"external_id": external_id or f"X{next(_seq)}", "surname": surname, "given_names": given_names,
            "date_of_birth": dob, "sex": sex, "nationality": nationality, "document_number": document_number,
            "document_type": "P", "document_country": nationality, "direction": direction,
            "crossed_at": crossed_at, "border_post": post_code}
    item.update(extra)
    return {k: v for k, v in item.items() if v is not None}


def new_crossing(external_id=None, *, post_code="MSB", surname="Mokoena", given_names="Palesa",
                 dob="2009-03-14", document_number="RA123456", now=NOW, **kw):
    return services.NewCrossing(
        external_id=external_id or f"N{next(_seq)}", border_post_id=post(post_code).id, direction="exit",
        crossed_at=now, surname=surname, given_names=given_names,
        dob=parse_partial_date(dob) if dob else None, document_number=document_number, sex=kw.pop("sex", "F"),
        nationality=kw.pop("nationality", "LSO"), **kw)


def insert_old_crossings(n: int, *, alternate: bool = False) -> None:
    """n crossings 'E1'..'En' of source 'old', 97 minutes apart from 2024-01-01, stored by SQL as an older
    revision's installation holds them (no service, no key); entries, or entries and exits by turns."""
    from sqlalchemy import text

    from tip_cases.extensions import db

    db.session.execute(text(
        "INSERT INTO crossings (source, external_id, border_post_id, direction, crossed_at, surname, "
        "given_names, created_at, consent_document) SELECT 'old', 'E' || g, (SELECT min(id) FROM border_posts), "
        "CASE WHEN CAST(:alternate AS boolean) AND g % 2 = 1 THEN 'exit' ELSE 'entry' END, "
        "timestamptz '2024-01-01 00:00+00' + g * interval '97 minutes', 'S', 'G', now(), false "
        "FROM generate_series(1, :n) g"), {"n": n, "alternate": alternate})
