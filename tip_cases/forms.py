"""Forms for sign-in, accounts and administration."""

from __future__ import annotations

from flask_babel import lazy_gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, Optional, Regexp

from tip_cases.models import HUMAN_ROLES

ROLE_CHOICES = [("border_officer", _l("Border Officer")), ("investigator", _l("Investigator")),
                ("manager", _l("Manager")), ("admin", _l("Admin"))]
assert [r for r, _ in ROLE_CHOICES] == [r.value for r in HUMAN_ROLES]


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)],
                           render_kw={"autocomplete": "username", "autofocus": True})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)],
                             render_kw={"autocomplete": "current-password"})
    submit = SubmitField(_l("Sign in"))


class TotpForm(FlaskForm):
    code = StringField(_l("6-digit code"), validators=[DataRequired(), Regexp(r"^\s*\d{3}\s?\d{3}\s*$",
                       message=_l("Enter the 6 digits shown by your authenticator app."))],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True})
    submit = SubmitField(_l("Verify"))


class EnrolForm(FlaskForm):
    """A new authenticator needs the administrator's one-time enrolment code as well as the password."""

    enrolment_code = StringField(_l("Enrolment code (from your administrator)"),
                                 validators=[DataRequired(), Length(max=40)],
                                 render_kw={"autocomplete": "off", "autofocus": True})
    code = StringField(_l("6-digit code"), validators=[DataRequired(), Regexp(r"^\s*\d{3}\s?\d{3}\s*$",
                       message=_l("Enter the 6 digits shown by your authenticator app."))],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})
    submit = SubmitField(_l("Verify"))


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()],
                                     render_kw={"autocomplete": "current-password"})
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=256)],
                                 render_kw={"autocomplete": "new-password"})
    submit = SubmitField(_l("Change password"))


LANGUAGE_CHOICES = [("en", "English"), ("st", "Sesotho")]  # each named in its own language


class LanguageForm(FlaskForm):
    locale = SelectField(lazy_gettext("Language"), choices=LANGUAGE_CHOICES)
    submit = SubmitField(lazy_gettext("Save"))


class UserCreateForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64),
                           Regexp(r"^[A-Za-z0-9._-]+$", message=_l("Letters, digits, dots, dashes, underscores."))])
    full_name = StringField(_l("Full name"), validators=[Optional(), Length(max=120)])
    email = EmailField(_l("Email"), validators=[Optional(), Email(check_deliverability=False), Length(max=254)])
    phone = StringField(_l("Phone (E.164)"), validators=[Optional(), Regexp(r"^\+[1-9]\d{6,14}$",
                        message=_l("Use the international format, e.g. +26622312345."))])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    post = SelectField(_l("Border post"), choices=[], validate_choice=False)
    password = PasswordField(_l("Initial password"), validators=[DataRequired(), Length(max=256)],
                             render_kw={"autocomplete": "new-password"})
    submit = SubmitField(_l("Create user"))


class UserRoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    post = SelectField(_l("Border post"), choices=[], validate_choice=False)
    submit = SubmitField(_l("Save role"))


class PasswordResetForm(FlaskForm):
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=256)],
                                 render_kw={"autocomplete": "new-password"})
    submit = SubmitField(_l("Reset password"))


class ConfirmForm(FlaskForm):
    """An empty form: a POST button that still carries the CSRF token."""

    submit = SubmitField(_l("Confirm"))


class BorderPostForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=16),
                       Regexp(r"^[A-Z0-9-]+$", message=_l("Upper-case letters, digits and dashes."))])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    kind = SelectField(_l("Kind"), choices=[("road", _l("Road")), ("air", _l("Air")),
                                            ("foot", _l("Foot / bridle path"))])
    district = StringField(_l("District"), validators=[Optional(), Length(max=60)])
    counterpart = StringField(_l("Post across the border"), validators=[Optional(), Length(max=120)])
    other_spellings = TextAreaField(
        _l("Other spellings"), validators=[Optional(), Length(max=4000)], render_kw={"rows": 4},
        description=_l("One per line. How feeds and people write this post's name, for example without "
                       "the apostrophe. Case, apostrophes and accents are ignored when names are matched."))
    active = BooleanField(_l("Active"), default=True)
    submit = SubmitField(_l("Save post"))


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    actor = StringField(_l("Actor"), validators=[Optional(), Length(max=80)])
    action = StringField(_l("Action (prefix)"), validators=[Optional(), Length(max=60)],
                         render_kw={"placeholder": _l("e.g. person.")})
    object_type = StringField(_l("Object type"), validators=[Optional(), Length(max=40)])
    object_id = StringField(_l("Object id"), validators=[Optional(), Length(max=64)])
    outcome = SelectField(_l("Outcome"), validators=[Optional()],
                          choices=[("", _l("Any")), ("allowed", _l("Allowed")), ("denied", _l("Denied"))])
