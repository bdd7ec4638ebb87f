"""HTCDS v2.0 (IOM Human Trafficking Case Data Standard) picklists used by case records.

Values are stored exactly as the standard spells them (including its "Unaquainted"), so an export
maps one to one onto the standard; labels are what the forms show.
"""

from __future__ import annotations

import re


def _label(value: str) -> str:
    """CamelCase -> "Camel case" for display."""
    words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", value).split(" ")
    return " ".join([words[0]] + [w.lower() if not w.isupper() else w for w in words[1:]])


def choices(values, labels: dict[str, str] | None = None) -> list[tuple[str, str]]:
    labels = labels or {}
    return [(v, labels.get(v) or _label(v)) for v in values]


# cas_Status
CASE_STATUSES = ["Active", "FollowUp", "Closed", "ClosedReferred"]
CLOSED_STATUSES = {"Closed", "ClosedReferred"}
# Investigation stage: not in HTCDS; Lesotho's police/prosecution steps.
STAGES = ["identification", "investigation", "referred_for_prosecution", "in_court", "closed"]
STAGE_LABELS = {"identification": "Identification", "investigation": "Investigation",
                "referred_for_prosecution": "Referred for prosecution", "in_court": "In court",
                "closed": "Closed"}
KINDS = ["trafficking", "smuggling", "both"]
KIND_PREFIX = {"trafficking": "TIP", "smuggling": "SMG", "both": "TIP"}
PRIORITIES = ["low", "normal", "high", "urgent"]

PERSON_ROLES = ["victim", "perpetrator", "witness", "guardian", "companion"]

# vic_TraffickingStatus and vic_TraffickingStatusDecisionMakingOrg
TRAFFICKING_STATUSES = ["PossibleVictimOfTrafficking", "ActualVictimOfTrafficking", "NotAVictimOfTrafficking"]
DECISION_ORGS = ["Police", "NGO", "CourtOrProsecution", "NonPoliceGovernmentalOrganization", "Other"]
# vic_RelationshipToTrafficker (sic: the standard spells "Unaquainted")
RELATIONSHIPS = ["Familial", "Acquainted", "Unaquainted"]
# vic_MethodOfRecruitment
RECRUITMENT_METHODS = ["AtAPlaceOfBusiness", "AtAnEducationalInstitution", "AtWork", "ThroughOnlineSocialNetworks",
                       "ThroughAnOnlineAdvertisement", "ThroughATelevisionAdvert", "ThroughANewspaperAdvert",
                       "ThroughFamilyOrFamilyEvents", "ThroughFriendsOrSocialEvents", "Other"]
# vic_MethodsOfControl
METHODS_OF_CONTROL = ["PhysicalThreats", "ThreatsLawEnforcement", "ThreatensChildrenFamily", "DebtBondage",
                      "FalsePromises", "PhysicalAbuse", "SexualAbuse", "TakesEarnings", "RestrictsFinancialAccess",
                      "RestrictsMedicalCare", "WithholdsNecessities", "PsychologicalAbuse",
                      "PsychoactiveSubstance", "ExcessiveWorkingHours", "WithholdsDocuments", "Other"]
# vic_TypeOfExploitation
EXPLOITATION_TYPES = ["ForcedLabour", "SexualExploitation", "ChildLabour", "ForcedMarriage", "Servitude",
                      "ForcedMilitaryByNonStateActors", "OrganRemoval", "ForcedBegging", "ForcedAdoption",
                      "Surrogacy", "Other"]
# vic_ForcedLabourIndustry: ISIC Rev. 4 sections
ISIC_SECTIONS = {
    "A": "Agriculture, forestry and fishing", "B": "Mining and quarrying", "C": "Manufacturing",
    "D": "Electricity, gas, steam and air conditioning supply",
    "E": "Water supply; sewerage, waste management and remediation", "F": "Construction",
    "G": "Wholesale and retail trade; repair of motor vehicles", "H": "Transportation and storage",
    "I": "Accommodation and food service activities", "J": "Information and communication",
    "K": "Financial and insurance activities", "L": "Real estate activities",
    "M": "Professional, scientific and technical activities", "N": "Administrative and support service activities",
    "O": "Public administration and defence; compulsory social security", "P": "Education",
    "Q": "Human health and social work activities", "R": "Arts, entertainment and recreation",
    "S": "Other service activities",
    "T": "Activities of households as employers (incl. domestic work)",
    "U": "Activities of extraterritorial organizations and bodies",
}
# vic_TypeOfSexExploitation
SEX_EXPLOITATION_TYPES = ["Prostitution", "Pornography", "RemoteInteractiveServices", "PrivateSexualServices"]
# per_RoleInProcess
PERPETRATOR_ROLES = ["TravellingPartner", "Transporter", "RecruiterOrIntermediary", "BrokerTravelAgent",
                     "TransferredIndividual", "HarbouredIndividual", "SoldIndividual", "BoughtIndividual",
                     "ReceivedIndividual", "ControlledIndividual", "Smuggler", "Abuser", "Kidnapper", "Exploiter",
                     "Other"]
# hte_Type
HTE_TYPES = ["Recruitment", "Transit", "Exploitation"]
# spl_Type
SUPPORT_TYPES = ["Education", "Financial", "Health", "LabourExploitationRehabilitation", "Legal", "Livelihood",
                 "RightsBasedTraining", "SexualExploitationRehabilitation", "SocialCare"]
# org_Type
ORG_TYPES = ["NGO", "LawEnforcement", "HealthServiceOrganisation", "CentralGovernmentOrganisation",
             "LocalGovernmentOrganisation", "ImmigrationService", "LegalService", "CorporateBusiness",
             "SchoolOrCollege"]
# cas_ReasonForOutgoingReferral (the standard reuses the incoming-referral reasons)
REFERRAL_REASONS = ["AdditionalServicesRequired", "MigrationOrChangeOfLocation", "Other"]
REFERRAL_STATUSES = ["sent", "acknowledged", "accepted", "declined", "completed"]
# con_: what a consent record may cover
CONSENT_SCOPES = {
    "interview": "Consent or assent to interview",
    "purpose": "Informed of the purpose of data collection",
    "data_use": "Informed of how data will be used",
    "research": "Research use of non-identifying data",
    "share_identifying": "Sharing identifying data with named partners",
}
CONSENT_GIVERS = ["self", "parent", "guardian", "other"]
