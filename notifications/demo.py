"""Demo partners: six agencies with channels, profiles and rules, so confirming a flag in the demo sends
an email to the local mail sink and a signed webhook to the app's own demo receiver. Idempotent."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from notifications import rules, services
from notifications.models import Agency, Rule, SharingProfile
from tip_cases.extensions import db

OPERATIONAL = list(rules.MINIMAL_FIELDS) + ["priority", "status", "reason", "expected_action", "due", "ack_url"]
PROFILES = [
    ("Minimal", "Reference, kind, post, time and a link for signed-in users.", list(rules.MINIMAL_FIELDS), False),
    ("Law enforcement (operational)", "Adds priority, reason, expected action and the acknowledge link.",
     OPERATIONAL, False),
    ("Protection services", "Operational fields plus the victim's identity, only with consent or an override.",
     OPERATIONAL + list(rules.IDENTIFYING_FIELDS), True),
    ("Statistics only", "Digests: counts and period, never a person.", ["ref", "kind", "time", "counts", "period"],
     False),
]
# name, HTCDS type, country, profile, email, with a demo webhook?
AGENCIES = [
    ("LMPS Anti-TIP Unit and CGPU", "LawEnforcement", "LS", "Law enforcement (operational)",
     "antitip@lmps.example", True),
    ("National Security Service", "LawEnforcement", "LS", "Law enforcement (operational)", "duty@nss.example", False),
    ("Department of Social Development", "CentralGovernmentOrganisation", "LS", "Protection services",
     "protection@social.example", False),
    ("Shelter NGO (Maseru)", "NGO", "LS", "Protection services", "intake@shelter.example", False),
    ("IOM Lesotho", "InternationalOrganisation", "LS", "Statistics only", "lesotho@iom.example", False),
    ("SAPS counterpart (Ladybrand / Ficksburg)", "NeighbouringCounterpart", "ZA", "Law enforcement (operational)",
     "tip-desk@saps.example", False),
]
# agency, channel kind, event, kinds, priorities, posts
RULES = [
    ("LMPS Anti-TIP Unit and CGPU", "email", "flag.confirmed", [], [], []),
    ("LMPS Anti-TIP Unit and CGPU", "webhook", "flag.confirmed", [], [], []),
    ("LMPS Anti-TIP Unit and CGPU", "webhook", "flag.raised", [], ["high", "urgent"], []),
    ("LMPS Anti-TIP Unit and CGPU", "email", "flag.unacknowledged", [], [], []),
    ("National Security Service", "email", "flag.confirmed", [], ["urgent"], []),
    ("Department of Social Development", "email", "case.opened", [], [], []),
    ("Department of Social Development", "email", "referral.made", [], [], []),
    ("Shelter NGO (Maseru)", "email", "referral.made", [], [], []),
    ("Shelter NGO (Maseru)", "email", "referral.unacknowledged", [], [], []),
    ("IOM Lesotho", "email", "digest.weekly", [], [], []),
    ("IOM Lesotho", "email", "digest.daily", [], [], []),
    ("SAPS counterpart (Ladybrand / Ficksburg)", "email", "flag.confirmed", [], [], ["MSB", "MPB"]),
]


def load() -> list[str]:
    created = {"profiles": 0, "agencies": 0, "rules": 0}
    profiles = {}
    for name, description, fields, identifying in PROFILES:
        prof = db.session.execute(select(SharingProfile).where(SharingProfile.name == name)).scalar()
        if prof is None:
            prof = services.save_profile(None, name=name, fields=fields, allow_identifying=identifying,
                                         description=description)
            created["profiles"] += 1
        profiles[name] = prof
    base = current_app.config.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    for name, org_type, country, profile, email, webhook in AGENCIES:
        agency = db.session.execute(select(Agency).where(Agency.name == name)).scalar()
        if agency is not None:
            continue
        agency = services.create_agency(name=name, org_type=org_type, country=country, profile=profiles[profile])
        services.add_contact(agency, name="Duty desk", position="Focal point", email=email)
        services.add_channel(agency, kind="email", address=email, label="duty desk")
        if webhook:
            channel = services.add_channel(agency, kind="webhook", address=f"{base}/notifications/receiver/0",
                                           label="case system (demo receiver)")
            channel.address = f"{base}/notifications/receiver/{channel.id}"
        created["agencies"] += 1
    db.session.flush()
    for agency_name, kind, event, kinds, priorities, posts in RULES:
        agency = db.session.execute(select(Agency).where(Agency.name == agency_name)).scalar_one()
        channel = next((c for c in agency.channels if c.kind == kind), None)
        if channel is None:
            continue
        exists = db.session.execute(select(Rule.id).where(Rule.agency_id == agency.id, Rule.channel_id == channel.id,
                                                          Rule.event == event)).first()
        if exists:
            continue
        services.add_rule(agency=agency, channel=channel, event=event, kinds=kinds, priorities=priorities,
                          post_codes=posts)
        created["rules"] += 1
    db.session.commit()
    return [f"notifications: {created['agencies']} agencies, {created['profiles']} profiles, "
            f"{created['rules']} rules created (confirming a flag emails the mail sink and sends a signed "
            "webhook to /notifications/received)"]
