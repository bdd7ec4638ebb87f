"""Border officers' pages: capture, flag queue, flag review; investigators' persons of interest and tracing."""

from __future__ import annotations

import io
import math
import uuid
from datetime import UTC
from typing import NamedTuple
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from screening import match_models, postsync, services, signals
from screening import trace as person_trace
from screening.capture import read_mrz
from screening.engine.matching import Document, Identity
from screening.engine.normalize import PartialDate, parse_crossing_dob, parse_partial_date
from screening.engine.phrases import Phrase, translate
from screening.forms import CaptureForm, ImportForm, PersonForm, ReviewForm, TraceForm
from screening.models import (
    OPEN_FLAG_STATUSES,
    Crossing,
    Flag,
    Person,
    PersonAlias,
    PersonDocument,
    named_roles,
    sees_in_full,
)
from screening.postsync_models import PostFlag
from tip_cases import audit
from tip_cases.access import get_or_404, requires, scope_filter, scope_for
from tip_cases.extensions import db, utcnow
from tip_cases.i18n import error_text
from tip_cases.labels import label
from tip_cases.models import BorderPost, User

bp = Blueprint("screening", __name__, url_prefix="/screening")


@bp.app_template_filter("explain")
def explain(value) -> str:
    """A matcher's sentence in the reader's language: a phrase, a stored feature (its `say`), or plain text
    (flags stored before the matcher kept its templates stay in English)."""
    if isinstance(value, dict):
        phrase = Phrase.from_json(value.get("say")) if value.get("say") else None
        return translate(phrase, gettext) if phrase is not None else str(value.get("explanation", ""))
    return translate(value, gettext)


class Frequency(NamedTuple):
    """A probability said as flags: about `count` in `out_of`, or past an end ("under" 1 or "over" 99 in 100)."""

    bound: str  # "about", "under" or "over"
    count: int
    out_of: int


@bp.app_template_filter("frequency")
def frequency(p: float) -> Frequency:
    """The flag page's "about N in 10": in tenths rounding would say "10 in 10" (certain) from 0.95 and
    "0 in 10" (never) under 0.05, and a shared probability can be either, so those ends are said in
    hundredths, and past 1 in 100 from an end as "more than 99" or "fewer than 1 in 100". Rounds half up
    (Jinja's round is Python's, half to even)."""
    if p < 0.005:
        return Frequency("under", 1, 100)
    if p >= 0.995:
        return Frequency("over", 99, 100)
    out_of = 10 if 0.05 <= p < 0.95 else 100
    return Frequency("about", min(max(math.floor(p * out_of + 0.5), 1), out_of - 1), out_of)


@bp.app_template_filter("percent")
def percent(p: float) -> str:
    """A match probability as officers read it: never "100%" (certain) for a probability the model rounds
    up to it, nor "0%" for one above nothing; the engine's explanations say the same ("over 99%")."""
    if 0.0 < p < 0.005:
        return gettext("under 1%")
    if p >= 0.995:
        return gettext("over 99%")
    return f"{math.floor(p * 100 + 0.5)}%"


@bp.app_template_filter("risk_sentences")
def risk_sentences(evidence) -> list[str]:
    """A risk flag's evidence sentences in the reader's language; a flag stored before the rules kept their
    templates (no "says"), or a damaged one, shows its English sentences."""
    ev = evidence if isinstance(evidence, dict) else {}
    sentences = [str(s) for s in ev.get("sentences") or []]
    says = ev.get("says")
    if not isinstance(says, list) or len(says) != len(sentences):
        says = [None] * len(sentences)
    out = []
    for english, said in zip(sentences, says, strict=True):
        phrase = Phrase.from_json(said) if said else None
        out.append(translate(phrase, gettext) if phrase is not None else english)
    return out


@bp.app_template_filter("flag_reason")
def flag_reason(flag) -> str:
    """The reason for the alert: a risk flag's is its evidence sentences, said in the reader's language."""
    if flag.kind == "risk" and isinstance(flag.evidence, dict) and flag.evidence.get("says"):
        return " ".join(risk_sentences(flag.evidence))
    return flag.reason or ""


def _get(model, ident: int, action: str, **kw):
    """get_or_404, with ids too large for the database answered 404 instead of overflowing."""
    if ident > 2**31 - 1:
        abort(404)
    return get_or_404(model, ident, action, **kw)


