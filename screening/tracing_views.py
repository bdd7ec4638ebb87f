"""Investigators' tracing pages: travellers, a traveller's journey and companions, risk patterns, bulk tracing."""

from __future__ import annotations

import io

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms import DecimalField, IntegerField, SelectMultipleField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, NumberRange

from screening import journeys, signals, trace, tracing
from screening.models import OPEN_FLAG_STATUSES, Flag, RiskFindingRecord, Traveller
from tip_cases import audit
from tip_cases.access import get_or_404, requires, scope_filter
from tip_cases.extensions import db, utcnow
from tip_cases.i18n import error_text

bp = Blueprint("tracing", __name__, url_prefix="/tracing")


class MergeForm(FlaskForm):
    other_id = IntegerField("Traveller number to merge into this one", validators=[InputRequired()])
    reason = TextAreaField("Why are they the same person?", validators=[DataRequired()])
    merge = SubmitField("Merge")


class SplitForm(FlaskForm):
    crossings = SelectMultipleField("Crossings made by someone else", coerce=int)
    reason = TextAreaField("Why are these crossings another person?", validators=[DataRequired()])
    split = SubmitField("Split off")


class BulkTraceForm(FlaskForm):
    file = FileField("Persons (CSV)", validators=[FileRequired()],
                     description="Columns: ref, surname, given_names, sex, date_of_birth, nationality, "
                                 "document_number, address")
    min_score = DecimalField("Minimum score", default=0.80, places=2, validators=[NumberRange(0, 1)])
    show = SubmitField("Show matches")
    download = SubmitField("Download CSV")


def _traveller(traveller_id: int, action: str) -> Traveller:
    if traveller_id > 2**31 - 1:
        abort(404)
    return get_or_404(Traveller, traveller_id, action, audit_as="traveller")


@bp.get("/travellers")
@login_required
@requires("traveller.view")
def travellers():
    """Current travellers, most recently seen first; search by any spelling, document or number."""
    q = (request.args.get("q") or "").strip()
    risk_only = request.args.get("risk") == "1"
    page = db.paginate(journeys.search_travellers(q, risk_only=risk_only), per_page=50)
    audit.record("traveller.list", "traveller", None, detail={"ids": [t.id for t in page.items], "searched": bool(q)})
    db.session.commit()
    risks = journeys.risk_count_by_traveller(t.id for t in page.items)
    return render_template("tracing/travellers.html", page=page, q=q, risk_only=risk_only, risks=risks)


def _split_form(journey: journeys.Journey, form: SplitForm | None = None) -> SplitForm:
    form = form or SplitForm(prefix="split")
    form.crossings.choices = [(c.id, f"{c.crossed_at:%Y-%m-%d} {c.direction} {c.external_id}")
                              for c in journey.crossings]
    return form


def _render(traveller: Traveller, merge_form=None, split_form=None, status=200):
    now = utcnow()
    journey = journeys.journey(traveller, now=now)
    flags = journeys.flags_of(traveller, journey=journey)
    return render_template(
        "tracing/traveller.html", traveller=traveller, journey=journey, flags=flags,
        judgements=journeys.judgements_of(traveller),
        merge_form=merge_form or MergeForm(prefix="merge"), split_form=_split_form(journey, split_form),
        now=now, rule_labels={k: _(v) for k, v in tracing.RULE_LABELS.items()},
        **signals.page_context(signals.traveller_page, traveller, flag_ids=[f.id for f in flags],
                                crossing_ids=[c.id for c in journey.crossings])), status


@bp.get("/travellers/<int:traveller_id>")
@login_required
@requires("traveller.view")
def traveller(traveller_id: int):
    t = _traveller(traveller_id, "traveller.view")
    if t.merged_into_id is not None:
        flash(_("Traveller %(id)s was merged into traveller %(into)s.", id=t.id, into=t.merged_into_id), "info")
        return redirect(url_for(".traveller", traveller_id=t.merged_into_id))
    return _render(t)


