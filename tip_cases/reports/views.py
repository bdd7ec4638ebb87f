"""Managers' dashboards, statistics and exports.

Views are thin: they parse filters, call tip_cases.reports.stats / exports and render. Every
export asks for a purpose and writes an audit row with the purpose and the filters (never the data)
in the same transaction as the response is produced.
"""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, Response, abort, current_app, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import DateField, HiddenField, IntegerField, SelectField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from screening.engine.phrases import translate
from tip_cases import audit
from tip_cases.access import requires
from tip_cases.extensions import db, utcnow
from tip_cases.reports import charts, disclosure, exports, stats

bp = Blueprint("reports", __name__, url_prefix="/reports")

PERIOD_CHOICES = [("day", _l("Day")), ("month", _l("Month")), ("year", _l("Year"))]
AUDIENCES = [("external", _l("Leaves the unit (partners, ministry, publication): small cells suppressed")),
             ("internal", _l("Stays within the counter-trafficking unit: exact figures"))]


def _today() -> date:
    return utcnow().astimezone(stats._tz()).date()


class StatisticsFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    start = DateField(_l("From"), validators=[Optional()])
    end = DateField(_l("To"), validators=[Optional()])
    post = SelectField(_l("Border post"), validators=[Optional()], coerce=str)
    period = SelectField(_l("Group crossings by"), choices=PERIOD_CHOICES, validators=[Optional()])

    def validate_end(self, field):
        if field.data and self.start.data and field.data < self.start.data:
            raise ValidationError(_("The end date is before the start date."))


def _post_choices() -> list[tuple[str, str]]:
    return [("", _("All posts"))] + [(str(p.id), p.name) for p in stats.posts()]


def _filters(form: StatisticsFilterForm, default_days: int = 365) -> stats.Filters:
    """Filters from a validated form; invalid or missing values fall back to the last `default_days`."""
    today = _today()
    ok = form.validate()
    start = form.start.data if ok and form.start.data else None
    end = form.end.data if ok and form.end.data else None
    end = end or today
    start = start or (end - timedelta(days=default_days - 1))
    post_id = int(form.post.data) if ok and form.post.data and form.post.data.isdigit() else None
    period = form.period.data if ok and form.period.data in stats.PERIODS else "month"
    return stats.Filters(start=start, end=end, post_id=post_id, period=period)


def _filter_form() -> StatisticsFilterForm:
    form = StatisticsFilterForm(request.args)
    form.post.choices = _post_choices()
    return form


class ExportForm(FlaskForm):
    purpose = TextAreaField(_l("Purpose of this export"), validators=[DataRequired(), Length(min=10, max=500)],
                            description=_l("Who will receive it and why (recorded in the audit trail)."))
    audience = SelectField(_l("Audience"), choices=AUDIENCES, default="external")
    k = IntegerField(_l("Minimum cell size (k)"), default=disclosure.DEFAULT_K,
                     validators=[InputRequired(), NumberRange(min=5, max=100)],
                     description=_l("Counts below k are suppressed, with complementary cells; CTDC uses 11."))
    start = HiddenField()
    end = HiddenField()
    post = HiddenField()
    period = HiddenField()
    submit = SubmitField(_l("Download CSV"))


class CasesExportForm(FlaskForm):
    purpose = TextAreaField(_l("Purpose of this export"), validators=[DataRequired(), Length(min=10, max=500)],
                            description=_l("Who will receive it and why (recorded in the audit trail)."))
    start = DateField(_l("Cases opened from"), validators=[Optional()])
    end = DateField(_l("to"), validators=[Optional()])
    format = SelectField(_l("Format"), choices=[("csv", "CSV"), ("json", "JSON")])
    submit = SubmitField(_l("Download"))


class CtdcExportForm(FlaskForm):
    purpose = TextAreaField(_l("Purpose of this export"), validators=[DataRequired(), Length(min=10, max=500)],
                            description=_l("Who will receive it and why (recorded in the audit trail)."))
    start = DateField(_l("Cases opened from"), validators=[Optional()])
    end = DateField(_l("to"), validators=[Optional()])
    k = IntegerField(_l("k (every combination of quasi-identifiers describes at least k victims)"),
                     default=disclosure.DEFAULT_K, validators=[InputRequired(), NumberRange(min=5, max=100)])
    submit = SubmitField(_l("Download extract"))


