"""Demo data for screening: persons of interest, a few weeks of crossings, and flags in two posts' queues.

Idempotent by natural keys: persons by `reference`, crossings by (source "demo", external_id).
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from sqlalchemy import select

from screening import services, tracing
from screening.engine.normalize import age_on, parse_partial_date
from screening.models import Person
from tip_cases.extensions import db, utcnow
from tip_cases.models import BorderPost

CGPU = "Call the Child and Gender Protection Unit (CGPU) duty officer"
SECOND_LINE = "Refer to second line"

# reference, surname, given names, sex, dob, nationality, category, alert kind, discreet, source,
# reason, action, documents, aliases, active, review in days (None: no review date; negative: expired)
PERSONS = [
    ("FAM-2026-031", "Motšoanakaba", "Reitumetse", "F", "2010-04-09", "LSO", "missing_person", "protective", True,
     "family_report", "Reported missing by her mother in Ha Abia on 2 November; believed taken by a man "
     "offering her work in Bloemfontein.",
     f"Do not alert her companions. Keep her at the post on a routine pretext; {CGPU}.",
     [("P", "RA0456712", "LSO")], [], True, 90),
    ("TIP-2026-014-S1", "Letsie", "Teboho", "M", "1981-07-15", "LSO", "recruiter", "suspect", True, "case",
     "Suspected of recruiting girls with false offers of domestic work in Gauteng (case TIP-2026-014).",
     f"{SECOND_LINE}. Do not disclose the alert; record companions and vehicle; inform the anti-TIP unit.",
     [("P", "RB1203344", "LSO")], [("Letsie", "Tebza")], True, 180),
    ("SAPS-N-2026-0412", "Dlamini", "Sipho Bongani", "M", "1976-11-30", "ZAF", "transporter", "suspect", False,
     "partner_notice", "SAPS notice: minibus driver moving undocumented workers to farms near Ficksburg.",
     f"Record the vehicle registration and every passenger; {SECOND_LINE.lower()}; inform the anti-TIP unit.",
     [("ID", "7611305123085", "ZAF")], [], True, 120),
    ("SAPS-N-2026-0420", "Khumalo", "Nomvula", "F", "1998-02-19", "ZAF", "presumed_victim", "protective", True,
     "partner_notice", "SAPS notice: possible victim of trafficking for sexual exploitation, last seen in "
     "Ladybrand.", f"Speak to her alone if it is safe; offer help; {CGPU} and the IOM focal point.",
     [("P", "A05512873", "ZAF")], [], True, 60),
    ("FAM-2026-027", "Mohapi", "Lerato", "F", "2004-06-22", "LSO", "presumed_victim", "protective", False,
     "family_report", "Left for a domestic job in Johannesburg in August; no contact with her family since.",
     f"Ask about her employer and whether she holds her own documents; {CGPU} if in doubt.",
     [], [], True, 90),
    ("TIP-2026-009-S2", "Mokhothu", "Thabo", "M", "1969", "LSO", "exploiter", "suspect", False, "case",
     "Owner of a tavern where two trafficked girls were found (case TIP-2026-009).",
     f"{SECOND_LINE}; notify the investigator on case TIP-2026-009.", [], [("Mokhotu", "Thabo")], True, 180),
    ("NL-2026-0033", "Ramaboea", "Mpho", "M", "1990-03-03", "LSO", "smuggler", "suspect", False,
     "national_list", "Organises river crossings at Makhaleng for a fee.", f"{SECOND_LINE}.",
     [("P", "RB0099812", "LSO")], [], True, 180),
    ("TIP-2025-031-V1", "Nthako", "'Mathabo", "F", "1995-10-10", "LSO", "victim", "information", False, "case",
     "Identified victim (case TIP-2025-031); the traffickers may try to take her back across.",
     "Let her pass unless she asks for help; inform the case investigator discreetly.",
     [("P", "RA2210453", "LSO")], [], True, 365),
    ("TIP-2024-002-S1", "Sekhonyana", "Kabelo", "M", "1985-05-05", "LSO", "suspect", "suspect", False, "case",
     "Case closed after acquittal; kept for history only.", "None: screening is off.", [], [], False, None),
    ("FAM-2025-011", "Phakoe", "Lineo", "F", "2008-12-01", "LSO", "missing_person", "protective", True,
     "family_report", "Missing since March 2025; review overdue.", CGPU + ".", [], [], True, -10),
    ("SAPS-N-2026-0388", "van der Merwe", "Johannes", "M", "1972-08-08", "ZAF", "recruiter", "suspect", False,
     "partner_notice", "SAPS notice: recruits Basotho men for farm work without pay (labour exploitation).",
     f"{SECOND_LINE}; record the passengers he travels with.", [("P", "M00123987", "ZAF")], [], True, 120),
    ("REG-2026-0007", "Ngcobo", "Busisiwe", "F", "2001-01-30", "SWZ", "presumed_victim", "protective", True,
     "partner_notice", "Eswatini police notice: recruited through a social-media job advert; family fears "
     "she is being moved through Lesotho.", f"Do not alert her companions; {CGPU}.",
     [("P", "N0456789", "SWZ")], [], True, 60),
]

# Crossings that should meet a person of interest, recorded with the usual noise.
# external_id, post code, hours ago, direction, surname, given names, sex, dob, nationality, doc, group
MATCHING_CROSSINGS = [
    ("DEMO-M-001", "MSB", 3, "exit", "MOTSOANAKABA", "REITUMETSE", "F", "2010-09-04", "LSO", "RA0456712", "G-MSB-1"),
    ("DEMO-M-002", "MSB", 3, "exit", "LETSIE", "TEBOHO", "M", "1981-07-15", "LSO", "RB1203344", "G-MSB-1"),
    ("DEMO-M-003", "MSB", 26, "entry", "Khumalo", "Nomvula", "F", "1998-02-19", "ZAF", "AO5512873", None),
    ("DEMO-M-004", "MSB", 50, "exit", "Vandermerwe", "J.", "M", "1972-08-08", "ZAF", "M00123987", None),
    ("DEMO-M-005", "MPB", 2, "entry", "DLAMINI", "SIPHO", "M", "1976-11-30", "ZAF", "76113O5123085", "G-MPB-1"),
    ("DEMO-M-006", "MPB", 5, "exit", "Lerato", "Mohapi", "F", "2004-06-22", "LSO", "", None),
    ("DEMO-M-007", "MPB", 30, "exit", "Ramaboea", "Mpho", "M", "1990-03-03", "LSO", "RB0099812", None),
    # Near-namesakes that must not flag: same surname, different person.
    ("DEMO-M-008", "MSB", 4, "entry", "Letsie", "Thabo", "M", "1992-02-11", "LSO", "RB7781120", None),
    ("DEMO-M-009", "MPB", 6, "entry", "Mohapi", "Lerato", "F", "1961-03-30", "LSO", "RA1122334", None),
]


# Tracing: a planted trafficking pattern and a traveller with a full journey.
# external_id, post, days ago, minutes past 07:00, direction, surname, given, sex, dob, doc, group, vehicle
TRACING_CROSSINGS = [
    # An adult man leaves by Maseru Bridge with a different teenage girl three times in under 60 days; he
    # comes back alone each time, none of the girls does.
    ("DEMO-T-001", "MSB", 56, 0, "exit", "Mofokeng", "Tšepo", "M", "1979-05-02", "RA7788123", "DEMO-TG-1", "B4417"),
    ("DEMO-T-002", "MSB", 56, 1, "exit", "Sello", "Mpho", "F", "2010-01-21", "", "DEMO-TG-1", "B4417"),
    ("DEMO-T-003", "MSB", 54, 30, "entry", "Mofokeng", "Tsepo", "M", "1979-05-02", "RA7788123", None, "B4417"),
    ("DEMO-T-004", "MSB", 33, 10, "exit", "MOFOKENG", "TSEPO", "M", "1979-05-02", "RA7788123", "DEMO-TG-2", "B4417"),
    ("DEMO-T-005", "MSB", 33, 11, "exit", "Ntlaloe", "Lintle", "F", "2009-08-30", "LS0912345", "DEMO-TG-2", "B4417"),
    ("DEMO-T-006", "MSB", 31, 45, "entry", "Mofokeng", "Tšepo", "M", "1979-05-02", "RA7788123", None, None),
    ("DEMO-T-007", "MSB", 6, 20, "exit", "Mofokeng", "Tšepo", "M", "1979-05-02", "RA7788123", "DEMO-TG-3", "B4417"),
    ("DEMO-T-008", "MSB", 6, 21, "exit", "Ramokhele", "Karabo", "F", "2008-11-03", "", "DEMO-TG-3", "B4417"),
    ("DEMO-T-009", "MSB", 4, 5, "entry", "Mofokeng", "Tsepo", "M", "1979-05-02", "RA7788123", None, None),
    # A cross-border trader: weekly trips through Maputsoe Bridge, a renewed passport, a second spelling,
    # and a friend who crosses a minute behind her every time (never recorded as a group).
    ("DEMO-T-020", "MPB", 40, 0, "exit", "Mokhele", "Nthabiseng Lebohang", "F", "1988-09-17", "RA1000234", None, None),
    ("DEMO-T-021", "MPB", 40, 2, "exit", "Tau", "Puleng", "F", "1990-02-14", "RA2233445", None, None),
    ("DEMO-T-022", "MPB", 37, 0, "entry", "Mokhele", "Nthabiseng", "F", "1988-09-17", "RA1000234", None, None),
    ("DEMO-T-023", "MPB", 37, 1, "entry", "Tau", "Puleng", "F", "1990-02-14", "RA2233445", None, None),
    ("DEMO-T-024", "MPB", 26, 0, "exit", "Mokhele", "Nthabiseng L.", "F", "1988-09-17", "RB5550789", None, None),
    ("DEMO-T-025", "MPB", 26, 3, "exit", "Tau", "Puleng", "F", "1990-02-14", "RA2233445", None, None),
    ("DEMO-T-026", "MPB", 22, 0, "entry", "Mokhehle", "Nthabiseng", "F", "1988-09-17", "RB5550789", None, None),
    ("DEMO-T-027", "MPB", 22, 2, "entry", "Tau", "Puleng", "F", "1990-02-14", "RA2233445", None, None),
    ("DEMO-T-028", "MPB", 9, 0, "exit", "Mokhele", "Nthabiseng Lebohang", "F", "1988-09-17", "RB5550789", None, None),
    ("DEMO-T-029", "MPB", 9, 1, "exit", "Tau", "Puleng", "F", "1990-02-14", "RA2233445", None, None),
    ("DEMO-T-030", "MPB", 2, 0, "entry", "Mokhele", "Nthabiseng", "F", "1988-09-17", "RB5550789", None, None),
]


# One person, two documents (issue 15): Nthabeleng Lebona leaves by Maseru Bridge on her passport and
# comes back three weeks later through Maputsoe Bridge on her national ID card, a different number.
# Names, date of birth and address agree: she is one traveller holding both documents, and rule d
# (several identities) asks the officer to check each document against her.
# external_id, post, days ago, minutes past 07:00, direction, document type, number
LEBONA = {"surname": "Lebona", "given_names": "Nthabeleng Palesa", "sex": "F", "dob": "1994-08-14",
          "nationality": "LSO", "address": "Ha Thetsane, Maseru 100"}
LEBONA_CROSSINGS = [
    ("DEMO-L-001", "MSB", 24, 95, "exit", "P", "RA3345120"),
    ("DEMO-L-002", "MPB", 3, 40, "entry", "ID", "0494081412"),
]


def _lebona(now: datetime) -> list[services.NewCrossing]:
    posts = {p.code: p.id for p in db.session.execute(select(BorderPost)).scalars()}
    items = []
    for ext, post, days, minutes, direction, doc_type, number in LEBONA_CROSSINGS:
        day = datetime(now.year, now.month, now.day, 5, 0, tzinfo=now.tzinfo) - timedelta(days=days)
        items.append(services.NewCrossing(
            external_id=ext, border_post_id=posts[post], direction=direction,
            crossed_at=day + timedelta(minutes=minutes), surname=LEBONA["surname"],
            given_names=LEBONA["given_names"], sex=LEBONA["sex"], dob=parse_partial_date(LEBONA["dob"]),
            nationality=LEBONA["nationality"], document_type=doc_type, document_number=number,
            document_country="LSO", address=LEBONA["address"],
            purpose="visit family" if direction == "exit" else "return"))
    return items


# What the officer recorded for the girls: Mofokeng claimed each time to be a relative taking her to
# work; no parental consent letter was shown.
TRACING_GUARDIANS = {"DEMO-T-002": ("relative", "RA7788123"), "DEMO-T-005": ("relative", "RA7788123"),
                     "DEMO-T-008": ("relative", "RA7788123")}


def _tracing(now: datetime) -> list[services.NewCrossing]:
    posts = {p.code: p.id for p in db.session.execute(select(BorderPost)).scalars()}
    items = []
    for ext, post, days, minutes, direction, surname, given, sex, dob, doc, group, vehicle in TRACING_CROSSINGS:
        day = datetime(now.year, now.month, now.day, 5, 0, tzinfo=now.tzinfo) - timedelta(days=days)
        items.append(services.NewCrossing(
            external_id=ext, border_post_id=posts[post], direction=direction,
            crossed_at=day + timedelta(minutes=minutes), surname=surname, given_names=given, sex=sex,
            dob=parse_partial_date(dob), nationality="LSO", document_type="P" if doc else None,
            document_number=doc or None, document_country="LSO" if doc else None, travel_group=group,
            vehicle_registration=vehicle, purpose="work" if direction == "exit" else "return",
            guardian_relation=TRACING_GUARDIANS.get(ext, (None, None))[0],
            guardian_document_number=TRACING_GUARDIANS.get(ext, (None, None))[1]))
    return items


def _persons(now: datetime) -> int:
    created = 0
    today = now.date()
    for (ref, surname, given, sex, dob, nat, category, kind, discreet, source, reason, action, docs, aliases,
         active, review_days) in PERSONS:
        if db.session.execute(select(Person.id).where(Person.reference == ref)).first():
            continue
        review: date | None = today + timedelta(days=review_days) if review_days is not None else None
        services.create_person(services.PersonData(
            reference=ref, surname=surname, given_names=given, sex=sex, dob=parse_partial_date(dob),
            nationality=nat, category=category, alert_kind=kind, discreet=discreet, source=source,
            alert_reason=reason, officer_action=action, documents=list(docs), aliases=list(aliases),
            screening_active=active, review_date=review), actor=None, now=now)
        created += 1
    db.session.commit()
    return created


def _age_at(dob: str, at: str) -> int | None:
    try:
        d = parse_partial_date(dob) if dob else None
    except ValueError:
        return None
    return None if d is None else age_on(d, datetime.fromisoformat(at).date())


def record_guardians(rows: list[dict], persons: list[dict], seed: int = 2026) -> None:
    """Record the background's minors as MIDAS registers them: most cross with a parent, recorded as such.

    A minor in a group with an adult gets that adult (one sharing the surname first) as parent, or about
    one time in eight as a relative with a consent letter. A minor the generator sent alone or with other
    children is given an accompanying parent: one adult per child, the same on every trip, whose
    crossing is added to the same new group. Rows gain `guardian_relation`, `guardian_document_number`,
    `consent_document` and may gain a string `group_id`.
    """
    rng = random.Random(seed)  # noqa: S311 - demo data, reproducible
    adults = [p for p in persons if (_age_at(p["date_of_birth"], rows[0]["crossed_at"]) or 0) >= 25]
    parent_of: dict[int, dict] = {}
    groups: dict[object, list[dict]] = {}
    for r in rows:
        if r["group_id"]:
            groups.setdefault(r["group_id"], []).append(r)
    added = []
    for r in list(rows):
        age = _age_at(r["date_of_birth"], r["crossed_at"])
        if age is None or age >= 18:
            continue
        mates = [o for o in groups.get(r["group_id"], ()) if o is not r
                 and (_age_at(o["date_of_birth"], o["crossed_at"]) or 0) >= 18] if r["group_id"] else []
        if mates:
            mates.sort(key=lambda o: o["surname"].lower() != r["surname"].lower())
            adult = mates[0]
            relative = rng.random() < 1 / 8
            r.update(guardian_relation="relative" if relative else "parent", consent_document=relative,
                     guardian_document_number=adult["document_number"])
            continue
        parent = parent_of.setdefault(r["person_id"], rng.choice(adults))
        group = f"F{r['external_id']}"
        at = datetime.fromisoformat(r["crossed_at"]) - timedelta(seconds=30)
        added.append({**{k: parent[k] for k in ("surname", "given_names", "sex", "date_of_birth", "nationality",
                                                "document_type", "document_number", "document_country",
                                                "address", "person_id")},
                      "external_id": f"{r['external_id']}P", "direction": r["direction"],
                      "border_post": r["border_post"], "crossed_at": at.isoformat(), "group_id": group,
                      "noise": []})
        r.update(group_id=group, guardian_relation="parent", guardian_document_number=parent["document_number"],
                 consent_document=False)
    rows.extend(added)


def _background(now: datetime, n: int = 400) -> list[services.NewCrossing]:
    from bench.generate import BORDER_POSTS, generate_crossings, generate_persons

    names = {code: name for code, name, _ in BORDER_POSTS}
    posts = {p.name: p.id for p in db.session.execute(select(BorderPost)).scalars()}
    start = datetime(now.year, now.month, now.day, tzinfo=now.tzinfo) - timedelta(days=28)
    travellers = generate_persons(250, seed=2026)
    rows = generate_crossings(travellers, n, seed=2026, start=start, days=28)
    # The generator draws a fresh number for every "renewed passport" observation, which reads as a
    # traveller with several passports used alternately. A renewal is one new number per person, used
    # from the renewal on: the old passport is not seen again (rule d tells the two apart).
    renewed: dict[int, str] = {}
    for r in sorted(rows, key=lambda r: r["crossed_at"]):
        pid = r["person_id"]
        if pid not in renewed:
            if "doc_renewed" in r["noise"] and r["document_number"]:
                renewed[pid] = r["document_number"]
        elif r["document_number"]:
            r["document_number"] = renewed[pid]
    record_guardians(rows, travellers)
    items = []
    for row in rows:
        post_id = posts.get(names.get(row["border_post"], ""))
        if post_id is None:
            continue
        dob = row["date_of_birth"]
        try:
            partial = parse_partial_date(dob) if dob else None
        except ValueError:
            partial = None
        items.append(services.NewCrossing(
            external_id=f"DEMO-{start:%Y%m%d}-{row['external_id']}", border_post_id=post_id,
            direction=row["direction"], crossed_at=datetime.fromisoformat(row["crossed_at"]),
            surname=row["surname"], given_names=row["given_names"], sex=row["sex"], dob=partial,
            nationality=row["nationality"], document_type=row["document_type"],
            document_number=row["document_number"] or None, document_country=row["document_country"],
            address=row["address"], travel_group=f"DEMO-G{row['group_id']}" if row["group_id"] else None,
            guardian_relation=row.get("guardian_relation"),
            guardian_document_number=row.get("guardian_document_number") or None,
            consent_document=bool(row.get("consent_document"))))
    return items


def _matching(now: datetime) -> list[services.NewCrossing]:
    posts = {p.code: p.id for p in db.session.execute(select(BorderPost)).scalars()}
    items = []
    for ext, post, hours, direction, surname, given, sex, dob, nat, doc, group in MATCHING_CROSSINGS:
        items.append(services.NewCrossing(
            external_id=ext, border_post_id=posts[post], direction=direction,
            crossed_at=now - timedelta(hours=hours), surname=surname, given_names=given, sex=sex,
            dob=parse_partial_date(dob), nationality=nat, document_type="P" if doc else None,
            document_number=doc or None, document_country=nat if doc else None, travel_group=group,
            purpose="visit family" if direction == "entry" else "work"))
    return items


def load() -> list[str]:
    now = utcnow()
    created = _persons(now)
    items = _background(now) + _matching(now) + _tracing(now) + _lebona(now)
    results = services.store_crossings(items, source="demo", actor=None, now=now)
    db.session.commit()

    tracing.evaluate_patterns(now=now)  # what the nightly `screening patterns` run finds
    db.session.commit()
    accepted = sum(1 for r in results if r.status == "accepted")
    flags = sum(len(r.flags) for r in results)
    return [f"persons of interest: {created} created, {len(PERSONS) - created} already present",
            f"crossings: {accepted} added, {len(results) - accepted} already present; flags raised: {flags}",
            "flag queues: officer (Maseru Bridge) and officer2 (Maputsoe Bridge) have flags to review",
            "tracing: Risk patterns shows a man leaving Maseru Bridge with three different girls (traveller "
            "pages: search 'Mofokeng'; a full journey with a companion: search 'Mokhele'; a passport and an ID "
            "card: search 'Lebona')"]
