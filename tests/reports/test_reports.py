"""Managers' dashboard, statistics, exports and situation report, end to end through the pages."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from tests.reports import builders as b
from tip_cases.extensions import db, utcnow
from tip_cases.models import AuditEvent


class _Tables(HTMLParser):
    """Collects <table data-table=...> cells as lists of row texts."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._current = None
        self._row = None
        self._cell = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and "data-table" in attrs:
            self._current = self.tables.setdefault(attrs["data-table"], [])
        elif tag == "tr" and self._current is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "table":
            self._current = None
        elif tag == "tr" and self._row is not None:
            self._current.append(self._row)
            self._row = None
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def tables(html: str) -> dict[str, dict[str, list[str]]]:
    p = _Tables()
    p.feed(html)
    return {k: {r[0]: r[1:] for r in rows[1:] if r} for k, rows in p.tables.items()}  # rows[0]: the header


def _csv(resp) -> list[list[str]]:
    return list(csv.reader(io.StringIO(resp.get_data(as_text=True))))


@pytest.fixture
def january(db_session):
    """Crossings in January 2026 (and one just after it in Maseru time) with known travellers."""
    # Maseru Bridge: 3 entries, 2 exits; Maputsoe: 1 entry.
    b.crossing(b.utc(2026, 1, 10, 10), dob=(2008, 6, 15))  # 17 at crossing
    b.crossing(b.utc(2026, 1, 10, 10), dob=(2008, 1, 10))  # 18 on the day (12:00 local)
    b.crossing(b.utc(2026, 1, 11, 8), dob=(2008, None, None), sex="M", nationality="ZAF")  # year only: 18
    b.crossing(b.utc(2026, 1, 12, 8), direction="exit", dob=(1970, 3, 1), sex="M")  # 55
    b.crossing(b.utc(2026, 1, 31, 21, 30), direction="exit", dob=(None, None, None), sex=None,
               nationality=None)  # 23:30 local on 31 January
    b.crossing(b.utc(2026, 1, 20, 9), post="MPB", dob=(2020, 5, 5))  # 5
    b.crossing(b.utc(2026, 1, 31, 22, 30), dob=(1990, 1, 1))  # 00:30 local on 1 February: outside
    db_session.commit()


def test_statistics_are_aggregated_by_local_day_age_band_sex_and_nationality(login_as, january):
    browser = login_as("manager")
    html = browser.get("/reports/statistics?start=2026-01-01&end=2026-01-31&period=day").get_data(as_text=True)
    t = tables(html)
    assert t["crossings_post_direction"]["Maseru Bridge"] == ["3", "2", "5"]
    assert t["crossings_post_direction"]["Maputsoe Bridge"] == ["1", "0", "1"]
    assert t["crossings_post_direction"]["Total"] == ["4", "2", "6"]
    assert t["crossings_period"]["2026-01-31"] == ["0", "1", "1"]  # 23:30 local; 00:30 on 1 Feb is out
    assert "2026-02-01" not in t["crossings_period"]
    ages = t["travellers_sex_age"]  # columns: Female, Male, Other/unknown, Total
    assert ages["0-11"] == ["1", "0", "0", "1"]
    assert ages["12-17"] == ["1", "0", "0", "1"]
    assert ages["18-24"] == ["1", "1", "0", "2"]
    assert ages["50+"] == ["0", "1", "0", "1"]
    assert ages["unknown"] == ["0", "0", "1", "1"]
    assert t["travellers_nationality"]["LSO"] == ["4"] and t["travellers_nationality"]["ZAF"] == ["1"]
    assert t["travellers_nationality"]["unknown"] == ["1"]
    assert '<svg xmlns="http://www.w3.org/2000/svg" role="img"' in html  # a chart beside each table

    # The post filter and the period grouping.
    from tests import factories

    mpb = factories.post("MPB").id
    t = tables(browser.get(f"/reports/statistics?start=2026-01-01&end=2026-01-31&post={mpb}&period=month")
               .get_data(as_text=True))
    assert t["crossings_post_direction"] == {"Maputsoe Bridge": ["1", "0", "1"], "Total": ["1", "0", "1"]}
    assert t["crossings_period"]["2026-01"] == ["1", "0", "1"]


def test_bad_filters_fall_back_instead_of_failing(login_as, january):
    resp = login_as("manager").get("/reports/statistics?start=2026-02-01&end=2026-01-01&post=abc&period=week")
    assert resp.status_code == 200
    assert "The end date is before the start date." in resp.get_data(as_text=True)


@pytest.mark.parametrize("role", ["border_officer", "investigator"])
def test_reports_are_for_managers_only(login_as, role):
    browser = login_as(role)
    for url in ("/reports/", "/reports/statistics", "/reports/export/ctdc", "/reports/export/cases",
                "/reports/situation", "/reports/export/table/crossings_post_direction"):
        assert browser.get(url).status_code == 403, url


