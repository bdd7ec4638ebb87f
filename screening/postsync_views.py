"""Post nodes in the browser: headquarters' page of nodes (last sync, watchlist, backlog, clock drift) and the
flags in conflict; at the post, the officer's decision on a flag raised there (queued for headquarters)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from screening import postsync, postsync_hq
from screening.models import Flag
from screening.postsync_models import PostFlag
from tip_cases.access import deny_record, get_or_404, requires
from tip_cases.extensions import db, utcnow
from tip_cases.i18n import error_text

bp = Blueprint("postnodes", __name__)


@bp.get("/posts/nodes")
@login_required
@requires("postnode.view")
def nodes():
    """Each post node as it last reported itself, and the flags decided differently at a post and at HQ."""
    if postsync.is_post():
        abort(404)
    now = utcnow()
    return render_template("screening/post_nodes.html", nodes=postsync_hq.nodes(), conflicts=postsync_hq.conflicts(),
                           now=now, overdue=now - postsync_hq.overdue_after(),
                           overdue_hours=postsync_hq.overdue_after().total_seconds() / 3600)


@bp.post("/screening/flags/<int:flag_id>/settle")
@login_required
@requires("postnode.settle")
def settle(flag_id: int):
    """A manager settles a conflict: keep headquarters' decision or take the post's; the history keeps both."""
    flag = get_or_404(Flag, flag_id, "flag.view", audit_as="flag")
    keep = request.form.get("keep", "")
    try:
        postsync_hq.settle_conflict(flag, keep, actor=current_user, note=request.form.get("note", "")[:500],
                                    now=utcnow())
    except ValueError as exc:
        db.session.rollback()
        flash(_("Not settled: %(reason)s", reason=error_text(exc)), "danger")
        return redirect(url_for("screening.flag", flag_id=flag_id))
    db.session.commit()
    flash(_("Conflict settled; both decisions stay in the history."), "success")
    return redirect(url_for("screening.flag", flag_id=flag_id))


@bp.post("/screening/post-flags/<int:flag_id>/decide")
@login_required
@requires("flag.review")
def decide(flag_id: int):
    """At the post: the officer's decision on a local flag, recorded and queued for headquarters together."""
    post = getattr(current_user, "border_post", None)
    if not postsync.is_post() or (current_user.role == "border_officer" and (
            post is None or post.code != current_app.config["TSELA_POST_CODE"])):
        deny_record("flag.review", "post_flag", flag_id)  # audited, and answered like a missing record
    flag = db.session.get(PostFlag, flag_id) if flag_id <= 2**31 - 1 else None
    if flag is None:
        abort(404)
    officer = (current_user.full_name or current_user.username)[:80]
    try:
        postsync.decide_at_post(flag, request.form.get("decision", ""), officer=officer,
                                reason=request.form.get("reason", "")[:2000], now=utcnow())
    except postsync.DecisionError as exc:
        db.session.rollback()
        flash(_("Not saved: %(reason)s", reason=error_text(exc)), "danger")
    else:
        db.session.commit()
        flash(_("Decision saved; it goes to headquarters with the next sync."), "success")
    return redirect(url_for("screening.crossing", crossing_id=flag.crossing_id))
