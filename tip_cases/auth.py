"""Sign-in (password then TOTP), enrolment of the second factor, logout and password change."""

from __future__ import annotations

import io
from datetime import timedelta

import qrcode
import qrcode.image.svg
from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from markupsafe import Markup

from tip_cases import accounts
from tip_cases.access import requires
from tip_cases.extensions import db, login_manager, utcnow
from tip_cases.forms import EnrolForm, LanguageForm, LoginForm, PasswordChangeForm, TotpForm
from tip_cases.i18n import SESSION_KEY, error_text, select_locale
from tip_cases.models import User
from tip_cases.security import is_safe_next

bp = Blueprint("auth", __name__)

PENDING_KEY = "pending_login"  # user id and time, between the password and the second factor
PENDING_TTL = timedelta(minutes=5)


def _settings() -> accounts.LoginSettings:
    c = current_app.config
    return accounts.LoginSettings(c["LOCKOUT_THRESHOLD"], c["LOCKOUT_DURATION"], c["PASSWORD_MIN_LENGTH"],
                                  c["ENROLMENT_CODE_LIFETIME"])


@login_manager.user_loader
def _load_user(sid: str) -> User | None:
    c = current_app.config
    user = accounts.load_session(sid, now=utcnow(), absolute=c["SESSION_ABSOLUTE_LIFETIME"],
                                 idle=c["SESSION_IDLE_LIFETIME"])
    if user is None:
        session.clear()
    return user


@login_manager.unauthorized_handler
def _unauthorized():
    """Browsers go to the sign-in page; API callers get a 401 JSON body."""
    from flask import jsonify

    if request.path.startswith("/api/"):
        resp = jsonify(error="unauthorized", message="Send a valid API token: Authorization: Bearer <token>.")
        resp.status_code = 401
        resp.headers["WWW-Authenticate"] = 'Bearer realm="tsela"'
        return resp
    flash(login_manager.login_message, login_manager.login_message_category)
    nxt = request.full_path if request.method == "GET" else None
    return redirect(url_for("auth.login", next=nxt.rstrip("?") if nxt else None))


login_manager.login_view = "auth.login"
login_manager.login_message = "Please sign in to continue."
login_manager.login_message_category = "info"
login_manager.session_protection = "basic"


def _pending_user() -> User | None:
    pending = session.get(PENDING_KEY)
    if not pending:
        return None
    started = pending.get("at", 0)
    if utcnow().timestamp() - started > PENDING_TTL.total_seconds():
        session.pop(PENDING_KEY, None)
        return None
    user = db.session.get(User, pending.get("uid"))
    return user if user is not None and user.active else None


def _next_url() -> str:
    target = request.args.get("next")
    return target if is_safe_next(target) else url_for("main.home")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(form.username.data, form.password.data, now=utcnow(), settings=_settings())
        except accounts.AccountError as exc:
            db.session.commit()  # keep the failure count and the audit row
            flash(error_text(exc), "danger")
        else:
            db.session.commit()
            _fresh_session()
            session[PENDING_KEY] = {"uid": user.id, "at": utcnow().timestamp()}
            nxt = request.args.get("next")
            step = "auth.second_factor" if user.totp_secret else "auth.enrol"
            return redirect(url_for(step, next=nxt if is_safe_next(nxt) else None))
    return render_template("auth/login.html", form=form)


def _fresh_session() -> None:
    """An empty session that keeps only the language chosen on the sign-in page (else a Sesotho reader
    who chose it there is back in the default language once signed in)."""
    locale = session.get(SESSION_KEY)
    session.clear()
    if locale:
        session[SESSION_KEY] = locale


def _complete_login(user: User):
    us = accounts.open_session(user, now=utcnow(), ip=request.remote_addr,
                               user_agent=request.headers.get("User-Agent"))
    db.session.commit()
    _fresh_session()  # a fresh session on privilege change defeats session fixation
    session.permanent = True
    user.current_sid = us.id
    login_user(user)
    flash(_("Welcome, %(name)s.", name=user.display_name), "success")
    return redirect(_next_url())


