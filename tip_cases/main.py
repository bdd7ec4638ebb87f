"""Home page per role, health check and the navigation each role sees."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import text

from tip_cases import signals
from tip_cases.access import can, requires
from tip_cases.extensions import db

bp = Blueprint("main", __name__)

# (label, endpoint, action): an entry shows when its blueprint is registered and the role may act.
NAVIGATION = [
    ("Flag queue", "screening.queue", "flag.view"),
    ("Capture crossing", "screening.capture", "crossing.create"),
    ("Crossings", "screening.crossings", "crossing.view"),
    ("Persons of interest", "screening.persons", "poi.view"),
    ("Trace", "screening.trace", "trace.run"),
    ("Travellers", "tracing.travellers", "traveller.view"),
    ("Risk patterns", "tracing.patterns", "traveller.view"),
    ("Cases", "cases.index", "case.search"),
    ("Import crossings", "screening.import_csv", "crossing.import"),
    ("Dashboard", "reports.dashboard", "report.view"),
    ("Statistics", "reports.statistics", "report.view"),
    ("Match model", "screening.match_model", "match_model.view"),
    ("Partners", "notifications.agencies", "notification.view"),
    ("Outbox", "notifications.outbox", "notification.view"),
    ("Scheduled jobs", "notifications.jobs", "notification.view"),
    ("Mail sink", "notifications.mailbox", "mailbox.view"),
    ("Users", "admin.users", "user.manage"),
    ("Border posts", "admin.posts", "post.manage"),
    ("Audit trail", "admin.audit_log", "audit.view"),
]


def navigation_for(user) -> list[tuple[str, str]]:
    views = current_app.view_functions
    return [(label, url_for(endpoint)) for label, endpoint, action in NAVIGATION
            if endpoint in views and can(user, action)]


@bp.app_context_processor
def _inject_navigation():
    if current_user.is_authenticated:
        return {"nav_items": navigation_for(current_user)}
    return {"nav_items": []}


@bp.route("/")
@login_required
@requires("home.view")
def home():
    return render_template("home.html", nav=navigation_for(current_user))


@bp.route("/healthz")
def health():
    """Liveness, database reachability and "degraded" while a scheduled job is failing; reveals nothing else.

    Degraded still answers 200: the web node serves pages and should stay in the load balancer; the
    monitoring that reads `status` alerts. Which job failed, and why, is on the signed-in jobs page.
    """
    try:
        db.session.execute(text("SELECT 1"))
        ok = True
    except Exception:  # noqa: BLE001 - any database failure means unhealthy
        db.session.rollback()
        ok = False
    if not ok:
        return jsonify(status="unavailable", database=False), 503
    try:
        jobs_ok = all(healthy for _, healthy in signals.health_check.send(None))
    except Exception:  # noqa: BLE001 - e.g. the table is not migrated yet: say degraded, never 500
        db.session.rollback()
        jobs_ok = False
    return jsonify(status="ok" if jobs_ok else "degraded", database=True), 200
