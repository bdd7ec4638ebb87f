"""Interface language: Sesotho or English, chosen per user, with locale-aware dates and numbers.

Flask-Babel does the gettext and CLDR work; this module only decides which language a request is in.
Catalogs live in tip_cases/translations and are compiled by `make` (never committed as .mo files).
"""

from __future__ import annotations

from flask import Flask, current_app, has_request_context, session
from flask_babel import get_translations, gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import form as flask_wtf_form
from flask_wtf.i18n import Translations as WTFormsTranslations

from screening.engine.phrases import Phrase, translate
from tip_cases.extensions import babel

SESSION_KEY = "locale"


def supported(code: str | None) -> bool:
    return bool(code) and code in current_app.config["LANGUAGES"]


def select_locale() -> str:
    """The signed-in user's choice, else the choice made on the sign-in page, else the unit's default.

    Outside a request (scheduler jobs, CLI) there is no user or session: the unit's default, unless the
    caller chose the recipient's language with `flask_babel.force_locale` (which bypasses this selector).
    """
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    user_choice = getattr(current_user, "locale", None) if current_user and current_user.is_authenticated else None
    if supported(user_choice):
        return user_choice
    if supported(session.get(SESSION_KEY)):
        return session[SESSION_KEY]
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def error_text(exc: BaseException) -> str:
    """A service's refusal in the reader's language: the one place views turn an error into words.

    Why at the view boundary rather than lazy_gettext in the services: a service error is also returned by
    the JSON API, the CLI and logs, which must stay English (docs/api.md), and a lazy string would take the
    language of whatever context happens to print it. So services raise `say(template, **values)` (an
    English `str` that keeps its template; extracted with `-k say`, no Flask needed in the service) and
    `str(exc)` stays English; pages call this to say it in the request's language.
    """
    message = exc.args[0] if exc.args else ""
    if isinstance(message, Phrase):
        return translate(message, gettext)
    return gettext(str(message)) if message else str(exc)


def select_timezone() -> str:
    return current_app.config["TIMEZONE"]


# WTForms' own messages, listed so `make i18n-extract` puts them in our catalogs: WTForms ships no Sesotho.
WTFORMS_MESSAGES = (
    _l("This field is required."), _l("Not a valid choice."), _l("Invalid email address."),
    _l("Invalid input."), _l("Not a valid integer value."), _l("Not a valid decimal value."),
    _l("Not a valid float value."), _l("Not a valid date value."), _l("Not a valid datetime value."),
    _l("Number must be at least %(min)s."), _l("Number must be at most %(max)s."),
    _l("Number must be between %(min)s and %(max)s."),
    _l("Field must be at least %(min)d character long."), _l("Field must be at least %(min)d characters long."),
    _l("Field must be at most %(max)d character long."), _l("Field must be at most %(max)d characters long."),
    _l("Field must be between %(min)d and %(max)d characters long."),
    _l("'%(value)s' is not a valid choice for this field."), _l("The CSRF token is missing."),
    _l("The CSRF token is invalid."), _l("The CSRF token has expired."), _l("The CSRF tokens do not match."),
    _l("Field must be equal to %(other_name)s."),
)


class FormTranslations(WTFormsTranslations):
    """WTForms' catalog where it has the language, else ours (Sesotho): a form error is never half English."""

    def gettext(self, string):
        found = super().gettext(string)
        return gettext(string) if found == string else found

    def ngettext(self, singular, plural, n):
        found = super().ngettext(singular, plural, n)
        return get_translations().ungettext(singular, plural, n) if found in (singular, plural) else found


def register(app: Flask) -> None:
    if app.config["BABEL_DEFAULT_LOCALE"] not in app.config["LANGUAGES"]:
        raise RuntimeError(f"TSELA_DEFAULT_LOCALE must be one of {', '.join(app.config['LANGUAGES'])}, "
                           f"not {app.config['BABEL_DEFAULT_LOCALE']!r}")
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    # Flask-WTF reads this module global in FlaskForm.Meta.get_translations; replacing it is the only hook.
    flask_wtf_form.translations = FormTranslations()
