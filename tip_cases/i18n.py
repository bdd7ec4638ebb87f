"""Interface language: Sesotho or English, chosen per user, with locale-aware dates and numbers.

Flask-Babel does the gettext and CLDR work; this module only decides which language a request is in.
Catalogs live in tip_cases/translations and are compiled by `make` (never committed as .mo files).
"""

from __future__ import annotations

from flask import Flask, current_app, session
from flask_login import current_user

from tip_cases.extensions import babel

SESSION_KEY = "locale"


def supported(code: str | None) -> bool:
    return bool(code) and code in current_app.config["LANGUAGES"]


def select_locale() -> str:
    """The signed-in user's choice, else the choice made on the sign-in page, else the unit's default."""
    user_choice = getattr(current_user, "locale", None) if current_user and current_user.is_authenticated else None
    if supported(user_choice):
        return user_choice
    if supported(session.get(SESSION_KEY)):
        return session[SESSION_KEY]
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    return current_app.config["TIMEZONE"]


def register(app: Flask) -> None:
    if app.config["BABEL_DEFAULT_LOCALE"] not in app.config["LANGUAGES"]:
        raise RuntimeError(f"TSELA_DEFAULT_LOCALE must be one of {', '.join(app.config['LANGUAGES'])}, "
                           f"not {app.config['BABEL_DEFAULT_LOCALE']!r}")
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
