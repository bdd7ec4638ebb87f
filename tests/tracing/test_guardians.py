"""A minor's parent or guardian, recorded through the API, the capture form and the CSV import, and the
risk rules that read it (unaccompanied minor; adult with several different minors)."""

from __future__ import annotations

import io
import json

from sqlalchemy import func, select

from screening import services
from screening.models import Crossing, Flag, RiskFindingRecord
from tests import factories
from tests.tracing.builders import NOW, arrive, run_pattern_job
from tip_cases.extensions import db


def _risk(rule: str, crossing: Crossing | None = None) -> list[Flag]:
    """Risk flags after the scheduler's pattern job has run over what arrived."""
    run_pattern_job()
    stmt = select(Flag).where(Flag.kind == "risk", Flag.rule == rule)
    if crossing is not None:
        stmt = stmt.where(Flag.crossing_id == crossing.id)
    return list(db.session.scalars(stmt))


def _item(ext, **kw):
    base = {"external_id": ext, "surname": "Mokoena", "given_names": "Thabo", "date_of_birth": "1984-02-02",
            "sex": "M", "nationality": "LSO", "document_type": "P", "document_number": "RA2020202",
            "direction": "exit", "crossed_at": "2026-11-19T08:00:00+02:00", "travel_group": "FAM-1"}
    return {**base, **kw}


def _post(client, token, items):
    return client.post("/api/v1/crossings", data=json.dumps({"crossings": items}), content_type="application/json",
                       headers={"Authorization": f"Bearer {token}"})


