"""Home page per role, health check and the navigation each role sees."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, render_template
from flask_login import current_user, login_required
from sqlalchemy import text

from tip_cases import signals
from tip_cases.access import requires
from tip_cases.extensions import db
from tip_cases.navigation import navigation_for

bp = Blueprint("main", __name__)

def current_navigation():
    """The signed-in user's navigation, built once per request (base.html and the home page share it)."""
    if not current_user.is_authenticated:
        return None
    if "navigation" not in g:
        g.navigation = navigation_for(current_user)
    return g.navigation


@bp.app_context_processor
def _inject_navigation():
    return {"navigation": current_navigation}


@bp.route("/")
@login_required
@requires("home.view")
def home():
    return render_template("home.html")


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
