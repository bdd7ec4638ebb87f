"""Forms for agencies, contacts, channels, rules and data-sharing profiles."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, SelectMultipleField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from notifications import rules


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ButtonForm(FlaskForm):
    """CSRF only: for the buttons (send a test, retry, enable/disable, acknowledge)."""

    submit = SubmitField("Go")


class AgencyForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    org_type = SelectField("Organisation type (HTCDS)", choices=list(rules.ORG_TYPES.items()))
    country = StringField("Country (ISO 3166 alpha-2)", default="LS", validators=[Length(min=2, max=2)])
    profile_id = SelectField("Data-sharing profile", coerce=int, choices=[])
    submit = SubmitField("Add agency")


class ContactForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    position = StringField("Position", validators=[Optional(), Length(max=120)])
    email = StringField("Email", validators=[Optional(), Length(max=254)])
    phone = StringField("Phone (E.164)", validators=[Optional(), Length(max=32)])
    submit = SubmitField("Add contact")


class ChannelForm(FlaskForm):
    kind = SelectField("Kind", choices=list(rules.CHANNEL_KINDS.items()))
    label = StringField("Label", validators=[Optional(), Length(max=80)])
    address = StringField("Address", validators=[DataRequired(), Length(max=500)],
                          description="Email address, webhook URL, or phone number for SMS.")
    gateway_url = StringField("SMS gateway URL", validators=[Optional(), Length(max=500)])
    secret = StringField("Secret", validators=[Optional(), Length(max=120)],
                         description="Webhook signing secret (left empty: one is generated) or SMS gateway token.")
    timeout_seconds = IntegerField("Timeout (seconds)", default=10, validators=[NumberRange(min=1, max=60)])
    submit = SubmitField("Add channel")


class RuleForm(FlaskForm):
    channel_id = SelectField("Agency and channel", coerce=int, choices=[])
    event = SelectField("Event", choices=list(rules.EVENTS.items()))
    kinds = StringField("Only these kinds", validators=[Optional(), Length(max=200)],
                        description="Comma-separated (e.g. trafficking, smuggling, missing_child); empty = any.")
    priorities = CheckboxesField("Only these priorities (none ticked = any)",
                                 choices=[(p, p) for p in rules.PRIORITIES])
    post_codes = StringField("Only these border posts", validators=[Optional(), Length(max=200)],
                             description="Comma-separated post codes (e.g. MSB, MPB); empty = every post.")
    submit = SubmitField("Add rule")


class ProfileForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=80)])
    description = StringField("Description", validators=[Optional(), Length(max=300)])
    fields = CheckboxesField("Fields the agency may receive",
                             choices=[(f, rules.FIELD_LABELS[f]) for f in rules.ALL_FIELDS])
    allow_identifying = BooleanField("May receive victim-identifying data (still only with the victim's consent "
                                     "or a recorded override)")
    submit = SubmitField("Save profile")