def _posts() -> list[BorderPost]:
    return list(db.session.execute(select(BorderPost).order_by(BorderPost.name)).scalars())


# --- the officer's queue and the flag page --------------------------------------------------------------

@bp.app_context_processor
def _need_to_know():
    return {"poi_in_full": lambda person: sees_in_full(current_user, person)}


@bp.app_template_filter("named_roles")
def _named_roles(person: Person) -> tuple[str, ...]:
    return named_roles(person)


@bp.get("/queue")
@login_required
@requires("flag.view")
def queue():
    """Open flags of the officer's post (all posts for investigators and managers), newest first."""
    stmt = select(Flag).where(scope_filter(current_user, "flag.view", Flag)) \
        .options(selectinload(Flag.crossing), selectinload(Flag.person), selectinload(Flag.border_post))
    post_code = request.args.get("post", "")
    status = request.args.get("status", "open")
    if post_code:
        stmt = stmt.join(BorderPost, BorderPost.id == Flag.border_post_id).where(BorderPost.code == post_code)
    if status == "open":
        stmt = stmt.where(Flag.status.in_(OPEN_FLAG_STATUSES))
    elif status != "all":
        stmt = stmt.where(Flag.status == status)
    page = db.paginate(stmt.order_by(Flag.created_at.desc(), Flag.id.desc()), per_page=50)
    # The queue shows travellers' and alert-list persons' names: audited like the other lists.
    audit.record("flag.list", "flag", None, detail={"ids": [f.id for f in page.items]})
    services.record_need_to_know(current_user, [f.person for f in page.items], "queue")
    # Rendered before the commit: a commit expires the loaded flags, and the template would then load
    # each flag and its crossing again, one query at a time (104 statements for 50 rows instead of 12).
    html = render_template("screening/queue.html", page=page, posts=_posts(), post_code=post_code, status=status,
                           all_posts=scope_for(current_user.role, "flag.view") == "all")
    db.session.commit()
    return html


def _compare(crossing: Crossing, person: Person | None, features: list[dict]) -> list[dict]:
    """Rows of the side-by-side table, each marked with the matcher's verdict for that field.

    Flags stored before the Fellegi-Sunter engine carry one "name" and one "dob" feature; newer ones
    "surname", "given_names" and "date_of_birth": both are read."""
    verdict = {f["name"]: f.get("verdict", "missing") for f in features or []}
    if person is None:
        return []
    aliases = "; ".join(f"{a.surname}, {a.given_names}" for a in person.aliases)
    docs = "; ".join(" ".join(x for x in (d.type, d.number, d.country) if x) for d in person.documents)
    crossing_doc = " ".join(x for x in (crossing.document_type, crossing.document_number,
                                        crossing.document_country) if x)
    return [
        {"label": _("Surname"), "crossing": crossing.surname, "person": person.surname,
         "verdict": verdict.get("surname", verdict.get("name"))},
        {"label": _("Given names"), "crossing": crossing.given_names, "person": person.given_names,
         "verdict": verdict.get("given_names", verdict.get("name"))},
        {"label": _("Aliases"), "crossing": "", "person": aliases, "verdict": None},
        {"label": _("Date of birth"), "crossing": crossing.dob_text, "person": person.dob_text,
         "verdict": verdict.get("date_of_birth", verdict.get("dob"))},
        {"label": _("Sex"), "crossing": crossing.sex or "", "person": person.sex or "", "verdict": verdict.get("sex")},
        {"label": _("Nationality"), "crossing": crossing.nationality or "", "person": person.nationality or "",
         "verdict": verdict.get("nationality")},
        {"label": _("Document"), "crossing": crossing_doc, "person": docs, "verdict": verdict.get("document")},
    ]


def _review_form(flag: Flag) -> ReviewForm:
    form = ReviewForm()
    investigators = db.session.execute(select(User).where(User.role.in_(("investigator", "manager")),
                                                          User.active.is_(True)).order_by(User.full_name)).scalars()
    form.escalate_to.choices = [(0, _("Any investigator"))] + [(u.id, u.display_name) for u in investigators]
    # The decision is the page's job: the keyboard starts in the reason, then Tab reaches the buttons.
    form.reason.render_kw = {**(form.reason.render_kw or {}), "autofocus": True}
    return form


