"""Case management forms. Picklists come from tip_cases.cases.htcds; forms that edit a record carry its version."""

from __future__ import annotations

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

BLANK = [("", "—")]
KIND_CHOICES = [("trafficking", "Trafficking in persons"), ("smuggling", "Smuggling of migrants"),
                ("both", "Both")]
PRIORITY_CHOICES = [(p, p.capitalize()) for p in htcds.PRIORITIES]
STATUS_LABELS = {"Active": "Active", "FollowUp": "Follow-up", "Closed": "Closed", "ClosedReferred": "Closed (referred)"}
ISIC_CHOICES = [(k, f"{k}: {v}") for k, v in htcds.ISIC_SECTIONS.items()]


class CaseOpenForm(FlaskForm):
    kind = SelectField("Kind", choices=KIND_CHOICES)
    title = StringField("Title", validators=[DataRequired(), Length(max=160)],
                        description="A short working title; avoid victims' full names.")
    summary = TextAreaField("Summary", validators=[Length(max=5000)])
    priority = SelectField("Priority", choices=PRIORITY_CHOICES, default="normal")
    flag = HiddenField()
    submit = SubmitField("Open case")


class CaseEditForm(FlaskForm):
    version = HiddenField()
    kind = SelectField("Kind", choices=KIND_CHOICES)
    title = StringField("Title", validators=[DataRequired(), Length(max=160)])
    summary = TextAreaField("Summary", validators=[Length(max=5000)])
    priority = SelectField("Priority", choices=PRIORITY_CHOICES)
    submit = SubmitField("Save changes")


class StatusForm(FlaskForm):
    version = HiddenField()
    status = SelectField("New status", choices=[(s, STATUS_LABELS[s]) for s in ("Active", "FollowUp")])
    comment = StringField("Comment on the status change", validators=[Length(max=300)])
    submit = SubmitField("Change status")


class ReopenForm(FlaskForm):
    version = HiddenField()
    status = HiddenField(default="Active")
    comment = StringField("Reason for reopening", validators=[DataRequired(), Length(max=300)])
    submit = SubmitField("Reopen case")


class StageForm(FlaskForm):
    version = HiddenField()
    stage = SelectField("New stage", choices=[(s, htcds.STAGE_LABELS[s]) for s in htcds.STAGES if s != "closed"])
    submit = SubmitField("Change stage")


class ClosureRequestForm(FlaskForm):
    target_status = SelectField("Close as", choices=[("Closed", "Closed"), ("ClosedReferred", "Closed (referred)")])
    reason = TextAreaField("Reason for closure", validators=[DataRequired(), Length(max=2000)])
    submit = SubmitField("Request closure")


class ClosureDecisionForm(FlaskForm):
    comment = TextAreaField("Manager's comment", validators=[Length(max=2000)],
                            description="Required when rejecting.")
    approve = SubmitField("Approve closure")
    reject = SubmitField("Reject closure")


class TeamForm(FlaskForm):
    members = SelectMultipleField("Team members", coerce=int, validate_choice=True)
    submit = SubmitField("Save team")


