"""Pages for partner agencies, rules, profiles, the outbox and dead letters; partner acknowledgements."""

from __future__ import annotations

import os
import time

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import delete, func, select

from notifications import jobhealth, rules, services, signing
from notifications.forms import AgencyForm, ButtonForm, ChannelForm, ContactForm, ProfileForm, RuleForm
from notifications.models import (
    Agency,
    Channel,
    MailMessage,
    OutboxMessage,
    Rule,
    SchedulerJob,
    SchedulerLease,
    SharingProfile,
    WebhookReceipt,
)
from tip_cases.access import get_or_404, requires
from tip_cases.extensions import MAX_ID, csrf, db, utcnow
from tip_cases.i18n import error_text

bp = Blueprint("notifications", __name__, url_prefix="/notifications")

STATUSES = ["pending", "sending", "delivered", "dead", "cancelled"]
RECEIPTS_KEPT = 500


def _fail(form, exc: services.NotificationError) -> None:
    db.session.rollback()
    target = getattr(form, exc.field, None) if exc.field else None
    if target is not None:
        target.errors = list(target.errors) + [error_text(exc)]
    else:
        flash(error_text(exc), "danger")


def _events() -> dict[str, str]:
    """Event names in the reader's language (rules.EVENTS marks them for extraction, in English)."""
    return {k: _(v) for k, v in rules.EVENTS.items()}


def _profile_choices():
    return [(p.id, p.name) for p in db.session.execute(select(SharingProfile).order_by(SharingProfile.name)).scalars()]


# --- agencies, contacts, channels ------------------------------------------------------------------

@bp.route("/agencies")
@login_required
@requires("notification.view")
def agencies():
    form = AgencyForm()
    form.profile_id.choices = _profile_choices()
    rows = db.session.execute(select(Agency).order_by(Agency.name)).scalars().all()
    return render_template("notifications/agencies.html", agencies=rows, form=form, org_types=rules.ORG_TYPES)


@bp.route("/agencies/new", methods=["POST"])
@login_required
@requires("notification.manage")
def agency_create():
    form = AgencyForm()
    form.profile_id.choices = _profile_choices() or [(0, "Minimal")]
    if form.validate_on_submit():
        try:
            profile = db.session.get(SharingProfile, form.profile_id.data) if form.profile_id.data else None
            agency = services.create_agency(name=form.name.data, org_type=form.org_type.data,
                                            country=form.country.data, profile=profile)
        except services.NotificationError as exc:
            _fail(form, exc)
        else:
            db.session.commit()
            flash(_("Agency %(name)s added; add its channels next.", name=agency.name), "success")
            return redirect(url_for(".agency_detail", agency_id=agency.id))
    rows = db.session.execute(select(Agency).order_by(Agency.name)).scalars().all()
    return render_template("notifications/agencies.html", agencies=rows, form=form, org_types=rules.ORG_TYPES), 422


def _agency_page(agency: Agency, *, contact_form=None, channel_form=None, token=None, status=200):
    rule_rows = db.session.execute(select(Rule).where(Rule.agency_id == agency.id).order_by(Rule.id)).scalars().all()
    return render_template("notifications/agency.html", agency=agency, rules=rule_rows,
                           contact_form=contact_form or ContactForm(), channel_form=channel_form or ChannelForm(),
                           button=ButtonForm(), token=token, org_types=rules.ORG_TYPES, events=_events()), status


@bp.route("/agencies/<int:agency_id>")
@login_required
@requires("notification.view")
def agency_detail(agency_id: int):
    return _agency_page(get_or_404(Agency, agency_id, "notification.view"))


@bp.route("/agencies/<int:agency_id>/contacts", methods=["POST"])
@login_required
@requires("notification.manage")
def contact_add(agency_id: int):
    agency = get_or_404(Agency, agency_id, "notification.manage")
    form = ContactForm()
    if form.validate_on_submit():
        try:
            services.add_contact(agency, name=form.name.data, position=form.position.data, email=form.email.data,
                                 phone=form.phone.data)
        except services.NotificationError as exc:
            _fail(form, exc)
        else:
            db.session.commit()
            flash(_("Contact added."), "success")
            return redirect(url_for(".agency_detail", agency_id=agency.id))
    return _agency_page(agency, contact_form=form, status=422)


@bp.route("/agencies/<int:agency_id>/channels", methods=["POST"])
@login_required
@requires("notification.manage")
def channel_add(agency_id: int):
    agency = get_or_404(Agency, agency_id, "notification.manage")
    form = ChannelForm()
    if form.validate_on_submit():
        try:
            services.add_channel(agency, kind=form.kind.data, address=form.address.data, label=form.label.data,
                                 gateway_url=form.gateway_url.data, secret=form.secret.data,
                                 timeout_seconds=form.timeout_seconds.data)
        except services.NotificationError as exc:
            _fail(form, exc)
        else:
            db.session.commit()
            flash(_("Channel added. Use \"Send a test\" to check it."), "success")
            return redirect(url_for(".agency_detail", agency_id=agency.id))
    return _agency_page(agency, channel_form=form, status=422)