class SituationReportForm(FlaskForm):
    purpose = TextAreaField(_l("Purpose of this report"), validators=[DataRequired(), Length(min=10, max=500)],
                            description=_l("Who will receive it and why (recorded in the audit trail)."))
    start = DateField(_l("From"), validators=[InputRequired()])
    end = DateField(_l("To"), validators=[InputRequired()])
    audience = SelectField(_l("Audience"), choices=AUDIENCES, default="external")
    k = IntegerField(_l("Minimum cell size (k)"), default=disclosure.DEFAULT_K,
                     validators=[InputRequired(), NumberRange(min=5, max=100)])
    format = SelectField(_l("Format"), choices=[("html", _l("Printable page (HTML)")), ("pdf", "PDF")])
    submit = SubmitField(_l("Produce report"))

    def validate_end(self, field):
        if field.data and self.start.data and field.data < self.start.data:
            raise ValidationError(_("The end date is before the start date."))


def _audit_export(kind: str, form_purpose: str, detail: dict) -> None:
    audit.record("report.export", "report", kind, detail={"purpose": form_purpose.strip(), **detail})


def _download(body: str | bytes, filename: str, mimetype: str) -> Response:
    resp = Response(body, mimetype=mimetype)
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return resp


def _chart_for(table: stats.Table, grid=None) -> Markup:
    """Bars of the row totals (or the only column); hidden cells drawn as 'suppressed'."""
    if grid is None:
        values = [r[0] for r in table.cells] if table.one_column else table.row_totals
    else:
        values = [row[-1] if not table.one_column else row[0] for row in grid[:-1]]
    return Markup(charts.bar_chart(table.title, table.rows, values))  # noqa: S704 - charts escape every label


def _shown(tables: list[stats.Table]) -> list[stats.Table]:
    """Tables as a person reads them (page, chart, PDF): headings in the reader's language. CSV exports use
    the tables untranslated: their column names are an interface (see stats.Table.translated)."""
    return [t.translated(_) for t in tables]


# --- pages ----------------------------------------------------------------------------------------

@bp.route("/")
@login_required
@requires("report.view")
def dashboard():
    days = request.args.get("days", 30, type=int)
    # The dashboard is operational (this month, this quarter); longer periods are for the statistics.
    days = min(max(days or 30, 1), 90)
    dash = stats.dashboard(utcnow(), days=days)
    labels = [d for d, _c, _f in dash.per_day]
    per_day_chart = Markup(charts.line_chart(  # noqa: S704 - charts escape every label
        _("Crossings and flags per day, last %(days)s days", days=days), labels,
        {_("Crossings"): [c for _d, c, _f in dash.per_day], _("Flags"): [f for _d, _c, f in dash.per_day]},
        tr=lambda phrase: translate(phrase, _)))
    flags_chart = Markup(charts.bar_chart(  # noqa: S704
        _("Flags raised per post, last %(days)s days", days=days), [p for p, _c in dash.flags_by_post_state],
        [sum(c) for _p, c in dash.flags_by_post_state]))
    return render_template("reports/dashboard.html", dash=dash, per_day_chart=per_day_chart,
                           flags_chart=flags_chart)


@bp.route("/statistics")
@login_required
@requires("report.view")
def statistics():
    form = _filter_form()
    f = _filters(form)
    tables = _shown(stats.statistics(f))
    charted = [(t, exports.display_grid(t, None), _chart_for(t)) for t in tables]
    return render_template("reports/statistics.html", form=form, filters=f, charted=charted,
                           cases_available=stats.case_models() is not None, args=request.args.to_dict())


@bp.route("/export/table/<key>", methods=["GET", "POST"])
@login_required
@requires("report.export")
def export_table(key: str):
    form = ExportForm()
    source = request.form if request.method == "POST" else request.args
    filter_form = StatisticsFilterForm(source)
    filter_form.post.choices = _post_choices()
    f = _filters(filter_form)
    table = stats.table(f, key)
    if table is None:
        abort(404)
    if request.method == "GET":
        for name in ("start", "end", "post", "period"):
            getattr(form, name).data = request.args.get(name, "")
    if form.validate_on_submit():
        k = form.k.data if form.audience.data == "external" else None
        body = exports.table_csv(table, k)
        _audit_export(f"table:{key}", form.purpose.data, {"filters": f.as_dict(), "audience": form.audience.data,
                                                          "k": k, "format": "csv"})
        db.session.commit()
        return _download(body, f"tsela-{key}-{f.start}-{f.end}.csv", "text/csv")
    return render_template("reports/export.html", form=form,
                           title=_("Export: %(title)s", title=table.translated(_).title),
                           action=url_for("reports.export_table", key=key), filters=f,
                           explain=_("A CSV of this table with its totals."))


