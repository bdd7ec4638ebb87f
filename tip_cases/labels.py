"""Words for the coded values a page shows (statuses, roles, priorities), in the reader's language.

Records store fixed English codes ("not_same_person", "FollowUp") so exports, the API and the audit trail
never change with a user's language; the `label` filter turns a code into the reader's word at display
time. A code without an entry is shown as stored (readable, and a missing entry is easy to spot).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

LABELS = {
    # roles
    "border_officer": _l("border officer"), "investigator": _l("investigator"), "manager": _l("manager"),
    "admin": _l("admin"), "system": _l("system"),
    # screening flags
    "new": _l("new"), "acknowledged": _l("acknowledged"), "escalated": _l("escalated"),
    "confirmed": _l("confirmed"), "not_same_person": _l("not the same person"),
    "urgent": _l("urgent"), "high": _l("high"), "normal": _l("normal"), "low": _l("low"),
    "entry": _l("entry"), "exit": _l("exit"),
    "protective": _l("protective"), "suspect": _l("suspect"), "information": _l("information"),
    "raised": _l("raised"), "identity": _l("identity"), "risk": _l("risk"),
    # a person's judgement on two travellers
    "merge": _l("same person"), "split": _l("someone else"), "different": _l("different people"),
    # the matcher's verdict on one field of a pair
    "agree": _l("agree"), "partial": _l("partial match"), "disagree": _l("disagree"), "missing": _l("not recorded"),
    # border posts
    "road": _l("road"), "air": _l("air"), "foot": _l("foot / bridle path"),
    # persons of interest
    "missing_person": _l("missing person"), "presumed_victim": _l("presumed victim"), "victim": _l("victim"),
    "recruiter": _l("recruiter"), "transporter": _l("transporter"),
    "case": _l("case"), "family_report": _l("family report"), "partner_notice": _l("partner notice"),
    "national_list": _l("national list"),
    # cases
    "trafficking": _l("trafficking"), "smuggling": _l("smuggling"), "both": _l("trafficking and smuggling"),
    "Active": _l("Active"), "FollowUp": _l("Follow-up"), "Closed": _l("Closed"),
    "ClosedReferred": _l("Closed (referred)"),
    "identification": _l("Identification"), "investigation": _l("Investigation"),
    "referred_for_prosecution": _l("Referred for prosecution"), "in_court": _l("In court"), "closed": _l("Closed"),
    "perpetrator": _l("perpetrator"), "witness": _l("witness"), "guardian": _l("guardian"),
    "companion": _l("companion"),
    "sent": _l("sent"), "accepted": _l("accepted"), "declined": _l("declined"), "completed": _l("completed"),
    # notifications outbox
    "pending": _l("pending"), "sending": _l("sending"), "delivered": _l("delivered"), "dead": _l("dead"),
    "cancelled": _l("cancelled"), "retry": _l("retry"), "disabled": _l("disabled"),
}


def label(value) -> str:
    """The reader's word for a stored code; the code itself when there is none."""
    if value is None:
        return ""
    found = LABELS.get(str(value))
    return str(found) if found is not None else str(value)
