"""Jinja filters shared by every template (dates shown in Africa/Maseru time).

`local` and `isodate` stay ISO (2026-12-03 14:05) in every language on purpose: they fill tables and
lists that people scan, sort and copy into reports and other systems, where one unambiguous,
sortable form matters more than the language. `longdate` is for a date read inside a sentence
("Closed on 3 December 2026"): it is written the reader's way, month names and order from CLDR.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from flask_babel import format_date, format_decimal, get_locale

from tip_cases.access import can, current_actor
from tip_cases.labels import label


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """The time in the unit's zone; a time at the edge of the calendar is shown as stored, in UTC.

    A row stored before the date window was enforced may be 9999-12-31 23:59 UTC, which has no
    Maseru time: the page must still render (and show the odd value for someone to correct).
    """
    if value is None:
        return ""
    try:
        return value.astimezone(ZoneInfo(current_app.config["TIMEZONE"])).strftime(fmt)
    except (OverflowError, ValueError):
        return f"{value.strftime(fmt)} UTC"


def show_number(value) -> str:
    """A count or figure as the reader's locale writes it (thousands separator, decimal sign)."""
    return "" if value is None else format_decimal(value)


def show_date(value: date | None) -> str:
    return value.isoformat() if value else ""


def long_date(value: date | datetime | None) -> str:
    """A date for a sentence, in the reader's language ("3 December 2026", "2026 Tshitwe 3").

    A datetime is first put in the unit's zone, so a late-evening UTC time is not shown as the next or
    previous day.
    """
    if value is None:
        return ""
    if isinstance(value, datetime):
        try:
            value = value.astimezone(ZoneInfo(current_app.config["TIMEZONE"])).date()
        except (OverflowError, ValueError):
            value = value.date()
    return format_date(value, "long")


def register(app: Flask) -> None:
    app.add_template_filter(local_time, "local")
    app.add_template_filter(show_date, "isodate")
    app.add_template_filter(long_date, "longdate")
    app.add_template_filter(label, "label")
    app.add_template_filter(show_number, "number")
    # <html lang> names the language the page is written in, for screen readers and hyphenation.
    app.add_template_global(get_locale, "get_locale")

    @app.context_processor
    def _globals():
        return {"can": lambda action, obj=None: can(current_actor(), action, obj),
                "app_name": app.config["APP_NAME"]}
