"""Forms: crossing capture (with MRZ), persons of interest, flag review, tracing, CSV upload."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from markupsafe import escape
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    DecimalField,
    HiddenField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from screening.engine.ingest import ICAO_SPECIAL, ISO_ALPHA3
from screening.engine.normalize import (
    check_birth_date,
    check_crossing_time,
    parse_crossing_dob,
    parse_partial_date,
    to_utc,
)
from screening.models import ALERT_KINDS, CATEGORIES, NEED_TO_KNOW_ROLE_CHOICES, PERSON_SOURCES
from tip_cases.i18n import error_text
from tip_cases.labels import LABELS

SEX_CHOICES = [("", _l("Unknown")), ("F", _l("Female")), ("M", _l("Male")), ("X", _l("Unspecified (X)"))]


def _label(value: str):
    """A coded value's word in the reader's language (tip_cases.labels), capitalised when shown."""
    word = LABELS.get(value)
    return _Capitalised(word) if word is not None else value.replace("_", " ").capitalize()


class _Capitalised:
    """A lazy label, capitalised when rendered (a choice list is built once, read in each request's language)."""

    def __init__(self, word) -> None:
        self.word = word

    def __str__(self) -> str:
        text = str(self.word)
        return text[:1].upper() + text[1:]

    def __html__(self) -> str:
        return str(escape(str(self)))


def partial_date(form, field) -> None:
    if field.data and field.data.strip():
        try:
            check_birth_date(parse_partial_date(field.data), datetime.now(UTC).date())
        except ValueError as exc:
            raise ValidationError(error_text(exc)) from None


def crossing_dob(form, field) -> None:
    """A crossing's date of birth: an impossible day is kept to the month (see parse_crossing_dob)."""
    if field.data and field.data.strip():
        try:
            check_birth_date(parse_crossing_dob(field.data)[0], datetime.now(UTC).date())
        except ValueError as exc:
            raise ValidationError(error_text(exc)) from None


class NoNulForm(FlaskForm):
    """Refuses a NUL character in any text field with the field named (PostgreSQL cannot store one).

    Refused rather than stripped: nobody types a NUL, so it comes from a corrupt paste, and the
    officer should look at the value before it is saved.
    """

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        for field in self:
            if isinstance(field.data, str) and "\x00" in field.data:
                field.errors = [*field.errors, _("contains a NUL character; retype the value")]
                ok = False
        return ok


def alias_lines(form, field) -> None:
    """Each alias line fits its columns (a longer one was a database error on PostgreSQL, a 500)."""
    for n, line in enumerate((field.data or "").splitlines(), 1):
        surname, _sep, given = line.partition(",")
        if len(surname.strip()) > 120 or len(given.strip()) > 160:
            raise ValidationError(_("line %(n)s: a surname has at most 120 characters, given names at most 160", n=n))


def document_lines(form, field) -> None:
    """Each document line is NUMBER, TYPE NUMBER or TYPE NUMBER COUNTRY and fits its columns; a line of
    another shape is an error, never dropped."""
    for n, line in enumerate((field.data or "").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) > 3:
            raise ValidationError(_("line %(n)s: write TYPE NUMBER COUNTRY, e.g. 'P RA1234567 LSO'", n=n))
        kind, number, country = {1: [None, parts[0], None], 2: [*parts, None], 3: parts}[len(parts)]
        if len(number) > 40 or (kind and len(kind) > 20) or (country and len(country) > 3):
            raise ValidationError(_("line %(n)s: a document number has at most 40 characters, a type 20, "
                                    "a country 3 (ISO alpha-3)", n=n))


def country_code(form, field) -> None:
    if field.data:
        field.data = field.data.strip().upper()
        if field.data and field.data not in ISO_ALPHA3 and field.data not in ICAO_SPECIAL:
            raise ValidationError(_("use an ISO 3166-1 alpha-3 code, e.g. LSO, ZAF"))


class CaptureForm(NoNulForm):
    mrz = TextAreaField(_l("Scan or paste the MRZ"), validators=[Optional(), Length(max=200)],
                        description=_l("The 2 or 3 lines at the bottom of the passport or ID card. A scan fills "
                                    "the fields below and checks the check digits; after a paste, 'Read MRZ'."),
                        render_kw={"rows": 3, "spellcheck": "false", "autocomplete": "off", "autofocus": True,
                                   "autocapitalize": "characters", "class": "font-monospace"})
    read_mrz = SubmitField(_l("Read MRZ"))
    direction = SelectField(_l("Direction"),
                            choices=[("entry", _l("Entry into Lesotho")), ("exit", _l("Exit from Lesotho"))])
    crossed_at = DateTimeLocalField(_l("Crossed at (Maseru time)"), format="%Y-%m-%dT%H:%M", validators=[Optional()],
                                    description=_l("Leave empty for now."))
    surname = StringField(_l("Surname"), validators=[Length(max=120)])
    given_names = StringField(_l("Given names"), validators=[Length(max=160)])
    sex = SelectField(_l("Sex"), choices=SEX_CHOICES)
    date_of_birth = StringField(_l("Date of birth"), validators=[Length(max=20), crossing_dob],
                                description=_l("YYYY-MM-DD, or YYYY-MM / YYYY when that is all the traveller knows."))
    dob_estimated = BooleanField(_l("Year of birth is an estimate"))
    nationality = StringField(_l("Nationality (alpha-3)"), validators=[Length(max=3), country_code])
    document_type = StringField(_l("Document type"), validators=[Length(max=20)],
                                description=_l("P passport, ID card..."))
    document_number = StringField(_l("Document number"), validators=[Length(max=40)])
    document_country = StringField(_l("Issuing country (alpha-3)"), validators=[Length(max=3), country_code])
    address = StringField(_l("Address"), validators=[Length(max=300)])
    purpose = StringField(_l("Purpose of travel"), validators=[Length(max=120)])
    vehicle_registration = StringField(_l("Vehicle registration"), validators=[Length(max=20)])
    travel_group = StringField(_l("Travelling with (group)"), validators=[Length(max=64)],
                               description=_l("Same value for people crossing together (family, vehicle)."))
    guardian_relation = SelectField(
        _l("Travelling with (for a minor)"),
        choices=[("", _l("Not recorded / adult traveller")), ("parent", _l("Parent")),
                 ("legal_guardian", _l("Legal guardian")), ("relative", _l("Relative (not a parent)")),
                 ("none", _l("No parent or guardian"))], default="",
        description=_l("For a traveller under 18: who accompanies the child."))
    guardian_document_number = StringField(
        _l("Accompanying adult's document number"), validators=[Length(max=40)],
        description=_l("Capture the adult too, with the same group: their crossing is linked by this number."))
    consent_document = BooleanField(_l("Parental consent letter seen"))
    save = SubmitField(_l("Save and screen"))

    def validate_surname(self, field) -> None:
        if self.save.data and not (field.data or self.given_names.data or self.document_number.data):
            raise ValidationError(_("give a name or a document number"))

    def validate_crossed_at(self, field) -> None:
        if field.data is None:
            return
        try:
            at = to_utc(field.data.replace(tzinfo=ZoneInfo(current_app.config["TIMEZONE"])))
            check_crossing_time(at, datetime.now(UTC))
        except ValueError as exc:
            raise ValidationError(error_text(exc)) from None


class PersonForm(NoNulForm):
    version = HiddenField()
    reference = StringField(_l("Reference"), validators=[Length(max=40)],
                            description=_l("The source's own reference (case number, notice number)."))
    surname = StringField(_l("Surname"), validators=[Length(max=120)])
    given_names = StringField(_l("Given names"), validators=[Length(max=160)])
    aliases = TextAreaField(_l("Aliases"), validators=[alias_lines], render_kw={"rows": 3},
                            description=_l("One per line: SURNAME, Given names."))
    sex = SelectField(_l("Sex"), choices=SEX_CHOICES)
    date_of_birth = StringField(_l("Date of birth"), validators=[Length(max=20), partial_date],
                                description=_l("YYYY-MM-DD, YYYY-MM, YYYY, or ~YYYY when estimated."))
    nationality = StringField(_l("Nationality (alpha-3)"), validators=[Length(max=3), country_code])
    place_of_birth = StringField(_l("Place of birth"), validators=[Length(max=120)])
    documents = TextAreaField(_l("Documents"), validators=[document_lines], render_kw={"rows": 3},
                              description=_l("One per line: TYPE NUMBER COUNTRY, e.g. 'P RA1234567 LSO'."))
    category = SelectField(_l("Role"), choices=[(c, _label(c)) for c in CATEGORIES])
    alert_kind = SelectField(_l("Alert"), choices=[(k, _label(k)) for k in ALERT_KINDS])
    discreet = BooleanField(_l("Discreet check: do not alert the person or companions"))
    screening_active = BooleanField(_l("Screen crossings against this person"), default=True)
    review_date = DateField(_l("Review by"), validators=[Optional()],
                            description=_l("Screening stops after this date unless it is renewed."))
    alert_reason = TextAreaField(_l("Reason for the alert"), validators=[Length(max=2000)], render_kw={"rows": 2})
    officer_action = TextAreaField(_l("Action the officer must take"), validators=[Length(max=2000)],
                                   render_kw={"rows": 2})
    source = SelectField(_l("Source"), choices=[(s, _label(s)) for s in PERSON_SOURCES])
    # Need to know: who sees a protective or discreet entry in full; everyone else gets the action and `contact`.
    need_to_know_roles = SelectMultipleField(
        _l("Roles that see it in full"), choices=[(r, _label(r)) for r in NEED_TO_KNOW_ROLE_CHOICES],
        description=_l("For a protective or discreet alert. None chosen: investigators and managers."))
    need_to_know_case = StringField(_l("Case whose team also sees it"), validators=[Length(max=40)],
                                    description=_l("A case reference, e.g. TIP-2026-0001; optional."))
    contact = StringField(_l("Whom to call"), validators=[Length(max=300)],
                          description=_l("Shown to everyone the alert does not name, "
                                         "e.g. 'CGPU duty officer, 2231 7263'."))
    submit = SubmitField(_l("Save"))

    def validate_documents(self, field) -> None:
        for n, line in enumerate((field.data or "").splitlines(), 1):
            if line.strip() and len(line.split()) > 3:
                raise ValidationError(_("line %(n)s: expected TYPE NUMBER COUNTRY", n=n))


class ReviewForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[Length(max=2000)], render_kw={"rows": 2},
                           description=_l("Required except to acknowledge; kept with your name."))
    escalate_to = SelectField(_l("Escalate to"), coerce=int, validators=[Optional()], choices=[])
    acknowledge = SubmitField(_l("Acknowledge"))
    confirm = SubmitField(_l("Same person"))
    not_same_person = SubmitField(_l("Not the same person"))
    escalate = SubmitField(_l("Escalate to investigator"))

    def decision(self) -> str | None:
        for name in ("acknowledge", "confirm", "not_same_person", "escalate"):
            if getattr(self, name).data:
                return name
        return None