@bp.route("/export/cases", methods=["GET", "POST"])
@login_required
@requires("report.export")
def export_cases():
    form = CasesExportForm()
    if request.method == "GET":
        form.end.data = form.end.data or _today()
        form.start.data = form.start.data or _today() - timedelta(days=364)
    if form.validate_on_submit():
        f = stats.Filters(start=form.start.data or date(2000, 1, 1), end=form.end.data or _today())
        if form.format.data == "json":
            body, mimetype = exports.cases_json(f), "application/json"
        else:
            body, mimetype = exports.cases_csv(f), "text/csv"
        _audit_export("cases_htcds", form.purpose.data, {"filters": f.as_dict(), "format": form.format.data})
        db.session.commit()
        return _download(body, f"tsela-cases-htcds-{f.start}-{f.end}.{form.format.data}", mimetype)
    return render_template("reports/export.html", form=form, title=_("Export cases (HTCDS field names)"),
                           action=url_for("reports.export_cases"), cases_available=stats.case_models() is not None,
                           explain=_("Cases opened in the period, one row per person in a case, in HTCDS v2.0 "
                                   "field names (tsela_ for fields the standard lacks). Pseudonymous: no names, "
                                   "dates of birth, document numbers, addresses or free text. For use within "
                                   "the unit and HTCDS-compatible case systems."))


@bp.route("/export/ctdc", methods=["GET", "POST"])
@login_required
@requires("report.export")
def export_ctdc():
    form = CtdcExportForm()
    if request.method == "GET":
        form.end.data = form.end.data or _today()
        form.start.data = form.start.data or _today() - timedelta(days=364)
    if form.validate_on_submit():
        f = stats.Filters(start=form.start.data or date(2000, 1, 1), end=form.end.data or _today())
        records = exports.victim_records(f)
        result = exports.ctdc_extract(records, form.k.data)
        body = exports.records_csv(result.records, exports.CTDC_FIELDS)
        _audit_export("ctdc_extract", form.purpose.data, {
            "filters": f.as_dict(), "k": form.k.data, "records_in": len(records),
            "records_out": len(result.records), "suppressed": result.suppressed_records,
            "generalised": {q: lvl for q, lvl in result.levels.items() if lvl}})
        db.session.commit()
        current_app.logger.info("CTDC extract: %d in, %d out, %d suppressed", len(records), len(result.records),
                                result.suppressed_records)
        resp = _download(body, f"tsela-ctdc-k{form.k.data}-{f.start}-{f.end}.csv", "text/csv")
        resp.headers["X-Records-Suppressed"] = str(result.suppressed_records)
        return resp
    return render_template("reports/export.html", form=form, title=_("Victim extract (CTDC variables, k-anonymised)"),
                           action=url_for("reports.export_ctdc"), cases_available=stats.case_models() is not None,
                           explain=_("Victims of cases opened in the period in the Counter Trafficking Data "
                                   "Collaborative variable set. Quasi-identifiers (year of registration, gender, "
                                   "age band, majority status, citizenship, country of exploitation) are "
                                   "generalised, and the remaining rare records dropped, until every combination "
                                   "describes at least k victims."))


@bp.route("/situation", methods=["GET", "POST"])
@login_required
@requires("report.export")
def situation():
    form = SituationReportForm()
    if request.method == "GET":
        form.end.data = form.end.data or _today()
        form.start.data = form.start.data or _today() - timedelta(days=29)
    if not form.validate_on_submit():
        return render_template("reports/export.html", form=form, title=_("Migration situation report"),
                               action=url_for("reports.situation"),
                               explain=_("A printable summary of crossings, travellers, flags and cases for a "
                                       "date range, as a page to print or as a PDF."))
    f = stats.Filters(start=form.start.data, end=form.end.data, period="day" if
                      (form.end.data - form.start.data).days <= 62 else "month")
    k = form.k.data if form.audience.data == "external" else None
    tables = _shown(stats.statistics(f))
    sections = [(t, exports.display_grid(t, k)) for t in tables]
    title = _("Migration situation report")
    subtitle = _("Lesotho border posts, %(start)s to %(end)s", start=format_date(f.start, "long"),
                 end=format_date(f.end, "long"))
    notes = [_("Cells below %(k)s and complementary cells are suppressed (shown as x).", k=k) if k else
             _("Exact figures: for use within the counter-trafficking unit only.")]
    _audit_export("situation_report", form.purpose.data, {"filters": f.as_dict(), "audience": form.audience.data,
                                                          "k": k, "format": form.format.data})
    db.session.commit()
    if form.format.data == "pdf":
        pdf = exports.situation_pdf(title, subtitle, utcnow(), sections, notes)
        return _download(pdf, f"tsela-situation-{f.start}-{f.end}.pdf", "application/pdf")
    charted = [(t, g, _chart_for(t, g)) for t, g in sections]
    return render_template("reports/situation.html", title=title, subtitle=subtitle, notes=notes,
                           charted=charted, generated=utcnow())
