"""Case management forms. Picklists come from tip_cases.cases.htcds; forms that edit a record carry its version."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from tip_cases.cases import htcds
from tip_cases.labels import LABELS

BLANK = [("", "—")]
KIND_CHOICES = [("trafficking", _l("Trafficking in persons")), ("smuggling", _l("Smuggling of migrants")),
                ("both", _l("Both"))]
PRIORITY_CHOICES = [("low", _l("Low")), ("normal", _l("Normal")), ("high", _l("High")), ("urgent", _l("Urgent"))]
assert [p for p, _ in PRIORITY_CHOICES] == htcds.PRIORITIES
STATUS_LABELS = {s: LABELS[s] for s in htcds.CASE_STATUSES}  # lazy: each page shows its reader's word
ISIC_CHOICES = [(k, f"{k}: {v}") for k, v in htcds.ISIC_SECTIONS.items()]


class CaseOpenForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=KIND_CHOICES)
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=160)],
                        description=_l("A short working title; avoid victims' full names."))
    summary = TextAreaField(_l("Summary"), validators=[Length(max=5000)])
    priority = SelectField(_l("Priority"), choices=PRIORITY_CHOICES, default="normal")
    flag = HiddenField()
    submit = SubmitField(_l("Open case"))


class CaseEditForm(FlaskForm):
    version = HiddenField()
    kind = SelectField(_l("Kind"), choices=KIND_CHOICES)
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=160)])
    summary = TextAreaField(_l("Summary"), validators=[Length(max=5000)])
    priority = SelectField(_l("Priority"), choices=PRIORITY_CHOICES)
    submit = SubmitField(_l("Save changes"))


class StatusForm(FlaskForm):
    version = HiddenField()
    status = SelectField(_l("New status"), choices=[(s, STATUS_LABELS[s]) for s in ("Active", "FollowUp")])
    comment = StringField(_l("Comment on the status change"), validators=[Length(max=300)])
    submit = SubmitField(_l("Change status"))


class ReopenForm(FlaskForm):
    version = HiddenField()
    status = HiddenField(default="Active")
    comment = StringField(_l("Reason for reopening"), validators=[DataRequired(), Length(max=300)])
    submit = SubmitField(_l("Reopen case"))


class StageForm(FlaskForm):
    version = HiddenField()
    stage = SelectField(_l("New stage"), choices=[(s, LABELS[s]) for s in htcds.STAGES if s != "closed"])
    submit = SubmitField(_l("Change stage"))


class ClosureRequestForm(FlaskForm):
    target_status = SelectField(_l("Close as"), choices=[(s, LABELS[s]) for s in ("Closed", "ClosedReferred")])
    reason = TextAreaField(_l("Reason for closure"), validators=[DataRequired(), Length(max=2000)])
    submit = SubmitField(_l("Request closure"))


class ClosureDecisionForm(FlaskForm):
    comment = TextAreaField(_l("Manager's comment"), validators=[Length(max=2000)],
                            description=_l("Required when rejecting."))
    approve = SubmitField(_l("Approve closure"))
    reject = SubmitField(_l("Reject closure"))


class TeamForm(FlaskForm):
    members = SelectMultipleField(_l("Team members"), coerce=int, validate_choice=True)
    submit = SubmitField(_l("Save team"))


def _victim_fields(cls):
    cls.trafficking_status = SelectField(_l("Trafficking status"), choices=BLANK + htcds.choices(
        htcds.TRAFFICKING_STATUSES), validators=[Optional()])
    cls.status_decided_by = SelectField(_l("Status decided by"), choices=BLANK + htcds.choices(htcds.DECISION_ORGS),
                                        validators=[Optional()])
    cls.exploitation_types = SelectMultipleField(_l("Types of exploitation"), choices=htcds.choices(
        htcds.EXPLOITATION_TYPES), validators=[Optional()])
    cls.forced_labour_industry = SelectField(_l("Forced labour industry (ISIC)"), choices=BLANK + ISIC_CHOICES,
                                             validators=[Optional()])
    cls.sex_exploitation_type = SelectField(_l("Type of sexual exploitation"), choices=BLANK + htcds.choices(
        htcds.SEX_EXPLOITATION_TYPES), validators=[Optional()])
    cls.methods_of_control = SelectMultipleField(_l("Methods of control"), choices=htcds.choices(
        htcds.METHODS_OF_CONTROL), validators=[Optional()])
    cls.recruitment_method = SelectField(_l("Method of recruitment"), choices=BLANK + htcds.choices(
        htcds.RECRUITMENT_METHODS), validators=[Optional()])
    cls.recruitment_place = StringField(_l("Place of recruitment"), validators=[Length(max=160)])
    cls.exploitation_place = StringField(_l("Place of exploitation"), validators=[Length(max=160)])
    cls.relationship_to_trafficker = SelectField(_l("Relationship to trafficker"), choices=BLANK + htcds.choices(
        htcds.RELATIONSHIPS, {"Unaquainted": "Unacquainted"}), validators=[Optional()])
    cls.age_when_trafficked = IntegerField(_l("Age when trafficked"), validators=[Optional(), NumberRange(0, 120)])
    cls.perpetrator_role = SelectField(_l("Role in the process (suspects)"), choices=BLANK + htcds.choices(
        htcds.PERPETRATOR_ROLES), validators=[Optional()])
    cls.role_details = StringField(_l("Role details"), validators=[Length(max=500)])
    cls.organisation = StringField(_l("Organisation (suspects)"), validators=[Length(max=160)])
    return cls


CONTEXT_FIELDS = ("trafficking_status", "status_decided_by", "exploitation_types", "forced_labour_industry",
                  "sex_exploitation_type", "methods_of_control", "recruitment_method", "recruitment_place",
                  "exploitation_place", "relationship_to_trafficker", "age_when_trafficked", "perpetrator_role",
                  "role_details", "organisation", "notes")


@_victim_fields
class PersonAddForm(FlaskForm):
    role = SelectField(_l("Role in the case"), choices=[(r, r.capitalize()) for r in htcds.PERSON_ROLES])
    surname = StringField(_l("Surname"), validators=[Length(max=120)])
    given_names = StringField(_l("Given names"), validators=[Length(max=160)])
    date_of_birth = StringField(_l("Date of birth"), validators=[Length(max=20)],
                                description=_l("YYYY-MM-DD, YYYY-MM, YYYY, or ~YYYY when estimated."))
    sex = SelectField(_l("Sex"), choices=[("", _l("Unknown")), ("F", "F"), ("M", "M"), ("X", "X")],
                      validators=[Optional()])
    nationality = StringField(_l("Nationality (ISO 3166 alpha-3)"), validators=[Length(max=3)])
    alias_surname = StringField(_l("Alias surname"), validators=[Length(max=120)])
    alias_given_names = StringField(_l("Alias given names"), validators=[Length(max=160)])
    document_type = SelectField(_l("Document type"), choices=[("", "—"), ("passport", _l("Passport")),
                                                          ("national_id", _l("National ID")), ("other", _l("Other"))],
                                validators=[Optional()])
    document_number = StringField(_l("Document number"), validators=[Length(max=40)])
    document_country = StringField(_l("Issuing country"), validators=[Length(max=3)])
    screen_at_borders = BooleanField(_l("Screen this person at border crossings"))
    notes = TextAreaField(_l("Notes"), validators=[Length(max=2000)])
    person_id = HiddenField()
    submit = SubmitField(_l("Add person"))


@_victim_fields
class PersonContextForm(FlaskForm):
    version = HiddenField()
    notes = TextAreaField(_l("Notes"), validators=[Length(max=2000)])
    submit = SubmitField(_l("Save"))


class TraffickingEventForm(FlaskForm):
    type = SelectField(_l("Type"), choices=htcds.choices(htcds.HTE_TYPES))
    case_person_id = SelectField(_l("Person"), choices=[], validators=[Optional()])
    event_date = DateField(_l("Date"), validators=[Optional()])
    place = StringField(_l("Place"), validators=[Length(max=160)])
    country = StringField(_l("Country (ISO alpha-2)"), validators=[Length(max=2)])
    description = TextAreaField(_l("Description"), validators=[Length(max=4000)])
    submit = SubmitField(_l("Add event"))


class SupportPlanForm(FlaskForm):
    type = SelectField(_l("Type of support"), choices=htcds.choices(htcds.SUPPORT_TYPES))
    case_person_id = SelectField(_l("Person"), choices=[], validators=[Optional()])
    objectives = TextAreaField(_l("Objectives"), validators=[DataRequired(), Length(max=2000)])
    action_plan = TextAreaField(_l("Action plan"), validators=[Length(max=4000)])
    planned_end = DateField(_l("Planned end date"), validators=[Optional()])
    submit = SubmitField(_l("Add support plan"))


class ConsentForm(FlaskForm):
    case_person_id = SelectField(_l("Person"), choices=[])
    scopes = SelectMultipleField(_l("Consented to"), choices=list(htcds.CONSENT_SCOPES.items()))
    share_with = StringField(_l("Identifying data may be shared with"), validators=[Length(max=500)])
    retention = StringField(_l("How long data is kept (as explained)"), validators=[Length(max=160)])
    informed_of_withdrawal = BooleanField(_l("Informed how to withdraw consent"))
    given_by = SelectField(_l("Given by"), choices=[(g, g.capitalize()) for g in htcds.CONSENT_GIVERS])
    given_by_name = StringField(_l("Name of parent or guardian (if not self)"), validators=[Length(max=120)])
    submit = SubmitField(_l("Record consent"))


class WithdrawConsentForm(FlaskForm):
    note = StringField(_l("Note"), validators=[Length(max=300)])
    submit = SubmitField(_l("Record withdrawal"))


class NoteForm(FlaskForm):
    body = TextAreaField(_l("Note"), validators=[DataRequired(), Length(max=5000)])
    submit = SubmitField(_l("Add note"))


class TaskForm(FlaskForm):
    title = StringField(_l("Task"), validators=[DataRequired(), Length(max=200)])
    assignee_id = SelectField(_l("Assign to"), choices=[], validators=[Optional()])
    due_on = DateField(_l("Due on"), validators=[Optional()])
    submit = SubmitField(_l("Add task"))


class ConfirmForm(FlaskForm):
    submit = SubmitField(_l("Done"))


class EvidenceForm(FlaskForm):
    file = FileField(_l("File"), validators=[FileRequired()],
                     description=_l("PDF, JPEG, PNG, text, DOCX, MP3 or MP4; up to 20 MB."))
    description = StringField(_l("Description"), validators=[Length(max=300)])
    submit = SubmitField(_l("Upload"))


class LinkForm(FlaskForm):
    object_type = SelectField(_l("Link to"), choices=[("crossing", _l("Crossing")), ("flag", _l("Flag")),
                                                 ("traveller", _l("Traveller"))])
    object_id = IntegerField(_l("Id"), validators=[DataRequired(), NumberRange(min=1)])
    submit = SubmitField(_l("Link"))


class AttachFlagForm(FlaskForm):
    reference = StringField(_l("Case reference"), validators=[DataRequired(), Length(max=40)],
                            render_kw={"placeholder": _l("TIP-2026-0001")})
    submit = SubmitField(_l("Attach to this case"))


class ReferralForm(FlaskForm):
    case_person_id = SelectField(_l("Person referred"), choices=[], validators=[Optional()])
    organisation = StringField(_l("Organisation"), validators=[DataRequired(), Length(max=160)])
    organisation_type = SelectField(_l("Organisation type"), choices=BLANK + htcds.choices(htcds.ORG_TYPES),
                                    validators=[Optional()])
    agency_id = IntegerField(_l("Partner agency id"), validators=[Optional()])
    primary_case_worker = StringField(_l("Their primary case worker"), validators=[Length(max=120)])
    reason = SelectField(_l("Reason"), choices=htcds.choices(htcds.REFERRAL_REASONS))
    referred_on = DateField(_l("Referral date"), validators=[DataRequired()])
    details = TextAreaField(_l("Details"), validators=[Length(max=4000)])
    includes_identifying_data = BooleanField(_l("Share the person's identifying data"))
    override_reason = StringField(_l("Manager's override reason (only without consent)"), validators=[Length(max=500)])
    submit = SubmitField(_l("Make referral"))


class ReferralStatusForm(FlaskForm):
    status = SelectField(_l("New status"), choices=[(s, s.capitalize()) for s in htcds.REFERRAL_STATUSES[1:]])
    reason = StringField(_l("Reason (when declined)"), validators=[Length(max=500)])
    submit = SubmitField(_l("Update"))


class SearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Reference or person name"), validators=[Optional(), Length(max=120)])
    status = SelectField(_l("Status"), choices=[("", _l("Any"))] + list(STATUS_LABELS.items()), validators=[Optional()])
    stage = SelectField(_l("Stage"), choices=[("", _l("Any"))] + [(s, LABELS[s]) for s in htcds.STAGES],
                        validators=[Optional()])
    kind = SelectField(_l("Kind"), choices=[("", _l("Any"))] + KIND_CHOICES, validators=[Optional()])
    owner = SelectField(_l("Owner"), choices=[], validators=[Optional()])
    opened_from = DateField(_l("Opened from"), validators=[Optional()])
    opened_to = DateField(_l("Opened to"), validators=[Optional()])
    saved = HiddenField()
