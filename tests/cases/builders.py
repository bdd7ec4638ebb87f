"""Builders for case tests: a confirmed flag to open a case from, cases with persons, form posting."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from tests.conftest import csrf_from
from tests.factories import make_user, post
from tests.screening.builders import make_person
from tip_cases.cases import persons
from tip_cases.cases import services as svc
from tip_cases.extensions import db

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def make_flag(*, status="confirmed", post_code="MSB", person=None, now=NOW):
    """A crossing at a post that matched an alert-list person, with the officer's decision already taken."""
    from screening.models import Crossing, Flag

    person = person or make_person()
    crossing = Crossing(source="manual", external_id=f"c-{person.id}-{now.timestamp()}",
                        border_post_id=post(post_code).id, direction="exit", crossed_at=now,
                        surname=person.surname, given_names=person.given_names, sex=person.sex,
                        nationality=person.nationality, created_at=now)
    crossing.dob = person.dob
    db.session.add(crossing)
    db.session.flush()
    flag = Flag(crossing_id=crossing.id, person_id=person.id, border_post_id=crossing.border_post_id, score=0.93,
                priority="urgent", reason="Reported missing", status=status, created_at=now)
    db.session.add(flag)
    db.session.commit()
    return flag


def make_case(owner=None, *, kind="trafficking", title="Domestic work recruitment", team=(), now=NOW):
    owner = owner or make_user("investigator")
    opened = svc.open_case(owner, kind=kind, title=title, summary="", now=now, team_ids=[u.id for u in team])
    db.session.commit()
    return opened.case


def add_victim(case, actor, *, surname="Mokoena", given_names="Palesa", dob="2009-03-14", now=NOW, **context):
    cp, _ = persons.add_person(case, actor, role="victim", surname=surname, given_names=given_names,
                           date_of_birth=dob, sex="F", nationality="LSO", context=context, now=now)
    db.session.commit()
    return cp


def post_form(browser, url, data, *, page, prefix=None, follow_redirects=False):
    """Submit one of the (prefixed) forms of `page` the way a browser would."""
    html = browser.get(page).get_data(as_text=True)
    token = csrf_from(html)
    payload = {}
    for k, v in data.items():
        payload[f"{prefix}-{k}" if prefix else k] = v
    payload[f"{prefix}-csrf_token" if prefix else "csrf_token"] = token
    return browser.client.post(url, data=payload, follow_redirects=follow_redirects)


def flashes(html: str) -> list[str]:
    return [re.sub(r"\s+", " ", m).strip() for m in re.findall(r'role="alert">(.*?)<button', html, re.S)]