def _victim_fields(cls):
    cls.trafficking_status = SelectField("Trafficking status", choices=BLANK + htcds.choices(
        htcds.TRAFFICKING_STATUSES), validators=[Optional()])
    cls.status_decided_by = SelectField("Status decided by", choices=BLANK + htcds.choices(htcds.DECISION_ORGS),
                                        validators=[Optional()])
    cls.exploitation_types = SelectMultipleField("Types of exploitation", choices=htcds.choices(
        htcds.EXPLOITATION_TYPES), validators=[Optional()])
    cls.forced_labour_industry = SelectField("Forced labour industry (ISIC)", choices=BLANK + ISIC_CHOICES,
                                             validators=[Optional()])
    cls.sex_exploitation_type = SelectField("Type of sexual exploitation", choices=BLANK + htcds.choices(
        htcds.SEX_EXPLOITATION_TYPES), validators=[Optional()])
    cls.methods_of_control = SelectMultipleField("Methods of control", choices=htcds.choices(
        htcds.METHODS_OF_CONTROL), validators=[Optional()])
    cls.recruitment_method = SelectField("Method of recruitment", choices=BLANK + htcds.choices(
        htcds.RECRUITMENT_METHODS), validators=[Optional()])
    cls.recruitment_place = StringField("Place of recruitment", validators=[Length(max=160)])
    cls.exploitation_place = StringField("Place of exploitation", validators=[Length(max=160)])
    cls.relationship_to_trafficker = SelectField("Relationship to trafficker", choices=BLANK + htcds.choices(
        htcds.RELATIONSHIPS, {"Unaquainted": "Unacquainted"}), validators=[Optional()])
    cls.age_when_trafficked = IntegerField("Age when trafficked", validators=[Optional(), NumberRange(0, 120)])
    cls.perpetrator_role = SelectField("Role in the process (suspects)", choices=BLANK + htcds.choices(
        htcds.PERPETRATOR_ROLES), validators=[Optional()])
    cls.role_details = StringField("Role details", validators=[Length(max=500)])
    cls.organisation = StringField("Organisation (suspects)", validators=[Length(max=160)])
    return cls


CONTEXT_FIELDS = ("trafficking_status", "status_decided_by", "exploitation_types", "forced_labour_industry",
                  "sex_exploitation_type", "methods_of_control", "recruitment_method", "recruitment_place",
                  "exploitation_place", "relationship_to_trafficker", "age_when_trafficked", "perpetrator_role",
                  "role_details", "organisation", "notes")


@_victim_fields
class PersonAddForm(FlaskForm):
    role = SelectField("Role in the case", choices=[(r, r.capitalize()) for r in htcds.PERSON_ROLES])
    surname = StringField("Surname", validators=[Length(max=120)])
    given_names = StringField("Given names", validators=[Length(max=160)])
    date_of_birth = StringField("Date of birth", validators=[Length(max=20)],
                                description="YYYY-MM-DD, YYYY-MM, YYYY, or ~YYYY when estimated.")
    sex = SelectField("Sex", choices=[("", "Unknown"), ("F", "F"), ("M", "M"), ("X", "X")], validators=[Optional()])
    nationality = StringField("Nationality (ISO 3166 alpha-3)", validators=[Length(max=3)])
    alias_surname = StringField("Alias surname", validators=[Length(max=120)])
    alias_given_names = StringField("Alias given names", validators=[Length(max=160)])
    document_type = SelectField("Document type", choices=[("", "—"), ("passport", "Passport"),
                                                          ("national_id", "National ID"), ("other", "Other")],
                                validators=[Optional()])
    document_number = StringField("Document number", validators=[Length(max=40)])
    document_country = StringField("Issuing country", validators=[Length(max=3)])
    screen_at_borders = BooleanField("Screen this person at border crossings")
    notes = TextAreaField("Notes", validators=[Length(max=2000)])
    person_id = HiddenField()
    submit = SubmitField("Add person")


@_victim_fields
class PersonContextForm(FlaskForm):
    version = HiddenField()
    notes = TextAreaField("Notes", validators=[Length(max=2000)])
    submit = SubmitField("Save")


class TraffickingEventForm(FlaskForm):
    type = SelectField("Type", choices=htcds.choices(htcds.HTE_TYPES))
    case_person_id = SelectField("Person", choices=[], validators=[Optional()])
    event_date = DateField("Date", validators=[Optional()])
    place = StringField("Place", validators=[Length(max=160)])
    country = StringField("Country (ISO alpha-2)", validators=[Length(max=2)])
    description = TextAreaField("Description", validators=[Length(max=4000)])
    submit = SubmitField("Add event")


class SupportPlanForm(FlaskForm):
    type = SelectField("Type of support", choices=htcds.choices(htcds.SUPPORT_TYPES))
    case_person_id = SelectField("Person", choices=[], validators=[Optional()])
    objectives = TextAreaField("Objectives", validators=[DataRequired(), Length(max=2000)])
    action_plan = TextAreaField("Action plan", validators=[Length(max=4000)])
    planned_end = DateField("Planned end date", validators=[Optional()])
    submit = SubmitField("Add support plan")


