"""The one search box's page: parse the query, call screening.search, render; bad input is said, not a 500."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import gettext
from flask_login import current_user, login_required

from screening import search
from screening.engine.phrases import translate
from tip_cases.access import requires
from tip_cases.extensions import db

bp = Blueprint("search", __name__)


@bp.get("/search")
@login_required
@requires("search.run")
def results():
    """Without a query, the empty box; a query the search cannot take answers 400 with what to type."""
    raw = request.args.get("q")
    if raw is None:
        return render_template("search.html", q="", results=None, error=None)
    try:
        found = search.run(current_user, raw)
    except search.SearchError as exc:
        db.session.rollback()
        return render_template("search.html", q=raw[:search.MAX_QUERY], results=None,
                               error=translate(exc.args[0], gettext)), 400
    db.session.commit()
    return render_template("search.html", q=found.query.text, results=found, error=None)