@bp.route("/agencies/<int:agency_id>/token", methods=["POST"])
@login_required
@requires("notification.manage")
def agency_token(agency_id: int):
    """Shown once on the page (never flashed into a cookie); only its hash is kept."""
    agency = get_or_404(Agency, agency_id, "notification.manage")
    if not ButtonForm().validate_on_submit():
        abort(400)
    token = services.new_partner_token(agency)
    db.session.commit()
    return _agency_page(agency, token=token)


@bp.route("/channels/<int:channel_id>/test", methods=["POST"])
@login_required
@requires("notification.manage")
def channel_test(channel_id: int):
    channel = get_or_404(Channel, channel_id, "notification.manage")
    if not ButtonForm().validate_on_submit():
        abort(400)
    msg = services.send_test(channel, now=utcnow())
    db.session.commit()
    flash(_("Test message queued (%(id)s); the scheduler sends it within seconds.", id=msg.message_id), "success")
    return redirect(url_for(".outbox_detail", outbox_id=msg.id))


@bp.route("/channels/<int:channel_id>/toggle", methods=["POST"])
@login_required
@requires("notification.manage")
def channel_toggle(channel_id: int):
    channel = get_or_404(Channel, channel_id, "notification.manage")
    if not ButtonForm().validate_on_submit():
        abort(400)
    services.set_channel_active(channel, not channel.active)
    db.session.commit()
    flash(_("Channel enabled.") if channel.active else _("Channel disabled."), "success")
    return redirect(url_for(".agency_detail", agency_id=channel.agency_id))


# --- rules and profiles --------------------------------------------------------------------------

def _rule_form() -> RuleForm:
    form = RuleForm()
    rows = db.session.execute(select(Channel).join(Agency).order_by(Agency.name, Channel.id)).scalars().all()
    form.channel_id.choices = [(c.id, c.display) for c in rows]
    return form


def _rules_page(form, status=200):
    rows = db.session.execute(select(Rule).order_by(Rule.event, Rule.id)).scalars().all()
    return render_template("notifications/rules.html", rules=rows, form=form, button=ButtonForm(),
                           events=_events()), status


@bp.route("/rules")
@login_required
@requires("notification.view")
def rules_page():
    return _rules_page(_rule_form())


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


@bp.route("/rules/new", methods=["POST"])
@login_required
@requires("notification.manage")
def rule_add():
    form = _rule_form()
    if form.validate_on_submit():
        channel = db.session.get(Channel, form.channel_id.data)
        try:
            services.add_rule(agency=channel.agency, channel=channel, event=form.event.data,
                              kinds=_csv(form.kinds.data), priorities=form.priorities.data or [],
                              post_codes=_csv(form.post_codes.data))
        except services.NotificationError as exc:
            _fail(form, exc)
        else:
            db.session.commit()
            flash(_("Rule added."), "success")
            return redirect(url_for(".rules_page"))
    return _rules_page(form, 422)


@bp.route("/rules/<int:rule_id>/toggle", methods=["POST"])
@login_required
@requires("notification.manage")
def rule_toggle(rule_id: int):
    rule = get_or_404(Rule, rule_id, "notification.manage")
    if not ButtonForm().validate_on_submit():
        abort(400)
    services.set_rule_active(rule, not rule.active)
    db.session.commit()
    return redirect(url_for(".rules_page"))


@bp.route("/profiles")
@login_required
@requires("notification.view")
def profiles():
    rows = db.session.execute(select(SharingProfile).order_by(SharingProfile.name)).scalars().all()
    return render_template("notifications/profiles.html", profiles=rows, form=ProfileForm(),
                           labels=rules.FIELD_LABELS, identifying=rules.IDENTIFYING_FIELDS,
                           envelope=rules.ENVELOPE)


@bp.route("/profiles/new", methods=["POST"])
@login_required
@requires("notification.manage")
def profile_new():
    return _profile_form(None)


@bp.route("/profiles/<int:profile_id>", methods=["GET", "POST"])
@login_required
@requires("notification.manage")
def profile_edit(profile_id: int):
    return _profile_form(get_or_404(SharingProfile, profile_id, "notification.manage"))