def test_api_records_the_guardian_and_the_rule_reads_it(app, client, db_session):
    _, token = factories.make_api_client(post_code="MSB")
    resp = _post(client, token, [
        _item("P1"),
        # her mother's daughter, by another surname: recorded as such, with the mother's document
        _item("K1", surname="Letsie", given_names="Palesa", date_of_birth="2015-05-05", sex="F",
              document_number=None, guardian_relation="parent", guardian_document_number="ra 2020-202"),
        # a boy the officer recorded as travelling without a parent or guardian
        _item("K2", surname="Ramone", given_names="Tumelo", date_of_birth="2012-01-09", document_number=None,
              travel_group=None, guardian_relation="none", crossed_at="2026-11-19T09:30:00+02:00"),
        _item("K3", guardian_relation="uncle", date_of_birth="2014-01-01"),
    ])
    assert resp.status_code == 200, resp.get_data(as_text=True)
    data = resp.get_json()
    assert [r["status"] for r in data["results"]] == ["accepted", "accepted", "accepted", "rejected"]
    assert data["results"][3]["errors"][0]["field"] == "crossings[3].guardian_relation"
    k1 = db_session.scalars(select(Crossing).where(Crossing.external_id == "K1")).one()
    assert (k1.guardian_relation, k1.guardian_document_number, k1.consent_document) == ("parent", "RA2020202", False)
    shown = client.get(f"/api/v1/crossings/{k1.id}", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert (shown["guardian_relation"], shown["guardian_document_number"]) == ("parent", "RA2020202")
    k2 = db_session.scalars(select(Crossing).where(Crossing.external_id == "K2")).one()
    assert _risk("unaccompanied_minor", k1) == []
    [flag] = _risk("unaccompanied_minor", k2)
    assert flag.evidence["severity"] == "high" and flag.priority == "urgent"
    assert "recorded as travelling without a parent or guardian" in flag.reason
    spec = client.get("/api/v1/openapi.json", headers={"Authorization": f"Bearer {token}"}).get_json()
    props = spec["components"]["schemas"]["CrossingIn"]["properties"]
    assert {"guardian_relation", "guardian_document_number", "consent_document"} <= set(props)


def test_capture_form_records_guardian_and_shows_it(app, login_as, db_session):
    officer = login_as("border_officer")
    page = officer.get("/screening/capture").get_data(as_text=True)
    assert "Minor (under 18): parent or guardian" in page and 'name="guardian_document_number"' in page
    saved = officer.submit("/screening/capture", {
        "surname": "Nthako", "given_names": "Lineo", "sex": "F", "date_of_birth": "2013-08-08",
        "nationality": "LSO", "direction": "exit", "guardian_relation": "relative",
        "guardian_document_number": "rb-111 2223", "consent_document": "y", "save": "Save and screen"})
    assert saved.status_code == 302
    c = db_session.scalars(select(Crossing).where(Crossing.source == "manual")).one()
    assert (c.guardian_relation, c.guardian_document_number, c.consent_document) == ("relative", "RB1112223", True)
    html = officer.get(f"/screening/crossings/{c.id}").get_data(as_text=True)
    assert "Parent or guardian" in html and "RB1112223" in html and "consent letter seen" in html
    # a relative with a consent letter accompanies the child: no risk flag
    assert _risk("unaccompanied_minor") == []
    bad = officer.submit("/screening/capture", {"surname": "X", "direction": "exit", "guardian_relation": "uncle",
                                                "save": "Save and screen"})
    assert bad.status_code == 200 and "Not a valid choice" in bad.get_data(as_text=True)


CSV_HEADER = ("external_id,surname,given_names,sex,date_of_birth,nationality,document_type,document_number,"
              "document_country,direction,border_post,crossed_at,address,travel_group,guardian_relation,"
              "guardian_document_number,consent_document\n")


def test_csv_import_takes_optional_guardian_columns(app, db_session):
    rows = [
        "G1,Mokoena,Thabo,M,1984-02-02,LSO,P,RA2020202,LSO,exit,MSB,2026-11-19T08:00:00+02:00,,T1,,,\n",
        "G2,Letsie,Palesa,F,2015-05-05,LSO,,,,exit,MSB,2026-11-19T08:01:00+02:00,,T1,Mother,RA 2020202,no\n",
        "G3,Ramone,Tumelo,M,2012-01-09,LSO,,,,exit,MSB,2026-11-19T09:00:00+02:00,,,none,,yes\n",
        "G4,Ramone,Lebo,M,2012-01-09,LSO,,,,exit,MSB,2026-11-19T09:00:00+02:00,,,cousin,,maybe\n",
    ]
    summary = services.import_csv(io.StringIO(CSV_HEADER + "".join(rows)), actor=None, now=NOW)
    db.session.commit()
    assert summary.inserted == 3 and [line for line, _ in summary.rejected] == [5], summary
    g2, g3 = (db_session.scalars(select(Crossing).where(Crossing.external_id == e)).one() for e in ("G2", "G3"))
    assert (g2.travel_group, g2.guardian_relation, g2.guardian_document_number) == ("T1", "parent", "RA2020202")
    assert (g3.guardian_relation, g3.consent_document) == ("none", True)
    reason = summary.rejected[0][1]
    assert "guardian_relation: 'cousin'" in reason and "consent_document: 'maybe'" in reason
    assert _risk("unaccompanied_minor", g2) == []
    [low] = _risk("unaccompanied_minor", g3)
    assert low.evidence["severity"] == "low" and low.priority == "normal" and "consent letter seen" in low.reason
    # the file without the optional columns still imports (required columns unchanged)
    plain = CSV_HEADER.split(",travel_group")[0] + "\n" + rows[0].split(",T1")[0].replace("G1", "G9") + "\n"
    assert services.import_csv(io.StringIO(plain), actor=None, now=NOW).inserted == 1


def test_parent_with_own_children_is_not_a_pattern_but_the_planted_man_is(app, db_session):
    # A mother with her three children, recorded as hers, on three trips within a month.
    for i, days in enumerate((40, 25, 10)):
        arrive("Mokoena", "Mpho", dob="1985-01-01", sex="F", document="RA3030303", days_ago=days, group=f"M{i}")
        for j, (given, dob) in enumerate((("Palesa", "2012-03-03"), ("Lineo", "2015-04-04"),
                                          ("Tumi", "2018-05-05"))):
            arrive("Letsie", given, dob=dob, sex="F", document=None, days_ago=days, minutes=j + 1, group=f"M{i}",
                   relation="parent", guardian="RA3030303")
    # A man with a different girl each time, claiming to be a relative.
    for i, (days, surname, given, dob) in enumerate(((50, "Sello", "Mpho", "2010-01-21"),
                                                      (30, "Ntlaloe", "Lintle", "2009-08-30"),
                                                      (8, "Ramokhele", "Karabo", "2009-11-03"))):
        arrive("Mofokeng", "Tsepo", dob="1979-05-02", document="RA7788123", days_ago=days, group=f"G{i}")
        arrive(surname, given, dob=dob, sex="F", document=None, days_ago=days, minutes=1, group=f"G{i}",
               relation="relative", guardian="RA7788123")
    flags = _risk("frequent_minor_companions")
    assert len(flags) == 1, [f.reason for f in flags]
    man = db_session.scalars(select(Crossing).where(Crossing.surname == "Mofokeng")).first().traveller_id
    record = db_session.scalars(select(RiskFindingRecord).where(RiskFindingRecord.flag_id == flags[0].id)).one()
    assert record.traveller_id == man
    assert "Recorded as a relative accompanying 3 of them" in flags[0].reason
    # the mother's children are accompanied; the girls with a "relative" and no consent letter are not
    minors = _risk("unaccompanied_minor")
    assert {f.crossing.surname for f in minors} == {"Sello", "Ntlaloe", "Ramokhele"}
    assert {f.evidence["severity"] for f in minors} == {"medium"}
    assert db.session.scalar(select(func.count()).select_from(Flag).where(
        Flag.kind == "risk", Flag.rule.in_(("unaccompanied_minor", "frequent_minor_companions")))) == 4
