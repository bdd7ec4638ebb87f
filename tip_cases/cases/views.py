"""Case management views (trafficking and smuggling cases): thin shells over tip_cases.cases.services.

Long because it is the one `cases` blueprint: every route of a case sits in one file, where each
route's access action can be read next to it; the rules themselves live in the services.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from screening.models import Flag, Person
from tip_cases.access import can, deny_record, get_or_404, requires
from tip_cases.audit import denied as audit_denied
from tip_cases.cases import htcds, persons, search, workflow
from tip_cases.cases import services as svc
from tip_cases.cases.forms import (
    CONTEXT_FIELDS,
    STATUS_LABELS,
    AttachFlagForm,
    CaseEditForm,
    CaseOpenForm,
    ClosureDecisionForm,
    ClosureRequestForm,
    ConfirmForm,
    ConsentForm,
    EvidenceForm,
    LinkForm,
    NoteForm,
    PersonAddForm,
    PersonContextForm,
    ReferralForm,
    ReferralStatusForm,
    ReopenForm,
    SearchForm,
    StageForm,
    StatusForm,
    SupportPlanForm,
    TaskForm,
    TeamForm,
    TraffickingEventForm,
    WithdrawConsentForm,
)
from tip_cases.cases.models import (
    Case,
    CaseEvent,
    CaseLink,
    CaseNote,
    CasePerson,
    CaseTask,
    ClosureRequest,
    Consent,
    Evidence,
    FieldChange,
    Referral,
    SupportPlan,
    TraffickingEvent,
)
from tip_cases.extensions import db, utcnow
from tip_cases.i18n import error_text
from tip_cases.models import User

bp = Blueprint("cases", __name__, url_prefix="/cases")


@bp.app_context_processor
def _case_labels():
    return {"STATUS_LABELS": STATUS_LABELS, "STAGE_LABELS": htcds.STAGE_LABELS,
            "ISIC_SECTIONS": htcds.ISIC_SECTIONS, "CONSENT_SCOPES": htcds.CONSENT_SCOPES}


def _staff_choices() -> list[tuple[int, str]]:
    users = db.session.execute(select(User).where(User.role.in_(("investigator", "manager")),
                                                  User.active.is_(True)).order_by(User.full_name)).scalars()
    return [(u.id, f"{u.display_name} ({u.username})") for u in users]


def _person_choices(case: Case, blank: str | None = "— whole case —") -> list[tuple[str, str]]:
    out = [("", blank)] if blank else []
    return out + [(str(cp.id), f"{cp.person.display_name} ({cp.role})") for cp in case.persons]


def _commit_conflict_safe(case_url: str):
    """Commit; a concurrent save detected by the version column becomes a clear refusal, never an overwrite."""
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        flash(_("Someone else saved this record at the same moment; your change was not saved. "
              "Reload and try again."), "danger")
        return redirect(case_url)
    return None


def _changes_text(changes) -> str:
    return "; ".join(_("%(field)s: “%(old)s” → “%(new)s” by %(user)s", field=c.field.replace("_", " "),
                       old=c.old_value or "—", new=c.new_value or "—",
                       user=c.actor.username if c.actor else _("system")) for c in changes) or _("no field details")


def _fail(exc: svc.CaseError, case: Case, what: str):
    if isinstance(exc, workflow.ConflictError):
        flash(_("%(refusal)s Changes since you opened it: %(changes)s.", refusal=error_text(exc),
                changes=_changes_text(exc.changes)), "danger")
    else:
        flash(_("%(what)s: %(refusal)s", what=what, refusal=error_text(exc)), "danger")
    db.session.rollback()
    return redirect(url_for("cases.detail", case_id=case.id))


def _form_errors(form, what: str) -> str:
    parts = [f"{getattr(form, name).label.text}: {'; '.join(errs)}" for name, errs in form.errors.items()
             if name != "csrf_token"]
    if "csrf_token" in form.errors:
        parts.append(_("the form expired, please try again"))
    return _("%(what)s: %(problems)s", what=what, problems="; ".join(parts) or _("invalid input"))


# --- search ---------------------------------------------------------------------------------------

@bp.route("/")
@login_required
@requires("case.search")
def index():
    form = SearchForm(request.args)
    form.owner.choices = [("", "Anyone")] + [(str(i), n) for i, n in _staff_choices()]
    filters = search.SearchFilters()
    if form.validate():
        filters = search.SearchFilters(q=form.q.data or "", status=form.status.data or "", stage=form.stage.data or "",
                                    kind=form.kind.data or "", owner_id=int(form.owner.data) if form.owner.data else
                                    None, opened_from=form.opened_from.data, opened_to=form.opened_to.data,
                                    saved=request.args.get("saved", ""))
    stmt, name_scores = search.search_cases(current_user, filters, now=utcnow())
    page = db.paginate(stmt, per_page=25, error_out=False)
    args = {k: v for k, v in request.args.items() if k != "page"}
    open_flags = svc.flags_without_case(current_user) if can(current_user, "case.create") else []
    return render_template("cases/index.html", form=form, page=page, args=args, name_scores=name_scores,
                           saved=filters.saved, open_flags=open_flags)


def _record_id(value) -> int | None:
    """A record id from a query string or hidden field: ASCII digits within the id range, else None.

    str.isdigit() accepts "²" (int() refuses it) and a huge number overflows the database driver.
    """
    text = (value or "").strip() if isinstance(value, str) else ""
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        return None
    return int(text) or None


# --- opening and editing --------------------------------------------------------------------------

@bp.route("/new", methods=["GET", "POST"])
@login_required
@requires("case.create")
def new():
    form = CaseOpenForm()
    prefill = None
    flag_id = _record_id(request.args.get("flag")) or _record_id(form.flag.data)
    if flag_id:
        prefill = svc.flag_prefill(flag_id)
        if prefill is None:
            abort(404)
        if not can(current_user, "flag.view", prefill["flag"]):
            deny_record("flag.view", "flag", flag_id)  # 404, like a flag that does not exist
        if request.method == "GET":
            form.flag.data = str(flag_id)
            form.kind.data = prefill["kind"]
            form.title.data = prefill["title"]
            form.priority.data = prefill["flag"].priority if prefill["flag"].priority in htcds.PRIORITIES else "high"
    if form.validate_on_submit():
        try:
            opened = svc.open_case(current_user, kind=form.kind.data, title=form.title.data,
                                   summary=form.summary.data or "", priority=form.priority.data,
                                   flag_id=flag_id, now=utcnow())
        except svc.CaseError as exc:
            db.session.rollback()
            getattr(form, exc.field if exc.field in form else "title").errors.append(error_text(exc))
        else:
            db.session.commit()
            flash(_("Case %(ref)s opened.", ref=opened.case.reference), "success")
            for m in opened.matches:
                if m.other is not None:
                    flash(_("The person from the flag is also in case %(ref)s (score %(score)s).",
                            ref=m.other.case.reference, score=format(m.score, ".2f")), "warning")
            return redirect(url_for("cases.detail", case_id=opened.case.id))
    return render_template("cases/new.html", form=form, prefill=prefill)


@bp.route("/<int:case_id>")
@login_required
@requires("case.view")
def detail(case_id: int):
    case = get_or_404(Case, case_id, "case.view", audit_as="case")
    editable = can(current_user, "case.edit", case) and not case.is_closed
    ctx = {"case": case, "editable": editable}
    ctx["matches"] = persons.matches_for_case(case)
    ctx["links"] = db.session.execute(select(CaseLink).where(CaseLink.case_id == case.id)).scalars().all()
    ctx["htes"] = db.session.execute(select(TraffickingEvent).where(TraffickingEvent.case_id == case.id)
                                     .order_by(TraffickingEvent.event_date)).scalars().all()
    ctx["plans"] = db.session.execute(select(SupportPlan).where(SupportPlan.case_id == case.id)).scalars().all()
    ctx["consents"] = db.session.execute(select(Consent).where(Consent.case_id == case.id)
                                         .order_by(Consent.id)).scalars().all()
    ctx["referrals"] = db.session.execute(select(Referral).where(Referral.case_id == case.id)
                                          .order_by(Referral.id)).scalars().all()
    ctx["tasks"] = db.session.execute(select(CaseTask).where(CaseTask.case_id == case.id)
                                      .order_by(CaseTask.completed_at.is_not(None), CaseTask.due_on)).scalars().all()
    ctx["notes"] = db.session.execute(select(CaseNote).where(CaseNote.case_id == case.id)
                                      .order_by(CaseNote.id.desc())).scalars().all()
    ctx["evidence"] = db.session.execute(select(Evidence).where(Evidence.case_id == case.id)).scalars().all()
    ctx["history"] = db.session.execute(select(FieldChange).where(FieldChange.case_id == case.id)
                                        .order_by(FieldChange.id.desc())).scalars().all()
    ctx["closure"] = svc.pending_closure(case)
    ctx["persons_by_id"] = {cp.id: cp for cp in case.persons}
    ctx["now"] = utcnow()
    ctx["today"] = ctx["now"].date()
    if editable:
        # Offer only the moves the workflow tables allow from here.
        status_form = StatusForm(prefix="st", version=case.version)
        status_form.status.choices = [c for c in status_form.status.choices
                                      if c[0] in svc.STATUS_TRANSITIONS.get(case.status, ())]
        ctx["status_form"] = status_form if status_form.status.choices else None
        stage_form = StageForm(prefix="sg", version=case.version)
        stage_form.stage.choices = [c for c in stage_form.stage.choices
                                    if c[0] in svc.STAGE_TRANSITIONS.get(case.stage, ())]
        ctx["stage_form"] = stage_form if stage_form.stage.choices else None
        ctx["closure_form"] = ClosureRequestForm(prefix="cl")
        team = TeamForm(prefix="tm", members=[m.user_id for m in case.team])
        team.members.choices = [c for c in _staff_choices() if c[0] != case.owner_id]
        ctx["team_form"] = team
        for name, cls in (("hte_form", TraffickingEventForm), ("plan_form", SupportPlanForm),
                          ("consent_form", ConsentForm), ("referral_form", ReferralForm)):
            f = cls(prefix=name.split("_")[0])
            f.case_person_id.choices = _person_choices(case, None if name == "consent_form" else
                                                       ("— the case —" if name == "referral_form"
                                                        else "— whole case —"))
            ctx[name] = f
        ctx["referral_form"].referred_on.data = ctx["referral_form"].referred_on.data or ctx["today"]
        task = TaskForm(prefix="task")
        task.assignee_id.choices = [("", "— unassigned —")] + [
            (str(u.id), u.display_name) for u in db.session.execute(
                select(User).where(User.id.in_(case.team_user_ids))).scalars()]
        ctx["task_form"] = task
        ctx["note_form"] = NoteForm(prefix="note")
        ctx["evidence_form"] = EvidenceForm(prefix="ev")
        ctx["link_form"] = LinkForm(prefix="ln")
    ctx["confirm_form"] = ConfirmForm()
    ctx["referral_status_form"] = ReferralStatusForm(prefix="rs")
    ctx["withdraw_form"] = WithdrawConsentForm(prefix="wd")
    if case.is_closed and can(current_user, "case.approve"):
        ctx["reopen_form"] = ReopenForm(prefix="ro", version=case.version)
    if ctx["closure"] is not None and can(current_user, "case.approve"):
        ctx["decision_form"] = ClosureDecisionForm(prefix="cd")
    return render_template("cases/detail.html", **ctx)


def _editable_case(case_id: int) -> Case:
    case = get_or_404(Case, case_id, "case.edit")
    if case.is_closed:
        flash(_("The case is closed; a manager can reopen it."), "warning")
        abort(redirect(url_for("cases.detail", case_id=case.id)))
    return case


@bp.route("/<int:case_id>/edit", methods=["GET", "POST"])
@login_required
@requires("case.edit")
def edit(case_id: int):
    case = _editable_case(case_id)
    form = CaseEditForm(obj=case if request.method == "GET" else None)
    conflict = None
    status = 200
    if form.validate_on_submit():
        data = {k: getattr(form, k).data for k in ("kind", "title", "summary", "priority")}
        try:
            changes = svc.update_case(case, current_user, data, expected_version=form.version.data, now=utcnow())
        except workflow.ConflictError as exc:
            db.session.rollback()
            conflict, status = exc, 409
        except svc.CaseError as exc:
            db.session.rollback()
            getattr(form, exc.field if exc.field in form else "title").errors.append(error_text(exc))
        else:
            resp = _commit_conflict_safe(url_for("cases.edit", case_id=case.id))
            if resp is not None:
                return resp
            flash(_("Saved.") if changes else _("Nothing changed."), "success")
            return redirect(url_for("cases.detail", case_id=case.id))
    if request.method == "GET":
        form.version.data = case.version
    return render_template("cases/edit.html", form=form, case=case, conflict=conflict), status


@bp.route("/<int:case_id>", methods=["PATCH"])
@login_required
@requires("case.edit")
def patch(case_id: int):
    """JSON edit: {"version": n, "title": ..., ...}; 409 with the newer changes when the version is stale."""
    case = get_or_404(Case, case_id, "case.edit")
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or "version" not in body:
        return jsonify(error="a JSON object with the record's version is required", field="version"), 400
    data = {k: body[k] for k in svc.EDITABLE_CASE_FIELDS if k in body}
    try:
        changes = svc.update_case(case, current_user, data, expected_version=body["version"], now=utcnow())
        db.session.commit()
    except workflow.ConflictError as exc:
        db.session.rollback()
        return jsonify(error=str(exc), changes=[
            {"field": c.field, "old": c.old_value, "new": c.new_value, "version": c.version,
             "by": c.actor.username if c.actor else None, "at": c.at.isoformat()} for c in exc.changes]), 409
    except StaleDataError:
        db.session.rollback()
        return jsonify(error="changed by someone else at the same moment", changes=[]), 409
    except (svc.CaseError, ValueError, TypeError) as exc:
        db.session.rollback()
        return jsonify(error=str(exc), field=getattr(exc, "field", None)), 422
    return jsonify(id=case.id, version=case.version, changed=sorted(changes))


@bp.route("/<int:case_id>/status", methods=["POST"])
@login_required
@requires("case.edit")
def status(case_id: int):
    case = get_or_404(Case, case_id, "case.edit")
    form = ReopenForm(prefix="ro") if case.is_closed else StatusForm(prefix="st")
    if not form.validate_on_submit():
        flash(_form_errors(form, _("Status")), "danger")
        return redirect(url_for("cases.detail", case_id=case.id))
    try:
        svc.change_status(case, current_user, form.status.data, expected_version=form.version.data,
                          comment=form.comment.data or "", now=utcnow())
    except svc.CaseError as exc:
        return _fail(exc, case, _("Status"))
    return _commit_conflict_safe(url_for("cases.detail", case_id=case.id)) or redirect(
        url_for("cases.detail", case_id=case.id))


@bp.route("/<int:case_id>/stage", methods=["POST"])
@login_required
@requires("case.edit")
def stage(case_id: int):
    case = _editable_case(case_id)
    form = StageForm(prefix="sg")
    if not form.validate_on_submit():
        flash(_form_errors(form, _("Stage")), "danger")
        return redirect(url_for("cases.detail", case_id=case.id))
    try:
        svc.change_stage(case, current_user, form.stage.data, expected_version=form.version.data, now=utcnow())
    except svc.CaseError as exc:
        return _fail(exc, case, _("Stage"))
    return _commit_conflict_safe(url_for("cases.detail", case_id=case.id)) or redirect(
        url_for("cases.detail", case_id=case.id))


@bp.route("/<int:case_id>/team", methods=["POST"])
@login_required
@requires("case.edit")
def team(case_id: int):
    case = _editable_case(case_id)
    form = TeamForm(prefix="tm")
    form.members.choices = [c for c in _staff_choices() if c[0] != case.owner_id]
    if not form.validate_on_submit():
        flash(_form_errors(form, _("Team")), "danger")
    else:
        try:
            svc.set_team(case, current_user, form.members.data or [], now=utcnow())
        except svc.CaseError as exc:
            return _fail(exc, case, _("Team"))
        db.session.commit()
        flash(_("Team saved."), "success")
    return redirect(url_for("cases.detail", case_id=case.id))


@bp.route("/<int:case_id>/closure", methods=["POST"])
@login_required
@requires("case.edit")
def request_closure(case_id: int):
    case = _editable_case(case_id)
    form = ClosureRequestForm(prefix="cl")
    if not form.validate_on_submit():
        flash(_form_errors(form, _("Closure")), "danger")
        return redirect(url_for("cases.detail", case_id=case.id))
    try:
        svc.request_closure(case, current_user, target_status=form.target_status.data, reason=form.reason.data,
                            now=utcnow())
    except svc.CaseError as exc:
        return _fail(exc, case, _("Closure"))
    db.session.commit()
    flash(_("Closure requested; a manager must approve it."), "success")
    return redirect(url_for("cases.detail", case_id=case.id))


@bp.route("/<int:case_id>/closure/<int:request_id>", methods=["POST"])
@login_required
@requires("case.approve")
def decide_closure(case_id: int, request_id: int):
    case = get_or_404(Case, case_id, "case.approve")
    req = db.session.get(ClosureRequest, request_id)
    if req is None or req.case_id != case.id:
        abort(404)
    form = ClosureDecisionForm(prefix="cd")
    if not form.validate_on_submit():
        flash(_form_errors(form, _("Decision")), "danger")
        return redirect(url_for("cases.detail", case_id=case.id))
    try:
        svc.decide_closure(req, current_user, approve=bool(form.approve.data), comment=form.comment.data or "",
                           now=utcnow())
    except svc.CaseError as exc:
        return _fail(exc, case, _("Decision"))
    resp = _commit_conflict_safe(url_for("cases.detail", case_id=case.id))
    if resp is None:
        flash(_("Closure approved.") if req.decision == "approved" else _("Closure rejected."), "success")
    return resp or redirect(url_for("cases.detail", case_id=case.id))


# --- persons --------------------------------------------------------------------------------------

def _context_from(form) -> dict:
    out = {}
    for name in CONTEXT_FIELDS:
        if name in form:
            out[name] = getattr(form, name).data
    return out


@bp.route("/<int:case_id>/persons/new", methods=["GET", "POST"])
@login_required
@requires("case.edit")
def person_new(case_id: int):
    case = _editable_case(case_id)
    form = PersonAddForm()
    existing = None
    pid = _record_id(request.args.get("person")) or _record_id(form.person_id.data)
    if pid:
        existing = db.session.get(Person, pid)
        if existing is None:
            abort(404)
        form.person_id.data = str(pid)
    if form.validate_on_submit():
        try:
            cp, matches = persons.add_person(
                case, current_user, role=form.role.data, surname=form.surname.data or "",
                given_names=form.given_names.data or "", date_of_birth=form.date_of_birth.data or "",
                sex=form.sex.data, nationality=form.nationality.data,
                aliases=[(form.alias_surname.data, form.alias_given_names.data)],
                documents=[(form.document_type.data, form.document_number.data, form.document_country.data)],
                context=_context_from(form), person_id=pid, screen_at_borders=form.screen_at_borders.data,
                now=utcnow())
        except svc.CaseError as exc:
            db.session.rollback()
            getattr(form, exc.field if exc.field in form else "surname").errors.append(error_text(exc))
        else:
            db.session.commit()
            flash(_("%(role)s added.", role=cp.role.capitalize()), "success")
            for m in matches:
                if m.other is not None:
                    flash(_("Also in case %(ref)s as %(role)s (score %(score)s); that case's owner has been told.",
                            ref=m.other.case.reference, role=m.other.role, score=format(m.score, ".2f")), "warning")
                else:
                    flash(_("Matches an alert-list person of interest (score %(score)s).",
                            score=format(m.score, ".2f")), "warning")
            return redirect(url_for("cases.detail", case_id=case.id) + "#persons")
    return render_template("cases/person_new.html", form=form, case=case, existing=existing)


@bp.route("/persons/<int:cp_id>", methods=["GET", "POST"])
@login_required
@requires("case.view")
def person(cp_id: int):
    cp = get_or_404(CasePerson, cp_id, "case.view", audit_as="case_person")
    case = cp.case
    editable = can(current_user, "case.edit", case) and not case.is_closed
    form = PersonContextForm(obj=cp if request.method == "GET" else None)
    conflict, status_code = None, 200
    if request.method == "POST":
        if not editable:
            audit_denied("case.edit", "case_person", cp.id)
            abort(403)
        if form.validate_on_submit():
            try:
                persons.update_person_context(cp, current_user, _context_from(form),
                                          expected_version=form.version.data, now=utcnow())
            except workflow.ConflictError as exc:
                db.session.rollback()
                conflict, status_code = exc, 409
            except svc.CaseError as exc:
                db.session.rollback()
                getattr(form, exc.field if exc.field in form else "notes").errors.append(error_text(exc))
            else:
                resp = _commit_conflict_safe(url_for("cases.person", cp_id=cp.id))
                if resp is not None:
                    return resp
                flash(_("Saved."), "success")
                return redirect(url_for("cases.person", cp_id=cp.id))
    if request.method == "GET":
        form.version.data = cp.version
    history = db.session.execute(select(FieldChange).where(
        FieldChange.object_type == "case_person", FieldChange.object_id == cp.id).order_by(FieldChange.id.desc())
    ).scalars().all()
    consents = db.session.execute(select(Consent).where(Consent.case_person_id == cp.id)).scalars().all()
    return render_template("cases/person.html", cp=cp, case=case, form=form, editable=editable,
                           conflict=conflict, history=history, consents=consents), status_code


# --- HTCDS records and work items -----------------------------------------------------------------

def _simple_post(case_id: int, form_cls, prefix: str, what: str, call, *, choices=None, success: str | None = None):
    case = _editable_case(case_id)
    form = form_cls(prefix=prefix)
    if choices is not None:
        choices(form, case)
    if not form.validate_on_submit():
        flash(_form_errors(form, what), "danger")
        return redirect(url_for("cases.detail", case_id=case.id))
    try:
        call(case, form)
    except svc.CaseError as exc:
        return _fail(exc, case, what)
    db.session.commit()
    flash(success or _("Saved."), "success")
    return redirect(url_for("cases.detail", case_id=case.id))


def _person_select(blank):
    def fill(form, case):
        form.case_person_id.choices = _person_choices(case, blank)
    return fill


def _int_or_none(v):
    return int(v) if v not in (None, "") else None


@bp.route("/<int:case_id>/events", methods=["POST"])
@login_required
@requires("case.edit")
def add_hte(case_id: int):
    return _simple_post(case_id, TraffickingEventForm, "hte", _l("Trafficking event"), lambda case, f: (
        svc.add_trafficking_event)(
        case, current_user, type=f.type.data, event_date=f.event_date.data, place=f.place.data or "",
        country=f.country.data or "", description=f.description.data or "",
        case_person_id=_int_or_none(f.case_person_id.data), now=utcnow()),
        choices=_person_select(_("— whole case —")), success=_l("Trafficking event recorded."))


@bp.route("/<int:case_id>/support", methods=["POST"])
@login_required
@requires("case.edit")
def add_support(case_id: int):
    return _simple_post(case_id, SupportPlanForm, "plan", _l("Support plan"), lambda case, f: svc.add_support_plan(
        case, current_user, type=f.type.data, objectives=f.objectives.data, action_plan=f.action_plan.data or "",
        planned_end=f.planned_end.data, case_person_id=_int_or_none(f.case_person_id.data), now=utcnow()),
        choices=_person_select(_("— whole case —")), success=_l("Support plan added."))


@bp.route("/<int:case_id>/consents", methods=["POST"])
@login_required
@requires("case.edit")
def add_consent(case_id: int):
    return _simple_post(case_id, ConsentForm, "consent", _l("Consent"), lambda case, f: svc.record_consent(
        case, current_user, case_person_id=_int_or_none(f.case_person_id.data), scopes=f.scopes.data or [],
        share_with=f.share_with.data or "", retention=f.retention.data or "",
        informed_of_withdrawal=f.informed_of_withdrawal.data, given_by=f.given_by.data,
        given_by_name=f.given_by_name.data or "", now=utcnow()),
        choices=_person_select(None), success=_l("Consent recorded."))


@bp.route("/<int:case_id>/consents/<int:consent_id>/withdraw", methods=["POST"])
@login_required
@requires("case.edit")
def withdraw_consent(case_id: int, consent_id: int):
    def call(case, f):
        consent = db.session.get(Consent, consent_id)
        if consent is None or consent.case_id != case.id:
            abort(404)
        svc.withdraw_consent(consent, current_user, note=f.note.data or "", now=utcnow())
    return _simple_post(case_id, WithdrawConsentForm, "wd", _l("Consent"), call, success=_l("Withdrawal recorded."))


@bp.route("/<int:case_id>/notes", methods=["POST"])
@login_required
@requires("case.edit")
def add_note(case_id: int):
    return _simple_post(case_id, NoteForm, "note", _l("Note"), lambda case, f: svc.add_note(
        case, current_user, body=f.body.data, now=utcnow()), success=_l("Note added."))


def _task_choices(form, case):
    form.assignee_id.choices = [("", "— unassigned —")] + [(str(u), str(u)) for u in case.team_user_ids]


@bp.route("/<int:case_id>/tasks", methods=["POST"])
@login_required
@requires("case.edit")
def add_task(case_id: int):
    return _simple_post(case_id, TaskForm, "task", _l("Task"), lambda case, f: svc.add_task(
        case, current_user, title=f.title.data, assignee_id=_int_or_none(f.assignee_id.data), due_on=f.due_on.data,
        now=utcnow()), choices=_task_choices, success=_l("Task added."))


@bp.route("/<int:case_id>/tasks/<int:task_id>/complete", methods=["POST"])
@login_required
@requires("case.edit")
def complete_task(case_id: int, task_id: int):
    def call(case, f):
        task = db.session.get(CaseTask, task_id)
        if task is None or task.case_id != case.id:
            abort(404)
        svc.complete_task(task, current_user, now=utcnow())
    return _simple_post(case_id, ConfirmForm, "", _l("Task"), call, success=_l("Task completed."))


@bp.route("/<int:case_id>/links", methods=["POST"])
@login_required
@requires("case.edit")
def add_link(case_id: int):
    return _simple_post(case_id, LinkForm, "ln", _l("Link"), lambda case, f: svc.add_link(
        case, current_user, f.object_type.data, f.object_id.data, now=utcnow()), success=_l("Linked."))


@bp.route("/attach-flag/<int:flag_id>", methods=["POST"])
@login_required
@requires("case.edit")
def attach_flag(flag_id: int):
    """From a flag page: link the flag (and its crossing and person) to an existing case by reference."""
    flag = get_or_404(Flag, flag_id, "flag.view")
    form = AttachFlagForm()
    back = url_for("screening.flag", flag_id=flag.id)
    if not form.validate_on_submit():
        flash(_("Enter the reference of the case to attach this flag to."), "danger")
        return redirect(back)
    case = svc.case_by_reference(form.reference.data)
    if case is not None and not can(current_user, "case.view", case):
        # A case the user may not see answers exactly like a reference that does not exist.
        audit_denied("case.view", "case", case.id)
        case = None
    if case is None:
        flash(_("No case has the reference “%(ref)s”.", ref=form.reference.data.strip()), "danger")
        return redirect(back)
    if not can(current_user, "case.edit", case):
        audit_denied("case.edit", "case", case.id)
        abort(403)
    try:
        matches = svc.attach_flag(case, current_user, flag, now=utcnow())
    except svc.CaseError as exc:
        db.session.rollback()
        flash(error_text(exc), "warning")
        return redirect(back)
    db.session.commit()
    flash(_("Flag attached to case %(ref)s.", ref=case.reference), "success")
    for m in matches:
        if m.other is not None:
            flash(_("The person is also in case %(ref)s (score %(score)s).", ref=m.other.case.reference,
                    score=format(m.score, ".2f")), "warning")
    return redirect(url_for("cases.detail", case_id=case.id))


@bp.route("/<int:case_id>/referrals", methods=["POST"])
@login_required
@requires("case.edit")
def add_referral(case_id: int):
    return _simple_post(case_id, ReferralForm, "referral", _l("Referral"), lambda case, f: svc.make_referral(
        case, current_user, organisation=f.organisation.data, organisation_type=f.organisation_type.data or None,
        reason=f.reason.data, details=f.details.data or "", referred_on=f.referred_on.data,
        case_person_id=_int_or_none(f.case_person_id.data), agency_id=f.agency_id.data,
        primary_case_worker=f.primary_case_worker.data or "",
        includes_identifying_data=f.includes_identifying_data.data, override_reason=f.override_reason.data or "",
        now=utcnow()), choices=_person_select(_("— the case —")), success=_l("Referral made."))


@bp.route("/<int:case_id>/referrals/<int:referral_id>", methods=["POST"])
@login_required
@requires("case.edit")
def referral_status(case_id: int, referral_id: int):
    def call(case, f):
        ref = db.session.get(Referral, referral_id)
        if ref is None or ref.case_id != case.id:
            abort(404)
        svc.update_referral(ref, current_user, status=f.status.data, reason=f.reason.data or "", now=utcnow())
    return _simple_post(case_id, ReferralStatusForm, "rs", _l("Referral"), call, success=_l("Referral updated."))


# --- evidence -------------------------------------------------------------------------------------

@bp.route("/<int:case_id>/evidence", methods=["POST"])
@login_required
@requires("case.edit")
def upload_evidence(case_id: int):
    def call(case, f):
        upload = f.file.data
        svc.store_evidence(case, current_user, filename=upload.filename or "", stream=upload.stream,
                           directory=svc.evidence_dir(current_app), description=f.description.data or "",
                           now=utcnow())
    return _simple_post(case_id, EvidenceForm, "ev", _l("Evidence"), call, success=_l("Evidence file stored."))


@bp.route("/evidence/<int:evidence_id>")
@login_required
@requires("evidence.download")
def download_evidence(evidence_id: int):
    """Served as an attachment only, with nosniff, and audited before a byte leaves."""
    ev = get_or_404(Evidence, evidence_id, "evidence.download", audit_as="evidence")
    path = svc.evidence_dir(current_app) / ev.stored_name
    if not path.is_file():
        abort(404)
    resp = send_file(path, mimetype=ev.content_type, as_attachment=True, download_name=ev.original_name,
                     max_age=0, conditional=False, etag=False)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    resp.headers["Cache-Control"] = "no-store"
    return resp


# --- timeline -------------------------------------------------------------------------------------

@bp.route("/<int:case_id>/timeline")
@login_required
@requires("case.view")
def timeline(case_id: int):
    case = get_or_404(Case, case_id, "case.view", audit_as="case")
    events = db.session.execute(select(CaseEvent).where(CaseEvent.case_id == case.id)
                                .order_by(CaseEvent.at, CaseEvent.id)).scalars().all()
    return render_template("cases/timeline.html", case=case, events=events)