class TraceForm(NoNulForm):
    surname = StringField(_l("Surname"), validators=[Length(max=120)])
    given_names = StringField(_l("Given names"), validators=[Length(max=160)])
    sex = SelectField(_l("Sex"), choices=SEX_CHOICES)
    date_of_birth = StringField(_l("Date of birth"), validators=[Length(max=20), partial_date])
    nationality = StringField(_l("Nationality (alpha-3)"), validators=[Length(max=3), country_code])
    document_number = StringField(_l("Document number"), validators=[Length(max=40)])
    min_score = DecimalField(_l("Minimum score"), default=0.7, places=2,
                             validators=[InputRequired(), NumberRange(0, 1)])
    submit = SubmitField(_l("Trace"))

    def validate_surname(self, field) -> None:
        if not (field.data or self.given_names.data or self.document_number.data):
            raise ValidationError(_("give a name or a document number"))


class ImportForm(FlaskForm):
    file = FileField(_l("Crossings CSV"), validators=[FileRequired(), FileAllowed(["csv", "txt"], _l("a .csv file"))],
                     description=_l("Columns: external_id, surname, given_names, sex, date_of_birth, nationality, "
                                 "document_type, document_number, document_country, direction, border_post, "
                                 "crossed_at, address. Optional: travel_group, guardian_relation, "
                                 "guardian_document_number, consent_document (for minors). "
                                 "Other columns are ignored."))
    submit = SubmitField(_l("Import"))