@bp.route("/login/verify", methods=["GET", "POST"])
def second_factor():
    user = _pending_user()
    if user is None:
        flash(_("Sign in with your password first."), "warning")
        return redirect(url_for("auth.login"))
    if not user.totp_secret:
        return redirect(url_for("auth.enrol", next=request.args.get("next")))
    form = TotpForm()
    if form.validate_on_submit():
        now = utcnow()
        if user.locked_until and user.locked_until > now:
            flash(_("Account locked after repeated failures. Try again later."), "danger")
            session.pop(PENDING_KEY, None)
            return redirect(url_for("auth.login"))
        try:
            accounts.verify_second_factor(user, form.code.data, now=now, settings=_settings())
        except accounts.AccountError as exc:
            db.session.commit()
            form.code.errors.append(error_text(exc))
        else:
            return _complete_login(user)
    return render_template("auth/verify.html", form=form, user=user)


def _qr_svg(uri: str) -> Markup:
    img = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buf = io.BytesIO()
    img.save(buf)
    svg = buf.getvalue().decode()
    svg = svg[svg.find("<svg"):]  # drop the XML declaration to inline it
    return Markup(svg)  # noqa: S704 - generated by qrcode from our own otpauth URI, no user HTML


@bp.route("/login/enrol", methods=["GET", "POST"])
def enrol():
    """First sign-in (or after an admin reset): the admin's one-time enrolment code, then a new secret's code.

    Both codes count toward the lockout like a wrong password, so neither can be guessed at leisure.
    """
    import pyotp

    user = _pending_user()
    if user is None:
        return redirect(url_for("auth.login"))
    if user.totp_secret:
        return redirect(url_for("auth.second_factor", next=request.args.get("next")))
    secret = session.get("enrol_secret") or accounts.start_enrolment()
    session["enrol_secret"] = secret
    form = EnrolForm()
    if form.validate_on_submit():
        now = utcnow()
        if user.locked_until and user.locked_until > now:
            flash(accounts.failed_login_message(_settings()), "danger")
            session.clear()
            return redirect(url_for("auth.login"))
        try:
            accounts.check_enrolment_code(user, form.enrolment_code.data, now=now, settings=_settings())
            accounts.finish_enrolment(user, secret, form.code.data, now=now, settings=_settings())
        except accounts.AccountError as exc:
            db.session.commit()  # keep the failure count and the audit row
            getattr(form, exc.field or "code").errors.append(error_text(exc))
        else:
            session.pop("enrol_secret", None)
            return _complete_login(user)
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=current_app.config["APP_NAME"])
    return render_template("auth/enrol.html", form=form, secret=secret, qr=_qr_svg(uri), user=user)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    sid = current_user.get_id()
    locale = select_locale()  # the sign-in page that follows stays in the language the officer reads
    accounts.end_session(sid, now=utcnow())
    db.session.commit()
    logout_user()
    session.clear()
    session[SESSION_KEY] = locale
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
@requires("account.manage_own")
def password():
    form = PasswordChangeForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(current_user, form.current_password.data, form.new_password.data,
                                     now=utcnow(), min_length=current_app.config["PASSWORD_MIN_LENGTH"])
        except accounts.AccountError as exc:
            getattr(form, exc.field or "new_password").errors.append(error_text(exc))
        else:
            db.session.commit()
            logout_user()
            session.clear()
            flash(_("Password changed. Every session was signed out; sign in with the new password."), "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/password.html", form=form)


@bp.route("/account/language", methods=["GET", "POST"])
def language():
    """The interface language. Open before sign-in too (the sign-in page offers it); a signed-in user's
    choice is kept on their account, an anonymous visitor's in the session."""
    form = LanguageForm(locale=select_locale())
    if form.validate_on_submit():
        if current_user.is_authenticated:
            accounts.set_locale(current_user, form.locale.data)
            db.session.commit()
        session[SESSION_KEY] = form.locale.data
        flash(_("Language saved."), "success")
        target = request.args.get("next", "")
        return redirect(target if is_safe_next(target) else url_for("main.home"))
    return render_template("auth/language.html", form=form)


@bp.before_app_request
def _api_client_from_bearer():
    """API requests authenticate with a bearer token instead of the session cookie."""
    g.api_client = None
    if not request.path.startswith("/api/"):
        return None
    g.api_client_revoked = None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        client = accounts.client_for_token(header[7:].strip())
        if client is not None:
            g.api_client = client
        else:
            g.api_client_revoked = accounts.revoked_client_id(header[7:].strip())
    return None
