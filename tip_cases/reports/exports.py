"""Exports: statistics tables as CSV, cases in HTCDS field names, the CTDC victim extract, the situation report PDF.

Everything here turns already-queried figures into files; the views audit each export (purpose and
filters, never the data). Exports that leave the unit go through tip_cases.reports.disclosure first.

The case export is pseudonymous by design: HTCDS person fields that identify someone (names,
birth date, identity number, addresses, contact details) and free-text fields are left out; a case
person is referred to by an opaque key that only Tsela can resolve.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime

from flask_babel import gettext
from sqlalchemy import select

from tip_cases.extensions import db
from tip_cases.reports import disclosure
from tip_cases.reports.stats import Filters, Table, _local_part, _tz, _victim_rows, case_models

SUPPRESSED_MARK = "suppressed"


# --- statistics tables ----------------------------------------------------------------------------

def protect(table: Table, k: int) -> disclosure.ProtectedTable:
    """Suppression for a table as published: one-column tables carry a total only."""
    if table.one_column:
        return disclosure.suppress_counts([r[0] for r in table.cells], k)
    return disclosure.suppress_table(table.cells, k)


def display_grid(table: Table, k: int | None) -> list[list[int | None]]:
    """The table with its margins (last row/column = totals), hidden cells as None when k is given.

    One-column tables have no row-total column.
    """
    if k is None:
        if table.one_column:
            return [[r[0]] for r in table.cells] + [[table.total]]
        return [r + [sum(r)] for r in table.cells] + [table.col_totals + [table.total]]
    p = protect(table, k)
    if table.one_column:
        return [[r[0]] for r in p.grid]
    return p.grid


# Spreadsheet formula injection (OWASP "CSV injection"): a typed place or closure reason starting with one
# of these would run as a formula when a partner opens the export in Excel or LibreOffice.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value):
    """Text that a spreadsheet would read as a formula, quoted so it stays text."""
    return "'" + value if isinstance(value, str) and value.startswith(_FORMULA_START) else value


def _row(values: dict) -> dict:
    return {k: _cell(v) for k, v in values.items()}


def table_csv(table: Table, k: int | None = None) -> str:
    """CSV of a statistics table with totals; with k, small cells and their complements read 'suppressed'.

    Never translated: the header ("Border post", "Entry", "Total"), the codes and the 'suppressed' mark are
    an interface that spreadsheets, scripts and partners' systems read, the same in every interface language.
    Pass the table untranslated (stats.statistics), not `Table.translated`.
    """
    out = io.StringIO()
    w = csv.writer(out)
    grid = display_grid(table, k)
    header = [table.row_header, *table.cols] + ([] if table.one_column else ["Total"])
    w.writerow([_cell(h) for h in header])
    for label, row in zip([*table.rows, "Total"], grid, strict=True):
        w.writerow([_cell(label), *(SUPPRESSED_MARK if v is None else v for v in row)])
    return out.getvalue()


# --- cases in HTCDS field names -------------------------------------------------------------------

GENDER = {"F": "Feminine", "M": "Masculine"}  # HTCDS prs_Gender; anything else -> NonSpecifiedUnknown
HTCDS_CASE_FIELDS = ["tsela_CaseKey", "tsela_Reference", "tsela_Kind", "cas_Status", "tsela_Stage",
                     "tsela_Priority", "cas_CaseOwner", "tsela_OpenedDate", "tsela_ClosedDate",
                     "cas_ReasonForCaseClosure"]
HTCDS_PERSON_FIELDS = ["tsela_PersonKey", "tsela_Role", "prs_Gender", "prs_Citizenship",
                       "vic_TraffickingStatus", "vic_TraffickingStatusDecisionMakingOrg",
                       "vic_RelationshipToTrafficker", "vic_AgeWhenTrafficked", "vic_MethodOfRecruitment",
                       "vic_MethodsOfControl", "vic_TypeOfExploitation", "vic_ForcedLabourIndustry",
                       "vic_TypeOfSexExploitation", "per_RoleInProcess"]


def _local_date(value: datetime | None) -> str:
    return value.astimezone(_tz()).date().isoformat() if value else ""


def _case_rows(f: Filters):
    cm = case_models()
    if cm is None:
        return []
    lo, hi = f.bounds()
    return list(db.session.execute(
        select(cm.Case).where(cm.Case.opened_at >= lo, cm.Case.opened_at < hi).order_by(cm.Case.id)).scalars())


def _case_dict(c) -> dict:
    return {"tsela_CaseKey": c.id, "tsela_Reference": c.reference, "tsela_Kind": c.kind, "cas_Status": c.status,
            "tsela_Stage": c.stage, "tsela_Priority": c.priority,
            "cas_CaseOwner": c.owner.username if c.owner else "", "tsela_OpenedDate": _local_date(c.opened_at),
            "tsela_ClosedDate": _local_date(c.closed_at), "cas_ReasonForCaseClosure": c.closure_reason or ""}


def _person_dict(cp) -> dict:
    p = cp.person
    return {"tsela_PersonKey": cp.id, "tsela_Role": cp.role,
            "prs_Gender": GENDER.get(p.sex or "", "NonSpecifiedUnknown") if p else "NonSpecifiedUnknown",
            "prs_Citizenship": (p.nationality or "") if p else "",
            "vic_TraffickingStatus": cp.trafficking_status or "",
            "vic_TraffickingStatusDecisionMakingOrg": cp.status_decided_by or "",
            "vic_RelationshipToTrafficker": cp.relationship_to_trafficker or "",
            "vic_AgeWhenTrafficked": "" if cp.age_when_trafficked is None else cp.age_when_trafficked,
            "vic_MethodOfRecruitment": cp.recruitment_method or "",
            "vic_MethodsOfControl": list(cp.methods_of_control or []),
            "vic_TypeOfExploitation": list(cp.exploitation_types or []),
            "vic_ForcedLabourIndustry": cp.forced_labour_industry or "",
            "vic_TypeOfSexExploitation": cp.sex_exploitation_type or "",
            "per_RoleInProcess": cp.perpetrator_role or ""}


def cases_json(f: Filters) -> str:
    """Cases opened in the period with their persons, in HTCDS field names (tsela_ for local fields)."""
    cases = [{**_case_dict(c), "persons": [_person_dict(cp) for cp in c.persons]} for c in _case_rows(f)]
    return json.dumps({"standard": "HTCDS 2.0", "period": f.as_dict(), "cases": cases}, indent=2, default=str)


def cases_csv(f: Filters) -> str:
    """One row per person in a case (a case without persons still gets one row); lists joined with ';'."""
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=HTCDS_CASE_FIELDS + HTCDS_PERSON_FIELDS)
    w.writeheader()
    for c in _case_rows(f):
        base = _case_dict(c)
        persons = [_person_dict(cp) for cp in c.persons] or [dict.fromkeys(HTCDS_PERSON_FIELDS, "")]
        for p in persons:
            w.writerow(_row({**base, **{k: ";".join(v) if isinstance(v, list) else v for k, v in p.items()}}))
    return out.getvalue()


# --- CTDC victim extract (k-anonymised) ------------------------------------------------------------

# CTDC ageBroad bands.
CTDC_AGE_BANDS = [(0, 8, "0--8"), (9, 17, "9--17"), (18, 20, "18--20"), (21, 23, "21--23"), (24, 26, "24--26"),
                  (27, 29, "27--29"), (30, 38, "30--38"), (39, 47, "39--47"), (48, 200, "48+")]
CTDC_EXPLOITATION = {  # CTDC is* flag -> HTCDS TypeOfExploitation values it covers
    "isForcedLabour": {"ForcedLabour", "ChildLabour", "ForcedBegging"},
    "isSexualExploit": {"SexualExploitation"},
    "isForcedMarriage": {"ForcedMarriage"},
    "isForcedMilitary": {"ForcedMilitaryByNonStateActors"},
    "isOrganRemoval": {"OrganRemoval"},
    "isSlaveryAndPractices": {"Servitude"},
    "isOtherExploit": {"ForcedAdoption", "Surrogacy", "Other"},
}
CTDC_CONTROL = {  # CTDC meansOfControl* flag -> HTCDS MethodsOfControl values
    "meansOfControlDebtBondage": {"DebtBondage"}, "meansOfControlTakesEarnings": {"TakesEarnings"},
    "meansOfControlRestrictsFinancialAccess": {"RestrictsFinancialAccess"},
    "meansOfControlThreats": {"PhysicalThreats", "ThreatensChildrenFamily"},
    "meansOfControlPsychologicalAbuse": {"PsychologicalAbuse"}, "meansOfControlPhysicalAbuse": {"PhysicalAbuse"},
    "meansOfControlSexualAbuse": {"SexualAbuse"}, "meansOfControlFalsePromises": {"FalsePromises"},
    "meansOfControlPsychoactiveSubstances": {"PsychoactiveSubstance"},
    "meansOfControlRestrictsMedicalCare": {"RestrictsMedicalCare"},
    "meansOfControlExcessiveWorkingHours": {"ExcessiveWorkingHours"},
    "meansOfControlThreatOfLawEnforcement": {"ThreatsLawEnforcement"},
    "meansOfControlWithholdsNecessities": {"WithholdsNecessities"},
    "meansOfControlWithholdsDocuments": {"WithholdsDocuments"}, "meansOfControlOther": {"Other"},
}
SADC = {"LSO", "ZAF", "BWA", "SWZ", "NAM", "ZWE", "MOZ", "MWI", "ZMB", "AGO", "TZA", "COD", "MDG", "MUS", "SYC",
        "COM", "LS", "ZA", "BW", "SZ", "NA", "ZW", "MZ", "MW", "ZM", "AO", "TZ", "CD", "MG", "MU", "SC", "KM"}
HOME = {"LSO", "LS", "ZAF", "ZA"}  # Lesotho and the country around it stay visible longest


def ctdc_age_band(age: int | None) -> str:
    if age is None or age < 0:
        return "Unknown"
    return next(label for low, high, label in CTDC_AGE_BANDS if low <= age <= high)


def _broad_majority(band: str) -> str:
    if band == "Unknown":
        return "Unknown"
    return "Minor" if band in ("0--8", "9--17") else "Adult"


def _region(country: str) -> str:
    if country in ("", "Unknown"):
        return "Unknown"
    if country in HOME:
        return country
    return "Other SADC" if country in SADC else "Outside SADC"


def _year_band(year) -> str:
    try:
        y = int(year)
    except (TypeError, ValueError):
        return "Unknown"
    return f"{y - y % 5}-{y - y % 5 + 4}"


CTDC_QUASI_IDENTIFIERS: dict[str, disclosure.Hierarchy] = {
    "yearOfRegistration": [_year_band, lambda _v: disclosure.SUPPRESSED],
    "gender": [lambda _v: disclosure.SUPPRESSED],
    "ageBroad": [_broad_majority, lambda _v: disclosure.SUPPRESSED],
    "majorityStatus": [lambda _v: disclosure.SUPPRESSED],
    "citizenship": [_region, lambda _v: disclosure.SUPPRESSED],
    "CountryOfExploitation": [_region, lambda _v: disclosure.SUPPRESSED],
}
CTDC_FIELDS = [*CTDC_QUASI_IDENTIFIERS, *CTDC_EXPLOITATION, *CTDC_CONTROL]


def ctdc_record(*, year: int | None, sex: str | None, age: int | None, citizenship: str | None,
                country_of_exploitation: str | None, exploitation_types: Iterable[str],
                methods_of_control: Iterable[str]) -> dict:
    """One victim in the CTDC variable set (flags 1/0), before anonymisation."""
    band = ctdc_age_band(age)
    types, controls = set(exploitation_types or ()), set(methods_of_control or ())
    rec = {"yearOfRegistration": str(year) if year else "Unknown",
           "gender": {"F": "Female", "M": "Male"}.get(sex or "", "Unknown"), "ageBroad": band,
           "majorityStatus": _broad_majority(band), "citizenship": citizenship or "Unknown",
           "CountryOfExploitation": country_of_exploitation or "Unknown"}
    rec.update({flag: int(bool(types & values)) for flag, values in CTDC_EXPLOITATION.items()})
    rec.update({flag: int(bool(controls & values)) for flag, values in CTDC_CONTROL.items()})
    return rec


def victim_records(f: Filters) -> list[dict]:
    """Victims of cases opened in the period, in the CTDC variable set (not yet anonymised)."""
    cm = case_models()
    if cm is None:
        return []
    cm, Person, age, where = _victim_rows(f)
    year = _local_part(cm.Case.opened_at, "year")
    rows = db.session.execute(
        select(cm.CasePerson.id, cm.CasePerson.case_id, year, Person.sex, age, Person.nationality,
               cm.CasePerson.exploitation_types, cm.CasePerson.methods_of_control)
        .join(cm.Case, cm.Case.id == cm.CasePerson.case_id).join(Person, Person.id == cm.CasePerson.person_id)
        .where(where).order_by(cm.CasePerson.id)).all()
    countries = _exploitation_countries(cm, [r[0] for r in rows], [r[1] for r in rows])
    return [ctdc_record(year=y, sex=sex, age=a, citizenship=nat,
                        country_of_exploitation=countries.get(cp_id) or countries.get(("case", case_id)),
                        exploitation_types=types or (), methods_of_control=controls or ())
            for cp_id, case_id, y, sex, a, nat, types, controls in rows]


def _exploitation_countries(cm, case_person_ids: Sequence[int], case_ids: Sequence[int]) -> dict:
    """Country of the latest exploitation event, per case person, else per case (key ('case', id))."""
    if not case_ids or not hasattr(cm, "TraffickingEvent"):
        return {}
    te = cm.TraffickingEvent
    out: dict = {}
    for cp_id, case_id, country in db.session.execute(
            select(te.case_person_id, te.case_id, te.country)
            .where(te.type == "Exploitation", te.country.isnot(None), te.case_id.in_(set(case_ids)))
            .order_by(te.event_date.nulls_first(), te.id)).all():
        if cp_id is not None:
            out[cp_id] = country
        out[("case", case_id)] = country
    return out


def ctdc_extract(records: Sequence[dict], k: int = disclosure.DEFAULT_K) -> disclosure.AnonymisedExtract:
    return disclosure.k_anonymise(records, CTDC_QUASI_IDENTIFIERS, k)


def records_csv(records: Sequence[dict], fields: Sequence[str]) -> str:
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(fields), extrasaction="ignore")
    w.writeheader()
    w.writerows(_row(r) for r in records)
    return out.getvalue()


# --- situation report PDF -------------------------------------------------------------------------

def _latin1(text) -> str:
    # The PDF core fonts are Latin-1; Sesotho's š would otherwise raise. Names never reach this report.
    return str(text).encode("latin-1", "replace").decode("latin-1")


def situation_pdf(title: str, subtitle: str, generated: datetime, sections: Sequence[tuple[Table, list]],
                  notes: Sequence[str] = ()) -> bytes:
    """A plain, printable PDF: the title, the period, and each table with its totals.

    Give it translated tables (`Table.translated`): the PDF is read by people, in the reader's language.
    """
    from fpdf import FPDF

    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_title(_latin1(title))
    pdf.set_creator("Tsela")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.multi_cell(0, 8, _latin1(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.multi_cell(0, 5, _latin1(subtitle), new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(0, 5, _latin1(gettext("Generated %(at)s (Africa/Maseru) by Tsela.",
                                         at=generated.astimezone(_tz()).strftime("%Y-%m-%d %H:%M"))),
                   new_x="LMARGIN", new_y="NEXT")
    for note in notes:
        pdf.multi_cell(0, 5, _latin1(note), new_x="LMARGIN", new_y="NEXT")
    for table, grid in sections:
        pdf.ln(4)
        pdf.set_font("Helvetica", "B", 12)
        pdf.multi_cell(0, 6, _latin1(table.title), new_x="LMARGIN", new_y="NEXT")
        header = [table.row_header, *table.cols] + ([] if table.one_column else [gettext("Total")])
        widths = [60] + [max(18, min(30, 120 // max(1, len(header) - 1)))] * (len(header) - 1)
        pdf.set_font("Helvetica", "B", 8)
        for text_, w in zip(header, widths, strict=True):
            pdf.cell(w, 6, _latin1(text_)[:40], border=1)
        pdf.ln()
        pdf.set_font("Helvetica", "", 8)
        for label, row in zip([*table.rows, gettext("Total")], grid, strict=True):
            pdf.cell(widths[0], 5, _latin1(label)[:40], border=1)
            for v, w in zip(row, widths[1:], strict=True):
                pdf.cell(w, 5, "x" if v is None else f"{v:,}", border=1, align="R")
            pdf.ln()
        if table.note:
            pdf.set_font("Helvetica", "I", 7)
            pdf.multi_cell(0, 4, _latin1(table.note), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def default_period(today: date) -> Filters:
    """The last 30 local days up to today."""
    from datetime import timedelta

    return Filters(start=today - timedelta(days=29), end=today)