@bp.get("/flags/<int:flag_id>")
@login_required
@requires("flag.view")
def flag(flag_id: int):
    flag = _get(Flag, flag_id, "flag.view", audit_as="flag")
    return render_template("screening/flag.html", form=_review_form(flag), **_flag_view(flag), **_case_context(flag))


def _flag_view(flag: Flag) -> dict:
    """The flag page's person side: in full for those the alert names, else the alert, action and contact."""
    full = services.record_need_to_know(current_user, [flag.person], "flag").get(flag.person_id, True)
    db.session.commit()
    if not full:
        # The traveller's side only: the person's values, the verdicts and the explanations are need to know.
        rows = [{**r, "person": "", "verdict": None} for r in _compare(flag.crossing, flag.person, [])
                if r["label"] != _("Aliases")]
        return {"flag": flag, "crossing": flag.crossing, "person": flag.person, "restricted": True,
                "features": [], "rows": rows, "named": named_roles(flag.person)}
    features = sorted(flag.features or [], key=lambda f: -abs(f.get("contribution") or 0))
    return {"flag": flag, "crossing": flag.crossing, "person": flag.person, "restricted": False,
            "features": features, "rows": _compare(flag.crossing, flag.person, flag.features)}


def _case_context(flag: Flag) -> dict:
    """Cases this flag is in, and the form to attach it to one (shown once a flag is confirmed): the cases
    package contributes them through screening.signals.flag_page."""
    return signals.page_context(signals.flag_page, flag)


@bp.post("/flags/<int:flag_id>/review")
@login_required
@requires("flag.review")
def review(flag_id: int):
    flag = _get(Flag, flag_id, "flag.review", audit_as="flag")
    form = _review_form(flag)
    decision = form.decision()
    if not form.validate_on_submit() or decision is None:
        flash(_("Choose a decision."), "danger")
        return redirect(url_for(".flag", flag_id=flag.id))
    to_user = db.session.get(User, form.escalate_to.data) if decision == "escalate" and form.escalate_to.data else None
    try:
        services.review_flag(flag, decision, actor=current_user, now=utcnow(), reason=form.reason.data or "",
                             escalate_to=to_user)
        db.session.commit()
    except services.ScreeningError as exc:
        db.session.rollback()
        form.reason.errors = [error_text(exc)] if exc.field == "reason" else []
        if exc.field != "reason":
            flash(error_text(exc), "danger")
        return render_template("screening/flag.html", form=form, **_flag_view(flag)), 422
    except StaleDataError:
        db.session.rollback()
        flash(_("Someone else decided on this flag at the same time; their decision is shown."), "warning")
        return redirect(url_for(".flag", flag_id=flag_id))
    flash(_("Flag %(status)s.", status=label(flag.status)), "success")
    return redirect(url_for(".queue"))


# --- capture -----------------------------------------------------------------------------------------

def _fill_from_mrz(form: CaptureForm) -> None:
    reading = read_mrz(form.mrz.data or "", today=utcnow().date())
    if reading.errors:
        form.mrz.errors = [_say(e) for e in reading.errors]
        return
    for name, value in reading.fields.items():
        getattr(form, name).data = value
    if reading.check_digit_errors:
        form.mrz.errors = [_say(e) for e in reading.check_digit_errors]
    else:
        flash(_say(reading.message), "info")


def _say(text: str) -> str:
    """A sentence of the MRZ reader (screening.capture) in the reader's language."""
    return translate(text, gettext)


@bp.post("/capture/mrz")
@login_required
@requires("crossing.create")
def capture_mrz():
    """The capture page reads a scanned zone without a reload (CSRF token in the X-CSRFToken header)."""
    body = request.get_json(silent=True)
    text = body.get("mrz") if isinstance(body, dict) else None
    if not isinstance(text, str) or len(text) > 200:
        return jsonify(error="invalid_request", message="send {\"mrz\": \"...\"}: the zone as text, "
                                                          "at most 200 characters",
                       errors=[{"field": "mrz", "message": "a string of at most 200 characters"}]), 400
    return jsonify(read_mrz(text, today=utcnow().date()).as_json(_say))


