"""Demo cases owned by the demo user "investigator" (investigator2 is not on the team, to show record-level access).

Idempotent: each case is looked up by its owner and title before it is created.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from tip_cases.cases import persons
from tip_cases.cases import services as svc
from tip_cases.cases.models import Case
from tip_cases.extensions import db, utcnow
from tip_cases.models import User

TIP_TITLE = "Recruited on Facebook for domestic work in Gauteng"
SMG_TITLE = "Minibus with nine Ethiopian nationals at Van Rooyen's Gate"


def _user(username: str) -> User | None:
    return db.session.execute(select(User).where(User.username == username)).scalar()


def _exists(owner: User, title: str) -> bool:
    return db.session.execute(select(Case.id).where(Case.owner_id == owner.id, Case.title == title)).first() is not None


def _tip_case(owner: User, now) -> Case:
    case = svc.open_case(owner, kind="trafficking", title=TIP_TITLE, priority="high", now=now - timedelta(days=12),
                         summary="A 17-year-old from Maseru answered a Facebook post offering domestic work in "
                                 "Johannesburg; her passport was taken on arrival and her wages withheld.").case
    victim, _ = persons.add_person(
        case, owner, role="victim", surname="Ntsane", given_names="Mamello", date_of_birth="2008-05",
        sex="F", nationality="LSO", now=now - timedelta(days=12), context={
            "trafficking_status": "PossibleVictimOfTrafficking", "status_decided_by": "Police",
            "exploitation_types": ["ForcedLabour", "Servitude"], "forced_labour_industry": "T",
            "methods_of_control": ["WithholdsDocuments", "TakesEarnings", "ExcessiveWorkingHours", "FalsePromises"],
            "recruitment_method": "ThroughOnlineSocialNetworks", "recruitment_place": "Maseru",
            "exploitation_place": "Soweto, Gauteng", "relationship_to_trafficker": "Acquainted",
            "age_when_trafficked": 17})
    persons.add_person(case, owner, role="perpetrator", surname="Ramokhele", given_names="Tsietsi",
                   date_of_birth="~1986", sex="M", nationality="LSO",
                   documents=[("passport", "RB9981234", "LSO")], screen_at_borders=True,
                   context={"perpetrator_role": "RecruiterOrIntermediary",
                            "role_details": "Posted the advert and paid the taxi fare"},
                   now=now - timedelta(days=11))
    for kind, days, place, country, text in (
            ("Recruitment", 40, "Maseru", "LS", "Contacted through a Facebook group for job seekers"),
            ("Transit", 35, "Maseru Bridge", "LS", "Crossed on foot with the recruiter"),
            ("Exploitation", 34, "Soweto, Gauteng", "ZA", "Domestic work 7 days a week, no pay")):
        svc.add_trafficking_event(case, owner, type=kind, event_date=(now - timedelta(days=days)).date(),
                                  place=place, country=country, description=text, case_person_id=victim.id, now=now)
    svc.record_consent(case, owner, case_person_id=victim.id, scopes=["interview", "purpose", "data_use",
                                                                      "share_identifying"],
                       share_with="Beautiful Dream shelter", retention="Ten years after the case closes",
                       informed_of_withdrawal=True, given_by="guardian", given_by_name="Her aunt",
                       now=now - timedelta(days=10))
    svc.add_support_plan(case, owner, type="SocialCare", objectives="Safe shelter and family tracing",
                         case_person_id=victim.id, planned_end=(now + timedelta(days=60)).date(), now=now)
    # Sent three days ago with a 48-hour deadline: awaiting acknowledgement, and overdue.
    svc.make_referral(case, owner, organisation="Beautiful Dream shelter", organisation_type="NGO",
                      reason="AdditionalServicesRequired", details="Shelter, counselling and school placement",
                      referred_on=(now - timedelta(days=3)).date(), case_person_id=victim.id,
                      includes_identifying_data=True, now=now - timedelta(days=3))
    svc.add_task(case, owner, title="Request the recruiter's Facebook records", assignee_id=owner.id,
                 due_on=(now - timedelta(days=2)).date(), now=now - timedelta(days=9))
    svc.add_task(case, owner, title="Interview the aunt in Mafeteng", assignee_id=owner.id,
                 due_on=(now + timedelta(days=5)).date(), now=now)
    svc.add_note(case, owner, body="SAPS Soweto confirms the address; a joint visit is being arranged.", now=now)
    svc.change_stage(case, owner, "investigation", now=now)
    return case


def _smuggling_case(owner: User, now) -> Case:
    case = svc.open_case(owner, kind="smuggling", title=SMG_TITLE, now=now - timedelta(days=30),
                         summary="Nine adults without documents found in a minibus; the driver was paid per "
                                 "passenger. All nine were returned through IOM's assisted return programme.").case
    persons.add_person(case, owner, role="perpetrator", surname="Mofolo", given_names="Lehlohonolo",
                   date_of_birth="1979-08-02", sex="M", nationality="LSO",
                   context={"perpetrator_role": "Smuggler", "role_details": "Driver of the minibus"},
                   now=now - timedelta(days=30))
    svc.change_stage(case, owner, "investigation", now=now - timedelta(days=29))
    svc.change_stage(case, owner, "referred_for_prosecution", now=now - timedelta(days=10))
    svc.request_closure(case, owner, target_status="ClosedReferred",
                        reason="Docket handed to the Director of Public Prosecutions; migrants returned home.",
                        now=now - timedelta(days=1))
    return case


HISTORIC_PREFIX = "Closed case"

_F_GIVEN = ["Palesa", "Lerato", "Mpho", "Nthabiseng", "Lineo", "Refiloe", "Mamello", "Keneuoe", "Puleng",
            "Thandiwe", "Nomvula", "Ayanda", "Boitumelo", "Dineo", "Tsepiso", "Limpho"]
_M_GIVEN = ["Thabo", "Teboho", "Mohlomi", "Tumelo", "Katleho", "Sipho", "Themba", "Lehlohonolo", "Bokang"]
_SURNAMES = ["Mokoena", "Mofokeng", "Letsie", "Mohapi", "Ramaboea", "Sekhonyana", "Nthako", "Molapo",
             "Lebona", "Khumalo", "Dlamini", "Mahlangu", "Tau", "Phiri", "Moloi", "Motaung", "Sello"]
# (exploitation types, forced-labour ISIC section, place of exploitation, country)
_PROFILES = [
    (["SexualExploitation"], None, "Hillbrow, Johannesburg", "ZA"),
    (["ForcedLabour", "Servitude"], "T", "Soweto, Gauteng", "ZA"),
    (["ForcedLabour"], "A", "Farms near Ficksburg", "ZA"),
    (["ForcedLabour"], "B", "Informal mines near Welkom", "ZA"),
    (["ChildLabour"], "A", "Cattle posts, Mokhotlong", "LS"),
    (["ForcedMarriage"], None, "Thaba-Tseka", "LS"),
    (["SexualExploitation", "ForcedLabour"], "I", "Bloemfontein", "ZA"),
]


def _historic_cases(owner: User, manager: User, now) -> list[Case]:
    """Closed cases of the last 18 months, so statistics, exports and suppression have figures to show.

    Seeded: the same cases every time. Closed through the real closure workflow (request, approve).
    """
    import random

    cases = []
    for n in range(1, 25):
        rng = random.Random(2026 * 100 + n)  # noqa: S311 - demo data, one seed per case so reloading skips exactly
        opened = now - timedelta(days=rng.randint(60, 540))
        kind = "trafficking" if rng.random() < 0.75 else "smuggling"
        title = f"{HISTORIC_PREFIX} {n:02d}: " + ("recruitment for work in South Africa" if kind == "trafficking"
                                                   else "undocumented migrants in transit")
        if _exists(owner, title):
            continue
        case = svc.open_case(owner, kind=kind, title=title, now=opened,
                             summary="Historic demo case (closed).").case
        for _ in range(rng.choice((1, 1, 2, 3))):
            female = rng.random() < (0.7 if kind == "trafficking" else 0.35)
            age = rng.choice((9, 13, 15, 16, 17, 19, 21, 23, 26, 29, 33, 38, 44, 52))
            types, industry, place, country = rng.choice(_PROFILES)
            context = {"trafficking_status": rng.choice(("PossibleVictimOfTrafficking", "ActualVictimOfTrafficking")),
                       "status_decided_by": "Police", "age_when_trafficked": age,
                       "relationship_to_trafficker": rng.choice(("Familial", "Acquainted", "Unaquainted")),
                       "recruitment_method": rng.choice(("ThroughOnlineSocialNetworks", "ThroughFriendsOrSocialEvents",
                                                         "ThroughFamilyOrFamilyEvents", "AtWork")),
                       "methods_of_control": rng.sample(["DebtBondage", "FalsePromises", "WithholdsDocuments",
                                                         "TakesEarnings", "PhysicalThreats", "PsychologicalAbuse"], 2),
                       "exploitation_place": place}
            if kind == "trafficking":
                context["exploitation_types"] = types
                if industry:
                    context["forced_labour_industry"] = industry
            born = (opened - timedelta(days=365 * age + rng.randint(0, 364))).date()
            persons.add_person(case, owner, role="victim", surname=rng.choice(_SURNAMES),
                           given_names=rng.choice(_F_GIVEN if female else _M_GIVEN),
                           date_of_birth=born.isoformat(), sex="F" if female else "M",
                           nationality=rng.choice(("LSO",) * 6 + ("ZAF", "MOZ", "ZWE")),
                           context=context, now=opened)
        req = svc.request_closure(case, owner, target_status=rng.choice(("Closed", "ClosedReferred")),
                                  reason="Victims referred for support; investigation concluded.",
                                  now=opened + timedelta(days=40))
        svc.decide_closure(req, manager, approve=True, comment="", now=opened + timedelta(days=42))
        cases.append(case)
    return cases


def load() -> list[str]:
    owner = _user("investigator")
    if owner is None:
        return ["demo cases: skipped (no demo investigator)"]
    now = utcnow()
    created = []
    if not _exists(owner, TIP_TITLE):
        created.append(_tip_case(owner, now).reference)
    if not _exists(owner, SMG_TITLE):
        created.append(_smuggling_case(owner, now).reference)
    manager = _user("manager")
    historic = _historic_cases(owner, manager, now) if manager is not None else []
    db.session.commit()
    if not created and not historic:
        return ["demo cases: already present"]
    if not created and historic:
        return [f"demo cases: {len(historic)} closed historic cases added"]
    return [f"demo cases: {', '.join(created)} (owner investigator; investigator2 is not on the team; "
            f"a referral awaits acknowledgement, a task is overdue, a closure awaits the manager), "
            f"and {len(historic)} closed historic cases for the statistics",
            f"  as of {date.today().isoformat()}"]
