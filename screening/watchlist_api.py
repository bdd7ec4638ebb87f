"""Watchlist API for post nodes: the signed full extract and the numbered deltas, for the caller's post only.

Nested in the border-system API (screening.api registers it), so the same bearer-token check runs first and
a revoked client is refused there with 403 `client_revoked`. The post binding in every document comes from
the calling client, never from the request, so a post cannot ask for another post's documents. Only
headquarters serves these: on a post node the routes answer 404.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, abort, current_app, g, jsonify, request

from screening import watchlist
from tip_cases import audit
from tip_cases.access import requires
from tip_cases.extensions import db, utcnow

bp = Blueprint("watchlist", __name__, url_prefix="/watchlist")


def _error(status: int, error: str, message: str, field: str | None = None):
    body = {"error": error, "message": message, "errors": [{"field": field, "message": message}] if field else []}
    return jsonify(body), status


@bp.before_request
def _post_client_only():
    """Headquarters only; the caller must be an API client bound to a border post."""
    if current_app.config.get("TSELA_ROLE", "headquarters") != "headquarters":
        abort(404)
    client = g.get("api_client")
    if client is not None and client.border_post_id is None:
        return _error(403, "not_a_post_client", "the watchlist is served only to API clients bound to a border "
                                                "post (flask api-tokens create NAME --post CODE)")
    return None


def _json(body: dict) -> Response:
    return Response(json.dumps(body, separators=(",", ":"), ensure_ascii=False), mimetype="application/json")


@bp.get("/extract")
@requires("watchlist.fetch")
def extract():
    """The full extract at the latest publication, signed for the caller's post."""
    client = g.api_client
    try:
        doc = watchlist.extract_document(client.border_post.code, now=utcnow())
    except watchlist.WatchlistError as exc:
        return _error(exc.status, exc.code, str(exc))
    audit.record("watchlist.fetch", "watchlist", doc["payload"]["seq"],
                 detail={"kind": "extract", "post": client.border_post.code,
                         "entries": len(doc["payload"]["entries"])})
    db.session.commit()
    return _json(doc)


@bp.get("/deltas")
@requires("watchlist.fetch")
def deltas():
    """The signed deltas after ?after=N, oldest first; `head` says how far headquarters has published."""
    client = g.api_client
    raw = request.args.get("after", "")
    if not raw.isdigit() or len(raw) > 9:
        return _error(422, "invalid_request", "after must be the watchlist number this post holds (0 or more)",
                      "after")
    after = int(raw)
    try:
        head, docs = watchlist.delta_documents(client.border_post.code, after, now=utcnow(),
                                               limit=current_app.config.get("WATCHLIST_MAX_DELTAS", 100))
    except watchlist.WatchlistError as exc:
        return _error(exc.status, exc.code, str(exc))
    if docs:
        audit.record("watchlist.fetch", "watchlist", docs[-1]["payload"]["seq"],
                     detail={"kind": "deltas", "post": client.border_post.code, "after": after, "count": len(docs)})
        db.session.commit()
    return _json({"head": head, "after": after, "deltas": docs})