@bp.route("/capture", methods=["GET", "POST"])
@login_required
@requires("crossing.create")
def capture():
    """An officer records a traveller at their own post; the result of screening shows at once."""
    post = current_user.border_post
    if post is None:
        abort(403, _("Capture is for officers assigned to a border post."))
    form = CaptureForm()
    if request.method == "POST" and form.read_mrz.data:
        form.validate_on_submit()  # CSRF, and shows other problems
        for name in ("surname", "date_of_birth", "nationality", "document_country"):
            getattr(form, name).errors = []
        _fill_from_mrz(form)
        return render_template("screening/capture.html", form=form, post=post)
    if form.validate_on_submit():
        tz = ZoneInfo(current_app.config["TIMEZONE"])
        at = form.crossed_at.data.replace(tzinfo=tz).astimezone(UTC) if form.crossed_at.data else utcnow()
        dob, remark = parse_crossing_dob(form.date_of_birth.data) if (form.date_of_birth.data or "").strip() \
            else (None, None)
        if dob is not None and form.dob_estimated.data:
            dob = PartialDate(dob.year, precision="estimated")
        item = services.NewCrossing(
            external_id=f"M-{post.code}-{uuid.uuid4().hex[:12]}", border_post_id=post.id,
            direction=form.direction.data, crossed_at=at, surname=(form.surname.data or "").strip(),
            given_names=(form.given_names.data or "").strip(), sex=form.sex.data or None, dob=dob,
            nationality=form.nationality.data or None, document_type=(form.document_type.data or "").strip() or None,
            document_number=services.normalize_document(form.document_number.data) or None,
            document_country=form.document_country.data or None, address=form.address.data or None,
            purpose=form.purpose.data or None, vehicle_registration=form.vehicle_registration.data or None,
            travel_group=form.travel_group.data or None, guardian_relation=form.guardian_relation.data or None,
            guardian_document_number=services.normalize_document(form.guardian_document_number.data) or None,
            consent_document=bool(form.consent_document.data), quality_issues=[remark] if remark else [])
        [result] = services.store_crossings([item], source="manual", actor=current_user, now=utcnow())
        db.session.commit()
        if remark:
            flash(_("Saved with a data-quality remark: %(remark)s. Check the document.", remark=remark), "warning")
        raised = len(result.flags) + len(result.post_flags)  # post_flags: raised offline on a post node
        if raised:
            flash(ngettext("%(num)d flag raised: read the action to take below.",
                           "%(num)d flags raised: read the action to take below.", raised), "danger")
        else:
            flash(_("Saved. No match against persons of interest."), "success")
        return redirect(url_for(".crossing", crossing_id=result.crossing_id))
    return render_template("screening/capture.html", form=form, post=post)


# --- crossings ---------------------------------------------------------------------------------------

@bp.get("/crossings")
@login_required
@requires("crossing.view")
def crossings():
    stmt = select(Crossing).where(scope_filter(current_user, "crossing.view", Crossing)) \
        .options(selectinload(Crossing.border_post), selectinload(Crossing.flags))
    post_code = request.args.get("post", "")
    if post_code:
        stmt = stmt.join(BorderPost, BorderPost.id == Crossing.border_post_id).where(BorderPost.code == post_code)
    page = db.paginate(stmt.order_by(Crossing.crossed_at.desc(), Crossing.id.desc()), per_page=50)
    audit.record("crossing.list", "crossing", None, detail={"ids": [c.id for c in page.items]})
    db.session.commit()
    return render_template("screening/crossings.html", page=page, posts=_posts(), post_code=post_code)


@bp.get("/crossings/<int:crossing_id>")
@login_required
@requires("crossing.view")
def crossing(crossing_id: int):
    crossing = _get(Crossing, crossing_id, "crossing.view", audit_as="crossing")
    services.record_need_to_know(current_user, [f.person for f in crossing.flags], "crossing")
    db.session.commit()
    post_flags = db.session.execute(select(PostFlag).where(PostFlag.crossing_id == crossing.id)
                                    .order_by(PostFlag.id)).scalars().all() if postsync.is_post() else []
    return render_template("screening/crossing.html", crossing=crossing, post_flags=post_flags)


# --- persons of interest -----------------------------------------------------------------------------

