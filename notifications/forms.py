"""Forms for agencies, contacts, channels, rules and data-sharing profiles."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
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

    submit = SubmitField(_l("Go"))


class AgencyForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    org_type = SelectField(_l("Organisation type (HTCDS)"), choices=list(rules.ORG_TYPES.items()))
    country = StringField(_l("Country (ISO 3166 alpha-2)"), default="LS", validators=[Length(min=2, max=2)])
    profile_id = SelectField(_l("Data-sharing profile"), coerce=int, choices=[])
    submit = SubmitField(_l("Add agency"))


class ContactForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    position = StringField(_l("Position"), validators=[Optional(), Length(max=120)])
    email = StringField(_l("Email"), validators=[Optional(), Length(max=254)])
    phone = StringField(_l("Phone (E.164)"), validators=[Optional(), Length(max=32)])
    submit = SubmitField(_l("Add contact"))


class ChannelForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=list(rules.CHANNEL_KINDS.items()))
    label = StringField(_l("Label"), validators=[Optional(), Length(max=80)])
    address = StringField(_l("Address"), validators=[DataRequired(), Length(max=500)],
                          description=_l("Email address, webhook URL, or phone number for SMS."))
    gateway_url = StringField(_l("SMS gateway URL"), validators=[Optional(), Length(max=500)])
    secret = StringField(_l("Secret"), validators=[Optional(), Length(max=120)],
                         description=_l("Webhook signing secret (left empty: one is generated) or SMS gateway token."))
    timeout_seconds = IntegerField(_l("Timeout (seconds)"), default=10, validators=[NumberRange(min=1, max=60)])
    submit = SubmitField(_l("Add channel"))


class RuleForm(FlaskForm):
    channel_id = SelectField(_l("Agency and channel"), coerce=int, choices=[])
    event = SelectField(_l("Event"), choices=list(rules.EVENTS.items()))
    kinds = StringField(_l("Only these kinds"), validators=[Optional(), Length(max=200)],
                        description=_l("Comma-separated (e.g. trafficking, smuggling, missing_child); empty = any."))
    priorities = CheckboxesField(_l("Only these priorities (none ticked = any)"),
                                 choices=[(p, p) for p in rules.PRIORITIES])
    post_codes = StringField(_l("Only these border posts"), validators=[Optional(), Length(max=200)],
                             description=_l("Comma-separated post codes (e.g. MSB, MPB); empty = every post."))
    submit = SubmitField(_l("Add rule"))


class ProfileForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=80)])
    description = StringField(_l("Description"), validators=[Optional(), Length(max=300)])
    fields = CheckboxesField(_l("Fields the agency may receive"),
                             choices=[(f, rules.FIELD_LABELS[f]) for f in rules.ALL_FIELDS])
    allow_identifying = BooleanField(_l("May receive victim-identifying data (still only with the victim's consent "
                                        "or a recorded override)"))
    submit = SubmitField(_l("Save profile"))