def test_admins_view_but_do_not_export(login_as):
    browser = login_as("admin")
    assert browser.get("/reports/").status_code == 200
    assert browser.get("/reports/export/ctdc").status_code == 403


def test_dashboard_shows_flag_states_and_acknowledgement_times(login_as, db_session):
    now = utcnow()
    for minutes, status in ((2, "acknowledged"), (4, "confirmed"), (10, "not_same_person"), (30, "acknowledged")):
        c = b.crossing(now - timedelta(days=2))
        b.flag(c, status=status, created=now - timedelta(days=2), ack_after=timedelta(minutes=minutes))
    b.flag(b.crossing(now - timedelta(days=1)), status="new", created=now - timedelta(days=1))
    b.flag(b.crossing(now - timedelta(days=1), post="MPB"), status="escalated", created=now - timedelta(days=1),
           ack_after=timedelta(minutes=6))
    b.crossing(now - timedelta(days=40))  # outside the 30 days
    db_session.commit()
    html = login_as("manager").get("/reports/").get_data(as_text=True)
    t = tables(html)
    # states: new, acknowledged, escalated, confirmed, not_same_person, total
    assert t["flags-by-post"]["Maseru Bridge"] == ["1", "2", "0", "1", "1", "5"]
    assert t["flags-by-post"]["Maputsoe Bridge"] == ["0", "0", "1", "0", "0", "1"]
    # Maseru Bridge: 2, 4, 10, 30 minutes -> median 7.0, p90 (linear) 10 + 0.7 * 20 = 24.0
    assert t["ack-times"]["Maseru Bridge"] == ["4", "7.0", "24.0"]
    assert t["ack-times"]["Maputsoe Bridge"] == ["1", "6.0", "6.0"]
    assert t["per-day"]["Total"] == ["6", "6"]
    assert 'role="img"' in html


def test_situation_report_prints_as_html_and_pdf(login_as, january):
    browser = login_as("manager")
    data = {"purpose": "Monthly situation report to the Ministry of Home Affairs", "start": "2026-01-01",
            "end": "2026-01-31", "audience": "external", "k": "11", "format": "html"}
    html = browser.submit("/reports/situation", data).get_data(as_text=True)
    assert "Migration situation report" in html and "January 1, 2026 to January 31, 2026" in html
    assert "reports.css" in html and "data-print" in html
    t = tables(html)
    assert t["crossings_post_direction"]["Total"] == ["x", "x", "x"]  # 6 crossings: all small cells
    pdf = browser.submit("/reports/situation", {**data, "format": "pdf", "audience": "internal"})
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert b"Migration situation report" in pdf.data
    details = db.session.execute(select(AuditEvent.detail).where(AuditEvent.action == "report.export")).scalars()
    assert [d["format"] for d in details] == ["html", "pdf"]


def test_travellers_tables_count_persons_once_and_crossings_tables_count_crossings(login_as, db_session):
    from screening.models import Traveller

    # One traveller (summary: female, LSO, born 2008-03-01) crossing three times in January, turning
    # 18 between the first and the last crossing; counted once, aged at her first crossing.
    t = Traveller(sex="F", nationality="LSO", dob_year=2008, dob_month=1, dob_day=20, dob_precision="day")
    db_session.add(t)
    db_session.flush()
    for day, direction in ((5, "exit"), (12, "entry"), (25, "exit")):
        c = b.crossing(b.utc(2026, 1, day, 10), direction=direction, dob=(2008, 1, 20), nationality="LSO")
        c.traveller_id = t.id
    b.crossing(b.utc(2026, 2, 3, 10), dob=(2008, 1, 20)).traveller_id = t.id  # outside the period
    # Two crossings not yet linked to a traveller: each counts as a person.
    b.crossing(b.utc(2026, 1, 7, 10), sex="M", dob=(1980, 1, 1), nationality="ZAF")
    b.crossing(b.utc(2026, 1, 8, 10), sex="M", dob=(1980, 1, 1), nationality="ZAF")
    db_session.commit()

    html = login_as("manager").get("/reports/statistics?start=2026-01-01&end=2026-01-31").get_data(as_text=True)
    t_ = tables(html)
    assert t_["crossings_post_direction"]["Total"] == ["3", "2", "5"]  # crossings stay crossings
    assert t_["crossings_period"]["2026-01"] == ["3", "2", "5"]
    ages = t_["travellers_sex_age"]
    assert ages["12-17"] == ["1", "0", "0", "1"]  # 17 on 5 January, her first crossing
    assert ages["18-24"] == ["0", "0", "0", "0"]
    assert ages["35-49"] == ["0", "2", "0", "2"]
    assert ages["Total"] == ["1", "2", "0", "3"]
    assert t_["travellers_nationality"] == {"LSO": ["1"], "ZAF": ["2"], "Total": ["3"]}
    assert "Persons, not crossings" in html