class ConsentForm(FlaskForm):
    case_person_id = SelectField("Person", choices=[])
    scopes = SelectMultipleField("Consented to", choices=list(htcds.CONSENT_SCOPES.items()))
    share_with = StringField("Identifying data may be shared with", validators=[Length(max=500)])
    retention = StringField("How long data is kept (as explained)", validators=[Length(max=160)])
    informed_of_withdrawal = BooleanField("Informed how to withdraw consent")
    given_by = SelectField("Given by", choices=[(g, g.capitalize()) for g in htcds.CONSENT_GIVERS])
    given_by_name = StringField("Name of parent or guardian (if not self)", validators=[Length(max=120)])
    submit = SubmitField("Record consent")


class WithdrawConsentForm(FlaskForm):
    note = StringField("Note", validators=[Length(max=300)])
    submit = SubmitField("Record withdrawal")


class NoteForm(FlaskForm):
    body = TextAreaField("Note", validators=[DataRequired(), Length(max=5000)])
    submit = SubmitField("Add note")


class TaskForm(FlaskForm):
    title = StringField("Task", validators=[DataRequired(), Length(max=200)])
    assignee_id = SelectField("Assign to", choices=[], validators=[Optional()])
    due_on = DateField("Due on", validators=[Optional()])
    submit = SubmitField("Add task")


class ConfirmForm(FlaskForm):
    submit = SubmitField("Done")


class EvidenceForm(FlaskForm):
    file = FileField("File", validators=[FileRequired()],
                     description="PDF, JPEG, PNG, text, DOCX, MP3 or MP4; up to 20 MB.")
    description = StringField("Description", validators=[Length(max=300)])
    submit = SubmitField("Upload")


class LinkForm(FlaskForm):
    object_type = SelectField("Link to", choices=[("crossing", "Crossing"), ("flag", "Flag"),
                                                 ("traveller", "Traveller")])
    object_id = IntegerField("Id", validators=[DataRequired(), NumberRange(min=1)])
    submit = SubmitField("Link")


class AttachFlagForm(FlaskForm):
    reference = StringField("Case reference", validators=[DataRequired(), Length(max=40)],
                            render_kw={"placeholder": "TIP-2026-0001"})
    submit = SubmitField("Attach to this case")


class ReferralForm(FlaskForm):
    case_person_id = SelectField("Person referred", choices=[], validators=[Optional()])
    organisation = StringField("Organisation", validators=[DataRequired(), Length(max=160)])
    organisation_type = SelectField("Organisation type", choices=BLANK + htcds.choices(htcds.ORG_TYPES),
                                    validators=[Optional()])
    agency_id = IntegerField("Partner agency id", validators=[Optional()])
    primary_case_worker = StringField("Their primary case worker", validators=[Length(max=120)])
    reason = SelectField("Reason", choices=htcds.choices(htcds.REFERRAL_REASONS))
    referred_on = DateField("Referral date", validators=[DataRequired()])
    details = TextAreaField("Details", validators=[Length(max=4000)])
    includes_identifying_data = BooleanField("Share the person's identifying data")
    override_reason = StringField("Manager's override reason (only without consent)", validators=[Length(max=500)])
    submit = SubmitField("Make referral")


class ReferralStatusForm(FlaskForm):
    status = SelectField("New status", choices=[(s, s.capitalize()) for s in htcds.REFERRAL_STATUSES[1:]])
    reason = StringField("Reason (when declined)", validators=[Length(max=500)])
    submit = SubmitField("Update")


class SearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField("Reference or person name", validators=[Optional(), Length(max=120)])
    status = SelectField("Status", choices=[("", "Any")] + list(STATUS_LABELS.items()), validators=[Optional()])
    stage = SelectField("Stage", choices=[("", "Any")] + list(htcds.STAGE_LABELS.items()), validators=[Optional()])
    kind = SelectField("Kind", choices=[("", "Any")] + KIND_CHOICES, validators=[Optional()])
    owner = SelectField("Owner", choices=[], validators=[Optional()])
    opened_from = DateField("Opened from", validators=[Optional()])
    opened_to = DateField("Opened to", validators=[Optional()])
    saved = HiddenField()