@bp.post("/travellers/<int:traveller_id>/merge")
@login_required
@requires("traveller.judge")
def merge(traveller_id: int):
    t = _traveller(traveller_id, "traveller.judge")
    form = MergeForm(prefix="merge")
    if form.validate_on_submit():
        other = db.session.get(Traveller, form.other_id.data) if 0 < form.other_id.data < 2**31 else None
        if other is None:
            form.other_id.errors = [_("no traveller %(id)s", id=form.other_id.data)]
        else:
            try:
                kept = tracing.merge_travellers(t, other, reason=form.reason.data, actor=current_user, now=utcnow())
                db.session.commit()
            except tracing.TracingError as exc:
                db.session.rollback()
                getattr(form, exc.field or "reason").errors = [error_text(exc)]
            else:
                flash(_("Merged: traveller %(id)s now holds %(count)s crossings. Later resolution keeps them "
                        "together.", id=kept.id, count=kept.crossing_count), "success")
                return redirect(url_for(".traveller", traveller_id=kept.id))
    db.session.rollback()
    t = db.session.get(Traveller, traveller_id)
    return _render(t, merge_form=form, status=422)


@bp.post("/travellers/<int:traveller_id>/split")
@login_required
@requires("traveller.judge")
def split(traveller_id: int):
    t = _traveller(traveller_id, "traveller.judge")
    journey = journeys.journey(t, now=utcnow())
    form = _split_form(journey, SplitForm(prefix="split"))
    if form.validate_on_submit():
        try:
            new = tracing.split_traveller(t, form.crossings.data, reason=form.reason.data, actor=current_user,
                                          now=utcnow())
            db.session.commit()
        except tracing.TracingError as exc:
            db.session.rollback()
            getattr(form, exc.field or "reason").errors = [error_text(exc)]
        else:
            flash(_("Split: %(count)s crossing(s) are now traveller %(id)s, judged a different person for good.",
                    count=new.crossing_count, id=new.id), "success")
            return redirect(url_for(".traveller", traveller_id=traveller_id))
    db.session.rollback()
    t = db.session.get(Traveller, traveller_id)
    return _render(t, split_form=form, status=422)


@bp.get("/patterns")
@login_required
@requires("traveller.view")
def patterns():
    """Open risk findings with their evidence, highest priority first."""
    rule = request.args.get("rule", "")
    stmt = (select(Flag).where(Flag.kind == "risk", Flag.status.in_(OPEN_FLAG_STATUSES),
                               scope_filter(current_user, "flag.view", Flag))
            .options(selectinload(Flag.crossing), selectinload(Flag.border_post)))
    if rule:
        stmt = stmt.where(Flag.rule == rule)
    order = {"urgent": 0, "high": 1, "normal": 2}
    flags = sorted(db.session.execute(stmt.order_by(Flag.created_at.desc()).limit(500)).scalars(),
                   key=lambda f: order.get(f.priority, 3))
    owners = dict(db.session.execute(select(RiskFindingRecord.flag_id, RiskFindingRecord.traveller_id)
                                     .where(RiskFindingRecord.flag_id.in_([f.id for f in flags]))).all()) \
        if flags else {}
    audit.record("risk.list", "flag", None, detail={"ids": [f.id for f in flags]})
    db.session.commit()
    return render_template("tracing/patterns.html", flags=flags, owners=owners, rule=rule,
                           rule_labels={k: _(v) for k, v in tracing.RULE_LABELS.items()})


@bp.route("/bulk", methods=["GET", "POST"])
@login_required
@requires("trace.run")
def bulk():
    """Upload persons (missing, rescued abroad); get their travellers and crossings, on screen or as CSV."""
    form = BulkTraceForm()
    result = None
    if form.validate_on_submit():
        try:
            text = form.file.data.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            form.file.errors = ["the file is not UTF-8 text"]
        else:
            result = trace.bulk_trace(io.StringIO(text, newline=""), min_score=float(form.min_score.data))
            hits = [h.crossing.id for hs in result.hits.values() for h in hs]
            audit.record("trace.run", "crossing", None, detail={"probes": len(result.persons), "ids": hits})
            db.session.commit()
            if form.download.data:
                return Response(trace.bulk_trace_csv(result), mimetype="text/csv",
                                headers={"Content-Disposition": "attachment; filename=tsela-trace.csv"})
    elif request.method == "POST":
        return render_template("tracing/bulk.html", form=form, result=None), 400
    return render_template("tracing/bulk.html", form=form, result=result)

