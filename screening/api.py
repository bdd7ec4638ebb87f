"""JSON API for border systems (IMDMS/MIDAS-style feeds): bearer token, idempotent batches, OpenAPI from the models."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, abort, current_app, g, jsonify, render_template, request
from psycopg import errors as pg_errors
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from screening import postsync, postsync_hq, schemas, watchlist_api
from screening.engine.normalize import parse_timestamp
from screening.models import FLAG_STATUSES, Crossing, Flag, Person, sees_in_full
from screening.postsync_models import PostFlag
from screening.services import (
    NewCrossing,
    ScreeningError,
    expected_action,
    record_need_to_know,
    review_flag,
    store_crossings,
)
from tip_cases import audit
from tip_cases.access import get_or_404, requires, scope_filter
from tip_cases.actor import current_actor
from tip_cases.extensions import csrf, db, utcnow
from tip_cases.models import BorderPost, IdempotencyRecord
from tip_cases.postnames import PostDirectory, Resolution
from tip_cases.posts import load_directory

bp = Blueprint("api", __name__, url_prefix="/api/v1")
log = logging.getLogger("tsela.api")

# A deadlock or serialisation failure rolls back the whole transaction: the batch is run again from the
# start (PostgreSQL chose it as the victim; the other writer has committed or will), never answered with a 500.
_TRANSIENT = (pg_errors.DeadlockDetected, pg_errors.SerializationFailure)
_ATTEMPTS = 3

csrf.exempt(bp)
bp.register_blueprint(watchlist_api.bp)  # /api/v1/watchlist: the same token check, endpoints api.watchlist.*

_OPEN_ENDPOINTS = {"api.openapi", "api.docs"}  # readable by signed-in staff too, not only by tokens


@bp.before_request
def _token_only():
    """The API is for machines: a browser session (cookie, no CSRF token) must not write through it."""
    if g.get("api_client") is None and request.endpoint not in _OPEN_ENDPOINTS:
        if g.get("api_client_revoked") is not None:
            audit.denied(request.endpoint or "api", "api_client", g.api_client_revoked, detail={"reason": "revoked"})
            return jsonify(error="client_revoked", message="This API client has been revoked: headquarters accepts "
                           "nothing from it and sends it nothing (no watchlist extract or delta). Ask an "
                           "administrator for a new client."), 403
        resp = jsonify(error="unauthorized", message="Send a valid API token: Authorization: Bearer <token>.")
        resp.headers["WWW-Authenticate"] = 'Bearer realm="tsela"'
        return resp, 401
    return None


@bp.before_request
def _post_node_status():
    """A post node reports its clock, watchlist number and backlog on every call (headquarters' overview)."""
    client = g.get("api_client")
    if client is not None and request.headers.get("Tsela-Node-Clock") and not postsync.is_post():
        if postsync_hq.record_node(client, request.headers, utcnow()) is not None:
            db.session.commit()


MAX_ID = 2**31 - 1  # larger path ids cannot exist (and would overflow the database's integer)


def _load(model, ident: int, action: str, **kw):
    if ident > MAX_ID:
        abort(404)
    return get_or_404(model, ident, action, **kw)


def _error(status: int, error: str, message: str, errors: list[tuple[str, str]] = ()) -> tuple[Response, int]:
    body = {"error": error, "message": message, "errors": [{"field": f, "message": m} for f, m in errors]}
    return jsonify(body), status


def _pydantic_errors(exc: ValidationError, prefix: str = "") -> list[tuple[str, str]]:
    out = []
    for e in exc.errors(include_url=False):
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"]).lstrip(".")
        field = (prefix + ("." if prefix and loc and not loc.startswith("[") else "") + loc) or prefix or "body"
        out.append((field, e["msg"].removeprefix("Value error, ")))
    return out


# --- serialisation -----------------------------------------------------------------------------------

def _post_codes() -> dict[int, str]:
    return dict(db.session.execute(select(BorderPost.id, BorderPost.code)).all())


def flag_json(flag: Flag, posts: dict[int, str], person: Person | None = None) -> dict[str, Any]:
    person = person if person is not None else (flag.person if flag.person_id else None)
    if person is not None and not sees_in_full(current_actor(), person):
        # Need to know: the alert, the action and whom to call; not the reason or the matched identity.
        return {"id": flag.id, "kind": flag.kind, "crossing_id": flag.crossing_id, "person_id": flag.person_id,
                "border_post": posts.get(flag.border_post_id, ""), "score": flag.score, "priority": flag.priority,
                "status": flag.status, "alert_kind": person.alert_kind, "discreet": bool(person.discreet),
                "restricted": True, "reason": "", "action": flag.action, "contact": person.contact or "",
                "expected_action": expected_action(flag.action, person.contact or "") or "",
                "explanations": [], "features": [], "created_at": flag.created_at.isoformat()}
    features = flag.features or []
    # The sentence saying whether the probability is shared comes first, as on the flag page.
    ranked = sorted(features, key=lambda f: (f.get("level") != "posterior", -abs(f.get("contribution") or 0)))
    return {
        "id": flag.id, "kind": flag.kind, "crossing_id": flag.crossing_id, "person_id": flag.person_id,
        "border_post": posts.get(flag.border_post_id, ""), "score": flag.score, "priority": flag.priority,
        "status": flag.status, "alert_kind": person.alert_kind if person else None,
        "discreet": bool(person.discreet) if person else False, "restricted": False, "reason": flag.reason,
        "action": flag.action, "contact": (person.contact or "") if person else "",
        "expected_action": expected_action(flag.action, (person.contact or "") if person else "") or "",
        "explanations": [f["explanation"] for f in ranked if f.get("verdict") != "missing"
                         or f.get("name") in ("surname", "given_names", "date_of_birth")],
        "features": [{k: f.get(k) for k in ("name", "score", "weight", "verdict", "explanation", "contribution")}
                     for f in features],
        "created_at": flag.created_at.isoformat(),
    }


def crossing_json(c: Crossing, posts: dict[int, str]) -> dict[str, Any]:
    return {
        "id": c.id, "source": c.source, "external_id": c.external_id, "border_post": posts.get(c.border_post_id, ""),
        "direction": c.direction, "crossed_at": c.crossed_at.isoformat(), "surname": c.surname,
        "given_names": c.given_names, "sex": c.sex, "date_of_birth": c.dob_text or None,
        "nationality": c.nationality, "document_type": c.document_type, "document_number": c.document_number,
        "document_country": c.document_country, "address": c.address, "purpose": c.purpose,
        "vehicle_registration": c.vehicle_registration, "travel_group": c.travel_group,
        "guardian_relation": c.guardian_relation, "guardian_document_number": c.guardian_document_number,
        "consent_document": bool(c.consent_document),
        "quality_issues": c.quality_issues or [], "flags": [flag_json(f, posts) for f in c.flags],
    }


# --- crossings ---------------------------------------------------------------------------------------

def _to_new(item: schemas.CrossingIn, post_id: int) -> NewCrossing:
    return NewCrossing(
        external_id=item.external_id, border_post_id=post_id, direction=item.direction,
        crossed_at=item.crossed_at, surname=item.surname, given_names=item.given_names, sex=item.sex,
        dob=item.partial_dob(), nationality=item.nationality, document_type=(item.document_type or None),
        document_number=(item.document_number or None), document_country=item.document_country,
        address=item.address, purpose=item.purpose, vehicle_registration=item.vehicle_registration,
        travel_group=item.travel_group, guardian_relation=item.guardian_relation,
        guardian_document_number=item.guardian_document_number, consent_document=item.consent_document,
        quality_issues=item.quality_remarks())


def _post_error(i: int, text: str, found: Resolution, directory: PostDirectory) -> dict[str, Any]:
    """A refused post name: the sentence, and the candidates or the known posts as codes a client can use."""
    error = {"field": f"crossings[{i}].border_post", "message": directory.explain(text, found),
             "code": "ambiguous_post" if found.status == "ambiguous" else "unknown_post"}
    if found.status == "ambiguous":
        error["candidates"] = [{"code": p.code, "name": p.name} for p in found.candidates]
    else:
        error["known_posts"] = [{"code": p.code, "name": p.name} for p in sorted(directory.posts, key=lambda p: p.name)]
    return error


def _process_batch(raw_items: list[Any], client, now: datetime) -> dict[str, Any]:
    directory = load_directory()
    code_of = {p.id: p.code for p in directory.posts}
    results: list[dict[str, Any]] = []
    valid: list[tuple[int, NewCrossing]] = []
    for i, raw in enumerate(raw_items):
        ext = raw.get("external_id") if isinstance(raw, dict) else None
        entry: dict[str, Any] = {"index": i, "external_id": ext if isinstance(ext, str) else None,
                                 "status": "rejected", "crossing_id": None, "flags": [], "errors": []}
        results.append(entry)
        try:
            item = schemas.CrossingIn.model_validate(raw, context={"now": now})
        except ValidationError as exc:
            entry["errors"] = [{"field": f, "message": m, "code": c}
                               for (f, m), c in zip(_pydantic_errors(exc, f"crossings[{i}]"),
                                                    (e["type"] for e in exc.errors(include_url=False)), strict=True)]
            continue
        if item.border_post:
            found = directory.resolve(item.border_post)
            if not found.ok:
                entry["errors"] = [_post_error(i, item.border_post, found, directory)]
                continue
            post_id = found.post.id
        else:
            post_id = client.border_post_id
            if post_id is None:
                entry["errors"] = [{"field": f"crossings[{i}].border_post",
                                    "message": "required: this client is not bound to a post", "code": "missing"}]
                continue
        if client.border_post_id is not None and post_id != client.border_post_id:
            entry["errors"] = [{"field": f"crossings[{i}].border_post",
                                "message": f"this client may only submit crossings for "
                                           f"{code_of[client.border_post_id]}", "code": "post_not_allowed"}]
            continue
        valid.append((i, _to_new(item, post_id)))
    if valid:
        stored = store_crossings([c for _, c in valid], source=f"api:{client.name}", actor=client, now=now)
        person_ids = {f.person_id for r in stored for f in r.flags if f.person_id}
        persons = {p.id: p for p in db.session.execute(select(Person).where(Person.id.in_(person_ids))).scalars()} \
            if person_ids else {}
        for (i, _), r in zip(valid, stored, strict=True):
            results[i].update(status=r.status, crossing_id=r.crossing_id,
                              flags=[flag_json(f, code_of, persons.get(f.person_id)) for f in r.flags]
                              + [postsync.post_flag_json(f) for f in r.post_flags])
    counts = {s: sum(1 for r in results if r["status"] == s) for s in ("accepted", "duplicate", "rejected")}
    return {"accepted": counts["accepted"], "duplicates": counts["duplicate"], "rejected": counts["rejected"],
            "results": results}


def _run_idempotent(handler):
    """Run `handler(body)` once per Idempotency-Key: the same key and body replay the first answer byte for byte.

    The handler returns the answer (a dict, stored with the key in the same commit) or an error response
    (not stored, so a corrected retry with the same key is judged afresh)."""
    client = g.api_client
    raw = request.get_data(cache=True)
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (1 <= len(key) <= 200):
        return _error(422, "invalid_header", "Idempotency-Key must be 1 to 200 characters",
                      [("Idempotency-Key", "must be 1 to 200 characters")])
    request_hash = hashlib.sha256(raw).hexdigest()
    if key:
        previous = db.session.execute(select(IdempotencyRecord).where(
            IdempotencyRecord.client_id == client.id, IdempotencyRecord.key == key)).scalar_one_or_none()
        if previous is not None:
            return _replay(previous, request_hash)
    body = request.get_json(silent=True, force=True)
    if body is None:
        return _error(400, "invalid_json", "the body must be a JSON object", [("body", "not valid JSON")])
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            return _handle_once(handler, body, client, key, request_hash)
        except OperationalError as exc:
            db.session.rollback()
            if not isinstance(exc.orig, _TRANSIENT):
                raise
            log.warning("API batch rolled back (%s), attempt %d of %d", type(exc.orig).__name__, attempt, _ATTEMPTS)
    return _error(503, "busy", "the database was busy with conflicting writes; nothing of this request was "
                  "stored: send it again", [("body", "not stored; retry")])


def _handle_once(handler, body, client, key: str | None, request_hash: str):
    result = handler(body)
    if not isinstance(result, dict):
        db.session.rollback()
        return result
    text = json.dumps(result, separators=(",", ":"))
    if key:
        db.session.add(IdempotencyRecord(client_id=client.id, key=key, request_hash=request_hash,
                                         status_code=200, response_body=text))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()  # the same key was stored by a concurrent retry: answer as it did
        previous = db.session.execute(select(IdempotencyRecord).where(
            IdempotencyRecord.client_id == client.id, IdempotencyRecord.key == key)).scalar_one_or_none()
        if previous is None:
            raise
        return _replay(previous, request_hash)
    return Response(text, status=200, mimetype="application/json")


@bp.post("/crossings")
@requires("crossing.create")
def create_crossings():
    """Store and screen a batch; each item answers accepted (with its flags), duplicate or rejected."""
    return _run_idempotent(_crossings_batch)


def _crossings_batch(body: Any):
    client = g.api_client
    try:
        batch = schemas.CrossingBatch.model_validate(body)
    except ValidationError as exc:
        return _error(422, "invalid_request", "the batch is not valid", _pydantic_errors(exc))
    if batch.post_flags and (client.border_post_id is None or postsync.is_post()):
        return _error(422, "invalid_request", "post_flags come only from a post node's own API client, to "
                      "headquarters", [("post_flags", "not accepted from this client")])
    now = utcnow()
    result = _process_batch(batch.crossings, client, now)
    if batch.post_flags:
        postsync_hq.adopt_post_flags(client, [pf.model_dump(mode="json") for pf in batch.post_flags], result,
                                  now=now, flag_json=flag_json)
    return result


def _replay(previous: IdempotencyRecord, request_hash: str):
    if previous.request_hash != request_hash:
        return _error(422, "idempotency_key_reused", "this Idempotency-Key was used with a different body",
                      [("Idempotency-Key", "already used with a different body")])
    resp = Response(previous.response_body, status=previous.status_code, mimetype="application/json")
    resp.headers["Idempotent-Replayed"] = "true"
    return resp


@bp.get("/crossings/<int:crossing_id>")
@requires("crossing.view")
def get_crossing(crossing_id: int):
    crossing = _load(Crossing, crossing_id, "crossing.view", audit_as="crossing")
    return jsonify(crossing_json(crossing, _post_codes()))


# --- flags -------------------------------------------------------------------------------------------

@bp.get("/flags")
@requires("flag.view")
def list_flags():
    """Flags this client may see, newest first; `since` returns those raised after a time (polling)."""
    args = request.args
    errors: list[tuple[str, str]] = []
    stmt = select(Flag).where(scope_filter(g.api_client, "flag.view", Flag))
    posts = _post_codes()
    if args.get("post"):
        ids = [pid for pid, code in posts.items() if code.lower() == args["post"].strip().lower()]
        if not ids:
            errors.append(("post", "not a known post code"))
        stmt = stmt.where(Flag.border_post_id.in_(ids))
    if args.get("status"):
        if args["status"] not in FLAG_STATUSES:
            errors.append(("status", f"one of {', '.join(FLAG_STATUSES)}"))
        stmt = stmt.where(Flag.status == args["status"])
    if args.get("since"):
        try:
            stmt = stmt.where(Flag.created_at > parse_timestamp(args["since"]))
        except ValueError as exc:
            errors.append(("since", f"an ISO 8601 timestamp with an offset: {exc}"))
    limit = 100
    if args.get("limit"):
        try:
            limit = int(args["limit"])
            if not 1 <= limit <= 1000:
                raise ValueError
        except ValueError:
            errors.append(("limit", "an integer from 1 to 1000"))
    if errors:
        return _error(422, "invalid_query", "invalid query parameters", errors)
    flags = db.session.execute(stmt.order_by(Flag.created_at.desc(), Flag.id.desc()).limit(limit)).scalars().all()
    # A flag ties a traveller to a person of interest: the list is a read of those records, as in the queue.
    audit.record("flag.list", "flag", None, detail={"ids": [f.id for f in flags], "via": "api"})
    record_need_to_know(g.api_client, [f.person for f in flags], "api")
    db.session.commit()
    return jsonify(flags=[flag_json(f, posts) for f in flags])


def _review_in() -> tuple[schemas.ReviewIn | None, tuple[Response, int] | None]:
    """A decision's body (headquarters' review or the post's), or the 400/422 answer naming what is wrong."""
    body = request.get_json(silent=True, force=True)
    if body is None:
        return None, _error(400, "invalid_json", "the body must be a JSON object", [("body", "not valid JSON")])
    try:
        return schemas.ReviewIn.model_validate(body), None
    except ValidationError as exc:
        return None, _error(422, "invalid_request", "the review is not valid", _pydantic_errors(exc))


@bp.post("/flags/<int:flag_id>/review")
@requires("flag.review")
def review(flag_id: int):
    flag = _load(Flag, flag_id, "flag.review")
    data, refusal = _review_in()
    if refusal is not None:
        return refusal
    try:
        review_flag(flag, data.decision, actor=g.api_client, now=utcnow(), reason=data.reason, officer=data.officer)
    except ScreeningError as exc:
        db.session.rollback()
        return _error(422, "invalid_decision", str(exc), [(exc.field or "decision", str(exc))])
    db.session.commit()
    return jsonify(flag_json(flag, _post_codes()))


# --- post nodes: decisions forwarded to headquarters; the post's own flags on the node --------------------

@bp.post("/post/decisions")
@requires("flag.review")
def post_decisions():
    """Decisions made at a post node (headquarters): applied, agreed, or kept beside HQ's as a conflict."""
    if postsync.is_post():
        abort(404)
    if g.api_client.border_post_id is None:
        return _error(403, "not_a_post_client", "decisions are forwarded only by API clients bound to a post")
    return _run_idempotent(_decisions_batch)


def _decisions_batch(body: Any):
    try:
        batch = schemas.PostDecisionBatch.model_validate(body)
    except ValidationError as exc:
        return _error(422, "invalid_request", "the decisions are not valid", _pydantic_errors(exc))
    results = postsync_hq.receive_decisions(g.api_client, batch.decisions, now=utcnow())
    return {"results": results}


def _this_post_client() -> None:
    """On a post node, only a client bound to this node's post reads or decides its flags."""
    if not postsync.is_post():
        abort(404)
    client = g.api_client
    if client.border_post is None or client.border_post.code != current_app.config.get("TSELA_POST_CODE"):
        abort(404)


@bp.get("/post/flags")
@requires("flag.view")
def post_flags():
    """The flags this post node holds (raised here, or told by headquarters), newest first."""
    _this_post_client()
    rows = db.session.execute(select(PostFlag).order_by(PostFlag.id.desc()).limit(1000)).scalars().all()
    audit.record("flag.list", "post_flag", None, detail={"ids": [f.id for f in rows], "via": "api"})
    db.session.commit()
    return jsonify(flags=[postsync.post_flag_json(f) for f in rows])


@bp.post("/post/flags/<int:flag_id>/review")
@requires("flag.review")
def post_flag_review(flag_id: int):
    """An officer's decision at the post: recorded here and queued for headquarters in one transaction."""
    _this_post_client()
    flag = db.session.get(PostFlag, flag_id) if flag_id <= MAX_ID else None
    if flag is None:
        abort(404)
    data, refusal = _review_in()
    if refusal is not None:
        return refusal
    try:
        postsync.decide_at_post(flag, data.decision, officer=data.officer, reason=data.reason, now=utcnow())
    except postsync.DecisionError as exc:
        db.session.rollback()
        return _error(422, "invalid_decision", str(exc), [(exc.field, str(exc))])
    db.session.commit()
    return jsonify(postsync.post_flag_json(flag))


# --- OpenAPI -----------------------------------------------------------------------------------------

@bp.get("/openapi.json")
@requires("post.view")
def openapi():
    return jsonify(schemas.openapi_document())


@bp.get("/docs")
@requires("post.view")
def docs():
    return render_template("screening/api_docs.html", spec=schemas.openapi_document())
