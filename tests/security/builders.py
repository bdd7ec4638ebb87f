"""A small world with one record of every kind, split across two posts and two case teams."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from tests.cases.builders import NOW, add_victim, make_case, make_flag
from tests.factories import make_api_client, make_user
from tests.screening.builders import make_person
from tests.tracing.builders import arrive, traveller_of
from tip_cases.cases import services as svc
from tip_cases.extensions import db


@dataclass
class World:
    ids: dict[str, int] = field(default_factory=dict)
    users: dict[str, object] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    case_reference: str = ""


def make_world(app) -> World:
    """Records owned by post MPT and by an investigator's team that the test users are not part of."""
    w = World()
    owner = make_user("investigator", username="caseowner")
    w.users["owner"] = owner
    case = make_case(owner, title="Recruitment through a fake agency")
    w.case_reference = case.reference
    cp = add_victim(case, owner)
    ev = svc.store_evidence(case, owner, filename="note.txt", stream=io.BytesIO(b"evidence text"),
                            directory=svc.evidence_dir(app), now=NOW)
    task = svc.add_task(case, owner, title="Call the shelter", assignee_id=owner.id, due_on=None, now=NOW)
    consent = svc.record_consent(case, owner, case_person_id=cp.id, scopes=["interview"], now=NOW)
    referral = svc.make_referral(case, owner, organisation="Shelter", organisation_type="NGO",
                                 reason="AdditionalServicesRequired", referred_on=NOW.date(), now=NOW)
    closure = svc.request_closure(case, owner, target_status="Closed", reason="Victim repatriated", now=NOW)
    db.session.commit()
    w.ids.update(consent=consent.id, referral=referral.id, request=closure.id)
    person = make_person("Letsie", "Mpho", dob="1990-05-05")
    flag = make_flag(post_code="MPB", person=person, status="new")
    crossing_other = arrive("Ntho", "Lerato", post_code="MPB", document="RB7654321")
    traveller = traveller_of(crossing_other)
    _, token_msb = make_api_client(post_code="MSB")
    w.tokens["MSB"] = token_msb
    w.ids.update(case=case.id, case_person=cp.id, evidence=ev.id, task=task.id, person=person.id,
                 flag=flag.id, flag_crossing=flag.crossing_id, crossing=crossing_other.id,
                 traveller=traveller.id)
    try:
        from tests.notifications.builders import make_agency, make_channel, make_rule, publish_flag

        agency = make_agency()
        channel = make_channel(agency)
        rule = make_rule(agency, channel)
        db.session.commit()
        outbox = publish_flag(1)
        w.ids.update(agency=agency.id, channel=channel.id, rule=rule.id,
                     outbox=outbox[0].id if outbox else 1)
    except ImportError:  # pragma: no cover - notifications always ship with the app
        pass
    db.session.commit()
    return w