def _profile_form(profile: SharingProfile | None):
    form = ProfileForm(obj=profile) if request.method == "GET" else ProfileForm()
    if form.validate_on_submit():
        try:
            saved = services.save_profile(profile, name=form.name.data, fields=form.fields.data or [],
                                          allow_identifying=form.allow_identifying.data,
                                          description=form.description.data)
        except services.NotificationError as exc:
            _fail(form, exc)
        else:
            db.session.commit()
            flash(_("Profile %(name)s saved.", name=saved.name), "success")
            return redirect(url_for(".profiles"))
    status = 422 if request.method == "POST" else 200
    return render_template("notifications/profile_edit.html", form=form, profile=profile), status


# --- outbox, delivery log, dead letters ----------------------------------------------------------

@bp.route("/outbox")
@login_required
@requires("notification.view")
def outbox():
    stmt = select(OutboxMessage).order_by(OutboxMessage.id.desc())
    status = request.args.get("status", "")
    agency_id = request.args.get("agency", type=int)
    if agency_id is not None and not 0 < agency_id <= MAX_ID:
        agency_id = None  # no such agency; a huge number would overflow the database driver
    event = request.args.get("event", "")
    ref = (request.args.get("ref") or "").strip()
    if status in STATUSES:
        stmt = stmt.where(OutboxMessage.status == status)
    if agency_id:
        stmt = stmt.where(OutboxMessage.agency_id == agency_id)
    if event in rules.EVENTS:
        stmt = stmt.where(OutboxMessage.event == event)
    if ref:
        stmt = stmt.where(OutboxMessage.message_id == ref)
    page = db.paginate(stmt, per_page=50, error_out=False)
    counts = dict(db.session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
    agencies_ = db.session.execute(select(Agency).order_by(Agency.name)).scalars().all()
    lease = db.session.get(SchedulerLease, "scheduler")
    jobs = db.session.execute(select(SchedulerJob).order_by(SchedulerJob.job_id)).scalars().all()
    return render_template("notifications/outbox.html", page=page, counts=counts, statuses=STATUSES,
                           agencies=agencies_, events=_events(), lease=lease, jobs=jobs, now=utcnow(),
                           filters={"status": status, "agency": agency_id, "event": event, "ref": ref},
                           button=ButtonForm())


@bp.route("/jobs")
@login_required
@requires("notification.view")
def jobs():
    """The scheduler's jobs with their health: a failing job is shown here and announced to admins."""
    lease = db.session.get(SchedulerLease, "scheduler")
    return render_template("notifications/jobs.html", jobs=jobhealth.all_jobs(), lease=lease, now=utcnow())


@bp.route("/outbox/<int:outbox_id>")
@login_required
@requires("notification.view")
def outbox_detail(outbox_id: int):
    # The payload may carry identifying fields (consented): every view is audited.
    msg = get_or_404(OutboxMessage, outbox_id, "notification.view", audit_as="notification")
    return render_template("notifications/outbox_detail.html", msg=msg, button=ButtonForm(), events=_events())


@bp.route("/outbox/<int:outbox_id>/retry", methods=["POST"])
@login_required
@requires("notification.manage")
def outbox_retry(outbox_id: int):
    msg = get_or_404(OutboxMessage, outbox_id, "notification.manage")
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        services.retry(msg, now=utcnow())
    except services.NotificationError as exc:
        db.session.rollback()
        flash(error_text(exc), "danger")
    else:
        db.session.commit()
        flash(_("Queued again; the scheduler sends it within seconds."), "success")
    return redirect(url_for(".outbox_detail", outbox_id=outbox_id))


@bp.route("/outbox/<int:outbox_id>/ack", methods=["POST"])
@login_required
@requires("notification.manage")
def outbox_ack(outbox_id: int):
    """Record an acknowledgement received by phone or in person (stops reminders)."""
    msg = get_or_404(OutboxMessage, outbox_id, "notification.manage")
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        services.acknowledge(msg, by=f"user:{current_user.username}", via="staff", now=utcnow())
    except services.NotificationError as exc:
        db.session.rollback()
        flash(error_text(exc), "danger")
    else:
        db.session.commit()
        flash(_("Acknowledgement recorded."), "success")
    return redirect(url_for(".outbox_detail", outbox_id=outbox_id))


# --- mail sink and demo webhook receiver ---------------------------------------------------------

@bp.route("/mailbox")
@login_required
@requires("mailbox.view")
def mailbox():
    page = db.paginate(select(MailMessage).order_by(MailMessage.id.desc()), per_page=50, error_out=False)
    return render_template("notifications/mailbox.html", page=page, smtp=current_app.config.get("MAIL_SERVER"))


@bp.route("/mailbox/<int:mail_id>")
@login_required
@requires("mailbox.view")
def mail_detail(mail_id: int):
    mail = get_or_404(MailMessage, mail_id, "mailbox.view", audit_as="mail")
    return render_template("notifications/mail_detail.html", mail=mail)


@bp.route("/received")
@login_required
@requires("notification.view")
def receipts():
    rows = db.session.execute(select(WebhookReceipt).order_by(WebhookReceipt.id.desc()).limit(200)).scalars().all()
    return render_template("notifications/receipts.html", receipts=rows)


@bp.route("/receiver/<int:channel_id>", methods=["POST"])
@csrf.exempt
def receiver(channel_id: int):
    """Demo partner endpoint: checks the Standard Webhooks signature with the channel's secret and keeps
    what arrived, so a new user sees a signed delivery land. Public by design: authenticity is the
    signature, and only channels pointing at this receiver are accepted."""
    enabled = current_app.config.get("NOTIFY_DEMO_RECEIVER", os.environ.get("NOTIFY_DEMO_RECEIVER", "1") != "0")
    if not enabled:
        abort(404)
    channel = db.session.get(Channel, channel_id)
    if channel is None or channel.kind != "webhook" or f"/notifications/receiver/{channel_id}" not in channel.address:
        abort(404)
    body = request.get_data(cache=False, as_text=True)[:65536]
    try:
        msg_id = signing.verify(channel.secret or "", request.headers, body, now=time.time())
        ok, reason = True, "signature valid"
    except signing.SignatureError as exc:
        msg_id, ok, reason = request.headers.get("webhook-id"), False, str(exc)
    db.session.add(WebhookReceipt(channel_id=channel_id, webhook_id=(msg_id or "")[:80] or None, verified=ok,
                                  reason=reason[:200], body=body if ok else ""))
    db.session.flush()
    oldest_kept = db.session.execute(select(WebhookReceipt.id).order_by(WebhookReceipt.id.desc())
                                     .offset(RECEIPTS_KEPT).limit(1)).scalar()
    if oldest_kept is not None:
        db.session.execute(delete(WebhookReceipt).where(WebhookReceipt.id <= oldest_kept))
    db.session.commit()
    return jsonify(received=ok, reason=reason), (200 if ok else 401)


# --- links and acknowledgements ------------------------------------------------------------------

SUBJECT_ENDPOINTS = {
    "flag": ["screening.flag", "screening.flag_detail", "screening.review"],
    "case": ["cases.detail", "cases.view", "cases.case"],
    "referral": ["cases.referral", "cases.referral_detail"],
    "case_task": ["cases.task", "cases.task_detail"],
    "risk_pattern": ["tracing.pattern", "tracing.pattern_detail"],
    "channel": [],
    "digest": [],
}


@bp.route("/go/<subject_type>/<subject_id>")
@login_required
@requires("home.view")
def go(subject_type: str, subject_id: str):
    """Resolve a link sent in a notification to the page that exists now; the target checks access."""
    rules_by_endpoint = {r.endpoint: r for r in current_app.url_map.iter_rules()}
    # str.isdigit() also accepts "²" (int() refuses it); and no id exceeds MAX_ID (the driver would overflow).
    numeric = subject_id.isascii() and subject_id.isdigit() and int(subject_id) <= MAX_ID
    for endpoint in SUBJECT_ENDPOINTS.get(subject_type, []):
        rule = rules_by_endpoint.get(endpoint)
        if rule is not None and len(rule.arguments) == 1 and numeric:  # every target page takes an int id
            (arg,) = rule.arguments
            return redirect(url_for(endpoint, **{arg: int(subject_id)}))
    if subject_type == "channel" and numeric:
        channel = db.session.get(Channel, int(subject_id))
        if channel is not None:
            return redirect(url_for(".agency_detail", agency_id=channel.agency_id))
    flash(_("No page for %(type)s %(id)s yet.", type=subject_type, id=subject_id), "warning")
    return redirect(url_for("main.home"))


@bp.route("/ack/<token>", methods=["GET", "POST"])
def ack_link(token: str):
    """Partner acknowledgement by signed, expiring link. Public by design: the signature is the credential,
    and the page shows only the reference (no personal data). GET asks, POST records (mail scanners
    that follow links must not acknowledge on a partner's behalf)."""
    try:
        msg = services.message_for_ack_token(token)
    except services.NotificationError as exc:
        return render_template("notifications/ack.html", error=error_text(exc), msg=None, form=None), 400
    form = ButtonForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        first = services.acknowledge(msg, by=f"agency:{msg.agency_id}" if msg.agency_id else f"user:{msg.user_id}",
                                     via="link", now=utcnow())
        db.session.commit()
        return render_template("notifications/ack.html", msg=msg, done=True, first=first, form=None, error=None)
    return render_template("notifications/ack.html", msg=msg, form=form, error=None, done=False)
