"""Reports speak the reader's language on pages and in the PDF; CSV exports keep English column names."""

from __future__ import annotations

import re
import zlib

import pytest

from tests.extracted import python_msgids
from tests.reports.test_reports import january  # noqa: F401 - the fixture: January 2026 crossings
from tip_cases.extensions import db

pytestmark = pytest.mark.usefixtures("january")
DATA = {"purpose": "Monthly situation report to the Ministry of Home Affairs", "start": "2026-01-01",
        "end": "2026-01-31", "audience": "internal", "k": "11"}


def _pdf_text(data: bytes) -> str:
    """The text drawn on the PDF's pages (fpdf2 deflates each content stream)."""
    out = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            out.append(zlib.decompress(stream).decode("latin-1"))
        except zlib.error:
            out.append(stream.decode("latin-1"))
    return "\n".join(out)


def _manager(login_as, locale):
    browser = login_as("manager")
    browser.user.locale = locale
    db.session.commit()
    return browser


def test_situation_pdf_builds_in_english(login_as):
    pdf = _manager(login_as, "en").submit("/reports/situation", {**DATA, "format": "pdf"})
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    text = _pdf_text(pdf.data)
    assert "Lesotho border posts, January 1, 2026 to January 31, 2026" in text
    assert "(Border post)" in text and "(Total)" in text and "(Entry)" in text and "Kakaretso" not in text


def test_situation_pdf_builds_in_sesotho(login_as):
    pdf = _manager(login_as, "st").submit("/reports/situation", {**DATA, "format": "pdf"})
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    text = _pdf_text(pdf.data)
    # Headings the Sesotho catalog has; the period's dates in Sesotho month names (CLDR).
    assert "(Heke ea moeli)" in text and "(Kakaretso)" in text and "(Letsatsi)" in text
    assert "(Border post)" not in text and "(Total)" not in text
    assert "2026 Pherekgong 1" in text and "2026 Pherekgong 31" in text  # January, CLDR's Sesotho


def test_statistics_page_in_sesotho_but_the_csv_header_stays_english(login_as):
    browser = _manager(login_as, "st")
    page = browser.get("/reports/statistics?start=2026-01-01&end=2026-01-31").get_data(as_text=True)
    assert "Heke ea moeli" in page and "Kakaretso" in page
    form = {"purpose": "Check the January figures for the ministry", "audience": "internal", "k": "11",
            "start": "2026-01-01", "end": "2026-01-31", "post": "", "period": "day"}
    csv_body = browser.submit("/reports/export/table/crossings_post_direction", form).get_data(as_text=True)
    assert csv_body.splitlines()[0] == "Border post,Entry,Exit,Total"
    assert "Kakaretso" not in csv_body and "Heke" not in csv_body
    # The words without a Sesotho entry yet still go through gettext: the translators get their msgids.
    assert {"Crossings by border post and direction", "Crossings by day and direction", "Entry", "Exit",
            "Lesotho border posts, %(start)s to %(end)s", "Crossings and flags per day, last %(days)s days",
            "Flags raised per post, last %(days)s days",
            "Cells below %(k)s and complementary cells are suppressed (shown as x)."} <= python_msgids()