@bp.get("/persons")
@login_required
@requires("poi.view")
def persons():
    q = (request.args.get("q") or "").strip()
    stmt = select(Person)
    if q:
        like = f"%{q}%"
        alias_ids = select(PersonAlias.person_id).where(or_(PersonAlias.surname.ilike(like),
                                                            PersonAlias.given_names.ilike(like)))
        doc_ids = select(PersonDocument.person_id).where(PersonDocument.number.ilike(f"%{q.replace(' ', '')}%"))
        stmt = stmt.where(or_(Person.surname.ilike(like), Person.given_names.ilike(like),
                              Person.reference.ilike(like), Person.id.in_(alias_ids), Person.id.in_(doc_ids)))
    page = db.paginate(stmt.order_by(Person.surname, Person.given_names, Person.id), per_page=50)
    shown = services.record_need_to_know(current_user, page.items, "persons")
    full = {pid for pid, in_full in shown.items() if in_full}
    audit.record("poi.list", "person", None, detail={"ids": sorted(full), "searched": bool(q),
                                                     "limited": sorted(set(shown) - full)})
    db.session.commit()
    return render_template("screening/persons.html", page=page, q=q, today=utcnow().date(), full=full)


def _form_to_data(form: PersonForm) -> services.PersonData:
    aliases = []
    for line in (form.aliases.data or "").splitlines():
        if line.strip():
            surname, _, given = line.partition(",")
            aliases.append((surname.strip(), given.strip()))
    documents = []
    for line in (form.documents.data or "").splitlines():
        parts = line.split()
        if len(parts) == 1:
            documents.append((None, parts[0], None))
        elif len(parts) == 2:
            documents.append((parts[0].upper(), parts[1], None))
        elif len(parts) == 3:
            documents.append((parts[0].upper(), parts[1], parts[2].upper()))
    dob_text = (form.date_of_birth.data or "").strip()
    return services.PersonData(
        surname=form.surname.data or "", given_names=form.given_names.data or "", sex=form.sex.data or None,
        dob=parse_partial_date(dob_text) if dob_text else None, nationality=form.nationality.data or None,
        place_of_birth=form.place_of_birth.data or None, category=form.category.data,
        alert_kind=form.alert_kind.data, discreet=bool(form.discreet.data),
        screening_active=bool(form.screening_active.data), review_date=form.review_date.data,
        alert_reason=form.alert_reason.data or "", officer_action=form.officer_action.data or "",
        source=form.source.data, reference=form.reference.data or None, aliases=aliases, documents=documents,
        need_to_know_roles=list(form.need_to_know_roles.data or []), need_to_know_case=form.need_to_know_case.data,
        contact=form.contact.data)


def _person_to_form(person: Person, form: PersonForm) -> None:
    for name in ("reference", "surname", "given_names", "nationality", "place_of_birth", "category", "alert_kind",
                 "discreet", "screening_active", "review_date", "alert_reason", "officer_action", "source",
                 "contact"):
        getattr(form, name).data = getattr(person, name)
    form.need_to_know_roles.data = [r for r in (person.need_to_know_roles or "").split(",") if r]
    form.need_to_know_case.data = person.need_to_know_case.reference if person.need_to_know_case else ""
    form.sex.data = person.sex or ""
    form.date_of_birth.data = person.dob_text.replace("~", "~") if person.dob else ""
    form.aliases.data = "\n".join(f"{a.surname}, {a.given_names}" for a in person.aliases)
    form.documents.data = "\n".join(" ".join(x for x in (d.type or "-", d.number, d.country or "") if x)
                                    for d in person.documents)
    form.version.data = str(person.version)


@bp.route("/persons/new", methods=["GET", "POST"])
@login_required
@requires("poi.manage")
def person_new():
    form = PersonForm()
    if form.validate_on_submit():
        try:
            person = services.create_person(_form_to_data(form), actor=current_user, now=utcnow())
            db.session.commit()
        except services.ScreeningError as exc:
            db.session.rollback()
            getattr(form, exc.field or "surname").errors = [error_text(exc)]
        else:
            flash(_("Person of interest saved; crossings are screened against them from now on."), "success")
            return redirect(url_for(".person", person_id=person.id))
    return render_template("screening/person_form.html", form=form, person=None)


