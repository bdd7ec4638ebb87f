"""Administration pages: users, border posts and the audit trail."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from tip_cases import accounts, audit
from tip_cases import posts as posts_service
from tip_cases.access import requires
from tip_cases.extensions import db, utcnow
from tip_cases.forms import (
    AuditFilterForm,
    BorderPostForm,
    ConfirmForm,
    PasswordResetForm,
    UserCreateForm,
    UserRoleForm,
)
from tip_cases.i18n import error_text
from tip_cases.models import AuditEvent, BorderPost, User

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _post_choices() -> list[tuple[str, str]]:
    posts = db.session.execute(select(BorderPost).order_by(BorderPost.name)).scalars()
    return [("", _("— none —"))] + [(p.code, p.label) for p in posts]


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.route("/users")
@login_required
@requires("user.manage")
def users():
    page = db.paginate(select(User).order_by(User.username), per_page=50)
    return render_template("admin/users.html", page=page)


@bp.route("/users/new", methods=["GET", "POST"])
@login_required
@requires("user.manage")
def user_new():
    form = UserCreateForm()
    form.post.choices = _post_choices()
    if form.validate_on_submit():
        try:
            user = accounts.create_user(
                form.username.data, form.password.data, form.role.data, post_code=form.post.data or None,
                full_name=form.full_name.data or "", email=form.email.data or None, phone=form.phone.data or None,
                min_length=current_app.config["PASSWORD_MIN_LENGTH"])
        except accounts.AccountError as exc:
            getattr(form, exc.field or "username").errors.append(error_text(exc))
        else:
            code = accounts.issue_enrolment_code(user, now=utcnow(),
                                                 lifetime=current_app.config["ENROLMENT_CODE_LIFETIME"])
            db.session.commit()
            # Rendered, not flashed: the code must not travel in the session cookie.
            return _enrolment_code_page(user, code, "created")
    return render_template("admin/user_new.html", form=form)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@login_required
@requires("user.manage")
def user_detail(user_id: int):
    user = _user_or_404(user_id)
    role_form = UserRoleForm(prefix="role", role=user.role,
                             post=user.border_post.code if user.border_post else "")
    role_form.post.choices = _post_choices()
    reset_form = PasswordResetForm(prefix="pw")
    if role_form.submit.data and role_form.validate_on_submit():
        try:
            accounts.change_role(user, role_form.role.data, role_form.post.data or None, now=utcnow())
        except accounts.AccountError as exc:
            getattr(role_form, exc.field or "role").errors.append(error_text(exc))
        else:
            db.session.commit()
            flash(_("Role saved; the user's sessions were ended."), "success")
            return redirect(url_for("admin.user_detail", user_id=user.id))
    if reset_form.submit.data and reset_form.validate_on_submit():
        try:
            accounts.set_password(user, reset_form.new_password.data, now=utcnow(),
                                  min_length=current_app.config["PASSWORD_MIN_LENGTH"])
        except accounts.AccountError as exc:
            reset_form.new_password.errors.append(error_text(exc))
        else:
            db.session.commit()
            flash(_("Password reset; the user's sessions were ended."), "success")
            return redirect(url_for("admin.user_detail", user_id=user.id))
    return render_template("admin/user_detail.html", user=user, role_form=role_form, reset_form=reset_form,
                           confirm=ConfirmForm())


@bp.route("/users/<int:user_id>/<any(deactivate, activate, 'reset-mfa'):op>", methods=["POST"])
@login_required
@requires("user.manage")
def user_op(user_id: int, op: str):
    user = _user_or_404(user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if user.id == current_user.id and op == "deactivate":
        flash(_("You cannot deactivate your own account."), "danger")
        return redirect(url_for("admin.user_detail", user_id=user.id))
    now = utcnow()
    if op == "reset-mfa":
        code = accounts.reset_second_factor(user, now=now, lifetime=current_app.config["ENROLMENT_CODE_LIFETIME"])
        db.session.commit()
        return _enrolment_code_page(user, code, "reset")
    else:
        accounts.set_active(user, op == "activate", now=now)
        message = _("User activated.") if op == "activate" else _("User deactivated.")
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("admin.user_detail", user_id=user.id))


def _enrolment_code_page(user: User, code: str, why: str):
    """Show the one-time enrolment code once; only its hash is stored."""
    hours = int(current_app.config["ENROLMENT_CODE_LIFETIME"].total_seconds() // 3600)
    return render_template("admin/enrolment_code.html", user=user, code=code, why=why, hours=hours)


@bp.route("/posts")
@login_required
@requires("post.manage")
def posts():
    rows = db.session.execute(select(BorderPost).options(selectinload(BorderPost.aliases))
                              .order_by(BorderPost.name)).scalars().all()
    return render_template("admin/posts.html", posts=rows)


@bp.route("/posts/new", methods=["GET", "POST"])
@bp.route("/posts/<int:post_id>", methods=["GET", "POST"])
@login_required
@requires("post.manage")
def post_edit(post_id: int | None = None):
    post = db.session.get(BorderPost, post_id) if post_id else None
    if post_id and post is None:
        abort(404)
    form = BorderPostForm(obj=post)
    if request.method == "GET" and post is not None:
        form.other_spellings.data = "\n".join(post.alias_names)
    if form.validate_on_submit():
        clash = db.session.execute(select(BorderPost).where(
            (db.func.lower(BorderPost.code) == form.code.data.lower())
            | (db.func.lower(BorderPost.name) == form.name.data.strip().lower()))).scalars().all()
        if any(p is not post for p in clash):
            form.code.errors.append(_("Another post already has this code or name."))
        aliases = posts_service.parse_aliases(form.other_spellings.data)
        problems = posts_service.alias_problems(aliases, post.id if post else None)
        if problems:
            form.other_spellings.errors = list(problems)
        if not form.errors:
            if post is None:
                post = BorderPost()
                db.session.add(post)
            del form.other_spellings  # not a column: the aliases are saved below
            form.populate_obj(post)
            post.name = post.name.strip()
            db.session.flush()
            added, removed = posts_service.set_aliases(post, aliases)
            audit.record("post.save", "border_post", post.id,
                         detail={"aliases_added": added, "aliases_removed": removed} if added or removed else None)
            db.session.commit()
            flash(_("Border post %(post)s saved.", post=post.label), "success")
            return redirect(url_for("admin.posts"))
    return render_template("admin/post_edit.html", form=form, post=post)


@bp.route("/audit")
@login_required
@requires("audit.view")
def audit_log():
    form = AuditFilterForm(request.args)
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc())
    if form.validate():
        if form.actor.data:
            stmt = stmt.where(AuditEvent.actor_label == form.actor.data.strip())
        if form.action.data:
            stmt = stmt.where(AuditEvent.action.startswith(form.action.data.strip(), autoescape=True))
        if form.object_type.data:
            stmt = stmt.where(AuditEvent.object_type == form.object_type.data.strip())
        if form.object_id.data:
            stmt = stmt.where(AuditEvent.object_id == form.object_id.data.strip())
        if form.outcome.data:
            stmt = stmt.where(AuditEvent.outcome == form.outcome.data)
    page = db.paginate(stmt, per_page=50)
    audit.record("audit.view", None, None, detail={k: v for k, v in request.args.items() if k != "page"} or None)
    db.session.commit()
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template("admin/audit.html", page=page, form=form, args=args)