@bp.get("/persons/<int:person_id>")
@login_required
@requires("poi.view")
def person(person_id: int):
    person = _get(Person, person_id, "poi.view", audit_as="person")
    full = services.record_need_to_know(current_user, [person], "person")[person.id]
    db.session.commit()
    if not full:
        return render_template("screening/person_limited.html", person=person, named=named_roles(person))
    flags = db.session.execute(select(Flag).where(Flag.person_id == person.id)
                               .order_by(Flag.created_at.desc()).limit(50)).scalars().all()
    return render_template("screening/person.html", person=person, flags=flags, today=utcnow().date())


@bp.route("/persons/<int:person_id>/edit", methods=["GET", "POST"])
@login_required
@requires("poi.manage")
def person_edit(person_id: int):
    person = _get(Person, person_id, "poi.manage", audit_as="person")
    if not sees_in_full(current_user, person):  # nobody edits what they may not read: like a missing record
        audit.denied("poi.view_protected", "person", person.id)
        db.session.commit()
        abort(404)
    form = PersonForm()
    if request.method == "GET":
        _person_to_form(person, form)
    elif form.validate_on_submit():
        try:
            expected = int(form.version.data or 0)
        except ValueError:
            expected = -1
        try:
            services.update_person(person, _form_to_data(form), expected_version=expected, actor=current_user,
                                   now=utcnow())
            db.session.commit()
        except services.StaleRecord as exc:
            db.session.rollback()
            flash(error_text(exc), "danger")
            return render_template("screening/person_form.html", form=form, person=person, stale=True), 409
        except StaleDataError:
            db.session.rollback()
            flash(_("Someone else saved this person at the same moment; reload and apply your changes again."),
                  "danger")
            return render_template("screening/person_form.html", form=form, person=person, stale=True), 409
        except services.ScreeningError as exc:
            db.session.rollback()
            getattr(form, exc.field or "surname").errors = [error_text(exc)]
        else:
            flash(_("Saved."), "success")
            return redirect(url_for(".person", person_id=person.id))
    return render_template("screening/person_form.html", form=form, person=person)


# --- tracing -----------------------------------------------------------------------------------------

@bp.route("/trace", methods=["GET", "POST"])
@login_required
@requires("trace.run")
def trace():
    """Every stored crossing that may be this person, with the matcher's explanation."""
    form = TraceForm()
    hits = None
    if form.validate_on_submit():
        dob_text = (form.date_of_birth.data or "").strip()
        docs = [Document(None, form.document_number.data)] if (form.document_number.data or "").strip() else []
        probe = Identity(id="probe", surname=form.surname.data or "", given_names=form.given_names.data or "",
                         dob=parse_partial_date(dob_text) if dob_text else None, sex=form.sex.data or None,
                         nationality=form.nationality.data or None, documents=docs)
        found = person_trace.trace([("probe", probe)], min_score=float(form.min_score.data), limit=100)
        by_id = {c.id: c for c in db.session.execute(
            select(Crossing).options(selectinload(Crossing.border_post))
            .where(Crossing.id.in_([cid for _, cid, _ in found]))).scalars()} if found else {}
        hits = [(by_id[cid], result) for _, cid, result in found]
        audit.record("trace.run", "crossing", None, detail={"ids": [cid for _, cid, _ in found]})
        db.session.commit()
    return render_template("screening/trace.html", form=form, hits=hits)


# --- import ------------------------------------------------------------------------------------------

@bp.route("/import", methods=["GET", "POST"])
@login_required
@requires("crossing.import")
def import_csv():
    form = ImportForm()
    summary = None
    if form.validate_on_submit():
        raw = form.file.data.read()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            form.file.errors = ["the file is not UTF-8 text"]
        else:
            summary = services.import_csv(io.StringIO(text, newline=""), actor=current_user, now=utcnow(),
                                          source="csv")
            db.session.commit()
    return render_template("screening/import.html", form=form, summary=summary)


# --- the match model ---------------------------------------------------------------------------------

@bp.get("/model")
@login_required
@requires("match_model.view")
def match_model():
    """The weights screening and tracing use now: per feature, a chart with the table beside it."""
    page = match_models.model_page()
    audit.record("match_model.view", "match_model", page.record.id if page.record else "default")
    db.session.commit()
    return render_template("screening/model.html", page=page)
